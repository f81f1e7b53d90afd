package cli

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// -v prints what each layer sent and received, from the report.
func TestCheckVerbose(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, "-v", target(srv))...)
	expect(t, r, ExitOK, "")
	for _, want := range []string{"debug1: tcp      connect 127.0.0.1", "debug1: banner   recv \"SSH-2.0-OpenSSH", "debug1: kex      send KEXINIT", "-vv for all",
		"debug1: hostkey  recv ssh-ed25519", "debug1: auth     send publickey ssh-ed25519", "debug1: session  exec \"true\""} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v: %q missing:\n%s", want, r.stderr)
		}
	}
	r = run(t, "", e.args("-i", key.Path, "-vv", target(srv))...)
	if strings.Contains(r.stderr, "-vv for all") || !strings.Contains(r.stderr, "debug2:") {
		t.Errorf("-vv does not print the full lists:\n%s", r.stderr)
	}
	if r = run(t, "", e.args("-i", key.Path, target(srv))...); strings.Contains(r.stderr, "debug") {
		t.Errorf("without -v: %s", r.stderr)
	}
}

// Ctrl-C during a wait ends the check at once with what it learned.
func TestCheckInterrupted(t *testing.T) {
	addr := sshdtest.SilentServer(t) // accepts TCP, never speaks
	cmd := exec.Command(binary(t), "check", "-F", "none", "--timeout", "20", "--output", "json", "root@"+addr)
	cmd.Env = append(cmd.Environ(), "SSH_AUTH_SOCK=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitInterrupted || took > 3*time.Second {
		t.Fatalf("exit %v after %s, want %d at once\n%s\n%s", err, took, ExitInterrupted, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "Interrupted") || !strings.Contains(out.String(), `"layer": "tcp"`) || !strings.Contains(out.String(), `"banner"`) {
		t.Errorf("the report of what was learned is missing:\n%s\n%s", out.String(), errb.String())
	}
}

// The progress line names the layer waited on and the time, and is
// cleared at the end; quick checks show nothing.
func TestProgressLine(t *testing.T) {
	var b syncBuffer
	p := startProgress(&b)
	p.set("banner", "waiting for the server's SSH identification")
	time.Sleep(900 * time.Millisecond)
	p.stop()
	s := b.String()
	if !strings.Contains(s, "… banner: waiting for the server's SSH identification (") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("progress output %q", s)
	}
	var q syncBuffer
	p = startProgress(&q)
	p.set("tcp", "connecting")
	p.stop()
	if q.String() != "" {
		t.Errorf("a quick check printed progress: %q", q.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
