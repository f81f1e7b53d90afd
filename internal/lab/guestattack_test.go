package lab_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// Issue 10: `sshdoctor guest` runs as root on paths a local user owns. These
// tests play that user (mallory) inside a lab VM and prove that no run —
// raced, fed links, or killed — changes what only root may change.

const (
	// runTimeout bounds one `sshdoctor guest …` run inside the race and
	// kill loops: a healthy run takes well under a second; a hung one must
	// not eat the whole test's budget.
	runTimeout = 20 * time.Second
	// raceScriptTimeout bounds the whole race script (288 runs at 0.2 to
	// 0.8 s each, plus the checks between rounds).
	raceScriptTimeout = 4 * time.Minute
	// raceCycles × 6 commands × len(racePhases) ≥ 200 runs under attack.
	raceCycles = 12
	// killRuns is how many runs TestGuestKillNineLeavesNoTemp kills.
	killRuns = 60
	// attackerPath is where the VM finds the attacker: /run is the VM's
	// own tmpfs (the host's /usr/local/bin is not the VM's to write).
	attackerPath = "/run/lab/bin/sdattack"
	// work is the tests' scratch directory in the VM: root's only (0700),
	// on the VM's own /tmp, outside every tree the tests compare.
	work = "/tmp/sdattack"
	// droppedIn is mallory's own sudoers drop-in, which `guest apply`
	// with a username grants as VMAccessForLinux does: legitimately there
	// or not, so protected leaves it out and dropin reports it alone.
	droppedIn = "/etc/sudoers.d/90-sshdoctor-mallory"
)

// protectedShell defines the VM shell functions the tests judge by.
// protected prints mode, owner, type, link target and content hash of
// /etc/shadow, /etc/sudoers, everything under /etc/sudoers.d and /root,
// and the names and modes of /etc's own entries (a rename into /etc shows).
// dropin prints the state of mallory's own drop-in on one line.
const protectedShell = `
protected() {
	find /etc/shadow /etc/sudoers /etc/sudoers.d /root ! -path ` + droppedIn + ` -printf '%m %u %g %y %p -> %l\n' 2>&1 | sort
	find /etc/shadow /etc/sudoers /etc/sudoers.d /root -type f ! -path ` + droppedIn + ` -exec sha256sum {} + 2>&1 | sort -k2
	find /etc -maxdepth 1 -printf '%m %u %g %y %p\n' | sort
}
dropin() {
	if [ -e ` + droppedIn + ` ] || [ -L ` + droppedIn + ` ]; then
		echo "dropin: $(stat -c '%a %U %G %F' ` + droppedIn + `) $(sha256sum < ` + droppedIn + `)"
	else
		echo "dropin: absent"
	fi
}
`

// attackLab is a lab VM with the local user mallory (a login account:
// home, password, a key in ~/.ssh/authorized_keys) and root's own canary
// files in /root/.ssh.
type attackLab struct {
	*guestUserLab
	// baitKey is mallory's own key: what her authorized_keys holds.
	baitKey string
	// adminKey is the key root hands sshdoctor (--ssh-key, ssh_key).
	adminKey string
}

func newAttackLab(t *testing.T, name, prefix string) *attackLab {
	t.Helper()
	s, bin := upLab(t, name, prefix)
	a := &attackLab{
		guestUserLab: &guestUserLab{t: t, s: s, v: s.VMs[0], bin: bin},
		baitKey:      keyLine(t, "mallory@laptop"),
		adminKey:     keyLine(t, "admin-given@laptop"),
	}
	if a.sh("command -v visudo >/dev/null && test -f /etc/sudoers").ExitCode != 0 {
		// Never a skip: sudoers is half of what these tests protect.
		t.Fatal("sudo (visudo, /etc/sudoers) is not installed: scripts/deps.sh must install it")
	}
	pw := make([]byte, 9)
	_, _ = rand.Read(pw)
	a.out(fmt.Sprintf(`set -e
install -d -m 700 %[1]s
useradd -m -s /bin/bash mallory
printf 'mallory:Mallory-%[2]s\n' | chpasswd
install -d -m 700 /root/.ssh
printf '%%s\n# sdattack-canary: root authorizes this key\n' %[3]s > /root/.ssh/authorized_keys
printf 'sdattack-canary: stands for root private key\n' > /root/.ssh/id_ed25519
chmod 600 /root/.ssh/authorized_keys /root/.ssh/id_ed25519
visudo -c >/dev/null`, work, hex.EncodeToString(pw), shellQuote([]string{keyLine(t, "root@admin")})))
	a.resetHome()
	return a
}

// keyLine makes an ed25519 public key as one authorized_keys line.
func keyLine(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

// run is sh with a longer bound, for the loops.
func (a *attackLab) run(script string, timeout time.Duration) *cloud.RunResult {
	a.t.Helper()
	res, err := a.s.Exec(context.Background(), a.v, script, timeout)
	if err != nil {
		if res != nil {
			a.t.Fatalf("%v\n%s%s", err, res.Stdout, res.Stderr)
		}
		a.t.Fatal(err)
	}
	return res
}

// asMallory runs a script as mallory (her uid, gid and groups, her HOME).
func (a *attackLab) asMallory(script string) {
	a.t.Helper()
	a.out("cd /home/mallory && setpriv --reuid=mallory --regid=mallory --init-groups env HOME=/home/mallory sh -ec " + shellQuote([]string{script}))
}

// resetHome gives mallory a normal ~/.ssh (0700) with her key (0600) and
// removes whatever an attack left in her home.
func (a *attackLab) resetHome() {
	a.t.Helper()
	a.out(fmt.Sprintf(`set -e
# mountpoint and umount follow a symlink: ~/.ssh -> /etc would unmount
# the VM's /etc.
while [ ! -L /home/mallory/.ssh ] && mountpoint -q /home/mallory/.ssh; do umount /home/mallory/.ssh; done
rm -rf /home/mallory/.ssh /home/mallory/.ssh.away /home/mallory/.sdattack-ssh /home/mallory/evil
install -d -m 700 -o mallory -g mallory /home/mallory/.ssh
printf '%%s\n' %s > /home/mallory/.ssh/authorized_keys
chown mallory:mallory /home/mallory/.ssh/authorized_keys
chmod 600 /home/mallory/.ssh/authorized_keys`, shellQuote([]string{a.baitKey})))
}

// protected returns the VM's protected state (protectedShell), mallory's
// sudoers drop-in included: only the race runs `guest apply`.
func (a *attackLab) protected() string {
	a.t.Helper()
	return a.out(protectedShell + "protected; dropin")
}

// requireProtected reports every line of the protected state that differs
// from before, and a failing `visudo -c`.
func (a *attackLab) requireProtected(before, what string) {
	a.t.Helper()
	if after := a.protected(); after != before {
		a.t.Errorf("%s changed what only root may change:\n%s", what, lineDiff(before, after))
	}
	if res := a.sh("visudo -c"); res.ExitCode != 0 {
		a.t.Errorf("%s: visudo -c fails afterwards:\n%s%s", what, res.Stdout, res.Stderr)
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "  - "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "  + "+l)
		}
	}
	return strings.Join(out, "\n")
}

// guest runs `sshdoctor guest ARGS` in the VM.
func (a *attackLab) guest(args ...string) *cloud.RunResult {
	a.t.Helper()
	return a.sh("sshdoctor guest " + shellQuote(args))
}

// heal undoes what a vulnerable run may have done to the protected files
// (modes, owners; files and links added to /etc, /etc/sudoers.d and
// /root), so one case's damage does not decide the next case.
func (a *attackLab) heal(orig string) {
	a.t.Helper()
	var script strings.Builder
	keep := map[string]bool{}
	for _, l := range strings.Split(orig, "\n") {
		f := strings.Fields(l)
		// "%m %u %g %y %p -> %l" and "%m %u %g %y %p" lines.
		if len(f) < 5 || len(f[0]) > 4 || strings.Trim(f[0], "01234567") != "" {
			continue
		}
		keep[f[4]] = true
		if f[3] != "l" {
			fmt.Fprintf(&script, "chown %s:%s %s; chmod %s %s\n", f[1], f[2], shellQuote([]string{f[4]}), f[0], shellQuote([]string{f[4]}))
		}
	}
	now := a.out("find /etc -maxdepth 1; find /etc/sudoers.d /root ! -path " + droppedIn)
	for _, p := range strings.Split(now, "\n") {
		if p != "" && !keep[p] {
			fmt.Fprintf(&script, "rm -f %s\n", shellQuote([]string{p}))
		}
	}
	a.sh(script.String()) // best effort: what it cannot put back, the next case's own baseline holds
}

// installAttacker builds testdata/attacker and puts it where the VM's
// processes can run it: the host reaches the VM's own /run through its
// init's root (/proc/PID/root), as the lab does to see /run/lab-ready.
func installAttacker(t *testing.T, v *lab.VMState) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "attacker")
	build := exec.Command("go", "build", "-o", bin, "./testdata/attacker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the attacker: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/root%s", v.InitPID, attackerPath), data, 0o755); err != nil {
		t.Fatalf("copy the attacker into the VM: %v", err)
	}
}

// racePhases are the attacker's modes and targets, one phase each.
var racePhases = []struct{ mode, target string }{
	{"keyfile", "/etc/shadow"},   // ~/.ssh/authorized_keys (0666) ⇄ link
	{"sshdir", "/root/.ssh"},     // ~/.ssh (0777) ⇄ link
	{"sshdir", "/etc/sudoers.d"}, // ~/.ssh (0777) ⇄ link
	{"sshdir", "/etc"},           // any directory: ~/.ssh ⇄ link
}

// raceScript runs in the VM: a warm-up run of each command without an
// attacker (one-time changes, such as the sudoers drop-in apply grants,
// happen before the baseline), then per phase mallory's attacker and
// raceCycles rounds of the six root commands, the protected state checked
// after every round (a phase ends at its first change). It prints
// "FAIL: …" lines, the attackers' own reports ("== attacker …" then its
// output), "RUNS n" and exit-code tallies.
const raceScript = `set -u
W=` + work + `
T={timeout}
KEY={adminKey}
BAIT={baitKey}
` + protectedShell + `
printf '{"username": "mallory", "ssh_key": "%s"}\n' "$KEY" > $W/settings.json
one() {
	case $1 in
	1) timeout $T sshdoctor guest repair --yes ;;
	2) timeout $T sshdoctor guest repair --yes --user mallory --ssh-key "$KEY" ;;
	3) timeout $T sshdoctor guest reset-ssh --yes ;;
	4) timeout $T sshdoctor guest user set mallory --ssh-key "$KEY" --yes ;;
	5) timeout $T sshdoctor guest apply --settings $W/settings.json ;;
	6) timeout $T sshdoctor guest restore ;;
	esac
}
name() { case $1 in 1) echo repair;; 2) echo repair-user-key;; 3) echo reset-ssh;; 4) echo user-set;; 5) echo apply;; 6) echo restore;; esac; }
check() {
	protected > $W/now
	if ! cmp -s $W/base $W/now; then
		echo "FAIL: protected files changed $1:"; diff $W/base $W/now | grep '^[<>]' | head -n 30
		return 1
	fi
	d=$(dropin)
	if [ "$d" != "dropin: absent" ] && [ "$d" != "$(cat $W/dropin.base)" ]; then
		echo "FAIL: $1: mallory's $d is not the one apply writes ($(cat $W/dropin.base))"
		return 1
	fi
	if [ $visudo_ok = 1 ] && ! visudo -c > $W/visudo.out 2>&1; then
		echo "FAIL: visudo -c fails $1: $(tr '\n' ' ' < $W/visudo.out)"
		return 1
	fi
}
for c in 1 2 3 4 5 6; do
	one $c > $W/warmup.log 2>&1
	[ $c = 5 ] && dropin > $W/dropin.base
done
grep -q absent $W/dropin.base && { echo "FAIL: guest apply for mallory wrote no sudoers drop-in (the test's model of apply is wrong)"; exit 1; }
visudo -c > /dev/null || { echo "FAIL: visudo -c fails before the attack"; exit 1; }
runs=0
for phase in {phases}; do
	mode=${phase%%:*}; target=${phase#*:}
	# Each phase is judged on its own: after a phase the attacker won,
	# the next one starts from the state it left.
	protected > $W/base
	visudo_ok=0; visudo -c > /dev/null 2>&1 && visudo_ok=1
	failed=0
	rm -rf /home/mallory/.ssh /home/mallory/.sdattack-ssh
	install -d -m 700 -o mallory -g mallory /home/mallory/.ssh
	setpriv --reuid=mallory --regid=mallory --init-groups env HOME=/home/mallory \
		{attacker} -mode $mode -target $target -key "$BAIT" -for 200s > $W/attacker.log 2>&1 &
	apid=$!
	sleep 0.3
	for i in $(seq {cycles}); do
		for c in 1 2 3 4 5 6; do
			echo "== $mode $target round $i $(name $c)" >> $W/runs.log
			one $c >> $W/runs.log 2>&1
			echo "$(name $c) exit $?" >> $W/codes
			runs=$((runs+1))
		done
		check "after round $i of $mode -> $target (runs so far: $runs)" || { failed=1; break; }
	done
	kill $apid 2>/dev/null; wait $apid
	echo "== attacker $mode $target"
	cat $W/attacker.log
done
echo "RUNS $runs"
sort $W/codes | uniq -c | sed 's/^/  tally /'
`

// TestGuestAttackerRaces: while mallory swaps ~/.ssh or authorized_keys
// with symlinks to /etc/shadow, /root/.ssh, /etc/sudoers.d and /etc as
// fast as renameat2 allows, root runs every guest command that touches a
// user's files, over 200 times; /etc/shadow, sudoers and /root must stay
// byte-, mode- and owner-identical, visudo must pass, and nothing root
// read may land in a file mallory can read.
func TestGuestAttackerRaces(t *testing.T) {
	a := newAttackLab(t, "r", "sdxr")
	installAttacker(t, a.v)
	var phases []string
	for _, p := range racePhases {
		phases = append(phases, p.mode+":"+p.target)
	}
	script := strings.NewReplacer(
		"{timeout}", strconv.Itoa(int(runTimeout/time.Second)),
		"{adminKey}", shellQuote([]string{a.adminKey}),
		"{baitKey}", shellQuote([]string{a.baitKey}),
		"{phases}", strings.Join(phases, " "),
		"{attacker}", attackerPath,
		"{cycles}", strconv.Itoa(raceCycles),
	).Replace(raceScript)
	start := time.Now()
	res := a.run(script, raceScriptTimeout)
	t.Logf("race script: exit %d after %s\n%s%s", res.ExitCode, time.Since(start).Round(time.Second), res.Stdout, res.Stderr)

	var fails []string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(l, "FAIL: ") || strings.HasPrefix(l, "LEAK ") || strings.HasPrefix(l, "< ") || strings.HasPrefix(l, "> ") {
			fails = append(fails, l)
		}
	}
	if len(fails) > 0 {
		t.Errorf("the attacker won:\n%s", strings.Join(fails, "\n"))
		t.Logf("the last runs:\n%s", a.out("tail -n 40 "+work+"/runs.log"))
	}
	m := regexp.MustCompile(`(?m)^RUNS (\d+)$`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("the race script did not finish (exit %d)", res.ExitCode)
	}
	if n, _ := strconv.Atoi(m[1]); n < 200 && len(fails) == 0 {
		t.Errorf("only %d runs under attack, want ≥ 200", n)
	}
	// Each attacker reports its exchanges: none means no race happened.
	for _, s := range regexp.MustCompile(`(?m)^swaps (\d+) `).FindAllStringSubmatch(res.Stdout, -1) {
		if n, _ := strconv.Atoi(s[1]); n < 1000 {
			t.Errorf("an attacker made only %d exchanges: it raced nothing", n)
		}
	}
}

// TestGuestRefusesLinks feeds root links mallory made, no race needed:
// a backup set restored through a symlinked ~/.ssh, a hard-linked
// authorized_keys, a ~/.ssh replaced between check and repair, and a bind
// mount of /etc/sudoers.d over ~/.ssh. The protected state must not change.
func TestGuestRefusesLinks(t *testing.T) {
	a := newAttackLab(t, "l", "sdxl")
	orig := a.protected()

	for _, target := range []string{"/etc/shadow", "/root/.ssh", "/etc/sudoers.d"} {
		t.Run("restore-through-symlink-to-"+strings.ReplaceAll(strings.TrimPrefix(target, "/"), "/", "-"), func(t *testing.T) {
			a.t = t
			a.heal(orig)
			a.resetHome()
			a.out("chmod 0777 /home/mallory/.ssh")
			res := a.guest("repair", "--yes", "--user", "mallory")
			set := a.out("ls -1d /var/backups/sshdoctor/*/ 2>/dev/null | tail -n 1")
			if set == "" || !strings.Contains(a.out("cat "+set+"manifest.json"), `"/home/mallory/.ssh"`) {
				t.Fatalf("precondition: repair of a 0777 ~/.ssh made no backup set holding ~/.ssh (exit %d)\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			a.asMallory("mv .ssh .ssh.away && ln -s " + target + " .ssh")
			before := a.protected()
			res = a.guest("restore")
			out := res.Stdout + res.Stderr
			t.Logf("guest restore: exit %d\n%s", res.ExitCode, out)
			if res.ExitCode == 0 {
				t.Errorf("guest restore put a set back although ~/.ssh is now a symlink to %s (exit 0)", target)
			}
			if !strings.Contains(out, "/home/mallory/.ssh") {
				t.Errorf("guest restore does not name the path that changed (/home/mallory/.ssh)")
			}
			a.requireProtected(before, "guest restore through ~/.ssh -> "+target)
			if a.sh("test -f /root/.ssh/authorized_keys").ExitCode != 0 {
				t.Error("/root/.ssh/authorized_keys is gone")
			}
		})
	}

	t.Run("hard-link", func(t *testing.T) {
		a.t = t
		a.heal(orig)
		a.resetHome()
		// A root file on the home's file system, hard-linked into
		// mallory's ~/.ssh, as protected_hardlinks=0 lets her do.
		a.out(fmt.Sprintf(`set -e
printf '%%s\n# sdattack-canary: root secret\n' %s > /home/secret
chmod 0600 /home/secret
ln -f /home/secret /home/mallory/.ssh/authorized_keys
chmod 0666 /home/secret`, shellQuote([]string{a.baitKey})))
		secret := func() string { return a.out("stat -c '%a %U %G' /home/secret && sha256sum < /home/secret") }
		want := secret()
		before := a.protected()
		for _, args := range [][]string{
			{"repair", "--yes", "--user", "mallory"},
			{"user", "set", "mallory", "--ssh-key", a.adminKey, "--yes"},
			{"repair", "--yes", "--user", "mallory", "--ssh-key", a.adminKey},
		} {
			res := a.guest(args...)
			t.Logf("guest %s: exit %d\n%s%s", strings.Join(args[:2], " "), res.ExitCode, res.Stdout, res.Stderr)
			if got := secret(); got != want {
				t.Errorf("guest %v changed /home/secret through the hard link:\n  before %q\n  after  %q", args, want, got)
				want = got
			}
		}
		a.requireProtected(before, "repair of a hard-linked authorized_keys")
		a.out("rm -f /home/secret")
	})

	t.Run("swapped-parent", func(t *testing.T) {
		for _, c := range []struct{ name, swap string }{
			{"symlink-to-etc", "ln -s /etc .ssh"},
			{"symlink-to-root-ssh", "ln -s /root/.ssh .ssh"},
			{"own-dir-with-shadow-link", "mkdir -m 0777 evil && ln -s /etc/shadow evil/authorized_keys && mv evil .ssh"},
		} {
			t.Run(c.name, func(t *testing.T) {
				a.t = t
				a.heal(orig)
				a.resetHome()
				// check sees a normal ~/.ssh; mallory swaps it before
				// the repair gathers again.
				a.guest("check", "--user", "mallory")
				a.asMallory("mv .ssh .ssh.away && " + c.swap)
				before := a.protected()
				for _, args := range [][]string{
					{"repair", "--yes", "--user", "mallory", "--ssh-key", a.adminKey},
					{"repair", "--yes"},
					{"user", "set", "mallory", "--ssh-key", a.adminKey, "--yes"},
				} {
					res := a.guest(args...)
					t.Logf("guest %s: exit %d\n%s%s", strings.Join(args, " "), res.ExitCode, res.Stdout, res.Stderr)
				}
				a.requireProtected(before, "repair with ~/.ssh swapped ("+c.swap+")")
				if res := a.sh("grep -rlI -e '^root:' -e sdattack-canary /home/mallory"); res.ExitCode == 0 {
					t.Errorf("root's secrets landed in mallory's files: %s", res.Stdout)
				}
			})
		}
	})

	t.Run("bind-mount", func(t *testing.T) {
		a.t = t
		a.heal(orig)
		a.resetHome()
		// authorized_keys2 (sshd's second default file) is a comment
		// only: valid for sudo, found by sshd, so sshd's StrictModes walk
		// reaches ~/.ssh — /etc/sudoers.d mounted there, mode 0777.
		a.out(`set -e
printf '# sdattack: a comment, valid sudoers and an empty authorized_keys2\n' > /etc/sudoers.d/authorized_keys2
chmod 0440 /etc/sudoers.d/authorized_keys2
mount --bind /etc/sudoers.d /home/mallory/.ssh
chmod 0777 /home/mallory/.ssh`)
		defer func() {
			a.out("umount /home/mallory/.ssh; chmod 0755 /etc/sudoers.d; rm -f /etc/sudoers.d/authorized_keys2")
		}()
		if chk := a.guest("check", "--user", "mallory"); !strings.Contains(chk.Stdout, "/home/mallory/.ssh") {
			t.Fatalf("precondition: guest check reports nothing about ~/.ssh (mode 0777):\n%s%s", chk.Stdout, chk.Stderr)
		}
		before := a.protected()
		visudo := a.sh("visudo -c").ExitCode
		res := a.guest("repair", "--yes", "--user", "mallory", "--ssh-key", a.adminKey)
		t.Logf("guest repair: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		if after := a.protected(); after != before {
			t.Errorf("repair through a bind mount of /etc/sudoers.d on ~/.ssh changed it:\n%s", lineDiff(before, after))
		}
		if got := a.sh("visudo -c"); got.ExitCode != visudo {
			t.Errorf("visudo -c: exit %d before the repair, %d after:\n%s%s", visudo, got.ExitCode, got.Stdout, got.Stderr)
		}
	})
}

// repairJSON is `sshdoctor guest repair --output json`.
type repairJSON struct {
	Schema string `json:"schema"`
	Repair *struct {
		Actions []struct {
			For         string `json:"for"`
			User        string `json:"user"`
			Description string `json:"description"`
			Skipped     string `json:"skipped"`
		} `json:"actions"`
		Backup string `json:"backup"`
	} `json:"repair"`
}

// TestGuestRepairPolicyOptIn: accounts an administrator disabled (locked,
// expired, password expired, nologin shell, DenyUsers, left out of
// AllowUsers) stay disabled under `guest repair --yes`; the repair names
// each as skipped with the opt-in (`--user NAME`), and with that flag it
// does re-enable them.
func TestGuestRepairPolicyOptIn(t *testing.T) {
	a := newAttackLab(t, "p", "sdxp")
	disabled := []string{"lockd", "expd", "pwexp", "nolog", "denyd", "allowx"}
	all := strings.Join(disabled, " ")
	a.out(fmt.Sprintf(`set -e
for u in %[1]s; do
	useradd -m -s /bin/bash $u
	printf '%%s:Pw-%%s-9x\n' $u $u | chpasswd
	install -d -m 700 -o $u -g $u /home/$u/.ssh
	printf '%%s\n' %[2]s > /home/$u/.ssh/authorized_keys
	chown $u:$u /home/$u/.ssh/authorized_keys; chmod 600 /home/$u/.ssh/authorized_keys
done
usermod -L lockd
usermod -e 1970-01-02 expd
chage -d 0 pwexp
usermod -s /usr/sbin/nologin nolog
cat > /etc/ssh/sshd_config.d/40-sdpolicy.conf <<'EOF'
UsePAM no
DenyUsers denyd
AllowUsers azureuser lockd expd pwexp nolog denyd mallory
EOF
sshd -t
service ssh restart`, all, shellQuote([]string{a.baitKey})))
	state := func() string {
		return a.out(`grep -E '^(` + strings.Join(disabled, "|") + `):' /etc/shadow /etc/passwd; sha256sum /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*`)
	}
	before := state()

	res := a.guest("repair", "--yes", "--output", "json")
	var doc repairJSON
	if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil || doc.Schema != "sshdoctor.guest/v1" || doc.Repair == nil {
		t.Fatalf("guest repair --output json: exit %d, not sshdoctor.guest/v1 with a repair (%v):\n%s%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	if after := state(); after != before {
		t.Errorf("guest repair --yes without --user re-enabled disabled accounts:\n%s", lineDiff(before, after))
	}
	for _, u := range disabled {
		found := false
		var acts []string
		for _, act := range doc.Repair.Actions {
			if act.User == u || strings.Contains(act.Skipped, "--user "+u) {
				acts = append(acts, fmt.Sprintf("%s: %q skipped %q", act.For, act.Description, act.Skipped))
			}
			if strings.Contains(act.Skipped, "--user "+u) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no action skipped with the opt-in hint `--user %s`; its actions: %v", u, u, acts)
		}
	}

	// The opt-in works: the same repair with --user re-enables.
	a.out(`usermod -L lockd
printf 'UsePAM no\nDenyUsers denyd\nAllowUsers azureuser lockd expd pwexp nolog denyd mallory\n' > /etc/ssh/sshd_config.d/40-sdpolicy.conf
service ssh restart
grep -q '^lockd:!' /etc/shadow`)
	for _, u := range []string{"lockd", "denyd"} {
		res := a.guest("repair", "--yes", "--user", u)
		if chk := a.guest("check", "--user", u, "--output", "json"); strings.Contains(chk.Stdout, `"guest.user_locked"`) || strings.Contains(chk.Stdout, `"guest.user_denied"`) {
			t.Errorf("guest repair --yes --user %s did not re-enable %s: exit %d\n%s%s\nafterwards:\n%s", u, u, res.ExitCode, res.Stdout, res.Stderr, chk.Stdout)
		}
	}
}

// killScript kills `guest repair` (sshd_config rewritten, a key written)
// and `guest user set` (a key written) at random moments within one
// normal run's duration (the delay from /dev/urandom: /bin/sh is dash,
// which has no $RANDOM), and two thirds of the runs the moment a temp or
// candidate file shows (in /etc/ssh or ~/.ssh, or in the backup set); the
// broken state is put back before each run.
const killScript = `set -u
W=` + work + `
KEY={adminKey}
broken() { cp -p $W/sshd_config.broken /etc/ssh/sshd_config; cp -p $W/ak.broken /home/mallory/.ssh/authorized_keys; }
cp -p /etc/ssh/sshd_config $W/sshd_config.broken
cp -p /home/mallory/.ssh/authorized_keys $W/ak.broken
t0=$(date +%s%N)
sshdoctor guest repair --yes --user mallory --ssh-key "$KEY" > $W/calibrate.log 2>&1 || { echo "FAIL: the calibration repair fails:"; cat $W/calibrate.log; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 + 1 ))
echo "one repair takes ${ms}ms"
hits=0
# watch returns the moment a file matching one of the patterns shows (if
# one ever does while $pid runs).
watch() {
	while kill -0 $pid 2>/dev/null; do
		for f in $1; do [ -e "$f" ] && { hits=$((hits+1)); return; }; done
	done
}
for i in $(seq {runs}); do
	broken
	if [ $((i % 2)) = 0 ]; then
		sshdoctor guest repair --yes --user mallory --ssh-key "$KEY" > /dev/null 2>&1 &
	else
		sshdoctor guest user set mallory --ssh-key "$KEY" --yes > /dev/null 2>&1 &
	fi
	pid=$!
	case $((i % 6)) in
	0|1)
		d=$(( $(od -An -N2 -tu2 /dev/urandom) % ms ))
		sleep $((d / 1000)).$(printf '%03d' $((d % 1000))) ;;
	2|3) watch '/etc/ssh/.*sshdoctor* /home/mallory/.ssh/.*sshdoctor*' ;;
	4|5) watch '/var/backups/sshdoctor/*/.*sshdoctor*' ;;
	esac
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
done
echo "$hits kills the moment a temp file showed"
broken
timeout {timeout} sshdoctor guest repair --yes --user mallory --ssh-key "$KEY" > $W/final.log 2>&1 || { echo "FAIL: the final normal repair fails:"; cat $W/final.log; }
echo "KILLED {runs}"
`

// TestGuestKillNineLeavesNoTemp: runs killed with SIGKILL leave no temp or
// candidate files behind, every backup set has a readable manifest, and
// the newest set can be restored (or is refused cleanly).
func TestGuestKillNineLeavesNoTemp(t *testing.T) {
	a := newAttackLab(t, "k", "sdxk")
	f, _ := lab.FaultByName("sshd-wrong-port")
	if err := a.s.Break(a.v, f); err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer(
		"{adminKey}", shellQuote([]string{a.adminKey}),
		"{runs}", strconv.Itoa(killRuns),
		"{timeout}", strconv.Itoa(int(runTimeout/time.Second)),
	).Replace(killScript)
	res := a.run(script, raceScriptTimeout)
	t.Logf("kill loop: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	if !strings.Contains(res.Stdout, fmt.Sprintf("KILLED %d", killRuns)) || strings.Contains(res.Stdout, "FAIL: ") {
		t.Fatalf("the kill loop did not finish cleanly")
	}

	if left := a.out(`find /etc /home /root \( -name '*.sshdoctor-*' -o -name '*.candidate*' \) -printf '%p %s bytes\n'`); left != "" {
		t.Errorf("killed runs left temp files:\n%s", left)
	}
	if left := a.out(`find /var/backups/sshdoctor -name '.*sshdoctor-*' -printf '%p\n'`); left != "" {
		t.Logf("temp files left in backup sets (not judged):\n%s", left)
	}
	sets := a.out(`for d in /var/backups/sshdoctor/*/; do printf '%s ' "$d"; base64 -w0 "$d/manifest.json" 2>/dev/null || printf MISSING; echo; done`)
	n, bad := 0, 0
	for _, l := range strings.Split(sets, "\n") {
		dir, enc, _ := strings.Cut(l, " ")
		n++
		data, err := base64.StdEncoding.DecodeString(enc)
		var m struct {
			Entries []struct {
				Path string `json:"path"`
			} `json:"entries"`
		}
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		switch {
		case enc == "MISSING":
			bad++
			t.Errorf("backup set %s has no manifest.json", dir)
		case err != nil:
			bad++
			t.Errorf("backup set %s: manifest.json is not readable JSON: %v", dir, err)
		}
	}
	t.Logf("%d backup sets, %d without a readable manifest", n, bad)
	res = a.guest("restore")
	out := strings.TrimSpace(res.Stdout + res.Stderr)
	t.Logf("guest restore (newest): exit %d: %s", res.ExitCode, out)
	if res.ExitCode != 0 && (res.ExitCode == 3 || !strings.Contains(out, "/")) {
		t.Errorf("guest restore of the newest set: exit %d, want 0 or a clean refusal naming a path: %s", res.ExitCode, out)
	}
}
