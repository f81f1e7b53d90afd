package probe

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// certInfo records what a certificate says.
func certInfo(c *ssh.Certificate) *CertInfo {
	ci := &CertInfo{
		Kind: "user", KeyID: c.KeyId, Serial: c.Serial,
		Principals: slices.Clone(c.ValidPrincipals),
		CAType:     c.SignatureKey.Type(), CA: ssh.FingerprintSHA256(c.SignatureKey),
	}
	if ci.Principals == nil {
		ci.Principals = []string{}
	}
	if c.CertType == ssh.HostCert {
		ci.Kind = "host"
	}
	if c.ValidAfter != 0 {
		t := time.Unix(int64(min(c.ValidAfter, 1<<62)), 0).UTC()
		ci.ValidAfter = &t
	}
	if c.ValidBefore != ssh.CertTimeInfinity {
		t := time.Unix(int64(min(c.ValidBefore, 1<<62)), 0).UTC()
		ci.ValidBefore = &t
	}
	return ci
}

// checkAuthority does what OpenSSH's sshkey_cert_check_authority does: the
// certificate type, the validity interval at now, and the name among the
// principals. An empty principal list passes here, as it does in OpenSSH
// 9.2 for host certificates and for user certificates trusted through an
// authorized_keys cert-authority line (TrustedUserCAKeys refuses it, which
// the client cannot see).
func checkAuthority(c *ssh.Certificate, wantType uint32, name string, now time.Time) (CertProblem, string) {
	if c.CertType != wantType {
		want := "host"
		if wantType == ssh.UserCert {
			want = "user"
		}
		return CertWrongType, "not a " + want + " certificate"
	}
	unix := now.Unix()
	if unix < 0 || uint64(unix) < c.ValidAfter {
		return CertNotYetValid, fmt.Sprintf("not valid before %s", time.Unix(int64(min(c.ValidAfter, 1<<62)), 0).UTC().Format(time.RFC3339))
	}
	if c.ValidBefore != ssh.CertTimeInfinity && uint64(unix) >= c.ValidBefore {
		return CertExpired, fmt.Sprintf("expired %s", time.Unix(int64(min(c.ValidBefore, 1<<62)), 0).UTC().Format(time.RFC3339))
	}
	if len(c.ValidPrincipals) > 0 && !slices.Contains(c.ValidPrincipals, name) {
		return CertWrongPrincipal, fmt.Sprintf("%q is not among the principals %q", name, c.ValidPrincipals)
	}
	return "", ""
}

// verifyCertSignature checks the CA's signature over the certificate.
// x/crypto's CertChecker would too, but it also refuses an empty principal
// list, which OpenSSH accepts for host certificates.
func verifyCertSignature(c *ssh.Certificate) error {
	if c.Signature == nil {
		return fmt.Errorf("certificate is not signed")
	}
	unsigned := *c
	unsigned.Signature = nil
	b := unsigned.Marshal()
	// Marshal ends with the signature as a string: without one, that is
	// its empty length field, which the signed bytes do not include.
	if err := c.SignatureKey.Verify(b[:len(b)-4], c.Signature); err != nil {
		return fmt.Errorf("the CA signature does not verify: %w", err)
	}
	return nil
}
