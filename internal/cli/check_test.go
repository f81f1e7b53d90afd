package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshdoctor/sshdoctor/internal/render"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// checkResult is one run of `sshdoctor check`.
type checkResult struct {
	code           int
	doc            render.CheckJSON
	stdout, stderr string
}

// env isolates a check from the host's own ssh state: no config file, a
// temporary known_hosts, no global known_hosts, no agent.
type env struct {
	knownHosts string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	return &env{knownHosts: filepath.Join(t.TempDir(), "known_hosts")}
}

func (e *env) args(extra ...string) []string {
	return append([]string{"check", "-F", "none",
		"-o", "UserKnownHostsFile=" + e.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"--output", "json"}, extra...)
}

func run(t *testing.T, stdin string, args ...string) checkResult {
	t.Helper()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	code := Main(ios, args)
	res := checkResult{code: code, stdout: out.String(), stderr: errb.String()}
	if code != ExitUsage && code != ExitInternal && slicesContains(args, "json") {
		if err := json.Unmarshal(out.Bytes(), &res.doc); err != nil {
			t.Fatalf("output is not JSON (%v):\n%s\nstderr: %s", err, out.String(), errb.String())
		}
	}
	return res
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// expect asserts the exit code and the root cause ("" = SSH works).
func expect(t *testing.T, r checkResult, code int, rootCause string) {
	t.Helper()
	if r.code != code || r.doc.RootCause != rootCause {
		t.Fatalf("exit %d root cause %q, want exit %d root cause %q\n%s\nstderr: %s", r.code, r.doc.RootCause, code, rootCause, r.stdout, r.stderr)
	}
}

func hasFinding(r checkResult, id string) bool {
	for _, f := range r.doc.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func target(srv *sshdtest.Server) string { return "root@" + srv.Addr }

func TestCheckHealthyKeyAuth(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)

	r := run(t, "", e.args("-i", key.Path, "--exec", "id -u", target(srv))...)
	expect(t, r, ExitOK, "")
	if !r.doc.Works || len(r.doc.Findings) != 0 {
		t.Fatalf("want works with no findings, got %+v", r.doc.Findings)
	}
	want := []string{"resolve", "tcp", "banner", "kex", "hostkey", "auth", "session"}
	if len(r.doc.Layers) != len(want) {
		t.Fatalf("layers %+v, want %v", r.doc.Layers, want)
	}
	for i, l := range r.doc.Layers {
		if string(l.Layer) != want[i] || l.Status != "ok" {
			t.Errorf("layer %d = %s %s (%s), want %s ok", i, l.Layer, l.Status, l.Summary, want[i])
		}
	}
	obs := r.doc.Observations
	if !strings.HasPrefix(obs.Banner.Version, "SSH-2.0-OpenSSH_") {
		t.Errorf("banner %q", obs.Banner.Version)
	}
	if obs.Kex.Server == nil || len(obs.Kex.Server.Kex) == 0 || len(obs.Kex.Server.HostKey) == 0 {
		t.Errorf("server KEXINIT not decoded: %+v", obs.Kex.Server)
	}
	if obs.HostKey.Verdict != "match" || obs.HostKey.Type != "ssh-ed25519" {
		t.Errorf("host key %+v", obs.HostKey)
	}
	if obs.Auth.Method != "publickey" || len(obs.Auth.AllowedMethods) == 0 || obs.Auth.AllowedMethods[0] != "publickey" {
		t.Errorf("auth %+v", obs.Auth)
	}
	if obs.Session == nil || obs.Session.ExitStatus == nil || *obs.Session.ExitStatus != 0 || strings.TrimSpace(obs.Session.Stdout) != "0" {
		t.Errorf("session %+v", obs.Session)
	}
}

func TestCheckWrongKey(t *testing.T) {
	e := newEnv(t)
	authorized := sshdtest.NewKey(t, "ed25519", "")
	wrong := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{authorized.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", wrong.Path, target(srv))...)
	expect(t, r, ExitProblem, "auth.publickey_rejected")
	if id := r.doc.Observations.Identities[0]; id.Result != "rejected" || id.Path != wrong.Path {
		t.Errorf("identity %+v, want the wrong key rejected", id)
	}
}

func TestCheckPasswordOnlyServer(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{Config: []string{"PubkeyAuthentication no", "PasswordAuthentication yes"}})

	t.Run("no password given", func(t *testing.T) {
		r := run(t, "", e.args("-i", key.Path, target(srv))...)
		// The host key is unknown too (a warning); the blocker is auth.
		expect(t, r, ExitProblem, "auth.password_required")
		if got := r.doc.Observations.Auth.AllowedMethods; len(got) != 1 || got[0] != "password" {
			t.Errorf("allowed methods %v, want [password]", got)
		}
	})
	t.Run("password withheld from unverified host", func(t *testing.T) {
		r := run(t, "not-the-password\n", e.args("--password-stdin", target(srv))...)
		expect(t, r, ExitProblem, "auth.password_withheld")
		if !strings.Contains(srv.Log(), "Connection") || strings.Contains(srv.Log(), "Failed password") {
			t.Errorf("a password attempt reached the server:\n%s", srv.Log())
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
		r := run(t, "not-the-password\n", e.args("--password-stdin", target(srv))...)
		expect(t, r, ExitProblem, "auth.password_rejected")
	})
}

func TestCheckHostKeyAlgorithmMismatch(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{
		HostKeyTypes:   []string{"rsa"},
		Config:         []string{"HostKeyAlgorithms ssh-rsa"},
		AuthorizedKeys: []ssh.PublicKey{key.Public},
	})
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "kex.no_common_hostkey")
	f := r.doc.Findings[0]
	if !strings.Contains(f.Remediation, "-o HostKeyAlgorithms=+ssh-rsa") {
		t.Fatalf("remediation %q does not name the fix", f.Remediation)
	}
	if got := r.doc.Observations.Kex.Server.HostKey; len(got) != 1 || got[0] != "ssh-rsa" {
		t.Errorf("server host key offer %v, want [ssh-rsa]", got)
	}
	// The suggested fix must work.
	r = run(t, "", e.args("-i", key.Path, "-o", "HostKeyAlgorithms=+ssh-rsa", target(srv))...)
	if r.code != ExitOK || !hasFinding(r, "hostkey.unknown") {
		t.Fatalf("with the fix: exit %d, findings %+v\n%s", r.code, r.doc.Findings, r.stdout)
	}
}

func TestCheckKexMismatch(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{
		Config:         []string{"KexAlgorithms diffie-hellman-group14-sha1"},
		AuthorizedKeys: []ssh.PublicKey{key.Public},
	})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "kex.no_common_kex")
	if !strings.Contains(r.doc.Findings[0].Remediation, "-o KexAlgorithms=+diffie-hellman-group14-sha1") {
		t.Fatalf("remediation %q", r.doc.Findings[0].Remediation)
	}
	r = run(t, "", e.args("-i", key.Path, "-o", "KexAlgorithms=+diffie-hellman-group14-sha1", target(srv))...)
	expect(t, r, ExitOK, "")
}

func TestCheckHostKeyChanged(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	old := sshdtest.NewKey(t, "ed25519", "")
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, old.Public)

	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "hostkey.changed")
	if r.doc.Observations.Auth != nil {
		t.Fatalf("authentication was attempted against a changed host key: %+v", r.doc.Observations.Auth)
	}
	ev := strings.Join(r.doc.Findings[0].Evidence, "\n")
	if !strings.Contains(ev, e.knownHosts+":1") {
		t.Errorf("evidence does not name the old entry %s:1:\n%s", e.knownHosts, ev)
	}
	if strings.Contains(srv.Log(), "Accepted publickey") {
		t.Errorf("server saw a login")
	}
}

func TestCheckUnknownHostKey(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})

	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	if r.code != ExitOK || !hasFinding(r, "hostkey.unknown") {
		t.Fatalf("exit %d findings %+v", r.code, r.doc.Findings)
	}
	if _, err := os.Stat(e.knownHosts); !os.IsNotExist(err) {
		t.Fatalf("known_hosts was written without accept-new: %v", err)
	}
	r = run(t, "", e.args("-i", key.Path, "-o", "StrictHostKeyChecking=yes", target(srv))...)
	expect(t, r, ExitProblem, "hostkey.strict_unknown")

	r = run(t, "", e.args("-i", key.Path, "-o", "StrictHostKeyChecking=accept-new", target(srv))...)
	if r.code != ExitOK || !hasFinding(r, "hostkey.accepted_new") {
		t.Fatalf("accept-new: exit %d findings %+v", r.code, r.doc.Findings)
	}
	r = run(t, "", e.args("-i", key.Path, "-o", "StrictHostKeyChecking=yes", target(srv))...)
	expect(t, r, ExitOK, "")
	if r.doc.Observations.HostKey.Verdict != "match" {
		t.Fatalf("after accept-new the key should match, got %s", r.doc.Observations.HostKey.Verdict)
	}
}

func TestCheckClosedPort(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := run(t, "", e.args("root@"+addr)...)
	expect(t, r, ExitProblem, "tcp.refused")
}

func TestCheckNotSSH(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	r := run(t, "", e.args("root@"+strings.TrimPrefix(srv.URL, "http://"))...)
	expect(t, r, ExitProblem, "ssh.not_ssh")
	if !strings.Contains(r.doc.Diagnosis, "HTTP") {
		t.Errorf("diagnosis %q should name HTTP", r.doc.Diagnosis)
	}
}

func TestCheckBannerTimeout(t *testing.T) {
	e := newEnv(t)
	addr := sshdtest.SilentServer(t)
	r := run(t, "", e.args("--timeout", "300ms", "root@"+addr)...)
	expect(t, r, ExitProblem, "ssh.banner_timeout")
}

func TestCheckClosedBeforeBanner(t *testing.T) {
	e := newEnv(t)
	t.Run("tcp server that closes", func(t *testing.T) {
		r := run(t, "", e.args("root@"+sshdtest.ClosingServer(t))...)
		expect(t, r, ExitProblem, "ssh.closed_before_banner")
	})
	t.Run("sshd at MaxStartups", func(t *testing.T) {
		srv := sshdtest.Start(t, sshdtest.Options{Config: []string{"MaxStartups 1"}})
		// Hold one unauthenticated connection: sshd drops the next one
		// before its banner, as it does under a connection flood. sshd may
		// still count sshdtest's own readiness connection for a moment, in
		// which case it drops the hold itself ("Exceeded MaxStartups"):
		// hold again until the held connection really got a banner.
		var hold net.Conn
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err == nil && strings.HasPrefix(string(buf[:n]), "SSH-") {
				hold = c
				break
			}
			c.Close()
			if i == 20 {
				t.Fatalf("held connection never got a banner: %q %v\n%s", buf[:n], err, srv.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		defer hold.Close()
		r := run(t, "", e.args("root@"+srv.Addr)...)
		expect(t, r, ExitProblem, "ssh.closed_before_banner")
		if !strings.Contains(r.stdout, "MaxStartups") {
			t.Errorf("diagnosis does not name MaxStartups although sshd said so:\n%s", r.stdout)
		}
	})
}

func TestCheckTooManyAgentKeys(t *testing.T) {
	e := newEnv(t)
	right := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{Config: []string{"MaxAuthTries 3"}, AuthorizedKeys: []ssh.PublicKey{right.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	t.Setenv("SSH_AUTH_SOCK", sshdtest.StartAgent(t, sshdtest.NewAgentKeys(t, 6)...))

	r := run(t, "", e.args("-i", right.Path, target(srv))...)
	expect(t, r, ExitProblem, "auth.too_many_failures")
	if !strings.Contains(r.doc.Findings[0].Remediation, "IdentitiesOnly=yes") {
		t.Errorf("remediation %q", r.doc.Findings[0].Remediation)
	}
	// The remedy works: only the named key is offered.
	r = run(t, "", e.args("-o", "IdentitiesOnly=yes", "-i", right.Path, target(srv))...)
	expect(t, r, ExitOK, "")
}

func TestCheckEncryptedKeyWithoutAgent(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "secret passphrase")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "client.key_encrypted")
}

func TestCheckKeyTooOpen(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	if err := os.Chmod(key.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "client.key_permissions")
	if !strings.Contains(r.doc.Findings[0].Remediation, "chmod 600 "+key.Path) {
		t.Errorf("remediation %q", r.doc.Findings[0].Remediation)
	}
}

func TestCheckExecNologinShell(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{
		AuthorizedKeys: []ssh.PublicKey{key.Public},
		Users:          []sshdtest.User{{Name: "sdnologin", UID: 4301, Shell: "/usr/sbin/nologin", Home: "/nonexistent"}},
	})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, "--exec", "true", "sdnologin@"+srv.Addr)...)
	expect(t, r, ExitProblem, "session.nologin")
	if r.doc.Observations.Auth.Outcome != "success" {
		t.Errorf("auth should succeed before the shell refuses: %+v", r.doc.Observations.Auth)
	}
}

func TestCheckProxyJump(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	jump := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	dest := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	sshdtest.WriteKnownHosts(t, e.knownHosts, jump.Addr, jump.HostKeys...)
	sshdtest.WriteKnownHosts(t, e.knownHosts+"2", dest.Addr, dest.HostKeys...)
	both := filepath.Join(t.TempDir(), "kh")
	a, _ := os.ReadFile(e.knownHosts)
	b, _ := os.ReadFile(e.knownHosts + "2")
	if err := os.WriteFile(both, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.knownHosts = both

	r := run(t, "", e.args("-i", key.Path, "-J", "root@"+jump.Addr, "--exec", "true", target(dest))...)
	expect(t, r, ExitOK, "")
	if r.doc.Observations.Jump == nil || r.doc.Observations.Jump.Error != "" {
		t.Fatalf("jump %+v", r.doc.Observations.Jump)
	}
	if !strings.Contains(dest.Log(), "Accepted publickey") {
		t.Errorf("destination saw no login:\n%s", dest.Log())
	}

	// A closed port behind the jump host is reported as seen from there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	r = run(t, "", e.args("-i", key.Path, "-J", "root@"+jump.Addr, "root@"+closed)...)
	expect(t, r, ExitProblem, "tcp.refused")
}

func TestCheckBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"no target":        {"check"},
		"two targets":      {"check", "a", "b"},
		"bad ssh option":   {"check", "-F", "none", "-o", "NoSuchOption=1", "host"},
		"bad output":       {"check", "--output", "xml", "host"},
		"bad port":         {"check", "host:99999"},
		"option as target": {"check", "--", "-oProxyCommand=touch /tmp/x"},
		"unknown flag":     {"check", "--frobnicate", "host"},
		"unknown command":  {"frobnicate"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, "", args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, ExitUsage, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "sshdoctor: ") || r.stdout != "" {
				t.Fatalf("want one error line on stderr and nothing on stdout, got stderr %q stdout %q", r.stderr, r.stdout)
			}
		})
	}
}

func TestCheckTextOutput(t *testing.T) {
	e := newEnv(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	args := e.args("root@" + addr)
	args = slicesReplace(args, "json", "text")
	r := run(t, "", args...)
	if r.code != ExitProblem {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"✓ resolve", "✗ tcp", "Diagnosis: Nothing accepts connections", "[tcp.refused]", "Next steps:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour codes in non-TTY output")
	}
}

func slicesReplace(s []string, old, new string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		if out[i] == old {
			out[i] = new
		}
	}
	return out
}

func TestCheckKnownHostsHashedAndRevoked(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{key.Public}})
	name := knownhosts.Normalize(srv.Addr)

	hashed := knownhosts.Line([]string{knownhosts.HashHostname(name)}, srv.HostKeys[0])
	if err := os.WriteFile(e.knownHosts, []byte(hashed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitOK, "")
	if r.doc.Observations.HostKey.Verdict != "match" {
		t.Fatalf("hashed entry: verdict %s", r.doc.Observations.HostKey.Verdict)
	}

	revoked := "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKeys[0])))
	if err := os.WriteFile(e.knownHosts, []byte(hashed+"\n"+revoked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "hostkey.revoked")
	if r.doc.Observations.Auth != nil {
		t.Fatal("authenticated to a host with a revoked key")
	}
}

func TestCheckPartialSuccess(t *testing.T) {
	e := newEnv(t)
	key := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{
		Config:         []string{"AuthenticationMethods publickey,password", "PasswordAuthentication yes"},
		AuthorizedKeys: []ssh.PublicKey{key.Public},
	})
	sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
	r := run(t, "", e.args("-i", key.Path, target(srv))...)
	expect(t, r, ExitProblem, "auth.partial_success")
	if id := r.doc.Observations.Identities[0]; id.Result != "partial_success" {
		t.Errorf("key result %s, want partial_success", id.Result)
	}
}

func TestLabBadInput(t *testing.T) {
	sshdtest.NeedRoot(t)
	t.Setenv("SSHDOCTOR_LAB_DIR", filepath.Join(t.TempDir(), "lab"))
	for name, args := range map[string][]string{
		"status without a lab": {"lab", "status", "web1"},
		"break without a lab":  {"lab", "break", "web1", "nsg-deny-ssh"},
		"zero VMs":             {"lab", "up", "--vms", "0"},
		"break needs two args": {"lab", "break", "web1"},
		"exec needs a command": {"lab", "exec", "web1"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, "", args...)
			if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("exit %d stderr %q, want exit 2 and one line", r.code, r.stderr)
			}
		})
	}
	if _, err := os.Stat(os.Getenv("SSHDOCTOR_LAB_DIR")); !os.IsNotExist(err) {
		t.Fatalf("bad input created the lab directory: %v", err)
	}
}

func TestLabFaultsList(t *testing.T) {
	r := run(t, "", "lab", "faults")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"nsg-subnet-deny", "route-blackhole", "hostkey-changed", "boot-fstab-error"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("lab faults lacks %s", f)
		}
	}
}
