package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// bootTimeout bounds how long a VM may take to have sshd listening.
const bootTimeout = 15 * time.Second

// UpOptions configure `lab up`.
type UpOptions struct {
	VMs    int
	Name   string // VM name prefix: web → web1, web2…
	Prefix string // namespace prefix (tests use their own)
	Self   string // path of the sshdoctor binary (runs vm-init)
}

// Up creates the lab: namespaces, network, client key and VMs, booted and
// provisioned. On failure, or when ctx is cancelled (Ctrl-C), it stops
// between steps and removes whatever it created. state.json is written
// before anything else, with every namespace the lab will create (their
// names follow from the prefix and the VM names), so `lab down` removes a
// lab whose Up was killed outright: it kills every process in those
// namespaces by PID.
func Up(ctx context.Context, dir string, o UpOptions) (_ *State, err error) {
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	if o.VMs < 1 || o.VMs > 200 {
		return nil, fmt.Errorf("--vms must be between 1 and 200, not %d", o.VMs)
	}
	if o.Name == "" || strings.ContainsAny(o.Name, "/ .") || len(o.Name) > 20 {
		return nil, fmt.Errorf("--name %q: use a short name of letters, digits and dashes", o.Name)
	}
	if old, err := Load(dir); err == nil {
		if old.Creating {
			return nil, fmt.Errorf("an interrupted `lab up` left a partial lab in %s: run `sshdoctor lab down` first", dir)
		}
		return nil, fmt.Errorf("a lab is already up in %s (run `sshdoctor lab down` first)", dir)
	}
	if o.Prefix == "" {
		o.Prefix = "sdlab"
	}
	if nsExists(o.Prefix + "-router") {
		return nil, fmt.Errorf("namespace %s-router exists but no lab state does: remove it with `ip netns del %s-router` or run `sshdoctor lab down`", o.Prefix, o.Prefix)
	}
	pw := make([]byte, 9)
	rand.Read(pw)
	if o.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Self = self
	}
	s := &State{Dir: dir, Prefix: o.Prefix, Password: "Lab-" + hex.EncodeToString(pw), Self: o.Self, Creating: true}
	for i := 1; i <= o.VMs; i++ {
		s.VMs = append(s.VMs, &VMState{Name: fmt.Sprintf("%s%d", o.Name, i), Index: i - 1, Power: cloud.PowerDeallocated, NSG: defaultNICNSG()})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		if derr := Down(s); derr != nil {
			err = fmt.Errorf("%w; removing the partial lab: %v (run `sshdoctor lab down`)", err, derr)
		}
	}()
	// step runs one stage of Up unless ctx was cancelled before it.
	step := func(f func() error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return f()
	}
	for _, f := range []func() error{s.Save, s.setupCore, s.writeClient, s.applyNetwork} {
		if err := step(f); err != nil {
			return nil, err
		}
	}
	for _, v := range s.VMs {
		if err := step(func() error { return s.setupVMNet(v) }); err != nil {
			return nil, err
		}
	}
	errc := make(chan error, len(s.VMs))
	for _, v := range s.VMs {
		go func(v *VMState) { errc <- step(func() error { return s.boot(ctx, v, o.Self, true) }) }(v)
	}
	var bootErr error
	for range s.VMs {
		if e := <-errc; e != nil && bootErr == nil {
			bootErr = e
		}
	}
	if bootErr != nil {
		return nil, bootErr
	}
	s.Creating = false
	for _, f := range []func() error{s.applyNetwork, s.writeKnownHosts, s.Save} {
		if err := step(f); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// defaultNICNSG is what Azure creates for a VM with "SSH (22)" open.
func defaultNICNSG() *cloud.NSG {
	return &cloud.NSG{Name: "nic-nsg", Rules: []cloud.SecurityRule{{
		Name: "SSH", Priority: 300, Direction: cloud.Inbound, Access: cloud.Allow, Protocol: "Tcp",
		SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"},
		DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"},
	}}}
}

// Down stops every VM and removes every namespace and file the lab made.
// It also removes a partial lab (an Up that was killed): whatever runs in
// a lab namespace is killed by PID, whether or not the state recorded it.
func Down(s *State) error {
	var errs []error
	// Kill every VM first, then wait for them together.
	for _, v := range s.VMs {
		if v.UnsharePID > 0 && processIs(v.UnsharePID, "unshare") {
			_ = syscall.Kill(v.UnsharePID, syscall.SIGKILL)
		}
	}
	for _, v := range s.VMs {
		s.kill(v)
	}
	namespaces := []string{s.nsClient(), s.nsRouter()}
	for _, v := range s.VMs {
		namespaces = append(namespaces, s.nsVM(v))
	}
	var killed []int
	for _, ns := range namespaces {
		if nsExists(ns) {
			// What still runs there: a `lab ssh` session, or a VM an
			// interrupted Up started but never recorded.
			killed = append(killed, killNamespace(ns)...)
		}
	}
	for _, pid := range killed {
		for i := 0; i < 400 && pidExists(pid); i++ {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, ns := range namespaces {
		if nsExists(ns) {
			if err := run("ip", "netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killNamespace kills, by PID, every process in network namespace ns and
// returns their PIDs.
func killNamespace(ns string) []int {
	out, err := output(nil, "ip", "netns", "pids", ns)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// boot starts the VM's init in fresh namespaces and waits for sshd (unless
// a fault keeps it down). provision runs first-boot setup (the lab's
// cloud-init): the admin user, its key and password, sudoers.
func (s *State) boot(ctx context.Context, v *VMState, self string, provision bool) error {
	d := s.vmDir(v.Name)
	subs := []string{"home", "root", "log", "tmpdisk", "backups"}
	for _, o := range overlays {
		subs = append(subs, o.name+".upper", o.name+".work")
	}
	for _, sub := range subs {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	_ = os.Chmod(filepath.Join(d, "root"), 0o700)
	if self == "" {
		self = s.Self
	}
	console, err := os.OpenFile(filepath.Join(d, "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	bootStart, _ := console.Seek(0, io.SeekEnd)
	// unshare --kill-child: when the unshare process is killed, its child
	// (the VM's PID 1) dies, and with it every process of the VM.
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", s.nsVM(v), "unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child",
		"--propagation", "private", self, "lab", "vm-init", "--dir", d, "--name", v.Name)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", v.Name, err)
	}
	// Reap it when it ends; the lab command may exit long before.
	go func() { _ = cmd.Wait() }()
	v.UnsharePID = cmd.Process.Pid
	v.Power = cloud.PowerStarting
	v.Boots++
	deadline := time.Now().Add(bootTimeout)
	for v.InitPID == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		v.InitPID = initPID(v.UnsharePID)
		time.Sleep(5 * time.Millisecond)
	}
	if v.InitPID == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%s did not start (see %s)", v.Name, filepath.Join(d, "console.log"))
	}
	v.Power = cloud.PowerRunning
	if err := s.waitAgent(ctx, v, deadline); err != nil {
		return err
	}
	if provision {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.provision(v); err != nil {
			return err
		}
	}
	if s.hasFault(v, "sshd-stopped") {
		return nil
	}
	if s.bootFault(v) {
		// The init decides at boot whether the fault still blocks it (a
		// repair may have fixed fstab): wait for sshd or for emergency
		// mode on the console, whichever comes.
		return s.waitSSHDOrEmergency(ctx, v, filepath.Join(d, "console.log"), bootStart, deadline)
	}
	return s.waitSSHD(ctx, v, deadline)
}

// waitSSHDOrEmergency waits until sshd listens in the VM, or its console
// (from offset on: this boot) shows emergency mode.
func (s *State) waitSSHDOrEmergency(ctx context.Context, v *VMState, console string, offset int64, deadline time.Time) error {
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.sshdListening(v) {
			return nil
		}
		if b, err := os.ReadFile(console); err == nil && int64(len(b)) > offset && strings.Contains(string(b[offset:]), "You are in emergency mode") {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s: neither sshd nor emergency mode after %s (see `sshdoctor lab serial-log %s`)", v.Name, bootTimeout, v.Name)
}

// initPID finds the VM's PID 1 (as the host sees it): the unshare's child.
// The ip netns exec wrapper execs unshare, so the started PID is unshare.
func initPID(unshare int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unshare, unshare))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	return pid
}

// waitAgent waits until the init has mounted the VM's file systems (it
// writes /run/lab-ready), so run-command sees the VM, not the host.
func (s *State) waitAgent(ctx context.Context, v *VMState, deadline time.Time) error {
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/root/run/lab-ready", v.InitPID)); err == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s: init did not come up (see %s)", v.Name, filepath.Join(s.vmDir(v.Name), "console.log"))
}

// sshdListening: something listens on TCP/22 in the VM's namespace.
func (s *State) sshdListening(v *VMState) bool {
	out, err := output(nil, "ip", "netns", "exec", s.nsVM(v), "ss", "-Hltn", "sport", "= :22")
	return err == nil && strings.TrimSpace(out) != ""
}

// waitSSHD waits until something listens on TCP/22 in the VM's namespace.
func (s *State) waitSSHD(ctx context.Context, v *VMState, deadline time.Time) error {
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.sshdListening(v) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s: sshd is not listening after %s (see `sshdoctor lab serial-log %s`)", v.Name, bootTimeout, v.Name)
}

// kill stops the VM: the unshare process is killed by PID, its child (the
// VM's PID 1) with it, and the kernel then kills the whole PID namespace.
func (s *State) kill(v *VMState) {
	if v.UnsharePID > 0 && processIs(v.UnsharePID, "unshare") {
		_ = syscall.Kill(v.UnsharePID, syscall.SIGKILL)
	}
	for i := 0; i < 400 && pidExists(v.InitPID); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	v.UnsharePID, v.InitPID = 0, 0
	v.Power = cloud.PowerDeallocated
}

// processIs checks that pid still runs the expected program, so a recycled
// PID is never signalled.
func processIs(pid int, comm string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == comm
}

// Exec runs a shell script as root inside the VM (the lab's run-command).
// The output is kept whole: Provider.RunCommand applies Azure's limits.
func (s *State) Exec(ctx context.Context, v *VMState, script string, timeout time.Duration) (*cloud.RunResult, error) {
	return s.execInput(ctx, v, script, nil, timeout, false)
}

// execInput is Exec with stdin as the script's standard input (none when
// nil), for data that must stay off the command line. detach runs the
// script in its own process group, out of reach of the terminal's Ctrl-C:
// provisioning and fault scripts finish once started.
func (s *State) execInput(ctx context.Context, v *VMState, script string, stdin []byte, timeout time.Duration, detach bool) (*cloud.RunResult, error) {
	if v.Power != cloud.PowerRunning || !v.alive() {
		return nil, errNotRunning(v)
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(v.InitPID), "-m", "-u", "-p", "-n", "-i", "--",
		"/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/run/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	cmd.Dir = "/"
	if detach {
		cmd.SysProcAttr = ownGroup()
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := &cloud.RunResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("run-command on %s timed out after %s", v.Name, timeout)
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("run-command on %s: %w", v.Name, err)
	}
	return res, nil
}

// mustExec runs a provisioning or fault script and fails on a non-zero exit.
func (s *State) mustExec(v *VMState, script string) error {
	res, err := s.execInput(context.Background(), v, script, nil, time.Minute, true)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: script failed (exit %d): %s%s", v.Name, res.ExitCode, res.Stderr, res.Stdout)
	}
	return nil
}

// provision is the lab's cloud-init: the admin user, its key and password.
func (s *State) provision(v *VMState) error {
	pub, err := os.ReadFile(s.ClientKey() + ".pub")
	if err != nil {
		return err
	}
	script := fmt.Sprintf(`set -e
id -u %[1]s >/dev/null 2>&1 || useradd -m -s /bin/bash %[1]s
install -d -m 700 -o %[1]s -g %[1]s /home/%[1]s/.ssh
printf '%%s\n' '%[2]s' > /home/%[1]s/.ssh/authorized_keys
chown %[1]s:%[1]s /home/%[1]s/.ssh/authorized_keys
chmod 600 /home/%[1]s/.ssh/authorized_keys
echo '%[1]s:%[3]s' | chpasswd
install -d -m 755 /etc/sudoers.d
echo '%[1]s ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users
chmod 440 /etc/sudoers.d/90-cloud-init-users
`, DefaultUser, strings.TrimSpace(string(pub)), s.Password)
	return s.mustExec(v, script)
}

// writeClient creates the lab user's key pair and the client ssh_config.
func (s *State) writeClient() error {
	d := s.clientDir()
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshdoctor-lab")
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.ClientKey(), pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.ClientKey()+".pub", ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		return err
	}
	return s.writeClientConfig()
}

// writeClientConfig writes one Host stanza per VM. HostKeyAlias keeps
// known_hosts valid across redeploys, which change the address.
func (s *State) writeClientConfig() error {
	var b strings.Builder
	b.WriteString("# Written by `sshdoctor lab`; used inside the lab's client namespace.\n")
	for _, v := range s.VMs {
		fmt.Fprintf(&b, "Host lab-%s\n  HostName %s\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  HostKeyAlias lab-%s\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n\n",
			v.Name, v.IP(), DefaultUser, s.ClientKey(), v.Name, filepath.Join(s.clientDir(), "known_hosts"))
	}
	return os.WriteFile(s.ClientConfig(), []byte(b.String()), 0o644)
}

// writeKnownHosts records every VM's host keys, as a cloud's provisioning
// log lets a careful user do.
func (s *State) writeKnownHosts() error {
	var b strings.Builder
	for _, v := range s.VMs {
		root := filepath.Join(s.vmDir(v.Name), "etc.upper", "ssh")
		pubs, _ := filepath.Glob(filepath.Join(root, "ssh_host_*_key.pub"))
		for _, p := range pubs {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				continue // an overlay whiteout: the host's key, deleted in the VM
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f := strings.Fields(string(data))
			if len(f) >= 2 {
				fmt.Fprintf(&b, "lab-%s %s %s\n", v.Name, f[0], f[1])
			}
		}
	}
	return os.WriteFile(filepath.Join(s.clientDir(), "known_hosts"), []byte(b.String()), 0o600)
}

// ClientCommand returns a command that runs args in the client namespace
// with the lab's ssh_config as sshdoctor's default (SSHDOCTOR_SSH_CONFIG).
func (s *State) ClientCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.nsClient()}, args...)...)
	// SSHDOCTOR_LAB_CLIENT tells check it runs in the lab: the commands
	// it prints are the lab's (lab exec, lab check).
	cmd.Env = append(os.Environ(), "SSHDOCTOR_SSH_CONFIG="+s.ClientConfig(), "SSH_AUTH_SOCK=", "SSHDOCTOR_LAB_CLIENT=1")
	return cmd
}

// alive reports whether the VM's processes run: its unshare and, as that
// unshare's child, its init.
func (v *VMState) alive() bool {
	return v.InitPID > 0 && processIs(v.UnsharePID, "unshare") && initPID(v.UnsharePID) == v.InitPID
}

// pidExists reports a live process. A zombie counts as gone: it has
// exited and only waits for its parent (the host's PID 1, after the VM's
// unshare died) to reap it, which can take a second.
func pidExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
