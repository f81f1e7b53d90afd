package guest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

type testKey struct {
	name string
	priv crypto.Signer
	pub  ssh.PublicKey
}

func genKeys(t *testing.T) []testKey {
	t.Helper()
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var out []testKey
	for _, k := range []struct {
		name string
		priv crypto.Signer
	}{{"ed25519", edPriv}, {"rsa", rsaPriv}, {"ecdsa", ecPriv}} {
		pub, err := ssh.NewPublicKey(k.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testKey{k.name, k.priv, pub})
	}
	return out
}

// encodeRFC4716 writes an RFC 4716 block with a comment, a header that
// continues over two lines, and 70-column base64 lines.
func encodeRFC4716(k ssh.PublicKey, comment string) string {
	var b strings.Builder
	b.WriteString("---- BEGIN SSH2 PUBLIC KEY ----\n")
	b.WriteString("Comment: \"" + comment + "\"\n")
	b.WriteString("x-made-by: a header whose value \\\ncontinues: on the next line\n")
	enc := base64.StdEncoding.EncodeToString(k.Marshal())
	for len(enc) > 70 {
		b.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	b.WriteString(enc + "\n---- END SSH2 PUBLIC KEY ----\n")
	return b.String()
}

func pkixPEM(t *testing.T, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func certPEM(t *testing.T, priv crypto.Signer) string {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sshdoctor test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func parseOne(t *testing.T, input string) ssh.PublicKey {
	t.Helper()
	keys, err := ParsePublicKeys([]byte(input))
	if err != nil {
		t.Fatalf("ParsePublicKeys: %v\ninput:\n%s", err, input)
	}
	if len(keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(keys))
	}
	return keys[0]
}

func sameKey(t *testing.T, got, want ssh.PublicKey) {
	t.Helper()
	if got.Type() != want.Type() || ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(want) {
		t.Errorf("got %s %s, want %s %s", got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
	}
}

func TestParsePublicKeysFormats(t *testing.T) {
	var all strings.Builder
	var want []ssh.PublicKey
	for _, k := range genKeys(t) {
		formats := map[string]string{
			"openssh":         string(ssh.MarshalAuthorizedKey(k.pub)),
			"openssh-options": `restrict,from="203.0.113.0/24" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.pub))) + " alice@laptop\n",
			"rfc4716":         encodeRFC4716(k.pub, "alice@laptop "+k.name),
			"crlf-rfc4716":    strings.ReplaceAll(encodeRFC4716(k.pub, "windows"), "\n", "\r\n"),
			"pkix-pem":        pkixPEM(t, k.priv.Public()),
			"x509-cert":       certPEM(t, k.priv),
		}
		if r, ok := k.priv.Public().(*rsa.PublicKey); ok {
			formats["pkcs1-pem"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(r)}))
		}
		for name, input := range formats {
			t.Run(k.name+"/"+name, func(t *testing.T) {
				sameKey(t, parseOne(t, input), k.pub)
			})
			all.WriteString("# " + name + "\n" + input + "\n")
			want = append(want, k.pub)
		}
	}
	// Every format, mixed, in one input.
	keys, err := ParsePublicKeys([]byte(all.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("mixed input: %d keys, want %d", len(keys), len(want))
	}
	got := map[string]int{}
	for _, k := range keys {
		got[ssh.FingerprintSHA256(k)]++
	}
	for _, k := range want {
		if got[ssh.FingerprintSHA256(k)] == 0 {
			t.Errorf("mixed input lost %s", ssh.FingerprintSHA256(k))
		}
	}
}

func TestParseKeyLinesKeepsCommentAndOptions(t *testing.T) {
	k := genKeys(t)[0]
	line := `restrict,from="203.0.113.0/24" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.pub))) + " alice@laptop"
	kl, err := ParseKeyLines([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if kl[0].Comment != "alice@laptop" || strings.Join(kl[0].Options, ",") != `restrict,from="203.0.113.0/24"` {
		t.Fatalf("comment %q options %q", kl[0].Comment, kl[0].Options)
	}
	if got := kl[0].Line(); got != line+"\n" {
		t.Errorf("Line() = %q, want %q", got, line+"\n")
	}
	kl, err = ParseKeyLines([]byte(encodeRFC4716(k.pub, "bob@work")))
	if err != nil || kl[0].Comment != "bob@work" {
		t.Fatalf("RFC 4716 comment %q, %v", kl[0].Comment, err)
	}
}

// skKey builds a FIDO security-key public key line from its wire format
// (PROTOCOL.u2f): the key, then the application string.
func skKey(t *testing.T, typ string) string {
	t.Helper()
	var blob []byte
	switch typ {
	case "sk-ssh-ed25519@openssh.com":
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		blob = ssh.Marshal(struct {
			Name, Key, App string
		}{typ, string(pub), "ssh:"})
	case "sk-ecdsa-sha2-nistp256@openssh.com":
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecdhPub, err := priv.PublicKey.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		blob = ssh.Marshal(struct {
			Name, Curve, Point, App string
		}{typ, "nistp256", string(ecdhPub.Bytes()), "ssh:"})
	}
	return typ + " " + base64.StdEncoding.EncodeToString(blob) + " yubikey"
}

func TestParsePublicKeysSecurityKeys(t *testing.T) {
	for _, typ := range []string{"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"} {
		line := skKey(t, typ)
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			t.Fatalf("x/crypto rejects the test's %s line: %v", typ, err)
		}
		got := parseOne(t, line)
		sameKey(t, got, want)
		if got.Type() != typ {
			t.Errorf("type %s, want %s", got.Type(), typ)
		}
		// And as RFC 4716.
		sameKey(t, parseOne(t, encodeRFC4716(want, "sk")), want)
	}
}

func TestParsePublicKeysCertificateMeansItsKey(t *testing.T) {
	ks := genKeys(t)
	ca, err := ssh.NewSignerFromSigner(ks[1].priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: ks[0].pub, CertType: ssh.UserCert, KeyId: "alice", ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	sameKey(t, parseOne(t, string(ssh.MarshalAuthorizedKey(cert))), ks[0].pub)
}

func TestParsePublicKeysRejects(t *testing.T) {
	ks := genKeys(t)
	good := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ks[0].pub)))
	b64 := strings.Fields(good)[1]
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ks[0].priv)
	opensshPriv, _ := ssh.MarshalPrivateKey(ks[0].priv, "")
	// crypto/rsa no longer generates keys this small: make the modulus.
	n, _ := rand.Prime(rand.Reader, 512)
	smallPub, err := ssh.NewPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	bits := func(n int) *big.Int { return new(big.Int).SetBit(big.NewInt(1), n-1, 1) }
	validPEM := pkixPEM(t, ks[1].priv.Public())
	badPEM := "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n"
	cases := map[string]struct{ input, want string }{
		"empty":             {"", "no public key"},
		"comments only":     {"# nothing\n\n", "no public key"},
		"garbage":           {"hello world", "line 1"},
		"unknown type":      {"ssh-foo " + b64, "line 1"},
		"truncated base64":  {"ssh-ed25519 " + b64[:len(b64)-10], "line 1"},
		"bad line later":    {good + "\n\n" + "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n", "line 3"},
		"openssh private":   {string(pem.EncodeToMemory(opensshPriv)), "never accepts private keys"},
		"pkcs8 private":     {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), "never accepts private keys"},
		"rsa private":       {string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(ks[1].priv.(*rsa.PrivateKey))})), "never accepts private keys"},
		"ssh2 private":      {"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n", "never accepts private keys"},
		"putty private":     {"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", "never accepts private keys"},
		"rfc4716 no end":    {strings.Split(encodeRFC4716(ks[0].pub, "x"), "---- END")[0], "no ---- END"},
		"rfc4716 truncated": {"---- BEGIN SSH2 PUBLIC KEY ----\n" + b64[:30] + "\n---- END SSH2 PUBLIC KEY ----\n", "RFC 4716"},
		"pem no end":        {strings.Split(validPEM, "-----END")[0], "truncated"},
		"pem bad body":      {badPEM, "PEM PUBLIC KEY"},
		// pem.Decode alone would skip the bad block and return the next.
		"pem bad then good": {badPEM + validPEM, "line 1"},
		"pem csr":           {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "not a public key"},
		"pkcs1 garbage":     {string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte("nope")})), "RSA PUBLIC KEY"},
		"small rsa":         {string(ssh.MarshalAuthorizedKey(smallPub)), "1024"},
		"dsa": {"ssh-dss " + base64.StdEncoding.EncodeToString(ssh.Marshal(struct {
			Name       string
			P, Q, G, Y *big.Int
		}{"ssh-dss", bits(1024), bits(160), bits(1023), bits(1023)})), "DSA"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			keys, err := ParsePublicKeys([]byte(c.input))
			if err == nil {
				t.Fatalf("accepted %d key(s) from %q", len(keys), c.input)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// ssh-keygen's own conversions (-e) parse to the same key: an encoder
// independent of the test's.
func TestParsePublicKeysSSHKeygenExports(t *testing.T) {
	needTool(t, "ssh-keygen")
	for _, k := range genKeys(t) {
		pubFile := filepath.Join(t.TempDir(), "id.pub")
		if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(k.pub), 0o600); err != nil {
			t.Fatal(err)
		}
		formats := []string{"RFC4716", "PKCS8"}
		if k.name == "rsa" {
			formats = append(formats, "PEM")
		}
		for _, m := range formats {
			out, err := exec.Command("ssh-keygen", "-e", "-m", m, "-f", pubFile).Output()
			if err != nil {
				if k.name == "ed25519" && m == "PKCS8" {
					continue // older ssh-keygen cannot export Ed25519 as PKCS8
				}
				t.Fatalf("ssh-keygen -e -m %s (%s): %v", m, k.name, err)
			}
			t.Run(k.name+"/"+m, func(t *testing.T) { sameKey(t, parseOne(t, string(out)), k.pub) })
		}
	}
}

// --- account planning helpers (no root, nothing outside t.TempDir) ---

func TestPlanKeys(t *testing.T) {
	ks := genKeys(t)
	home := t.TempDir()
	file := filepath.Join(home, ".ssh", "authorized_keys")
	u := UserFacts{Name: "alice", Home: home, UID: os.Getuid(), GID: os.Getgid(), KeyFiles: []KeyFile{{Path: file}}}
	kl := func(ks ...testKey) []KeyLine {
		var out []KeyLine
		for _, k := range ks {
			out = append(out, KeyLine{Key: k.pub, Comment: k.name})
		}
		return out
	}
	// Missing ~/.ssh: created 0700, the file gets the keys.
	kp, err := planKeys(u, kl(ks[0], ks[0]), false)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.change || kp.added != 1 || len(kp.dirs) != 1 || kp.dirs[0] != filepath.Dir(file) || kp.fixDir != filepath.Dir(file) {
		t.Fatalf("plan for a new file: %+v", kp)
	}
	if err := os.Mkdir(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	other := "ssh-ed25519 " + strings.Fields(string(ssh.MarshalAuthorizedKey(ks[2].pub)))[1] + " keep-me"
	if err := os.WriteFile(file, []byte(other+"\n"+string(kp.content)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Already there, modes right: nothing to do.
	if kp, err = planKeys(u, kl(ks[0]), false); err != nil || kp.change {
		t.Fatalf("idempotent plan: %+v %v", kp, err)
	}
	// Append keeps the other key; replace drops it.
	if kp, _ = planKeys(u, kl(ks[1]), false); !kp.change || kp.added != 1 || !strings.Contains(string(kp.content), "keep-me") {
		t.Fatalf("append: %+v\n%s", kp, kp.content)
	}
	kp, _ = planKeys(u, kl(ks[1]), true)
	if got, err := ParsePublicKeys(kp.content); err != nil || len(got) != 1 || strings.Contains(string(kp.content), "keep-me") {
		t.Fatalf("replace: %v\n%s", err, kp.content)
	}
	// Wrong mode on ~/.ssh is a change.
	os.Chmod(filepath.Dir(file), 0o755)
	if kp, _ = planKeys(u, kl(ks[0]), false); !kp.change || kp.added != 0 {
		t.Fatalf("mode fix not planned: %+v", kp)
	}
	// Symbolic links are never followed.
	os.Remove(file)
	if err := os.Symlink("/etc/passwd", file); err != nil {
		t.Fatal(err)
	}
	if _, err := planKeys(u, kl(ks[0]), false); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlinked key file: %v", err)
	}
	os.RemoveAll(filepath.Dir(file))
	if err := os.Symlink("/etc", filepath.Dir(file)); err != nil {
		t.Fatal(err)
	}
	if _, err := planKeys(u, kl(ks[0]), false); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlinked ~/.ssh: %v", err)
	}
	// A key file outside the home (AuthorizedKeysFile /etc/ssh/keys/%u):
	// a root-owned system directory and file, no ~/.ssh to fix.
	sys := filepath.Join(t.TempDir(), "keys", "alice")
	kp, err = planKeys(UserFacts{Name: "alice", Home: home, UID: 4242, GID: 4242, KeyFiles: []KeyFile{{Path: sys}}}, kl(ks[0]), false)
	if err != nil || kp.fixDir != "" || kp.mode != 0o644 || kp.fileUID != 0 || len(kp.dirs) != 1 || kp.dirs[0] != filepath.Dir(sys) {
		t.Fatalf("key file outside the home: %+v %v", kp, err)
	}
	// AuthorizedKeysFile none.
	if _, err := planKeys(UserFacts{Name: "x", Home: home}, kl(ks[0]), false); err == nil {
		t.Fatal("no key file accepted")
	}
}

func TestSudoersAndExpiry(t *testing.T) {
	if got := SudoersFile("john.doe"); got != "/etc/sudoers.d/90-sshdoctor-john+doe" {
		t.Errorf("SudoersFile = %s", got)
	}
	if e := sudoersEntry("bob", false); !strings.Contains(e, "\nbob ALL=(ALL) NOPASSWD:ALL\n") {
		t.Errorf("key-only entry %q", e)
	}
	if e := sudoersEntry("bob", true); !strings.Contains(e, "\nbob ALL=(ALL) ALL\n") {
		t.Errorf("password entry %q", e)
	}
	for in, want := range map[string]int{"never": -1, "1970-01-02": 1, "2026-01-01": 20454} {
		if got, err := expiryDays(in); err != nil || got != want {
			t.Errorf("expiryDays(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"2026-13-40", "2026-02-30", "tomorrow", "26-01-01", "1969-12-31", ""} {
		if err := ParseExpiration(bad); err == nil {
			t.Errorf("ParseExpiration(%q) accepted", bad)
		}
	}
}

func TestPasswordMatches(t *testing.T) {
	needTool(t, "perl")
	out, err := exec.Command("perl", "-e", `print crypt("s3cret pass", q($6$saltsalt$))`).Output()
	if err != nil {
		t.Fatal(err)
	}
	hash := string(out)
	if !passwordMatches(hash, []byte("s3cret pass")) {
		t.Error("the right password does not match")
	}
	if passwordMatches(hash, []byte("s3cret pas")) || passwordMatches("*", []byte("x")) || passwordMatches("", nil) {
		t.Error("a wrong password matches")
	}
}

// needTool skips without the tool, except under CI=true, where
// scripts/deps.sh installs it and its absence is a failure.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found under CI=true: scripts/deps.sh must install it", name)
		}
		t.Skipf("%s not installed", name)
	}
}
