package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

var tableName = lazyRE(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// NFTInbound renders the inbound rules of nsg (user rules, then Azure's
// defaults) as a ruleset for `nft -f -`. The text starts with
// "table inet T {}" and "delete table inet T" so that applying it replaces
// any previous version in one transaction: there is no moment without
// filtering, and re-applying is idempotent.
//
// The table has one chain on hook ("input" for a NIC NSG inside the VM's
// namespace, "forward" for a subnet NSG in a router namespace), priority 0,
// policy accept. It accepts established and related packets first (NSGs
// are stateful), loopback on the input hook, and IPv6 neighbour discovery
// (Azure's fabric answers it outside the NSG; dropping it would break IPv6
// before any rule could be observed). When scope (a CIDR) is set, only
// packets to scope are filtered and others accepted, which is how a
// router applies a subnet's NSG.
//
// Then come the NSG rules in priority order, each rendered as one or more
// nft rules ending in accept (Allow) or drop (Deny: Azure drops silently,
// so clients time out), with a counter and comment "securityRules/X".
// Service tags expand with vnet: VirtualNetwork to the vnet prefixes,
// AzureLoadBalancer to 168.63.129.16, Internet to "not in vnet nor
// 168.63.129.16". Application security groups have no members in the
// lab, so they match no address. A nil nsg filters nothing, as in Azure.
func NFTInbound(table, hook string, nsg *cloud.NSG, vnet []string, scope string) (string, error) {
	if !tableName().MatchString(table) {
		return "", fmt.Errorf("netpolicy: bad nft table name %q", table)
	}
	if hook != "input" && hook != "forward" {
		return "", fmt.Errorf("netpolicy: nft hook %q: want input or forward", hook)
	}
	vp, err := parseVNet(vnet)
	if err != nil {
		return "", err
	}
	var rules []rule
	if nsg != nil {
		if rules, _, err = parseNSG(nsg, cloud.Inbound); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n\tchain nsg {\n", table, table, table)
	fmt.Fprintf(&b, "\t\ttype filter hook %s priority 0; policy accept;\n", hook)
	b.WriteString("\t\tct state established,related accept\n")
	if hook == "input" {
		b.WriteString("\t\tiifname \"lo\" accept\n")
	}
	b.WriteString("\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept\n")
	if scope != "" {
		sp, err := parsePrefix(strings.TrimSpace(scope))
		if err != nil {
			return "", fmt.Errorf("netpolicy: scope: %w", err)
		}
		fam, other := "ip", "ipv6"
		if sp.Addr().Is6() {
			fam, other = "ip6", "ipv4"
		}
		fmt.Fprintf(&b, "\t\tmeta nfproto %s accept\n\t\t%s daddr != %s accept\n", other, fam, elem(sp))
	}
	if nsg != nil {
		r := nftRenderer{vnet: mergePrefixes(vp)}
		for _, ru := range rules {
			r.rule(&b, ru)
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}

// NFTDelete returns the text that deletes table inet table if it exists
// (declaring it first makes the delete succeed when it does not).
func NFTDelete(table string) string {
	return fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", table, table)
}

type nftRenderer struct{ vnet []netip.Prefix }

// alt is one alternative match for an address side: a family (0 any, 4,
// 6) and an nft expression. A side that lists several kinds of address
// (say a tag and a CIDR, or IPv4 and IPv6) becomes several alternatives,
// rendered as consecutive nft rules with the same verdict.
type alt struct {
	fam  int
	expr string
}

func (r nftRenderer) addrAlts(a addrSpec, dir string) []alt {
	if a.any {
		return []alt{{}}
	}
	pos := append([]netip.Prefix(nil), a.pfx...)
	if a.vnet {
		pos = append(pos, r.vnet...)
	}
	if a.lb {
		pos = append(pos, AzureLoadBalancer)
	}
	var alts []alt
	v4, v6 := split(mergePrefixes(pos))
	if len(v4) > 0 {
		alts = append(alts, alt{4, "ip " + dir + " " + set(v4)})
	}
	if len(v6) > 0 {
		alts = append(alts, alt{6, "ip6 " + dir + " " + set(v6)})
	}
	if a.internet {
		n4, n6 := split(mergePrefixes(append(append(pos[:0:0], r.vnet...), AzureLoadBalancer)))
		alts = append(alts, alt{4, "ip " + dir + " != " + set(n4)})
		if len(n6) == 0 {
			alts = append(alts, alt{6, "meta nfproto ipv6"})
		} else {
			alts = append(alts, alt{6, "ip6 " + dir + " != " + set(n6)})
		}
	}
	return alts
}

// protoAlts renders protocol and ports. Icmp, Esp and Ah ignore ports, as
// in Azure; "*" with ports matches TCP and UDP on those ports, and the
// portless protocols.
func protoAlts(ru rule) []string {
	ports := func(l4 string) string {
		var parts []string
		if !ru.sp.any {
			parts = append(parts, l4+" sport "+portSet(ru.sp.r))
		}
		if !ru.dp.any {
			parts = append(parts, l4+" dport "+portSet(ru.dp.r))
		}
		return strings.Join(parts, " ")
	}
	const icmp = "meta l4proto { icmp, ipv6-icmp }"
	const portless = "meta l4proto { icmp, ipv6-icmp, esp, ah }"
	switch ru.proto {
	case protoTcp, protoUdp:
		l4 := map[proto]string{protoTcp: "tcp", protoUdp: "udp"}[ru.proto]
		if p := ports(l4); p != "" {
			return []string{p}
		}
		return []string{"meta l4proto " + l4}
	case protoIcmp:
		return []string{icmp}
	case protoEsp:
		return []string{"meta l4proto esp"}
	case protoAh:
		return []string{"meta l4proto ah"}
	}
	if p := ports("th"); p != "" {
		return []string{"meta l4proto { tcp, udp } " + p, portless}
	}
	return []string{""}
}

func (r nftRenderer) rule(b *strings.Builder, ru rule) {
	verdict := "drop"
	if ru.allow {
		verdict = "accept"
	}
	comment := fmt.Sprintf("comment %q", sanitize(ru.name))
	n := 0
	for _, s := range r.addrAlts(ru.src, "saddr") {
		for _, d := range r.addrAlts(ru.dst, "daddr") {
			if s.fam != 0 && d.fam != 0 && s.fam != d.fam {
				continue // IPv4 source with IPv6 destination: never matches
			}
			for _, p := range protoAlts(ru) {
				var parts []string
				for _, x := range []string{s.expr, d.expr, p, "counter", verdict, comment} {
					if x != "" {
						parts = append(parts, x)
					}
				}
				b.WriteString("\t\t" + strings.Join(parts, " ") + "\n")
				n++
			}
		}
	}
	if n == 0 {
		fmt.Fprintf(b, "\t\t# %s matches no address here\n", sanitize(ru.name))
	}
}

func split(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

func elem(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func set(ps []netip.Prefix) string {
	e := make([]string, len(ps))
	for i, p := range ps {
		e[i] = elem(p)
	}
	return braces(e)
}

func portSet(rs []portRange) string {
	e := make([]string, len(rs))
	for i, r := range rs {
		if r.lo == r.hi {
			e[i] = fmt.Sprint(r.lo)
		} else {
			e[i] = fmt.Sprintf("%d-%d", r.lo, r.hi)
		}
	}
	return braces(e)
}

func braces(e []string) string {
	if len(e) == 1 {
		return e[0]
	}
	return "{ " + strings.Join(e, ", ") + " }"
}

// sanitize keeps a rule name safe inside an nft quoted comment (at most
// 128 bytes): Azure names are letters, digits, '.', '_' and '-' anyway.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
