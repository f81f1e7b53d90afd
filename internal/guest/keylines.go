package guest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/ssh"
)

// Kinds of authorized_keys lines sshd cannot read (auth2-pubkeyfile.c:
// sshkey_read reads "[options] TYPE BASE64 [comment]" from one line; a
// line it cannot read is skipped without a word in the log at the
// default level).
const (
	DefectBOM        = "bom"         // a UTF-8 byte-order mark in front of the key type
	DefectUTF16      = "utf16"       // the whole file is UTF-16 (PowerShell's > or Out-File)
	DefectWrapped    = "wrapped"     // one key broken over several lines
	DefectRFC4716    = "rfc4716"     // "---- BEGIN SSH2 PUBLIC KEY ----" (PuTTYgen, ssh-keygen -e)
	DefectPEM        = "pem"         // "-----BEGIN PUBLIC KEY-----" (openssl)
	DefectPrivateKey = "private_key" // a private key pasted instead of the .pub
)

// KeyDefect is one authorized_keys line (or block) sshd cannot read, and
// the key it was meant to hold.
type KeyDefect struct {
	Line  int    `json:"line"`            // 1-based, where it starts
	Lines int    `json:"lines,omitempty"` // how many lines it spans
	Kind  string `json:"kind"`
	// Key is the key the line holds, as "TYPE BASE64" ("" for a private
	// key, or when the line carries options: a repair never writes a key
	// without the restrictions its line had).
	Key     string `json:"key,omitempty"`
	Options bool   `json:"options,omitempty"`
}

// explain says what is wrong with the line, for a user.
func (d KeyDefect) explain() string {
	switch d.Kind {
	case DefectBOM:
		return "starts with a byte-order mark (saved by a Windows editor), so sshd does not see the key type"
	case DefectUTF16:
		return "is UTF-16 text (PowerShell's > or Out-File), which sshd cannot read"
	case DefectWrapped:
		return fmt.Sprintf("is one key broken over %d lines (wrapped when pasted); sshd reads each line alone", d.Lines)
	case DefectRFC4716:
		return "is an RFC 4716 (SSH2) block; sshd reads only one-line OpenSSH keys"
	case DefectPEM:
		return "is a PEM public key (openssl); sshd reads only one-line OpenSSH keys"
	case DefectPrivateKey:
		return "is a private key, not a public key"
	}
	return d.Kind
}

// numberedLine is one line of a key file with its 1-based number.
type numberedLine struct {
	N    int
	Text string
}

// keyFileLines splits a key file into numbered lines, decoding UTF-16
// (which the remote script turns into text itself). utf16 says whether it
// was.
func keyFileLines(data []byte) (lines []numberedLine, isUTF16 bool) {
	if text, ok := decodeUTF16(data); ok {
		data, isUTF16 = []byte(text), true
	}
	for i, l := range strings.Split(string(data), "\n") {
		lines = append(lines, numberedLine{N: i + 1, Text: l})
	}
	return lines, isUTF16
}

// decodeUTF16 decodes data when it is UTF-16: a UTF-16 byte-order mark,
// or NUL in every other byte of what would be ASCII text.
func decodeUTF16(data []byte) (string, bool) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		order, data = binary.LittleEndian, data[2:]
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order, data = binary.BigEndian, data[2:]
	case len(data) >= 4 && data[0] != 0 && data[1] == 0 && data[2] != 0 && data[3] == 0:
		order = binary.LittleEndian
	case len(data) >= 4 && data[0] == 0 && data[1] != 0 && data[2] == 0 && data[3] != 0:
		order = binary.BigEndian
	default:
		return "", false
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		u[i] = order.Uint16(data[2*i:])
	}
	return strings.ReplaceAll(string(utf16.Decode(u)), "\r\n", "\n"), true
}

// keyDefects finds the lines sshd skips but that hold a key (or a private
// key), given the file's lines (all of them, or, read remotely, the ones
// the script found suspect, with their numbers). Lines that hold no key
// at all stay unexplained: KeyFile.Bad counts them.
func keyDefects(lines []numberedLine, isUTF16 bool) []KeyDefect {
	var out []KeyDefect
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.Text
	}
	// consecutive says whether lines[i..j] are consecutive in the file
	// (a remote reader sends only suspect lines).
	consecutive := func(i, j int) bool { return lines[j].N-lines[i].N == j-i }
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i].Text)
		n := lines[i].N
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if isUTF16 {
			if d, ok := oneLineKey(t); ok {
				d.Line, d.Kind = n, DefectUTF16
				out = append(out, d)
				continue
			}
		}
		switch {
		case strings.HasPrefix(t, "\ufeff"):
			if d, ok := oneLineKey(strings.TrimPrefix(t, "\ufeff")); ok {
				d.Line, d.Kind = n, DefectBOM
				out = append(out, d)
			}
		case strings.HasPrefix(t, "PuTTY-User-Key-File-"):
			out = append(out, KeyDefect{Line: n, Kind: DefectPrivateKey})
			return out // the rest of the file is the PuTTY key
		case strings.HasPrefix(t, "-----BEGIN ") && strings.Contains(t, "PRIVATE KEY"),
			strings.HasPrefix(t, "---- BEGIN ") && strings.Contains(t, "PRIVATE KEY"):
			end := i
			for end+1 < len(lines) && lines[end+1].N == lines[end].N+1 && !strings.Contains(lines[end].Text, "-----END ") && !strings.Contains(lines[end].Text, "---- END ") {
				end++
			}
			out = append(out, KeyDefect{Line: n, Lines: lines[end].N - n + 1, Kind: DefectPrivateKey})
			i = end
		case strings.HasPrefix(t, "---- BEGIN SSH2 PUBLIC KEY"):
			if k, end, err := parseRFC4716(texts, i); err == nil && consecutive(i, end) {
				out = append(out, KeyDefect{Line: n, Lines: end - i + 1, Kind: DefectRFC4716, Key: keyText(k.Key)})
				i = end
			}
		case strings.HasPrefix(t, "-----BEGIN ") && strings.Contains(t, "PUBLIC KEY"):
			if k, end, err := parsePEMBlock(texts, i); err == nil && consecutive(i, end) {
				out = append(out, KeyDefect{Line: n, Lines: end - i + 1, Kind: DefectPEM, Key: keyText(k.Key)})
				i = end
			}
		default:
			if _, ok := oneLineKey(t); ok {
				continue // sshd reads it
			}
			if d, end, ok := wrappedKey(lines, i); ok {
				out = append(out, d)
				i = end
			}
		}
	}
	return out
}

// maxWrap is how many lines a wrapped key may span (an RSA 16384-bit key
// wrapped at 40 columns is under 70).
const maxWrap = 80

// wrappedKey joins lines[i] with the lines after it until they read as one
// key: the break may fall inside the base64 or at the space before the
// comment. The first line must start the key (options or a key type).
func wrappedKey(lines []numberedLine, i int) (KeyDefect, int, bool) {
	joined := strings.TrimSpace(lines[i].Text)
	if !startsKey(joined) {
		return KeyDefect{}, 0, false
	}
	for j := i + 1; j < len(lines) && j-i < maxWrap; j++ {
		if lines[j].N != lines[j-1].N+1 {
			break
		}
		next := strings.TrimSpace(lines[j].Text)
		if next == "" || strings.HasPrefix(next, "#") || startsKey(next) {
			break
		}
		for _, cand := range []string{joined + next, joined + " " + next} {
			if d, ok := oneLineKey(cand); ok {
				// A line more may still belong to the comment; the key
				// itself is complete.
				d.Line, d.Lines, d.Kind = lines[i].N, j-i+1, DefectWrapped
				return d, j, true
			}
		}
		joined += next
	}
	return KeyDefect{}, 0, false
}

// startsKey says whether s begins like an authorized_keys line: a key
// type sshd knows, or options followed by one.
func startsKey(s string) bool {
	f := strings.Fields(s)
	if len(f) == 0 {
		return false
	}
	if knownKeyType(f[0]) {
		return true
	}
	return len(f) > 1 && strings.Contains(f[0], "=") && knownKeyType(f[1]) ||
		len(f) > 1 && (f[0] == "restrict" || strings.HasPrefix(f[0], "no-")) && knownKeyType(f[1])
}

func knownKeyType(t string) bool {
	return strings.HasPrefix(t, "ssh-") || strings.HasPrefix(t, "ecdsa-sha2-") || strings.HasPrefix(t, "sk-ssh-") || strings.HasPrefix(t, "sk-ecdsa-") || strings.HasPrefix(t, "rsa-sha2-")
}

// oneLineKey reads s as one authorized_keys line, as sshd would.
func oneLineKey(s string) (KeyDefect, bool) {
	key, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil || len(bytes.TrimSpace(rest)) > 0 {
		return KeyDefect{}, false
	}
	if len(opts) > 0 {
		return KeyDefect{Options: true}, true
	}
	return KeyDefect{Key: keyText(key)}, true
}

// keyText is "TYPE BASE64".
func keyText(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}
