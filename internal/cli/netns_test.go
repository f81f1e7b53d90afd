package cli

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/render"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds sshdoctor once per test run; namespace tests run the real
// binary inside the client namespace, as a user's machine would.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "sshdoctor")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/sshdoctor/sshdoctor/cmd/sshdoctor").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build sshdoctor: %v", buildErr)
	}
	return binPath
}

// checkInNetns runs `sshdoctor check` in the client namespace against the
// server namespace's address and returns the exit code, JSON and wall time.
func checkInNetns(t *testing.T, n *sshdtest.Netns, timeout string) (int, render.CheckJSON, time.Duration) {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cmd := exec.Command("ip", "netns", "exec", n.Client, binary(t), "check", "-F", "none",
		"-o", "UserKnownHostsFile="+kh, "-o", "GlobalKnownHostsFile=/dev/null",
		"--timeout", timeout, "--output", "json", "root@"+n.ServerIP)
	cmd.Env = append(cmd.Environ(), "SSH_AUTH_SOCK=")
	start := time.Now()
	out, err := cmd.Output()
	elapsed := time.Since(start)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var doc render.CheckJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not JSON (%v): %s %s", err, out, ee.Stderr)
	}
	return code, doc, elapsed
}

func TestCheckFilteredPortTimesOut(t *testing.T) {
	n := sshdtest.NewNetns(t)
	n.Nft(t, n.Server, `table inet guestfw {
	chain input { type filter hook input priority 0; tcp dport 22 drop; }
}`)
	code, doc, elapsed := checkInNetns(t, n, "1s")
	if code != ExitProblem || doc.RootCause != "tcp.timeout" {
		t.Fatalf("exit %d root cause %q, want tcp.timeout; %+v", code, doc.RootCause, doc.Layers)
	}
	// The verdict must come from the connect deadline, not a kernel default
	// of minutes: allow generous slack for a loaded CI machine.
	if elapsed > 5*time.Second {
		t.Errorf("verdict took %s with --timeout 1s", elapsed)
	}
}

func TestCheckUnreachable(t *testing.T) {
	n := sshdtest.NewNetns(t)
	n.Nft(t, n.Server, `table inet guestfw {
	chain input { type filter hook input priority 0; tcp dport 22 reject with icmp type host-unreachable; }
}`)
	code, doc, _ := checkInNetns(t, n, "3s")
	if code != ExitProblem || doc.RootCause != "tcp.unreachable" {
		t.Fatalf("exit %d root cause %q, want tcp.unreachable; %+v", code, doc.RootCause, doc.Layers)
	}
}

func TestCheckRejectedWithReset(t *testing.T) {
	n := sshdtest.NewNetns(t)
	n.Nft(t, n.Server, `table inet guestfw {
	chain input { type filter hook input priority 0; tcp dport 22 reject with tcp reset; }
}`)
	code, doc, _ := checkInNetns(t, n, "3s")
	if code != ExitProblem || doc.RootCause != "tcp.refused" {
		t.Fatalf("exit %d root cause %q, want tcp.refused", code, doc.RootCause)
	}
}

// binDir holds the test binary; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "sshdoctor-bin-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}
