package lab_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/render"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// binary builds sshdoctor: the lab runs it as each VM's init, and the
// client side runs it as a user would.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sshdoctor")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sshdoctor/sshdoctor/cmd/sshdoctor").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// labCheck runs `sshdoctor check` for v in the client namespace.
func labCheck(t *testing.T, s *lab.State, bin string, v *lab.VMState, f *lab.Fault) (int, render.CheckJSON) {
	t.Helper()
	args, target := s.CheckArgs(v, f)
	args = append(append([]string{bin, "check", "--timeout", "1500ms", "--output", "json"}, args...), target)
	cmd := s.ClientCommand(args...)
	cmd.Stdin = strings.NewReader(s.Password + "\n")
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var doc render.CheckJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("check output is not JSON (%v): %s", err, out)
	}
	return code, doc
}

func snapshotHost(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	links, _ := exec.Command("ip", "-br", "link").Output()
	return string(out) + "\n" + string(links)
}

// TestFaultCatalogue breaks one VM with every fault, checks that the client
// sees the expected root cause, heals, and checks that SSH works again.
func TestFaultCatalogue(t *testing.T) {
	sshdtest.NeedRoot(t)
	before := snapshotHost(t)
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := lab.Up(dir, lab.UpOptions{VMs: 1, Name: "web", Prefix: "sdlt", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Down(s); err != nil {
			t.Errorf("down: %v", err)
		}
		if after := snapshotHost(t); after != before {
			t.Errorf("lab down left the host different:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("lab dir %s still exists", dir)
		}
	})
	v := s.VMs[0]
	if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
		t.Fatalf("fresh lab: exit %d, %s", code, doc.Diagnosis)
	}
	for i := range lab.Faults {
		f := &lab.Faults[i]
		t.Run(f.Name, func(t *testing.T) {
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			code, doc := labCheck(t, s, bin, v, f)
			if code != 1 || doc.RootCause != f.Expect {
				log, _ := s.SerialLog(v)
				t.Errorf("broken: exit %d root cause %q, want %q\ndiagnosis: %s\nlayers: %+v\nserial log tail: %s", code, doc.RootCause, f.Expect, doc.Diagnosis, doc.Layers, tail(string(log), 8))
			}
			if err := s.Heal(v, bin); err != nil {
				t.Fatal(err)
			}
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				t.Fatalf("healed: exit %d, %s (%s)", code, doc.RootCause, doc.Diagnosis)
			}
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
