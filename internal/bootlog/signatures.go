package bootlog

// The signature catalogue: every console message the analyzer knows, as
// data. Each signature has literal anchors (case-sensitive substrings that
// feed one Aho-Corasick automaton, so a line is scanned once whatever the
// number of signatures), an optional RE2 expression that confirms the match
// on the cleaned line (ANSI escapes and control characters removed), and
// what a confirmed match means: a finding ID, a change of boot state (mark),
// or both.
//
// Order matters twice: markers come first, so a boot boundary is applied
// before the findings of the same line; and within a finding ID the earliest
// signature that matched in the boot provides the summary, so the more
// specific variants come first. docs/bootlog.md lists the table (generated
// by `go test ./internal/bootlog -run TestDocs -update`).

// mark is a change of boot state a line causes.
type mark uint8

const (
	markNone       mark = iota
	markKernel          // kernel banner: a boot starts
	markCmdline         // kernel command line (follows the banner)
	markLoader          // firmware or boot loader output: a boot starts
	markShutdown        // the boot ends (power-off, reboot, halt)
	markInitrd          // running in the initramfs (dracut, systemd in initrd)
	markSwitchRoot      // left the initramfs for the real root
	markMultiUser       // multi-user/graphical target or runlevel 2-5
	markLogin           // a getty login prompt
	markUnit            // a service status line: the console shows service status
	markSSHDUp          // the sshd service (or its socket) started
	markSSHDListen      // sshd itself: Server listening on …
	markSSHDDown        // sshd stopped, exited or was killed
	markSSHDFail        // sshd failed to start
	markRelabel         // SELinux relabel running
	markUdev            // the device manager (udev) shows in the boot
)

var markNames = [...]string{"", "boot start (kernel)", "boot start (kernel command line)", "boot start (firmware/boot loader)",
	"shutdown", "initramfs", "switch root", "multi-user reached", "login prompt", "service status line",
	"sshd started", "sshd listening", "sshd stopped", "sshd failed", "SELinux relabel", "device manager seen"}

// context restricts a signature to where the boot is.
type context uint8

const (
	ctxAny    context = iota
	ctxInitrd         // only while in the initramfs
	ctxRoot           // only outside the initramfs
)

type signature struct {
	ID      string // finding ID ("" = marker only)
	Name    string // variant, unique within ID (stable: shown in JSON)
	Anchors []string
	Match   string // RE2 the cleaned line must match; "" = any anchor suffices
	Not     string // RE2 that vetoes the match
	Mark    mark
	Ctx     context
	// Hard: an error even when the boot got past it. By default a finding
	// the boot got past (it still reached multi-user or a login prompt
	// afterwards; for the boot loader, the kernel; for the initramfs, the
	// switch to the real root) did not stop it, and is reported as a warning.
	Hard bool
	// Fallback: only when no other finding matched the line.
	Fallback bool
	Summary  string // ${1}… expand Match's groups
	Remedy   string // "" = the catalogue's
	Example  string // a real line; the tests check it matches this signature
}

// ts matches, at the start of a line, an optional ISO-8601 time stamp (as
// some log collectors add), syslog priority and kernel time stamp.
const ts = `^(?:\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?\s+)?(?:<\d+>)?(?:\[\s*\d+\.\d+\]\s*)?`

const (
	idGrub         = "boot.grub_rescue"
	idPanic        = "boot.kernel_panic"
	idInit         = "boot.init_failed"
	idInitramfs    = "boot.initramfs"
	idSELinux      = "boot.selinux"
	idFS           = "boot.fs_corruption"
	idDiskIO       = "boot.disk_io"
	idFstab        = "boot.fstab"
	idEmergency    = "boot.emergency_mode"
	idDiskFull     = "boot.disk_full"
	idBug          = "boot.kernel_bug"
	idHung         = "boot.hung_task"
	idOOM          = "boot.oom"
	idNetwork      = "boot.network"
	idCloudInit    = "boot.cloud_init"
	idMetadata     = "boot.metadata_unreachable"
	idAgent        = "boot.agent_failed"
	idDeviceMgr    = "boot.device_manager_failed"
	idSSHDFailed   = "boot.sshd_failed"
	idSSHDStopped  = "boot.sshd_stopped"
	idSSHDNotStart = "boot.sshd_not_started"
	idUnitFailed   = "boot.unit_failed"
	idShutdown     = "boot.shutdown"
	idIncomplete   = "boot.incomplete"
	idOK           = "boot.ok"
)

// order ranks the IDs from most to least fundamental: the root cause is the
// first error in this order (the first warning when there is no error).
var order = []string{
	idGrub, idPanic, idInitramfs, idSELinux, idInit, idDeviceMgr, idFS, idDiskIO, idFstab, idEmergency, idDiskFull,
	idBug, idHung, idOOM, idNetwork, idMetadata, idSSHDFailed, idSSHDStopped, idSSHDNotStart, idAgent, idCloudInit,
	idShutdown, idIncomplete, idUnitFailed, idOK,
}

// effects says what each finding does to SSH.
var effects = map[string]string{
	idGrub:         "Linux never starts: nothing answers on the network, clients time out.",
	idPanic:        "The kernel stopped: nothing answers on the network, clients time out (the VM may reboot in a loop with panic=N).",
	idInit:         "No services start: no network configuration, no sshd; clients time out.",
	idInitramfs:    "The real root file system is never mounted: no services, no sshd; clients time out.",
	idSELinux:      "The boot stops (policy not loaded) or never finishes (relabel loop): sshd never starts.",
	idFS:           "Mounts fail or turn read-only; the boot may stop in emergency mode before sshd starts.",
	idDiskIO:       "Reads and writes fail: the boot may stall or stop before sshd starts, or sshd may hang.",
	idFstab:        "local-fs.target fails, systemd enters emergency mode and never starts sshd: clients get connection refused or time out.",
	idEmergency:    "Only a root shell on the console is offered; the network and sshd are not started.",
	idDiskFull:     "Services that write at start (sshd's /run/sshd, journald, auditd) fail; auditd may halt the VM.",
	idBug:          "Depends on the driver: the guest may keep running, hang later, or panic.",
	idHung:         "The guest stalls: connections hang or time out while the lockup lasts.",
	idOOM:          "Processes are killed; if sshd or the network agent is killed, SSH stops.",
	idNetwork:      "The guest has no address or route: sshd may run, but clients time out.",
	idCloudInit:    "The VM may lack its user, SSH keys or network settings: authentication can fail even though sshd runs.",
	idMetadata:     "The user, its SSH keys (and perhaps the host keys) were never installed: sshd runs, but logins are refused.",
	idAgent:        "What the agent installs (users, keys) is missing, and run-command, VMAccess and key resets cannot reach the guest.",
	idDeviceMgr:    "No devices appear: mounts time out, the network does not come up, sshd may never start.",
	idSSHDFailed:   "Nothing listens on port 22: clients get connection refused.",
	idSSHDStopped:  "Nothing listens on port 22 any more: clients get connection refused.",
	idSSHDNotStart: "Nothing listens on port 22: clients get connection refused.",
	idUnitFailed:   "None for SSH unless the unit is one sshd or the network needs.",
	idShutdown:     "The VM is off or rebooting: clients time out until it is started.",
	idIncomplete:   "Unknown: the boot had not (visibly) finished when the log was taken.",
	idOK:           "None: the guest is up; an SSH failure lies in the network path or in sshd's configuration.",
}

const (
	rescueVM   = "Attach the OS disk to a rescue VM (`az vm repair create -g RG -n VM`), chroot into it, "
	sshdRemedy = " then `systemctl restart ssh` (sshd on RHEL/SUSE) via `az vm run-command` or the serial console."
)

var signatures = []signature{
	// ---- boot boundaries and state -------------------------------------
	{Name: "kernel_banner", Mark: markKernel, Anchors: []string{"Linux version "},
		Match:   `Linux version \d+\.\d+\S*\s+\(`,
		Example: "[    0.000000] Linux version 5.15.0-1051-azure (buildd@lcy02-amd64-033) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #59-Ubuntu SMP Thu Oct 5 17:04:47 UTC 2023"},
	{Name: "kernel_cmdline", Mark: markCmdline, Anchors: []string{"Command line: "},
		Match:   ts + `Command line: `,
		Example: "[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-1051-azure root=PARTUUID=9f5a2e3c-01 ro console=tty1 console=ttyS0 earlyprintk=ttyS0"},
	{Name: "grub_menu", Mark: markLoader, Anchors: []string{"GNU GRUB  version", "GNU GRUB version", "Welcome to GRUB!"},
		Example: "                             GNU GRUB  version 2.06"},
	{Name: "firmware", Mark: markLoader, Anchors: []string{"SeaBIOS (version ", "Booting from Hard Disk", "Booting from ROM", "Booting from DVD", "BdsDxe: loading Boot", "BdsDxe: starting Boot"},
		Example: "SeaBIOS (version 1.16.2-debian-1.16.2-1)"},
	{Name: "grub_loading", Mark: markLoader, Anchors: []string{"Loading Linux ", "Loading initial ramdisk"},
		Match:   `^\s*Loading (?:Linux \S+|initial ramdisk) \.\.\.`,
		Example: "Loading Linux 4.18.0-477.10.1.el8_8.x86_64 ..."},
	{Name: "grub_entry", Mark: markLoader, Anchors: []string{"Booting `", "Booting '"},
		Match:   "^\\s*Booting [`'].*'\\s*$",
		Example: "  Booting `Ubuntu'"},
	{Name: "kernel_reboot", Mark: markShutdown, Anchors: []string{"Restarting system", "Power down", "System halted"},
		Match:   `reboot: (?:Restarting system|Power down|System halted)`,
		Example: "[ 1234.567890] reboot: Restarting system"},
	{Name: "shutdown_target", Mark: markShutdown, Anchors: []string{"Reached target Power-Off", "Reached target System Power Off", "Reached target System Reboot", "Reached target Reboot", "Reached target System Halt", "Reached target Halt", "Reached target Shutdown", "Reached target System Shutdown", "Reached target poweroff.target", "Reached target reboot.target", "Reached target halt.target", "Reached target shutdown.target"},
		Example: "[  OK  ] Reached target Power-Off."},
	{Name: "sysv_shutdown", Mark: markShutdown, Anchors: []string{"Will now restart", "Will now halt", "Will now power off", "d-shutdown["},
		Example: "[  101.000000] systemd-shutdown[1]: Syncing filesystems and block devices."},
	{Name: "initrd", Mark: markInitrd, Anchors: []string{"(Initramfs)!", "Running in initial RAM disk", "Running in initrd", "Reached target Initrd", "Reached target initrd", "dracut-cmdline[", "dracut-pre-udev[", "dracut-pre-trigger[", "dracut-initqueue[", "dracut-pre-mount[", "dracut: dracut-", "Starting dracut", "Started dracut"},
		Example: "Welcome to \x1b[0;31mRed Hat Enterprise Linux 8.8 (Ootpa) dracut-049-223.git20230119.el8 (Initramfs)\x1b[0m!"},
	{Name: "switch_root", Mark: markSwitchRoot, Anchors: []string{"Switching root", "Reached target Switch Root", "Reached target initrd-switch-root"},
		Example: "[    4.123456] systemd[1]: Switching root."},
	{Name: "multi_user", Mark: markMultiUser, Anchors: []string{"Reached target Multi-User System", "Reached target multi-user.target", "Reached target Graphical Interface", "Reached target graphical.target"},
		Example: "[  OK  ] Reached target \x1b[0;1;39mMulti-User System\x1b[0m."},
	{Name: "sysv_runlevel", Mark: markMultiUser, Anchors: []string{"Entering runlevel: "},
		Match:   `Entering runlevel: ?[2345]`,
		Example: "INIT: Entering runlevel: 2"},
	{Name: "login_prompt", Mark: markLogin, Anchors: []string{"gin:"},
		Match:   ts + `\s*[A-Za-z0-9][\w.-]* login:(?:\s|$)`,
		Not:     `^(?:\[[\s\d.]+\]\s*)?\s*Last login:`,
		Example: "web1 login: "},
	{Name: "service_status", Mark: markUnit, Anchors: []string{"Started ", "Starting ", "OK  ]"},
		Example: "[  OK  ] Started \x1b[0;1;39mJournal Service\x1b[0m."},
	{Name: "sshd_started", Mark: markSSHDUp, Anchors: []string{"Started ssh.service", "Started sshd.service", "Started OpenBSD Secure Shell server", "Started OpenSSH server daemon", "Started OpenSSH Daemon", "Started OpenSSH Server", "Listening on ssh.socket", "Listening on sshd.socket", "Listening on OpenBSD Secure Shell server socket", "Listening on OpenSSH Server Socket", "ssh start/running"},
		Example: "[  OK  ] Started \x1b[0;1;39mssh.service\x1b[0m - OpenBSD Secure Shell server."},
	{Name: "sysv_sshd_started", Mark: markSSHDUp, Anchors: []string{"Starting OpenBSD Secure Shell server:", "Starting sshd"},
		Match:   `Starting (?:OpenBSD Secure Shell server: sshd\.?\s*$|sshd:\s*\[\s*OK\s*\]|sshd\s*\.\.\.\s*\[\s*ok\s*\])`,
		Example: "Starting sshd: \x1b[60G[\x1b[0;32m  OK  \x1b[0;39m]"},
	{Name: "sshd_listening", Mark: markSSHDListen, Anchors: []string{"Server listening on "},
		Match:   `Server listening on \S+ port \d+`,
		Example: "Server listening on 0.0.0.0 port 22."},
	{Name: "sshd_down", Mark: markSSHDDown, Anchors: []string{"Stopped ssh.service", "Stopped sshd.service", "Stopped OpenBSD Secure Shell server", "Stopped OpenSSH server daemon", "Stopped OpenSSH Daemon", "ssh.service: Main process exited", "sshd.service: Main process exited"},
		Example: "[  512.000000] systemd[1]: Stopped ssh.service - OpenBSD Secure Shell server."},
	{Name: "sshd_oom_killed", Mark: markSSHDDown, Anchors: []string{"(sshd)"},
		Match:   `Killed process \d+ \(sshd\)`,
		Example: "[ 8812.000000] Out of memory: Killed process 812 (sshd) total-vm:15012kB, anon-rss:1200kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:64kB oom_score_adj:-1000"},
	{Name: "selinux_relabel", Mark: markRelabel, Anchors: []string{"policy relabel is required", "Relabeling could take", "Relabel all filesystems"},
		Example: "[   10.000000] selinux-autorelabel[812]: *** Warning -- SELinux targeted policy relabel is required."},

	// ---- boot loader ----------------------------------------------------
	{ID: idGrub, Name: "rescue_prompt", Mark: markLoader, Anchors: []string{"grub rescue>", "Entering rescue mode..."},
		Summary: "GRUB stopped at the grub rescue> prompt: it cannot find its modules or the partition that holds /boot/grub.",
		Remedy:  rescueVM + "then `grub-install /dev/sdX && update-grub` (Debian/Ubuntu) or `grub2-install /dev/sdX && grub2-mkconfig -o /boot/grub2/grub.cfg` (RHEL/SUSE).",
		Example: "grub rescue> "},
	{ID: idGrub, Name: "grub_shell", Mark: markLoader, Anchors: []string{"Minimal BASH-like line editing is supported"},
		Summary: "GRUB stopped at its grub> shell: it found no usable grub.cfg.",
		Remedy:  rescueVM + "then regenerate grub.cfg (`update-grub` or `grub2-mkconfig -o /boot/grub2/grub.cfg`).",
		Example: "    Minimal BASH-like line editing is supported. For the first word, TAB lists possible command completions."},
	{ID: idGrub, Name: "no_kernel", Anchors: []string{"rror: you need to load the kernel first"},
		Summary: "GRUB could not load the kernel (you need to load the kernel first).",
		Remedy:  rescueVM + "reinstall the kernel package and regenerate grub.cfg; or pick another kernel in the GRUB menu on the serial console.",
		Example: "error: you need to load the kernel first."},
	{ID: idGrub, Name: "file_not_found", Anchors: []string{"rror: file "},
		Match: "error: file [`'\"]?(/[^`'\"]+)[`'\"]? not found", Not: `initr`,
		Summary: "GRUB could not find ${1}.",
		Remedy:  rescueVM + "reinstall the package that owns the file (kernel or grub), then regenerate grub.cfg.",
		Example: "error: file `/boot/vmlinuz-5.15.0-1051-azure' not found."},
	{ID: idGrub, Name: "no_partition", Anchors: []string{"rror: no such partition", "rror: unknown filesystem", "rror: attempt to read or write outside of disk", "rror: no such device"},
		Match:   `error: (no such partition|unknown filesystem|attempt to read or write outside of disk|no such device:?\s*\S*)`,
		Summary: "GRUB error: ${1} (its partition or disk layout changed).",
		Example: "error: no such partition."},
	{ID: idGrub, Name: "symbol_not_found", Anchors: []string{"rror: symbol "},
		Match:   "error: symbol [`']?([^`' ]+)['`]? not found",
		Summary: "GRUB's core image and its modules do not match (symbol ${1} not found): a half-finished GRUB update.",
		Remedy:  rescueVM + "then reinstall GRUB to the disk the firmware boots (`grub-install /dev/sdX`).",
		Example: "error: symbol `grub_calloc' not found."},

	// ---- kernel panic ---------------------------------------------------
	{ID: idPanic, Name: "no_root_driver", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: VFS: Unable to mount root fs on unknown-block\(0,\s*0\)`, Not: `---\[ end `,
		Summary: "Kernel panic: no root file system (unknown-block(0,0)): the initramfs is missing, was not loaded, or lacks the disk driver.",
		Remedy:  rescueVM + "rebuild the initramfs for the kernel GRUB boots (`update-initramfs -u -k all`, or `dracut -f --regenerate-all`), check /boot/initrd.img-* (initramfs-*.img) exists and grub.cfg has an initrd line; meanwhile pick the previous kernel in the GRUB menu.",
		Example: "[    2.345678] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"},
	{ID: idPanic, Name: "root_mount", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: VFS: Unable to mount root fs(?: on (\S+))?`, Not: `---\[ end `,
		Summary: "Kernel panic: cannot mount the root file system ${1} (wrong root= device, or a damaged file system).",
		Remedy:  "Check root= on the kernel command line (serial console: edit the GRUB entry) and " + lower(rescueVM) + "repair the root file system (fsck/xfs_repair).",
		Example: "[    3.000000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(8,1)"},
	{ID: idPanic, Name: "kill_init", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: Attempted to kill init!?(?:\s*exitcode=(0x[0-9a-fA-F]+))?`, Not: `---\[ end `,
		Summary: "Kernel panic: init (PID 1) died — systemd, /sbin/init or a library it needs is missing or broken, or the initramfs's init failed.",
		Remedy:  "Read the lines just above the panic. " + rescueVM + "check /sbin/init, reinstall systemd and glibc, fsck the root; if SELinux is named, boot once with selinux=0.",
		Example: "[    5.123456] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100"},
	{ID: idPanic, Name: "no_init", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: No working init found`, Not: `---\[ end `,
		Summary: "Kernel panic: the root file system has no working init.",
		Remedy:  rescueVM + "check /sbin/init (a symlink to systemd) and reinstall systemd.",
		Example: "[    4.000000] Kernel panic - not syncing: No working init found.  Try passing init= option to kernel. See Linux Documentation/admin-guide/init.rst for guidance."},
	{ID: idPanic, Name: "out_of_memory", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: (Out of memory.*|System is deadlocked on memory)`, Not: `---\[ end `,
		Summary: "Kernel panic: ${1}.",
		Remedy:  "Resize the VM to more memory, or find what fills it (a service or tmpfs); panic_on_oom may be set in sysctl.",
		Example: "[  812.000000] Kernel panic - not syncing: Out of memory and no killable processes..."},
	{ID: idPanic, Name: "lockup", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: (softlockup: hung tasks|hung_task: blocked tasks|Hard LOCKUP|Watchdog detected hard LOCKUP.*|RCU Stall)`, Not: `---\[ end `,
		Summary: "Kernel panic on a lockup: ${1}.",
		Remedy:  "Restart the VM; if it recurs, redeploy it (`az vm redeploy`) and check disk throttling and the VM size.",
		Example: "[ 1200.000000] Kernel panic - not syncing: softlockup: hung tasks"},
	{ID: idPanic, Name: "fs_error", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: (.*(?:EXT[234]-fs|XFS|BTRFS|panic forced after error).*)`, Not: `---\[ end `,
		Summary: "Kernel panic on a file-system error: ${1}.",
		Remedy:  rescueVM + "repair the file system (`fsck -y`, `xfs_repair`) before booting again (mount option errors=panic turns fs errors into panics).",
		Example: "[   30.000000] Kernel panic - not syncing: EXT4-fs (device sda1): panic forced after error"},
	{ID: idPanic, Name: "sysrq", Anchors: []string{"Kernel panic - not syncing"},
		Match: `not syncing: (sysrq triggered crash|NMI: Not continuing)`, Not: `---\[ end `,
		Summary: "Kernel panic triggered on purpose (${1}), e.g. an NMI or SysRq-c from the serial console for a crash dump.",
		Remedy:  "Restart the VM; collect the kdump if one was configured.",
		Example: "[  300.000000] Kernel panic - not syncing: sysrq triggered crash"},
	{ID: idPanic, Name: "other", Anchors: []string{"Kernel panic - not syncing"},
		Match: `Kernel panic - not syncing:?\s*(.*)`, Not: `---\[ end `,
		Summary: "Kernel panic: ${1}",
		Example: "[   20.000000] Kernel panic - not syncing: Fatal exception"},

	// ---- init ---------------------------------------------------------
	{ID: idInit, Name: "systemd_crash", Anchors: []string{"Caught <"},
		Match:   `systemd\[1\]: Caught <(\w+)>`,
		Summary: "systemd (PID 1) crashed (${1}): the boot stopped.",
		Example: "[    3.400000] systemd[1]: Caught <SEGV>, dumped core as pid 123."},
	{ID: idInit, Name: "systemd_freeze", Anchors: []string{"Freezing execution", "Freezing."},
		Match:   `systemd\[1\]: .*Freezing`,
		Summary: "systemd (PID 1) froze execution: the boot stopped.",
		Example: "[    3.400000] systemd[1]: Freezing execution."},
	{ID: idInit, Name: "exec_failed", Anchors: []string{"Failed to execute /", "Requested init "},
		Match:   `(?:Failed to execute (/\S+)|Requested init (\S+) failed)`,
		Summary: "The kernel could not execute init ${1}${2}.",
		Remedy:  rescueVM + "check that the file exists and its libraries are intact (reinstall systemd), or fix init= on the kernel command line.",
		Example: "[    2.900000] Requested init /sbin/init failed (error -2)."},

	// ---- initramfs ----------------------------------------------------
	{ID: idInitramfs, Name: "grub_initrd_missing", Anchors: []string{"rror: file "},
		Match:   "error: file [`'\"]?(/[^`'\"]*initr[^`'\"]*)[`'\"]? not found",
		Summary: "GRUB could not find the initramfs image ${1}: the kernel boots without one and cannot mount the root.",
		Remedy:  rescueVM + "rebuild it (`update-initramfs -c -k VERSION`, or `dracut -f /boot/initramfs-VERSION.img VERSION`) and regenerate grub.cfg.",
		Example: "error: file `/boot/initrd.img-5.15.0-1051-azure' not found."},
	{ID: idInitramfs, Name: "unpack_failed", Anchors: []string{"Initramfs unpacking failed", "rdinit="},
		Match:   `Initramfs unpacking failed|check access for rdinit=\S* failed`,
		Summary: "The kernel could not use the initramfs image (truncated, corrupt or missing).",
		Remedy:  rescueVM + "rebuild the initramfs (`update-initramfs -u -k all`, or `dracut -f --regenerate-all`); check /boot is not full.",
		Example: "[    1.200000] Initramfs unpacking failed: junk in compressed archive"},
	{ID: idInitramfs, Name: "root_device_timeout", Ctx: ctxInitrd, Anchors: []string{"Timed out waiting for device"},
		Match:   `Timed out waiting for device (?:\S+\.device - )?(.+?)\.?\s*$`,
		Summary: "The initramfs timed out waiting for the root device ${1}.",
		Remedy:  "Check root= (and rd.lvm.lv=) on the kernel command line against the disk's UUID/LVM names, and that the initramfs has the disk driver (rebuild it on a rescue VM).",
		Example: "[ TIME ] Timed out waiting for device \x1b[0;1;39mdev-mapper-rhel\\x2droot.device\x1b[0m."},
	{ID: idInitramfs, Name: "root_fs_failed", Anchors: []string{"for Initrd Root File System", "for /sysroot", "waiting for device dev-mapper-dmroot"},
		Match:   `(?:[Ff]ailed|led) for (?:Initrd Root File System|/sysroot)|waiting for device dev-mapper-dmroot`,
		Summary: "The initramfs could not mount the root file system (/sysroot): the root device did not appear or failed to mount.",
		Remedy:  "Check root=, rd.lvm.lv= and rd.luks on the kernel command line against the disk (rescue VM: `blkid`), and that the initramfs has the disk driver (`dracut -f --regenerate-all`).",
		Example: "[DEPEND] Dependency failed for Initrd Root File System."},
	{ID: idInitramfs, Name: "dracut_timeout", Anchors: []string{"dracut-initqueue timeout", "Could not boot."},
		Match:   `dracut-initqueue timeout|dracut.*Could not boot`,
		Summary: "dracut timed out waiting for the root device and could not boot.",
		Remedy:  "Check root=, rd.lvm.lv= and rd.luks on the kernel command line; rebuild the initramfs on a rescue VM (`dracut -f --regenerate-all`) so it has the disk driver (hv_storvsc, nvme).",
		Example: "[  190.123456] dracut-initqueue[437]: Warning: dracut-initqueue timeout - starting timeout scripts"},
	{ID: idInitramfs, Name: "device_missing", Anchors: []string{"Warning: /dev/", "ALERT!", "Warning: UUID=", "Warning: LABEL="},
		Match:   `(?:Warning|ALERT!?):?\s+(\S+) does not exist`,
		Summary: "The initramfs says the device ${1} does not exist.",
		Remedy:  "Fix root= (or resume=, rd.lvm.lv=) on the kernel command line to name a device that exists (`blkid` on a rescue VM), then regenerate grub.cfg.",
		Example: "ALERT!  UUID=7c8a3e2f-5b1d-4c3e-9a7f-2d6e8b4c1a90 does not exist.  Dropping to a shell!"},
	{ID: idInitramfs, Name: "gave_up_root", Anchors: []string{"Gave up waiting for root"},
		Summary: "The initramfs gave up waiting for the root device.",
		Remedy:  "Check root= on the kernel command line against `blkid` (rescue VM), and that the initramfs has the disk driver (`update-initramfs -u -k all`).",
		Example: "Gave up waiting for root file system device.  Common problems:"},
	{ID: idInitramfs, Name: "gave_up_resume", Anchors: []string{"Gave up waiting for suspend/resume device"},
		Summary: "The initramfs waited for a resume (swap) device that no longer exists.",
		Remedy:  "Remove the stale RESUME= setting (/etc/initramfs-tools/conf.d/resume) and run `update-initramfs -u`.",
		Example: "Gave up waiting for suspend/resume device"},
	{ID: idInitramfs, Name: "mount_root_failed", Anchors: []string{"/root failed", "No init found", "doesn't have requested /sbin/init", "dracut: FATAL: "},
		Match:   `(mounting \S+ on /root failed.*|No init found.*|Target filesystem doesn't have requested \S+|dracut: FATAL: .*)`,
		Summary: "The initramfs could not switch to the root file system: ${1}",
		Example: "mount: mounting /dev/sda1 on /root failed: No such device"},
	{ID: idInitramfs, Name: "initramfs_shell", Anchors: []string{"(initramfs)", "built-in shell (ash)", "dracut:/#", "rdsosreport.txt"},
		Summary: "The boot stopped at the initramfs's emergency shell.",
		Example: "(initramfs) "},
	{ID: idInitramfs, Name: "dracut_emergency", Ctx: ctxInitrd, Anchors: []string{"Entering emergency mode", "Started Emergency Shell", "Reached target Emergency Mode", "Started emergency.service", "Reached target emergency.target"},
		Summary: "The boot stopped in dracut's emergency shell, inside the initramfs.",
		Example: "Entering emergency mode. Exit the shell to continue."},

	// ---- SELinux --------------------------------------------------------
	{ID: idSELinux, Name: "policy_load_failed", Anchors: []string{"Failed to load SELinux policy", "Could not load policy", "Could not open policy file", "SELinux: policy load failed"},
		Summary: "The SELinux policy could not be loaded and systemd stopped the boot.",
		Remedy:  "Boot once with `selinux=0` (edit the GRUB entry on the serial console), reinstall selinux-policy-targeted, `touch /.autorelabel`, reboot.",
		Example: "[    1.700000] systemd[1]: Failed to load SELinux policy. Freezing."},

	// ---- file systems ---------------------------------------------------
	{ID: idFS, Name: "ext4_error", Anchors: []string{"-fs error (device "},
		Match:   `(EXT[234])-fs error \(device ([^)]+)\)`,
		Summary: "${1} file-system errors on ${2}.",
		Remedy:  rescueVM + "run `fsck -y /dev/…` on the unmounted device.",
		Example: "[   12.345678] EXT4-fs error (device sda1): ext4_lookup:1855: inode #2: comm systemd: deleted inode referenced: 1234"},
	{ID: idFS, Name: "cant_find_fs", Anchors: []string{"Can't find ext"},
		Match:   `(?:\(([^)]+)\): )?VFS: Can't find (ext[234]) filesystem`,
		Summary: "No ${2} file system on ${1}: its superblock is damaged, or /etc/fstab names the wrong device or type.",
		Remedy:  "Check the fstab line (`blkid` shows the real type); if the type is right, repair with `e2fsck -b 32768 /dev/…` from a rescue VM.",
		Example: "[    9.000000] EXT4-fs (sdc1): VFS: Can't find ext4 filesystem"},
	{ID: idFS, Name: "xfs_corruption", Anchors: []string{"Metadata corruption detected", "Metadata CRC error", "Corruption of in-memory data", "Unmount and run xfs_repair", "Corruption warning: Metadata", "Please umount the filesystem and rectify", "XFS_WANT_CORRUPTED", "xfs_do_force_shutdown"},
		Match:   `XFS \(([^)]+)\)`,
		Summary: "XFS metadata corruption on ${1}.",
		Remedy:  rescueVM + "run `xfs_repair /dev/…` on the unmounted device (`xfs_repair -L` only if told the log cannot be replayed).",
		Example: "[   15.000000] XFS (sda2): Metadata CRC error detected at xfs_agi_read_verify+0xd0/0x100 [xfs], xfs_agi block 0x2 "},
	{ID: idFS, Name: "btrfs_error", Anchors: []string{"BTRFS error (device ", "BTRFS: error (device ", "BTRFS critical (device ", "parent transid verify failed", "_ctree failed", "BTRFS: Transaction aborted"},
		Match:   `BTRFS(?::| error| critical| warning| info)?.*?(?:\(device ([^)]+)\)|open_ctree failed|Transaction aborted)`,
		Summary: "Btrfs errors on ${1}.",
		Remedy:  rescueVM + "run `btrfs check --readonly /dev/…`, then `btrfs rescue` or restore from a snapshot; avoid `--repair` without a backup.",
		Example: "[   11.000000] BTRFS error (device sda2): parent transid verify failed on 30408704 wanted 1234 found 1230"},
	{ID: idFS, Name: "fsck_failed", Anchors: []string{"UNEXPECTED INCONSISTENCY", "sck failed with", "Failed to start File System Check", "An error occurred during the file system check", "manual fsck", "Bad magic number in super-block", "bad superblock on"},
		Summary: "The file-system check failed and needs a manual fsck.",
		Remedy:  rescueVM + "run `fsck -y` on the device the evidence names (or `xfs_repair` for XFS).",
		Example: "[   10.000000] systemd-fsck[512]: /dev/sda1: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."},
	{ID: idFS, Name: "errors_found", Anchors: []string{"contains a file system with errors", "e2fsck is recommended", "need of filesystem check"},
		Summary: "A file system has errors (fsck was needed).",
		Example: "[    8.000000] systemd-fsck[401]: /dev/sda1 contains a file system with errors, check forced."},
	{ID: idFS, Name: "read_only", Anchors: []string{"Remounting filesystem read-only", "forced readonly", "Filesystem has been shut down"},
		Summary: "A file system was switched to read-only (or shut down) after errors.",
		Example: "[  300.000000] EXT4-fs (sda1): Remounting filesystem read-only"},

	// ---- disks ----------------------------------------------------------
	{ID: idDiskIO, Name: "io_error", Anchors: []string{"I/O error, dev ", "Buffer I/O error on dev", "_request: I/O error"},
		Match:   `I/O error,? (?:on )?dev(?:ice)? (\S+?),`,
		Not:     `dev(?:ice)? (?:sr|fd|loop|nbd)\d`,
		Summary: "The disk ${1} returns I/O errors.",
		Example: "[   40.000000] blk_update_request: I/O error, dev sda, sector 2048 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0"},
	{ID: idDiskIO, Name: "medium_error", Anchors: []string{"critical medium error", "Medium Error", "I/O to offline device"},
		Summary: "The disk reports medium errors or went offline.",
		Example: "[   41.000000] sd 0:0:0:0: rejecting I/O to offline device"},

	// ---- fstab and mounts ------------------------------------------------
	{ID: idUnitFailed, Name: "console_device_timeout", Anchors: []string{"Timed out waiting for device"},
		Match:   `Timed out waiting for device (?:\S+\.device - )?(\S*(?:tty|hvc|console)\S*?)\.?\s*$`,
		Summary: "systemd timed out waiting for console device ${1}: a login prompt on that console does not start (not a disk, not /etc/fstab; SSH is not affected).",
		Remedy:  "Nothing to do for SSH; if you need that console, check the VM's serial console settings (console= on the kernel command line).",
		Example: "[  OK  ] Timed out waiting for device dev-ttyS0.device."},
	{ID: idFstab, Name: "device_timeout", Ctx: ctxRoot, Anchors: []string{"Timed out waiting for device"},
		Match:   `Timed out waiting for device (?:\S+\.device - )?(.+?)\.?\s*$`,
		Not:     `Timed out waiting for device (?:\S+\.device - )?\S*(?:tty|hvc|console)`,
		Summary: "systemd timed out waiting for device ${1}: an /etc/fstab entry names a disk that is not attached, or has another UUID or LABEL.",
		Remedy:  "Fix the entry's UUID/LABEL, remove it, or add `nofail,x-systemd.device-timeout=10s` to its options — from the serial console, `az vm run-command`, or a rescue VM (`az vm repair create`) — then reboot.",
		Example: "[   91.000000] systemd[1]: Timed out waiting for device /dev/disk/by-uuid/3f0a9c2e-0000-4000-8000-000000000001."},
	{ID: idFstab, Name: "job_timeout", Anchors: []string{"/start timed out"},
		Match:   `(\S+\.(?:device|mount|swap)): Job \S+/start timed out`,
		Not:     `(?:tty|hvc|console)\S*\.device: Job`,
		Summary: "systemd timed out waiting for ${1}, which /etc/fstab needs.",
		Remedy:  "Fix or remove the /etc/fstab entry, or add `nofail`, then reboot.",
		Example: "[   91.000000] systemd[1]: dev-disk-by\\x2duuid-3f0a9c2e.device: Job dev-disk-by\\x2duuid-3f0a9c2e.device/start timed out."},
	{ID: idFstab, Name: "mount_failed", Anchors: []string{"Failed to mount "},
		Match:   `Failed to mount (.+?)\.?\s*$`,
		Not:     `Mount unit for|snap|(?:Kernel (?:Debug|Trace|Configuration)|Huge Pages|FUSE Control|POSIX Message Queue|Arbitrary Executable File Formats) File System`,
		Summary: "systemd failed to mount ${1}.",
		Remedy:  "Check the /etc/fstab line for it (device, type, options; `mount -a` shows the error), fix it or add `nofail`, then reboot.",
		Example: "[FAILED] Failed to mount \x1b[0;1;39m/data\x1b[0m."},
	{ID: idFstab, Name: "dependency_failed", Anchors: []string{"Dependency failed for ", "Job local-fs.target/start failed"},
		Match:   `Dependency failed for (/\S*|Local File Systems|Remote File Systems|Swap|File System Check.*|\S+\.(?:mount|swap))\.?\s*$|Job local-fs\.target/start failed`,
		Summary: "A mount failed, and systemd skipped what depends on it (Local File Systems).",
		Remedy:  "Fix or remove the failing /etc/fstab entry, or add `nofail`, then reboot.",
		Example: "[DEPEND] Dependency failed for \x1b[0;1;39mLocal File Systems\x1b[0m."},
	{ID: idFstab, Name: "swap_failed", Anchors: []string{"Failed to activate swap"},
		Summary: "A swap entry in /etc/fstab could not be activated.",
		Example: "[FAILED] Failed to activate swap \x1b[0;1;39m/swapfile\x1b[0m."},
	{ID: idFstab, Name: "fstab_syntax", Anchors: []string{"-fstab-generator[", "parse error at line", "special device ", "can't find UUID", "can't find LABEL", "point does not exist"},
		Match:   `systemd-fstab-generator\[\d+\]: (.*(?:[Ff]ailed|[Ii]nvalid|[Ii]gnor|[Ee]rror).*)|(/etc/fstab: parse error at line \d+)|mount: .*?(special device \S+ does not exist|can't find \S+|mount point \S+ does not exist)`,
		Summary: "/etc/fstab has an entry that cannot be used: ${1}${2}${3}",
		Remedy:  "Fix the /etc/fstab line named (a rescue VM or the serial console), then reboot.",
		Example: "mount: /data: special device UUID=3f0a9c2e-0000-4000-8000-000000000001 does not exist."},

	// ---- emergency and rescue mode -----------------------------------------
	{ID: idEmergency, Name: "root_locked", Anchors: []string{"Cannot open access to console, the root account is locked"},
		Summary: "The boot stopped in emergency mode, and the root account is locked, so even the serial console offers no shell.",
		Remedy:  "Fix the cause offline (rescue VM: `az vm repair create`), or at the GRUB menu on the serial console add `systemd.unit=multi-user.target` (or `init=/bin/bash`) to the kernel line; then reboot.",
		Example: "Cannot open access to console, the root account is locked."},
	{ID: idEmergency, Name: "maintenance_prompt", Anchors: []string{"Give root password for maintenance", "Press Enter for maintenance", "Dropping you to a shell"},
		Summary: "The boot stopped at the maintenance (sulogin) prompt on the console.",
		Example: "Give root password for maintenance"},
	{ID: idEmergency, Name: "emergency_mode", Ctx: ctxRoot, Anchors: []string{"You are in emergency mode", "Welcome to emergency mode", "You are in rescue mode", "Entering emergency mode", "Reached target Emergency Mode", "Reached target emergency.target", "Started Emergency Shell", "Started emergency.service", "Reached target Rescue Mode", "Reached target rescue.target", "Started Rescue Shell", "Started rescue.service"},
		Summary: "The boot stopped in emergency (or rescue) mode.",
		Example: "You are in emergency mode. After logging in, type \"journalctl -xb\" to view"},

	// ---- disk full --------------------------------------------------------
	{ID: idDiskFull, Name: "auditd_halt", Hard: true, Anchors: []string{"daemon is now halting the system", "daemon is now changing the system to single user mode"},
		Summary: "auditd halted the system (or went to single-user mode) because its log partition is full.",
		Remedy:  "Free space in /var/log/audit (rescue VM or serial console), and change disk_full_action / admin_space_left_action in /etc/audit/auditd.conf from halt/single to syslog or rotate.",
		Example: "[ 3000.000000] auditd[854]: The audit daemon is now halting the system"},
	{ID: idDiskFull, Name: "auditd_full", Anchors: []string{"Audit daemon has no space left", "Audit daemon is suspending logging due to", "Audit daemon is low on disk space"},
		Summary: "auditd's log partition is full or nearly full.",
		Remedy:  "Free space in /var/log/audit and check the actions in /etc/audit/auditd.conf (halt or single stop the VM).",
		Example: "[ 2900.000000] auditd[854]: Audit daemon is low on disk space for logging"},
	{ID: idDiskFull, Name: "no_space", Anchors: []string{"No space left on device"},
		Summary: "A write failed during boot: No space left on device.",
		Example: "[    6.000000] sshd[700]: fatal: mkdir /run/sshd: No space left on device"},

	// ---- kernel BUG / oops, lockups, OOM --------------------------------------
	{ID: idBug, Name: "null_deref", Anchors: []string{"BUG: kernel NULL pointer dereference", "BUG: unable to handle", "Unable to handle kernel "},
		Match:   `(BUG: kernel NULL pointer dereference|BUG: unable to handle [^,]*|Unable to handle kernel [^,]*)`,
		Summary: "The kernel oopsed: ${1}.",
		Example: "[   33.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008"},
	{ID: idBug, Name: "bug_at", Anchors: []string{"kernel BUG at "},
		Match:   `kernel BUG at (\S+?)!?$|kernel BUG at (\S+)`,
		Summary: "The kernel hit a BUG() at ${1}${2}.",
		Example: "[   34.000000] kernel BUG at mm/slub.c:305!"},
	{ID: idBug, Name: "oops", Anchors: []string{"Oops: ", "general protection fault", "BUG: Bad page", "BUG: scheduling while atomic", "BUG: KASAN"},
		Match:   `Oops: .*\[#\d+\]|general protection fault|BUG: (?:Bad page|scheduling while atomic|KASAN)`,
		Not:     `traps: `,
		Summary: "The kernel oopsed.",
		Example: "[   35.000000] Oops: 0002 [#1] SMP PTI"},
	{ID: idHung, Name: "soft_lockup", Anchors: []string{"soft lockup - CPU#"},
		Match:   `soft lockup - CPU#(\d+) stuck for (\d+)s`,
		Summary: "CPU ${1} was stuck for ${2}s (soft lockup).",
		Example: "[  480.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:1:57]"},
	{ID: idHung, Name: "hung_task", Anchors: []string{"blocked for more than"},
		Match:   `task (\S+?):\d+ blocked for more than (\d+) seconds`,
		Summary: "Task ${1} was blocked for more than ${2} seconds (hung task), usually waiting on storage.",
		Example: "[  242.000000] INFO: task jbd2/sda1-8:345 blocked for more than 120 seconds."},
	{ID: idHung, Name: "stall", Anchors: []string{"self-detected stall", "detected stalls on", "hard LOCKUP", "BUG: workqueue lockup"},
		Match:   `detected stalls?|hard LOCKUP|workqueue lockup`,
		Summary: "A CPU stopped responding (RCU stall, hard or workqueue lockup): the host is overloaded or the VM was paused.",
		Example: "[  500.000000] rcu: INFO: rcu_sched self-detected stall on CPU"},
	{ID: idOOM, Name: "oom_kill", Anchors: []string{"Out of memory: Kill", "Memory cgroup out of memory: Kill"},
		Match:   `(?i:out of memory): Kill(?:ed)? process (\d+) \(([^)]+)\)`,
		Summary: "The OOM killer killed ${2} (pid ${1}).",
		Example: "[ 7200.000000] Out of memory: Killed process 2345 (java) total-vm:8123456kB, anon-rss:3456789kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:7000kB oom_score_adj:0"},
	{ID: idOOM, Name: "oom_invoked", Anchors: []string{"m-killer"},
		Match:   `(\S+) invoked oom-killer`,
		Summary: "Memory ran out (${1} invoked the OOM killer).",
		Example: "[ 7199.000000] java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0"},

	// ---- network ----------------------------------------------------------------
	{ID: idNetwork, Name: "service_failed", Hard: true, Anchors: []string{"Failed to start Raise network interfaces", "Failed to start LSB: Bring up/down networking", "Failed to start Network Manager", "Failed to start NetworkManager", "Failed to start Network Service", "Failed to start Network Configuration", "Failed to start systemd-networkd", "Failed to start wicked", "Failed to start networking.service", "Failed to start network.service", "Failed to start ifup@"},
		Match:   `Failed to start (.+?)\.?\s*$`,
		Not:     `[Ww]ait[ -][Oo]nline`,
		Summary: "The network service failed to start (${1}): the NIC may have no address.",
		Remedy:  "Check the network configuration (`/etc/network/interfaces`, `/etc/netplan/*.yaml`, `/etc/sysconfig/network-scripts/ifcfg-eth0`): use DHCP and no hard-coded MAC address; fix it via the serial console or a rescue VM, then reboot.",
		Example: "[FAILED] Failed to start \x1b[0;1;39mRaise network interfaces\x1b[0m."},
	{ID: idNetwork, Name: "no_dhcp_lease", Hard: true, Anchors: []string{"No DHCPOFFERS received", "No working leases in persistent database", "Unable to obtain a lease", "Determining IP information for", "): request timed out"},
		Match:   `No DHCPOFFERS received|No working leases in persistent database|Unable to obtain a lease|Determining IP information for \S+?\.*\s*failed|dhcp[46]? \(\S+\): request timed out`,
		Summary: "The guest got no DHCP lease: the NIC has no address.",
		Remedy:  "Check the guest's DHCP client configuration (and that the NIC is enabled, with no static MAC pinned); restart the VM, or redeploy it (`az vm redeploy`).",
		Example: "[   30.000000] dhclient[612]: No DHCPOFFERS received."},
	{ID: idNetwork, Name: "ifup_failed", Hard: true, Anchors: []string{"Failed to bring up", "failed to bring up", "Connection activation failed", "Activation: failed for connection"},
		Summary: "An interface could not be brought up.",
		Example: "[   25.000000] network[812]: Bringing up interface eth0:  Error: Connection activation failed: No suitable device found for this connection."},
	{ID: idNetwork, Name: "netplan_error", Hard: true, Anchors: []string{"Error in network definition", "Invalid YAML"},
		Match:   `(\S+\.yaml):(\d+):\d+: (Error in network definition.*|Invalid YAML.*)`,
		Summary: "netplan rejects ${1} line ${2}: ${3}",
		Remedy:  "Fix the YAML (`netplan generate` shows the error) via the serial console or a rescue VM; then `netplan apply` or reboot.",
		Example: "[    5.000000] systemd-network-generator[300]: /etc/netplan/50-cloud-init.yaml:11:7: Error in network definition: unknown key 'dhcp'"},
	{ID: idNetwork, Name: "wait_online_failed", Anchors: []string{"Failed to start Network Manager Wait Online", "Failed to start NetworkManager-wait-online", "Failed to start Wait for Network to be Configured", "Failed to start systemd-networkd-wait-online"},
		Summary: "The network was not configured in time (wait-online failed).",
		Example: "[FAILED] Failed to start \x1b[0;1;39mWait for Network to be Configured\x1b[0m."},
	{ID: idNetwork, Name: "no_routes", Anchors: []string{"t/route contains"},
		Summary: "The Azure agent found no routes (/proc/net/route contains no routes): the NIC had no address.",
		Example: "2024-03-01T10:00:00.000000Z WARNING Daemon Daemon /proc/net/route contains no routes"},

	// ---- device manager -------------------------------------------------------------
	{Name: "udev_seen", Mark: markUdev, Anchors: []string{"udev", "Rule-based Manager for Device Events"},
		Example: "[  OK  ] Started udev Kernel Device Manager."},
	{ID: idDeviceMgr, Name: "udevd_failed", Hard: true, Anchors: []string{"Failed to start udev Kernel Device Manager", "Failed to start Rule-based Manager for Device Events", "Failed to start systemd-udevd", "systemd-udevd.service: Failed with result", "systemd-udevd.service: Main process exited, code=killed"},
		Summary: "The device manager (systemd-udevd) failed: devices (disks, NICs) do not appear.",
		Example: "[FAILED] Failed to start udev Kernel Device Manager."},

	// ---- provisioning: metadata service, wire server, VM agents -----------------------
	{ID: idMetadata, Name: "cloud_init_gave_up", Hard: true, Anchors: []string{"Giving up on md from", "Giving up on metadata", "Failed to get metadata"},
		Summary: "cloud-init gave up on the metadata service: the VM was not provisioned (user, SSH keys).",
		Example: "[  124.000000] cloud-init[845]: 2024-01-01 00:02:04,000 - DataSourceEc2.py[CRITICAL]: Giving up on md from ['http://169.254.169.254/2009-04-04/meta-data/instance-id'] after 120 seconds"},
	{ID: idMetadata, Name: "wireserver_unreachable", Anchors: []string{"168.63.129.16"},
		Match:   `168\.63\.129\.16.*(?i:timed? ?out|unreachable|refused|no route|network is unreachable|failed|giving up|exception)|(?i:timed? ?out|unreachable|refused|failed|exception).*168\.63\.129\.16`,
		Summary: "The VM could not reach Azure's wire server (168.63.129.16): the agent cannot provision the VM or report it Ready.",
		Example: "2024/01/01 00:00:10.000000 WARNING Daemon Daemon Fetch failed: [HttpError] [HTTP Failed] GET http://168.63.129.16/machine/ -- IOError timed out -- 6 attempts made"},
	{ID: idMetadata, Name: "imds_unreachable", Anchors: []string{"169.254.169.254"},
		Match:   `169\.254\.169\.254.*(?i:timed? ?out|unreachable|refused|no route|max retries|failed)|(?i:timed? ?out|unreachable|refused|failed).*169\.254\.169\.254`,
		Summary: "The VM could not reach the metadata service (169.254.169.254) at first: provisioning may be incomplete.",
		Example: "[   30.000000] cloud-init[845]: 2024-01-01 00:00:30,000 - url_helper.py[WARNING]: Calling 'http://169.254.169.254/2009-04-04/meta-data/instance-id' failed [0/120s]: request error [HTTPConnectionPool(host='169.254.169.254', port=80): Max retries exceeded with url: /2009-04-04/meta-data/instance-id (Caused by ConnectTimeoutError())]"},
	{ID: idAgent, Name: "agent_panic", Hard: true, Anchors: []string{"panic: "},
		Match:   `(google_guest_agent|google-guest-agent|google_accounts_daemon|amazon-ssm-agent|ec2-instance-connect|waagent|WALinuxAgent)(?:\[\d+\])?:\s+panic: (.*)`,
		Summary: "The VM agent ${1} crashed (panic: ${2}): the users and SSH keys it manages are not installed.",
		Example: "[   21.443781] google_guest_agent[2966]: panic: runtime error: index out of range"},
	{ID: idAgent, Name: "provisioning_failed", Hard: true, Anchors: []string{"Provisioning failed", "provisioning failed"},
		Match:   `(?:Daemon|WALinuxAgent|waagent|walinuxagent|ExtHandler|Provision).*[Pp]rovisioning failed`,
		Summary: "The Azure VM agent reports that provisioning failed: the user and its SSH keys may not be installed.",
		Example: "2024/01/01 00:00:10.000000 ERROR Daemon Daemon Provisioning failed: [ProvisionError] Failed to deploy the ssh public key"},
	{ID: idAgent, Name: "agent_unit_failed", Hard: true, Anchors: []string{"Failed to start Azure Linux Agent", "Failed to start Microsoft Azure Linux Agent", "Failed to start Google Compute Engine Guest Agent", "Failed to start Google Guest Agent", "Failed to start amazon-ssm-agent", "Failed to start Amazon SSM Agent", "Failed to start EC2 Instance Connect", "walinuxagent.service: Failed with result", "waagent.service: Failed with result", "google-guest-agent.service: Failed with result"},
		Match:   `Failed to start (.+?)\.?\s*$|(\S+\.service): Failed with result`,
		Summary: "The VM agent failed to start (${1}${2}).",
		Example: "[FAILED] Failed to start \x1b[0;1;39mAzure Linux Agent\x1b[0m."},

	// ---- cloud-init ---------------------------------------------------------------
	{ID: idCloudInit, Name: "unit_failed", Anchors: []string{"Failed to start Initial cloud-init job", "Failed to start Apply the settings specified in cloud-config", "Failed to start Execute cloud user/final scripts", "Failed to start cloud-init", "Failed to start cloud-config", "Failed to start cloud-final"},
		Match:   `Failed to start (.+?)\.?\s*$`,
		Summary: "cloud-init failed (${1}): the VM may not be provisioned (user, SSH keys, network).",
		Example: "[FAILED] Failed to start \x1b[0;1;39mInitial cloud-init job (metadata service crawler)\x1b[0m."},
	{ID: idCloudInit, Name: "no_datasource", Anchors: []string{"DataSourceNone"},
		Match:   `[Dd]atasource DataSourceNone`,
		Summary: "cloud-init found no datasource (DataSourceNone): the VM was not provisioned — no user, no SSH keys.",
		Remedy:  "Check that the VM reaches the metadata service (169.254.169.254, or the Azure wire server 168.63.129.16) and that the datasource list in /etc/cloud/cloud.cfg.d is right; reset the user's key with `az vm user update`.",
		Example: "[   40.000000] cloud-init[900]: Cloud-init v. 23.1 finished at Mon, 01 Jan 2024 00:00:40 +0000. Datasource DataSourceNone.  Up 40.00 seconds"},
	{ID: idCloudInit, Name: "no_keys", Anchors: []string{"no authorized SSH keys fingerprints found for user"},
		Match:   `no authorized SSH keys fingerprints found for user (\S+?)\.?\s*$`,
		Summary: "cloud-init installed no SSH key for user ${1}: key logins fail unless keys come from elsewhere.",
		Remedy:  "Add the key: `az vm user update -g RG -n VM -u USER --ssh-key-value KEY.pub`, or `sshdoctor guest repair --user USER --ssh-key-file KEY.pub` via run-command.",
		Example: "[   35.000000] cloud-init[900]: ci-info: no authorized SSH keys fingerprints found for user azureuser."},
	{ID: idCloudInit, Name: "error", Anchors: []string{"ERROR", "Traceback", "CRITICAL", "[WARNING]: Running module"},
		Match:   `cloud-init(?:\[\d+\])?:.*(?:\bERROR\b|\bCRITICAL\b|Traceback|\[WARNING\]: Running module \S+ .* failed)`,
		Summary: "cloud-init reported errors: provisioning may be incomplete.",
		Example: "[   20.000000] cloud-init[210]: ERROR: ssh-keygen ed25519: exit status 1"},

	// ---- sshd -----------------------------------------------------------------------
	{ID: idSSHDFailed, Name: "privsep_dir", Mark: markSSHDFail, Anchors: []string{"Missing privilege separation directory"},
		Match:   `Missing privilege separation directory:?\s*(\S+)`,
		Summary: "sshd refuses to start: its privilege-separation directory ${1} is missing.",
		Remedy:  "Create it (`install -d -m 755 /run/sshd`; `sshdoctor guest repair` does) — on Debian/Ubuntu the ssh unit's RuntimeDirectory creates it, so check the unit was not overridden;" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: fatal: Missing privilege separation directory: /run/sshd"},
	{ID: idSSHDFailed, Name: "no_hostkeys", Mark: markSSHDFail, Anchors: []string{"no hostkeys available"},
		Summary: "sshd refuses to start: no host keys available.",
		Remedy:  "Regenerate the host keys (`ssh-keygen -A`; `sshdoctor guest repair` does);" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: sshd: no hostkeys available -- exiting."},
	{ID: idSSHDFailed, Name: "config_error", Mark: markSSHDFail, Anchors: []string{"sshd_config line ", "sshd_config: line ", ".conf line ", ".conf: line "},
		Match:   `(/\S*sshd_config\S*?):? line (\d+): (.*)`,
		Not:     `[Dd]eprecated option|Unsupported option`,
		Summary: "sshd rejects ${1} line ${2}: ${3}",
		Remedy:  "Fix or remove that line (`sshd -t` checks the whole configuration; `sshdoctor guest repair` disables the offending line);" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: /etc/ssh/sshd_config line 14: Bad configuration option: PermitRootLogn"},
	{ID: idSSHDFailed, Name: "config_terminating", Mark: markSSHDFail, Anchors: []string{"bad configuration options"},
		Match:   `terminating, (\d+) bad configuration options`,
		Summary: "sshd refuses to start: ${1} bad configuration option(s).",
		Remedy:  "Run `sshd -t` to see the lines, fix them (`sshdoctor guest repair`);" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: /etc/ssh/sshd_config: terminating, 1 bad configuration options"},
	{ID: idSSHDFailed, Name: "bind_failed", Mark: markSSHDFail, Anchors: []string{"Cannot bind any address"},
		Summary: "sshd could not bind any listening address (port in use, or the address does not exist).",
		Remedy:  "Check ListenAddress/Port in sshd_config and what else uses the port (`ss -ltnp`); with SELinux, a non-standard port needs `semanage port -a -t ssh_port_t -p tcp PORT`;" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: fatal: Cannot bind any address."},
	{ID: idSSHDFailed, Name: "privsep_user", Mark: markSSHDFail, Anchors: []string{"Privilege separation user"},
		Match:   `Privilege separation user (\S+) does not exist`,
		Summary: "sshd refuses to start: its privilege-separation user ${1} does not exist.",
		Remedy:  "Recreate the user (`useradd -r -d /run/sshd -s /usr/sbin/nologin sshd`, or reinstall openssh-server);" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: Privilege separation user sshd does not exist"},
	{ID: idSSHDFailed, Name: "shared_library", Mark: markSSHDFail, Anchors: []string{"rror while loading shared libraries"},
		Match:   `sshd.*error while loading shared libraries: (\S+)`,
		Summary: "sshd cannot run: shared library ${1} is missing.",
		Remedy:  "Reinstall openssh-server and the library (a partial upgrade or a deleted file);" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: /usr/sbin/sshd: error while loading shared libraries: libcrypto.so.3: cannot open shared object file: No such file or directory"},
	{ID: idSSHDFailed, Name: "systemd_failed", Mark: markSSHDFail, Anchors: []string{"Failed to start ssh.service", "Failed to start sshd.service", "Failed to start OpenBSD Secure Shell server", "Failed to start OpenSSH server daemon", "Failed to start OpenSSH Daemon", "Failed to start OpenSSH Server"},
		Summary: "systemd could not start sshd.",
		Remedy:  "See why in the sshd lines of the evidence, or run `sshd -t` (`sshdoctor guest check` via run-command);" + sshdRemedy,
		Example: "[FAILED] Failed to start \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m."},
	{ID: idSSHDFailed, Name: "unit_result", Mark: markSSHDFail, Anchors: []string{"Start request repeated too quickly", "Control process exited", "Failed with result"},
		Match:   `sshd?\.service: (Start request repeated too quickly|Control process exited, \S+ \S+|Failed with result '[^']+')`,
		Summary: "systemd could not start sshd (${1}).",
		Remedy:  "Run `sshd -t` to see why (`sshdoctor guest check` via run-command), fix it;" + sshdRemedy,
		Example: "[   12.000000] systemd[1]: ssh.service: Control process exited, code=exited, status=255/EXCEPTION"},
	{ID: idSSHDFailed, Name: "dependency", Mark: markSSHDFail, Anchors: []string{"Dependency failed for OpenBSD Secure Shell", "Dependency failed for OpenSSH", "Dependency failed for ssh.service", "Dependency failed for sshd.service"},
		Summary: "sshd was not started because a unit it depends on failed.",
		Example: "[DEPEND] Dependency failed for OpenBSD Secure Shell server."},
	{ID: idSSHDFailed, Name: "sysv_failed", Mark: markSSHDFail, Anchors: []string{"Starting OpenBSD Secure Shell server:", "Starting sshd"},
		Match:   `Starting (?:OpenBSD Secure Shell server: sshd failed|sshd:\s*\[\s*FAILED\s*\]|sshd\s*\.\.\.\s*\[\s*!!\s*\])`,
		Summary: "The init script could not start sshd.",
		Example: "Starting sshd: [FAILED]"},
	{ID: idSSHDFailed, Name: "hostkey_problem", Anchors: []string{"Could not load host key", "Permissions 0"},
		Match:   `Could not load host key: (\S+)|Permissions \S+ for '([^']+)' are too open`,
		Summary: "sshd could not use host key ${1}${2}.",
		Remedy:  "Regenerate missing keys (`ssh-keygen -A`) and make private keys 0600 root-owned;" + sshdRemedy,
		Example: "[   12.000000] sshd[700]: Could not load host key: /etc/ssh/ssh_host_ed25519_key"},
	{ID: idSSHDFailed, Name: "bind_port", Anchors: []string{"Bind to port "},
		Match:   `Bind to port (\d+) on (\S+) failed: (.*)`,
		Summary: "sshd could not bind port ${1} on ${2}: ${3}",
		Example: "[   12.000000] sshd[700]: error: Bind to port 22 on 0.0.0.0 failed: Address already in use."},

	// ---- anything else that failed (only when nothing above matched the line) ----
	{ID: idUnitFailed, Name: "unit_failed", Fallback: true, Anchors: []string{"Failed to start "},
		Match:   `Failed to start (.+?)\.?\s*$`,
		Summary: "Units failed to start (first: ${1}).",
		Example: "[FAILED] Failed to start \x1b[0;1;39mLoad Kernel Modules\x1b[0m."},
}

func lower(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}
