package guest

import (
	"net/netip"
	"strings"
)

// TCP wrappers (hosts_access(5)), for an sshd linked with libwrap (Debian
// and Ubuntu patch it in; RHEL 8+ and upstream do not): the first
// hosts.allow line matching sshd and the client grants, else the first
// hosts.deny line denies, else access is granted. A line's options may say
// `allow` or `deny` itself (hosts_options(5)).

// tcpdLines keeps the lines of a hosts.allow/hosts.deny file (numbered
// "N:text" when numbered) whose daemon list names sshd or ALL.
func tcpdLines(file string, lines []string, numbered bool) []Origin {
	var out []Origin
	for i, l := range lines {
		n, text := i+1, l
		if numbered {
			num, t, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			var err error
			if n, err = atoiStrict(num); err != nil {
				continue
			}
			text = t
		}
		t := strings.TrimSpace(text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		daemons, _, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		if accessListMatch(daemons, func(d string) (bool, bool) { return d == "sshd" || d == "ALL", true }) {
			out = append(out, Origin{File: file, Line: n, Text: text})
		}
	}
	return out
}

func atoiStrict(s string) (int, error) {
	n := 0
	if s == "" {
		return 0, errNotNumber
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errNotNumber
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

type notNumber struct{}

func (notNumber) Error() string { return "not a number" }

var errNotNumber error = notNumber{}

// tcpdDenies judges sshd's TCP wrappers for a client at from (invalid:
// unknown): the line that refuses it, or nil; known is false when the
// verdict needs what cannot be judged here (host names, KNOWN, an
// unknown address).
func tcpdDenies(allow, deny []Origin, from netip.Addr) (*Origin, bool) {
	decide := func(lines []Origin, grant bool) (*Origin, bool, bool) {
		for i, l := range lines {
			fields := strings.Split(l.Text, ":")
			if len(fields) < 2 {
				continue
			}
			switch tcpdClientMatch(fields[1], from) {
			case matchUnknown:
				return nil, false, true
			case matchNo:
				continue
			}
			g := grant
			for _, opt := range fields[2:] {
				switch strings.TrimSpace(opt) {
				case "allow", "ALLOW":
					g = true
				case "deny", "DENY":
					g = false
				}
			}
			if g {
				return nil, true, true
			}
			return &lines[i], true, true
		}
		return nil, true, false
	}
	if r, known, decided := decide(allow, true); !known || decided {
		return r, known
	}
	r, known, _ := decide(deny, false)
	return r, known
}

// tcpdClientMatch matches a client list against the client's address.
func tcpdClientMatch(list string, from netip.Addr) tri {
	unknown := false
	m := accessListMatch(list, func(tok string) (bool, bool) {
		switch {
		case tok == "ALL":
			return true, true
		case tok == "LOCAL": // a host name without a dot: not an address
			return false, true
		case !from.IsValid() || tok == "KNOWN" || tok == "UNKNOWN" || tok == "PARANOID" || strings.Contains(tok, "@"):
			unknown = true
			return false, false
		case strings.HasSuffix(tok, "."):
			return strings.HasPrefix(from.Unmap().String(), tok), true
		case strings.Contains(tok, "/"):
			netw, mask, _ := strings.Cut(strings.Trim(tok, "[]"), "/")
			if p, err := netip.ParsePrefix(netw + "/" + mask); err == nil {
				return p.Contains(from.Unmap()), true
			}
			n, err1 := netip.ParseAddr(netw)
			m, err2 := netip.ParseAddr(mask)
			if err1 != nil || err2 != nil || !n.Is4() || !m.Is4() || !from.Unmap().Is4() {
				unknown = true
				return false, false
			}
			a, nb, mb := from.Unmap().As4(), n.As4(), m.As4()
			for i := range a {
				if a[i]&mb[i] != nb[i]&mb[i] {
					return false, true
				}
			}
			return true, true
		}
		if a, err := netip.ParseAddr(strings.Trim(tok, "[]")); err == nil {
			return a.Unmap() == from.Unmap(), true
		}
		unknown = true // a host or domain name: libwrap resolves it
		return false, false
	})
	return triOf(m, unknown)
}
