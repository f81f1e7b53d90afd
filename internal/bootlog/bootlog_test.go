package bootlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// Building blocks of crafted logs, as real consoles print them (colour
// codes included).
var (
	ubuntuKernel = []string{
		"[    0.000000] Linux version 5.15.0-1051-azure (buildd@lcy02-amd64-033) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #59-Ubuntu SMP Thu Oct 5 17:04:47 UTC 2023 (Ubuntu 5.15.0-1051.59-azure 5.15.122)",
		"[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-1051-azure root=PARTUUID=9f5a2e3c-01 ro console=tty1 console=ttyS0 earlyprintk=ttyS0 panic=-1",
		"[    0.000000] BIOS-provided physical RAM map:",
		"[    0.412345] hv_vmbus: registering driver hv_storvsc",
		"[    1.234567] sd 0:0:0:0: [sda] 62914560 512-byte logical blocks: (32.2 GB/30.0 GiB)",
		"[    1.534567] EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null). Quota mode: none.",
		"[    2.100000] systemd[1]: systemd 249.11-0ubuntu3.11 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP)",
		"Welcome to \x1b[1mUbuntu 22.04.3 LTS\x1b[0m!",
	}
	ubuntuUnits = []string{
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mJournal Service\x1b[0m.",
		"         Starting \x1b[0;1;39mLoad Kernel Modules\x1b[0m...",
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mLoad Kernel Modules\x1b[0m.",
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mApply Kernel Variables\x1b[0m.",
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mCreate Static Device Nodes in /dev\x1b[0m.",
		"[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mLocal File Systems\x1b[0m.",
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mNetwork Configuration\x1b[0m.",
		"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mNetwork Name Resolution\x1b[0m.",
	}
	ubuntuSSHD  = "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mssh.service\x1b[0m - OpenBSD Secure Shell server."
	ubuntuMulti = "[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m."
	ubuntuLogin = []string{"", "Ubuntu 22.04.3 LTS web1 ttyS0", "", "web1 login: "}

	rhelKernel = []string{
		"[    0.000000] Linux version 4.18.0-477.10.1.el8_8.x86_64 (mockbuild@x86-vm-07.build.eng.bos.redhat.com) (gcc version 8.5.0 20210514 (Red Hat 8.5.0-18) (GCC)) #1 SMP Wed Apr 5 13:35:01 EDT 2023",
		"[    0.000000] Command line: BOOT_IMAGE=(hd0,gpt2)/vmlinuz-4.18.0-477.10.1.el8_8.x86_64 root=/dev/mapper/rootvg-rootlv ro crashkernel=auto console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0 rootdelay=300",
		"[    1.800000] systemd[1]: systemd 239 (239-74.el8_8) running in system mode. (+PAM +AUDIT +SELINUX +IMA -APPARMOR +SMACK +SYSVINIT +UTMP)",
		"Welcome to \x1b[0;31mRed Hat Enterprise Linux 8.8 (Ootpa) dracut-049-223.git20230119.el8 (Initramfs)\x1b[0m!",
		"[  OK  ] Started dracut cmdline hook.",
		"[  OK  ] Reached target Initrd Root Device.",
	}
	rhelSwitch = []string{
		"[  OK  ] Reached target Switch Root.",
		"         Starting Switch Root...",
		"[    4.100000] systemd[1]: Switching root.",
		"Welcome to \x1b[0;31mRed Hat Enterprise Linux 8.8 (Ootpa)\x1b[0m!",
		"[  OK  ] Started Journal Service.",
		"[  OK  ] Started Load Kernel Modules.",
		"[  OK  ] Started Apply Kernel Variables.",
		"[  OK  ] Started Remount Root and Kernel File Systems.",
		"[  OK  ] Started udev Coldplug all Devices.",
	}
	rhelHealthy = []string{
		"[  OK  ] Started OpenSSH server daemon.",
		"[  OK  ] Reached target Multi-User System.",
		"",
		"Red Hat Enterprise Linux 8.8 (Ootpa)",
		"Kernel 4.18.0-477.10.1.el8_8.x86_64 on an x86_64",
		"",
		"rhel8 login: ",
	}
)

func join(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b.WriteString(v)
			b.WriteByte('\n')
		case []string:
			for _, l := range v {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		default:
			panic(fmt.Sprintf("join: %T", p))
		}
	}
	return b.String()
}

func healthyUbuntu() string {
	return join(ubuntuKernel, ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuLogin)
}

// lineOf is the 1-based number of the last line of log containing s.
func lineOf(t *testing.T, log, s string) int {
	t.Helper()
	n := 0
	for i, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			n = i + 1
		}
	}
	if n == 0 {
		t.Fatalf("fixture has no line with %q", s)
	}
	return n
}

func analyze(t *testing.T, log string) *Report {
	t.Helper()
	r, err := Analyze(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	return r
}

func find(r *Report, id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

func ids(r *Report) []string {
	var s []string
	for _, f := range r.Findings {
		s = append(s, f.ID+"("+string(f.Severity)+")")
	}
	return s
}

// checkInvariants holds for every report, whatever the input.
func checkInvariants(t testing.TB, r *Report) {
	t.Helper()
	if r.Healthy != (r.RootCause == nil) {
		t.Fatalf("healthy %v but root cause %v", r.Healthy, r.RootCause)
	}
	if r.Healthy != (r.ExitCode() == 0) {
		t.Fatalf("healthy %v exit %d", r.Healthy, r.ExitCode())
	}
	if r.Healthy && find(r, idOK) == nil || !r.Healthy && find(r, idOK) != nil {
		t.Fatalf("healthy %v, findings %v", r.Healthy, ids(r))
	}
	if len(r.Findings) == 0 || r.Verdict == "" || len(r.NextSteps) == 0 {
		t.Fatalf("empty report: %+v", r)
	}
	if r.Lines > 0 && (r.Boots < 1 || r.LastBoot.StartLine < 1 || r.LastBoot.StartLine > r.Lines || r.LastBoot.EndLine != r.Lines) {
		t.Fatalf("boots %d, last boot %d-%d of %d lines", r.Boots, r.LastBoot.StartLine, r.LastBoot.EndLine, r.Lines)
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if seen[f.ID] {
			t.Fatalf("finding %s twice", f.ID)
		}
		seen[f.ID] = true
		def, ok := findings.Lookup(f.ID)
		if !ok || def.Layer != findings.LayerBoot || f.Remediation == "" || f.Summary == "" || f.Effect == "" {
			t.Fatalf("bad finding %+v", f)
		}
		if f.Severity != def.Severity && !(def.Severity == findings.Error && f.Severity == findings.Warning) {
			t.Fatalf("%s: severity %s, catalogue %s", f.ID, f.Severity, def.Severity)
		}
		if strings.Contains(f.Summary, "${") || !utf8.ValidString(f.Summary) {
			t.Fatalf("%s: summary %q", f.ID, f.Summary)
		}
		if len(f.Evidence) != len(f.Lines) && f.ID != idOK {
			t.Fatalf("%s: %d evidence lines, %d line numbers", f.ID, len(f.Evidence), len(f.Lines))
		}
		for i, l := range f.Lines {
			if l < 1 || l > r.Lines || (i > 0 && l <= f.Lines[i-1] && f.ID != idSELinux) {
				t.Fatalf("%s: line %d out of order or range (%d lines)", f.ID, l, r.Lines)
			}
			if l < r.LastBoot.StartLine && f.Signature != "relabel_loop" && f.Signature != "previous_boot" {
				t.Fatalf("%s: line %d is before the last boot (line %d)", f.ID, l, r.LastBoot.StartLine)
			}
			if !strings.HasPrefix(f.Evidence[i], "line "+strconv.Itoa(l)+": ") {
				t.Fatalf("%s: evidence %q for line %d", f.ID, f.Evidence[i], l)
			}
		}
		for _, e := range f.Evidence {
			if !utf8.ValidString(e) || strings.ContainsAny(e, "\x1b\r\n") || len(e) > maxEvidenceLen+40 {
				t.Fatalf("%s: evidence %q", f.ID, e)
			}
		}
		if len(f.Lines) > 0 && !slices.Contains(f.Lines, f.Line) {
			t.Fatalf("%s: line %d not among %v", f.ID, f.Line, f.Lines)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// want is one expectation: finding id lists the last line containing text.
type want struct{ id, text string }

type logCase struct {
	name   string
	log    string
	root   string // root cause ID; "" = healthy
	sig    string // the root cause's signature, if checked
	want   []want
	absent []string
	check  func(t *testing.T, r *Report)
}

func runCases(t *testing.T, cases []logCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := analyze(t, c.log)
			got := ""
			if r.RootCause != nil {
				got = r.RootCause.ID
			}
			if got != c.root {
				t.Fatalf("root cause %q, want %q; findings %v\n%s", got, c.root, ids(r), textOf(r))
			}
			if c.sig != "" && r.RootCause.Signature != c.sig {
				t.Errorf("root cause signature %q, want %q", r.RootCause.Signature, c.sig)
			}
			if c.root != "" && r.Lines > 0 && r.RootCause.Line < 1 {
				t.Errorf("root cause has no line")
			}
			for _, w := range c.want {
				f := find(r, w.id)
				if f == nil {
					t.Errorf("no %s finding; have %v", w.id, ids(r))
					continue
				}
				if l := lineOf(t, c.log, w.text); !slices.Contains(f.Lines, l) {
					t.Errorf("%s: lines %v, want line %d (%q)", w.id, f.Lines, l, w.text)
				}
			}
			for _, id := range c.absent {
				if f := find(r, id); f != nil {
					t.Errorf("unexpected %s: %+v", id, f)
				}
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// textOf is the report for a failure message (the text rendering lives in
// package render, which imports this one).
func textOf(r *Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func TestHealthyBoots(t *testing.T) {
	ok := func(sshd string, login bool) func(t *testing.T, r *Report) {
		return func(t *testing.T, r *Report) {
			if r.LastBoot.SSHD != sshd || r.LastBoot.LoginPrompt != login {
				t.Errorf("sshd %q login %v, want %q %v", r.LastBoot.SSHD, r.LastBoot.LoginPrompt, sshd, login)
			}
			for _, f := range r.Findings {
				if f.Severity == findings.Error {
					t.Errorf("healthy boot has error %s", f.ID)
				}
			}
		}
	}
	runCases(t, []logCase{
		{name: "ubuntu systemd, colour", log: healthyUbuntu(),
			want: []want{{idOK, "web1 login:"}, {idOK, "Started \x1b[0;1;39mssh.service"}}, check: ok("running", true)},
		{name: "ubuntu CRLF", log: strings.ReplaceAll(healthyUbuntu(), "\n", "\r\n"),
			want: []want{{idOK, "web1 login:"}}, check: ok("running", true)},
		{name: "rhel dracut, switch root", log: join(rhelKernel, "[  OK  ] Found device /dev/mapper/rootvg-rootlv.", rhelSwitch, rhelHealthy),
			want: []want{{idOK, "Started OpenSSH server daemon"}}, absent: []string{idInitramfs}, check: ok("running", true)},
		{name: "suse", log: join(
			"[    0.000000] Linux version 5.14.21-150500.55.28-default (geeko@buildhost) (gcc (SUSE Linux) 7.5.0, GNU ld (GNU Binutils; SUSE Linux Enterprise 15) 2.41.0.20230908-150100.7.46) #1 SMP PREEMPT_DYNAMIC Fri Sep 22 10:02:42 UTC 2023 (9d70eaf)",
			"[  OK  ] Started wicked managed network interfaces.", "[  OK  ] Started OpenSSH Daemon.", "[  OK  ] Reached target Multi-User System.",
			"", "Welcome to SUSE Linux Enterprise Server 15 SP5  (x86_64) - Kernel 5.14.21-150500.55.28-default (ttyS0).", "", "sles15 login: "),
			want: []want{{idOK, "OpenSSH Daemon"}}, check: ok("running", true)},
		{name: "debian sysvinit", log: join(
			"[    0.000000] Linux version 3.16.0-11-amd64 (debian-kernel@lists.debian.org) (gcc version 4.8.4 (Debian 4.8.4-1) ) #1 SMP Debian 3.16.84-1 (2020-06-09)",
			"INIT: version 2.88 booting", "[info] Using makefile-style concurrent boot in runlevel S.", "INIT: Entering runlevel: 2",
			"[....] Starting OpenBSD Secure Shell server: sshd\r\x1b[K[ \x1b[32mok\x1b[39;49m ] Starting OpenBSD Secure Shell server: sshd.",
			"", "Debian GNU/Linux 8 jessie ttyS0", "", "jessie login: "),
			want: []want{{idOK, "Entering runlevel"}}, check: ok("running", true)},
		{name: "rhel6 sysvinit", log: join(
			"Linux version 2.6.32-754.el6.x86_64 (mockbuild@x86-01.bsys.centos.org) (gcc version 4.4.7 20120313 (Red Hat 4.4.7-23) (GCC) ) #1 SMP Tue Jun 19 21:26:04 UTC 2018",
			"Starting sshd: \x1b[60G[\x1b[0;32m  OK  \x1b[0;39m]\r", "Starting crond: \x1b[60G[\x1b[0;32m  OK  \x1b[0;39m]\r",
			"", "CentOS release 6.10 (Final)", "Kernel 2.6.32-754.el6.x86_64 on an x86_64", "", "centos6 login: "),
			want: []want{{idOK, "Starting sshd"}}, check: ok("running", true)},
		{name: "collector time stamps", log: strings.ReplaceAll(healthyUbuntu(), "\n", "\n2024-03-01T10:00:00.123Z "),
			want: []want{{idOK, "web1 login:"}}, check: ok("running", true)},
		{name: "quiet boot: login prompt only", log: join(ubuntuKernel, ubuntuLogin),
			want: []want{{idOK, "web1 login:"}}, check: ok("not_seen", true)},
		{name: "log starts mid-boot (truncated)", log: join(ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			check: func(t *testing.T, r *Report) {
				if r.LastBoot.StartedBy != "log_start" || r.Boots != 1 || r.LastBoot.StartLine != 1 {
					t.Errorf("boot %+v boots %d", r.LastBoot, r.Boots)
				}
			}},
		{name: "sshd failed once, then started", log: join(ubuntuKernel, ubuntuUnits,
			"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.",
			"[   20.000000] sshd[700]: sshd: no hostkeys available -- exiting.",
			"[   21.000000] cloud-init[900]: Generating public/private ed25519 key pair.",
			ubuntuSSHD, "Server listening on 0.0.0.0 port 22.\r", ubuntuMulti, ubuntuLogin),
			absent: []string{idSSHDFailed}, check: ok("running", true)},
		{name: "noise that looks like problems", log: join(ubuntuKernel, ubuntuUnits,
			"[    3.000000] blk_update_request: I/O error, dev sr0, sector 0 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0",
			"[    3.000001] Buffer I/O error on dev sr0, logical block 0, async page read",
			"[    3.100000] traps: chrome[1234] general protection fault ip:7f0000 sp:7ffe error:0 in libc.so.6",
			"[FAILED] Failed to mount \x1b[0;1;39mMount unit for core, revision 16202\x1b[0m.",
			"[    4.000000] sshd[700]: /etc/ssh/sshd_config line 5: Deprecated option UsePrivilegeSeparation",
			"[  OK  ] Stopped target \x1b[0;1;39mMulti-User System\x1b[0m.",
			"Last login: Mon Jan  1 00:00:00 2024 from 10.0.0.5",
			ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			absent: []string{idDiskIO, idBug, idFstab, idSSHDFailed}, check: ok("running", true)},
	})
}

func TestKernelFamily(t *testing.T) {
	noInitrd := join("                             GNU GRUB  version 2.06", "  Booting `Ubuntu'", "",
		"Loading Linux 5.15.0-1051-azure ...", "error: file `/boot/initrd.img-5.15.0-1051-azure' not found.", "Press any key to continue...",
		ubuntuKernel[:6],
		"[    2.300000] VFS: Cannot open root device \"PARTUUID=9f5a2e3c-01\" or unknown-block(0,0): error -6",
		"[    2.300001] Please append a correct \"root=\" boot option; here are the available partitions:",
		"[    2.300002] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
		"[    2.300003] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.15.0-1051-azure #59-Ubuntu",
		"[    2.300010] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---")
	runCases(t, []logCase{
		{name: "no initramfs: GRUB error, VFS panic", log: noInitrd, root: idPanic, sig: "no_root_driver",
			want: []want{{idPanic, "[    2.300002] Kernel panic - not syncing: VFS"}, {idInitramfs, "initrd.img"}},
			check: func(t *testing.T, r *Report) {
				p := find(r, idPanic)
				if end := lineOf(t, noInitrd, "---[ end Kernel panic"); slices.Contains(p.Lines, end) {
					t.Errorf("the end-of-panic marker is evidence: %v", p.Lines)
				}
				if r.LastBoot.StartedBy != "boot_loader" || r.Boots != 1 || r.LastBoot.Kernel != "5.15.0-1051-azure" {
					t.Errorf("boot %+v, %d boots", r.LastBoot, r.Boots)
				}
			}},
		{name: "attempted to kill init", log: join(rhelKernel[:2], "[    3.000000] Run /init as init process",
			"[    3.100000] /init: error while loading shared libraries: libc.so.6: cannot open shared object file",
			"[    3.200000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00007f00"),
			root: idPanic, sig: "kill_init", want: []want{{idPanic, "Attempted to kill init"}}},
		{name: "oops, then panic", log: join(ubuntuKernel,
			"[   33.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008",
			"[   33.000001] #PF: supervisor read access in kernel mode",
			"[   33.000002] Oops: 0000 [#1] SMP NOPTI",
			"[   33.000003] RIP: 0010:hv_pkt_iter_first+0x12/0x90 [hv_vmbus]",
			"[   33.000010] Kernel panic - not syncing: Fatal exception in interrupt"),
			root: idPanic, sig: "other", want: []want{{idPanic, "Fatal exception"}, {idBug, "NULL pointer"}, {idBug, "Oops: 0000"}}},
		{name: "panic on a fs error", log: join(ubuntuKernel, "[   30.000000] Kernel panic - not syncing: EXT4-fs (device sda1): panic forced after error"),
			root: idPanic, sig: "fs_error"},
		{name: "kernel BUG without panic, boot finished", log: join(ubuntuKernel, "[   20.000000] ------------[ cut here ]------------",
			"[   20.000001] kernel BUG at mm/slub.c:305!", ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			want: []want{{idBug, "kernel BUG at"}}},
		{name: "soft lockup and hung task, boot stuck", log: join(ubuntuKernel, ubuntuUnits[:3],
			"[  480.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:1:57]",
			"[  484.000000] INFO: task jbd2/sda1-8:345 blocked for more than 120 seconds.",
			"[  484.000001]       Not tainted 5.15.0-1051-azure #59-Ubuntu",
			"[  484.000002] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message."),
			root: idHung, sig: "soft_lockup", want: []want{{idHung, "soft lockup"}, {idHung, "blocked for more than"}, {idIncomplete, "hung_task_timeout_secs"}},
			absent: []string{idBug}},
		{name: "rcu stall", log: join(ubuntuKernel, "[  500.000000] rcu: INFO: rcu_sched self-detected stall on CPU"),
			root: idHung, sig: "stall"},
	})
}

func TestInitramfsFamily(t *testing.T) {
	dracut := join(rhelKernel,
		"[  190.123456] dracut-initqueue[437]: Warning: dracut-initqueue timeout - starting timeout scripts",
		"[  190.623456] dracut-initqueue[437]: Warning: dracut-initqueue timeout - starting timeout scripts",
		"[\x1b[1;33m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39mdev-mapper-rootvg\\x2drootlv.device\x1b[0m.",
		"[\x1b[1;33mDEPEND\x1b[0m] Dependency failed for \x1b[0;1;39m/sysroot\x1b[0m.",
		"[  191.000000] dracut-initqueue[437]: Warning: Could not boot.",
		"[  191.000001] dracut-initqueue[437]: Warning: /dev/mapper/rootvg-rootlv does not exist",
		"         Starting \x1b[0;1;39mDracut Emergency Shell\x1b[0m...",
		"Warning: /dev/mapper/rootvg-rootlv does not exist",
		"",
		"Generating \"/run/initramfs/rdsosreport.txt\"",
		"",
		"Entering emergency mode. Exit the shell to continue.",
		"Type \"journalctl\" to view system logs.",
		"",
		"dracut:/# ")
	ubuntu := join(ubuntuKernel[:6], "Begin: Running /scripts/local-block ... done.",
		"Gave up waiting for root file system device.  Common problems:",
		" - Boot args (cat /proc/cmdline)",
		"   - Check rootdelay= (did the system wait long enough?)",
		" - Missing modules (cat /proc/modules; ls /dev)",
		"ALERT!  UUID=7c8a3e2f-5b1d-4c3e-9a7f-2d6e8b4c1a90 does not exist.  Dropping to a shell!",
		"", "BusyBox v1.30.1 (Ubuntu 1:1.30.1-7ubuntu3) built-in shell (ash)", "Enter 'help' for a list of built-in commands.", "", "(initramfs) ")
	runCases(t, []logCase{
		{name: "dracut timeout, emergency shell", log: dracut, root: idInitramfs, sig: "root_device_timeout",
			want: []want{{idInitramfs, "Timed out waiting for device"}, {idInitramfs, "dracut-initqueue timeout"}, {idInitramfs, "rdsosreport.txt"},
				{idInitramfs, "Entering emergency mode"}, {idInitramfs, "dracut:/#"}},
			absent: []string{idEmergency}, // dracut's emergency shell is the initramfs's
			check: func(t *testing.T, r *Report) {
				if f := find(r, idFstab); f != nil && f.Severity == findings.Error && r.RootCause.ID != idInitramfs {
					t.Errorf("fstab outranks the initramfs: %v", ids(r))
				}
			}},
		{name: "initramfs-tools gave up, busybox", log: ubuntu, root: idInitramfs,
			want: []want{{idInitramfs, "Gave up waiting for root"}, {idInitramfs, "ALERT!"}, {idInitramfs, "built-in shell (ash)"}, {idInitramfs, "(initramfs)"}},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "UUID=7c8a3e2f") {
					t.Errorf("summary %q does not name the device", r.RootCause.Summary)
				}
			}},
		{name: "corrupt initramfs image", log: join(ubuntuKernel[:3], "[    1.200000] Initramfs unpacking failed: junk in compressed archive",
			"[    2.300002] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"),
			root: idPanic, sig: "no_root_driver", want: []want{{idInitramfs, "Initramfs unpacking failed"}}},
		{name: "stale resume device, boot went on", log: join(ubuntuKernel[:6], "Gave up waiting for suspend/resume device", ubuntuKernel[6:], ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			check: func(t *testing.T, r *Report) {
				if f := find(r, idInitramfs); f == nil || f.Severity != findings.Warning {
					t.Errorf("resume-device wait should be a warning: %v", ids(r))
				}
			}},
	})
}

func TestFstabFamily(t *testing.T) {
	runCases(t, []logCase{
		{name: "ubuntu: device timeout, emergency, status overwrite", log: join(ubuntuKernel, ubuntuUnits[:4],
			"[  *** ] A start job is running for /dev/disk/by-uuid/3f0a9c2e (1min 29s / 1min 30s)\r\x1b[K[\x1b[1;33m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39mdev-disk-by\\x2duuid-3f0a9c2e.device\x1b[0m - /dev/disk/by-uuid/3f0a9c2e.",
			"[\x1b[1;33mDEPEND\x1b[0m] Dependency failed for \x1b[0;1;39m/data\x1b[0m.",
			"[\x1b[1;33mDEPEND\x1b[0m] Dependency failed for \x1b[0;1;39mLocal File Systems\x1b[0m.",
			"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mEmergency Shell\x1b[0m.",
			"[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mEmergency Mode\x1b[0m.",
			"You are in emergency mode. After logging in, type \"journalctl -xb\" to view",
			"system logs, \"systemctl reboot\" to reboot, \"systemctl default\" or \"exit\"",
			"to boot into default mode.", "Press Enter for maintenance", "(or press Control-D to continue): "),
			root: idFstab, sig: "device_timeout",
			want: []want{{idFstab, "Timed out waiting"}, {idFstab, "Dependency failed for \x1b[0;1;39m/data"}, {idFstab, "Local File Systems\x1b"},
				{idEmergency, "You are in emergency mode"}, {idEmergency, "Press Enter for maintenance"}},
			check: func(t *testing.T, r *Report) {
				f := find(r, idFstab)
				if strings.Contains(f.Evidence[0], "start job") || !strings.Contains(f.Evidence[0], "[ TIME ] Timed out waiting for device dev-disk-by\\x2duuid-3f0a9c2e.device - /dev/disk/by-uuid/3f0a9c2e.") {
					t.Errorf("evidence should be the overwritten segment, without colour codes: %q", f.Evidence[0])
				}
				if find(r, idEmergency).Signature != "maintenance_prompt" || r.LastBoot.ReachedMultiUser || r.LastBoot.SSHD != "not_seen" {
					t.Errorf("%+v %+v", find(r, idEmergency), r.LastBoot)
				}
			}},
		{name: "rhel7: failed to mount, give root password", log: join(rhelKernel[:2], rhelSwitch,
			"[FAILED] Failed to mount /data.", "See 'systemctl status data.mount' for details.",
			"[DEPEND] Dependency failed for Local File Systems.",
			"Welcome to emergency mode! After logging in, type \"journalctl -xb\" to view system logs, \"systemctl reboot\" to reboot, \"systemctl default\" or ^D to try again to boot into default mode.",
			"Give root password for maintenance", "(or type Control-D to continue): "),
			root: idFstab, sig: "mount_failed", want: []want{{idFstab, "Failed to mount /data"}, {idEmergency, "Give root password"}, {idEmergency, "Welcome to emergency mode"}},
			absent: []string{idUnitFailed}},
		{name: "root account locked", log: join(rhelKernel[:2], rhelSwitch, "[FAILED] Failed to mount /data.",
			"Cannot open access to console, the root account is locked.", "See sulogin(8) man page for more details.", "Press Enter to continue."),
			root: idFstab, check: func(t *testing.T, r *Report) {
				if e := find(r, idEmergency); e == nil || e.Signature != "root_locked" {
					t.Errorf("emergency: %+v", e)
				}
			}},
		{name: "sysvinit: special device does not exist", log: join("Linux version 3.2.0-4-amd64 (debian-kernel@lists.debian.org) (gcc version 4.6.3 (Debian 4.6.3-14) ) #1 SMP Debian 3.2.102-1",
			"[....] Mounting local filesystems...mount: special device /dev/sdc1 does not exist", "failed.",
			"Give root password for maintenance", "(or type Control-D to continue): "),
			root: idFstab, sig: "fstab_syntax", want: []want{{idFstab, "special device"}, {idEmergency, "Give root password"}}},
		{name: "swap device missing, boot went on", log: join(ubuntuKernel, ubuntuUnits,
			"[\x1b[1;33m TIME \x1b[0m] Timed out waiting for device \x1b[0;1;39m/dev/disk/cloud/azure_resource-part2\x1b[0m.",
			"[\x1b[1;33mDEPEND\x1b[0m] Dependency failed for \x1b[0;1;39mSwap\x1b[0m.", ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			check: func(t *testing.T, r *Report) {
				f := find(r, idFstab)
				if f == nil || f.Severity != findings.Warning || !strings.Contains(f.Summary, "got past it") {
					t.Errorf("fstab should be a warning the boot got past: %+v", f)
				}
			}},
	})
}

func TestFilesystemFamily(t *testing.T) {
	emergency := []string{"[  OK  ] Reached target Emergency Mode.", "You are in emergency mode. After logging in, type \"journalctl -xb\" to view"}
	runCases(t, []logCase{
		{name: "ext4 errors, fsck needed", log: join(ubuntuKernel[:6],
			"[   12.345678] EXT4-fs error (device sda1): ext4_lookup:1855: inode #2: comm systemd: deleted inode referenced: 1234",
			"[   12.345679] EXT4-fs (sda1): Remounting filesystem read-only",
			"[   13.000000] systemd-fsck[401]: /dev/sda1 contains a file system with errors, check forced.",
			"[   14.000000] systemd-fsck[401]: /dev/sda1: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.",
			"[   14.000001] systemd-fsck[401]: \t(i.e., without -a or -p options)",
			"[   14.000002] systemd-fsck[401]: fsck failed with exit status 4.",
			"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mFile System Check on Root Device\x1b[0m.", emergency),
			root: idFS, sig: "ext4_error",
			want:   []want{{idFS, "EXT4-fs error"}, {idFS, "read-only"}, {idFS, "UNEXPECTED"}, {idFS, "fsck failed with"}, {idFS, "File System Check"}, {idEmergency, "You are in"}},
			absent: []string{idUnitFailed},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "sda1") {
					t.Errorf("summary %q", r.RootCause.Summary)
				}
			}},
		{name: "xfs crc error, sysroot not mounted", log: join(rhelKernel,
			"[   15.000000] XFS (dm-0): Metadata CRC error detected at xfs_agi_read_verify+0xd0/0x100 [xfs], xfs_agi block 0x2 ",
			"[   15.000001] XFS (dm-0): Unmount and run xfs_repair",
			"[   15.000002] XFS (dm-0): First 128 bytes of corrupted metadata buffer:",
			"[   15.000010] XFS (dm-0): log mount/recovery failed: error -117",
			"[FAILED] Failed to mount /sysroot.", "[DEPEND] Dependency failed for Initrd Root File System."),
			root: idFS, sig: "xfs_corruption", want: []want{{idFS, "Metadata CRC"}, {idFS, "xfs_repair"}, {idFstab, "/sysroot"}},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "dm-0") {
					t.Errorf("summary %q", r.RootCause.Summary)
				}
			}},
		{name: "btrfs transid", log: join("[    0.000000] Linux version 5.14.21-150500.55.28-default (geeko@buildhost) (gcc (SUSE Linux) 7.5.0) #1 SMP PREEMPT_DYNAMIC Fri Sep 22 10:02:42 UTC 2023 (9d70eaf)",
			"[   11.000000] BTRFS error (device sda2): parent transid verify failed on 30408704 wanted 1234 found 1230",
			"[   11.000001] BTRFS error (device sda2): open_ctree failed", "[FAILED] Failed to mount /sysroot."),
			root: idFS, sig: "btrfs_error", want: []want{{idFS, "parent transid"}, {idFS, "open_ctree"}}},
		{name: "can't find ext4 filesystem", log: join(ubuntuKernel, ubuntuUnits[:3],
			"[    9.000000] EXT4-fs (sdc1): VFS: Can't find ext4 filesystem", "[FAILED] Failed to mount \x1b[0;1;39m/data\x1b[0m.", emergency),
			root: idFS, sig: "cant_find_fs", want: []want{{idFS, "Can't find ext4"}, {idFstab, "Failed to mount"}},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "No ext4 file system on sdc1") {
					t.Errorf("summary %q", r.RootCause.Summary)
				}
			}},
		{name: "disk I/O errors, boot stalled", log: join(ubuntuKernel[:5],
			"[   40.000000] blk_update_request: I/O error, dev sda, sector 2048 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0",
			"[   40.000001] Buffer I/O error on dev sda1, logical block 0, async page read",
			"[   41.000000] sd 0:0:0:0: rejecting I/O to offline device"),
			root: idDiskIO, sig: "io_error", want: []want{{idDiskIO, "blk_update_request"}, {idDiskIO, "Buffer I/O"}, {idDiskIO, "offline device"}}},
	})
}

func TestDiskFullFamily(t *testing.T) {
	runCases(t, []logCase{
		{name: "no space: sshd cannot start", log: join(ubuntuKernel, ubuntuUnits,
			"[   10.000000] systemd-journald[300]: Failed to open system journal: No space left on device",
			"[   12.000000] systemd[1]: ssh.service: Failed at step RUNTIME_DIRECTORY spawning /usr/sbin/sshd: No space left on device",
			"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.", ubuntuMulti, ubuntuLogin),
			root: idDiskFull, sig: "no_space", want: []want{{idDiskFull, "journal: No space"}, {idDiskFull, "RUNTIME_DIRECTORY"}, {idSSHDFailed, "Failed to start"}},
			check: func(t *testing.T, r *Report) {
				if find(r, idDiskFull).Severity != findings.Error {
					t.Error("a full disk that stopped sshd must stay an error")
				}
			}},
		{name: "auditd halts the VM", log: join(healthyUbuntu(),
			"[ 2900.000000] auditd[854]: Audit daemon is low on disk space for logging",
			"[ 3000.000000] auditd[854]: The audit daemon is now halting the system",
			"[  OK  ] Reached target \x1b[0;1;39mSystem Power Off\x1b[0m.", "[ 3001.000000] reboot: Power down"),
			root: idDiskFull, sig: "auditd_halt", want: []want{{idDiskFull, "halting the system"}, {idDiskFull, "low on disk space"}, {idShutdown, "reboot: Power down"}}},
	})
}

func TestSSHDFamily(t *testing.T) {
	units := join(ubuntuKernel, ubuntuUnits)
	runCases(t, []logCase{
		{name: "debian: sshd_config error", log: join(units,
			"[   12.000000] sshd[700]: /etc/ssh/sshd_config line 14: Bad configuration option: PermitRootLogn",
			"[   12.000001] sshd[700]: /etc/ssh/sshd_config: terminating, 1 bad configuration options",
			"[   12.000002] systemd[1]: ssh.service: Control process exited, code=exited, status=255/EXCEPTION",
			"[   12.000003] systemd[1]: ssh.service: Failed with result 'exit-code'.",
			"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.",
			"[   13.000000] systemd[1]: ssh.service: Start request repeated too quickly.", ubuntuMulti, ubuntuLogin),
			root: idSSHDFailed, sig: "config_error",
			want:   []want{{idSSHDFailed, "line 14"}, {idSSHDFailed, "terminating"}, {idSSHDFailed, "Control process"}, {idSSHDFailed, "Failed to start"}, {idSSHDFailed, "repeated too quickly"}},
			absent: []string{idUnitFailed, idSSHDNotStart},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "/etc/ssh/sshd_config line 14: Bad configuration option: PermitRootLogn") || r.LastBoot.SSHD != "failed" {
					t.Errorf("summary %q sshd %q", r.RootCause.Summary, r.LastBoot.SSHD)
				}
			}},
		{name: "rhel: no host keys", log: join(rhelKernel[:2], rhelSwitch,
			"[   12.000000] sshd[812]: sshd: no hostkeys available -- exiting.",
			"[   12.000001] systemd[1]: sshd.service: Main process exited, code=exited, status=1/FAILURE",
			"[FAILED] Failed to start OpenSSH server daemon.", rhelHealthy[1:]),
			root: idSSHDFailed, sig: "no_hostkeys", want: []want{{idSSHDFailed, "no hostkeys"}, {idSSHDFailed, "Failed to start OpenSSH"}},
			absent: []string{idSSHDStopped}},
		{name: "privilege separation directory", log: join(units, "[   12.000000] sshd[700]: fatal: Missing privilege separation directory: /run/sshd",
			"[FAILED] Failed to start OpenBSD Secure Shell server.", ubuntuMulti),
			root: idSSHDFailed, sig: "privsep_dir", want: []want{{idSSHDFailed, "privilege separation"}}},
		{name: "sysvinit debian: sshd failed!", log: join("Linux version 3.16.0-11-amd64 (debian-kernel@lists.debian.org) (gcc version 4.8.4 (Debian 4.8.4-1) ) #1 SMP Debian 3.16.84-1 (2020-06-09)",
			"INIT: Entering runlevel: 2", "[....] Starting OpenBSD Secure Shell server: sshd failed!", "jessie login: "),
			root: idSSHDFailed, sig: "sysv_failed"},
		{name: "rhel6: Starting sshd [FAILED]", log: join("Linux version 2.6.32-754.el6.x86_64 (mockbuild@x86-01.bsys.centos.org) (gcc version 4.4.7 20120313 (Red Hat 4.4.7-23) (GCC) ) #1 SMP Tue Jun 19 21:26:04 UTC 2018",
			"Starting sshd: \x1b[60G[\x1b[0;31mFAILED\x1b[0;39m]\r", "centos6 login: "),
			root: idSSHDFailed, sig: "sysv_failed", want: []want{{idSSHDFailed, "Starting sshd"}}},
		{name: "sshd never started", log: join(units, ubuntuMulti, ubuntuLogin), root: idSSHDNotStart,
			want: []want{{idSSHDNotStart, "Multi-User"}, {idSSHDNotStart, "login:"}},
			check: func(t *testing.T, r *Report) {
				if r.LastBoot.SSHD != "not_started" {
					t.Errorf("sshd %q", r.LastBoot.SSHD)
				}
			}},
		{name: "sshd crashed after start", log: join(units, ubuntuSSHD, ubuntuMulti, ubuntuLogin,
			"[ 3600.000000] systemd[1]: ssh.service: Main process exited, code=killed, status=11/SEGV"),
			root: idSSHDStopped, sig: "exited", want: []want{{idSSHDStopped, "Main process exited"}}},
		{name: "oom killed sshd", log: join(units, ubuntuSSHD, ubuntuMulti, ubuntuLogin,
			"[ 8811.000000] sshd invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=-1000",
			"[ 8812.000000] Out of memory: Killed process 812 (sshd) total-vm:15012kB, anon-rss:1200kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:64kB oom_score_adj:-1000"),
			root: idSSHDStopped, sig: "oom_killed", want: []want{{idSSHDStopped, "Killed process 812"}, {idOOM, "invoked oom-killer"}, {idOOM, "Killed process"}},
			check: func(t *testing.T, r *Report) {
				if s := find(r, idOOM).Summary; !strings.Contains(s, "killed sshd (pid 812)") {
					t.Errorf("oom summary %q", s)
				}
			}},
		{name: "oom killed something else", log: join(healthyUbuntu(),
			"[ 7200.000000] Out of memory: Killed process 2345 (java) total-vm:8123456kB, anon-rss:3456789kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:7000kB oom_score_adj:0"),
			want: []want{{idOOM, "Killed process 2345"}}},
	})
}

func TestNetworkAndCloudInit(t *testing.T) {
	runCases(t, []logCase{
		{name: "ifupdown failed, sshd up", log: join(ubuntuKernel, ubuntuUnits,
			"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mRaise network interfaces\x1b[0m.", "See 'systemctl status networking.service' for details.",
			ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			root: idNetwork, sig: "service_failed", want: []want{{idNetwork, "Raise network interfaces"}}, absent: []string{idUnitFailed},
			check: func(t *testing.T, r *Report) {
				if r.LastBoot.SSHD != "running" || find(r, idNetwork).Severity != findings.Error {
					t.Errorf("%+v", r.LastBoot)
				}
			}},
		{name: "rhel: no DHCP offers", log: join(rhelKernel[:2], rhelSwitch,
			"[   30.000000] dhclient[612]: No DHCPOFFERS received.",
			"[   30.000001] network[700]: Determining IP information for eth0... failed.",
			"[FAILED] Failed to start LSB: Bring up/down networking.", rhelHealthy),
			root: idNetwork, sig: "service_failed", want: []want{{idNetwork, "DHCPOFFERS"}, {idNetwork, "Determining IP"}, {idNetwork, "LSB"}}},
		{name: "netplan yaml error", log: join(ubuntuKernel,
			"[    5.000000] systemd-network-generator[300]: /etc/netplan/50-cloud-init.yaml:11:7: Error in network definition: unknown key 'dhcp'", ubuntuUnits, ubuntuSSHD, ubuntuMulti),
			root: idNetwork, sig: "netplan_error"},
		{name: "azure agent: no routes early, boot fine", log: join(ubuntuKernel, ubuntuUnits,
			"2024-03-01T10:00:00.000000Z WARNING Daemon Daemon /proc/net/route contains no routes", ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			check: func(t *testing.T, r *Report) {
				if f := find(r, idNetwork); f == nil || f.Severity != findings.Warning {
					t.Errorf("no-routes should be a warning here: %v", ids(r))
				}
			}},
		{name: "cloud-init failed, no datasource", log: join(ubuntuKernel, ubuntuUnits,
			"[FAILED] Failed to start \x1b[0;1;39mInitial cloud-init job (metadata service crawler)\x1b[0m.",
			"[   40.000000] cloud-init[900]: Cloud-init v. 23.1 finished at Mon, 01 Jan 2024 00:00:40 +0000. Datasource DataSourceNone.  Up 40.00 seconds",
			"[   40.000001] cloud-init[900]: 2024-01-01 00:00:40,000 - cc_final_message.py[WARNING]: Used fallback datasource",
			ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			want: []want{{idCloudInit, "Initial cloud-init job"}, {idCloudInit, "DataSourceNone"}}, absent: []string{idUnitFailed}},
		{name: "cloud-init error, lab style", log: join(ubuntuKernel[:2], "[    0.000458] cloud-init[210]: ERROR: ssh-keygen ed25519: exit status 1",
			"[    0.014090] systemd[1]: Reached target Multi-User System.", "[    0.025891] systemd[1]: Started ssh.service - OpenBSD Secure Shell server."),
			want: []want{{idCloudInit, "ERROR"}}},
	})
}

func TestSELinuxGrubAndBoundaries(t *testing.T) {
	relabel := func(n int) string {
		return join(rhelKernel[:2], rhelSwitch[4:],
			"[   10.000000] selinux-autorelabel[812]: *** Warning -- SELinux targeted policy relabel is required.",
			"[   10.000001] selinux-autorelabel[812]: *** Relabeling could take a very long time, depending on file",
			fmt.Sprintf("[   %d.000000] selinux-autorelabel[812]: Relabeling / /boot /dev /dev/hugepages", 20+n),
			"[  100.000000] reboot: Restarting system")
	}
	loop := relabel(1) + relabel(2) + join(rhelKernel[:2], "[   10.000000] selinux-autorelabel[812]: *** Warning -- SELinux targeted policy relabel is required.")
	grub := join(healthyUbuntu(), "[  OK  ] Reached target \x1b[0;1;39mSystem Reboot\x1b[0m.", "[ 1234.567890] reboot: Restarting system",
		"\x1b[2J\x1b[01;01H                             GNU GRUB  version 2.06", "error: no such partition.", "Entering rescue mode...", "grub rescue> ")
	runCases(t, []logCase{
		{name: "selinux policy load failure", log: join(rhelKernel[:2], "[    1.700000] systemd[1]: Failed to load SELinux policy. Freezing."),
			root: idSELinux, sig: "policy_load_failed", want: []want{{idSELinux, "SELinux policy"}, {idInit, "Freezing"}}},
		{name: "selinux relabel loop", log: loop, root: idSELinux, sig: "relabel_loop",
			check: func(t *testing.T, r *Report) {
				f := find(r, idSELinux)
				if r.Boots != 3 || len(f.Lines) != 3 || !strings.Contains(f.Summary, "3 boots") {
					t.Errorf("boots %d, finding %+v", r.Boots, f)
				}
			}},
		{name: "one relabel, still running", log: join(rhelKernel[:2], "[   10.000000] selinux-autorelabel[812]: *** Warning -- SELinux targeted policy relabel is required."),
			root: idIncomplete, absent: []string{idSELinux},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "relabel") {
					t.Errorf("summary %q", r.RootCause.Summary)
				}
			}},
		{name: "grub rescue after a good boot", log: grub, root: idGrub, sig: "rescue_prompt",
			want:   []want{{idGrub, "no such partition"}, {idGrub, "Entering rescue mode"}, {idGrub, "grub rescue>"}},
			absent: []string{idOK, idShutdown},
			check: func(t *testing.T, r *Report) {
				if r.Boots != 2 || r.LastBoot.StartedBy != "boot_loader" || r.LastBoot.StartLine != lineOf(t, grub, "GNU GRUB") {
					t.Errorf("boots %d, last boot %+v", r.Boots, r.LastBoot)
				}
			}},
		{name: "grub shell", log: join("    Minimal BASH-like line editing is supported. For the first word, TAB lists possible command completions.", "grub> "),
			root: idGrub, sig: "grub_shell"},
		{name: "grub error it recovered from", log: join("                             GNU GRUB  version 2.06", "error: no such device: 9f5a2e3c-1111.", healthyUbuntu()),
			check: func(t *testing.T, r *Report) {
				if f := find(r, idGrub); f == nil || f.Severity != findings.Warning || r.Boots != 1 {
					t.Errorf("boots %d, %v", r.Boots, ids(r))
				}
			}},
		{name: "shut down at the end", log: join(healthyUbuntu(), "[  OK  ] Stopped \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.",
			"[  OK  ] Reached target \x1b[0;1;39mSystem Power Off\x1b[0m.", "[ 1234.567890] reboot: Power down"),
			root: idShutdown, want: []want{{idShutdown, "Power down"}}, absent: []string{idSSHDStopped, idOK}},
		{name: "broken boot, then a healthy one", log: join(ubuntuKernel, "[    2.300002] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100") + healthyUbuntu(),
			absent: []string{idPanic},
			check: func(t *testing.T, r *Report) {
				if r.Boots != 2 || r.LastBoot.StartLine != len(ubuntuKernel)+2 {
					t.Errorf("boots %d start %d", r.Boots, r.LastBoot.StartLine)
				}
			}},
		{name: "healthy boot, then a broken one", log: healthyUbuntu() + join(ubuntuKernel, "[    2.300002] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100"),
			root: idPanic, absent: []string{idOK}},
		{name: "kernel banner lost: two command lines", log: join(ubuntuKernel[1:], ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuKernel[1:], "[    2.3] Kernel panic - not syncing: No working init found."),
			root: idPanic, sig: "no_init",
			check: func(t *testing.T, r *Report) {
				if r.Boots != 2 {
					t.Errorf("boots %d", r.Boots)
				}
			}},
		{name: "empty log", log: "", root: idIncomplete,
			check: func(t *testing.T, r *Report) {
				if r.Boots != 0 || r.Lines != 0 || !strings.Contains(r.RootCause.Summary, "empty") {
					t.Errorf("%+v", r)
				}
			}},
		{name: "not a console log", log: "hello\nworld\n", root: idIncomplete,
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.RootCause.Summary, "None of the 2 lines") || r.RootCause.Line != 2 || !r.Excerpt {
					t.Errorf("%+v", r.RootCause)
				}
			}},
		{name: "boot still running", log: join(ubuntuKernel, ubuntuUnits[:3]), root: idIncomplete,
			check: func(t *testing.T, r *Report) {
				if r.RootCause.Line != len(ubuntuKernel)+3 {
					t.Errorf("%+v", r.RootCause)
				}
			}},
	})
}

// Unrelated failed units are reported, as info.
func TestOtherUnitsFailed(t *testing.T) {
	log := join(ubuntuKernel, ubuntuUnits, "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mLoad Kernel Modules\x1b[0m.", ubuntuSSHD, ubuntuMulti, ubuntuLogin)
	r := analyze(t, log)
	f := find(r, idUnitFailed)
	if !r.Healthy || f == nil || f.Severity != findings.Info || !strings.Contains(f.Summary, "Load Kernel Modules") {
		t.Fatalf("%v %+v", ids(r), f)
	}
}

// A line made of anchors is analysed in bounded time and memory.
func TestLineOfAnchors(t *testing.T) {
	line := strings.Repeat("Started ssh.service Kernel panic - not syncing: x ", MaxLine/52)
	r := analyze(t, join(ubuntuKernel, line, line))
	if p := find(r, idPanic); p == nil || len(p.Lines) != 2 {
		t.Fatalf("%v", ids(r))
	}
	if n := len(auto.scan([]byte(line), nil)); n < maxHitsPerLine || n > maxHitsPerLine+16 { // one anchor may end in several signatures
		t.Fatal("hits per line are not capped")
	}
}

func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", MaxLine+100) + "Kernel panic - not syncing: hidden after the cut"
	log := join(ubuntuKernel, long, ubuntuUnits, ubuntuSSHD, ubuntuMulti, ubuntuLogin)
	r := analyze(t, log)
	if r.TruncatedLines != 1 || find(r, idPanic) != nil || !r.Healthy {
		t.Fatalf("truncated %d, findings %v", r.TruncatedLines, ids(r))
	}
	if want := strings.Count(log, "\n"); r.Lines != want || r.LastBoot.LoginPromptLine != lineOf(t, log, "login:") {
		t.Fatalf("lines %d (want %d), login at %d", r.Lines, want, r.LastBoot.LoginPromptLine)
	}
	// A long line with the anchor inside the analysed part is still seen.
	r = analyze(t, join(ubuntuKernel, "Kernel panic - not syncing: Fatal exception"+strings.Repeat(" y", MaxLine)))
	if p := find(r, idPanic); p == nil || len(p.Evidence[0]) > maxEvidenceLen+40 {
		t.Fatalf("%v", ids(r))
	}
	// Many lines longer than the buffer in a row.
	r = analyze(t, strings.Repeat(strings.Repeat("z", 3*MaxLine)+"\n", 3)+healthyUbuntu())
	if r.TruncatedLines != 3 || !r.Healthy || r.Lines != 3+strings.Count(healthyUbuntu(), "\n") {
		t.Fatalf("truncated %d, lines %d, %v", r.TruncatedLines, r.Lines, ids(r))
	}
}

func TestTruncatedMessagesAndLastLine(t *testing.T) {
	// The log is cut in the middle of the last line: no newline, and the
	// message incomplete.
	r := analyze(t, join(ubuntuKernel)+"[    2.3] Kernel panic - not sync")
	if find(r, idPanic) != nil || r.Lines != len(ubuntuKernel)+1 {
		t.Fatalf("lines %d %v", r.Lines, ids(r))
	}
	r = analyze(t, join(ubuntuKernel)+"[    2.3] Kernel panic - not syncing: Attempted to kill init!")
	if p := find(r, idPanic); p == nil || p.Line != len(ubuntuKernel)+1 {
		t.Fatalf("%v", ids(r))
	}
}

func TestGarbage(t *testing.T) {
	garbage := make([]byte, 1<<20)
	x := uint32(7)
	for i := range garbage {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		garbage[i] = byte(x)
	}
	r, err := Analyze(strings.NewReader(string(garbage)))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	// Garbage before a real boot does not hide it.
	r = analyze(t, string(garbage)+"\n"+join(ubuntuKernel, "[    2.3] Kernel panic - not syncing: Attempted to kill init!"))
	if r.RootCause == nil || r.RootCause.ID != idPanic {
		t.Fatalf("%v", ids(r))
	}
}

type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("connection reset")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadError(t *testing.T) {
	r, err := Analyze(&failingReader{data: healthyUbuntu()})
	if err == nil || r == nil || r.Lines != strings.Count(healthyUbuntu(), "\n") {
		t.Fatalf("err %v report %+v", err, r)
	}
}

// Evidence is capped, and the rest counted.
func TestEvidenceCap(t *testing.T) {
	var lines []string
	for i := 0; i < 25; i++ {
		lines = append(lines, fmt.Sprintf("[   40.%06d] blk_update_request: I/O error, dev sda, sector %d op 0x0:(READ)", i, i))
	}
	r := analyze(t, join(ubuntuKernel[:4], lines))
	f := find(r, idDiskIO)
	if len(f.Evidence) != maxEvidence || f.MoreLines != 25-maxEvidence || f.Lines[0] != 5 {
		t.Fatalf("%+v", f)
	}
}
