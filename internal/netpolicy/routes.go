package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// RouteShape is the kind of document ParseRoutes found.
type RouteShape string

// Shapes ParseRoutes reads.
const (
	// RoutesEffective is `az network nic show-effective-route-table`
	// output: value[] with addressPrefix and nextHopIpAddress lists,
	// nextHopType, source and state.
	RoutesEffective RouteShape = "effective"
	// RoutesARM is a route table as ARM returns it:
	// properties.routes[].properties.{addressPrefix,nextHopType,nextHopIpAddress}.
	RoutesARM RouteShape = "arm"
	// RoutesAZ is `az network route-table show` output: routes[] flattened.
	RoutesAZ RouteShape = "az"
	// RoutesList is `az network route-table route list`: a bare list of
	// user routes.
	RoutesList RouteShape = "route-list"
)

// Describe names the shape for people.
func (s RouteShape) Describe() string {
	switch s {
	case RoutesEffective:
		return "effective routes (az network nic show-effective-route-table)"
	case RoutesARM:
		return "ARM route table"
	case RoutesAZ:
		return "az network route-table show"
	case RoutesList:
		return "az network route-table route list"
	}
	return string(s)
}

// ParsedRoutes is a route document mapped to the cloud model.
type ParsedRoutes struct {
	Shape RouteShape `json:"shape"`
	// Table is the route table's name (route tables only).
	Table string `json:"table,omitempty"`
	// Routes are the active routes, one per address prefix (an effective
	// route listing several prefixes becomes several routes). Route
	// tables hold user routes only: Source "User". A route with several
	// next-hop addresses has them comma-separated in NextHopIP.
	Routes []cloud.Route `json:"routes"`
	// Invalid are effective routes in state Invalid (for example a
	// VirtualAppliance route whose appliance is gone); Azure ignores them.
	Invalid []cloud.Route `json:"invalid,omitempty"`
	// Complete is true for effective routes: the table holds the system
	// routes too, so "no match" means the traffic is dropped. A route
	// table holds only user routes; system routes apply where none
	// matches.
	Complete bool `json:"complete"`
}

// ParseRoutes reads effective routes or a route table (see RouteShape),
// detecting which. Field names are matched case-insensitively.
func ParseRoutes(data []byte) (*ParsedRoutes, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("netpolicy: %v", err)
	}
	p := &ParsedRoutes{Routes: []cloud.Route{}}
	if err := p.parse(v); err != nil {
		return nil, fmt.Errorf("netpolicy: %v", err)
	}
	return p, nil
}

const unknownRouteShape = "unknown shape: expected effective routes (az network nic show-effective-route-table) or a route table (ARM JSON, az network route-table show, az network route-table route list)"

func looksLikeRoute(m jobj) bool {
	return m != nil && (has(m, "nextHopType") || has(obj(m, "properties"), "nextHopType"))
}

func (p *ParsedRoutes) parse(v any) error {
	switch v := v.(type) {
	case []any:
		return p.parseList(v)
	case jobj:
		if list, ok := field(v, "value").([]any); ok {
			return p.parseList(list)
		}
		if pr := obj(v, "properties"); present(pr, "routes") || (pr != nil && strings.EqualFold(str(v, "type"), "Microsoft.Network/routeTables")) {
			p.Shape, p.Table = RoutesARM, str(v, "name")
			return p.parseUser(field(pr, "routes"))
		}
		if has(v, "routes") {
			p.Shape, p.Table = RoutesAZ, str(v, "name")
			return p.parseUser(field(v, "routes"))
		}
		if looksLikeRoute(v) {
			return p.parseList([]any{v})
		}
		if looksLikeNSG(v) || looksLikeEffective(v) {
			return fmt.Errorf("this is an NSG, not routes (see sshdoctor nsg verify)")
		}
	}
	return errors.New(unknownRouteShape)
}

func (p *ParsedRoutes) parseList(list []any) error {
	if len(list) == 0 {
		// An empty effective table (a NIC of a stopped VM) or route list.
		p.Shape = RoutesEffective
		p.Complete = true
		return nil
	}
	first, _ := list[0].(jobj)
	switch {
	case looksLikeRoute(first):
	case looksLikeNSG(first) || looksLikeEffective(first) || looksLikeRule(first):
		return fmt.Errorf("this is an NSG, not routes (see sshdoctor nsg verify)")
	default:
		return errors.New(unknownRouteShape)
	}
	// Effective routes carry source and state; a route list does not.
	if has(first, "source") || has(first, "state") {
		p.Shape, p.Complete = RoutesEffective, true
		for i, e := range list {
			m, ok := e.(jobj)
			if !ok || !looksLikeRoute(m) {
				return fmt.Errorf("route %d has no nextHopType", i)
			}
			body := m
			if pr := obj(m, "properties"); pr != nil {
				body = pr
			}
			prefixes := strs(body, "addressPrefix")
			if len(prefixes) == 0 {
				return fmt.Errorf("route %d has no addressPrefix", i)
			}
			src := canonical(str(body, "source"), "Default", "User", "VirtualNetworkGateway")
			if src == "" {
				src = "Default"
			}
			for _, pf := range prefixes {
				r := cloud.Route{
					Name:          str(m, "name"),
					AddressPrefix: pf,
					NextHopType:   cloud.NextHopType(str(body, "nextHopType")),
					NextHopIP:     strings.Join(strs(body, "nextHopIpAddress"), ","),
					Source:        src,
				}
				if strings.EqualFold(str(body, "state"), "Invalid") {
					p.Invalid = append(p.Invalid, r)
				} else {
					p.Routes = append(p.Routes, r)
				}
			}
		}
		return nil
	}
	p.Shape = RoutesList
	return p.parseUser(list)
}

// parseUser reads a route table's user routes.
func (p *ParsedRoutes) parseUser(v any) error {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil
		}
		return fmt.Errorf("routes is not a list")
	}
	for i, e := range list {
		m, ok := e.(jobj)
		if !ok {
			return fmt.Errorf("route %d is not an object", i)
		}
		body := m
		if pr := obj(m, "properties"); pr != nil {
			body = pr
		}
		prefix := str(body, "addressPrefix")
		if prefix == "" {
			return fmt.Errorf("route %d (%s) has no addressPrefix", i, str(m, "name"))
		}
		if p.Table == "" {
			p.Table = idPart(str(m, "id"), "routeTables")
		}
		p.Routes = append(p.Routes, cloud.Route{
			Name:          str(m, "name"),
			AddressPrefix: prefix,
			NextHopType:   cloud.NextHopType(str(body, "nextHopType")),
			NextHopIP:     strings.Join(strs(body, "nextHopIpAddress"), ","),
			Source:        "User",
		})
	}
	return nil
}

// RouteCandidate is a route whose prefix holds the destination.
type RouteCandidate struct {
	Route  cloud.Route `json:"route"`
	Bits   int         `json:"prefix_length"`
	Chosen bool        `json:"chosen"`
	// Why it lost, or why it won.
	Note string `json:"note"`
}

// NextHopDecision explains NextHop's choice.
type NextHopDecision struct {
	Found bool        `json:"found"`
	Route cloud.Route `json:"route"`
	// Reason says why Route won, in one sentence.
	Reason string `json:"reason"`
	// Candidates are every route holding the destination, the chosen one
	// first, then by prefix length and precedence.
	Candidates []RouteCandidate `json:"candidates"`
	// Unparsed are routes whose prefix is not a CIDR or address (a
	// service tag in a user route, say): they were not considered.
	Unparsed []cloud.Route `json:"unparsed,omitempty"`
}

// vnetSystemRoute reports whether r is a system route for the virtual
// network itself, a peering or a service endpoint: Azure prefers those
// to BGP routes, even more specific ones.
func vnetSystemRoute(r cloud.Route) bool {
	if !strings.EqualFold(r.Source, "Default") {
		return false
	}
	for _, t := range []string{"VnetLocal", "VNetPeering", "VNetGlobalPeering", "VirtualNetworkServiceEndpoint"} {
		if strings.EqualFold(string(r.NextHopType), t) {
			return true
		}
	}
	return false
}

func isBGP(r cloud.Route) bool { return strings.EqualFold(r.Source, "VirtualNetworkGateway") }

// ExplainNextHop picks the effective route for dst as Azure does and
// says why: longest prefix match; among equal prefixes a user route
// beats a BGP route (source VirtualNetworkGateway), which beats a system
// route (Default); except that system routes for the virtual network,
// peerings and service endpoints beat BGP routes whatever their length.
// Routes whose prefix does not parse are skipped (one bad entry must not
// hide the others) and listed in Unparsed.
func ExplainNextHop(routes []cloud.Route, dst netip.Addr) NextHopDecision {
	dst = dst.Unmap()
	var d NextHopDecision
	d.Candidates = []RouteCandidate{}
	vnetSys := false
	for _, rt := range routes {
		p, err := parsePrefix(strings.TrimSpace(rt.AddressPrefix))
		if err != nil {
			d.Unparsed = append(d.Unparsed, rt)
			continue
		}
		if !p.Contains(dst) {
			continue
		}
		d.Candidates = append(d.Candidates, RouteCandidate{Route: rt, Bits: p.Bits()})
		vnetSys = vnetSys || vnetSystemRoute(rt)
	}
	best := -1
	for i, c := range d.Candidates {
		if vnetSys && isBGP(c.Route) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := d.Candidates[best]
		if c.Bits > b.Bits || (c.Bits == b.Bits && routeSourceRank(c.Route.Source) > routeSourceRank(b.Route.Source)) {
			best = i
		}
	}
	if best < 0 {
		return d
	}
	win := d.Candidates[best]
	d.Found, d.Route = true, win.Route
	for i := range d.Candidates {
		c := &d.Candidates[i]
		switch {
		case i == best:
			c.Chosen = true
		case vnetSys && isBGP(c.Route):
			c.Note = "BGP route: Azure prefers the virtual network's own system route"
		case c.Bits < win.Bits:
			c.Note = fmt.Sprintf("less specific than /%d", win.Bits)
		case c.Bits == win.Bits:
			c.Note = fmt.Sprintf("same prefix: %s beats %s", sourceName(win.Route.Source), sourceName(c.Route.Source))
		}
	}
	others := len(d.Candidates) - 1
	switch {
	case others == 0:
		d.Reason = fmt.Sprintf("the only route whose prefix holds %s", dst)
	case vnetSys && slices.ContainsFunc(d.Candidates, func(c RouteCandidate) bool { return isBGP(c.Route) && c.Bits >= win.Bits }):
		d.Reason = fmt.Sprintf("system routes for the virtual network, peerings and service endpoints beat BGP routes, even more specific ones; of the others, /%d is the longest prefix holding %s", win.Bits, dst)
	case slices.ContainsFunc(d.Candidates, func(c RouteCandidate) bool { return !c.Chosen && c.Bits == win.Bits }):
		d.Reason = fmt.Sprintf("longest prefix holding %s (/%d); with equal prefixes, user routes beat BGP routes, which beat system routes", dst, win.Bits)
	default:
		d.Reason = fmt.Sprintf("longest prefix holding %s (/%d)", dst, win.Bits)
	}
	// Chosen first, then the rest by prefix length, precedence.
	slices.SortStableFunc(d.Candidates, func(a, b RouteCandidate) int {
		switch {
		case a.Chosen != b.Chosen:
			if a.Chosen {
				return -1
			}
			return 1
		case a.Bits != b.Bits:
			return b.Bits - a.Bits
		}
		return routeSourceRank(b.Route.Source) - routeSourceRank(a.Route.Source)
	})
	return d
}

// sourceName names a route source for people.
func sourceName(source string) string {
	switch {
	case strings.EqualFold(source, "User"):
		return "a user route"
	case strings.EqualFold(source, "VirtualNetworkGateway"):
		return "a BGP route"
	case strings.EqualFold(source, "Default"):
		return "a system route"
	}
	return "a route from " + source
}
