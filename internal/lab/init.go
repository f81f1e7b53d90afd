package lab

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The VM's init runs as PID 1 of the VM's PID namespace, inside its mount,
// UTS and network namespaces. It plays firmware, systemd and cloud-init at
// once: mounts the VM's disks, prints a boot log on the serial console
// (its stdout, which the lab appends to console.log), generates host keys on
// first boot, and supervises sshd. Signals are its service manager API (the
// VM's /usr/sbin/service is a shim that sends them):
//
//	SIGHUP  restart sshd     SIGUSR1 stop sshd     SIGUSR2 start sshd
//	SIGTERM power off
//
// sshd restarts on its own after a crash, as systemd's Restart=on-failure
// does, but not after a failed start: a broken config stays broken.

// serviceShim replaces /usr/sbin/service inside a VM.
const serviceShim = `#!/bin/sh
# sshdoctor lab: the VM's service manager is its init (PID 1).
svc=$1; action=$2
case "$svc" in ssh|sshd|ssh.service|sshd.service) ;; *) echo "service: $svc: only ssh is managed in the lab" >&2; exit 1;; esac
running() { [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; }
case "$action" in
restart|reload|force-reload) kill -HUP 1 ;;
stop) kill -USR1 1 ;;
start) kill -USR2 1 ;;
status) if running; then echo "sshd is running (pid $(cat /run/sshd.pid))"; exit 0; else echo "sshd is not running"; exit 3; fi ;;
*) echo "usage: service ssh {start|stop|restart|reload|status}" >&2; exit 2 ;;
esac
sleep 0.3
`

// defaultSSHDConfig is Debian 12's packaged sshd_config, which every lab VM
// starts from, except UsePAM no: namespaces have no systemd-logind for
// pam_systemd, and without PAM sshd checks locked and expired accounts in
// /etc/shadow itself, as on images built without PAM.
const defaultSSHDConfig = `# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#ListenAddress 0.0.0.0
#PermitRootLogin prohibit-password
#PubkeyAuthentication yes
#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2
#PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
`

// kernelTime formats a dmesg-style timestamp.
func kernelTime(start time.Time) string {
	d := time.Since(start)
	return fmt.Sprintf("[%5d.%06d]", int(d.Seconds()), d.Microseconds()%1000000)
}

// VMInit is the body of `sshdoctor lab vm-init`; it never returns normally.
func VMInit(dir, name string) error {
	start := time.Now()
	con := func(format string, a ...any) { fmt.Printf(format+"\n", a...) }
	if os.Getpid() != 1 {
		return fmt.Errorf("vm-init must run as PID 1 of a new PID namespace (the lab starts it)")
	}
	base, err := mountVM(dir)
	if err != nil {
		con("%s VFS: Cannot open root device: %v", kernelTime(start), err)
		con("%s Kernel panic - not syncing: VFS: Unable to mount root fs", kernelTime(start))
		return err
	}
	_ = syscall.Sethostname([]byte(name))
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	con("%s Linux version %s (sshdoctor-lab) #1 SMP", kernelTime(start), charsToString(uts.Release[:]))
	con("%s Command line: BOOT_IMAGE=/boot/vmlinuz root=LABEL=cloudimg-rootfs ro console=ttyS0", kernelTime(start))
	con("%s systemd[1]: Hostname set to <%s>.", kernelTime(start), name)

	// The boot-fstab-error fault adds an fstab entry for a disk that does
	// not exist; the marker says the lab should act on it (the host's own
	// fstab is not the VM's business). Once the entry has nofail or is
	// gone, the VM boots normally, as a real one would.
	if _, err := os.Stat(filepath.Join(base, "boot-fault")); err == nil && fstabBlocksBoot() {
		emergency(start, "fstab")
	}
	if err := firstBoot(start); err != nil {
		con("%s cloud-init[210]: ERROR: %v", kernelTime(start), err)
	}
	// systemd's tmpfiles create the privilege-separation directory at boot
	// only: a later `rm -rf /run/sshd` stays broken until a reboot.
	_ = os.MkdirAll("/run/sshd", 0o755)
	_ = os.WriteFile("/run/lab-ready", nil, 0o644)
	con("%s systemd[1]: Reached target Multi-User System.", kernelTime(start))
	supervise(start)
	return nil
}

func charsToString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

// mountVM gives the VM its own view of the machine.
func mountVM(dir string) (string, error) {
	// Reach the VM's directory through a descriptor opened before any
	// mount: the lab directory may live under /tmp or /home, which the
	// VM's own mounts shadow.
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", dir, err)
	}
	base := fmt.Sprintf("/proc/self/fd/%d", fd)
	p := func(s string) string { return filepath.Join(base, s) }
	type m struct{ src, dst, fstype, data string }
	mounts := []m{
		{p("home"), "/home", "", ""},
		{p("root"), "/root", "", ""},
		{p("log"), "/var/log", "", ""},
		{p("tmpdisk"), "/mnt", "", ""},
		{p("backups"), "/var/backups", "", ""},
		{"tmpfs", "/run", "tmpfs", "mode=755,size=16m"},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777,size=64m"},
		{"proc", "/proc", "proc", ""},
	}
	// The machine's /etc, /srv, /opt and /var/lib are the VM's lower
	// layers: what a fault or a repair writes there stays on the VM's disk.
	var over []m
	for _, o := range overlays {
		if st, err := os.Stat(o.dir); err != nil || !st.IsDir() {
			continue
		}
		over = append(over, m{"overlay", o.dir, "overlay", "lowerdir=" + o.dir + ",upperdir=" + p(o.name+".upper") + ",workdir=" + p(o.name+".work")})
	}
	mounts = append(over, mounts...)
	if err := os.WriteFile(p("service"), []byte(serviceShim), 0o755); err != nil {
		return "", err
	}
	for _, mt := range mounts {
		var err error
		if mt.fstype == "" {
			err = syscall.Mount(mt.src, mt.dst, "", syscall.MS_BIND, "")
		} else {
			err = syscall.Mount(mt.src, mt.dst, mt.fstype, 0, mt.data)
		}
		if err != nil {
			return "", fmt.Errorf("mount %s on %s: %w", mt.src, mt.dst, err)
		}
	}
	// /usr is the machine's own: read-only in the VM, so no fault, repair
	// or test inside a VM can change the programs the host runs.
	if err := syscall.Mount("/usr", "/usr", "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return "", fmt.Errorf("bind /usr: %w", err)
	}
	if err := syscall.Mount("", "/usr", "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		return "", fmt.Errorf("make /usr read-only: %w", err)
	}
	// sshdoctor itself, for run-command (`lab exec VM -- sshdoctor guest …`):
	// the binary's own path may be hidden by the VM's mounts.
	if err := os.MkdirAll("/run/lab/bin", 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile("/run/lab/bin/sshdoctor", nil, 0o755); err != nil {
		return "", err
	}
	if err := syscall.Mount("/proc/self/exe", "/run/lab/bin/sshdoctor", "", syscall.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind sshdoctor into the VM: %w", err)
	}
	if _, err := os.Stat("/usr/sbin/service"); err == nil {
		if err := syscall.Mount(p("service"), "/usr/sbin/service", "", syscall.MS_BIND, ""); err != nil {
			return "", fmt.Errorf("bind service shim: %w", err)
		}
	}
	return base, nil
}

// emergency prints what a systemd boot stuck on a bad fstab entry prints,
// and never starts sshd (the fault `boot-fstab-error`).
func emergency(start time.Time, kind string) {
	con := func(format string, a ...any) { fmt.Printf(format+"\n", a...) }
	con("%s systemd[1]: dev-disk-by\\x2duuid-3f0a9c2e.device: Job dev-disk-by\\x2duuid-3f0a9c2e.device/start timed out.", kernelTime(start))
	con("%s systemd[1]: Timed out waiting for device /dev/disk/by-uuid/3f0a9c2e-0000-4000-8000-000000000001.", kernelTime(start))
	con("%s systemd[1]: Dependency failed for /datadisk.", kernelTime(start))
	con("%s systemd[1]: Dependency failed for Local File Systems.", kernelTime(start))
	con("%s systemd[1]: local-fs.target: Job local-fs.target/start failed with result 'dependency'.", kernelTime(start))
	con("%s systemd[1]: Started Emergency Shell.", kernelTime(start))
	con("%s systemd[1]: Reached target Emergency Mode.", kernelTime(start))
	con("You are in emergency mode. After logging in, type \"journalctl -xb\" to view")
	con("system logs, \"systemctl reboot\" to reboot, \"systemctl default\" or \"exit\"")
	con("to boot into default mode.")
	con("Cannot open access to console, the root account is locked. (%s)", kind)
	con("See sulogin(8) man page for more details.")
	_ = os.WriteFile("/run/lab-ready", nil, 0o644)
	// No services run in emergency mode: service requests are ignored
	// (they must not kill PID 1 either).
	signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go reapAll(nil)
	<-sigs
	os.Exit(0)
}

// firstBoot gives the VM its own host keys and a packaged sshd_config: the
// overlay's lower layer is the host's /etc, whose keys must never be used
// or exposed.
func firstBoot(start time.Time) error {
	if _, err := os.Stat("/etc/lab-provisioned"); err == nil {
		return nil
	}
	fmt.Printf("%s cloud-init[210]: Generating SSH host keys\n", kernelTime(start))
	old, _ := filepath.Glob("/etc/ssh/ssh_host_*")
	for _, f := range old {
		_ = os.Remove(f)
	}
	drop, _ := filepath.Glob("/etc/ssh/sshd_config.d/*")
	for _, f := range drop {
		_ = os.Remove(f)
	}
	if err := os.WriteFile("/etc/ssh/sshd_config", []byte(defaultSSHDConfig), 0o644); err != nil {
		return err
	}
	// The lab has no DNS server. Point the resolver at the VM's own
	// loopback so lookups (TCP wrappers look up clients) fail at once
	// instead of waiting for a server that cannot be reached.
	if err := os.WriteFile("/etc/resolv.conf", []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		return err
	}
	for _, t := range []string{"ed25519", "ecdsa"} {
		f := "/etc/ssh/ssh_host_" + t + "_key"
		if out, err := runSync("ssh-keygen", "-q", "-t", t, "-N", "", "-C", "root@lab", "-f", f); err != nil {
			return fmt.Errorf("ssh-keygen %s: %v: %s", t, err, out)
		}
	}
	return os.WriteFile("/etc/lab-provisioned", nil, 0o644)
}

// supervise runs sshd and obeys the service signals until SIGTERM.
func supervise(start time.Time) {
	con := func(format string, a ...any) {
		fmt.Printf("%s "+format+"\n", append([]any{kernelTime(start)}, a...)...)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM)
	exited := make(chan int, 64)
	go reapAll(exited)

	sshd := 0
	wanted := true
	crashes := 0
	startSSHD := func() {
		if sshd != 0 {
			return
		}
		if out, err := runSync("/usr/sbin/sshd", "-t"); err != nil {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				con("sshd[%d]: %s", os.Getpid()+1, l)
			}
			con("systemd[1]: ssh.service: Control process exited, code=exited, status=255/EXCEPTION")
			con("systemd[1]: Failed to start ssh.service - OpenBSD Secure Shell server.")
			return
		}
		p, err := os.StartProcess("/usr/sbin/sshd", []string{"/usr/sbin/sshd", "-D", "-e"}, &os.ProcAttr{
			Files: []*os.File{nil, os.Stdout, os.Stdout},
			Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"},
		})
		if err != nil {
			con("systemd[1]: Failed to start ssh.service - OpenBSD Secure Shell server: %v", err)
			return
		}
		sshd = p.Pid
		con("systemd[1]: Started ssh.service - OpenBSD Secure Shell server.")
	}
	stopSSHD := func() {
		if sshd == 0 {
			return
		}
		pid := sshd
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.After(3 * time.Second)
		for sshd != 0 {
			select {
			case p := <-exited:
				if p == pid {
					sshd = 0
				}
			case <-deadline:
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		con("systemd[1]: Stopped ssh.service - OpenBSD Secure Shell server.")
	}
	startSSHD()
	for {
		select {
		case p := <-exited:
			if p != sshd || sshd == 0 {
				continue
			}
			sshd = 0
			con("systemd[1]: ssh.service: Main process exited, code=exited, status=255/EXCEPTION")
			if wanted && crashes < 5 {
				crashes++
				time.Sleep(100 * time.Millisecond)
				startSSHD()
			}
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				wanted, crashes = true, 0
				stopSSHD()
				startSSHD()
			case syscall.SIGUSR1:
				wanted = false
				stopSSHD()
			case syscall.SIGUSR2:
				wanted, crashes = true, 0
				startSSHD()
			case syscall.SIGTERM:
				wanted = false
				stopSSHD()
				con("systemd[1]: Reached target Power-Off.")
				os.Exit(0)
			}
		}
	}
}

// reapMu keeps the reaper away while a command started with exec.Cmd is
// waited for: PID 1 must reap orphans, but must not steal exec's child.
var reapMu sync.Mutex

// runSync runs a short command whose exit status init needs.
func runSync(name string, args ...string) ([]byte, error) {
	reapMu.Lock()
	defer reapMu.Unlock()
	return exec.Command(name, args...).CombinedOutput()
}

// reapAll reaps every child of PID 1 (orphans included) and reports their
// PIDs on exited, when given. It polls so runSync can hold it off.
func reapAll(exited chan<- int) {
	for {
		reapMu.Lock()
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			if exited != nil {
				exited <- pid
			}
		}
		reapMu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// missingDiskUUID is the disk the boot-fstab-error fault puts in fstab.
const missingDiskUUID = "3f0a9c2e-0000-4000-8000-000000000001"

func fstabBlocksBoot() bool {
	data, err := os.ReadFile("/etc/fstab")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "UUID="+missingDiskUUID && !strings.Contains(","+f[3]+",", ",nofail,") {
			return true
		}
	}
	return false
}
