package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/probe"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// sshExit runs the real ssh client against srv as check would connect, and
// returns its exit status and output.
func sshExit(t *testing.T, e *env, srv *sshdtest.Server, user string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"-F", "none", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10", "-p", strconv.Itoa(srv.Port)}, extra...)
	args = append(args, user+"@127.0.0.1", "true")
	out, err := exec.Command("ssh", args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("running ssh: %v", err)
	return -1, ""
}

func writeFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func findingOf(r checkResult, id string) (severity string, ok bool) {
	for _, f := range r.doc.Findings {
		if f.ID == id {
			return string(f.Severity), true
		}
	}
	return "", false
}

// agree asserts that check and ssh agree on whether the login works, and
// that check reports finding id ("" = no finding of the layer) with the
// given severity.
func agree(t *testing.T, e *env, srv *sshdtest.Server, user string, sshArgs, checkArgs []string, wantOK bool, id, severity string) checkResult {
	t.Helper()
	code, out := sshExit(t, e, srv, user, sshArgs...)
	if (code == 0) != wantOK {
		t.Fatalf("ssh exited %d, want success=%v:\n%s\nsshd log:\n%s", code, wantOK, out, srv.Log())
	}
	r := run(t, "", e.args(append(checkArgs, user+"@"+srv.Addr)...)...)
	if (r.code == ExitOK) != wantOK {
		t.Fatalf("check exited %d, ssh %d (want success=%v)\n%s\nsshd log:\n%s", r.code, code, wantOK, r.stdout, srv.Log())
	}
	if id != "" {
		sev, ok := findingOf(r, id)
		if !ok || sev != severity {
			t.Fatalf("finding %s (%s) missing or severity %q; findings: %+v", id, severity, sev, r.doc.Findings)
		}
		if !wantOK && r.doc.RootCause != id {
			t.Errorf("root cause %q, want %s", r.doc.RootCause, id)
		}
	}
	return r
}

func TestCertHostKey(t *testing.T) {
	key := sshdtest.NewKey(t, "ed25519", "")
	ca, other := sshdtest.NewCA(t), sshdtest.NewCA(t)
	const pattern = "[127.0.0.1]:*"
	caLine := sshdtest.MarkerLine("cert-authority", pattern, ca.Public)
	hour := time.Hour
	cases := []struct {
		name   string
		signer sshdtest.CA
		spec   sshdtest.CertSpec
		// known_hosts lines; "PLAIN" stands for the server's plain key.
		lines    []string
		wantOK   bool
		id, sev  string
		ca       bool // trusted through the certificate
		verdict  string
		plainKey bool
	}{
		{name: "valid through @cert-authority only", signer: ca, spec: sshdtest.CertSpec{KeyID: "web1", Serial: 7, Principals: []string{"127.0.0.1"}},
			lines: []string{caLine}, wantOK: true, ca: true},
		{name: "expired without plain key", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}, ValidBefore: time.Now().Add(-hour)},
			lines: []string{caLine}, id: "hostkey.cert_expired", sev: "error"},
		{name: "not yet valid without plain key", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}, ValidAfter: time.Now().Add(hour)},
			lines: []string{caLine}, id: "hostkey.cert_not_yet_valid", sev: "error"},
		{name: "wrong principal", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"web1.example.com"}},
			lines: []string{caLine}, id: "hostkey.cert_wrong_principal", sev: "error"},
		{name: "untrusted CA", signer: other, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}},
			lines: []string{caLine}, id: "hostkey.cert_untrusted_ca", sev: "error"},
		{name: "revoked CA, plain key known too", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}},
			lines: []string{caLine, sshdtest.MarkerLine("revoked", "*", ca.Public), "PLAIN"}, id: "hostkey.revoked", sev: "error"},
		{name: "expired but plain key known", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}, ValidBefore: time.Now().Add(-hour)},
			lines: []string{caLine, "PLAIN"}, wantOK: true, id: "hostkey.cert_expired", sev: "warning"},
		{name: "no @cert-authority, plain key known", signer: ca, spec: sshdtest.CertSpec{Principals: []string{"127.0.0.1"}},
			lines: []string{"PLAIN"}, wantOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			srv := sshdtest.Start(t, sshdtest.Options{
				AuthorizedKeys: []ssh.PublicKey{key.Public},
				HostCert:       &sshdtest.HostCert{CA: tc.signer, Spec: tc.spec},
			})
			var lines []string
			for _, l := range tc.lines {
				if l == "PLAIN" {
					l = strings.TrimSpace(knownhostsLine(srv))
				}
				lines = append(lines, l)
			}
			writeFile(t, e.knownHosts, lines...)
			r := agree(t, e, srv, "root", []string{"-i", key.Path}, []string{"-i", key.Path}, tc.wantOK, tc.id, tc.sev)
			hk := r.doc.Observations.HostKey
			if hk == nil || hk.Cert == nil {
				t.Fatalf("no host certificate observed: %+v", hk)
			}
			if hk.Cert.KeyID != tc.spec.KeyID || hk.Cert.Serial != tc.spec.Serial {
				t.Errorf("certificate facts %+v, want key ID %q serial %d", hk.Cert, tc.spec.KeyID, tc.spec.Serial)
			}
			var summary string
			for _, l := range r.doc.Layers {
				if l.Layer == "hostkey" {
					summary = l.Summary
				}
			}
			if tc.ca != strings.Contains(summary, "certificate signed by CA "+ssh.FingerprintSHA256(ca.Public)) {
				t.Errorf("host key summary %q (trusted through the CA: %v)", summary, tc.ca)
			}
			if tc.id == "" {
				for _, f := range r.doc.Findings {
					if f.Layer == "hostkey" {
						t.Errorf("unexpected host key finding %+v", f)
					}
				}
			} else if f := findingByID(r, tc.id); !strings.Contains(strings.Join(f.Evidence, "\n"), ssh.FingerprintSHA256(tc.signer.Public)) {
				t.Errorf("evidence does not name the CA: %q", f.Evidence)
			}
		})
	}
}

func knownhostsLine(srv *sshdtest.Server) string {
	return "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " " + string(ssh.MarshalAuthorizedKey(srv.HostKeys[0]))
}

func findingByID(r checkResult, id string) findings.Finding {
	for _, f := range r.doc.Findings {
		if f.ID == id {
			return f
		}
	}
	return findings.Finding{}
}

func TestCertUser(t *testing.T) {
	ca, other := sshdtest.NewCA(t), sshdtest.NewCA(t)
	hour := time.Hour
	root := []string{"root"}
	cases := []struct {
		name string
		spec sshdtest.CertSpec
		// trust is the CA the server trusts (TrustedUserCAKeys).
		trust      sshdtest.CA
		revoke     bool // list the key in RevokedKeys
		certFile   bool // name the certificate with CertificateFile instead of KEY-cert.pub
		authorized bool // the plain key is in authorized_keys too
		wantOK     bool
		id, sev    string
	}{
		{name: "valid through TrustedUserCAKeys", spec: sshdtest.CertSpec{KeyID: "alice@corp", Serial: 42, Principals: root}, trust: ca, wantOK: true},
		{name: "expired", spec: sshdtest.CertSpec{Principals: root, ValidBefore: time.Now().Add(-hour)}, trust: ca, id: "auth.cert_expired", sev: "error"},
		{name: "not yet valid", spec: sshdtest.CertSpec{Principals: root, ValidAfter: time.Now().Add(hour)}, trust: ca, id: "auth.cert_not_yet_valid", sev: "error"},
		{name: "wrong principal", spec: sshdtest.CertSpec{Principals: []string{"alice"}}, trust: ca, id: "auth.cert_wrong_principal", sev: "error"},
		{name: "CA not trusted by the server", spec: sshdtest.CertSpec{Principals: root}, trust: other, id: "auth.cert_rejected", sev: "error"},
		{name: "key revoked", spec: sshdtest.CertSpec{Principals: root}, trust: ca, revoke: true, id: "auth.cert_rejected", sev: "error"},
		{name: "CertificateFile elsewhere", spec: sshdtest.CertSpec{Principals: root}, trust: ca, certFile: true, wantOK: true},
		{name: "expired CertificateFile, plain key authorized", spec: sshdtest.CertSpec{Principals: root, ValidBefore: time.Now().Add(-hour)}, trust: ca,
			certFile: true, authorized: true, wantOK: true, id: "auth.cert_expired", sev: "warning"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			key := sshdtest.NewKey(t, "ed25519", "")
			args := []string{"-i", key.Path}
			certPath := key.Path + "-cert.pub"
			if tc.certFile {
				certPath = filepath.Join(t.TempDir(), "issued-cert.pub")
				sshdtest.WriteCert(t, certPath, ca.Sign(t, key.Public, ssh.UserCert, tc.spec))
				args = append(args, "-o", "CertificateFile="+certPath)
			} else {
				ca.SignUserKey(t, key, tc.spec)
			}
			cfg := []string{"TrustedUserCAKeys " + tc.trust.PubPath}
			if tc.revoke {
				revoked := filepath.Join(t.TempDir(), "revoked_keys")
				writeFile(t, revoked, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.Public))))
				cfg = append(cfg, "RevokedKeys "+revoked)
			}
			opts := sshdtest.Options{Config: cfg}
			if tc.authorized {
				opts.AuthorizedKeys = []ssh.PublicKey{key.Public}
			}
			srv := sshdtest.Start(t, opts)
			sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)

			r := agree(t, e, srv, "root", args, args, tc.wantOK, tc.id, tc.sev)
			var cert *probe.Identity
			for i, id := range r.doc.Observations.Identities {
				if id.Cert != nil {
					cert = &r.doc.Observations.Identities[i]
				}
			}
			if cert == nil || cert.Path != certPath || cert.Cert.Serial != tc.spec.Serial || cert.Cert.KeyID != tc.spec.KeyID ||
				cert.Cert.CA != ssh.FingerprintSHA256(ca.Public) || cert.Type != ssh.CertAlgoED25519v01 {
				t.Fatalf("certificate identity %+v, want %s with serial %d", cert, certPath, tc.spec.Serial)
			}
			wantResult := "rejected"
			if tc.wantOK && !tc.authorized {
				wantResult = "accepted"
			}
			if string(cert.Result) != wantResult {
				t.Errorf("certificate result %q, want %q", cert.Result, wantResult)
			}
			if tc.id == "" {
				for _, f := range r.doc.Findings {
					if f.Layer == "auth" {
						t.Errorf("unexpected auth finding %+v", f)
					}
				}
			}
		})
	}
}
