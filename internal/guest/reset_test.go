package guest

import (
	"slices"
	"strings"
	"testing"
)

func TestResetWeaker(t *testing.T) {
	for _, c := range []struct {
		key      string
		old, new string
		want     bool
	}{
		{"passwordauthentication", "no", "yes", true},
		{"passwordauthentication", "yes", "no", false},
		{"passwordauthentication", "no", "no", false},
		{"kbdinteractiveauthentication", "no", "yes", true},
		{"permitemptypasswords", "no", "yes", true},
		{"hostbasedauthentication", "no", "yes", true},
		{"permituserenvironment", "no", "LANG,LC_*", true},
		{"x11forwarding", "no", "yes", true},
		{"allowagentforwarding", "no", "yes", true},
		{"allowagentforwarding", "yes", "no", false},
		{"allowtcpforwarding", "no", "yes", true},
		{"allowtcpforwarding", "local", "yes", true},
		{"allowtcpforwarding", "local", "remote", true},
		{"allowtcpforwarding", "local", "local", false},
		{"allowtcpforwarding", "yes", "local", false},
		{"allowstreamlocalforwarding", "no", "all", true},
		{"permittunnel", "no", "point-to-point", true},
		{"permittunnel", "yes", "no", false},
		{"gatewayports", "no", "clientspecified", true},
		{"gatewayports", "clientspecified", "yes", true},
		{"gatewayports", "yes", "no", false},
		{"disableforwarding", "yes", "no", true},
		{"disableforwarding", "no", "yes", false},
		{"permitrootlogin", "no", "without-password", true},
		{"permitrootlogin", "no", "forced-commands-only", true},
		{"permitrootlogin", "forced-commands-only", "prohibit-password", true},
		{"permitrootlogin", "prohibit-password", "without-password", false},
		{"permitrootlogin", "without-password", "yes", true},
		{"permitrootlogin", "yes", "without-password", false},
		{"permitrootlogin", "maybe", "yes", false}, // unknown: cannot judge
		{"ciphers", "aes256-gcm@openssh.com", "aes256-gcm@openssh.com,aes128-ctr", true},
		{"ciphers", "aes256-gcm@openssh.com,aes128-ctr", "aes128-ctr", false},
		{"macs", "hmac-sha2-512", "hmac-sha2-512", false},
		{"kexalgorithms", "+diffie-hellman-group1-sha1", "curve25519-sha256", false},
		{"hostkeyalgorithms", "ssh-ed25519", "ssh-ed25519,ssh-rsa", true},
		{"maxauthtries", "3", "6", true},
		{"maxauthtries", "6", "3", false},
		{"maxsessions", "2", "10", true},
		{"logingracetime", "60", "120", true},
		{"logingracetime", "60", "0", true},
		{"logingracetime", "0", "120", false},
		{"logingracetime", "1m", "60", false},
		{"logingracetime", "30s", "2m", true},
		{"strictmodes", "yes", "no", true},
		{"strictmodes", "no", "yes", false},
		{"ignorerhosts", "yes", "shosts-only", true},
		{"ignorerhosts", "shosts-only", "no", true},
		{"ignorerhosts", "no", "yes", false},
		{"requiredrsasize", "3072", "1024", true},
		{"requiredrsasize", "1024", "3072", false},
		{"revokedkeys", "/etc/ssh/revoked_keys", "none", true},
		{"revokedkeys", "none", "/etc/ssh/revoked_keys", false},
		{"trustedusercakeys", "/etc/ssh/ca.pub", "none", true},
		{"authorizedprincipalsfile", "/etc/ssh/principals/%u", "none", true},
		{"clientaliveinterval", "300", "0", false}, // not a hardening key
		{"passwordauthentication", "", "yes", false},
	} {
		var o []string
		if c.old != "" {
			o = []string{c.old}
		}
		if got := Weaker(c.key, o, []string{c.new}); got != c.want {
			t.Errorf("Weaker(%s, %q, %q) = %v, want %v", c.key, c.old, c.new, got, c.want)
		}
	}
}

func TestResetWeakenedAuthenticationMethods(t *testing.T) {
	old := map[string][]string{"authenticationmethods": {"publickey"}, "passwordauthentication": {"yes"}, "kbdinteractiveauthentication": {"yes"}}
	now := map[string][]string{"authenticationmethods": {"any"}, "passwordauthentication": {"yes"}, "kbdinteractiveauthentication": {"no"}}
	if got := Weakened(old, now); !slices.Equal(got, []string{"passwordauthentication"}) {
		t.Errorf("publickey only → any: weakened %v, want [passwordauthentication]", got)
	}
	old["authenticationmethods"] = []string{"publickey,password publickey,keyboard-interactive:pam"}
	if got := Weakened(old, now); len(got) != 0 {
		t.Errorf("methods that allow passwords: weakened %v", got)
	}
}

func TestResetBreakingLines(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"Port 2222", true},
		{"ListenAddress 127.0.0.1", true},
		{"PubkeyAuthentication no", true},
		{"PubkeyAuthentication yes", false},
		{"pubkeyauthentication=yes", false},
		{"AuthorizedKeysFile /nonexistent/%u", true},
		{"AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u", false},
		{"AuthorizedKeysFile %h/.ssh/authorized_keys /gitlab-data/ssh/authorized_keys", false},
		{"AuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys", true},
		{"AuthorizedKeysCommand /bin/sh -c true", false}, // sshd can run it: maybe the only source of keys
		{"AuthorizedKeysCommand none", false},
		{"AuthorizedKeysCommandUser nobody", false},
		{"AuthorizedKeysCommandUser no-such-user-sshdoctor", true},
		{"MaxStartups 10:30:60", true},
		{"LoginGraceTime 0", true},
		{"LoginGraceTime 60", false},
		{"AuthenticationMethods publickey", true},
		{"MaxAuthTries 2", true},
		{"MaxAuthTries 3", false},
		{"PermitRootLogin no", false},
		{"PermitRootLogin No", false},
		{"PermitRootLogin prohibit-password", false},
		{"PermitRootLogin without-password", false},
		{"PermitRootLogin forced-commands-only", false},
		{"PermitRootLogin yes", true},
		{"PermitRootLogin maybe", true},
		{"PasswordAuthentication no", false},
		{"AllowUsers alice", false}, // policy: handled by letThrough
		{"Ciphers aes256-gcm@openssh.com", false},
	} {
		k, v := splitKV(c.line)
		if got := breaking(k, v); got != c.want {
			t.Errorf("breaking(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestResetDisableBreakingKeepsHardening(t *testing.T) {
	in := strings.Split("# CIS\nPasswordAuthentication no\nPermitRootLogin no\nMaxStartups 3:50:10\n\tPort 2222\nMatch User backup\n    PubkeyAuthentication no\n    X11Forwarding no", "\n")
	out, changes := disableBreaking(in)
	want := []string{"# CIS", "PasswordAuthentication no", "PermitRootLogin no",
		resetMark + "disabled (it breaks SSH): MaxStartups 3:50:10",
		resetMark + "disabled (it breaks SSH): \tPort 2222",
		"Match User backup",
		resetMark + "disabled (it breaks SSH):     PubkeyAuthentication no",
		"    X11Forwarding no"}
	if !slices.Equal(out, want) || len(changes) != 3 {
		t.Errorf("disableBreaking:\n%q\nwant\n%q\nchanges %q", out, want, changes)
	}
	if strings.Join(in, "\n") == strings.Join(out, "\n") {
		t.Error("the input was not copied")
	}
}

func TestResetSplitMainAndResetMain(t *testing.T) {
	access, match := splitMain("Port 2222\nAllowUsers alice bob\nPasswordAuthentication no\nDenyGroups guests\nMatch Group sftponly\n  ForceCommand internal-sftp\n  ListenAddress 10.0.0.1\nMatch Address 10.0.0.0/8\n  AllowUsers carol\n\n")
	if !slices.Equal(access, []string{"AllowUsers alice bob", "DenyGroups guests"}) {
		t.Errorf("access %q", access)
	}
	if len(match) != 5 || match[0] != "Match Group sftponly" || !strings.HasPrefix(match[2], resetMark) || match[4] != "  AllowUsers carol" {
		t.Errorf("match %q", match)
	}
	def := DefaultConfigs[FamilyDebian]
	if got := resetMain(def, nil, nil); got != def {
		t.Errorf("nothing kept: %q, want the default", got)
	}
	got := resetMain(def, []string{"PasswordAuthentication no"}, match)
	if !strings.Contains(got, "PasswordAuthentication no\nInclude /etc/ssh/sshd_config.d/*.conf\n") || !strings.HasSuffix(got, "  AllowUsers carol\n") {
		t.Errorf("kept lines not before the Include or Match blocks not at the end:\n%s", got)
	}
	// No Include (generic): right after the header comment.
	if got := resetMain(DefaultConfigs[FamilyGeneric], []string{"X11Forwarding no"}, nil); strings.Split(got, "\n")[2] != "X11Forwarding no" {
		t.Errorf("generic:\n%s", got)
	}
}

func TestResetLetThrough(t *testing.T) {
	main := []string{"AllowUsers alice", "DenyUsers bob mallory"}
	drop := []string{"AllowGroups admins", "DenyGroups bob", "AllowUsers carol", "  DenyUsers b*"}
	var changes []string
	letThrough([]lineRefs{{lines: &main}, {lines: &drop, changes: &changes}}, "bob", []string{"bob", "users"})
	if !slices.Equal(main[:1], []string{"AllowUsers alice bob"}) || !strings.HasPrefix(main[1], "DenyUsers mallory ") {
		t.Errorf("main: %q", main)
	}
	if drop[0] != "AllowGroups admins bob" || !strings.HasPrefix(drop[1], resetMark) || drop[2] != "AllowUsers carol" || !strings.HasPrefix(drop[3], resetMark) {
		t.Errorf("drop-in: %q", drop)
	}
	if len(changes) != 3 {
		t.Errorf("changes %q", changes)
	}
	// Already admitted: nothing changes.
	mainAgain, again := slices.Clone(main), slices.Clone(drop)
	letThrough([]lineRefs{{lines: &mainAgain}, {lines: &again}}, "bob", []string{"bob", "users"})
	if !slices.Equal(again, drop) || !slices.Equal(mainAgain, main) {
		t.Errorf("second pass changed %q %q → %q %q", main, drop, mainAgain, again)
	}
}

func TestResetSeconds(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "90": 90, "30s": 30, "1m30s": 90, "2h": 7200, "1d": 86400, "1W": 604800} {
		if got, ok := seconds(in); !ok || got != want {
			t.Errorf("seconds(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "abc", "m", "5x"} {
		if _, ok := seconds(bad); ok {
			t.Errorf("seconds(%q) accepted", bad)
		}
	}
}
