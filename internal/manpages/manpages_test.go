package manpages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cli"
)

func TestGenMan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	if err := Write(cli.NewRootCmd(cli.System()), dir, "test"); err != nil {
		t.Fatal(err)
	}
	for page, flags := range map[string][]string{
		"sshdoctor.1":           {`\fB--version\fP`, `\fBsshdoctor-check(1)\fP`},
		"sshdoctor-check.1":     {`\fB--timeout\fP`, `\fB--output\fP`, `\fB-J\fP, \fB--jump\fP`, `\fB-o\fP`},
		"sshdoctor-lab-break.1": {"FAULT"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			if !strings.Contains(string(b), f) {
				t.Errorf("%s does not mention %s", page, f)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sshdoctor-lab-vm-init.1")); err == nil {
		t.Error("the hidden vm-init has a page")
	}
}
