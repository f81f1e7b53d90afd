// Package sshdtest starts real peers for tests of the SSH diagnosis tool:
// a real OpenSSH sshd (/usr/sbin/sshd) on 127.0.0.1, a real ssh-agent,
// small misbehaving TCP servers, and a pair of network namespaces joined by
// a veth pair.
//
// Everything it starts is stopped by PID, and every namespace and temporary
// file it creates is removed, in t.Cleanup. It never writes the host's
// /etc/ssh, /etc/passwd, /etc/shadow or /etc/group, and never touches the
// host's network interfaces or firewall. Helpers that need root call
// NeedRoot.
package sshdtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the sshd binary Start runs.
const SSHD = "/usr/sbin/sshd"

// NeedRoot skips the test when not running as root, unless the environment
// has CI=true, where it fails (t.Fatal) instead: tests that need root must
// run in CI.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("sshdtest: this test needs root, and CI=true")
	}
	t.Skip("sshdtest: needs root")
}

// tempDir makes a world-traversable (0755) temporary directory, removed in
// t.Cleanup. Unlike t.TempDir, its path is short (fits a unix socket path)
// and sshd can read files in it after dropping to an unprivileged user.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// generate returns a new private key of type "ed25519", "rsa" (2048 bits) or
// "ecdsa" (P-256).
func generate(typ string) (crypto.Signer, error) {
	switch typ {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("sshdtest: unknown key type %q", typ)
}

// writeKey writes priv in OpenSSH format (encrypted when passphrase != "")
// to path with mode 0600, and its public half to path+".pub".
func writeKey(path string, priv crypto.Signer, passphrase string) (ssh.PublicKey, error) {
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "sshdtest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "sshdtest", []byte(passphrase))
	}
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return pub, os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644)
}

// Key is a generated client key.
type Key struct {
	Path   string        // private key file (OpenSSH format, mode 0600); Path+".pub" holds the public key
	Signer ssh.Signer    // nil when the key file is encrypted
	Public ssh.PublicKey // public half
}

// NewKey generates a key of type "ed25519", "rsa" (2048 bits) or "ecdsa"
// (P-256) in t.TempDir(). With passphrase "" the file is unencrypted,
// otherwise it is in OpenSSH format encrypted with passphrase. It also
// writes Path+".pub".
func NewKey(t testing.TB, typ, passphrase string) Key {
	t.Helper()
	priv, err := generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Path: filepath.Join(t.TempDir(), "id_"+typ)}
	if k.Public, err = writeKey(k.Path, priv, passphrase); err != nil {
		t.Fatal(err)
	}
	if passphrase == "" {
		if k.Signer, err = ssh.NewSignerFromSigner(priv); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// WriteKnownHosts writes a known_hosts file at path with one line per key for
// hostport, normalized as OpenSSH does ("[127.0.0.1]:PORT", or the bare host
// for port 22).
func WriteKnownHosts(t testing.TB, path, hostport string, keys ...ssh.PublicKey) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{hostport}, k) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// User is an extra account visible only to one sshd (see Options.Users).
type User struct {
	Name  string
	UID   int    // also used as the GID of a group of the same name
	Shell string // "" means /bin/sh
	Home  string // "" means /nonexistent
	// Password is the shadow password field. "" writes "*": no password
	// matches, but the account is not locked, so public-key login works
	// (with UsePAM no, sshd refuses every login to an account whose hash
	// starts with "!"). A value starting with "$" is taken as a crypt hash
	// and written as is; anything else is plain text, hashed with
	// `openssl passwd -6` (SHA-512 crypt).
	Password string
	// PasswordChanged is the shadow "last change" day: "" writes 19000
	// (in the past, no ageing); "0" makes the password expired, to be
	// changed at the next login.
	PasswordChanged string
	// Expires is the shadow account expiry day: "" none; "1" expired
	// in 1970.
	Expires string
}

// Options configures Start.
type Options struct {
	// Config holds extra sshd_config lines, placed before the defaults
	// (sshd takes the first value of a keyword), e.g.
	// "PasswordAuthentication yes" or "MaxAuthTries 3".
	Config []string
	// HostKeyTypes lists host key types: "ed25519" (the default when
	// empty), "rsa", "ecdsa". Keys are generated in Go and written 0600 in
	// the server dir.
	HostKeyTypes []string
	// AuthorizedKeys are written to <dir>/authorized_keys, used for every
	// user via AuthorizedKeysFile.
	AuthorizedKeys []ssh.PublicKey
	// Users, when non-empty, makes sshd run in a private mount namespace
	// (unshare --mount --propagation private) where copies of /etc/passwd,
	// /etc/shadow and /etc/group with these users appended are bind-mounted
	// over the originals. The host files are never written.
	Users []User
	// HostCert, when set, certifies the first host key: the certificate is
	// written to <hostkey>-cert.pub and named by HostCertificate.
	HostCert *HostCert
}

// Server is a running sshd.
type Server struct {
	Addr     string          // "127.0.0.1:PORT"
	Port     int             // listening port
	Dir      string          // temp dir with sshd_config, keys, authorized_keys, sshd.log
	HostKeys []ssh.PublicKey // public halves of the host keys, in HostKeyTypes order
	PID      int             // sshd's listener process
	// HostCert is the host certificate sshd presents (Options.HostCert).
	HostCert *ssh.Certificate
}

// Log returns what sshd wrote to stderr so far (-e sends its log there);
// tests print it on failure.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
	return string(b)
}

// Start starts `/usr/sbin/sshd -D -e -f <dir>/sshd_config` on 127.0.0.1 with
// a free random port, waits until it listens and accepts TCP connections (up
// to about 5s, t.Fatal with the sshd log on failure; a failed bind is retried
// with a new port up to 3 times), and stops it (and its children) by PID in
// t.Cleanup. It calls NeedRoot.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	NeedRoot(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: tempDir(t, "sshdtest-")}
	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []string{"ed25519"}
	}
	var hostKeyLines []string
	for i, typ := range types {
		priv, err := generate(typ)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(s.Dir, fmt.Sprintf("ssh_host_%d_%s_key", i, typ))
		pub, err := writeKey(path, priv, "")
		if err != nil {
			t.Fatal(err)
		}
		s.HostKeys = append(s.HostKeys, pub)
		hostKeyLines = append(hostKeyLines, "HostKey "+path)
		if i == 0 && opts.HostCert != nil {
			s.HostCert = opts.HostCert.CA.Sign(t, pub, ssh.HostCert, opts.HostCert.Spec)
			WriteCert(t, path+"-cert.pub", s.HostCert)
			hostKeyLines = append(hostKeyLines, "HostCertificate "+path+"-cert.pub")
		}
	}
	var ak []byte
	for _, k := range opts.AuthorizedKeys {
		ak = append(ak, ssh.MarshalAuthorizedKey(k)...)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "authorized_keys"), ak, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{SSHD, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config")}
	if len(opts.Users) > 0 {
		args = usersNamespace(t, s.Dir, opts.Users, args)
	}

	for attempt := 1; ; attempt++ {
		s.Port = FreePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
		cfg := append(append([]string{}, opts.Config...), "ListenAddress 127.0.0.1", "Port "+strconv.Itoa(s.Port))
		cfg = append(cfg, hostKeyLines...)
		cfg = append(cfg,
			"PidFile "+filepath.Join(s.Dir, "sshd.pid"),
			"AuthorizedKeysFile "+filepath.Join(s.Dir, "authorized_keys"),
			"StrictModes no",
			"UsePAM no",
			"PermitRootLogin prohibit-password",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"LogLevel VERBOSE",
			"Subsystem sftp internal-sftp",
		)
		if err := os.WriteFile(filepath.Join(s.Dir, "sshd_config"), []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := startProc(args, filepath.Join(s.Dir, "sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		s.PID = p.pid
		ok := waitListening(s, p)
		if ok {
			t.Cleanup(p.stop)
			return s
		}
		p.stop()
		log := s.Log()
		if attempt < 3 && (strings.Contains(log, "Bind to port") || strings.Contains(log, "Cannot bind any address")) {
			continue
		}
		t.Fatalf("sshdtest: sshd did not start listening on %s:\n%s", s.Addr, log)
	}
}

// waitListening polls up to 5s until sshd logged "Server listening" and
// accepts a TCP connection; it returns false early if sshd exits.
func waitListening(s *Server, p *proc) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			return false
		default:
		}
		if !strings.Contains(s.Log(), "Server listening on") {
			continue
		}
		if c, err := dialTCP(s.Addr); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// usersNamespace writes passwd, shadow and group copies with users appended
// into dir and returns args wrapped to run in a private mount namespace with
// the copies bind-mounted over the originals.
func usersNamespace(t testing.TB, dir string, users []User, args []string) []string {
	t.Helper()
	files := map[string]string{"passwd": "", "shadow": "", "group": ""}
	for name := range files {
		b, err := os.ReadFile("/etc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			files[name] += "\n"
		}
	}
	for _, u := range users {
		if strings.HasPrefix(files["passwd"], u.Name+":") || strings.Contains(files["passwd"], "\n"+u.Name+":") {
			t.Fatalf("sshdtest: user %q already exists on the host", u.Name)
		}
		shell, home := u.Shell, u.Home
		if shell == "" {
			shell = "/bin/sh"
		}
		if home == "" {
			home = "/nonexistent"
		}
		hash := "*"
		switch {
		case strings.HasPrefix(u.Password, "$"):
			hash = u.Password
		case u.Password != "":
			cmd := exec.Command("openssl", "passwd", "-6", "-stdin")
			cmd.Stdin = strings.NewReader(u.Password + "\n")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("sshdtest: openssl passwd: %v", err)
			}
			hash = strings.TrimSpace(string(out))
		}
		files["passwd"] += fmt.Sprintf("%s:x:%d:%d:sshdtest user:%s:%s\n", u.Name, u.UID, u.UID, home, shell)
		changed := u.PasswordChanged
		if changed == "" {
			changed = "19000"
		}
		files["shadow"] += fmt.Sprintf("%s:%s:%s:0:99999:7::%s:\n", u.Name, hash, changed, u.Expires)
		files["group"] += fmt.Sprintf("%s:x:%d:\n", u.Name, u.UID)
	}
	script := "set -e\n"
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "shadow" {
			mode = 0o600
		}
		p := filepath.Join(dir, "etc-"+name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		script += fmt.Sprintf("mount --bind %s /etc/%s\n", p, name)
	}
	script += `exec "$@"`
	return append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"}, args...)
}

// proc is a process started by this package, stopped by PID.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
	once sync.Once
}

// startProc starts args with stdin from /dev/null and stdout and stderr
// appended to logPath ("" discards them).
func startProc(args []string, logPath string) (*proc, error) {
	cmd := exec.Command(args[0], args[1:]...)
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop kills the process's descendants (SIGKILL, by PID), then sends it
// SIGTERM, and SIGKILL if it has not exited after 3s, and waits for it.
func (p *proc) stop() {
	p.once.Do(func() {
		for _, pid := range descendants(p.pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// descendants returns the PIDs of all live descendants of pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" closing the command name: state ppid ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], child)
			}
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}
