package guest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// KeyOptions is an authorized_keys line with options, as sshd reads it:
// the key it holds and the options before it.
type KeyOptions struct {
	Path    string   `json:"path"`
	Line    int      `json:"line"`
	Options []string `json:"options"`
	// Fingerprint is the key's SHA256 fingerprint.
	Fingerprint string `json:"fingerprint"`
}

// keyOptionLines reads the lines of an authorized_keys file that carry
// options.
func keyOptionLines(file string, data []byte) []KeyOptions {
	var out []KeyOptions
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		key, _, opts, _, err := ssh.ParseAuthorizedKey(sc.Bytes())
		if err != nil || len(opts) == 0 {
			continue
		}
		out = append(out, KeyOptions{Path: file, Line: n, Options: opts, Fingerprint: ssh.FingerprintSHA256(key)})
	}
	return out
}

// remoteKeyOptions reads the remote script's "ko" fields: the key blob
// (base64) and the options text before it.
func remoteKeyOptions(file string, line int, blob, opts string) (KeyOptions, bool) {
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		return KeyOptions{}, false
	}
	key, err := ssh.ParsePublicKey(raw)
	if err != nil {
		return KeyOptions{}, false
	}
	return KeyOptions{Path: file, Line: line, Options: splitOptions(opts), Fingerprint: ssh.FingerprintSHA256(key)}, true
}

// splitOptions splits an options field at commas outside double quotes.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// restriction says why sshd refuses the key on this line for a client
// at from (invalid: unknown) at time now; "" when it does not, or when
// it cannot be told here (a from= host name needs the client's reverse
// DNS).
func (k KeyOptions) restriction(from netip.Addr, now time.Time) string {
	for _, o := range k.Options {
		name, val, _ := strings.Cut(o, "=")
		val = strings.Trim(val, `"`)
		switch strings.ToLower(name) {
		case "cert-authority":
			// the line trusts certificates signed by this key; the key
			// itself is not accepted on it (auth2-pubkeyfile.c)
			return "cert-authority: the line trusts certificates this key signed, not the key itself"
		case "expiry-time":
			if t, ok := parseExpiry(val); ok && !now.Before(t) {
				return fmt.Sprintf("expiry-time=%q: the key expired on %s", val, t.Format("2006-01-02 15:04"))
			}
		case "from":
			if from.IsValid() && fromRefuses(val, from) {
				return fmt.Sprintf("from=%q does not admit %s", val, from)
			}
		}
	}
	return ""
}

// parseExpiry reads sshd's YYYYMMDD[HHMM[SS]][Z] (local time unless Z).
func parseExpiry(v string) (time.Time, bool) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// fromRefuses evaluates a from= pattern list as sshd's match_host_and_ip
// does for an address: a negated match refuses, a match admits, no match
// refuses. A host name pattern could match the client's reverse DNS,
// which is not known here: then it does not refuse.
func fromRefuses(list string, a netip.Addr) bool {
	m, known := hostMatch(list, a)
	return known && !m
}
