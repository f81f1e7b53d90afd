package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// Verbose writes what each layer sent and received, as `ssh -v` shows it
// (level 1), with the full algorithm lists and the session's output at
// level 2 and more. It reads the report: the same facts the JSON holds,
// in the order they happened.
func Verbose(w io.Writer, r *probe.Report, level int) error {
	if level <= 0 {
		return nil
	}
	var b strings.Builder
	p := func(layer, format string, a ...any) {
		fmt.Fprintf(&b, "debug%d: %-8s %s\n", min(level, 3), layer, fmt.Sprintf(format, a...))
	}
	list := func(l []string) string {
		if level < 2 && len(l) > 4 {
			return strings.Join(l[:4], ",") + fmt.Sprintf(",… (%d; -vv for all)", len(l))
		}
		return strings.Join(l, ",")
	}
	t := r.Target
	p("config", "%s@%s port %d (from %s)", t.User, t.HostName, t.Port, t.ConfigSource)
	for _, id := range r.Identities {
		st := string(id.Result)
		if id.Problem != "" {
			st = id.Problem
		}
		name := id.Path
		if name == "" {
			name = id.Source
		}
		p("identity", "%s %s %s %s", name, id.Type, id.Fingerprint, orDash(st))
	}
	if x := r.Proxy; x != nil {
		p("proxy", "ran %q: exited=%v status %d %s", x.Command, x.Exited, x.ExitCode, strings.TrimSpace(x.Stderr))
	}
	if x := r.Jump; x != nil {
		p("jump", "via %s %s (%s)", x.Host, orDash(x.Error), dur(x.Duration))
	}
	if x := r.Resolve; x != nil {
		p("resolve", "%s → %s %s (%s)", t.HostName, strings.Join(x.Addresses, " "), x.Error, dur(x.Duration))
	}
	if x := r.TCP; x != nil {
		for _, a := range x.Attempts {
			p("tcp", "connect %s: %s %s (%s)", a.Address, a.Outcome, a.Error, dur(a.Duration))
		}
		if x.Connected != "" {
			p("tcp", "connected %s → %s", x.Local, x.Connected)
		}
	}
	if x := r.Banner; x != nil {
		for _, l := range x.PreBanner {
			p("banner", "recv before the identification: %q", l)
		}
		p("banner", "recv %q: %s %s (%s)", x.Version, x.Outcome, x.Error, dur(x.Duration))
	}
	if x := r.Kex; x != nil {
		p("kex", "send KEXINIT: kex %s; hostkey %s; ciphers %s; macs %s", list(x.Engine.Kex), list(x.Engine.HostKey), list(x.Engine.Ciphers), list(x.Engine.MACs))
		if s := x.Server; s != nil {
			p("kex", "recv KEXINIT: kex %s; hostkey %s; ciphers %s; macs %s", list(s.Kex), list(s.HostKey), list(s.CiphersServerToClient), list(s.MACsServerToClient))
		}
		if n := x.Negotiated; n != nil {
			p("kex", "agreed: %s, %s, %s %s (%s)", n.Kex, n.HostKey, n.Cipher, n.MAC, dur(x.Duration))
		} else if x.Error != "" {
			p("kex", "failed: %s (%s)", x.Error, dur(x.Duration))
		}
	}
	if x := r.HostKey; x != nil {
		p("hostkey", "recv %s %s; looked up as %s in %s: %s %s", x.Type, x.Fingerprint, x.LookupName, strings.Join(x.Files, " "), x.Verdict, x.Error)
	}
	if x := r.Auth; x != nil {
		p("auth", "send none: allowed %s", strings.Join(x.AllowedMethods, ","))
		for _, id := range r.Identities {
			if id.Result != "" && id.Result != probe.KeyNotTried {
				p("auth", "send publickey %s %s: %s", id.Type, id.Fingerprint, id.Result)
			}
		}
		if x.Password != "" {
			p("auth", "send password: %s", x.Password)
		}
		if x.Banner != "" {
			p("auth", "recv banner %q", strings.TrimSpace(x.Banner))
		}
		p("auth", "%s %s %s (%s)", x.Outcome, x.Method, orDash(x.Error), dur(x.Duration))
	}
	if x := r.Session; x != nil {
		status := "no exit status"
		if x.ExitStatus != nil {
			status = fmt.Sprintf("exit status %d", *x.ExitStatus)
		}
		p("session", "exec %q: opened=%v %s %s (%s)", x.Command, x.Opened, status, x.Error, dur(x.Duration))
		if level >= 2 {
			for _, l := range strings.Split(strings.TrimSpace(x.Stdout+x.Stderr), "\n") {
				if l != "" {
					p("session", "recv %q", l)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dur(d probe.Duration) string { return fmtDuration(time.Duration(d)) }
