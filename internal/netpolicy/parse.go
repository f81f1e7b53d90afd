package netpolicy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// AzureLoadBalancer is the one address the AzureLoadBalancer service tag
// stands for: the host's virtual IP, source of load-balancer health probes.
var AzureLoadBalancer = netip.MustParsePrefix("168.63.129.16/32")

// proto is a parsed protocol. protoAny only occurs in rules; protoOther
// only in flows (a protocol no rule can name, matched by "*" rules only).
type proto uint8

const (
	protoAny proto = iota
	protoTcp
	protoUdp
	protoIcmp
	protoEsp
	protoAh
	protoOther
	nProto
)

// portless reports whether ports do not apply to p: a rule's port ranges
// are ignored for such flows, as Azure does for ICMP, ESP and AH.
func (p proto) portless() bool { return p == protoIcmp || p == protoEsp || p == protoAh }

// parseProto accepts Azure's protocol names case-insensitively.
func parseProto(s string) (proto, bool) {
	switch {
	case s == "*":
		return protoAny, true
	case strings.EqualFold(s, "Tcp"):
		return protoTcp, true
	case strings.EqualFold(s, "Udp"):
		return protoUdp, true
	case strings.EqualFold(s, "Icmp"):
		return protoIcmp, true
	case strings.EqualFold(s, "Esp"):
		return protoEsp, true
	case strings.EqualFold(s, "Ah"):
		return protoAh, true
	}
	return protoOther, false
}

// addrSpec is one side (source or destination) of a rule, service tags
// kept symbolic so that evaluation and nftables rendering expand them the
// same way. asg holds application security group IDs (see IsASG).
type addrSpec struct {
	any, vnet, lb, internet bool
	pfx                     []netip.Prefix
	asg                     []string
}

// portRange is an inclusive range; int32 so a flow's out-of-range port
// compares without overflow tricks.
type portRange struct{ lo, hi int32 }

type portSpec struct {
	any bool
	r   []portRange
}

// rule is a validated SecurityRule.
type rule struct {
	name     string // "securityRules/X" or "defaultSecurityRules/X"
	priority int
	dir      cloud.Direction
	allow    bool
	proto    proto
	src, dst addrSpec
	sp, dp   portSpec
}

func parseAddrs(list []string) (addrSpec, error) {
	var a addrSpec
	if len(list) == 0 {
		return a, fmt.Errorf("empty list")
	}
	for _, s := range list {
		s = strings.TrimSpace(s)
		switch {
		case s == "*":
			a.any = true
		case strings.EqualFold(s, "VirtualNetwork"):
			a.vnet = true
		case strings.EqualFold(s, "AzureLoadBalancer"):
			a.lb = true
		case strings.EqualFold(s, "Internet"):
			a.internet = true
		case IsASG(s):
			a.asg = append(a.asg, s)
		default:
			p, err := parsePrefix(s)
			if err != nil {
				return a, err
			}
			a.pfx = append(a.pfx, p)
		}
	}
	return a, nil
}

// parsePrefix accepts a CIDR or a single address. A CIDR with host bits
// set is masked rather than refused: what it means is unambiguous.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("bad address prefix %q", s)
		}
		if p.Addr().Is4In6() {
			return p, fmt.Errorf("bad address prefix %q (IPv4-mapped)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad address prefix %q (not a CIDR, address, \"*\" or supported service tag)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePorts(list []string) (portSpec, error) {
	var ps portSpec
	if len(list) == 0 {
		return ps, fmt.Errorf("empty port list")
	}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "*" {
			ps.any = true
			continue
		}
		lo, hi, isRange := strings.Cut(s, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 0 || h > 65535 || l > h {
			return ps, fmt.Errorf("bad port range %q", s)
		}
		ps.r = append(ps.r, portRange{int32(l), int32(h)})
	}
	ps.r = mergePorts(ps.r)
	return ps, nil
}

// mergePorts sorts ranges and joins overlapping or adjacent ones: nft
// refuses overlapping intervals in a set, and fewer ranges match faster.
func mergePorts(r []portRange) []portRange {
	slices.SortFunc(r, func(a, b portRange) int { return cmp.Compare(a.lo, b.lo) })
	out := r[:0]
	for _, x := range r {
		if n := len(out); n > 0 && x.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

// mergePrefixes sorts prefixes and drops those inside another one, for the
// same reason as mergePorts.
func mergePrefixes(in []netip.Prefix) []netip.Prefix {
	p := slices.Clone(in)
	slices.SortFunc(p, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	out := p[:0]
	for _, x := range p {
		// Kept prefixes are disjoint and sorted, so only the last one can
		// contain x.
		if n := len(out); n > 0 && out[n-1].Contains(x.Addr()) && out[n-1].Bits() <= x.Bits() {
			continue
		}
		out = append(out, x)
	}
	return out
}

// parseRule validates r. User rules must carry an Azure user priority
// (100-4096); defaults keep theirs.
func parseRule(r cloud.SecurityRule, isDefault bool) (rule, error) {
	out := rule{name: "securityRules/" + r.Name, priority: r.Priority, dir: r.Direction}
	if isDefault {
		out.name = "defaultSecurityRules/" + r.Name
	}
	fail := func(format string, args ...any) (rule, error) {
		return rule{}, fmt.Errorf("rule %q: %s", r.Name, fmt.Sprintf(format, args...))
	}
	if r.Name == "" {
		return fail("empty name")
	}
	if !isDefault && (r.Priority < 100 || r.Priority > 4096) {
		return fail("priority %d outside 100-4096", r.Priority)
	}
	if r.Direction != cloud.Inbound && r.Direction != cloud.Outbound {
		return fail("bad direction %q", r.Direction)
	}
	switch r.Access {
	case cloud.Allow:
		out.allow = true
	case cloud.Deny:
	default:
		return fail("bad access %q", r.Access)
	}
	var ok bool
	if out.proto, ok = parseProto(r.Protocol); !ok {
		return fail("bad protocol %q (want Tcp, Udp, Icmp, Esp, Ah or *)", r.Protocol)
	}
	var err error
	if out.src, err = parseAddrs(r.SourceAddressPrefixes); err != nil {
		return fail("source: %v", err)
	}
	if out.dst, err = parseAddrs(r.DestinationAddressPrefixes); err != nil {
		return fail("destination: %v", err)
	}
	if out.sp, err = parsePorts(r.SourcePortRanges); err != nil {
		return fail("source ports: %v", err)
	}
	if out.dp, err = parsePorts(r.DestinationPortRanges); err != nil {
		return fail("destination ports: %v", err)
	}
	return out, nil
}

// parseNSG returns the rules of nsg for direction dir (user rules, then
// defaults) sorted by priority. Rules marked Default in nsg.Rules are
// skipped: DefaultRules() are always appended, and a provider that lists
// them too must not make them count twice.
func parseNSG(nsg *cloud.NSG, dir cloud.Direction) ([]rule, []unknownRule, error) {
	var out []rule
	var unknown []unknownRule
	seen := map[int]string{}
	for _, r := range nsg.Rules {
		if r.Default {
			continue
		}
		if r.Unevaluable != "" {
			if r.Direction != dir {
				continue
			}
			if other, dup := seen[r.Priority]; dup {
				return nil, nil, fmt.Errorf("netpolicy: nsg %q: rules %q and %q share %s priority %d", nsg.Name, other, r.Name, dir, r.Priority)
			}
			seen[r.Priority] = r.Name
			unknown = append(unknown, newUnknownRule(r))
			continue
		}
		pr, err := parseRule(r, false)
		if err != nil {
			return nil, nil, fmt.Errorf("netpolicy: nsg %q: %w", nsg.Name, err)
		}
		if pr.dir != dir {
			continue
		}
		// Azure refuses two rules of one direction at one priority; with
		// both present "first match" would be ill-defined.
		if other, dup := seen[pr.priority]; dup {
			return nil, nil, fmt.Errorf("netpolicy: nsg %q: rules %q and %q share %s priority %d", nsg.Name, other, r.Name, dir, pr.priority)
		}
		seen[pr.priority] = r.Name
		out = append(out, pr)
	}
	for _, r := range cloud.DefaultRules() {
		if r.Direction != dir {
			continue
		}
		pr, err := parseRule(r, true)
		if err != nil {
			return nil, nil, fmt.Errorf("netpolicy: default: %w", err)
		}
		out = append(out, pr)
	}
	slices.SortStableFunc(out, func(a, b rule) int { return cmp.Compare(a.priority, b.priority) })
	return out, unknown, nil
}

// unknownRule is a rule whose match cannot be decided
// (SecurityRule.Unevaluable). What of it does parse — protocol,
// destination ports — narrows the flows it could match.
type unknownRule struct {
	name     string
	priority int
	access   cloud.Access
	reason   string
	proto    proto
	anyProto bool // the protocol did not parse: it could be any
	dp       portMatch
}

func newUnknownRule(r cloud.SecurityRule) unknownRule {
	u := unknownRule{name: "securityRules/" + r.Name, priority: r.Priority, access: r.Access, reason: r.Unevaluable, dp: portMatch{any: true}}
	var ok bool
	if u.proto, ok = parseProto(r.Protocol); !ok {
		u.anyProto = true
	}
	if ps, err := parsePorts(r.DestinationPortRanges); err == nil {
		u.dp = portMatch(ps)
	}
	return u
}

// couldMatch: nothing that parsed rules f out.
func (u *unknownRule) couldMatch(f *fctx) bool {
	if !u.anyProto && u.proto != protoAny && u.proto != f.proto {
		return false
	}
	return f.proto.portless() || u.dp.match(f.dp)
}

func parseVNet(vnet []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(vnet))
	for _, s := range vnet {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("netpolicy: vnet prefixes: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
