package probe

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMatchHosts(t *testing.T) {
	name := "[10.0.0.5]:2222"
	for _, tc := range []struct {
		patterns []string
		want     bool
	}{
		{[]string{"[10.0.0.5]:2222"}, true},
		{[]string{"[10.0.0.*]:*"}, true},
		{[]string{"10.0.0.5"}, false}, // off port 22 the name carries the port
		{[]string{"*", "!" + name}, false},
		{[]string{"[10.0.0.?]:2222"}, true},
		{[]string{knownhosts.HashHostname(name)}, true},
		{[]string{knownhosts.HashHostname("[10.0.0.6]:2222")}, false},
	} {
		if got := matchHosts(tc.patterns, name); got != tc.want {
			t.Errorf("matchHosts(%q, %q) = %v, want %v", tc.patterns, name, got, tc.want)
		}
	}
}

// TestPreferAlgorithms follows OpenSSH's order_hostkeyalgs.
func TestPreferAlgorithms(t *testing.T) {
	algos := []string{ssh.CertAlgoED25519v01, ssh.CertAlgoRSASHA512v01, ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512}
	write := func(lines ...string) *knownHosts {
		f := filepath.Join(t.TempDir(), "known_hosts")
		var b []byte
		for _, l := range lines {
			b = append(b, l+"\n"...)
		}
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s := settings("10.0.0.5", 2222)
		s.UserKnownHostsFiles = []string{f}
		return newKnownHosts(s)
	}
	key := func() ssh.PublicKey {
		s, err := ssh.NewSignerFromKey(mustEd25519(t))
		if err != nil {
			t.Fatal(err)
		}
		return s.PublicKey()
	}
	ecdsaLine := "[10.0.0.5]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
	ca := "@cert-authority [10.0.0.5]:* " + string(ssh.MarshalAuthorizedKey(key()))
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"nothing known: as is", nil, algos},
		{"CA only: certificates first", []string{ca}, algos},
		{"ecdsa known: ecdsa first", []string{ecdsaLine}, []string{ssh.KeyAlgoECDSA256, ssh.CertAlgoED25519v01, ssh.CertAlgoRSASHA512v01, ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512}},
		{"ecdsa and CA: certificates and ecdsa first", []string{ecdsaLine, ca}, []string{ssh.CertAlgoED25519v01, ssh.CertAlgoRSASHA512v01, ssh.KeyAlgoECDSA256, ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512}},
		{"ed25519 known, best is its cert: as is", []string{knownhosts.Line([]string{"[10.0.0.5]:2222"}, key())}, algos},
	} {
		if got := write(tc.lines...).preferAlgorithms(algos); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	rsaFirst := []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoED25519, ssh.CertAlgoED25519v01}
	if got := write(ca).preferAlgorithms(rsaFirst); !slices.Equal(got, []string{ssh.CertAlgoED25519v01, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoED25519}) {
		t.Errorf("CA with a plain-first list: got %q", got)
	}
}

func mustEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CheckHostIP: the address the connection reached is looked up too.
func TestCheckHostIP(t *testing.T) {
	dir := t.TempDir()
	right, other := newTestKey(t), newTestKey(t)
	kh := filepath.Join(dir, "known_hosts")
	lines := knownhosts.Line([]string{"[web]:2222"}, right) + "\n" + knownhosts.Line([]string{"[192.0.2.5]:2222"}, other) + "\n"
	if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.5"), Port: 2222}
	for _, c := range []struct {
		strict  string
		checkIP bool
		remote  net.Addr
		refused bool
		noted   bool
	}{
		{"yes", true, remote, true, true},
		{"ask", true, remote, true, true},
		{"no", true, remote, false, true},
		{"accept-new", true, remote, false, true},
		{"yes", false, remote, false, false},
		{"yes", true, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 2222}, false, false},
	} {
		s := &sshconfig.Settings{HostName: "web", Port: 2222, StrictHostKeyChecking: c.strict, CheckHostIP: c.checkIP, UserKnownHostsFiles: []string{kh}}
		hk := &HostKeyResult{}
		err := newKnownHosts(s).check(hk, right, c.remote)
		if (err != nil) != c.refused || (len(hk.IPMismatch) > 0) != c.noted || hk.Verdict != HostKeyMatch {
			t.Errorf("strict %s checkIP %v remote %v: err %v mismatch %+v verdict %s", c.strict, c.checkIP, c.remote, err, hk.IPMismatch, hk.Verdict)
		}
	}
}

func newTestKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, err := ssh.NewPublicKey(mustEd25519(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
