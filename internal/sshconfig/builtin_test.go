package sshconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile creates path (and its directories) with the given content.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeHome points $HOME at a fresh temp dir so "~" never means the real one.
func fakeHome(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func builtin(t *testing.T, q Query) *Settings {
	t.Helper()
	q.SSHPath = "-"
	s, err := Resolve(context.Background(), q)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", q, err)
	}
	if s.Source != sourceBuiltin {
		t.Fatalf("Source = %q, want %q", s.Source, sourceBuiltin)
	}
	return s
}

func TestBuiltinHostAliasAndTokens(t *testing.T) {
	home := fakeHome(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `# comment
Host web
  HostName %h.Example.com
  Port 2200
  User deploy
  IdentityFile ~/.ssh/%h_%r_%u
  IdentityFile "%d/my keys/%%lit"   # trailing comment
  IdentityFile ~/.ssh/%h_%r_%u
  StrictHostKeyChecking off
  ConnectTimeout 1m5s
  IdentityAgent none
  ProxyJump none
  UserKnownHostsFile /kh/%h %d/kh2
Host *
  Port=99
  USER nobody
  IdentityFile ~/.ssh/common
  IdentitiesOnly yes
  BatchMode = yes
  SomeFutureKeyword whatever
`)
	local := localUser()

	s := builtin(t, Query{Host: "web", ConfigFile: cfg})
	if s.Alias != "web" || s.HostName != "web.example.com" || s.Port != 2200 || s.User != "deploy" {
		t.Errorf("web: got alias %q host %q port %d user %q", s.Alias, s.HostName, s.Port, s.User)
	}
	wantIDs := []string{
		filepath.Join(home, ".ssh", "web.example.com_deploy_"+local),
		filepath.Join(home, "my keys", "%lit"),
		filepath.Join(home, ".ssh", "common"),
	}
	if !slices.Equal(s.IdentityFiles, wantIDs) {
		t.Errorf("IdentityFiles = %q, want %q", s.IdentityFiles, wantIDs)
	}
	if want := []string{"/kh/web.example.com", filepath.Join(home, "kh2")}; !slices.Equal(s.UserKnownHostsFiles, want) {
		t.Errorf("UserKnownHostsFiles = %q, want %q", s.UserKnownHostsFiles, want)
	}
	if !s.IdentitiesOnly || !s.BatchMode || s.StrictHostKeyChecking != "no" || s.ConnectTimeout != 65*time.Second ||
		s.IdentityAgent != "none" || s.ProxyJump != "" {
		t.Errorf("web: got %+v", s)
	}

	o := builtin(t, Query{Host: "other", ConfigFile: cfg})
	if o.HostName != "other" || o.Port != 99 || o.User != "nobody" || o.StrictHostKeyChecking != "ask" || o.ConnectTimeout != 0 {
		t.Errorf("other: got %+v", o)
	}
	if want := []string{filepath.Join(home, ".ssh", "common")}; !slices.Equal(o.IdentityFiles, want) {
		t.Errorf("other: IdentityFiles = %q, want %q (no defaults once one is configured)", o.IdentityFiles, want)
	}
}

func TestBuiltinDefaults(t *testing.T) {
	home := fakeHome(t)
	s := builtin(t, Query{Host: "Plain.Example", ConfigFile: "none"})
	if s.HostName != "plain.example" || s.Port != 22 || s.User != localUser() || s.StrictHostKeyChecking != "ask" ||
		s.IdentityAgent != "" || s.ProxyJump != "" || s.IdentitiesOnly || s.BatchMode {
		t.Errorf("got %+v", s)
	}
	var ids []string
	for _, n := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"} {
		ids = append(ids, filepath.Join(home, ".ssh", n))
	}
	if !slices.Equal(s.IdentityFiles, ids) {
		t.Errorf("IdentityFiles = %q, want %q", s.IdentityFiles, ids)
	}
	kh := []string{filepath.Join(home, ".ssh", "known_hosts"), filepath.Join(home, ".ssh", "known_hosts2")}
	if !slices.Equal(s.UserKnownHostsFiles, kh) {
		t.Errorf("UserKnownHostsFiles = %q, want %q", s.UserKnownHostsFiles, kh)
	}
	if gkh := []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}; !slices.Equal(s.GlobalKnownHostsFiles, gkh) {
		t.Errorf("GlobalKnownHostsFiles = %q", s.GlobalKnownHostsFiles)
	}
	if !slices.Equal(s.KexAlgorithms, OpenSSHDefaults.KexAlgorithms) || !slices.Equal(s.MACs, OpenSSHDefaults.MACs) {
		t.Errorf("algorithms differ from defaults: %q %q", s.KexAlgorithms, s.MACs)
	}
	s.Ciphers[0] = "mutated" // callers may modify results without touching the defaults
	if OpenSSHDefaults.Ciphers[0] == "mutated" {
		t.Error("Settings.Ciphers aliases OpenSSHDefaults.Ciphers")
	}
}

func TestBuiltinReadsUserConfigByDefault(t *testing.T) {
	home := fakeHome(t)
	writeFile(t, filepath.Join(home, ".ssh", "config"), "Host dflt-sshdoctor-test\n  Port 2345\n")
	if s := builtin(t, Query{Host: "dflt-sshdoctor-test"}); s.Port != 2345 {
		t.Errorf("Port = %d, want 2345 from ~/.ssh/config", s.Port)
	}
}

func TestBuiltinFirstValueWinsAndNegation(t *testing.T) {
	fakeHome(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `
Host *.example.com !bad.example.com
  User ex
Host good.example.com
  User second
  Port 2022
Host bad.example.com
  Port 2
`)
	if s := builtin(t, Query{Host: "good.example.com", ConfigFile: cfg}); s.User != "ex" || s.Port != 2022 {
		t.Errorf("good: user %q port %d, want ex 2022", s.User, s.Port)
	}
	if s := builtin(t, Query{Host: "bad.example.com", ConfigFile: cfg}); s.User != localUser() || s.Port != 2 {
		t.Errorf("bad: user %q port %d, want %q 2", s.User, s.Port, localUser())
	}
}

func TestBuiltinMatch(t *testing.T) {
	fakeHome(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `
Host m1
  HostName m1.corp.test
Match host *.CORP.test
  User corpuser
Match originalhost m1 !localuser nosuchuser-sshdoctor
  Port 2201
Match exec "true"
  Port 1
Match user corpuser
  ConnectTimeout 9
Match all
  IdentitiesOnly yes
`)
	s := builtin(t, Query{Host: "m1", ConfigFile: cfg})
	if s.User != "corpuser" || s.Port != 2201 || s.ConnectTimeout != 9*time.Second || !s.IdentitiesOnly {
		t.Errorf("m1: got %+v", s)
	}
	s = builtin(t, Query{Host: "m2", ConfigFile: cfg})
	if s.User != localUser() || s.Port != 22 || s.ConnectTimeout != 0 || !s.IdentitiesOnly {
		t.Errorf("m2: got %+v", s)
	}
}

// includeConfig writes a config using Include with an absolute glob, and an
// Include inside a Host block whose file has a Host line of its own.
func includeConfig(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf.d", "10-a.conf"), "Host inc\n  HostName from-a\n")
	writeFile(t, filepath.Join(dir, "conf.d", "20-b.conf"), "Host inc\n  HostName from-b\n  Port 2020\n")
	writeFile(t, filepath.Join(dir, "conf.d", "ignored.txt"), "Host inc\n  User notme\n")
	writeFile(t, filepath.Join(dir, "scoped.conf"), "User scopeduser\nHost inc\n  IdentitiesOnly yes\n")
	return writeFile(t, filepath.Join(dir, "config"), `Include `+filepath.Join(dir, "conf.d", "*.conf")+`
Host web
  HostName %h.example.com
  Port 2200
  User deploy
  IdentityFile ~/.ssh/%h_%r_%u
  IdentityFile %d/keys/%%x
  UserKnownHostsFile /kh/%h
Host scoped
  Include `+filepath.Join(dir, "scoped.conf")+`
  Port 2121
Host m1
  HostName M1.corp.test
Match host *.corp.test
  User corpuser
Host *
  User fallback
  IdentityFile ~/.ssh/common
  StrictHostKeyChecking accept-new
`)
}

func TestBuiltinInclude(t *testing.T) {
	home := fakeHome(t)
	cfg := includeConfig(t)
	s := builtin(t, Query{Host: "inc", ConfigFile: cfg})
	if s.HostName != "from-a" || s.Port != 2020 || s.User != "fallback" || s.IdentitiesOnly {
		t.Errorf("inc: got %+v", s)
	}
	s = builtin(t, Query{Host: "scoped", ConfigFile: cfg})
	if s.User != "scopeduser" || s.Port != 2121 || s.IdentitiesOnly {
		t.Errorf("scoped: got %+v", s)
	}

	// A relative Include resolves against ~/.ssh, wherever the -F file is.
	writeFile(t, filepath.Join(home, ".ssh", "rel.d", "x.conf"), "Host rel\n  HostName relative.example\n")
	cfg = writeFile(t, filepath.Join(t.TempDir(), "config"), "Include rel.d/*.conf\n")
	if s := builtin(t, Query{Host: "rel", ConfigFile: cfg}); s.HostName != "relative.example" {
		t.Errorf("rel: HostName = %q, want relative.example", s.HostName)
	}
}

func TestBuiltinCommandLinePrecedence(t *testing.T) {
	fakeHome(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `
Host web
  Port 2200
  User deploy
  ProxyJump cfgjump
  HostKeyAlgorithms ssh-ed25519
`)
	s := builtin(t, Query{Host: "web", ConfigFile: cfg, Options: []string{"Port=1234", "user alice", "HostKeyAlgorithms +ssh-rsa"}})
	if s.Port != 1234 || s.User != "alice" || s.ProxyJump != "cfgjump" {
		t.Errorf("-o: port %d user %q jump %q", s.Port, s.User, s.ProxyJump)
	}
	if !slices.Contains(s.HostKeyAlgorithms, "ssh-rsa") || len(s.HostKeyAlgorithms) != len(OpenSSHDefaults.HostKeyAlgorithms)+1 {
		t.Errorf("-o HostKeyAlgorithms did not win over the config: %q", s.HostKeyAlgorithms)
	}
	// -p/-l/-J win over both -o and the config, as in ssh.
	s = builtin(t, Query{Host: "web", ConfigFile: cfg, Port: 5, User: "bob", ProxyJump: "j@jump:2", Options: []string{"Port=1234"}})
	if s.Port != 5 || s.User != "bob" || s.ProxyJump != "j@jump:2" {
		t.Errorf("flags: port %d user %q jump %q", s.Port, s.User, s.ProxyJump)
	}
}

func TestBuiltinAlgorithmModifiers(t *testing.T) {
	def := OpenSSHDefaults.HostKeyAlgorithms
	hka := func(opt string) []string {
		return builtin(t, Query{Host: "h", ConfigFile: "none", Options: []string{"HostKeyAlgorithms=" + opt}}).HostKeyAlgorithms
	}
	if got := hka("+ssh-rsa"); got[len(got)-1] != "ssh-rsa" || len(got) != len(def)+1 {
		t.Errorf("+ssh-rsa: %q", got)
	}
	if got := hka("+ssh-ed25519"); !slices.Equal(got, def) {
		t.Errorf("+ssh-ed25519 (already present) changed the list: %q", got)
	}
	got := hka("-rsa*")
	for _, a := range got {
		if strings.HasPrefix(a, "rsa") {
			t.Errorf("-rsa*: %q left in %q", a, got)
		}
	}
	if len(got) != len(def)-4 || !slices.Contains(got, "ssh-ed25519") {
		t.Errorf("-rsa*: %q", got)
	}
	if got := hka("^rsa-sha2-256"); got[0] != "rsa-sha2-256" || len(got) != len(def) {
		t.Errorf("^rsa-sha2-256: %q", got)
	}

	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `
PubkeyAcceptedKeyTypes +ssh-rsa,ssh-dss
Ciphers aes128-ctr,aes256-ctr
KexAlgorithms -diffie-hellman*,ecdh-sha2-nistp521
MACs ^hmac-sha1
`)
	s := builtin(t, Query{Host: "h", ConfigFile: cfg})
	if n := len(s.PubkeyAcceptedAlgorithms); n < 2 || s.PubkeyAcceptedAlgorithms[n-2] != "ssh-rsa" || s.PubkeyAcceptedAlgorithms[n-1] != "ssh-dss" {
		t.Errorf("PubkeyAcceptedKeyTypes: %q", s.PubkeyAcceptedAlgorithms)
	}
	if !slices.Equal(s.Ciphers, []string{"aes128-ctr", "aes256-ctr"}) {
		t.Errorf("Ciphers: %q", s.Ciphers)
	}
	for _, k := range s.KexAlgorithms {
		if strings.HasPrefix(k, "diffie-hellman") || k == "ecdh-sha2-nistp521" {
			t.Errorf("KexAlgorithms still has %q", k)
		}
	}
	if s.MACs[0] != "hmac-sha1" || slices.Index(s.MACs[1:], "hmac-sha1") >= 0 || len(s.MACs) != len(OpenSSHDefaults.MACs) {
		t.Errorf("MACs: %q", s.MACs)
	}
}

func TestBuiltinUsageErrors(t *testing.T) {
	fakeHome(t)
	dir := t.TempDir()
	badValue := writeFile(t, filepath.Join(dir, "bad"), "Host *\n  Port notaport\n")
	loop := filepath.Join(dir, "loop")
	writeFile(t, loop, "Include "+loop+"\n")
	tests := []struct {
		name string
		q    Query
		want string // substring of the message
	}{
		{"unknown -o key", Query{Options: []string{"Foo=bar"}}, `unknown option "foo"`},
		{"bad port", Query{Options: []string{"Port=abc"}}, "Port=abc"},
		{"missing value", Query{Options: []string{"Port"}}, "needs a value"},
		{"bad strict", Query{Options: []string{"StrictHostKeyChecking=maybe"}}, "maybe"},
		{"bad timeout", Query{Options: []string{"ConnectTimeout=soon"}}, "soon"},
		{"bad flag", Query{Options: []string{"BatchMode perhaps"}}, "perhaps"},
		{"bad jump", Query{Options: []string{"ProxyJump=h:0"}}, "ProxyJump"},
		{"extra value", Query{Options: []string{"User a b"}}, "one value"},
		{"unterminated quote", Query{Options: []string{`IdentityFile="/x`}}, "quote"},
		{"Host in -o", Query{Options: []string{"Host=x"}}, "not allowed"},
		{"empty -o", Query{Options: []string{"  "}}, "empty"},
		{"leading dash", Query{Host: "-oProxyCommand=x"}, "must not start with '-'"},
		{"empty host", Query{Host: "", ConfigFile: "none"}, "no host"},
		{"bad -p", Query{Port: 70000}, "70000"},
		{"missing -F", Query{ConfigFile: filepath.Join(dir, "missing")}, "-F"},
		{"bad value in file", Query{ConfigFile: badValue}, badValue + " line 2"},
		{"include loop", Query{ConfigFile: loop}, "nested too deeply"},
	}
	for _, tt := range tests {
		q := tt.q
		if q.Host == "" && tt.name != "empty host" {
			q.Host = "h"
		}
		if q.ConfigFile == "" {
			q.ConfigFile = "none"
		}
		q.SSHPath = "-"
		_, err := Resolve(context.Background(), q)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error = %v, want *UsageError", tt.name, err)
			continue
		}
		if !strings.Contains(ue.Msg, tt.want) || strings.Contains(ue.Msg, "\n") {
			t.Errorf("%s: message %q should be one line containing %q", tt.name, ue.Msg, tt.want)
		}
	}

	// Valid ssh keywords that do not affect Settings are accepted.
	builtin(t, Query{Host: "h", ConfigFile: "none", Options: []string{"ServerAliveInterval=5", "pubkeyauthentication no"}})
}

// ProxyCommand is the rest of the line, tokens left for connect time;
// "none" means none — read the same way by the built-in parser and ssh -G.
func TestProxyCommand(t *testing.T) {
	fakeHome(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "config"), `Host bastioned
  ProxyCommand ssh -W %h:%p jump.example.com
Host direct
  ProxyCommand none
`)
	for _, path := range []string{"-", ""} {
		q := Query{Host: "bastioned", ConfigFile: cfg, SSHPath: path}
		s, err := Resolve(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if s.ProxyCommand != "ssh -W %h:%p jump.example.com" {
			t.Errorf("%s: ProxyCommand %q", s.Source, s.ProxyCommand)
		}
		q.Host = "direct"
		if s, err = Resolve(context.Background(), q); err != nil || s.ProxyCommand != "" {
			t.Errorf("%s: none gives %q %v", s.Source, s.ProxyCommand, err)
		}
	}
}

func TestBuiltinCertificateFiles(t *testing.T) {
	home := fakeHome(t)
	s := builtin(t, Query{Host: "vm", User: "bob", ConfigFile: "none",
		Options: []string{"CertificateFile=~/.ssh/id_ed25519-cert.pub", "CertificateFile=/etc/ssh/certs/%r.pub", "CertificateFile=~/.ssh/id_ed25519-cert.pub"}})
	want := []string{filepath.Join(home, ".ssh", "id_ed25519-cert.pub"), "/etc/ssh/certs/bob.pub"}
	if !slices.Equal(s.CertificateFiles, want) {
		t.Errorf("CertificateFiles = %q, want %q", s.CertificateFiles, want)
	}
	if d := builtin(t, Query{Host: "vm", ConfigFile: "none"}); len(d.CertificateFiles) != 0 {
		t.Errorf("no CertificateFile: got %q", d.CertificateFiles)
	}
}
