package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cmdTimeout bounds every helper command (ip, nft, nsenter): they answer in
// milliseconds, so a hang means something is wrong and must not block a test.
const cmdTimeout = 30 * time.Second

// run executes a command and returns a one-line error with its output.
func run(args ...string) error {
	_, err := output(nil, args...)
	return err
}

func output(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = ownGroup()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ownGroup puts a helper in its own process group, out of the terminal's
// foreground group: Ctrl-C reaches sshdoctor alone, which stops between
// steps (or finishes the step) instead of losing a helper in mid-change.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func nsExists(name string) bool {
	out, err := output(nil, "ip", "netns", "list")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// setupCore creates the client and router namespaces and the VM bridge.
// Every interface is created inside a lab namespace (veth peers are moved
// straight into the other lab namespace), so the host's own network
// namespace never sees one.
func (s *State) setupCore() error {
	c, r := s.nsClient(), s.nsRouter()
	steps := [][]string{
		{"ip", "netns", "add", c},
		{"ip", "netns", "add", r},
		{"ip", "-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "uplink", "netns", r},
		{"ip", "-n", c, "addr", "add", ClientIP + "/24", "dev", "eth0"},
		{"ip", "-n", c, "link", "set", "lo", "up"},
		{"ip", "-n", c, "link", "set", "eth0", "up"},
		{"ip", "-n", c, "route", "add", "default", "via", routerClientIP},
		{"ip", "-n", r, "addr", "add", routerClientIP + "/24", "dev", "uplink"},
		{"ip", "-n", r, "link", "set", "lo", "up"},
		{"ip", "-n", r, "link", "set", "uplink", "up"},
		{"ip", "-n", r, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", r, "addr", "add", routerVMIP + "/24", "dev", "br0"},
		{"ip", "-n", r, "link", "set", "br0", "up"},
		{"ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, st := range steps {
		if err := run(st...); err != nil {
			return err
		}
	}
	return nil
}

// vethName is the router-side interface of a VM (IFNAMSIZ is 16).
func vethName(v *VMState) string { return fmt.Sprintf("vm%d", v.Index) }

// setupVMNet creates the VM's namespace and plugs it into the bridge.
func (s *State) setupVMNet(v *VMState) error {
	ns, r := s.nsVM(v), s.nsRouter()
	if !nsExists(ns) {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", vethName(v), "netns", r},
		{"ip", "-n", r, "link", "set", vethName(v), "master", "br0"},
		{"ip", "-n", r, "link", "set", vethName(v), "up"},
		{"ip", "-n", ns, "addr", "add", v.IP() + "/24", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "route", "add", "default", "via", routerVMIP},
	}
	for _, st := range steps {
		if err := run(st...); err != nil {
			return err
		}
	}
	return nil
}

// teardownVMNet removes the VM's veth (deleting one end removes both).
func (s *State) teardownVMNet(v *VMState) {
	_ = run("ip", "-n", s.nsVM(v), "link", "del", "eth0")
}

// nft applies a ruleset inside a namespace.
func nft(ns, ruleset string) error {
	_, err := output([]byte(ruleset), "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}
