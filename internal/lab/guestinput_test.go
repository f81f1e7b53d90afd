package lab_test

import (
	"strings"
	"testing"
)

// TestGuestInput runs the input refusals of issue 10 inside a lab VM:
// root as the account, loose VMAccess settings and unreadable key files
// exit 2 with one line and change nothing under /etc; an authorized_keys
// that is a symbolic link to /etc/shadow is named by guest check, which
// reports nothing of /etc/shadow's content.
func TestGuestInput(t *testing.T) {
	s, bin := upLab(t, "i", "sdli")
	v := s.VMs[0]
	g := &guestUserLab{t: t, s: s, v: v, bin: bin}
	_, line := clientKeyPair(t, s, "ursula")
	g.out("printf '%s\\n' '" + line + "' > /root/k.pub && mkfifo /root/fifo && mkdir -p /root/dir")

	t.Run("refused-input-changes-nothing", func(t *testing.T) {
		g.t = t
		etc, sets := g.etc(), g.backupSets()
		for _, c := range []struct{ name, script string }{
			{"user set root", "sshdoctor guest user set root --yes"},
			{"user set root with a key", "sshdoctor guest user set root --ssh-key-file /root/k.pub --sudo --yes"},
			{"user remove root", "sshdoctor guest user remove root --yes"},
			{"key file FIFO (user set)", "timeout 4 sshdoctor guest user set erin --ssh-key-file /root/fifo --yes"},
			{"key file FIFO (repair)", "timeout 4 sshdoctor guest repair --user erin --ssh-key-file /root/fifo --yes"},
			{"key file /dev/zero", "timeout 4 sshdoctor guest user set erin --ssh-key-file /dev/zero --yes"},
			{"key file a directory", "sshdoctor guest check --ssh-key-file /root/dir"},
			{"settings FIFO", "timeout 4 sshdoctor guest apply --settings /root/fifo"},
			{"protected settings /dev/zero", "timeout 4 sshdoctor guest apply --settings '{\"username\": \"erin\"}' --protected-settings /dev/zero"},
		} {
			res := g.sh(c.script)
			msg := strings.TrimSpace(res.Stderr)
			if res.ExitCode != 2 || msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line", c.name, res.ExitCode, msg)
			}
			t.Logf("%s: %s", c.name, msg)
		}
		for _, c := range []struct{ name, settings, protected string }{
			{"username root", `{"username": "root"}`, `{"ssh_key": "` + line + `"}`},
			{"username root, nothing else", `{"username": "root", "expiration": "2099-12-31"}`, ""},
			{"remove_user root", `{"remove_user": "root"}`, ""},
			{"mis-cased key", `{"username": "erin", "USERNAME": "root"}`, ""},
			{"repeated key", `{"username": "erin", "username": "root"}`, ""},
			{"repeated protected key", `{"username": "erin"}`, `{"password": "a-Pw-1", "password": "b-Pw-2"}`},
			{"password in public settings", `{"username": "erin", "password": "a-Pw-1"}`, ""},
			{"two keys in ssh_key", `{"username": "erin"}`, `{"ssh_key": "` + line + `\n` + line + `"}`},
			{"options in ssh_key", `{"username": "erin"}`, `{"ssh_key": "command=\"/bin/sh\" ` + line + `"}`},
		} {
			code, _, out := g.apply(c.settings, c.protected)
			msg := strings.TrimSpace(out)
			if code != 2 || msg == "" || strings.Contains(msg, "\n") || strings.Contains(msg, "a-Pw-1") {
				t.Errorf("%s: exit %d, output %q; want exit 2 and one line without the password", c.name, code, msg)
			}
			t.Logf("%s: %s", c.name, msg)
		}
		g.out("rm -f /root/settings.json /root/protected.json")
		if g.etc() != etc || g.backupSets() != sets {
			t.Fatal("refused input changed the VM's /etc or made a backup set")
		}
		if g.sh("id erin").ExitCode == 0 {
			t.Fatal("erin was created")
		}
	})

	t.Run("authorized_keys-symlink-to-shadow", func(t *testing.T) {
		g.t = t
		g.out("useradd -m -s /bin/sh ursula && install -d -m 700 -o ursula -g ursula ~ursula/.ssh && ln -s /etc/shadow ~ursula/.ssh/authorized_keys && chown -h ursula:ursula ~ursula/.ssh/authorized_keys")
		shadow := g.out("cat /etc/shadow")
		lines := strings.Split(shadow, "\n")
		for _, format := range []string{"json", "text"} {
			res := g.sh("sshdoctor guest check --user ursula --output " + format)
			out := res.Stdout + res.Stderr
			if res.ExitCode != 1 || !strings.Contains(out, "authorized_keys is a symbolic link to /etc/shadow") || !strings.Contains(out, "guest.no_authorized_keys") {
				t.Fatalf("%s: exit %d, the symlink is not named:\n%s", format, res.ExitCode, out)
			}
			for _, l := range lines {
				if name, _, _ := strings.Cut(l, ":"); name != "" && strings.Contains(out, l) {
					t.Errorf("%s: the output holds a line of /etc/shadow (%s's)", format, name)
				}
			}
			for _, leak := range []string{"bad_lines", "bad line", "invalid line"} {
				if strings.Contains(out, leak) {
					t.Errorf("%s: the output counts lines of the link's target (%q):\n%s", format, leak, out)
				}
			}
			t.Logf("%s:\n%s", format, out)
		}
		// The user's own file through a link (dotfiles) is read, and
		// named as a warning.
		g.out("rm ~ursula/.ssh/authorized_keys && install -d -o ursula -g ursula ~ursula/dotfiles && install -m 600 -o ursula -g ursula /root/k.pub ~ursula/dotfiles/keys && ln -s ../dotfiles/keys ~ursula/.ssh/authorized_keys")
		res := g.sh("sshdoctor guest check --user ursula --output json")
		if !strings.Contains(res.Stdout, "guest.authorized_keys_symlink") || strings.Contains(res.Stdout, "guest.no_authorized_keys") {
			t.Fatalf("link to the user's own key file: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
	})
}
