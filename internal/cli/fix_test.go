package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFixBadInput: every refusal is one line on stderr with exit 2, before
// any control plane is contacted (the lab dir does not exist, and a
// provider would fail differently).
func TestFixBadInput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SSHDOCTOR_LAB_DIR", filepath.Join(dir, "nolab"))
	t.Setenv("AZURE_CONFIG_DIR", dir) // no az profile
	t.Setenv("AZURE_SUBSCRIPTION_ID", "")
	garbage := filepath.Join(dir, "garbage.json")
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(garbage, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(`{"schema":"sshdoctor.fix/v1","provider":"lab","vm":"web2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"fix", "h"}, "--provider must be lab or azure"},
		{[]string{"fix", "--provider", "gcp", "--vm", "x", "h"}, "--provider must be lab or azure"},
		{[]string{"fix", "--provider", "lab", "h"}, "--vm"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--source-ip", "nope", "h"}, "is not an IP address"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--max-steps", "0", "h"}, "--max-steps"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "-4", "-6", "h"}, "-4 and -6 exclude each other"},
		{[]string{"fix", "--provider", "azure", "--vm", "x", "h"}, "-g RESOURCE_GROUP"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--undo", garbage}, "is not a fix journal"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--undo", dir}, "not a regular file"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--undo", "/dev/zero"}, "not a regular file"},
		{[]string{"fix", "--provider", "lab", "--vm", "x", "--undo", other}, "the journal is for lab VM web2, not lab VM x"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Main(&IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}, c.args)
		if code != ExitUsage || !strings.Contains(errb.String(), c.want) || strings.Count(errb.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and one line with %q", c.args, code, errb.String(), out.String(), c.want)
		}
	}
}
