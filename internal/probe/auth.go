package probe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keySigner is a key the client can offer, with the index of its Identity.
type keySigner struct {
	signer ssh.Signer
	id     int
}

// recordingSigner notes whether x/crypto signed with the key. x/crypto signs
// only after the server answered the key query with PK_OK, so a signature
// means the server knew the key.
type recordingSigner struct {
	ssh.AlgorithmSigner
	signed *atomic.Bool
}

// Algorithms keeps the key's allowed signature algorithms visible to
// x/crypto: without it the wrapper would look like a signer of every
// algorithm of its key type, and x/crypto would pick one we refused.
func (r recordingSigner) Algorithms() []string {
	if m, ok := r.AlgorithmSigner.(ssh.MultiAlgorithmSigner); ok {
		return m.Algorithms()
	}
	return algorithmsForKeyType(r.PublicKey().Type())
}

func (r recordingSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	r.signed.Store(true)
	return r.AlgorithmSigner.Sign(rand, data)
}

func (r recordingSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	r.signed.Store(true)
	return r.AlgorithmSigner.SignWithAlgorithm(rand, data, algorithm)
}

// loadIdentities collects the keys in the order ssh offers them
// (pubkey_prepare): certificates named by CertificateFile, agent keys, then
// identity files, each followed by its KEY-cert.pub. It inspects each file
// the way ssh would before using it.
func loadIdentities(o Options) ([]Identity, []keySigner) {
	var ids []Identity
	var signers []keySigner
	seen := map[string]bool{}
	add := func(id Identity, s ssh.Signer) {
		fp := ssh.FingerprintSHA256(s.PublicKey())
		if seen[fp] {
			return
		}
		seen[fp] = true
		id.Type, id.Fingerprint, id.PublicKey = s.PublicKey().Type(), fp, authorizedLine(s.PublicKey())
		if c, ok := s.PublicKey().(*ssh.Certificate); ok {
			id.Fingerprint = ssh.FingerprintSHA256(c.Key)
			if id.Cert == nil {
				id.Cert = userCertInfo(c, o.Settings.User)
			}
		}
		ids = append(ids, id)
		signers = append(signers, keySigner{signer: s, id: len(ids) - 1})
	}

	type fileKey struct {
		id     Identity
		signer ssh.Signer
		pub    ssh.PublicKey
		cert   *ssh.Certificate // a certificate, signed with the key it certifies
	}
	var files, certFiles []fileKey
	for _, path := range o.Settings.IdentityFiles {
		fk := fileKey{id: Identity{Source: "file", Path: path, Explicit: slices.Contains(o.Explicit, path)}}
		fk.signer, fk.pub, fk.id.Problem, fk.id.Mode, fk.id.Detail = readKeyFile(path)
		if fk.id.Problem == "missing" && !fk.id.Explicit {
			continue // ssh silently skips default identity files that do not exist
		}
		files = append(files, fk)
		// ssh looks for KEY-cert.pub only when no CertificateFile is set.
		if len(o.Settings.CertificateFiles) == 0 {
			if c, err := readCert(path + "-cert.pub"); err == nil {
				files = append(files, fileKey{id: Identity{Source: "file", Path: path + "-cert.pub", Explicit: fk.id.Explicit}, cert: c})
			}
		}
	}
	for _, path := range o.Settings.CertificateFiles {
		fk := fileKey{id: Identity{Source: "file", Path: path, Explicit: true}}
		var err error
		if fk.cert, err = readCert(path); err != nil {
			fk.id.Problem, fk.id.Detail = "unreadable", err.Error()
		}
		certFiles = append(certFiles, fk)
	}
	filePubs := map[string]bool{}
	for _, f := range files {
		if f.pub != nil {
			filePubs[ssh.FingerprintSHA256(f.pub)] = true
		}
	}

	var agentSigners []ssh.Signer
	var agentKeyList []*agent.Key
	if o.AgentSocket != "" {
		var err error
		agentKeyList, agentSigners, err = agentKeys(o.AgentSocket)
		if err != nil {
			ids = append(ids, Identity{Source: "agent", Path: o.AgentSocket, Problem: "unreachable", Detail: err.Error()})
		}
	}
	// A certificate is signed with the private key it certifies, from an
	// identity file or the agent (ssh's identity_sign does the same).
	privateFor := func(pub ssh.PublicKey) ssh.Signer {
		for _, f := range files {
			if f.signer != nil && bytes.Equal(f.signer.PublicKey().Marshal(), pub.Marshal()) {
				return f.signer
			}
		}
		for _, s := range agentSigners {
			if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
				return s
			}
		}
		return nil
	}
	addCert := func(f fileKey) {
		if f.cert == nil {
			ids = append(ids, f.id)
			return
		}
		f.id.Cert = userCertInfo(f.cert, o.Settings.User)
		f.id.Type, f.id.Fingerprint = f.cert.Type(), ssh.FingerprintSHA256(f.cert.Key)
		if f.cert.CertType != ssh.UserCert {
			f.id.Problem, f.id.Detail = "not_user_cert", "ssh ignores it: not a user certificate"
			ids = append(ids, f.id)
			return
		}
		priv := privateFor(f.cert.Key)
		if priv == nil {
			f.id.Problem = "no_private_key"
			f.id.Detail = "no identity file or agent key holds the private key of " + f.id.Fingerprint
			ids = append(ids, f.id)
			return
		}
		s, err := ssh.NewCertSigner(f.cert, priv)
		if err != nil {
			f.id.Problem, f.id.Detail = "unreadable", err.Error()
			ids = append(ids, f.id)
			return
		}
		add(f.id, s)
	}

	for _, f := range certFiles {
		addCert(f)
	}
	for i, s := range agentSigners {
		id := Identity{Source: "agent", Comment: agentKeyList[i].Comment}
		if o.Settings.IdentitiesOnly && !filePubs[ssh.FingerprintSHA256(s.PublicKey())] {
			continue // IdentitiesOnly: agent keys only when also named as an identity file
		}
		add(id, s)
	}
	for _, f := range files {
		switch {
		case f.cert != nil:
			addCert(f)
			continue
		case f.signer != nil:
			add(f.id, f.signer)
			continue
		case f.id.Problem == "encrypted" && f.pub != nil && seen[ssh.FingerprintSHA256(f.pub)]:
			continue // its agent copy is offered instead
		case f.pub != nil:
			f.id.Type, f.id.Fingerprint, f.id.PublicKey = f.pub.Type(), ssh.FingerprintSHA256(f.pub), authorizedLine(f.pub)
		}
		ids = append(ids, f.id)
	}
	return ids, restrictAlgorithms(o, ids, signers)
}

// readCert reads an OpenSSH certificate (KEY-cert.pub, CertificateFile).
func readCert(path string) (*ssh.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	c, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("%s holds a %s key, not a certificate", path, pub.Type())
	}
	return c, nil
}

// userCertInfo records a user certificate and judges it as sshd will for
// user: its type, validity now and principals (sshd may map principals
// through AuthorizedPrincipalsFile, which the client cannot see).
func userCertInfo(c *ssh.Certificate, user string) *CertInfo {
	ci := certInfo(c)
	ci.Problem, ci.Detail = checkAuthority(c, ssh.UserCert, user, time.Now())
	return ci
}

// restrictAlgorithms limits each key's signature algorithms to the client's
// PubkeyAcceptedAlgorithms, as ssh would; a key left with none is not offered.
func restrictAlgorithms(o Options, ids []Identity, signers []keySigner) []keySigner {
	accepted := o.Settings.PubkeyAcceptedAlgorithms
	if len(accepted) == 0 {
		return signers
	}
	var out []keySigner
	for _, ks := range signers {
		as, ok := ks.signer.(ssh.AlgorithmSigner)
		if !ok {
			out = append(out, ks)
			continue
		}
		var algos []string
		for _, a := range algorithmsForKeyType(ks.signer.PublicKey().Type()) {
			if slices.Contains(accepted, a) {
				algos = append(algos, a)
			}
		}
		if len(algos) == 0 {
			ids[ks.id].Problem = "filtered"
			ids[ks.id].Detail = "no algorithm for this key type is in PubkeyAcceptedAlgorithms"
			continue
		}
		ms, err := ssh.NewSignerWithAlgorithms(as, algos)
		if err != nil {
			out = append(out, ks)
			continue
		}
		out = append(out, keySigner{signer: ms, id: ks.id})
	}
	return out
}

func algorithmsForKeyType(t string) []string {
	switch t {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{t}
}

func agentKeys(sock string) ([]*agent.Key, []ssh.Signer, error) {
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to agent %s: %w", sock, err)
	}
	// The connection must outlive this function: agent signers use it when
	// the server asks for a signature. It is closed when the process exits.
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("list agent keys: %w", err)
	}
	signers, err := ag.Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("agent signers: %w", err)
	}
	return keys, signers, nil
}

// readKeyFile inspects a private key file as ssh does: it refuses a key of
// its own user that group or others may access (sshkey_perm_ok), and it
// cannot use an encrypted key without a passphrase.
func readKeyFile(path string) (signer ssh.Signer, pub ssh.PublicKey, problem, mode, detail string) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, "missing", "", err.Error()
		}
		return nil, nil, "unreadable", "", err.Error()
	}
	mode = fmt.Sprintf("%04o", st.Mode().Perm())
	pub = readPublicHalf(path)
	if st.Mode().Perm()&0o077 != 0 && ownedByUs(st) {
		return nil, pub, "too_open", mode, fmt.Sprintf("permissions %s are too open; ssh requires the key to be readable by its owner only", mode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pub, "unreadable", mode, err.Error()
	}
	signer, err = ssh.ParsePrivateKey(data)
	var pm *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		if pm.PublicKey != nil {
			pub = pm.PublicKey
		}
		return nil, pub, "encrypted", mode, "the key is protected by a passphrase"
	case err != nil:
		return nil, pub, "unreadable", mode, err.Error()
	}
	return signer, signer.PublicKey(), "", mode, ""
}

func readPublicHalf(path string) ssh.PublicKey {
	data, err := os.ReadFile(path + ".pub")
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

// errNoMoreMethods ends authentication when nothing usable is left.
var errNoMoreMethods = errors.New("no usable authentication method left")

// errAuthSkipped ends authentication after the "none" probe (--no-auth).
var errAuthSkipped = errors.New("authentication skipped (--no-auth)")

// authDriver chooses each authentication attempt through x/crypto's
// AuthCallback, which reports the server's allowed methods after every
// attempt: that is how each key's fate is known.
type authDriver struct {
	opts    Options
	keys    []keySigner
	ids     []Identity
	hostKey *HostKeyResult
	banner  string

	started     bool
	allowed     []string
	lastAllowed []string
	next_       int // next key to offer
	pending     int // Identity index of the key in flight, -1 none
	pendingSig  *atomic.Bool
	partials    int
	triedPw     bool
	pwWithheld  bool
	lastMethod  string
}

func (d *authDriver) next(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	if !d.started {
		d.started = true
		d.pending = -1
		d.allowed = slices.Clone(ctx.AllowedMethods)
	}
	d.lastAllowed = slices.Clone(ctx.AllowedMethods)
	partial := len(ctx.PartialSuccessMethods) > d.partials
	d.partials = len(ctx.PartialSuccessMethods)
	if d.pending >= 0 {
		switch {
		case partial:
			d.ids[d.pending].Result = KeyPartial
		case d.pendingSig.Load():
			d.ids[d.pending].Result = KeySignatureRejected
		default:
			d.ids[d.pending].Result = KeyRejected
		}
		d.pending = -1
	}
	if d.opts.NoAuth {
		return nil, errAuthSkipped
	}
	can := func(m string) bool { return slices.Contains(ctx.AllowedMethods, m) }
	if can("publickey") && d.next_ < len(d.keys) {
		ks := d.keys[d.next_]
		d.next_++
		d.pending = ks.id
		d.pendingSig = &atomic.Bool{}
		d.lastMethod = "publickey"
		as, ok := ks.signer.(ssh.AlgorithmSigner)
		if !ok {
			return ssh.PublicKeys(ks.signer), nil
		}
		return ssh.PublicKeys(recordingSigner{AlgorithmSigner: as, signed: d.pendingSig}), nil
	}
	if d.opts.Password != nil && !d.triedPw && (can("password") || can("keyboard-interactive")) {
		if !hostVerified(d.hostKey) {
			d.pwWithheld = true
			return nil, errNoMoreMethods
		}
		d.triedPw = true
		pw := *d.opts.Password
		if can("password") {
			d.lastMethod = "password"
			return ssh.Password(pw), nil
		}
		d.lastMethod = "keyboard-interactive"
		return ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range questions {
				if !echos[i] {
					answers[i] = pw
				}
			}
			return answers, nil
		}), nil
	}
	return nil, errNoMoreMethods
}

// result turns the handshake's end into an AuthResult.
func (d *authDriver) result(err error, dur Duration) *AuthResult {
	res := &AuthResult{
		AllowedMethods: d.allowed, Banner: strings.TrimSpace(d.banner),
		PasswordHeld: d.pwWithheld, Duration: dur,
	}
	if !slices.Equal(d.lastAllowed, d.allowed) {
		res.LastAllowed = d.lastAllowed
	}
	if d.triedPw {
		res.Password = "rejected"
	} else if d.opts.Password != nil && d.started && !slices.Contains(d.allowed, "password") && !slices.Contains(d.allowed, "keyboard-interactive") {
		res.Password = "not_allowed"
	}
	switch {
	case err == nil:
		res.Outcome = AuthSuccess
		res.Method = d.lastMethod
		if !d.started {
			res.Method = "none"
		}
		if d.pending >= 0 {
			d.ids[d.pending].Result = KeyAccepted
		}
		if d.lastMethod == "password" || d.lastMethod == "keyboard-interactive" {
			res.Password = "accepted"
		}
	case errors.Is(err, errAuthSkipped):
		res.Outcome = AuthNotAttempted
	case errors.Is(err, errNoMoreMethods):
		res.Outcome = AuthFailure
	case isTimeout(err):
		res.Outcome, res.Error = AuthTimeout, err.Error()
	default:
		res.Outcome, res.Error = AuthDisconnected, err.Error()
		if i := strings.Index(err.Error(), "disconnect, reason"); i >= 0 {
			if _, msg, ok := strings.Cut(err.Error()[i:], ": "); ok {
				res.Disconnect = msg
			}
		}
		if d.pending >= 0 && d.ids[d.pending].Result == "" {
			d.ids[d.pending].Result = KeyRejected
		}
	}
	for i := range d.ids {
		if d.ids[i].Problem == "" && d.ids[i].Result == "" && d.offerable(i) {
			d.ids[i].Result = KeyNotTried
		}
	}
	return res
}

func (d *authDriver) offerable(id int) bool {
	for _, k := range d.keys {
		if k.id == id {
			return true
		}
	}
	return false
}

// trimOutput keeps captured session output small and on the point.
func trimOutput(b *bytes.Buffer) string {
	const limit = 4096
	s := b.String()
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

func ownedByUs(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return !ok || int(sys.Uid) == os.Getuid()
}

// authorizedLine is key as an authorized_keys line without a comment; a
// certificate's plain key, which is what a user would authorize.
func authorizedLine(key ssh.PublicKey) string {
	if c, ok := key.(*ssh.Certificate); ok {
		key = c.Key
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}
