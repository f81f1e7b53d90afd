package guest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// healthyFacts is a VM with nothing wrong, for judging one fact at a time.
func healthyFacts(t *testing.T) *Facts {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Facts{
		SSHDPath: self, SSHDPresent: true, ConfigOK: true, PrivsepDir: true, Port: 22,
		HostKeys:  []string{"/etc/ssh/ssh_host_ed25519_key"},
		Listeners: []Listener{{Addr: "0.0.0.0", Port: 22, PID: 1, Command: "sshd"}},
		Effective: map[string][]string{"port": {"22"}},
		Origins:   map[string]Origin{},
	}
}

func ids(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func find(ps []Problem, id string) *Problem {
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i]
		}
	}
	return nil
}

func TestDiskSpaceDedupesFileSystems(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ds := diskSpace([]string{dir, sub, filepath.Join(dir, "missing"), "/proc"})
	if len(ds) != 2 || !slices.Equal(ds[0].Paths, []string{dir, sub}) || ds[1].Paths[0] != "/proc" {
		t.Fatalf("want %s+sub on one file system and /proc on another, got %+v", dir, ds)
	}
	if ds[0].TotalBytes == 0 || ds[0].TotalInodes == 0 && ds[0].FreeInodes != 0 {
		t.Fatalf("no sizes: %+v", ds[0])
	}
}

func TestJudgeDiskFull(t *testing.T) {
	for _, c := range []struct {
		name string
		d    DiskSpace
		want string // "" = not full; else a word the summary must contain
	}{
		{"big disk, 9 MiB left", DiskSpace{Paths: []string{"/", "/var"}, TotalBytes: 100 << 30, FreeBytes: 9 << 20, TotalInodes: 1e6, FreeInodes: 5e5}, "no space"},
		{"big disk, 50 MiB left", DiskSpace{Paths: []string{"/"}, TotalBytes: 100 << 30, FreeBytes: 50 << 20, TotalInodes: 1e6, FreeInodes: 5e5}, ""},
		{"small tmpfs, half free", DiskSpace{Paths: []string{"/tmp"}, TotalBytes: 4 << 20, FreeBytes: 2 << 20, TotalInodes: 1000, FreeInodes: 900}, ""},
		{"small tmpfs, full", DiskSpace{Paths: []string{"/tmp"}, TotalBytes: 4 << 20, FreeBytes: 0, TotalInodes: 1000, FreeInodes: 900}, "no space"},
		{"inodes gone", DiskSpace{Paths: []string{"/home"}, TotalBytes: 10 << 30, FreeBytes: 5 << 30, TotalInodes: 655360, FreeInodes: 3}, "no inodes"},
		{"no inode accounting (btrfs)", DiskSpace{Paths: []string{"/"}, TotalBytes: 10 << 30, FreeBytes: 5 << 30}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := healthyFacts(t)
			f.Disks = []DiskSpace{c.d}
			ps := Judge(f, JudgeOptions{})
			p := find(ps, "guest.disk_full")
			switch {
			case c.want == "" && p != nil:
				t.Fatalf("judged full: %s", p.Summary)
			case c.want != "" && p == nil:
				t.Fatalf("not judged full: %v", ids(ps))
			case p != nil:
				if !strings.Contains(p.Summary, c.want) || !strings.Contains(p.Summary, c.d.Paths[0]) || !strings.Contains(p.Summary, "sshd") || len(p.Evidence) != 1 || !strings.Contains(p.Evidence[0], "free of") {
					t.Fatalf("summary/evidence: %s %q", p.Summary, p.Evidence)
				}
				if ps[0].ID != "guest.disk_full" {
					t.Fatalf("disk_full is not first (root cause): %v", ids(ps))
				}
			}
		})
	}
}

// A ruleset as `nft -a list ruleset` prints it with fail2ban (nftables
// action), sshguard, ufw, firewalld and iptables-nft rules side by side.
const testRuleset = `table inet filter { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy accept;
		ip saddr 198.51.100.99 tcp dport 22 drop # handle 4
		ip saddr { 192.0.2.7, 192.0.2.8 } tcp dport { 22, 80 } reject # handle 5
		ip saddr != 10.0.0.0/8 tcp dport 22 drop # handle 6
		tcp dport 2222 drop # handle 7
		tcp dport 22 accept # handle 8
	}
}
table inet f2b-table { # handle 2
	set addr-set-sshd { # handle 1
		type ipv4_addr
		elements = { 203.0.113.5, 203.0.113.6,
			     203.0.113.7 }
	}
	chain f2b-chain { # handle 2
		type filter hook input priority filter - 1; policy accept;
		tcp dport 22 ip saddr @addr-set-sshd reject with icmp port-unreachable # handle 3
	}
}
table ip sshguard { # handle 3
	set attackers { # handle 1
		type ipv4_addr
		flags interval
		elements = { 192.0.2.66 }
	}
	chain blacklist { # handle 2
		type filter hook input priority filter - 10; policy accept;
		ip saddr @attackers drop # handle 3
	}
}
table ip filter { # handle 4
	chain INPUT { # handle 1
		type filter hook input priority filter; policy accept;
		meta l4proto tcp tcp dport 22 counter packets 0 bytes 0 drop # handle 9
	}
	chain ufw-user-input { # handle 2
		meta l4proto tcp tcp dport 22 counter packets 0 bytes 0 drop # handle 10
	}
	chain ufw-before-input { # handle 3
		ct state invalid counter packets 0 bytes 0 drop # handle 11
	}
	chain f2b-sshd { # handle 4
		ip saddr 192.0.2.99 counter packets 3 bytes 180 reject # handle 12
		counter packets 0 bytes 0 return # handle 13
	}
}
table inet firewalld { # handle 5
	chain filter_IN_public_deny { # handle 1
		tcp dport 22 reject with icmpx admin-prohibited # handle 14
	}
	chain filter_OUTPUT { # handle 2
		type filter hook output priority filter + 10; policy accept;
		tcp dport 22 drop # handle 15
	}
}
`

func TestParseRulesetBlocksAndBans(t *testing.T) {
	blocks, bans := parseRuleset(testRuleset, []int{22})
	type row struct {
		handle   int
		frontend string
		banned   string
	}
	var gotBlocks, gotBans []row
	for _, r := range blocks {
		gotBlocks = append(gotBlocks, row{r.Handle, r.Frontend, ""})
	}
	for _, r := range bans {
		gotBans = append(gotBans, row{r.Handle, r.Frontend, strings.Join(r.Banned, " ")})
	}
	wantBlocks := []row{{6, "nftables", ""}, {9, "iptables", ""}, {10, "ufw", ""}, {14, "firewalld", ""}}
	wantBans := []row{
		{4, "nftables", "198.51.100.99"},
		{5, "nftables", "192.0.2.7 192.0.2.8"},
		{3, "fail2ban", "203.0.113.5 203.0.113.6 203.0.113.7"},
		{3, "sshguard", "192.0.2.66"},
		{12, "fail2ban", "192.0.2.99"},
	}
	if !slices.Equal(gotBlocks, wantBlocks) {
		t.Errorf("blocks:\n got %v\nwant %v", gotBlocks, wantBlocks)
	}
	if !slices.Equal(gotBans, wantBans) {
		t.Errorf("bans:\n got %v\nwant %v", gotBans, wantBans)
	}
	if blocks[0].Text != "ip saddr != 10.0.0.0/8 tcp dport 22 drop" || blocks[0].Table != "filter" || blocks[0].Chain != "input" || blocks[0].Family != "inet" {
		t.Errorf("rule fields: %+v", blocks[0])
	}
}

func TestJudgeFirewallBlocksVsBans(t *testing.T) {
	f := healthyFacts(t)
	f.Firewall, f.SourceBans = parseRuleset(testRuleset, []int{22})
	f.Fail2ban = parseFail2ban("Status for the jail: sshd\n|- Filter\n`- Actions\n   |- Currently banned:\t2\n   `- Banned IP list:\t203.0.113.5 192.0.2.200\n")
	ps := Judge(f, JudgeOptions{})
	var blocks, bans []*Problem
	for i := range ps {
		switch ps[i].ID {
		case "guest.firewall_blocks":
			blocks = append(blocks, &ps[i])
		case "guest.ssh_source_banned":
			bans = append(bans, &ps[i])
		}
	}
	if len(blocks) != 4 || len(bans) != 6 {
		t.Fatalf("want 4 blocks and 5 rule bans + 1 fail2ban-only ban, got %v", ids(ps))
	}
	for want, p := range map[string]*Problem{
		"ufw allow 22/tcp":                                        blocks[2],
		"firewall-cmd --add-service=ssh --permanent":              blocks[3],
		"/etc/iptables/rules.v4":                                  blocks[1],
		"/etc/nftables.conf":                                      blocks[0],
		"fail2ban-client set sshd unbanip 203.0.113.5":            bans[2],
		"nft delete element ip sshguard attackers { 192.0.2.66 }": bans[3],
		"fail2ban-client set sshd unbanip 192.0.2.200":            bans[5],
	} {
		if !strings.Contains(p.Remediation, want) {
			t.Errorf("%s %s: remediation %q lacks %q", p.ID, p.Summary, p.Remediation, want)
		}
	}
	if !strings.Contains(bans[0].Summary, "198.51.100.99") || !strings.Contains(bans[2].Summary, "203.0.113.7") {
		t.Errorf("ban summaries name no addresses: %s / %s", bans[0].Summary, bans[2].Summary)
	}
	// Repair deletes blocks, never bans.
	acts := Plan(f, ps, RepairOptions{})
	for _, a := range acts {
		if a.For == "guest.ssh_source_banned" && a.Skipped == "" {
			t.Errorf("repair acts on a ban: %+v", a)
		}
	}
	n := 0
	for _, a := range acts {
		if a.For == "guest.firewall_blocks" && a.Skipped == "" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("repair deletes %d blocking rules, want 4", n)
	}
}

func TestSSHDLogTail(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/log"), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	// Old refusals beyond the 256 KiB tail must not be read.
	b.WriteString("Nov 24 01:00:00 vm sshd[10]: Invalid user ancient from 192.0.2.1 port 1\n")
	for b.Len() < 300<<10 {
		b.WriteString("Nov 25 01:00:00 vm CRON[99]: pam_unix(cron:session): session opened for user root\n")
	}
	b.WriteString("Nov 25 02:00:00 vm sudo[5]: error: not from sshd\n")
	b.WriteString("Nov 25 02:00:01 vm sshd[11]: Accepted publickey for alice from 192.0.2.2 port 2 ssh2\n")
	for i := range 12 {
		b.WriteString("Nov 25 02:00:02 vm sshd[12]: Invalid user u" + string(rune('a'+i)) + " from 192.0.2.3 port 3\n")
	}
	b.WriteString("Nov 25 02:00:03 vm sshd[13]: Authentication refused: bad ownership or modes for directory /home/alice\n")
	b.WriteString("2026-11-25T02:00:04.000000+00:00 vm sshd-session[14]: User bob from 192.0.2.4 not allowed because not listed in AllowUsers\n")
	if err := os.WriteFile(filepath.Join(root, "var/log/auth.log"), []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	l := sshdLog(t.Context(), root)
	if l == nil || l.Source != "/var/log/auth.log" || len(l.Lines) != 10 {
		t.Fatalf("got %+v", l)
	}
	if !strings.Contains(l.Lines[8], "bad ownership or modes") || !strings.Contains(l.Lines[9], "not allowed because") || !strings.Contains(l.Lines[0], "Invalid user ue") {
		t.Fatalf("wrong lines: %q", l.Lines)
	}
	for _, x := range l.Lines {
		if strings.Contains(x, "ancient") || strings.Contains(x, "sudo") || strings.Contains(x, "Accepted") {
			t.Fatalf("kept %q", x)
		}
	}
	// /var/log/secure (RHEL) when there is no auth.log.
	if err := os.Rename(filepath.Join(root, "var/log/auth.log"), filepath.Join(root, "var/log/secure")); err != nil {
		t.Fatal(err)
	}
	if l = sshdLog(t.Context(), root); l == nil || l.Source != "/var/log/secure" || len(l.Lines) != 10 {
		t.Fatalf("secure: %+v", l)
	}

	// The judged report: the root cause first, sshd's log after it.
	f := healthyFacts(t)
	f.Nologin = true
	f.Log = l
	ps := Judge(f, JudgeOptions{})
	if got := ids(ps); !slices.Equal(got, []string{"guest.nologin_file", "guest.sshd_log"}) {
		t.Fatalf("order: %v", got)
	}
	if last := ps[1]; last.Severity != "info" || len(last.Evidence) != 10 || !strings.Contains(last.Summary, "/var/log/secure") {
		t.Fatalf("log finding: %+v", last)
	}
	f.Nologin = false
	if got := ids(Judge(f, JudgeOptions{})); !slices.Equal(got, []string{"guest.ok", "guest.sshd_log"}) {
		t.Fatalf("healthy with a log: %v", got)
	}
}

func TestProcessStart(t *testing.T) {
	// This process, through the real /proc: it started moments ago.
	got, err := processStart("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(got); d < -2*time.Second || d > 10*time.Minute {
		t.Fatalf("this test process started %s ago?", d)
	}
	// A comm with spaces and ')' in it, in a made-up /proc.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "42"), 0o755); err != nil {
		t.Fatal(err)
	}
	stat := "42 (ssh) d (x)) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 100 0 0 0\n"
	if err := os.WriteFile(filepath.Join(root, "42/stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = processStart(root, 42)
	if want := time.Unix(1700000000, 0).Add(123450 * time.Millisecond); err != nil || !got.Equal(want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
}

func TestJudgeSystemdUnits(t *testing.T) {
	out := `Id=ssh.service
LoadState=loaded
ActiveState=failed
SubState=failed
NRestarts=5
Result=start-limit-hit
ActiveEnterTimestamp=Wed 2026-11-25 10:00:00 UTC

Id=ssh.service
LoadState=loaded
ActiveState=failed
SubState=failed
NRestarts=5
Result=start-limit-hit
ActiveEnterTimestamp=Wed 2026-11-25 10:00:00 UTC
`
	units := parseSystemctlShow(out)
	if len(units) != 1 || units[0] != (UnitState{Unit: "ssh.service", ActiveState: "failed", SubState: "failed", Result: "start-limit-hit", NRestarts: 5, ActiveEnter: "Wed 2026-11-25 10:00:00 UTC"}) {
		t.Fatalf("alias not deduplicated or fields wrong: %+v", units)
	}
	notFound := "Id=sshd.service\nLoadState=not-found\nActiveState=inactive\nNRestarts=0\n\nId=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=4\nResult=success\n"
	loop := parseSystemctlShow(notFound)
	if len(loop) != 1 || loop[0].Unit != "ssh.service" || loop[0].NRestarts != 4 {
		t.Fatalf("not-found unit kept: %+v", loop)
	}

	f := healthyFacts(t)
	f.ServiceMgr = "systemd"
	f.Units = units
	f.Listeners = nil
	ps := Judge(f, JudgeOptions{})
	if got := ids(ps); !slices.Equal(got, []string{"guest.sshd_unit_failed", "guest.sshd_not_running"}) {
		t.Fatalf("failed unit: %v", got)
	}
	if !strings.Contains(ps[0].Summary, "start-limit-hit") || !strings.Contains(ps[0].Remediation, "systemctl reset-failed ssh.service") || ps[0].Unit != "ssh.service" {
		t.Fatalf("failed unit finding: %+v", ps[0])
	}
	acts := Plan(f, ps, RepairOptions{})
	if len(acts) != 2 || !strings.Contains(acts[0].Description, "reset-failed") || !acts[0].sshd {
		t.Fatalf("plan: %+v", acts)
	}

	f = healthyFacts(t)
	f.Units = loop
	f.SSHDPID, f.SSHDSince = 77, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ps = Judge(f, JudgeOptions{})
	if got := ids(ps); !slices.Equal(got, []string{"guest.sshd_crash_loop"}) || ps[0].Severity != "warning" || !strings.Contains(ps[0].Summary, "4 times") || !strings.Contains(strings.Join(ps[0].Evidence, "\n"), "pid 77") {
		t.Fatalf("crash loop: %+v", ps)
	}
	loop[0].NRestarts = 2
	ps = Judge(f, JudgeOptions{})
	if got := ids(ps); !slices.Equal(got, []string{"guest.ok"}) || !strings.Contains(ps[0].Evidence[0], "listening since 2026-11-25T10:00:00Z") {
		t.Fatalf("2 restarts: %+v", ps)
	}
}

// SELinux cannot be enforced on the test machine or in the lab: the
// enforce switch is a file under a test root and the labels come from an
// injected reader; the judgement and the plan are the real ones.
func TestJudgeSELinuxContext(t *testing.T) {
	root := t.TempDir()
	if selinuxEnforcing(root) {
		t.Fatal("enforcing without /sys/fs/selinux/enforce")
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/fs/selinux"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ content string }{{"0\n"}, {"1\n"}} {
		if err := os.WriteFile(filepath.Join(root, "sys/fs/selinux/enforce"), []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := selinuxEnforcing(root); got != (c.content == "1\n") {
			t.Fatalf("enforce %q: %v", c.content, got)
		}
	}
	labels := map[string]string{
		root + "/home/alice/.ssh":                 "unconfined_u:object_r:ssh_home_t:s0",
		root + "/home/alice/.ssh/authorized_keys": "unconfined_u:object_r:user_home_t:s0",
		root + "/home/bob/.ssh":                   "unconfined_u:object_r:ssh_home_t:s0",
		root + "/home/bob/.ssh/authorized_keys":   "unconfined_u:object_r:ssh_home_t:s0",
		root + "/root/.ssh":                       "unconfined_u:object_r:admin_home_t:s0",
		root + "/etc/ssh/keys/carol":              "system_u:object_r:etc_t:s0",
	}
	var asked []string
	read := func(p string) (string, error) {
		asked = append(asked, strings.TrimPrefix(p, root))
		if l, ok := labels[p]; ok {
			return l, nil
		}
		return "", os.ErrNotExist
	}
	kf := func(p string) []KeyFile { return []KeyFile{{Path: p, Found: true, Keys: []string{"ssh-ed25519"}}} }
	f := healthyFacts(t)
	f.SELinux = true
	f.Users = []UserFacts{
		{Name: "alice", Exists: true, Home: "/home/alice", ShellOK: true, KeyFiles: kf("/home/alice/.ssh/authorized_keys")},
		{Name: "bob", Exists: true, Home: "/home/bob", ShellOK: true, KeyFiles: kf("/home/bob/.ssh/authorized_keys")},
		{Name: "root", Exists: true, Home: "/root", ShellOK: true, KeyFiles: append(kf("/root/.ssh/authorized_keys"), KeyFile{Path: "/root/.ssh/authorized_keys2"})},
		{Name: "carol", Exists: true, Home: "/home/carol", ShellOK: true, KeyFiles: kf("/etc/ssh/keys/carol")},
	}
	f.Labels = sshLabels(root, f.Users, read)
	// Key files outside the home are not ssh_home_t by design: not read.
	if want := []string{"/home/alice/.ssh", "/home/alice/.ssh/authorized_keys", "/home/bob/.ssh", "/home/bob/.ssh/authorized_keys", "/root/.ssh", "/root/.ssh/authorized_keys", "/home/carol/.ssh"}; !slices.Equal(asked, want) {
		t.Fatalf("read labels of %q, want %q", asked, want)
	}
	ps := Judge(f, JudgeOptions{})
	var got []string
	for _, p := range ps {
		if p.ID == "guest.selinux_context" {
			got = append(got, p.User+" "+typeOf(p.Paths[0].Reason))
			if !strings.Contains(p.Remediation, "restorecon -Rv "+filepath.Join(f.Users[slices.IndexFunc(f.Users, func(u UserFacts) bool { return u.Name == p.User })].Home, ".ssh")) {
				t.Errorf("remediation: %s", p.Remediation)
			}
		}
	}
	if !slices.Equal(got, []string{"alice user_home_t", "root admin_home_t"}) {
		t.Fatalf("selinux findings %v in %v", got, ids(ps))
	}
	acts := Plan(f, ps, RepairOptions{})
	for _, a := range acts {
		if a.For != "guest.selinux_context" {
			continue
		}
		if _, err := exec.LookPath("restorecon"); err != nil {
			if !strings.Contains(a.Skipped, "restorecon is not installed") {
				t.Errorf("without restorecon: %+v", a)
			}
		} else if !strings.Contains(a.Description, "restorecon -R") {
			t.Errorf("with restorecon: %+v", a)
		}
	}
	// Not enforcing: labels are not read, nothing is judged.
	f.SELinux, f.Labels = false, nil
	if p := find(Judge(f, JudgeOptions{}), "guest.selinux_context"); p != nil {
		t.Fatalf("judged without labels: %+v", p)
	}
	// The real reader on a file without a label (this machine) fails
	// cleanly instead of inventing one.
	if l, err := lgetxattrLabel(t.TempDir()); err == nil && l == "" {
		t.Fatalf("empty label without an error")
	}
}

// TestReadKeyFileSymlinks: a key file that is a symbolic link is named,
// and read only when it leads to a regular file of the user's own inside
// the home. A link to /etc/shadow must not turn into a count of its lines.
func TestReadKeyFileSymlinks(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv3N6c2ncR8eF0ly2zY1s9X8bC3bF6Yk0h6nA3v2mQx alice@laptop\n"
	base := t.TempDir()
	home := filepath.Join(base, "home", "alice")
	ssh := filepath.Join(home, ".ssh")
	outside := filepath.Join(base, "shadow")
	for _, d := range []string{ssh, filepath.Join(home, "dotfiles"), filepath.Join(base, "elsewhere")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(outside, "root:$6$x:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
	write(filepath.Join(home, "dotfiles", "keys"), key)
	write(filepath.Join(base, "elsewhere", "authorized_keys"), key)
	u := UserFacts{Name: "alice", Home: home, UID: os.Getuid(), GID: os.Getgid()}
	file := filepath.Join(ssh, "authorized_keys")
	link := func(target string) {
		os.Remove(file)
		if err := os.Symlink(target, file); err != nil {
			t.Fatal(err)
		}
	}

	plain := readKeyFile(filepath.Join(base, "elsewhere", "authorized_keys"), u)
	if plain.Symlink || plain.NotRead != "" || len(plain.Keys) != 1 {
		t.Fatalf("a plain file outside the home (AuthorizedKeysFile /etc/ssh/keys/%%u): %+v", plain)
	}

	link(outside)
	kf := readKeyFile(file, u)
	if !kf.Found || !kf.Symlink || kf.LinkTarget != outside || !strings.Contains(kf.NotRead, "outside alice's home") || kf.Bad != 0 || len(kf.Keys) != 0 {
		t.Fatalf("link to a file outside the home: %+v", kf)
	}

	link("../dotfiles/keys")
	if kf := readKeyFile(file, u); !kf.Symlink || kf.LinkTarget != "../dotfiles/keys" || kf.NotRead != "" || len(kf.Keys) != 1 {
		t.Fatalf("link to the user's own file in the home: %+v", kf)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(filepath.Join(home, "dotfiles", "keys"), 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if kf := readKeyFile(file, u); !strings.Contains(kf.NotRead, "uid 4242") || len(kf.Keys) != 0 {
			t.Fatalf("link to another user's file in the home: %+v", kf)
		}
	}

	// ~/.ssh itself a link: the file's last component is not.
	os.RemoveAll(ssh)
	if err := os.Symlink(filepath.Join(base, "elsewhere"), ssh); err != nil {
		t.Fatal(err)
	}
	if kf := readKeyFile(file, u); !kf.Symlink || kf.LinkTarget != filepath.Join(base, "elsewhere", "authorized_keys") || kf.NotRead == "" || len(kf.Keys) != 0 {
		t.Fatalf("~/.ssh a link out of the home: %+v", kf)
	}

	// A FIFO nobody writes to must not hang the check.
	os.Remove(ssh)
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan KeyFile, 1)
	go func() { done <- readKeyFile(file, u) }()
	select {
	case kf := <-done:
		if kf.NotRead != "not a regular file" || kf.Symlink {
			t.Fatalf("FIFO: %+v", kf)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO key file hangs")
	}
}

func TestJudgeKeyFileSymlink(t *testing.T) {
	f := healthyFacts(t)
	dotfiles := KeyFile{Path: "/home/alice/.ssh/authorized_keys", Found: true, Keys: []string{"ssh-ed25519"}, Symlink: true, LinkTarget: "../dotfiles/keys"}
	shadow := KeyFile{Path: "/home/bob/.ssh/authorized_keys", Found: true, Symlink: true, LinkTarget: "/etc/shadow", NotRead: "the link leads outside bob's home"}
	f.Users = []UserFacts{
		{Name: "alice", Exists: true, Home: "/home/alice", ShellOK: true, KeyFiles: []KeyFile{dotfiles}},
		{Name: "bob", Exists: true, Home: "/home/bob", ShellOK: true, KeyFiles: []KeyFile{shadow}},
	}
	ps := Judge(f, JudgeOptions{})
	var alice, bob []Problem
	for _, p := range ps {
		switch p.User {
		case "alice":
			alice = append(alice, p)
		case "bob":
			bob = append(bob, p)
		}
	}
	// Nothing else wrong: a warning of its own, which does not block.
	if len(alice) != 1 || alice[0].ID != "guest.authorized_keys_symlink" || alice[0].Severity != "warning" ||
		!strings.Contains(strings.Join(alice[0].Evidence, "\n"), "symbolic link to ../dotfiles/keys") {
		t.Fatalf("alice: %+v", alice)
	}
	// Not read: no key, and the link is evidence on that finding.
	if len(bob) != 1 || bob[0].ID != "guest.no_authorized_keys" ||
		!strings.Contains(strings.Join(bob[0].Evidence, "\n"), "symbolic link to /etc/shadow: sshd follows it, sshdoctor's repairs never write through it; not read: the link leads outside bob's home") {
		t.Fatalf("bob: %+v", bob)
	}
}
