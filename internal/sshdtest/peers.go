package sshdtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"
)

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

// FreePort returns a port that was free on 127.0.0.1 a moment ago (a
// closed port, for tests that need nothing to listen).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartAgent starts a real `ssh-agent -D -a <tmp>/agent.sock`, waits for
// the socket, adds the given private keys (crypto.Signer values such as
// ed25519.PrivateKey, *rsa.PrivateKey, *ecdsa.PrivateKey, or what
// ssh.ParseRawPrivateKey returns) through x/crypto's agent client, stops the
// agent by PID in t.Cleanup, and returns the socket path.
func StartAgent(t testing.TB, keys ...any) string {
	t.Helper()
	sock := filepath.Join(tempDir(t, "sdt-agent-"), "agent.sock")
	p, err := startProc([]string{"ssh-agent", "-D", "-a", sock}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	var conn net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshdtest: ssh-agent socket %s: %v", sock, err)
		}
	}
	defer conn.Close()
	client := agent.NewClient(conn)
	for i, k := range keys {
		if err := client.Add(agent.AddedKey{PrivateKey: k, Comment: fmt.Sprintf("sshdtest-%d", i)}); err != nil {
			t.Fatalf("sshdtest: adding key %d to agent: %v", i, err)
		}
	}
	return sock
}

// NewAgentKeys returns n freshly generated ed25519 private keys
// (ed25519.PrivateKey values) for StartAgent.
func NewAgentKeys(t testing.TB, n int) []any {
	t.Helper()
	keys := make([]any, n)
	for i := range keys {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

// serve listens on 127.0.0.1:0 and calls handle for each accepted
// connection until cleanup, which closes the listener and every connection.
func serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handle(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// SilentServer listens on 127.0.0.1:0, accepts connections and never writes
// to them, holding them open until cleanup. It returns the address.
func SilentServer(t testing.TB) string {
	t.Helper()
	return serve(t, func(net.Conn) {})
}

// ClosingServer listens on 127.0.0.1:0 and closes each connection
// immediately without writing. It returns the address.
func ClosingServer(t testing.TB) string {
	t.Helper()
	return serve(t, func(c net.Conn) { c.Close() })
}

// Netns is a pair of network namespaces, "client" and "server", created by
// the test and joined by a veth pair: the client has ClientIP
// (198.51.100.1/24), the server ServerIP (198.51.100.2/24), and both have lo
// up. Names are unique per test. In t.Cleanup, processes started with Start
// and any other process left in the namespaces are killed by PID, then both
// namespaces are deleted (ip netns del).
type Netns struct {
	Client, Server     string // namespace names, for `ip netns exec`
	ClientIP, ServerIP string // addresses without prefix length

	mu    sync.Mutex
	procs []*proc
}

// NewNetns creates the namespace pair with the `ip` command (iproute2). The
// veth pair is created directly inside the client namespace, so the host's
// own interfaces are never touched. It calls NeedRoot.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	NeedRoot(t)
	b := make([]byte, 4)
	rand.Read(b)
	id := hex.EncodeToString(b)
	n := &Netns{Client: "sdt-c-" + id, Server: "sdt-s-" + id, ClientIP: "198.51.100.1", ServerIP: "198.51.100.2"}
	vc, vs := "sdtc"+id, "sdts"+id // 12 chars, within IFNAMSIZ-1
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("sshdtest: ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", n.Client)
	t.Cleanup(func() { n.cleanup(t, n.Client) })
	ip("netns", "add", n.Server)
	t.Cleanup(func() { n.cleanup(t, n.Server) })
	t.Cleanup(n.stopProcs)
	ip("-n", n.Client, "link", "add", vc, "type", "veth", "peer", "name", vs, "netns", n.Server)
	for _, side := range [][3]string{{n.Client, vc, n.ClientIP}, {n.Server, vs, n.ServerIP}} {
		ip("-n", side[0], "addr", "add", side[2]+"/24", "dev", side[1])
		ip("-n", side[0], "link", "set", side[1], "up")
		ip("-n", side[0], "link", "set", "lo", "up")
	}
	return n
}

func (n *Netns) stopProcs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		p.stop()
	}
}

// cleanup kills, by PID, whatever still runs in ns, then deletes it.
func (n *Netns) cleanup(t testing.TB, ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		t.Errorf("sshdtest: ip netns del %s: %v\n%s", ns, err, out)
	}
}

// Exec runs a command inside namespace ns (`ip netns exec ns args...`) and
// returns its combined output; it calls t.Fatal when the command fails.
func (n *Netns) Exec(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := n.ExecErr(ns, args...)
	if err != nil {
		t.Fatalf("sshdtest: in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// ExecErr runs a command inside namespace ns and returns its combined output
// and error. The command is killed after 60s.
func (n *Netns) ExecErr(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// Start starts a long-running command inside namespace ns in the background
// (stdout and stderr discarded) and returns its PID. The process is killed
// by PID in t.Cleanup, before the namespaces are deleted.
func (n *Netns) Start(t testing.TB, ns string, args ...string) int {
	t.Helper()
	p, err := startProc(append([]string{"ip", "netns", "exec", ns}, args...), "")
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return p.pid
}

// Nft applies an nftables ruleset inside namespace ns with `nft -f -`
// (ruleset on stdin); it calls t.Fatal with nft's output on failure.
func (n *Netns) Nft(t testing.TB, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sshdtest: nft in %s: %v\n%s", ns, err, out)
	}
}
