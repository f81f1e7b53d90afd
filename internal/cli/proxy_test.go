package cli

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// A ProxyCommand in the user's configuration carries the connection, as
// ssh does it: the check speaks SSH over the command's stdin and stdout,
// and a command that fails is its own finding, with its status and stderr.
func TestCheckProxyCommand(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	// The host key is the one of the target as ssh names it: %h:%p.
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)

	// A working proxy: bash's /dev/tcp, to %h:%p (127.0.0.1 and sshd's port).
	proxy := `ProxyCommand=bash -c 'exec 3<>/dev/tcp/%h/%p; cat <&3 & exec cat >&3'`
	r := run(t, "", e.args("-o", proxy, "-i", key.Path, "--exec", "echo via-proxy", target(srv))...)
	expect(t, r, ExitOK, "")
	if r.doc.Observations.Session == nil || strings.TrimSpace(r.doc.Observations.Session.Stdout) != "via-proxy" {
		t.Errorf("session %+v", r.doc.Observations.Session)
	}
	sawJump, sawTCP := false, false
	for _, l := range r.doc.Layers {
		switch l.Layer {
		case "jump":
			sawJump = l.Status == "ok" && strings.Contains(l.Summary, "/dev/tcp/127.0.0.1/") && strings.Contains(l.Summary, "not observed")
		case "tcp":
			sawTCP = true
		}
	}
	if !sawJump || sawTCP {
		t.Errorf("layers %+v: want the proxy layer (expanded command) and no TCP layer of ours", r.doc.Layers)
	}

	// A proxy that fails: exit status and stderr are the evidence.
	bad := `ProxyCommand=sh -c 'echo "channel 0: open failed: connect failed: Connection refused" >&2; exit 255'`
	r = run(t, "", e.args("-o", bad, "-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "proxy.failed")
	var ev string
	for _, f := range r.doc.Findings {
		if f.ID == "proxy.failed" {
			ev = f.Summary + " " + strings.Join(f.Evidence, " ")
		}
	}
	if !strings.Contains(ev, "status 255") || !strings.Contains(ev, "connect failed: Connection refused") {
		t.Errorf("proxy.failed says %q", ev)
	}

	// ProxyCommand none: a direct connection, as ssh.
	r = run(t, "", e.args("-o", "ProxyCommand=none", "-i", key.Path, target(srv))...)
	expect(t, r, ExitOK, "")
}

// ssh's -4/-6 and a bare --timeout in seconds, as ssh users type them.
func TestCheckFamilyAndTimeoutFlags(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)

	r := run(t, "", e.args("-4", "--timeout", "5", "-i", key.Path, target(srv))...)
	expect(t, r, ExitOK, "")
	// -6 against an IPv4 literal: said, not attempted.
	r = run(t, "", e.args("-6", "--timeout", "2s", "-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "dns.no_address")
	for _, bad := range [][]string{{"-4", "-6"}, {"--timeout", "0"}, {"--timeout", "five"}} {
		if r := run(t, "", e.args(append(bad, target(srv))...)...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", bad, r.code, ExitUsage)
		}
	}
}

// --exec: exit 0 means the command asked for ran and exited 0. A
// ForceCommand (or a command= key option) runs something else: said.
func TestCheckExecMeansTheCommandRan(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, "--exec", "echo out; exit 3", target(srv))...)
	expect(t, r, ExitProblem, "session.exit_nonzero")
	if s := r.doc.Observations.Session; s == nil || s.Stdout != "out\n" {
		t.Errorf("session %+v: the marker must not show in the output", s)
	}

	forced := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}, Config: []string{"ForceCommand echo forced"}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, forced.Addr, forced.HostKeys...)
	r = run(t, "", e.args("-i", key.Path, "--exec", "echo mine", target(forced))...)
	expect(t, r, ExitProblem, "session.forced_command")
	if s := r.doc.Observations.Session; s == nil || !strings.Contains(s.Stdout, "forced") {
		t.Errorf("session %+v", s)
	}
}

// -o ConnectionAttempts=N: ssh tries again, a second apart; so does check.
func TestCheckConnectionAttempts(t *testing.T) {
	e := newEnv(t)
	port := sshdtest.FreePort(t)
	r := run(t, "", e.args("-o", "ConnectionAttempts=2", "-o", "ConnectTimeout=2", "root@127.0.0.1:"+strconv.Itoa(port))...)
	expect(t, r, ExitProblem, "tcp.refused")
	if n := len(r.doc.Observations.TCP.Attempts); n != 2 {
		t.Errorf("%d attempts, want 2: %+v", n, r.doc.Observations.TCP.Attempts)
	}
	if r := run(t, "", e.args("-o", "ConnectionAttempts=0", "root@127.0.0.1:"+strconv.Itoa(port))...); r.code != ExitUsage {
		t.Errorf("ConnectionAttempts=0: exit %d", r.code)
	}
}

// -J with several hops: each hop is reached through the one before, as
// ssh -J a,b; a hop that fails is named with its place in the chain.
func TestCheckJumpChain(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	var srvs []*sshdtest.Server
	for range 3 {
		s := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
		sshdtest.WriteKnownHosts(t, e.knownHosts, s.Addr, s.HostKeys...)
		srvs = append(srvs, s)
	}
	chain := "root@" + srvs[0].Addr + ",root@" + srvs[1].Addr
	r := run(t, "", e.args("-J", chain, "-i", key.Path, "--exec", "echo through", target(srvs[2]))...)
	expect(t, r, ExitOK, "")
	if s := r.doc.Observations.Session; s == nil || strings.TrimSpace(s.Stdout) != "through" {
		t.Errorf("session %+v", s)
	}
	closed := sshdtest.FreePort(t)
	bad := "root@" + srvs[0].Addr + ",root@127.0.0.1:" + strconv.Itoa(closed)
	r = run(t, "", e.args("-J", bad, "-i", key.Path, target(srvs[2]))...)
	expect(t, r, ExitProblem, "jump.failed")
	ev := ""
	for _, f := range r.doc.Findings {
		ev += strings.Join(f.Evidence, " ")
	}
	if !strings.Contains(ev, "hop 2 of 2") {
		t.Errorf("the failing hop is not named: %s", ev)
	}
}
