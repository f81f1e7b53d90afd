package guest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// KeyLine is one public key to authorize, with the comment and the
// authorized_keys options (restrict, from="…", …) it came with.
type KeyLine struct {
	Key     ssh.PublicKey
	Comment string
	Options []string
}

// Line renders k as an authorized_keys line (with a trailing newline).
func (k KeyLine) Line() string {
	s := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k.Key)), "\n")
	if len(k.Options) > 0 {
		s = strings.Join(k.Options, ",") + " " + s
	}
	if c := cleanComment(k.Comment); c != "" {
		s += " " + c
	}
	return s + "\n"
}

// ParsePublicKeys reads every public key in data. Accepted, one or more
// per input and mixed freely:
//   - OpenSSH one-line keys as in authorized_keys (every type x/crypto
//     knows: ssh-rsa, ecdsa-sha2-*, ssh-ed25519, sk-ecdsa-sha2-nistp256@openssh.com,
//     sk-ssh-ed25519@openssh.com), with or without options and comment; an
//     OpenSSH certificate stands for the key it certifies;
//   - RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----" blocks (headers,
//     continuation lines);
//   - PEM "PUBLIC KEY" (PKIX SubjectPublicKeyInfo: RSA, ECDSA P-256/384/521,
//     Ed25519), "RSA PUBLIC KEY" (PKCS#1) and "CERTIFICATE" (X.509: the
//     certificate's public key).
//
// Blank lines and # comments are skipped. Private keys are never accepted,
// in any format: the error says to give the .pub file instead. DSA keys and
// RSA keys under 1024 bits are refused, as OpenSSH refuses them. The error
// names the line and the format that failed.
func ParsePublicKeys(data []byte) ([]ssh.PublicKey, error) {
	kl, err := ParseKeyLines(data)
	if err != nil {
		return nil, err
	}
	keys := make([]ssh.PublicKey, len(kl))
	for i, k := range kl {
		keys[i] = k.Key
	}
	return keys, nil
}

// ParseKeyLines is ParsePublicKeys keeping each key's comment and options.
func ParseKeyLines(data []byte) ([]KeyLine, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM from Windows editors
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var out []KeyLine
	for i := 0; i < len(lines); i++ {
		n := i + 1
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
			continue
		case strings.HasPrefix(l, "PuTTY-User-Key-File-"):
			return nil, fmt.Errorf("line %d: a PuTTY private key file: sshdoctor never accepts private keys; give the public key (PuTTYgen: \"Public key for pasting into OpenSSH authorized_keys file\")", n)
		case strings.HasPrefix(l, "---- BEGIN "):
			k, end, err := parseRFC4716(lines, i)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
			i = end
		case strings.HasPrefix(l, "-----BEGIN "):
			k, end, err := parsePEMBlock(lines, i)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
			i = end
		default:
			k, err := parseOpenSSHLine(l, n)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no public key found")
	}
	return out, nil
}

// ParseOneKey reads exactly one public key, as VMAccess's ssh_key holds
// it: one OpenSSH line "type base64 [comment]" without options, or one
// RFC 4716 or PEM block. Blank space around it is ignored. A line break
// inside a one-line key, a NUL, a second key or authorized_keys options
// (command=, from=, …; VMAccess has no place for them) are refused: each
// would authorize more, or other, than the one key asked for.
func ParseOneKey(s string) (KeyLine, error) {
	if strings.ContainsRune(s, 0) {
		return KeyLine{}, errors.New("contains a NUL byte: give one public key")
	}
	t := strings.TrimSpace(s)
	block := strings.HasPrefix(t, "---- BEGIN ") || strings.HasPrefix(t, "-----BEGIN ")
	if !block && strings.ContainsAny(t, "\r\n") {
		return KeyLine{}, errors.New("a line break inside the key: give one key on one line (type base64 [comment])")
	}
	kl, err := ParseKeyLines([]byte(t))
	if err != nil {
		return KeyLine{}, err
	}
	if len(kl) != 1 {
		return KeyLine{}, fmt.Errorf("%d keys: give exactly one", len(kl))
	}
	if len(kl[0].Options) > 0 {
		return KeyLine{}, errors.New("authorized_keys options (command=, from=, …) are not accepted: give the key as type base64 [comment]")
	}
	return kl[0], nil
}

func privateKeyError(n int, what string) error {
	return fmt.Errorf("line %d: %s is a private key: sshdoctor never accepts private keys; give the public key (the .pub file, or `ssh-keygen -y -f KEY`)", n, what)
}

func parseOpenSSHLine(l string, n int) (KeyLine, error) {
	key, comment, opts, rest, err := ssh.ParseAuthorizedKey([]byte(l))
	if err != nil {
		fs := strings.Fields(l)
		for _, f := range fs {
			if f == "ssh-dss" {
				return KeyLine{}, fmt.Errorf("line %d: %s", n, errDSA)
			}
		}
		what := "an OpenSSH public key line"
		if len(fs) > 0 && len(fs[0]) <= 64 {
			what = fmt.Sprintf("an OpenSSH public key line (%q …)", fs[0])
		}
		return KeyLine{}, fmt.Errorf("line %d: not %s: the key type, base64 or key data is invalid or truncated", n, what)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return KeyLine{}, fmt.Errorf("line %d: unexpected text after the key", n)
	}
	if c, ok := key.(*ssh.Certificate); ok {
		key = c.Key // a certificate's holder has the certified key's private half
	}
	if err := acceptable(key); err != nil {
		return KeyLine{}, fmt.Errorf("line %d: OpenSSH public key: %v", n, err)
	}
	return KeyLine{Key: key, Comment: comment, Options: opts}, nil
}

// parseRFC4716 reads an RFC 4716 block starting at lines[start]; it
// returns the key and the index of the END line.
func parseRFC4716(lines []string, start int) (KeyLine, int, error) {
	n := start + 1
	begin := strings.TrimSpace(lines[start])
	kind := strings.TrimSuffix(strings.TrimPrefix(begin, "---- BEGIN "), " ----")
	if strings.Contains(kind, "PRIVATE KEY") {
		return KeyLine{}, 0, privateKeyError(n, "an RFC 4716 "+kind)
	}
	if begin != "---- BEGIN SSH2 PUBLIC KEY ----" {
		return KeyLine{}, 0, fmt.Errorf("line %d: unknown RFC 4716 block %q (want ---- BEGIN SSH2 PUBLIC KEY ----)", n, begin)
	}
	var body strings.Builder
	comment := ""
	inHeader := true
	for i := start + 1; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "---- END SSH2 PUBLIC KEY ----":
			blob, err := base64.StdEncoding.DecodeString(body.String())
			if err != nil {
				return KeyLine{}, 0, fmt.Errorf("line %d: RFC 4716 public key: the base64 body is invalid or truncated", n)
			}
			key, err := ssh.ParsePublicKey(blob)
			if err != nil {
				return KeyLine{}, 0, fmt.Errorf("line %d: RFC 4716 public key: %v", n, err)
			}
			if err := acceptable(key); err != nil {
				return KeyLine{}, 0, fmt.Errorf("line %d: RFC 4716 public key: %v", n, err)
			}
			return KeyLine{Key: key, Comment: comment}, i, nil
		case strings.HasPrefix(l, "---- "):
			return KeyLine{}, 0, fmt.Errorf("line %d: RFC 4716 public key: unexpected %q before ---- END SSH2 PUBLIC KEY ----", i+1, l)
		case l == "":
			continue
		case inHeader && strings.Contains(l, ":"):
			// Header-tag ":" value; a trailing backslash continues the
			// value on the next line.
			tag, val, _ := strings.Cut(l, ":")
			val = strings.TrimSpace(val)
			for strings.HasSuffix(val, `\`) && i+1 < len(lines) {
				i++
				val = strings.TrimSuffix(val, `\`) + strings.TrimSpace(lines[i])
			}
			if strings.EqualFold(strings.TrimSpace(tag), "Comment") {
				comment = strings.Trim(val, `"`)
			}
		default:
			inHeader = false
			body.WriteString(l)
		}
	}
	return KeyLine{}, 0, fmt.Errorf("line %d: RFC 4716 public key: no ---- END SSH2 PUBLIC KEY ---- line (truncated?)", n)
}

// parsePEMBlock reads the PEM block starting at lines[start] up to its own
// END line (pem.Decode alone would skip a malformed block silently).
func parsePEMBlock(lines []string, start int) (KeyLine, int, error) {
	n := start + 1
	begin := strings.TrimSpace(lines[start])
	typ := strings.TrimSuffix(strings.TrimPrefix(begin, "-----BEGIN "), "-----")
	if strings.Contains(typ, "PRIVATE KEY") {
		return KeyLine{}, 0, privateKeyError(n, "PEM "+typ)
	}
	endLine := "-----END " + typ + "-----"
	end := -1
	for i := start + 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == endLine {
			end = i
			break
		}
	}
	if end < 0 {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: no %s line (truncated?)", n, typ, endLine)
	}
	var text strings.Builder
	for _, l := range lines[start : end+1] {
		text.WriteString(strings.TrimSpace(l) + "\n")
	}
	block, rest := pem.Decode([]byte(text.String()))
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: the base64 body is invalid or truncated", n, typ)
	}
	var pub any
	var err error
	switch typ {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s is not a public key (accepted: PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE)", n, typ)
	}
	if err != nil {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: %v", n, typ, err)
	}
	if pub == nil {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: unsupported public key algorithm", n, typ)
	}
	if _, ok := pub.(*ecdh.PublicKey); ok {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: an X25519/ECDH key cannot sign: SSH needs RSA, ECDSA or Ed25519", n, typ)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: %v", n, typ, err)
	}
	if err := acceptable(key); err != nil {
		return KeyLine{}, 0, fmt.Errorf("line %d: PEM %s: %v", n, typ, err)
	}
	return KeyLine{Key: key}, end, nil
}

var errDSA = errors.New("ssh-dss (DSA) keys are disabled in OpenSSH since 7.0: use an Ed25519, ECDSA or RSA key")

// acceptable refuses keys OpenSSH's sshd refuses anyway.
func acceptable(key ssh.PublicKey) error {
	switch key.Type() {
	case "ssh-dss":
		return errDSA
	case ssh.KeyAlgoRSA:
		if ck, ok := key.(ssh.CryptoPublicKey); ok {
			if r, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < 1024 {
				return fmt.Errorf("a %d-bit RSA key: sshd refuses RSA keys under 1024 bits", r.N.BitLen())
			}
		}
	}
	return nil
}

// cleanComment keeps a comment to one printable line.
func cleanComment(c string) string {
	c = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, c)
	return strings.TrimSpace(c)
}
