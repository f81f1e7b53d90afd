package probe

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// knownHosts answers known_hosts questions for one target.
type knownHosts struct {
	files    []string // existing files, user files first
	userFile string   // where accept-new writes
	name     string   // host name as known_hosts records it ("[host]:port" off 22)
	hostport string
	strict   string
	cb       ssh.HostKeyCallback
	loadErr  error
}

func newKnownHosts(s *sshconfig.Settings) *knownHosts {
	host := s.HostName
	if s.HostKeyAlias != "" {
		host = s.HostKeyAlias
	}
	k := &knownHosts{
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
	return k
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

// preferAlgorithms moves the algorithms of already-known key types first.
func (k *knownHosts) preferAlgorithms(algos []string) []string {
	var first, rest []string
	types := map[string]bool{}
	for _, kk := range k.known() {
		types[kk.Key.Type()] = true
	}
	for _, a := range algos {
		if types[keyTypeOfAlgorithm(a)] {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...)
}

func keyTypeOfAlgorithm(a string) string {
	switch a {
	case ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512:
		return ssh.KeyAlgoRSA
	}
	return a
}

// errHostKey stops the handshake when the host key must not be trusted.
type errHostKey struct{ verdict HostKeyVerdict }

func (e *errHostKey) Error() string { return "host key " + string(e.verdict) }

// check records the key and the verdict in hk and returns an error when the
// connection must not continue (as ssh would refuse it).
func (k *knownHosts) check(hk *HostKeyResult, key ssh.PublicKey) error {
	hk.Type = key.Type()
	hk.Fingerprint = ssh.FingerprintSHA256(key)
	hk.LookupName = k.name
	hk.Files = k.files
	if k.loadErr != nil {
		hk.Error = k.loadErr.Error()
	}
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
