package sshconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseTarget splits "[user@]host[:port]", "[user@][v6addr]:port", a bare
// IPv6 address and "ssh://[user@]host[:port]". A port of 0 means none was
// given. err is a *UsageError.
func ParseTarget(s string) (user, host string, port int, err error) {
	return parseHostSpec("target", s)
}

// ParseJump splits a ProxyJump value "[user@]host[:port]" (ssh:// URIs are
// accepted too). Of a comma-separated chain only the first hop is
// returned (the host the client dials directly), and moreHops says there
// are more; callers that follow the chain split it themselves. err is a
// *UsageError.
func ParseJump(s string) (user, host string, port int, moreHops bool, err error) {
	first, _, moreHops := strings.Cut(s, ",")
	user, host, port, err = parseHostSpec("jump host", first)
	return user, host, port, moreHops, err
}

func parseHostSpec(what, s string) (user, host string, port int, err error) {
	bad := func(why string) (string, string, int, error) {
		return "", "", 0, usagef("invalid %s %q: %s", what, s, why)
	}
	rest := s
	if r, ok := strings.CutPrefix(rest, "ssh://"); ok {
		rest = strings.TrimSuffix(r, "/")
		if strings.Contains(rest, "/") {
			return bad("an ssh:// URI must not have a path")
		}
	}
	// ssh splits at the last '@', so user names may themselves contain '@'.
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, rest = rest[:i], rest[i+1:]
		if user == "" {
			return bad("empty user name before '@'")
		}
	}
	portStr, hasPort := "", false
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return bad("missing ']'")
		}
		host = rest[1:end]
		if tail := rest[end+1:]; tail != "" {
			p, ok := strings.CutPrefix(tail, ":")
			if !ok {
				return bad("expected ':port' after ']'")
			}
			portStr, hasPort = p, true
		}
		if host == "" {
			return bad("empty host name")
		}
	case strings.Count(rest, ":") == 1:
		host, portStr, hasPort = strings.Cut(rest, ":")
	default:
		// No colon, or several: a bare IPv6 address, whose colons are not
		// a port separator (use [addr]:port for that).
		host = rest
	}
	switch {
	case host == "":
		return bad("empty host name")
	case strings.HasPrefix(host, "-"):
		return bad("host name must not start with '-'")
	case strings.ContainsAny(host, " \t\r\n"):
		return bad("host name must not contain spaces")
	}
	if hasPort {
		if port, err = parsePort(portStr); err != nil {
			return bad(err.Error())
		}
	}
	return user, host, port, nil
}

// parsePort accepts what ssh accepts for a numeric port.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}
