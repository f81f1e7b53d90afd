package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// DefaultPhaseTimeout bounds each phase (connect, banner, kex, auth,
// session). Ten seconds outlasts a slow cross-continent handshake several
// times over while keeping a filtered port's verdict quick enough to wait for.
const DefaultPhaseTimeout = 10 * time.Second

// Options configure one check.
type Options struct {
	Input    string              // the target as typed, for the report
	Settings *sshconfig.Settings // effective client settings
	// Explicit marks identity files named by -i (a missing one is reported).
	Explicit []string
	// Password is sent only when set and the host key verified.
	Password *string
	// Exec is the command for the session layer; "" runs `true`, as
	// `ssh host true` does, unless NoSession.
	Exec string
	// NoSession stops after authentication, with no session (faster;
	// a server that accepts the key but refuses sessions goes unseen).
	NoSession   bool
	NoAuth      bool          // stop after learning the allowed methods
	Timeout     time.Duration // per phase; 0 = DefaultPhaseTimeout
	AgentSocket string        // "" = none
	// Dial replaces net.Dialer (ProxyJump uses it); nil = direct TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Resolver replaces net.DefaultResolver.
	Resolver *net.Resolver
	// Progress, when set, is told each layer as it starts and what it
	// waits for (a terminal shows it while the check runs).
	Progress func(layer, detail string)
}

func (o Options) step(layer, detail string) {
	if o.Progress != nil {
		o.Progress(layer, detail)
	}
}

// Run checks the target and returns what it saw. It never returns nil; an
// error is returned only for internal failures, not for diagnosed problems.
func Run(ctx context.Context, o Options) *Report {
	s := o.Settings
	if o.Timeout <= 0 {
		o.Timeout = DefaultPhaseTimeout
	}
	r := &Report{Target: Target{
		Input: o.Input, HostName: s.HostName, Port: s.Port, User: s.User,
		ProxyJump: s.ProxyJump, ProxyCommand: s.ProxyCommand, ConfigSource: s.Source,
	}}
	ids, signers := loadIdentities(o)
	r.Identities = ids

	var conn net.Conn
	var proxy *cmdConn
	if s.ProxyJump == "" && s.ProxyCommand != "" {
		proxy = dialViaCommand(ctx, o, r)
		if proxy == nil {
			return r
		}
		conn = proxy
	} else if s.ProxyJump != "" {
		var closeJump func()
		conn, closeJump = dialViaJump(ctx, o, r)
		if closeJump != nil {
			defer closeJump()
		}
	} else {
		o.step("resolve", "looking up "+s.HostName)
		addrs := resolve(ctx, o, r)
		if len(addrs) == 0 {
			return r
		}
		conn = dialTCP(ctx, o, r, addrs)
	}
	if conn == nil {
		return r
	}
	defer conn.Close()
	handshake(ctx, o, r, conn, signers)
	if proxy != nil {
		proxy.finish(r.Proxy)
	}
	return r
}

func since(t time.Time) Duration { return Duration(time.Since(t)) }

func resolve(ctx context.Context, o Options, r *Report) []string {
	start := time.Now()
	res := &ResolveResult{}
	r.Resolve = res
	host := o.Settings.HostName
	family := o.Settings.AddressFamily
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		res.Literal = true
		res.Addresses = []string{ip.String()}
		res.Duration = since(start)
		if !familyOK(ip, family) {
			res.Error = fmt.Sprintf("AddressFamily %s (-4/-6) excludes the address %s", family, ip)
			return nil
		}
		return res.Addresses
	}
	resolver := o.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ips, err := resolver.LookupIPAddr(lctx, host)
	res.Duration = since(start)
	if err != nil {
		res.Error = err.Error()
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			res.NotFound = true
		}
		return nil
	}
	var other []string
	for _, ip := range ips {
		if familyOK(ip.IP, family) {
			res.Addresses = append(res.Addresses, ip.IP.String())
		} else {
			other = append(other, ip.IP.String())
		}
	}
	if len(res.Addresses) == 0 && len(other) > 0 {
		res.Error = fmt.Sprintf("%s has only %s, which AddressFamily %s (-4/-6) excludes", host, strings.Join(other, ", "), family)
		return nil
	}
	return res.Addresses
}

// familyOK: ip is of the address family ssh's AddressFamily allows.
func familyOK(ip net.IP, family string) bool {
	switch family {
	case "inet":
		return ip.To4() != nil
	case "inet6":
		return ip.To4() == nil
	}
	return true
}

func dialTCP(ctx context.Context, o Options, r *Report, addrs []string) net.Conn {
	res := &TCPResult{}
	r.TCP = res
	o.step("tcp", "connecting to "+strings.Join(addrs, ", "))
	timeout := o.Timeout
	if ct := o.Settings.ConnectTimeout; ct > 0 {
		timeout = ct
	}
	// ConnectionAttempts: ssh tries every address again, a second apart.
	tries := max(o.Settings.ConnectionAttempts, 1)
	for try := range tries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
		if conn := dialAll(ctx, o, res, addrs, timeout); conn != nil {
			return conn
		}
	}
	return nil
}

// dialAll tries each address once, in order.
func dialAll(ctx context.Context, o Options, res *TCPResult, addrs []string, timeout time.Duration) net.Conn {
	for _, a := range addrs {
		hp := net.JoinHostPort(a, strconv.Itoa(o.Settings.Port))
		start := time.Now()
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", hp)
		att := TCPAttempt{Address: hp, Duration: since(start)}
		if err == nil {
			att.Outcome = TCPConnected
			res.Attempts = append(res.Attempts, att)
			res.Connected = conn.RemoteAddr().String()
			res.Local = conn.LocalAddr().String()
			return conn
		}
		att.Outcome, att.Error = classifyDialError(err), err.Error()
		res.Attempts = append(res.Attempts, att)
	}
	return nil
}

// classifyDialError maps a connect error to what happened on the wire.
func classifyDialError(err error) TCPOutcome {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return TCPRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return TCPUnreachable
	case errors.Is(err, syscall.ECONNRESET):
		return TCPReset
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return TCPTimeout
	}
	return TCPError
}

// phase tracks how far the handshake got, so an error can be attributed to
// the layer that was running when it happened.
type phase int

const (
	phaseKex phase = iota
	phaseHostKey
	phaseAuth
)

func handshake(ctx context.Context, o Options, r *Report, conn net.Conn, signers []keySigner) {
	s := o.Settings
	start := time.Now()
	o.step("banner", "waiting for the server's SSH identification")
	// Ctrl-C (a cancelled ctx) ends a phase that waits on the server.
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	b := &BannerResult{}
	r.Banner = b
	if _, err := conn.Write([]byte(clientVersion + "\r\n")); err != nil {
		b.Outcome, b.Error = classifyBannerError(err), err.Error()
		b.Duration = since(start)
		return
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	got, err := readBanner(conn)
	b.Duration = since(start)
	b.PreBanner = got.preBanner
	switch {
	case got.notSSH:
		b.Outcome = BannerNotSSH
		if len(b.PreBanner) == 0 && len(got.consumed) > 0 {
			b.PreBanner = []string{printable(got.consumed[:min(len(got.consumed), 120)])}
		}
		return
	case err != nil:
		b.Outcome, b.Error = classifyBannerError(err), err.Error()
		return
	}
	b.Outcome, b.Version = BannerOK, got.version
	b.Protocol, b.Software = splitVersion(got.version)
	if b.Protocol != "2.0" && b.Protocol != "1.99" {
		return
	}

	pc := &probeConn{Conn: conn, replay: got.consumed, swallow: []byte(clientVersion + "\r\n")}
	kx := &KexResult{Client: clientLists(s)}
	kx.Engine = engineLists(kx.Client)
	r.Kex = kx
	hk := &HostKeyResult{Strict: s.StrictHostKeyChecking}
	kexStart := time.Now()
	o.step("kex", "key exchange")
	ph := phaseKex

	// Offer the host-key algorithms of keys already in known_hosts first, as
	// OpenSSH does; otherwise a server with several host keys would present
	// one we have no record of and look "unknown" or "changed".
	kh := newKnownHosts(s)
	hostKeyAlgos := kh.preferAlgorithms(kx.Engine.HostKey)
	kx.Engine.HostKey = hostKeyAlgos

	drv := &authDriver{opts: o, keys: signers, ids: r.Identities, hostKey: hk}
	var authStart time.Time
	cfg := &ssh.ClientConfig{
		User:              s.User,
		ClientVersion:     clientVersion,
		HostKeyAlgorithms: hostKeyAlgos,
		Config: ssh.Config{
			KeyExchanges: kx.Engine.Kex,
			Ciphers:      kx.Engine.Ciphers,
			MACs:         kx.Engine.MACs,
		},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			kx.Duration = since(kexStart)
			kx.Completed = true
			ph = phaseHostKey
			hkStart := time.Now()
			err := kh.check(hk, key, remote)
			hk.Duration = since(hkStart)
			r.HostKey = hk
			if err != nil {
				return err
			}
			ph = phaseAuth
			o.step("auth", "authenticating as "+s.User)
			authStart = time.Now()
			_ = conn.SetDeadline(time.Now().Add(o.Timeout))
			return nil
		},
		BannerCallback: func(msg string) error {
			drv.banner = msg
			return nil
		},
		AuthCallback: func(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			if kx.Negotiated == nil {
				kx.Negotiated = fromAlgorithms(ctx.Algorithms)
			}
			return drv.next(ctx)
		},
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	c, chans, reqs, err := ssh.NewClientConn(pc, net.JoinHostPort(s.HostName, strconv.Itoa(s.Port)), cfg)
	if srv, perr := parseServerKexInit(pc.recorded()); perr == nil {
		kx.Server = srv
	}
	if err != nil {
		switch ph {
		case phaseKex:
			kx.Duration = since(kexStart)
			kx.Error = err.Error()
			kx.Timeout = isTimeout(err)
			kx.ServerClosed = isClosed(err)
		case phaseHostKey:
			// The host-key layer recorded its own verdict.
		case phaseAuth:
			r.Auth = drv.result(err, since(authStart))
		}
		return
	}
	defer c.Close()
	if kx.Negotiated == nil {
		kx.Negotiated = negotiated(c)
	}
	r.Auth = drv.result(nil, since(authStart))
	if o.NoSession && o.Exec == "" {
		return
	}
	client := ssh.NewClient(c, chans, reqs)
	o.step("session", "opening a session")
	r.Session = runSession(client, conn, o)
}

func negotiated(c ssh.Conn) *Negotiated {
	type algos interface {
		Algorithms() ssh.NegotiatedAlgorithms
	}
	a, ok := c.(algos)
	if !ok {
		return nil
	}
	return fromAlgorithms(a.Algorithms())
}

func fromAlgorithms(n ssh.NegotiatedAlgorithms) *Negotiated {
	return &Negotiated{Kex: n.KeyExchange, HostKey: n.HostKey, Cipher: n.Read.Cipher, MAC: n.Read.MAC}
}

func splitVersion(v string) (proto, software string) {
	rest := strings.TrimPrefix(v, "SSH-")
	proto, software, _ = strings.Cut(rest, "-")
	return proto, software
}

func classifyBannerError(err error) BannerOutcome {
	switch {
	case isTimeout(err):
		return BannerTimeout
	case errors.Is(err, syscall.ECONNRESET):
		return BannerReset
	case isClosed(err):
		return BannerClosed
	}
	return BannerError
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isClosed(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		err.Error() == "EOF" || strings.HasSuffix(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset by peer")
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// errorf keeps error text one line; some servers put newlines in messages.
func errorf(format string, a ...any) error {
	return errors.New(strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " "))
}
