package probe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// clientVersion is the identification string sshdoctor sends. It is written
// before the server's banner is read, as OpenSSH does, so services that wait
// for the client to speak first (HTTP) reveal themselves.
const clientVersion = "SSH-2.0-sshdoctor"

// Limits on what is read before the SSH identification (RFC 4253 §4.2 allows
// other lines first; OpenSSH accepts up to 1024 of them).
const (
	maxPreBannerLines = 64
	maxLineBytes      = 1024
	// recordLimit bounds how much of the server stream is kept to decode
	// the KEXINIT: the largest SSH packet is 35000 bytes (RFC 4253 §6.1).
	recordLimit = 35000 + 2048
)

// probeConn sits between x/crypto and the TCP connection. It replays the bytes
// the banner reader already consumed, drops x/crypto's identical version write
// (ours went out first), and keeps the first bytes of the server stream so the
// cleartext KEXINIT can be decoded: x/crypto has no API for the peer's offer.
type probeConn struct {
	net.Conn
	mu      sync.Mutex
	replay  []byte
	swallow []byte
	rec     []byte
}

func (c *probeConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		c.record(p[:n])
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.record(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *probeConn) record(b []byte) {
	if room := recordLimit - len(c.rec); room > 0 {
		c.rec = append(c.rec, b[:min(len(b), room)]...)
	}
}

func (c *probeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	sw := c.swallow
	c.swallow = nil
	c.mu.Unlock()
	if sw != nil && bytes.Equal(p, sw) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// recorded returns a copy of the server bytes seen so far.
func (c *probeConn) recorded() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.rec)
}

// bannerRead is what readBanner observed.
type bannerRead struct {
	version   string   // the SSH- line, without CR LF
	preBanner []string // lines before it
	consumed  []byte   // every byte read, for replay
	notSSH    bool     // the peer sent something that is not SSH
}

// readBanner reads lines until the SSH identification string. It stops early
// when the first bytes show another protocol.
func readBanner(conn net.Conn) (*bannerRead, error) {
	var rec bytes.Buffer
	br := bufio.NewReaderSize(&teeReader{r: conn, w: &rec}, 4096)
	out := &bannerRead{}
	for range maxPreBannerLines {
		line, err := readLine(br)
		if line != "" || err == nil {
			if strings.HasPrefix(line, "SSH-") {
				out.version = line
				// Replay everything read, including what bufio read past
				// the banner: x/crypto parses the version line itself.
				out.consumed = rec.Bytes()
				return out, nil
			}
			out.preBanner = append(out.preBanner, line)
			if looksLikeOtherProtocol(line) {
				out.notSSH = true
				out.consumed = rec.Bytes()
				return out, nil
			}
		}
		if err != nil {
			// Text lines and then a hang-up are a server's farewell (sshd
			// writes "Exceeded MaxStartups"), not another protocol.
			out.consumed = rec.Bytes()
			return out, err
		}
	}
	out.notSSH = true
	out.consumed = rec.Bytes()
	return out, nil
}

type teeReader struct {
	r net.Conn
	w *bytes.Buffer
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.Write(p[:n])
	return n, err
}

// errLineTooLong marks a "line" longer than any SSH banner may be: binary data.
var errLineTooLong = errors.New("line too long")

func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return string(b), err
		}
		if c == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, c)
		if len(b) > maxLineBytes {
			return printable(b), errLineTooLong
		}
	}
}

// looksLikeOtherProtocol recognises replies of common non-SSH services, or
// binary data (TLS alerts, RDP), which never appear before an SSH banner.
func looksLikeOtherProtocol(line string) bool {
	for _, p := range []string{"HTTP/", "220 ", "220-", "+OK", "* OK", "RFB ", "-ERR", "<html", "<!DOCTYPE"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	for _, r := range line {
		if r < 0x20 && r != '\t' {
			return true
		}
	}
	return false
}

func printable(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\x%02x", c)
		}
	}
	return s.String()
}

// KexInit is a decoded SSH_MSG_KEXINIT (RFC 4253 §7.1): the peer's offer.
type KexInit struct {
	Kex                   []string `json:"kex"`
	HostKey               []string `json:"hostkey"`
	CiphersClientToServer []string `json:"ciphers_client_to_server"`
	CiphersServerToClient []string `json:"ciphers_server_to_client"`
	MACsClientToServer    []string `json:"macs_client_to_server"`
	MACsServerToClient    []string `json:"macs_server_to_client"`
	CompClientToServer    []string `json:"compression_client_to_server"`
	CompServerToClient    []string `json:"compression_server_to_client"`
}

const msgKexInit = 20

// parseServerKexInit finds the first binary packet after the identification
// line in stream and decodes it as KEXINIT.
func parseServerKexInit(stream []byte) (*KexInit, error) {
	for {
		i := bytes.IndexByte(stream, '\n')
		if i < 0 {
			return nil, errors.New("no identification line in the recorded stream")
		}
		line := stream[:i]
		stream = stream[i+1:]
		if bytes.HasPrefix(line, []byte("SSH-")) {
			break
		}
	}
	if len(stream) < 6 {
		return nil, errors.New("server sent no KEXINIT")
	}
	plen := binary.BigEndian.Uint32(stream)
	if plen > 35000 || int(plen)+4 > len(stream) {
		return nil, fmt.Errorf("incomplete or oversized first packet (%d bytes)", plen)
	}
	pad := int(stream[4])
	if pad+1 > int(plen) {
		return nil, errors.New("malformed first packet")
	}
	payload := stream[5 : 4+int(plen)-pad]
	switch {
	case len(payload) == 0:
		return nil, errors.New("first packet is empty, not KEXINIT")
	case payload[0] != msgKexInit:
		return nil, fmt.Errorf("first packet is message %d, not KEXINIT", payload[0])
	case len(payload) < 17:
		return nil, errors.New("truncated KEXINIT")
	}
	rest := payload[17:]
	lists := make([][]string, 10)
	for i := range lists {
		if len(rest) < 4 {
			return nil, errors.New("truncated KEXINIT")
		}
		n := binary.BigEndian.Uint32(rest)
		if int(n)+4 > len(rest) {
			return nil, errors.New("truncated KEXINIT name-list")
		}
		if n > 0 {
			lists[i] = strings.Split(string(rest[4:4+n]), ",")
		}
		rest = rest[4+n:]
	}
	return &KexInit{
		Kex: lists[0], HostKey: lists[1],
		CiphersClientToServer: lists[2], CiphersServerToClient: lists[3],
		MACsClientToServer: lists[4], MACsServerToClient: lists[5],
		CompClientToServer: lists[6], CompServerToClient: lists[7],
	}, nil
}
