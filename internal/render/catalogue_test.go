package render

import (
	"bytes"
	"os"
	"testing"
)

// docs/findings.md is generated from the catalogue; this fails when someone
// adds a finding without regenerating it (`make docs`).
func TestFindingsDocIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := Catalogue(&b, "markdown"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatal("docs/findings.md is stale: run `make docs`")
	}
}
