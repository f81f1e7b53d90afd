package sshconfig

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// canonicalLookupTimeout bounds each name tried.
const canonicalLookupTimeout = 5 * time.Second

// canonicalize applies CanonicalizeHostname for the built-in parser the
// way ssh does before it connects (ssh -G does it itself): a name with at most
// CanonicalizeMaxDots dots is tried with each CanonicalDomains suffix, and
// the first that resolves becomes HostName. It applies only without a
// proxy, unless the setting is "always"; never to an address. When no
// suffix resolves and CanonicalizeFallbackLocal is no, ssh gives up: so
// does this, with a UsageError naming the names tried.
//
// Unlike ssh, the configuration is not read a second time for the new
// name: Host blocks that match only the canonical name are not applied.
func canonicalize(ctx context.Context, s *Settings, lookup func(ctx context.Context, host string) ([]string, error)) error {
	switch {
	case s.CanonicalizeHostname != "yes" && s.CanonicalizeHostname != "always":
		return nil
	case s.CanonicalizeHostname == "yes" && (s.ProxyCommand != "" || s.ProxyJump != ""):
		return nil
	}
	host := s.HostName
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return nil
	}
	if strings.HasSuffix(host, ".") { // already fully qualified
		s.CanonicalFrom, s.HostName = host, strings.TrimSuffix(host, ".")
		return nil
	}
	if strings.Count(host, ".") > s.CanonicalizeMaxDots {
		return nil
	}
	var tried []string
	for _, d := range s.CanonicalDomains {
		full := host + "." + strings.Trim(d, ".")
		tried = append(tried, full)
		lctx, cancel := context.WithTimeout(ctx, canonicalLookupTimeout)
		addrs, err := lookup(lctx, full+".")
		cancel()
		if err == nil && len(addrs) > 0 {
			s.CanonicalFrom, s.HostName = host, strings.ToLower(full)
			return nil
		}
	}
	if !s.CanonicalizeFallbackLocal && len(tried) > 0 {
		return usagef("CanonicalizeHostname: %s resolves with none of CanonicalDomains (tried %s) and CanonicalizeFallbackLocal is no, so ssh gives up too", host, strings.Join(tried, ", "))
	}
	return nil
}

func defaultLookup(ctx context.Context, host string) ([]string, error) {
	return net.DefaultResolver.LookupHost(ctx, host)
}
