package lab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// TestRealSSHDConfigsStayQuiet runs the shared false-alarm suite
// (../shared/real-sshd-configs/run.sh): real-world sshd configurations —
// cloud images, hardening baselines, dotfiles — each on a healthy lab VM
// where ssh works; `guest check` must report no error and `guest repair
// --dry-run` must plan nothing on every one.
func TestRealSSHDConfigsStayQuiet(t *testing.T) {
	sshdtest.NeedRoot(t)
	if testing.Short() {
		t.Skip("-short: the real-configuration suite brings up a VM per case")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "..", "shared", "real-sshd-configs", "run.sh")
	if _, err := os.Stat(script); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the real sshd configurations are missing under CI: %v", err)
		}
		t.Skipf("no %s here", script)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	t.Logf("%s", out)
	if err != nil || !strings.HasPrefix(last, "real sshd configs: ") {
		t.Fatalf("run.sh: %v; last line %q", err, last)
	}
	var n, m int
	if _, err := fmt.Sscanf(last, "real sshd configs: %d/%d clean", &n, &m); err != nil || n != m || m == 0 {
		t.Fatalf("not every real configuration is clean: %q", last)
	}
}
