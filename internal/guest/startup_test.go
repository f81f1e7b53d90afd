package guest

import (
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStartupFailures: sshd -t output recorded from real sshd (and, for
// versions not installed here, the message as OpenSSH's source prints it;
// testdata/sshd-t/README) is judged into its own finding — never
// guest.sshd_config_invalid "at -" — and each repairable one is planned
// (and rendered for run-command) as the smallest change.
func TestStartupFailures(t *testing.T) {
	cases := []struct {
		file    string
		bad     []string // BadHostKeys the gather found
		want    string
		paths   []string
		repairs []string // action Op kinds
	}{
		{"openssh-9.2-debian12-perms.txt", nil, "guest.hostkey_perms", []string{"/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key"}, []string{OpHostkeyMode, OpHostkeyMode}},
		{"openssh-9.2-debian12-privsep-user.txt", nil, "guest.privsep_user_missing", nil, []string{OpUseraddSystem}},
		{"openssh-9.2-debian12-corrupt-keys.txt", []string{"/etc/ssh/ssh_host_ed25519_key"}, "guest.hostkey_invalid", []string{"/etc/ssh/ssh_host_ed25519_key"}, []string{OpRemoveFile, OpKeygenHostkeys}},
		{"openssh-9.6-source-invalid-format.txt", nil, "guest.hostkey_invalid", []string{"/etc/ssh/ssh_host_rsa_key"}, []string{OpRemoveFile, OpKeygenHostkeys}},
		{"openssh-9.8-source-session-missing.txt", nil, "guest.sshd_binary_missing", nil, nil},
		{"openssh-9.2-source-config-missing.txt", nil, "guest.sshd_config_unreadable", nil, nil},
		{"openssh-9.2-debian12-privsep-dir-perms.txt", nil, "guest.privsep_dir_unsafe", []string{"/run/sshd"}, []string{OpMkdir}},
		{"openssh-9.2-debian12-authmethods-unsatisfiable.txt", nil, "guest.auth_methods_unsatisfiable", nil, nil},
		{"openssh-9.2-debian12-keys-command-no-user.txt", nil, "guest.keys_command_user_missing", nil, []string{OpInsertLine}},
		{"openssh-8.7-source-privsep-dir-rhel.txt", nil, "guest.privsep_dir_missing", []string{"/var/empty/sshd"}, []string{OpMkdir}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			out, err := os.ReadFile("testdata/sshd-t/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			f := healthyFacts(t)
			f.ConfigOK, f.ConfigError, f.Effective, f.Listeners = false, strings.TrimSpace(string(out)), nil, nil
			f.ConfigErrorAt = errorOrigin(f.ConfigError)
			f.BadHostKeys = c.bad
			ps := Judge(f, JudgeOptions{})
			if len(ps) == 0 || ps[0].ID != c.want || find(ps, "guest.sshd_config_invalid") != nil || find(ps, "guest.sshd_start_failed") != nil {
				t.Fatalf("problems %v; want %s first and no generic finding", ids(ps), c.want)
			}
			var got []string
			for _, p := range ps {
				if p.ID == c.want {
					for _, pm := range p.Paths {
						got = append(got, pm.Path)
					}
				}
			}
			if !slices.Equal(got, c.paths) {
				t.Errorf("paths %v, want %v", got, c.paths)
			}
			var mine []Problem
			for _, p := range ps {
				if p.ID == c.want {
					mine = append(mine, p)
				}
			}
			acts := Plan(f, mine, RepairOptions{Remote: true})
			var kinds []string
			for _, a := range acts {
				if a.Skipped == "" && a.Op != nil {
					kinds = append(kinds, a.Op.Kind)
				}
			}
			if !slices.Equal(kinds, c.repairs) {
				t.Errorf("repairs %v, want %v (%+v)", kinds, c.repairs, acts)
			}
			if len(kinds) > 0 {
				script, err := RemoteRepairScript(acts, 22)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range c.paths {
					if !strings.Contains(script, "'"+p+"'") {
						t.Errorf("the script does not name %s", p)
					}
				}
			}
		})
	}
	// What none of the catalogue explains and names no line: sshd's own
	// words, as guest.sshd_start_failed.
	f := healthyFacts(t)
	f.ConfigOK, f.ConfigError, f.Listeners = false, "sshd: fatal: something new went wrong", nil
	ps := Judge(f, JudgeOptions{})
	if len(ps) == 0 || ps[0].ID != "guest.sshd_start_failed" || !strings.Contains(ps[0].Summary, "something new went wrong") {
		t.Fatalf("%v %+v", ids(ps), ps)
	}
	// A line sshd names stays a configuration error at that line.
	f.ConfigError = "/etc/ssh/sshd_config line 3: Bad configuration option: Foo"
	f.ConfigErrorAt = errorOrigin(f.ConfigError)
	if ps := Judge(f, JudgeOptions{}); len(ps) == 0 || ps[0].ID != "guest.sshd_config_invalid" {
		t.Fatalf("%v", ids(ps))
	}
}

// TestHostKeyParses: a key ssh-keygen made parses; an empty armour and
// garbage do not.
func TestHostKeyParses(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good"
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", good).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	bad := dir + "/bad"
	if err := os.WriteFile(bad, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := dir + "/garbage"
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !hostKeyParses(good) || hostKeyParses(bad) || hostKeyParses(garbage) {
		t.Fatalf("good %v bad %v garbage %v", hostKeyParses(good), hostKeyParses(bad), hostKeyParses(garbage))
	}
}

// TestKeyRestricted: a given key authorized only on lines whose options
// refuse this login is named with the line and the reason; a plain line
// with the same key, an unknown client address or a host name pattern
// never raise it.
func TestKeyRestricted(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir+"/k").CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pubText, _ := os.ReadFile(dir + "/k.pub")
	keys, err := ParsePublicKeys(pubText)
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(pubText))
	client := netip.MustParseAddr("203.0.113.10")
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, content string
		from          netip.Addr
		want          string // "" = not restricted
	}{
		{"from excludes", `from="10.0.0.0/8,192.0.2.*" ` + pub, client, `from="10.0.0.0/8,192.0.2.*" does not admit 203.0.113.10`},
		{"from admits by CIDR", `from="203.0.113.0/24" ` + pub, client, ""},
		{"from admits by wildcard", `from="203.0.113.*" ` + pub, client, ""},
		{"negated", `from="!203.0.113.10,*" ` + pub, client, "does not admit"},
		{"host name pattern: cannot tell", `from="*.corp.example.com" ` + pub, client, ""},
		{"client unknown", `from="10.0.0.0/8" ` + pub, netip.Addr{}, ""},
		{"expired", `expiry-time="20250101" ` + pub, client, "the key expired on 2025-01-01"},
		{"not yet expired", `expiry-time="20991231Z",no-pty ` + pub, client, ""},
		{"restricted, but also on a plain line", `from="10.0.0.0/8" ` + pub + "\n" + pub, client, ""},
	}
	for _, c := range cases {
		file := dir + "/authorized_keys"
		if err := os.WriteFile(file, []byte(c.content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		kf := readKeyFileForTest(t, file)
		u := UserFacts{Name: "alice", Exists: true, KeyFiles: []KeyFile{kf}}
		why := keysRestricted(u, JudgeOptions{Keys: keys, From: c.from, Now: now})
		got := strings.Join(why, "; ")
		if c.want == "" && got != "" || c.want != "" && (!strings.Contains(got, c.want) || !strings.Contains(got, file+":1:")) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func readKeyFileForTest(t *testing.T, file string) KeyFile {
	t.Helper()
	kf := readKeyFile(file, UserFacts{Name: "alice", Home: ""})
	if !kf.Found || kf.NotRead != "" {
		t.Fatalf("%+v", kf)
	}
	return kf
}

// TestListenAddressAbsent: every ListenAddress is an address the VM does
// not have → named, with the hosts the repair disables; a wildcard, one
// present address, or unknown local addresses → quiet.
func TestListenAddressAbsent(t *testing.T) {
	f := healthyFacts(t)
	f.LocalAddrs = []string{"127.0.0.1", "10.0.0.4", "::1"}
	for _, c := range []struct {
		listen []string
		want   []string
	}{
		{[]string{"10.0.0.9:22"}, []string{"10.0.0.9"}},
		{[]string{"10.0.0.9:22", "[fd00::9]:22"}, []string{"10.0.0.9", "fd00::9"}},
		{[]string{"10.0.0.9:22", "10.0.0.4:22"}, nil},
		{[]string{"0.0.0.0:22", "[::]:22"}, nil},
		{[]string{"10.0.0.4:2222"}, nil},
	} {
		f.Effective = map[string][]string{"port": {"22"}, "listenaddress": c.listen}
		if got := f.absentListenHosts(); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.listen, got, c.want)
		}
	}
	f.Effective["listenaddress"] = []string{"10.0.0.9:22"}
	f.LocalAddrs = nil
	if got := f.absentListenHosts(); got != nil {
		t.Errorf("unknown local addresses: %v", got)
	}
}

// TestMatchOrigins: directives inside Match blocks are recorded with their
// Match line, and the per-user judgement names the block that turns
// public keys off for the user.
func TestMatchOrigins(t *testing.T) {
	conf := t.TempDir() + "/sshd_config"
	if err := os.WriteFile(conf, []byte("PubkeyAuthentication yes\nPort 22\n\nMatch User alice,bob\n\tPubkeyAuthentication no\nMatch Address 10.0.0.0/8\n\tPasswordAuthentication yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	origins, match := map[string]Origin{}, map[string][]Origin{}
	parseConfigMatch(conf, origins, match, nil, 0)
	if origins["pubkeyauthentication"].Line != 1 || len(match["pubkeyauthentication"]) != 1 || match["pubkeyauthentication"][0].Line != 5 ||
		match["pubkeyauthentication"][0].Match != "Match User alice,bob" || len(match["passwordauthentication"]) != 1 {
		t.Fatalf("origins %+v match %+v", origins, match)
	}
	f := healthyFacts(t)
	f.Effective["pubkeyauthentication"] = []string{"yes"}
	f.Origins, f.MatchOrigins = origins, match
	user := func(name string) UserFacts {
		return UserFacts{Name: name, Exists: true, Shell: "/bin/bash", ShellOK: true, Effective: map[string]string{"pubkeyauthentication": "no"},
			KeyFiles: []KeyFile{{Path: "/home/" + name + "/.ssh/authorized_keys", Found: true, Keys: []string{"ssh-ed25519"}}}}
	}
	f.Users = []UserFacts{user("alice"), user("bob")}
	ps := Judge(f, JudgeOptions{})
	var got []Problem
	for _, p := range ps {
		if p.ID == "guest.pubkey_disabled" {
			got = append(got, p)
		}
	}
	if len(got) != 1 || got[0].Origin == nil || got[0].Origin.Line != 5 || !strings.Contains(got[0].Summary, "Match User alice,bob") {
		t.Fatalf("want one problem naming the Match block at line 5: %+v", got)
	}
}

// TestRefusedKeyTypes: an RSA key is usable through rsa-sha2-*; a DSA key
// after OpenSSH 9.8, or an ed25519 key under an ECDSA-only list, is not;
// given keys decide over the file's when present.
func TestRefusedKeyTypes(t *testing.T) {
	u := UserFacts{Name: "alice", Effective: map[string]string{"pubkeyacceptedalgorithms": "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"}}
	for _, c := range []struct {
		types []string
		want  string
	}{
		{[]string{"ssh-rsa"}, ""},
		{[]string{"ssh-dss"}, "ssh-dss"},
		{[]string{"ssh-dss", "ssh-ed25519"}, ""},
		{nil, ""},
	} {
		if got := refusedKeyTypes(u, c.types, nil); got != c.want {
			t.Errorf("%v: %q, want %q", c.types, got, c.want)
		}
	}
	u.Effective["pubkeyacceptedalgorithms"] = "ecdsa-sha2-nistp256"
	if got := refusedKeyTypes(u, []string{"ssh-ed25519"}, nil); got != "ssh-ed25519" {
		t.Errorf("%q", got)
	}
	u.Effective["pubkeyacceptedalgorithms"] = ""
	if got := refusedKeyTypes(u, []string{"ssh-dss"}, nil); got != "" {
		t.Errorf("unknown list: %q", got)
	}
}

// TestChrootComponents: sshd's safely_chroot rules, one component at a
// time, and a path walked to /.
func TestChrootComponents(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		uid  int
		ok   bool
	}{{0o755, 0, true}, {0o750, 0, true}, {0o775, 0, false}, {0o757, 0, false}, {0o755, 1000, false}} {
		if _, ok := chrootComponent("/srv/x", c.mode, c.uid); ok != c.ok {
			t.Errorf("mode %o uid %d: ok %v, want %v", c.mode, c.uid, ok, c.ok)
		}
	}
	bad := unsafeChroot("/nonexistent-sshdoctor-chroot/alice")
	if len(bad) != 2 || bad[0].Reason != "missing" || bad[1].Path != "/nonexistent-sshdoctor-chroot" {
		t.Fatalf("%+v", bad)
	}
	if bad := unsafeChroot("/usr/share"); len(bad) != 0 {
		t.Fatalf("/usr/share is root's and not writable: %+v", bad)
	}
}

// TestPrivsepDir: the missing directory is the one sshd names; a RHEL or
// Fedora VM without /run/sshd is not a Debian VM missing it.
func TestPrivsepDir(t *testing.T) {
	cases := []struct {
		name     string
		ok       bool
		out      string
		anyKnown bool
		present  bool
		path     string
	}{
		{name: "sshd -t passes, no /run/sshd (RHEL: /var/empty/sshd)", ok: true, present: true},
		{name: "Debian, missing", out: "Missing privilege separation directory: /run/sshd", anyKnown: false, path: "/run/sshd"},
		{name: "Fedora, missing", out: "Missing privilege separation directory: /usr/share/empty.sshd", anyKnown: true, path: "/usr/share/empty.sshd"},
		{name: "another error first, a known directory exists", out: "/etc/ssh/sshd_config line 3: Bad configuration option: Foo", anyKnown: true, present: true},
		{name: "another error first, none exists", out: "/etc/ssh/sshd_config line 3: Bad configuration option: Foo", path: "/run/sshd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			present, path := privsepDir(c.ok, c.out, c.anyKnown)
			if present != c.present || path != c.path {
				t.Fatalf("privsepDir = %v %q, want %v %q", present, path, c.present, c.path)
			}
		})
	}
}
