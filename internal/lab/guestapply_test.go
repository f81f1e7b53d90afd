package lab_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// applyJSON is `sshdoctor guest apply --output json`.
type applyJSON struct {
	Schema     string                   `json:"schema"`
	Requested  []string                 `json:"requested"`
	SSH        *struct{ Backup string } `json:"ssh"`
	User       *userJSON                `json:"user"`
	RemoveUser *userJSON                `json:"remove_user"`
	RolledBack bool                     `json:"rolled_back"`
	Error      string                   `json:"error"`
}

// apply writes the settings (and protected settings, when not "") into
// the VM and runs `sshdoctor guest apply` on them.
func (g *guestUserLab) apply(settings, protected string, extra ...string) (int, applyJSON, string) {
	g.t.Helper()
	g.out("cat > /root/settings.json <<'EOF'\n" + settings + "\nEOF\nrm -f /root/protected.json")
	args := []string{"guest", "apply", "--settings", "/root/settings.json", "--output", "json"}
	if protected != "" {
		g.out("umask 077 && cat > /root/protected.json <<'EOF'\n" + protected + "\nEOF")
		args = append(args, "--protected-settings", "/root/protected.json")
	}
	res := g.sh("sshdoctor " + shellQuote(append(args, extra...)))
	var doc applyJSON
	if res.ExitCode != 2 {
		if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil || doc.Schema != "sshdoctor.guest.apply/v1" {
			g.t.Fatalf("guest apply: exit %d, output is not sshdoctor.guest.apply/v1 JSON (%v):\n%s%s", res.ExitCode, err, res.Stdout, res.Stderr)
		}
	}
	return res.ExitCode, doc, res.Stdout + res.Stderr
}

// applyOK runs guest apply, which must exit 0.
func (g *guestUserLab) applyOK(settings, protected string) applyJSON {
	g.t.Helper()
	code, doc, out := g.apply(settings, protected)
	if code != 0 {
		g.t.Fatalf("guest apply %s: exit %d\n%s", settings, code, out)
	}
	return doc
}

// TestGuestApply drives `sshdoctor guest apply` with VMAccessForLinux
// settings inside a lab VM and proves each result from the client:
// reset_ssh and restore_backup_ssh, a user with key, password and sudo,
// remove_user, idempotence, rollback of every part when a later part
// fails, and bad settings that change nothing.
func TestGuestApply(t *testing.T) {
	s, bin := upLab(t, "a", "sdla")
	v := s.VMs[0]
	g := &guestUserLab{t: t, s: s, v: v, bin: bin}
	healthy := func(t *testing.T, what string) {
		t.Helper()
		if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
			t.Fatalf("%s: the client check fails: exit %d %s (%s)", what, code, doc.RootCause, doc.Diagnosis)
		}
	}
	broken := func(t *testing.T, what string) {
		t.Helper()
		if code, _ := labCheck(t, s, bin, v, nil); code == 0 {
			t.Fatalf("%s: the client logs in", what)
		}
	}
	haveSudo := g.sh("command -v visudo >/dev/null && test -f /etc/sudoers").ExitCode == 0
	if !haveSudo && os.Getenv("CI") == "true" {
		t.Fatal("sudo (visudo, /etc/sudoers) is not installed: scripts/deps.sh must install it")
	}

	t.Run("reset_ssh-then-restore_backup_ssh", func(t *testing.T) {
		g.t = t
		// Two faults at once: a drop-in turns public keys off and
		// sshd_config itself admits another user only.
		f, _ := lab.FaultByName("sshd-dropin-override")
		if err := s.Break(v, f); err != nil {
			t.Fatal(err)
		}
		g.out("sed -i '1i AllowUsers nobody-else' /etc/ssh/sshd_config && service ssh restart")
		broken(t, "after the break")
		brokenConf := g.out("sha256sum /etc/ssh/sshd_config")

		doc := g.applyOK(`{"reset_ssh": true}`, "")
		if doc.SSH == nil || doc.SSH.Backup == "" || doc.RolledBack {
			t.Fatalf("reset_ssh: %+v", doc)
		}
		if g.sh("test -e /etc/ssh/sshd_config.d/50-cloud-init.conf").ExitCode == 0 {
			t.Error("the breaking drop-in is still in place")
		}
		healthy(t, "after reset_ssh")
		// Idempotent: nothing left to reset, no new backup set.
		sets := g.backupSets()
		if doc := g.applyOK(`{"reset_ssh": true}`, ""); doc.SSH.Backup != "" || g.backupSets() != sets {
			t.Fatalf("second reset_ssh changed something: %+v", doc)
		}
		// `guest reset-ssh` is the same operation: nothing to do either.
		if res := g.sh("sshdoctor guest reset-ssh --yes --output json"); res.ExitCode != 0 || g.backupSets() != sets {
			t.Fatalf("guest reset-ssh on a reset VM: exit %d, backup sets %s → %s\n%s%s", res.ExitCode, sets, g.backupSets(), res.Stdout, res.Stderr)
		}

		// restore_backup_ssh puts the state before the reset back, from
		// the newest set holding sshd_config — and is itself undoable.
		doc = g.applyOK(`{"restore_backup_ssh": true}`, "")
		if doc.SSH == nil || doc.SSH.Backup == "" {
			t.Fatalf("restore_backup_ssh: %+v", doc)
		}
		if got := g.out("sha256sum /etc/ssh/sshd_config"); got != brokenConf {
			t.Errorf("sshd_config after restore_backup_ssh is not the one before the reset")
		}
		if g.sh("test -e /etc/ssh/sshd_config.d/50-cloud-init.conf").ExitCode != 0 {
			t.Error("the drop-in moved by the reset did not come back")
		}
		broken(t, "after restore_backup_ssh")
		g.applyOK(`{"reset_ssh": true}`, "")
		healthy(t, "after the second reset_ssh")
	})

	// carol's key pair: the private half on the client, the public half
	// in the protected settings, as `az vm user update --ssh-key-value`.
	carolKey, line := clientKeyPair(t, s, "carol")
	asCarol := []string{"-i", carolKey, "-o", "IdentitiesOnly=yes", "carol@lab-" + v.Name}
	const password = "Tr0ub4dor&3-apply"
	userSettings := `{"username": "carol", "expiration": "2099-12-31"}`
	userProtected := `{"password": "` + password + `", "ssh_key": "` + line + `"}`

	t.Run("user", func(t *testing.T) {
		g.t = t
		if code, _ := g.check("", asCarol...); code == 0 {
			t.Fatal("carol logs in before she exists")
		}
		doc := g.applyOK(userSettings, userProtected)
		if doc.User == nil || len(doc.User.Changes) == 0 || doc.User.Backup == "" {
			t.Fatalf("user: %+v", doc)
		}
		t.Logf("changes:\n  %s", strings.Join(doc.User.Changes, "\n  "))
		if code, doc := g.check("", asCarol...); code != 0 {
			t.Fatalf("key login as carol: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		if code, doc := g.check(password+"\n", "--password-stdin", "-o", "PubkeyAuthentication=no", "carol@lab-"+v.Name); code != 0 {
			t.Fatalf("password login as carol: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		if got := g.out("chage -l carol | grep 'Account expires'"); !strings.Contains(got, "2099") {
			t.Errorf("expiration: %s", got)
		}
		if haveSudo {
			// A password: sudo asks for it (VMAccess's rule).
			if got := g.out("grep -v '^#' /etc/sudoers.d/90-sshdoctor-carol"); got != "carol ALL=(ALL) ALL" {
				t.Errorf("sudoers drop-in: %q", got)
			}
		}
		// The password is nowhere in clear: not in backups, not in /etc.
		g.out("printf '%s' '" + password + "' > /root/pwpattern")
		if res := g.sh("grep -r -l -F -f /root/pwpattern /var/backups/sshdoctor /etc"); res.ExitCode != 1 {
			t.Fatalf("the password is stored in clear: %s", res.Stdout)
		}
		// Idempotent.
		sets := g.backupSets()
		if doc := g.applyOK(userSettings, userProtected); len(doc.User.Changes) != 0 || g.backupSets() != sets {
			t.Fatalf("the same settings again changed something: %+v", doc.User)
		}
		// enable_passwordless_access: NOPASSWD although carol has a password.
		if haveSudo {
			g.applyOK(`{"username": "carol", "enable_passwordless_access": true}`, "")
			if got := g.out("grep -v '^#' /etc/sudoers.d/90-sshdoctor-carol"); got != "carol ALL=(ALL) NOPASSWD:ALL" {
				t.Errorf("sudoers drop-in with enable_passwordless_access: %q", got)
			}
			g.out("visudo -c")
		}
	})

	t.Run("rollback-of-every-part", func(t *testing.T) {
		g.t = t
		// Break sshd, then ask for a reset and a new user while a live
		// process holds /etc/passwd's lock: planning succeeds, useradd
		// fails at apply time, after the reset took effect. The reset
		// must be undone and sshd restarted on its old configuration.
		g.out("sed -i '1i AllowUsers nobody-else' /etc/ssh/sshd_config && service ssh restart")
		g.out("sleep 300 >/dev/null 2>&1 & printf '%s' $! > /etc/passwd.lock")
		defer g.out("kill $(cat /etc/passwd.lock); rm -f /etc/passwd.lock")
		etc := g.etc()
		code, doc, out := g.apply(`{"reset_ssh": true, "username": "dave"}`, `{"ssh_key": "`+line+`"}`)
		if code != 1 || !doc.RolledBack || doc.Error == "" {
			t.Fatalf("want exit 1 and a rollback: exit %d\n%s", code, out)
		}
		t.Logf("error: %s", doc.Error)
		if g.etc() != etc {
			t.Fatal("the failed apply left /etc changed")
		}
		if g.sh("id dave").ExitCode == 0 {
			t.Fatal("dave exists")
		}
		if g.out("pidof sshd || true") == "" {
			t.Fatal("sshd is not running after the rollback")
		}
		broken(t, "after the rollback (the old configuration)")
		g.out("kill $(cat /etc/passwd.lock); rm -f /etc/passwd.lock")
		g.applyOK(`{"reset_ssh": true}`, "")
		healthy(t, "after the reset")
	})

	t.Run("remove_user", func(t *testing.T) {
		g.t = t
		doc := g.applyOK(`{"remove_user": "carol"}`, "")
		if doc.RemoveUser == nil || doc.RemoveUser.Backup == "" {
			t.Fatalf("remove_user: %+v", doc)
		}
		if g.sh("id carol").ExitCode == 0 || g.sh("test -e /etc/sudoers.d/90-sshdoctor-carol").ExitCode == 0 {
			t.Fatal("carol or her sudoers drop-in is still there")
		}
		if code, _ := g.check("", asCarol...); code == 0 {
			t.Fatal("removed carol logs in")
		}
		if doc := g.applyOK(`{"remove_user": "carol"}`, ""); len(doc.RemoveUser.Changes) != 0 {
			t.Fatalf("second remove_user changed something: %+v", doc.RemoveUser)
		}
	})

	t.Run("bad-settings-change-nothing", func(t *testing.T) {
		g.t = t
		etc, sets := g.etc(), g.backupSets()
		cases := []struct{ name, settings, protected string }{
			{"string false", `{"reset_ssh": "false"}`, ""},
			{"unknown key", `{"reset_ssh": true, "reset_sshd": true}`, ""},
			{"not an object", `["reset_ssh"]`, ""},
			{"truncated", `{"reset_ssh": tru`, ""},
			{"remove_user with reset_ssh", `{"remove_user": "bob", "reset_ssh": true}`, ""},
			{"remove_user with password", `{"remove_user": "bob"}`, `{"password": "x"}`},
			{"reset and restore", `{"reset_ssh": true, "restore_backup_ssh": true}`, ""},
			{"check_disk", `{"check_disk": true}`, ""},
			{"key in both files", `{"username": "erin"}`, `{"username": "erin"}`},
			{"password without username", `{}`, `{"password": "x"}`},
			{"empty password", `{"username": "erin"}`, `{"password": ""}`},
			{"password with newline", `{"username": "erin"}`, `{"password": "a\nb"}`},
			{"invalid user name", `{"username": "../x"}`, ""},
			{"shell metacharacters", `{"username": "a;reboot"}`, ""},
			{"system account", `{"username": "daemon"}`, `{"ssh_key": "` + line + `"}`},
			{"remove root", `{"remove_user": "root"}`, ""},
			{"malformed key", `{"username": "erin"}`, `{"ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGarbage"}`},
			{"private key", `{"username": "erin"}`, `{"ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"}`},
			{"remove_prior_keys without key", `{"username": "erin", "remove_prior_keys": true}`, ""},
			{"bad expiration", `{"username": "erin", "expiration": "2026-13-40"}`, ""},
			{"nothing asked", `{}`, ""},
		}
		for _, c := range cases {
			code, _, out := g.apply(c.settings, c.protected)
			msg := strings.TrimSpace(out)
			if code != 2 || msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("%s: exit %d, output %q; want exit 2 and one line", c.name, code, msg)
			}
			t.Logf("%s: %s", c.name, msg)
		}
		for _, c := range []struct{ name, script string }{
			{"unreadable settings", "sshdoctor guest apply --settings /nonexistent.json"},
			{"settings is a directory", "sshdoctor guest apply --settings /etc"},
			{"no settings", "sshdoctor guest apply"},
			{"both on stdin", "echo '{}' | sshdoctor guest apply --settings - --protected-settings -"},
			{"not root", "echo '{\"reset_ssh\": true}' > /tmp/s.json && chmod 644 /tmp/s.json && setpriv --reuid=65534 --regid=65534 --clear-groups sshdoctor guest apply --settings /tmp/s.json"},
		} {
			res := g.sh(c.script)
			msg := strings.TrimSpace(res.Stderr)
			if res.ExitCode != 2 || msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", c.name, res.ExitCode, msg)
			}
			t.Logf("%s: %s", c.name, msg)
		}
		g.out("rm -f /tmp/s.json /root/settings.json /root/protected.json")
		if g.etc() != etc || g.backupSets() != sets {
			t.Fatal("bad settings changed the VM")
		}
		if g.sh("id erin").ExitCode == 0 {
			t.Fatal("erin was created")
		}
	})
}
