package guest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// When sshd -t passes but no sshd listens, sshd is started once by hand
// in the foreground (sshd -D -e, its own configuration, a pid file of its
// own) for startTestFor: what it prints before it dies is the start-up
// failure -t cannot show (a bind that fails, a program it re-executes); if
// it is still running then, sshd itself is fine and what does not start
// it is the service manager. It is stopped again either way; nothing else
// changes.

// StartTest is what a test start of sshd showed.
type StartTest struct {
	// Running: sshd was still running at the deadline (then stopped).
	Running bool   `json:"running"`
	Output  string `json:"output,omitempty"` // its stderr, first 4 KiB
}

const startTestFor = 1500 * time.Millisecond

// startTestPidFile keeps the test's pid away from the service's.
const startTestPidFile = "/run/sshdoctor-start-test.pid"

// testStart runs the test start of sshd.
func testStart(ctx context.Context, sshd string) *StartTest {
	cmd := exec.Command(sshd, "-D", "-e", "-o", "PidFile="+startTestPidFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitedWriter{w: &out, n: 4096}, &limitedWriter{w: &out, n: 4096}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return &StartTest{Output: err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	st := &StartTest{}
	select {
	case <-done:
	case <-time.After(startTestFor):
		st.Running = true
	case <-ctx.Done():
		st.Running = true
	}
	if st.Running {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	_ = os.Remove(startTestPidFile)
	st.Output = strings.TrimSpace(out.String())
	return st
}
