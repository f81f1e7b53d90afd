package lab_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/render"
)

// userJSON is `sshdoctor guest user … --output json`.
type userJSON struct {
	Schema     string   `json:"schema"`
	Changes    []string `json:"changes"`
	Backup     string   `json:"backup"`
	RolledBack bool     `json:"rolled_back"`
	Error      string   `json:"error"`
}

// guestUserLab is one lab VM and helpers to run scripts in it.
type guestUserLab struct {
	t   *testing.T
	s   *lab.State
	v   *lab.VMState
	bin string
}

func (g *guestUserLab) sh(script string) *cloud.RunResult {
	g.t.Helper()
	res, err := g.s.Exec(context.Background(), g.v, script, time.Minute)
	if err != nil {
		g.t.Fatal(err)
	}
	return res
}

// out runs a script that must succeed and returns its trimmed stdout.
func (g *guestUserLab) out(script string) string {
	g.t.Helper()
	res := g.sh(script)
	if res.ExitCode != 0 {
		g.t.Fatalf("%s: exit %d\n%s%s", script, res.ExitCode, res.Stdout, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout)
}

// user runs `sshdoctor guest user ARGS` in the VM; redirect (e.g.
// "< /root/pw") is appended to the command line.
func (g *guestUserLab) user(redirect string, args ...string) *cloud.RunResult {
	g.t.Helper()
	return g.sh("sshdoctor guest user " + shellQuote(args) + " " + redirect)
}

// userOK runs a user command that must exit 0 and returns its JSON.
func (g *guestUserLab) userOK(redirect string, args ...string) userJSON {
	g.t.Helper()
	res := g.user(redirect, append(args, "--output", "json")...)
	if res.ExitCode != 0 {
		g.t.Fatalf("guest user %v: exit %d\n%s%s", args, res.ExitCode, res.Stdout, res.Stderr)
	}
	var doc userJSON
	if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil || doc.Schema != "sshdoctor.guest.user/v1" {
		g.t.Fatalf("guest user %v: output is not sshdoctor.guest.user/v1 JSON (%v): %s", args, err, res.Stdout)
	}
	return doc
}

// etc hashes every file under the VM's /etc.
func (g *guestUserLab) etc() string {
	g.t.Helper()
	return g.out("find /etc -type f -exec sha256sum {} + | sort -k2")
}

func (g *guestUserLab) backupSets() string {
	g.t.Helper()
	return g.out("ls -1 /var/backups/sshdoctor 2>/dev/null | wc -l")
}

// otherSudoers hashes every sudoers file but sshdoctor's drop-ins.
func (g *guestUserLab) otherSudoers() string {
	g.t.Helper()
	return g.out(`cd /etc/sudoers.d 2>/dev/null && sha256sum /etc/sudoers $(ls -A | grep -v '^90-sshdoctor-')`)
}

// check runs `sshdoctor check ARGS` in the client namespace.
func (g *guestUserLab) check(stdin string, args ...string) (int, render.CheckJSON) {
	g.t.Helper()
	cmd := g.s.ClientCommand(append([]string{g.bin, "check", "--timeout", "3s", "--output", "json"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		g.t.Fatal(err)
	}
	var doc render.CheckJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		g.t.Fatalf("check output is not JSON (%v): %s", err, out)
	}
	return code, doc
}

// clientKeyPair makes an ed25519 key pair for user: the private half in the
// lab client's directory (its path returned), the public half as one
// OpenSSH line with the comment user@laptop.
func clientKeyPair(t *testing.T, s *lab.State, user string) (path, line string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, user)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(filepath.Dir(s.ClientKey()), "id_"+user)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	return path, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + user + "@laptop"
}

// TestGuestUser drives `sshdoctor guest user set|remove` inside a lab VM and
// proves the result from the client: key and password logins, sudo
// drop-ins, idempotence, refusals that change nothing, and rollback.
func TestGuestUser(t *testing.T) {
	s, bin := upLab(t, "u", "sdlu")
	if out, err := exec.Command(bin, "guest", "user", "set", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--password-stdin") {
		t.Fatalf("the binary has no `guest user set` (is NewCmdGuestUser added to the guest command?): %v\n%s", err, out)
	}
	v := s.VMs[0]
	g := &guestUserLab{t: t, s: s, v: v, bin: bin}
	target := "bob@lab-" + v.Name

	// bob's key pair: the private half on the client, the public half in
	// the VM as RFC 4716 (converted by ssh-keygen, an encoder independent
	// of sshdoctor's parser).
	bobKey, line := clientKeyPair(t, s, "bob")
	g.out("printf '%s\\n' '" + line + "' > /root/bob.pub && ssh-keygen -e -f /root/bob.pub > /root/bob.rfc4716")
	if head := g.out("head -n 1 /root/bob.rfc4716"); head != "---- BEGIN SSH2 PUBLIC KEY ----" {
		t.Fatalf("ssh-keygen -e wrote %q", head)
	}
	asBob := []string{"-i", bobKey, "-o", "IdentitiesOnly=yes", target}

	haveSudo := g.sh("command -v visudo >/dev/null && test -f /etc/sudoers").ExitCode == 0

	t.Run("create-with-rfc4716-key", func(t *testing.T) {
		g.t = t
		if code, _ := g.check("", asBob...); code == 0 {
			t.Fatal("bob logs in before he exists")
		}
		doc := g.userOK("", "set", "bob", "--ssh-key-file", "/root/bob.rfc4716", "--yes")
		if len(doc.Changes) == 0 || doc.Backup == "" {
			t.Fatalf("no changes reported: %+v", doc)
		}
		t.Logf("changes:\n  %s", strings.Join(doc.Changes, "\n  "))
		home := g.out("getent passwd bob | cut -d: -f6")
		if got := g.out("stat -c '%a %U' " + home + "/.ssh " + home + "/.ssh/authorized_keys"); got != "700 bob\n600 bob" {
			t.Errorf("modes and owners: %q", got)
		}
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("key login as bob: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		g.t = t
		before := g.backupSets()
		doc := g.userOK("", "set", "bob", "--ssh-key-file", "/root/bob.rfc4716", "--yes")
		if len(doc.Changes) != 0 || doc.Backup != "" || g.backupSets() != before {
			t.Fatalf("second run changed something: %+v (backup sets %s → %s)", doc, before, g.backupSets())
		}
		// The same key as one OpenSSH line is the same key.
		if doc := g.userOK("", "set", "bob", "--ssh-key", line, "--yes"); len(doc.Changes) != 0 {
			t.Fatalf("the same key in another format was added again: %+v", doc)
		}
	})

	t.Run("remove-prior-keys", func(t *testing.T) {
		g.t = t
		labPub, err := os.ReadFile(s.ClientKey() + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		keys := func() string { return g.out("grep -c '^ssh-' /home/bob/.ssh/authorized_keys") }
		g.userOK("", "set", "bob", "--ssh-key", strings.TrimSpace(string(labPub)), "--yes")
		if keys() != "2" {
			t.Fatalf("appending a second key: %s keys", keys())
		}
		g.userOK("", "set", "bob", "--ssh-key-file", "/root/bob.rfc4716", "--remove-prior-keys", "--yes")
		if keys() != "1" || g.sh("grep -qF "+strings.Fields(line)[1]+" /home/bob/.ssh/authorized_keys").ExitCode != 0 {
			t.Fatalf("after --remove-prior-keys:\n%s", g.out("cat /home/bob/.ssh/authorized_keys"))
		}
		if doc := g.userOK("", "set", "bob", "--ssh-key-file", "/root/bob.rfc4716", "--remove-prior-keys", "--yes"); len(doc.Changes) != 0 {
			t.Fatalf("second --remove-prior-keys changed something: %+v", doc)
		}
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("key login after --remove-prior-keys: exit %d %s", code, doc.RootCause)
		}
		// A dry run shows the plan and changes nothing.
		etc := g.etc()
		res := g.user("", "set", "bob", "--ssh-key", strings.TrimSpace(string(labPub)), "--dry-run")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "authorize 1 key(s)") || g.etc() != etc || keys() != "1" {
			t.Fatalf("dry run: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
		t.Logf("dry run:\n%s", res.Stdout)
	})

	t.Run("password-stdin", func(t *testing.T) {
		g.t = t
		// The password is made in the VM and never appears in a command
		// line, not even the test's own scripts.
		g.out("head -c 18 /dev/urandom | base64 | tr -d '\\n/+=' > /root/pw && test -s /root/pw")
		pw := g.out("cat /root/pw")
		// While the command runs, a poller reads every /proc/*/cmdline in
		// the VM for the password; it also records that it saw the
		// command running (the pattern's [n] keeps grep from matching its
		// own command line).
		g.out(`rm -f /tmp/hits /tmp/seen /tmp/stop
( while [ ! -e /tmp/stop ]; do
	grep -l -a -F -f /root/pw /proc/[0-9]*/cmdline >>/tmp/hits 2>/dev/null
	grep -l -a -e 'password-stdi[n]' /proc/[0-9]*/cmdline >>/tmp/seen 2>/dev/null
done ) &
sleep 0.3
sshdoctor guest user set bob --password-stdin --yes --output json < /root/pw > /tmp/out 2> /tmp/err; echo $? > /tmp/rc
sleep 0.1; touch /tmp/stop; wait`)
		if rc := g.out("cat /tmp/rc"); rc != "0" {
			t.Fatalf("set --password-stdin: exit %s\n%s", rc, g.out("cat /tmp/out /tmp/err"))
		}
		if hits := g.out("cat /tmp/hits"); hits != "" {
			t.Fatalf("the password appeared in a command line: %s", hits)
		}
		if g.out("cat /tmp/seen") == "" {
			t.Fatal("the /proc poller never saw the command running: it proved nothing")
		}
		output := g.out("cat /tmp/out /tmp/err")
		if strings.Contains(output, pw) {
			t.Fatal("the password is in the command's output")
		}
		var doc userJSON
		if err := json.Unmarshal([]byte(g.out("cat /tmp/out")), &doc); err != nil || doc.Backup == "" {
			t.Fatalf("JSON output %v: %s", err, output)
		}
		if res := g.sh("grep -r -l -F -f /root/pw /var/backups/sshdoctor /etc"); res.ExitCode != 1 {
			t.Fatalf("the password is stored in clear: %s", res.Stdout)
		}
		if code, doc := g.check(pw+"\n", "--password-stdin", "-o", "PubkeyAuthentication=no", target); code != 0 {
			t.Fatalf("password login as bob: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		// The same password again: the hash already matches, no change.
		before := g.backupSets()
		if doc := g.userOK("< /root/pw", "set", "bob", "--password-stdin", "--yes"); len(doc.Changes) != 0 || g.backupSets() != before {
			t.Fatalf("setting the same password again changed something: %+v", doc)
		}
		// Key login still works.
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("key login as bob after the password: exit %d %s", code, doc.RootCause)
		}
	})

	t.Run("unlock-and-expiry", func(t *testing.T) {
		g.t = t
		g.out("usermod -L bob")
		if code, _ := g.check("", asBob...); code == 0 {
			t.Fatal("a locked bob logs in")
		}
		doc := g.userOK("", "set", "bob", "--yes")
		if len(doc.Changes) != 1 || !strings.Contains(doc.Changes[0], "unlock") {
			t.Fatalf("unlock: %+v", doc)
		}
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("after unlock: exit %d %s", code, doc.RootCause)
		}
		g.userOK("", "set", "bob", "--expiration", "1970-01-02", "--yes")
		if code, _ := g.check("", asBob...); code == 0 {
			t.Fatal("an expired bob logs in")
		}
		g.userOK("", "set", "bob", "--expiration", "2099-12-31", "--yes")
		if got := g.out("chage -l bob | grep 'Account expires'"); !strings.Contains(got, "2099") {
			t.Errorf("chage -l: %s", got)
		}
		if doc := g.userOK("", "set", "bob", "--expiration", "2099-12-31", "--yes"); len(doc.Changes) != 0 {
			t.Errorf("same expiry again changed something: %+v", doc)
		}
		g.userOK("", "set", "bob", "--expiration", "never", "--yes")
		if got := g.out("chage -l bob | grep 'Account expires'"); !strings.Contains(got, "never") {
			t.Errorf("chage -l: %s", got)
		}
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("after --expiration never: exit %d %s", code, doc.RootCause)
		}
	})

	t.Run("sudo", func(t *testing.T) {
		g.t = t
		if !haveSudo {
			// Without sudo, --sudo is refused and changes nothing.
			etc := g.etc()
			if res := g.user("", "set", "bob", "--sudo", "--yes"); res.ExitCode != 2 || g.etc() != etc {
				t.Fatalf("--sudo without sudo: exit %d\n%s", res.ExitCode, res.Stderr)
			}
			if os.Getenv("CI") == "true" {
				t.Fatal("sudo (visudo, /etc/sudoers) is not installed on this machine: scripts/deps.sh must install it")
			}
			t.Skip("sudo is not installed: the drop-in cannot be validated")
		}
		file := "/etc/sudoers.d/90-sshdoctor-bob"
		others := g.otherSudoers()
		g.userOK("", "set", "bob", "--sudo", "--yes")
		if got := g.out("stat -c '%a %U %G' " + file); got != "440 root root" {
			t.Errorf("drop-in mode and owner: %s", got)
		}
		// bob has a password (the previous step): sudo asks for it.
		if got := g.out("grep -v '^#' " + file); got != "bob ALL=(ALL) ALL" {
			t.Errorf("drop-in: %q", got)
		}
		g.out("visudo -c")
		if got := g.out("sudo -l -U bob"); !strings.Contains(got, "(ALL) ALL") {
			t.Errorf("sudo does not read the drop-in:\n%s", got)
		}
		if g.otherSudoers() != others {
			t.Fatal("--sudo changed another sudoers file")
		}
		before := g.backupSets()
		if doc := g.userOK("", "set", "bob", "--sudo", "--yes"); len(doc.Changes) != 0 || g.backupSets() != before {
			t.Fatalf("second --sudo changed something: %+v", doc)
		}
		g.userOK("", "set", "bob", "--no-sudo", "--yes")
		if g.sh("test -e "+file).ExitCode == 0 {
			t.Fatal("--no-sudo left the drop-in")
		}
		if g.otherSudoers() != others {
			t.Fatal("--no-sudo changed another sudoers file")
		}
		g.out("visudo -c")
		if doc := g.userOK("", "set", "bob", "--no-sudo", "--yes"); len(doc.Changes) != 0 {
			t.Fatalf("second --no-sudo changed something: %+v", doc)
		}
	})

	t.Run("bad-input-changes-nothing", func(t *testing.T) {
		g.t = t
		g.out("printf '\\n' > /root/blank && printf 'one\\ntwo\\n' > /root/twolines")
		etc, sets, homes := g.etc(), g.backupSets(), g.out("ls -A /home")
		cases := []struct {
			name     string
			redirect string
			args     []string
		}{
			{"dash name", "", []string{"set", "-rf", "--yes"}},
			{"dash name after --", "", []string{"set", "--yes", "--", "-rf"}},
			{"dot dot", "", []string{"set", "../x", "--yes"}},
			{"semicolon", "", []string{"set", "a;b", "--yes"}},
			{"space", "", []string{"set", "Bob Smith", "--yes"}},
			{"empty name", "", []string{"set", "", "--yes"}},
			{"empty password", "< /dev/null", []string{"set", "carol", "--password-stdin", "--yes"}},
			{"blank password", "< /root/blank", []string{"set", "carol", "--password-stdin", "--yes"}},
			{"two-line password", "< /root/twolines", []string{"set", "carol", "--password-stdin", "--yes"}},
			{"malformed key", "", []string{"set", "carol", "--ssh-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGarbage", "--yes"}},
			{"private key", "", []string{"set", "carol", "--ssh-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "--yes"}},
			{"unreadable key file", "", []string{"set", "carol", "--ssh-key-file", "/nonexistent/key.pub", "--yes"}},
			{"bad expiration", "", []string{"set", "carol", "--expiration", "2026-13-40", "--yes"}},
			{"sudo and no-sudo", "", []string{"set", "carol", "--sudo", "--no-sudo", "--yes"}},
			{"remove-prior-keys without keys", "", []string{"set", "bob", "--remove-prior-keys", "--yes"}},
			{"system account", "", []string{"set", "daemon", "--ssh-key-file", "/root/bob.pub", "--yes"}},
			{"without --yes", "", []string{"set", "carol"}},
			{"unknown flag", "", []string{"set", "carol", "--sudoo", "--yes"}},
		}
		for _, c := range cases {
			res := g.user(c.redirect, c.args...)
			msg := strings.TrimSpace(res.Stderr)
			if res.ExitCode != 2 || msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", c.name, res.ExitCode, msg)
			}
			t.Logf("%s: %s", c.name, msg)
		}
		if g.etc() != etc || g.backupSets() != sets || g.out("ls -A /home") != homes {
			t.Fatal("bad input changed the VM")
		}
		if g.sh("id carol").ExitCode == 0 {
			t.Fatal("carol exists")
		}
	})

	t.Run("rollback", func(t *testing.T) {
		g.t = t
		// sshd reads dave's keys below a regular file: the key step fails
		// after useradd, and everything is put back.
		g.out("printf 'Match User dave\\n  AuthorizedKeysFile /etc/sdlu-blocker/%%u\\n' > /etc/ssh/sshd_config.d/zz-sdlu.conf && touch /etc/sdlu-blocker && sshd -t")
		defer g.out("rm -f /etc/ssh/sshd_config.d/zz-sdlu.conf /etc/sdlu-blocker")
		etc, homes := g.etc(), g.out("ls -A /home")
		res := g.user("", "set", "dave", "--ssh-key-file", "/root/bob.pub", "--yes")
		msg := strings.TrimSpace(res.Stderr)
		if res.ExitCode != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "rolled back") {
			t.Fatalf("failing set: exit %d, stderr %q", res.ExitCode, msg)
		}
		t.Logf("failing set: %s", msg)
		if g.sh("id dave").ExitCode == 0 {
			t.Error("dave survived the rollback")
		}
		if g.out("ls -A /home") != homes {
			t.Error("the rollback left dave's new home")
		}
		if g.etc() != etc {
			t.Error("/etc differs after the rollback")
		}
	})

	t.Run("remove", func(t *testing.T) {
		g.t = t
		etc, sets := g.etc(), g.backupSets()
		for _, name := range []string{"root", "daemon", "nobody", "sshd"} {
			res := g.user("", "remove", name, "--yes")
			if res.ExitCode != 2 || strings.Contains(strings.TrimSpace(res.Stderr), "\n") {
				t.Errorf("remove %s: exit %d %s", name, res.ExitCode, res.Stderr)
			}
		}
		if g.etc() != etc || g.backupSets() != sets {
			t.Fatal("refused removals changed the VM")
		}
		file := "/etc/sudoers.d/90-sshdoctor-bob"
		if haveSudo {
			g.userOK("", "set", "bob", "--sudo", "--yes")
		}
		others := ""
		if haveSudo {
			others = g.otherSudoers()
		}
		home := g.out("getent passwd bob | cut -d: -f6")
		g.userOK("", "remove", "bob", "--yes")
		if g.sh("id bob").ExitCode == 0 {
			t.Fatal("bob still exists")
		}
		if g.sh("test -f "+home+"/.ssh/authorized_keys").ExitCode != 0 {
			t.Error("remove deleted bob's home (it must be kept)")
		}
		if g.sh("test -e "+file).ExitCode == 0 {
			t.Error("remove left bob's sudoers drop-in")
		}
		if haveSudo {
			if g.otherSudoers() != others {
				t.Error("remove changed another sudoers file")
			}
			g.out("visudo -c")
		}
		if code, _ := g.check("", asBob...); code == 0 {
			t.Error("bob still logs in")
		}
		// Removing again changes nothing.
		before := g.backupSets()
		if doc := g.userOK("", "remove", "bob", "--yes"); len(doc.Changes) != 0 || g.backupSets() != before {
			t.Fatalf("second remove changed something: %+v", doc)
		}
		// bob comes back with his old home and uid: his key works again.
		uid := g.out("stat -c %u " + home)
		g.userOK("", "set", "bob", "--yes")
		if got := g.out("id -u bob"); got != uid {
			t.Errorf("recreated bob has uid %s, his home's owner is %s", got, uid)
		}
		if code, doc := g.check("", asBob...); code != 0 {
			t.Fatalf("recreated bob: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		// Key-only now: his sudo needs no password (he has none to type).
		if haveSudo {
			g.userOK("", "set", "bob", "--sudo", "--yes")
			if got := g.out("grep -v '^#' " + file); got != "bob ALL=(ALL) NOPASSWD:ALL" {
				t.Errorf("key-only drop-in: %q", got)
			}
			g.out("visudo -c")
		}
	})
}
