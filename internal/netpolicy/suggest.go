package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// SuggestAllow returns the narrowest rule that lets f through nsg: Allow,
// f's protocol, source f.Source as a /32 (/128), any source port,
// destination "*" and destination port f.DestinationPort ("*" for Icmp),
// named "Allow-SSH-from-<source with dots and colons as dashes>".
//
// Its priority must beat the deciding deny rule (denyPriority) and be a
// free user priority (100-4096, unused in f's direction). Preference, so
// that the result looks like what an operator would pick and leaves room
// around it: denyPriority-100, then the highest free multiple of 10 below
// denyPriority, then any free priority below it. Error when none is free.
func SuggestAllow(nsg *cloud.NSG, f Flow, denyPriority int) (cloud.SecurityRule, error) {
	if nsg == nil {
		return cloud.SecurityRule{}, fmt.Errorf("netpolicy: SuggestAllow: no NSG")
	}
	pr, ok := parseProto(f.Protocol)
	if !ok || pr == protoAny {
		return cloud.SecurityRule{}, fmt.Errorf("netpolicy: SuggestAllow: flow protocol %q is not Tcp, Udp, Icmp, Esp or Ah", f.Protocol)
	}
	src := f.Source.Unmap()
	if !src.IsValid() {
		return cloud.SecurityRule{}, fmt.Errorf("netpolicy: SuggestAllow: flow has no source address")
	}
	used := map[int]bool{}
	for _, r := range nsg.Rules {
		if r.Direction == f.Direction {
			used[r.Priority] = true
		}
	}
	free := func(p int) bool { return p >= 100 && p <= 4096 && p < denyPriority && !used[p] }
	prio := 0
	if free(denyPriority - 100) {
		prio = denyPriority - 100
	}
	top := min(denyPriority-1, 4096)
	for p := top - top%10; prio == 0 && p >= 100; p -= 10 {
		if free(p) {
			prio = p
		}
	}
	for p := top; prio == 0 && p >= 100; p-- {
		if free(p) {
			prio = p
		}
	}
	if prio == 0 {
		return cloud.SecurityRule{}, fmt.Errorf("netpolicy: nsg %q: no free %s priority between 100 and %d", nsg.Name, f.Direction, min(denyPriority-1, 4096))
	}
	port := "*"
	if !pr.portless() {
		port = fmt.Sprint(f.DestinationPort)
	}
	return cloud.SecurityRule{
		Name:                       "Allow-SSH-from-" + strings.NewReplacer(".", "-", ":", "-").Replace(src.String()),
		Priority:                   prio,
		Direction:                  f.Direction,
		Access:                     cloud.Allow,
		Protocol:                   canonicalProto[pr],
		SourceAddressPrefixes:      []string{netip.PrefixFrom(src, src.BitLen()).String()},
		SourcePortRanges:           []string{"*"},
		DestinationAddressPrefixes: []string{"*"},
		DestinationPortRanges:      []string{port},
	}, nil
}

var canonicalProto = [nProto]string{protoAny: "*", protoTcp: "Tcp", protoUdp: "Udp", protoIcmp: "Icmp", protoEsp: "Esp", protoAh: "Ah"}

// routeSourceRank orders routes of equal prefix length as Azure does: user
// routes beat BGP routes from a gateway, which beat system routes.
func routeSourceRank(source string) int {
	switch {
	case strings.EqualFold(source, "User"):
		return 3
	case strings.EqualFold(source, "VirtualNetworkGateway"):
		return 2
	case strings.EqualFold(source, "Default"):
		return 1
	}
	return 0
}

// NextHop picks the effective route for dst by longest-prefix match; among
// equal prefixes User beats VirtualNetworkGateway beats Default (Azure's
// precedence), and system routes for the virtual network, peerings and
// service endpoints beat BGP routes of any length (see ExplainNextHop).
// ok is false when no route matches. Routes whose prefix does not parse
// are skipped: one bad entry must not hide the others.
func NextHop(routes []cloud.Route, dst netip.Addr) (r cloud.Route, ok bool) {
	d := ExplainNextHop(routes, dst)
	return d.Route, d.Found
}
