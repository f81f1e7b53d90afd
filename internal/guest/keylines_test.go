package guest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/findings"
)

func testKeys(t *testing.T) (ed, rs ssh.PublicKey, edPriv ed25519.PrivateKey, rsaPub *rsa.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err = ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs, err = ssh.NewPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return ed, rs, priv, &rk.PublicKey
}

func wrapAt(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s
}

func TestKeyDefects(t *testing.T) {
	ed, rs, edPriv, rsaPub := testKeys(t)
	edLine, rsLine := keyText(ed), keyText(rs)
	b64 := base64.StdEncoding.EncodeToString(rs.Marshal())
	der, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	pemPub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	privBlock, err := ssh.MarshalPrivateKey(edPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(privBlock))
	utf16le := func(s string) []byte {
		u := utf16.Encode([]rune(s))
		out := []byte{0xff, 0xfe}
		for _, c := range u {
			out = binary.LittleEndian.AppendUint16(out, c)
		}
		return out
	}
	cases := []struct {
		name  string
		data  []byte
		kinds []string
		keys  []string
		opts  bool
	}{
		{name: "clean, CRLF endings and comments (sshd reads them)", data: []byte("# keys\r\n" + edLine + " alice@laptop\r\n\r\n" + rsLine + "\r\n")},
		{name: "BOM before the first key", data: []byte("\ufeff" + edLine + " alice\n" + rsLine + "\n"), kinds: []string{DefectBOM}, keys: []string{edLine}},
		{name: "BOM before options: not rewritten", data: []byte("\ufefffrom=\"10.0.0.0/8\" " + edLine + "\n"), kinds: []string{DefectBOM}, opts: true},
		{name: "UTF-16LE from PowerShell", data: utf16le(edLine + " alice\r\n" + rsLine + "\r\n"), kinds: []string{DefectUTF16, DefectUTF16}, keys: []string{edLine, rsLine}},
		{name: "RSA key wrapped at 64 columns, comment on its own line", data: []byte(edLine + "\n" + wrapAt("ssh-rsa "+b64, 64) + "\nbob@pc\n"), kinds: []string{DefectWrapped}, keys: []string{rsLine}},
		{name: "ed25519 wrapped inside its base64", data: []byte(wrapAt(edLine+" alice@laptop", 30) + "\n"), kinds: []string{DefectWrapped}, keys: []string{edLine}},
		{name: "RFC 4716 block", data: []byte("---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"bob\"\n" + wrapAt(b64, 70) + "\n---- END SSH2 PUBLIC KEY ----\n"), kinds: []string{DefectRFC4716}, keys: []string{rsLine}},
		{name: "PEM public key", data: []byte(edLine + "\n" + pemPub), kinds: []string{DefectPEM}, keys: []string{rsLine}},
		{name: "private key pasted", data: []byte(privPEM + edLine + "\n"), kinds: []string{DefectPrivateKey}},
		{name: "PuTTY private key file", data: []byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nAAAA\nPrivate-Lines: 1\nAAAA\n"), kinds: []string{DefectPrivateKey}},
		{name: "garbage is no defect (counted as a bad line only)", data: []byte("hello world\nssh-ed25519 AAAAnotbase64\n" + edLine + "\n")},
		{name: "truncated key with nothing to join", data: []byte(edLine[:40] + "\n\n" + rsLine + "\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := keyDefects(keyFileLines(c.data))
			var kinds, keys []string
			opts := false
			for _, d := range ds {
				kinds = append(kinds, d.Kind)
				if d.Key != "" {
					keys = append(keys, d.Key)
				}
				opts = opts || d.Options
			}
			if strings.Join(kinds, ",") != strings.Join(c.kinds, ",") || strings.Join(keys, ",") != strings.Join(c.keys, ",") || opts != c.opts {
				t.Fatalf("defects %+v: kinds %v keys %d options %v; want kinds %v keys %d options %v", ds, kinds, len(keys), opts, c.kinds, len(c.keys), c.opts)
			}
		})
	}
}

// TestKeyDefectsFromSuspectLines: read remotely, only the suspect lines
// come (with their numbers); a gap in the numbers ends a wrapped key.
func TestKeyDefectsFromSuspectLines(t *testing.T) {
	ed, _, _, _ := testKeys(t)
	line := keyText(ed)
	half := len(line) / 2
	joined := keyDefects([]numberedLine{{N: 3, Text: line[:half]}, {N: 4, Text: line[half:]}}, false)
	if len(joined) != 1 || joined[0].Kind != DefectWrapped || joined[0].Line != 3 || joined[0].Key != line {
		t.Fatalf("consecutive halves: %+v", joined)
	}
	if gap := keyDefects([]numberedLine{{N: 3, Text: line[:half]}, {N: 7, Text: line[half:]}}, false); len(gap) != 0 {
		t.Fatalf("halves 4 lines apart were joined: %+v", gap)
	}
	priv := keyDefects([]numberedLine{{N: 1, Text: "-----BEGIN OPENSSH PRIVATE KEY-----"}, {N: 9, Text: line[:half]}, {N: 10, Text: line[half:]}}, false)
	if len(priv) != 2 || priv[0].Kind != DefectPrivateKey || priv[1].Kind != DefectWrapped {
		t.Fatalf("a private key's first line, then a wrapped key: %+v", priv)
	}
}

func TestUnsatisfiedMethods(t *testing.T) {
	eff := func(kv ...string) map[string]string {
		m := map[string]string{"pubkeyauthentication": "yes", "passwordauthentication": "no", "kbdinteractiveauthentication": "no", "hostbasedauthentication": "no", "gssapiauthentication": "no"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		u      UserFacts
		keys   int
		want   string // a substring; "" = satisfiable
		silent bool
	}{
		{name: "any", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "any")}, keys: 1},
		{name: "publickey with a key", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey")}, keys: 1},
		{name: "second factor turned off", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey,keyboard-interactive:pam")}, keys: 1, want: "keyboard-interactive is off"},
		{name: "password for a user without one", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey,password", "passwordauthentication", "yes")}, keys: 1, want: "a has no password"},
		{name: "one list of two can complete", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey,password publickey")}, keys: 1},
		{name: "publickey without a key", u: UserFacts{Name: "a", HasPassword: true, Effective: eff("authenticationmethods", "publickey password", "passwordauthentication", "no")}, want: "a has no authorized key"},
		{name: "two publickey steps, one key", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey,publickey")}, keys: 1, want: "2 different keys"},
		{name: "two publickey steps, two keys", u: UserFacts{Name: "a", Effective: eff("authenticationmethods", "publickey,publickey")}, keys: 2},
		{name: "older sshd: challengeresponse", u: UserFacts{Name: "a", Effective: map[string]string{"authenticationmethods": "publickey,keyboard-interactive", "pubkeyauthentication": "yes", "challengeresponseauthentication": "yes"}}, keys: 1},
		{name: "switch not reported: no guess", u: UserFacts{Name: "a", Effective: map[string]string{"authenticationmethods": "publickey,gssapi-with-mic", "pubkeyauthentication": "yes"}}, keys: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := unsatisfiedMethods(c.u, c.keys, false)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestJudgeByFingerprint: --key-fingerprint stands for the key itself:
// authorized, restricted by from=, or absent, the same verdicts.
func TestJudgeByFingerprint(t *testing.T) {
	ed, rs, _, _ := testKeys(t)
	fpEd, fpRSA := ssh.FingerprintSHA256(ed), ssh.FingerprintSHA256(rs)
	user := func(opts []KeyOptions) UserFacts {
		return UserFacts{Name: "alice", Exists: true, ShellOK: true, Home: "/home/alice", Effective: map[string]string{"pubkeyauthentication": "yes"},
			KeyFiles: []KeyFile{{Path: "/home/alice/.ssh/authorized_keys", Found: true, Keys: []string{ed.Type()}, fingerprints: []string{fpEd}, Options: opts}}}
	}
	ids := func(u UserFacts, o JudgeOptions) []string {
		var out []string
		for _, p := range judgeUser(&Facts{}, u, o) {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids(user(nil), JudgeOptions{Fingerprints: []string{fpEd}}); len(got) != 0 {
		t.Errorf("the authorized key's fingerprint: %v, want nothing", got)
	}
	if got := ids(user(nil), JudgeOptions{Fingerprints: []string{fpRSA}}); !slices.Contains(got, "guest.key_not_authorized") {
		t.Errorf("another key's fingerprint: %v, want guest.key_not_authorized", got)
	}
	from := []KeyOptions{{Path: "/home/alice/.ssh/authorized_keys", Line: 1, Options: []string{`from="10.99.0.0/16"`}, Fingerprint: fpEd}}
	if got := ids(user(from), JudgeOptions{Fingerprints: []string{fpEd}, From: netip.MustParseAddr("203.0.113.7")}); !slices.Contains(got, "guest.key_restricted") {
		t.Errorf("from= refusing the client, by fingerprint: %v, want guest.key_restricted", got)
	}
}

// TestAddressDependent: without --from, an "all is well" names what was
// judged for a generic client but depends on the client's address.
func TestAddressDependent(t *testing.T) {
	f := &Facts{MatchOrigins: map[string][]Origin{
		"pubkeyauthentication": {{File: "/etc/ssh/sshd_config", Line: 30, Match: "Match Address 10.0.0.0/8"}},
		"permitrootlogin":      {{File: "/etc/ssh/sshd_config", Line: 40, Match: "Match User backup"}},
	}, Users: []UserFacts{{Name: "a", KeyFiles: []KeyFile{{Options: []KeyOptions{{Path: "/home/a/.ssh/authorized_keys", Line: 2, Options: []string{`from="10.1.0.0/16"`}}}}}}}}
	got := strings.Join(addressDependent(f, JudgeOptions{}), "")
	if !strings.Contains(got, "Match Address 10.0.0.0/8") || !strings.Contains(got, "from= at /home/a/.ssh/authorized_keys:2") || strings.Contains(got, "Match User") {
		t.Fatalf("without --from: %q", got)
	}
	if got := addressDependent(f, JudgeOptions{From: netip.MustParseAddr("10.1.2.3")}); got != nil {
		t.Fatalf("with --from: %q, want nothing", got)
	}
}

func TestInaccessible(t *testing.T) {
	file := func(mode uint32, uid, gid int) pathStat {
		return pathStat{path: "/home/a/.ssh/authorized_keys", mode: mode, uid: uid, gid: gid}
	}
	dir := func(p string, mode uint32, uid, gid int) pathStat {
		return pathStat{path: p, mode: mode, uid: uid, gid: gid, dir: true}
	}
	root := dir("/", 0o755, 0, 0)
	home := dir("/home", 0o755, 0, 0)
	cases := []struct {
		name  string
		comps []pathStat
		want  string // the first path refused, "" for none
	}{
		{"the usual layout", []pathStat{file(0o600, 1000, 1000), dir("/home/a/.ssh", 0o700, 1000, 1000), dir("/home/a", 0o750, 1000, 1000), home, root}, ""},
		{"root's file, 0644", []pathStat{file(0o644, 0, 0), dir("/home/a/.ssh", 0o755, 0, 0), dir("/home/a", 0o755, 1000, 1000), home, root}, ""},
		{"root's file, 0600", []pathStat{file(0o600, 0, 0), dir("/home/a/.ssh", 0o700, 1000, 1000), dir("/home/a", 0o755, 1000, 1000), home, root}, "/home/a/.ssh/authorized_keys"},
		{"~/.ssh 000, the user's", []pathStat{file(0o600, 1000, 1000), dir("/home/a/.ssh", 0, 1000, 1000), dir("/home/a", 0o755, 1000, 1000), home, root}, "/home/a/.ssh"},
		{"home root's 0700", []pathStat{file(0o600, 1000, 1000), dir("/home/a/.ssh", 0o700, 1000, 1000), dir("/home/a", 0o700, 0, 0), home, root}, "/home/a"},
		{"group grants it", []pathStat{file(0o640, 0, 2000), dir("/home/a/.ssh", 0o750, 0, 2000), dir("/home/a", 0o755, 1000, 1000), home, root}, ""},
		{"owner class wins over group and other", []pathStat{file(0o066, 1000, 1000), dir("/home/a/.ssh", 0o700, 1000, 1000), dir("/home/a", 0o755, 1000, 1000), home, root}, "/home/a/.ssh/authorized_keys"},
		{"/home closed", []pathStat{file(0o600, 1000, 1000), dir("/home/a/.ssh", 0o700, 1000, 1000), dir("/home/a", 0o755, 1000, 1000), dir("/home", 0o700, 0, 0), root}, "/home"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := inaccessible(c.comps, 1000, []int{1000, 2000})
			first := ""
			if len(got) > 0 {
				first = got[0].Path
			}
			if first != c.want {
				t.Fatalf("first refused %q (%+v), want %q", first, got, c.want)
			}
		})
	}
	if got := inaccessible([]pathStat{file(0, 0, 0)}, 0, nil); got != nil {
		t.Fatalf("root reads everything: %+v", got)
	}
}

func TestAllowDenyUsers(t *testing.T) {
	office := netip.MustParseAddr("10.1.2.3")
	home := netip.MustParseAddr("203.0.113.7")
	cases := []struct {
		list, user string
		from       netip.Addr
		want       tri
	}{
		{"alice bob", "alice", home, matchYes},
		{"al*", "alice", home, matchYes},
		{"a?ice", "alice", home, matchYes},
		{"bob", "alice", home, matchNo},
		{"alice@10.0.0.0/8", "alice", office, matchYes},
		{"alice@10.0.0.0/8", "alice", home, matchNo},
		{"alice@10.1.2.*", "alice", office, matchYes},
		{"alice@!10.1.2.3,10.0.0.0/8", "alice", office, matchNo},
		{"alice@10.0.0.0/8", "alice", netip.Addr{}, matchUnknown},
		{"alice@*.corp.example", "alice", office, matchUnknown},
		{"bob@10.0.0.0/8 alice", "alice", home, matchYes},
	}
	for _, c := range cases {
		if got := usersListMatches(c.list, c.user, c.from); got != c.want {
			t.Errorf("%q for %s from %v: %v, want %v", c.list, c.user, c.from, got, c.want)
		}
	}
	u := UserFacts{Name: "alice", Effective: map[string]string{"allowusers": "alice@10.0.0.0/8"}}
	if got := deniedByGroups(u, nil, home); got != "AllowUsers" {
		t.Errorf("AllowUsers alice@10.0.0.0/8 from %v: %q, want AllowUsers", home, got)
	}
	if got := deniedByGroups(u, nil, netip.Addr{}); got != "" {
		t.Errorf("AllowUsers alice@10.0.0.0/8 from an unknown address: %q, want no verdict", got)
	}
	g := UserFacts{Name: "alice", Effective: map[string]string{"allowgroups": "ssh-*,!ssh-guests"}}
	if got := deniedByGroups(g, []string{"alice", "ssh-guests"}, home); got != "AllowGroups" {
		t.Errorf("AllowGroups with a negation: %q", got)
	}
	if got := deniedByGroups(g, []string{"alice", "ssh-users"}, home); got != "" {
		t.Errorf("AllowGroups ssh-* for ssh-users: %q", got)
	}
}

func TestJudgeSessions(t *testing.T) {
	f := &Facts{MatchOrigins: map[string][]Origin{"forcecommand": {{File: "/etc/ssh/sshd_config", Line: 120, Value: "internal-sftp", Match: "Match Group sftponly"}}}}
	run := func(eff map[string]string) []Problem {
		var ps []Problem
		add := func(id, summary string, ev ...string) *Problem {
			ps = append(ps, Problem{Finding: findings.New(id, summary, "", ev...)})
			return &ps[len(ps)-1]
		}
		judgeSessions(f, UserFacts{Name: "a", Effective: eff}, add)
		return ps
	}
	if ps := run(map[string]string{"forcecommand": "none", "maxsessions": "10"}); len(ps) != 0 {
		t.Fatalf("defaults: %+v", ps)
	}
	if ps := run(map[string]string{"forcecommand": "/usr/bin/logger -t audit"}); len(ps) != 0 {
		t.Fatalf("a ForceCommand that is some program: %+v (no verdict: it may run a shell)", ps)
	}
	ps := run(map[string]string{"forcecommand": "internal-sftp", "maxsessions": "0"})
	if len(ps) != 2 || ps[0].ID != "guest.session_forced" || !strings.Contains(ps[0].Summary, "Match Group sftponly") || ps[1].ID != "guest.sessions_disabled" {
		t.Fatalf("internal-sftp and MaxSessions 0: %+v", ps)
	}
}

func TestNoCommonAlgorithms(t *testing.T) {
	cases := []struct {
		name string
		eff  map[string][]string
		want string // the first list named, "" for none
	}{
		{"sshd defaults", map[string][]string{"kexalgorithms": {"sntrup761x25519-sha512@openssh.com,curve25519-sha256"}, "ciphers": {"chacha20-poly1305@openssh.com,aes256-gcm@openssh.com"}, "macs": {"umac-128-etm@openssh.com"}}, ""},
		{"legacy kex only", map[string][]string{"kexalgorithms": {"diffie-hellman-group1-sha1"}}, "kexalgorithms"},
		{"CBC ciphers only", map[string][]string{"ciphers": {"aes128-cbc,3des-cbc"}}, "ciphers"},
		{"AEAD ciphers need no MAC", map[string][]string{"ciphers": {"chacha20-poly1305@openssh.com"}, "macs": {"hmac-md5"}}, ""},
		{"CTR ciphers with MD5 MACs only", map[string][]string{"ciphers": {"aes256-ctr"}, "macs": {"hmac-md5,hmac-md5-96"}}, "macs"},
		{"ssh-rsa host keys only", map[string][]string{"hostkeyalgorithms": {"ssh-rsa"}}, "hostkeyalgorithms"},
		{"not known (sshd -t failed)", map[string][]string{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := noCommonAlgorithms(c.eff)
			first := ""
			if len(got) > 0 {
				first, _, _ = strings.Cut(got[0], " ")
			}
			if first != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSSHDNotExecutable(t *testing.T) {
	ps := Judge(&Facts{SSHDPath: "/usr/sbin/sshd", SSHDPresent: true, SSHDNotExecutable: true}, JudgeOptions{})
	if len(ps) != 1 || ps[0].ID != "guest.sshd_not_executable" {
		t.Fatalf("%+v", ps)
	}
	acts := Plan(&Facts{SSHDPath: "/usr/sbin/sshd"}, ps, RepairOptions{})
	if len(acts) != 1 || acts[0].Op == nil || acts[0].Op.Kind != OpBinaryMode || acts[0].Op.Path != "/usr/sbin/sshd" {
		t.Fatalf("plan: %+v", acts)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root under CI")
		}
		t.Skip("needs root")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sshd")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rootFileMode(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(bin); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", st.Mode())
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	if err := rootFileMode(link, 0o755); err == nil {
		t.Fatal("followed a link")
	}
}

func TestRoutes(t *testing.T) {
	const withDefault = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	rs := parseProcRoute(withDefault)
	if len(rs) != 2 || rs[0].Dst.String() != "0.0.0.0/0" || rs[0].Gateway.String() != "192.0.2.1" || rs[1].Dst.String() != "192.0.2.0/24" {
		t.Fatalf("parsed %+v", rs)
	}
	f := &Facts{Routes: rs, RoutesKnown: true}
	if f.noRouteTo(netip.Addr{}) {
		t.Fatal("a default route: a client on the Internet is answered")
	}
	f.Routes = rs[1:]
	if !f.noRouteTo(netip.Addr{}) || !f.noRouteTo(netip.MustParseAddr("203.0.113.9")) {
		t.Fatal("no default route: a client outside 192.0.2.0/24 is not answered")
	}
	if f.noRouteTo(netip.MustParseAddr("192.0.2.77")) {
		t.Fatal("a client on the attached subnet is answered")
	}
	f.IPv6Default = true
	if f.noRouteTo(netip.Addr{}) {
		t.Fatal("an IPv6 default route: no verdict")
	}
	if ipv6Default("00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n") != true {
		t.Fatal("an IPv6 default route that is up")
	}
	if ipv6Default("00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n") {
		t.Fatal("the reject route on lo is not a default route")
	}
	if (&Facts{}).noRouteTo(netip.Addr{}) {
		t.Fatal("routes not read: no verdict")
	}
}

// TestStartTestJudged: sshd -t passes and nothing listens; what a test
// start printed is judged like sshd -t's output.
func TestStartTestJudged(t *testing.T) {
	base := func(st *StartTest) *Facts {
		return &Facts{SSHDPath: "/usr/sbin/sshd", SSHDPresent: true, ConfigOK: true, PrivsepDir: true, Port: 22, HostKeys: []string{"/etc/ssh/ssh_host_ed25519_key"}, StartTest: st}
	}
	ps := Judge(base(&StartTest{Output: "fatal: /usr/lib/openssh/sshd-session does not exist or is not executable"}), JudgeOptions{})
	if len(ps) == 0 || ps[0].ID != "guest.sshd_binary_missing" || !strings.Contains(strings.Join(ps[0].Evidence, " "), "test start") {
		t.Fatalf("a start that dies on a missing program: %+v", ps)
	}
	ps = Judge(base(&StartTest{Output: "error: Bind to port 22 on 0.0.0.0 failed: Permission denied.\nfatal: Cannot bind any address."}), JudgeOptions{})
	if len(ps) == 0 || ps[0].ID != "guest.sshd_start_failed" || !strings.Contains(ps[0].Summary, "Permission denied") {
		t.Fatalf("a bind refused (SELinux port label): %+v", ps)
	}
	ps = Judge(base(&StartTest{Running: true}), JudgeOptions{})
	if len(ps) == 0 || ps[0].ID != "guest.sshd_not_running" || !strings.Contains(strings.Join(ps[0].Evidence, " "), "starts and stays up") {
		t.Fatalf("sshd fine by hand: %+v", ps)
	}
}

func TestPAMAccess(t *testing.T) {
	files := map[string]string{
		"/etc/pam.d/sshd":           "@include common-auth\naccount    required     pam_nologin.so\n# account  required     pam_access.so\n@include common-account\naccount  [success=ok perm_denied=bad default=ignore] pam_access.so accessfile=/etc/security/ssh-access.conf\n",
		"/etc/pam.d/common-account": "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\naccount requisite pam_deny.so\naccount sufficient pam_access.so\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	mods := pamAccessModules(read)
	if len(mods) != 1 || mods[0].Line != 5 || accessFiles(mods[0])[0] != "/etc/security/ssh-access.conf" {
		t.Fatalf("enforcing pam_access lines: %+v (the commented and the sufficient one do not count)", mods)
	}
	rules := []Origin{
		{File: "f", Line: 1, Text: "+ : root : 10.0.0.0/8"},
		{File: "f", Line: 2, Text: "+ : (admins) : ALL"},
		{File: "f", Line: 3, Text: "- : ALL EXCEPT ops : 192.168.1. 203.0.113.0/24"},
		{File: "f", Line: 4, Text: "- : dave : .corp.example"},
	}
	from := netip.MustParseAddr("203.0.113.5")
	cases := []struct {
		user   string
		groups []string
		from   netip.Addr
		line   int // the refusing rule, 0 = admitted
		known  bool
	}{
		{"alice", []string{"alice"}, from, 3, true},
		{"alice", []string{"alice", "admins"}, from, 0, true},
		{"ops", []string{"ops"}, from, 0, true},
		{"alice", []string{"alice"}, netip.MustParseAddr("198.51.100.1"), 0, true},
		{"alice", []string{"alice"}, netip.Addr{}, 0, false},
		{"dave", []string{"dave"}, netip.MustParseAddr("198.51.100.1"), 0, false},
	}
	for _, c := range cases {
		deny, known := accessDenies(rules, c.user, c.groups, c.from)
		line := 0
		if deny != nil {
			line = deny.Line
		}
		if line != c.line || known != c.known {
			t.Errorf("%s %v from %v: refused by line %d (known %v), want %d (%v)", c.user, c.groups, c.from, line, known, c.line, c.known)
		}
	}
}

func TestTCPWrappers(t *testing.T) {
	office, home := netip.MustParseAddr("10.99.1.2"), netip.MustParseAddr("203.0.113.7")
	lines := func(file string, ls ...string) []Origin { return tcpdLines(file, ls, false) }
	cases := []struct {
		name        string
		allow, deny []Origin
		from        netip.Addr
		deniedBy    string // file:line, "" admitted
		known       bool
	}{
		{"nothing", nil, nil, home, "", true},
		{"sshd: ALL denied", nil, lines("d", "sshd: ALL"), home, "d:1", true},
		{"ALL: ALL denied, even unknown", nil, lines("d", "# c", "ALL: ALL"), netip.Addr{}, "d:2", true},
		{"allowlist admits the office", lines("a", "sshd: 10.99.0.0/16"), lines("d", "ALL: ALL"), office, "", true},
		{"allowlist refuses home", lines("a", "sshd: 10.99.0.0/255.255.0.0"), lines("d", "ALL: ALL"), home, "d:1", true},
		{"allowlist, unknown client", lines("a", "sshd: 10.99."), lines("d", "ALL: ALL"), netip.Addr{}, "", false},
		{"other daemons do not count", nil, lines("d", "vsftpd: ALL"), home, "", true},
		{"EXCEPT", nil, lines("d", "sshd: ALL EXCEPT 203.0.113.0/24"), home, "", true},
		{"deny option in hosts.allow", lines("a", "sshd: 203.0.113.7: deny"), nil, home, "a:1", true},
		{"host names are not judged", nil, lines("d", "sshd: .example.com"), home, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, known := tcpdDenies(c.allow, c.deny, c.from)
			got := ""
			if r != nil {
				got = fmt.Sprintf("%s:%d", r.File, r.Line)
			}
			if got != c.deniedBy || known != c.known {
				t.Fatalf("denied by %q (known %v), want %q (%v)", got, known, c.deniedBy, c.known)
			}
		})
	}
}

func TestStrayKeys(t *testing.T) {
	ed, rs, _, _ := testKeys(t)
	for name, want := range map[string][2]bool{"authorized_key": {true, true}, "authorised_keys": {true, true}, "authorized_keys.txt": {true, true}, "id_ed25519.pub": {true, false}, "known_hosts": {false, false}, "config": {false, false}} {
		if c, m := strayName(name); c != want[0] || m != want[1] {
			t.Errorf("strayName(%q) = %v %v, want %v", name, c, m, want)
		}
	}
	u := UserFacts{Name: "alice", Exists: true, ShellOK: true, Home: "/home/alice", Effective: map[string]string{"pubkeyauthentication": "yes"},
		KeyFiles: []KeyFile{{Path: "/home/alice/.ssh/authorized_keys"}},
		Stray:    append(strayFrom("/home/alice/.ssh/authorized_key", []byte(keyText(ed)+" alice\n"), true), strayFrom("/home/alice/.ssh/id_rsa.pub", []byte(keyText(rs)+"\n"), false)...)}
	ps := judgeUser(&Facts{}, u, JudgeOptions{})
	if len(ps) != 1 || ps[0].ID != "guest.keys_misplaced" || len(ps[0].Keys) != 1 || ps[0].Keys[0] != keyText(ed) {
		t.Fatalf("a misspelt authorized_keys, no key given: %+v", ps)
	}
	ps = judgeUser(&Facts{}, u, JudgeOptions{Keys: []ssh.PublicKey{rs}})
	if len(ps) != 1 || ps[0].ID != "guest.no_authorized_keys" || !strings.Contains(strings.Join(ps[0].Evidence, " "), "id_rsa.pub, a file sshd does not read") {
		t.Fatalf("the given key only in a copied .pub: %+v", ps)
	}
}

func TestMaxAuthTries(t *testing.T) {
	for val, want := range map[string]string{"0": "guest.max_auth_tries", "1": "guest.max_auth_tries_low", "2": "", "6": "", "x": ""} {
		var got string
		judgeMaxAuthTries(&Facts{}, val, "", func(id, summary string, ev ...string) *Problem {
			got = id
			return &Problem{}
		})
		if got != want {
			t.Errorf("MaxAuthTries %s: %q, want %q", val, got, want)
		}
	}
}

func TestCertAuthorityLine(t *testing.T) {
	ko := KeyOptions{Options: []string{"cert-authority", `principals="alice"`}}
	if r := ko.restriction(netip.Addr{}, time.Now()); !strings.Contains(r, "cert-authority") {
		t.Fatalf("a cert-authority line admits the plain key: %q", r)
	}
	if r := (KeyOptions{Options: []string{"restrict", `command="uptime"`}}).restriction(netip.Addr{}, time.Now()); r != "" {
		t.Fatalf("restrict/command= do not refuse authentication: %q", r)
	}
}
