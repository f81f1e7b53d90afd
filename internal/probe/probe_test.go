package probe

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// dnsServer answers every query on a loopback UDP port with rcode, so name
// resolution is tested without touching any real resolver.
func dnsServer(t *testing.T, rcode byte) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			resp := append([]byte(nil), buf[:n]...)
			resp[2] = 0x81 | (buf[2] & 0x01) // QR, RD copied
			resp[3] = 0x80 | rcode           // RA, rcode
			binary.BigEndian.PutUint16(resp[6:], 0)
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			pc.WriteTo(resp, addr)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func settings(host string, port int) *sshconfig.Settings {
	return &sshconfig.Settings{HostName: host, Port: port, User: "root", StrictHostKeyChecking: "ask", Source: "test"}
}

func TestResolveNoSuchHost(t *testing.T) {
	r := Run(context.Background(), Options{Settings: settings("vm.example.invalid", 22), Resolver: dnsServer(t, 3), Timeout: 2 * time.Second})
	if r.Resolve == nil || !r.Resolve.NotFound || r.TCP != nil {
		t.Fatalf("resolve %+v tcp %+v: want NotFound and no TCP attempt", r.Resolve, r.TCP)
	}
}

func TestResolveServerFailure(t *testing.T) {
	r := Run(context.Background(), Options{Settings: settings("vm.example.test", 22), Resolver: dnsServer(t, 2), Timeout: 2 * time.Second})
	if r.Resolve == nil || r.Resolve.NotFound || r.Resolve.Error == "" {
		t.Fatalf("resolve %+v: want an error that is not NXDOMAIN", r.Resolve)
	}
}

// kexInitPacket builds a server KEXINIT packet as it appears on the wire.
func kexInitPacket(lists [10]string) []byte {
	payload := []byte{msgKexInit}
	payload = append(payload, make([]byte, 16)...)
	for _, l := range lists {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0)
	pad := 8 - (len(payload)+5)%8
	if pad < 4 {
		pad += 8
	}
	pkt := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	pkt = append(pkt, byte(pad))
	pkt = append(pkt, payload...)
	return append(pkt, make([]byte, pad)...)
}

func TestParseServerKexInit(t *testing.T) {
	lists := [10]string{"curve25519-sha256,ext-info-s", "ssh-ed25519,rsa-sha2-512", "aes128-ctr", "aes256-ctr",
		"hmac-sha2-256", "hmac-sha1", "none", "none,zlib@openssh.com", "", ""}
	stream := append([]byte("a greeting line\r\nSSH-2.0-OpenSSH_9.2\r\n"), kexInitPacket(lists)...)
	k, err := parseServerKexInit(stream)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.Kex, ",") != lists[0] || strings.Join(k.HostKey, ",") != lists[1] ||
		k.CiphersServerToClient[0] != "aes256-ctr" || k.MACsServerToClient[0] != "hmac-sha1" ||
		len(k.CompServerToClient) != 2 {
		t.Fatalf("decoded %+v", k)
	}
	for cut := 0; cut < len(stream)-1; cut += 7 {
		if _, err := parseServerKexInit(stream[:cut]); err == nil {
			t.Fatalf("truncated stream of %d bytes decoded without error", cut)
		}
	}
}

func FuzzParseServerKexInit(f *testing.F) {
	f.Add(append([]byte("SSH-2.0-x\r\n"), kexInitPacket([10]string{"a", "b", "c", "d", "e", "f", "none", "none"})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseServerKexInit(b) // must not panic
	})
}

func TestReadBanner(t *testing.T) {
	cases := []struct {
		name, send string
		notSSH     bool
		version    string
		pre        int
	}{
		{"plain", "SSH-2.0-OpenSSH_9.6\r\n", false, "SSH-2.0-OpenSSH_9.6", 0},
		{"lf only", "SSH-2.0-dropbear\n", false, "SSH-2.0-dropbear", 0},
		{"pre-banner lines", "Welcome\r\nAuthorized use only\r\nSSH-2.0-X\r\n", false, "SSH-2.0-X", 2},
		{"http", "HTTP/1.1 400 Bad Request\r\n\r\n", true, "", 1},
		{"smtp", "220 mail.example ESMTP\r\n", true, "", 1},
		{"binary", "\x15\x03\x01\x00\x02\x02\x46\n", true, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			go func() { b.Write([]byte(c.send)); b.Close() }()
			got, err := readBanner(a)
			if got.notSSH != c.notSSH || got.version != c.version || len(got.preBanner) != c.pre {
				t.Fatalf("got %+v err %v", got, err)
			}
			if !c.notSSH && string(got.consumed) != c.send {
				t.Fatalf("consumed %q, want every byte read (%q) kept for replay", got.consumed, c.send)
			}
		})
	}
}
