package sshdtest

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// CA is a certificate authority key for host and user certificates.
type CA struct {
	Signer ssh.Signer
	Public ssh.PublicKey
	// PubPath holds the public key in authorized_keys format, as sshd's
	// TrustedUserCAKeys and RevokedKeys read it.
	PubPath string
}

// NewCA generates an ed25519 CA key in a directory sshd can read and writes
// its public half to PubPath.
func NewCA(t testing.TB) CA {
	t.Helper()
	priv, err := generate("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	ca := CA{Signer: s, Public: s.PublicKey(), PubPath: filepath.Join(tempDir(t, "sdt-ca-"), "ca.pub")}
	if err := os.WriteFile(ca.PubPath, ssh.MarshalAuthorizedKey(ca.Public), 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// CertSpec chooses what a certificate says. A zero ValidAfter means "from
// the beginning of time", a zero ValidBefore "forever".
type CertSpec struct {
	KeyID       string
	Serial      uint64
	Principals  []string
	ValidAfter  time.Time
	ValidBefore time.Time
}

// Sign certifies pub as a host (ssh.HostCert) or user (ssh.UserCert)
// certificate. User certificates get the extensions ssh-keygen grants by
// default, so a session works.
func (ca CA) Sign(t testing.TB, pub ssh.PublicKey, certType uint32, spec CertSpec) *ssh.Certificate {
	t.Helper()
	c := &ssh.Certificate{
		Key: pub, Serial: spec.Serial, CertType: certType, KeyId: spec.KeyID,
		ValidPrincipals: spec.Principals, ValidBefore: ssh.CertTimeInfinity,
	}
	if !spec.ValidAfter.IsZero() {
		c.ValidAfter = uint64(spec.ValidAfter.Unix())
	}
	if !spec.ValidBefore.IsZero() {
		c.ValidBefore = uint64(spec.ValidBefore.Unix())
	}
	if certType == ssh.UserCert {
		c.Permissions.Extensions = map[string]string{
			"permit-X11-forwarding": "", "permit-agent-forwarding": "", "permit-port-forwarding": "",
			"permit-pty": "", "permit-user-rc": "",
		}
	}
	if err := c.SignCert(rand.Reader, ca.Signer); err != nil {
		t.Fatal(err)
	}
	return c
}

// SignUserKey certifies key as a user certificate and writes it next to the
// key as Path+"-cert.pub", where ssh looks for it; it returns that path.
func (ca CA) SignUserKey(t testing.TB, key Key, spec CertSpec) string {
	t.Helper()
	path := key.Path + "-cert.pub"
	WriteCert(t, path, ca.Sign(t, key.Public, ssh.UserCert, spec))
	return path
}

// WriteCert writes c in authorized_keys format (mode 0644).
func WriteCert(t testing.TB, path string, c *ssh.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(c), 0o644); err != nil {
		t.Fatal(err)
	}
}

// MarkerLine is a known_hosts line with a marker ("cert-authority" or
// "revoked") for the host patterns, e.g. MarkerLine("cert-authority",
// "[127.0.0.1]:*", ca.Public).
func MarkerLine(marker, patterns string, key ssh.PublicKey) string {
	return "@" + marker + " " + patterns + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// HostCert asks Start for a host certificate on the first host key.
type HostCert struct {
	CA   CA
	Spec CertSpec
}
