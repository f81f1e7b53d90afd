package probe

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// knownHosts answers known_hosts questions for one target.
type knownHosts struct {
	files    []string // existing files, user files first
	userFile string   // where accept-new writes
	name     string   // host name as known_hosts records it ("[host]:port" off 22)
	host     string   // HostKeyAlias or HostName: the principal a host certificate must name
	hostport string
	markers  []markerLine // @cert-authority and @revoked lines that match name
	strict   string
	cb       ssh.HostKeyCallback
	loadErr  error
	// KnownHostsCommand and CheckHostIP (khcommand.go).
	settings    *sshconfig.Settings
	cmdErr      error
	cmdFile     bool
	checkHostIP bool
}

func newKnownHosts(s *sshconfig.Settings) *knownHosts {
	host := s.HostName
	if s.HostKeyAlias != "" {
		host = s.HostKeyAlias
	}
	k := &knownHosts{
		host:     host,
		hostport: net.JoinHostPort(host, strconv.Itoa(s.Port)),
		strict:   s.StrictHostKeyChecking,
	}
	k.name = knownhosts.Normalize(k.hostport)
	if len(s.UserKnownHostsFiles) > 0 {
		k.userFile = s.UserKnownHostsFiles[0]
	}
	for _, f := range slices.Concat(s.UserKnownHostsFiles, s.GlobalKnownHostsFiles) {
		if f == "" || f == "/dev/null" || f == "none" {
			continue
		}
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			k.files = append(k.files, f)
		}
	}
	if len(k.files) > 0 {
		k.cb, k.loadErr = knownhosts.New(k.files...)
	}
	for _, f := range k.files {
		k.markers = append(k.markers, readMarkers(f, k.name)...)
	}
	k.settings = s
	// ssh turns CheckHostIP off when a proxy makes the connection.
	k.checkHostIP = s.CheckHostIP && s.ProxyCommand == "" && s.ProxyJump == ""
	k.withCommandLines("ORDER", nil)
	return k
}

// markerLine is a known_hosts line with a marker, for the host.
type markerLine struct {
	marker string // "cert-authority" or "revoked"
	entry  KnownEntry
	key    ssh.PublicKey
}

// readMarkers returns the marked lines of file whose host patterns match
// name. x/crypto's knownhosts keeps its CA lines to itself, and it ignores
// the host patterns of @revoked lines, which OpenSSH honours.
func readMarkers(file, name string) []markerLine {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []markerLine
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "@") {
			continue
		}
		marker, hosts, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err != nil || marker == "" || !matchHosts(hosts, name) {
			continue
		}
		e := entry(knownhosts.KnownKey{Key: key, Filename: file, Line: i + 1})
		out = append(out, markerLine{marker: marker, entry: e, key: key})
	}
	return out
}

// matchHosts is OpenSSH's match_hostname over a known_hosts host field: a
// hashed name (|1|salt|hash), or comma-separated patterns with * and ?
// where a matching negated (!) pattern refuses the host outright.
func matchHosts(patterns []string, name string) bool {
	name = strings.ToLower(name)
	if len(patterns) == 1 && strings.HasPrefix(patterns[0], "|1|") {
		parts := strings.Split(patterns[0], "|")
		if len(parts) != 4 {
			return false
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[2])
		want, err2 := base64.StdEncoding.DecodeString(parts[3])
		if err1 != nil || err2 != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(name))
		return hmac.Equal(mac.Sum(nil), want)
	}
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if sshconfig.WildMatch(name, strings.ToLower(strings.TrimPrefix(p, "!"))) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// remoteAddr makes x/crypto's knownhosts look up only the host name, not the
// IP: OpenSSH has not checked the IP by default since 8.5 (CheckHostIP=no), so
// an entry recorded by name must match however the name resolves today.
type remoteAddr string

func (a remoteAddr) Network() string { return "tcp" }
func (a remoteAddr) String() string  { return string(a) }

// known returns the keys recorded for the host, learnt by asking with a key
// that cannot be recorded: knownhosts answers a mismatch with every key it has.
func (k *knownHosts) known() []knownhosts.KnownKey {
	if k.cb == nil {
		return nil
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probeKey, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if errors.As(k.cb(k.hostport, remoteAddr(k.hostport), probeKey), &ke) {
		return ke.Want
	}
	return nil
}

// preferAlgorithms orders the host-key algorithms as OpenSSH's
// order_hostkeyalgs does: the list as is when a key of the first
// algorithm's plain type is known; otherwise, keeping the list's order,
// first the certificate algorithms when a @cert-authority line matches the
// host and the algorithms of known key types, then the rest.
func (k *knownHosts) preferAlgorithms(algos []string) []string {
	types := map[string]bool{}
	for _, kk := range k.known() {
		types[kk.Key.Type()] = true
	}
	if len(algos) > 0 && types[plainKeyType(algos[0])] {
		return algos
	}
	var first, rest []string
	for _, a := range algos {
		if (isCertAlgorithm(a) && len(k.authorities()) > 0) || types[plainKeyType(a)] {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...)
}

func isCertAlgorithm(a string) bool { return strings.Contains(a, "-cert-v01@openssh.com") }

// plainKeyType is the type of the keys algorithm a signs with.
func plainKeyType(a string) string {
	switch a {
	case ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512,
		ssh.CertAlgoRSAv01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSASHA512v01:
		return ssh.KeyAlgoRSA
	}
	return strings.Replace(a, "-cert-v01@openssh.com", "", 1)
}

// authorities are the @cert-authority lines for the host.
func (k *knownHosts) authorities() []markerLine {
	var out []markerLine
	for _, m := range k.markers {
		if m.marker == "cert-authority" {
			out = append(out, m)
		}
	}
	return out
}

// revokedLine returns the @revoked line for key, if any.
func (k *knownHosts) revokedLine(key ssh.PublicKey) *KnownEntry {
	for _, m := range k.markers {
		if m.marker == "revoked" && bytes.Equal(m.key.Marshal(), key.Marshal()) {
			return &m.entry
		}
	}
	return nil
}

// checkCert judges a host certificate as ssh's check_host_key does. It
// returns true when the certificate decides the verdict: trusted (match)
// or revoked (ssh refuses without falling back to the plain key). On any
// other problem ssh falls back to the plain key, and so must the caller.
func (k *knownHosts) checkCert(hk *HostKeyResult, c *ssh.Certificate, now time.Time) bool {
	ci := certInfo(c)
	hk.Cert = ci
	for _, a := range k.authorities() {
		hk.Authorities = append(hk.Authorities, a.entry)
	}
	// A revoked CA or certified key refuses the host outright.
	for i, key := range []ssh.PublicKey{c.Key, c.SignatureKey} {
		if e := k.revokedLine(key); e != nil {
			ci.Problem = CertRevoked
			ci.Detail = "the certified key is @revoked"
			if i == 1 {
				ci.Detail = "the signing CA " + ci.CA + " is @revoked"
			}
			hk.Verdict = HostKeyRevoked
			hk.Known = []KnownEntry{*e}
			return true
		}
	}
	for _, a := range k.authorities() {
		if bytes.Equal(a.key.Marshal(), c.SignatureKey.Marshal()) {
			ca := a.entry
			hk.CA = &ca
			break
		}
	}
	switch {
	case len(hk.Authorities) == 0:
		ci.Problem, ci.Detail = CertNoAuthority, "no @cert-authority line matches "+k.name
		return false
	case hk.CA == nil:
		ci.Problem, ci.Detail = CertUntrustedCA, "signed by "+ci.CA+", which no @cert-authority line for "+k.name+" names"
		return false
	}
	if p, d := checkAuthority(c, ssh.HostCert, k.host, now); p != "" {
		ci.Problem, ci.Detail = p, d
		return false
	}
	if len(c.CriticalOptions) > 0 {
		ci.Problem, ci.Detail = CertInvalid, "it has critical options, which host certificates must not have"
		return false
	}
	if err := verifyCertSignature(c); err != nil {
		ci.Problem, ci.Detail = CertInvalid, err.Error()
		return false
	}
	hk.Verdict = HostKeyMatch
	return true
}

// errHostKey stops the handshake when the host key must not be trusted.
type errHostKey struct{ verdict HostKeyVerdict }

func (e *errHostKey) Error() string { return "host key " + string(e.verdict) }

// check records the key and the verdict in hk and returns an error when the
// connection must not continue (as ssh would refuse it): the host name's
// entries (files, then KnownHostsCommand's lines), then with CheckHostIP the
// address's.
func (k *knownHosts) check(hk *HostKeyResult, key ssh.PublicKey, remote net.Addr) error {
	k.withCommandLines("HOSTNAME", key)
	err := k.checkHost(hk, key)
	if k.cmdFile {
		hk.Files = append(slices.Clone(hk.Files), "KnownHostsCommand")
	}
	if k.cmdErr != nil {
		hk.Error = strings.TrimPrefix(hk.Error+"; "+k.cmdErr.Error(), "; ")
	}
	if err != nil || hk.Verdict == HostKeyChanged {
		return err
	}
	plain := key
	if c, ok := key.(*ssh.Certificate); ok {
		plain = c.Key
	}
	return k.checkIP(hk, remote, plain)
}

func (k *knownHosts) checkHost(hk *HostKeyResult, key ssh.PublicKey) error {
	hk.LookupName = k.name
	hk.Files = k.files
	if k.loadErr != nil {
		hk.Error = k.loadErr.Error()
	}
	if c, ok := key.(*ssh.Certificate); ok {
		hk.Type, hk.Fingerprint = c.Type(), ssh.FingerprintSHA256(c.Key)
		if k.checkCert(hk, c, time.Now()) {
			if hk.Verdict == HostKeyRevoked {
				return &errHostKey{HostKeyRevoked}
			}
			return nil
		}
		// ssh: "No matching CA found. Retry with plain key".
		key = c.Key
	}
	hk.Type = key.Type()
	hk.Fingerprint = ssh.FingerprintSHA256(key)
	var err error
	if k.cb != nil {
		err = k.cb(k.hostport, remoteAddr(k.hostport), key)
	} else {
		err = &knownhosts.KeyError{}
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		hk.Verdict = HostKeyMatch
		return nil
	case errors.As(err, &re):
		hk.Verdict = HostKeyRevoked
		hk.Known = []KnownEntry{entry(re.Revoked)}
		return &errHostKey{HostKeyRevoked}
	case errors.As(err, &ke) && len(ke.Want) > 0:
		hk.Verdict = HostKeyChanged
		for _, w := range ke.Want {
			hk.Known = append(hk.Known, entry(w))
		}
		if k.strict == "no" {
			// OpenSSH goes on with StrictHostKeyChecking=no but never sends
			// a password; the auth driver enforces the same.
			return nil
		}
		return &errHostKey{HostKeyChanged}
	case errors.As(err, &ke):
		hk.Verdict = HostKeyUnknown
		switch k.strict {
		case "yes":
			return &errHostKey{HostKeyUnknown}
		case "accept-new":
			if werr := k.add(key); werr != nil {
				hk.Error = werr.Error()
				return nil
			}
			hk.Verdict = HostKeyAcceptedNew
		}
		return nil
	default:
		hk.Error = err.Error()
		hk.Verdict = HostKeyUnknown
		return nil
	}
}

func entry(k knownhosts.KnownKey) KnownEntry {
	return KnownEntry{File: k.Filename, Line: k.Line, Type: k.Key.Type(), Fingerprint: ssh.FingerprintSHA256(k.Key)}
}

// add appends the key to the user's known_hosts, hashed as Debian's default
// HashKnownHosts does, creating the file (0600) and directory (0700).
func (k *knownHosts) add(key ssh.PublicKey) error {
	if k.userFile == "" {
		return errors.New("no UserKnownHostsFile to write to")
	}
	if err := os.MkdirAll(filepath.Dir(k.userFile), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(k.userFile), err)
	}
	f, err := os.OpenFile(k.userFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", k.userFile, err)
	}
	line := knownhosts.Line([]string{knownhosts.HashHostname(k.name)}, key)
	if _, err := f.WriteString(strings.TrimSpace(line) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", k.userFile, err)
	}
	return f.Close()
}

// hostVerified says whether secrets (a password) may be sent to the server.
func hostVerified(hk *HostKeyResult) bool {
	return hk.Verdict == HostKeyMatch || hk.Verdict == HostKeyAcceptedNew
}
