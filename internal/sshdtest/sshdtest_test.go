package sshdtest

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// run logs in as user with key and runs cmd, returning combined output and
// the session error.
func run(t *testing.T, srv *Server, user string, key Key, cmd string) (string, error) {
	t.Helper()
	c, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key.Signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKeys[0]),
		// Offer only the first host key's algorithm, so sshd presents it.
		HostKeyAlgorithms: []string{srv.HostKeys[0].Type()},
		Timeout:           5 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial %s as %s: %v\nsshd log:\n%s", srv.Addr, user, err, srv.Log())
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func TestStartRootLogin(t *testing.T) {
	key := NewKey(t, "ed25519", "")
	srv := Start(t, Options{AuthorizedKeys: []ssh.PublicKey{key.Public}, HostKeyTypes: []string{"ed25519", "rsa"}})
	if len(srv.HostKeys) != 2 || srv.HostKeys[1].Type() != ssh.KeyAlgoRSA {
		t.Fatalf("host keys: %v", srv.HostKeys)
	}
	out, err := run(t, srv, "root", key, "id -u")
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Fatalf("id -u = %q, %v\nsshd log:\n%s", out, err, srv.Log())
	}
	if !strings.Contains(srv.Log(), "Accepted publickey for root") {
		t.Errorf("sshd log lacks the accepted login:\n%s", srv.Log())
	}

	// known_hosts written for the server validates its host key.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	WriteKnownHosts(t, kh, srv.Addr, srv.HostKeys...)
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := net.ResolveTCPAddr("tcp", srv.Addr)
	if err := cb(srv.Addr, addr, srv.HostKeys[0]); err != nil {
		t.Errorf("known_hosts rejects the host key: %v", err)
	}
	if b, _ := os.ReadFile(kh); !strings.HasPrefix(string(b), "[127.0.0.1]:") {
		t.Errorf("known_hosts = %q", b)
	}
}

func TestStartUsers(t *testing.T) {
	key := NewKey(t, "ecdsa", "")
	srv := Start(t, Options{
		AuthorizedKeys: []ssh.PublicKey{key.Public},
		Users:          []User{{Name: "nologinuser", UID: 4242, Shell: "/usr/sbin/nologin", Home: "/nonexistent"}},
	})
	out, err := run(t, srv, "nologinuser", key, "id -u")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() == 0 {
		t.Errorf("want a non-zero exit, got %v", err)
	}
	if !strings.Contains(out, "This account is currently not available") {
		t.Errorf("output %q lacks nologin's message\nsshd log:\n%s", out, srv.Log())
	}

	// A plain-text Password is hashed and works for password login.
	pw := Start(t, Options{
		Config: []string{"PasswordAuthentication yes"},
		Users:  []User{{Name: "pwuser", UID: 4243, Shell: "/bin/sh", Home: "/", Password: "s3cret"}},
	})
	c, err := ssh.Dial("tcp", pw.Addr, &ssh.ClientConfig{
		User: "pwuser", Auth: []ssh.AuthMethod{ssh.Password("s3cret")},
		HostKeyCallback: ssh.FixedHostKey(pw.HostKeys[0]), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("password login: %v\n%s", err, pw.Log())
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if out, err := s.CombinedOutput("id -u"); err != nil || strings.TrimSpace(string(out)) != "4243" {
		t.Errorf("pwuser id -u = %q, %v", out, err)
	}

	if b, err := os.ReadFile("/etc/passwd"); err != nil || bytes.Contains(b, []byte("nologinuser")) {
		t.Errorf("host /etc/passwd contains nologinuser (err %v)", err)
	}
}

func TestNewKeyEncrypted(t *testing.T) {
	k := NewKey(t, "rsa", "secret")
	if k.Signer != nil {
		t.Error("Signer of an encrypted key is not nil")
	}
	b, err := os.ReadFile(k.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssh.ParsePrivateKey(b); err == nil {
		t.Error("encrypted key parsed without passphrase")
	}
	s, err := ssh.ParsePrivateKeyWithPassphrase(b, []byte("secret"))
	if err != nil || !bytes.Equal(s.PublicKey().Marshal(), k.Public.Marshal()) {
		t.Errorf("decrypting: %v", err)
	}
}

func TestStartAgent(t *testing.T) {
	NeedRoot(t) // not strictly needed, but keeps all real-process tests together
	sock := StartAgent(t, NewAgentKeys(t, 3)...)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys, err := agent.NewClient(conn).List()
	if err != nil || len(keys) != 3 {
		t.Fatalf("agent lists %d keys, err %v", len(keys), err)
	}
}

func TestMisbehavingServers(t *testing.T) {
	buf := make([]byte, 1)
	c, err := net.Dial("tcp", SilentServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent server: read err %v, want timeout", err)
	}
	c2, err := net.Dial("tcp", ClosingServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c2.Read(buf); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("closing server: read %d, %v, want EOF/reset", n, err)
	}
}

func TestNetns(t *testing.T) {
	NeedRoot(t)
	var names []string
	t.Run("pair", func(t *testing.T) {
		n := NewNetns(t)
		names = []string{n.Client, n.Server}
		// A listener in the server namespace, reached from the client one.
		n.Start(t, n.Server, "perl", "-MIO::Socket::INET", "-e",
			`$s=IO::Socket::INET->new(LocalAddr=>"`+n.ServerIP+`:2222",Listen=>5,ReuseAddr=>1) or die $!; while($c=$s->accept){print $c "hello\n"; close $c}`)
		var out string
		var err error
		for i := 0; i < 50; i++ {
			out, err = n.ExecErr(n.Client, "bash", "-c", "exec 3<>/dev/tcp/"+n.ServerIP+"/2222 && head -n1 <&3")
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || strings.TrimSpace(out) != "hello" {
			t.Fatalf("client -> server TCP: %q, %v", out, err)
		}
		n.Nft(t, n.Server, "table inet f { chain in { type filter hook input priority 0; tcp dport 22 drop; }; }")
		if rs := n.Exec(t, n.Server, "nft", "list", "ruleset"); !strings.Contains(rs, "tcp dport 22 drop") {
			t.Errorf("ruleset lacks the rule:\n%s", rs)
		}
		if rs := n.Exec(t, n.Client, "nft", "list", "ruleset"); strings.Contains(rs, "tcp dport 22") {
			t.Errorf("client namespace has the server's rule:\n%s", rs)
		}
	})
	if len(names) != 2 {
		t.Fatal("subtest did not create namespaces")
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.Contains(string(out), name) {
			t.Errorf("namespace %s left after cleanup:\n%s", name, out)
		}
	}
}
