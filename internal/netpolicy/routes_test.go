package netpolicy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

func readRoutes(t testing.TB, name string) *ParsedRoutes {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseRoutes(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestParseRoutesFiles(t *testing.T) {
	eff := readRoutes(t, "effective-routes.json")
	// 11 entries, one of them with two prefixes; two Invalid.
	if eff.Shape != RoutesEffective || !eff.Complete || len(eff.Routes) != 10 || len(eff.Invalid) != 2 {
		t.Fatalf("effective: %s complete=%v %d routes %d invalid", eff.Shape, eff.Complete, len(eff.Routes), len(eff.Invalid))
	}
	for _, r := range eff.Invalid {
		if r.AddressPrefix != "0.0.0.0/0" && r.AddressPrefix != "203.0.113.0/24" {
			t.Errorf("invalid %+v", r)
		}
	}
	arm := readRoutes(t, "route-table.arm.json")
	if arm.Shape != RoutesARM || arm.Complete || arm.Table != "rt-web" || len(arm.Routes) != 2 ||
		arm.Routes[0] != (cloud.Route{Name: "to-firewall", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopVirtualAppliance, NextHopIP: "10.1.2.4", Source: "User"}) {
		t.Errorf("arm: %+v", arm)
	}
}

func TestParseRoutesInline(t *testing.T) {
	cases := []struct {
		name, doc string
		shape     RouteShape
		n         int
		check     func(*ParsedRoutes) bool
	}{
		{"az route-table show", `{"name":"rt","routes":[{"name":"r1","addressPrefix":"10.0.0.0/8","nextHopType":"None","nextHopIpAddress":null}]}`, RoutesAZ, 1,
			func(p *ParsedRoutes) bool {
				return p.Table == "rt" && p.Routes[0].Source == "User" && p.Routes[0].NextHopType == cloud.NextHopNone
			}},
		{"route list", `[{"name":"r1","id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/rt9/routes/r1","addressPrefix":"10.0.0.0/8","nextHopType":"VirtualAppliance","nextHopIpAddress":"10.0.0.4"}]`, RoutesList, 1,
			func(p *ParsedRoutes) bool {
				return p.Table == "rt9" && p.Routes[0].NextHopIP == "10.0.0.4" && !p.Complete
			}},
		{"effective as a bare array, strings for lists", `[{"source":"Default","state":"Active","addressPrefix":"0.0.0.0/0","nextHopType":"Internet","nextHopIpAddress":""}]`, RoutesEffective, 1,
			func(p *ParsedRoutes) bool {
				return p.Routes[0].AddressPrefix == "0.0.0.0/0" && p.Routes[0].NextHopIP == "" && p.Complete
			}},
		{"empty effective table", `{"value":[]}`, RoutesEffective, 0, func(p *ParsedRoutes) bool { return p.Complete }},
		{"ARM table without routes", `{"name":"rt","properties":{"routes":null,"disableBgpRoutePropagation":true}}`, RoutesARM, 0, func(p *ParsedRoutes) bool { return true }},
	}
	for _, c := range cases {
		p, err := ParseRoutes([]byte(c.doc))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.Shape != c.shape || len(p.Routes) != c.n || !c.check(p) {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
	for doc, want := range map[string]string{
		``:                                "empty input",
		`{"foo":1}`:                       "unknown shape",
		`[{"foo":1}]`:                     "unknown shape",
		`{"name":"n","securityRules":[]}`: "an NSG, not routes",
		`{"value":[{"source":"Default","nextHopType":"Internet"}]}`:        "no addressPrefix",
		`{"value":[{"source":"Default","addressPrefix":["0.0.0.0/0"]},3]}`: "unknown shape",
		`{"name":"rt","routes":[{"name":"x","nextHopType":"None"}]}`:       "no addressPrefix",
		`{"name":"rt","routes":{}}`:                                        "not a list",
	} {
		if _, err := ParseRoutes([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", doc, err, want)
		}
	}
}

func TestExplainNextHopFile(t *testing.T) {
	routes := readRoutes(t, "effective-routes.json").Routes
	cases := []struct {
		dst, prefix string
		typ         cloud.NextHopType
		ip, source  string
		reason      string
	}{
		// 203.0.113.0/24 → 10.9.9.9 is Invalid: ignored, the /0 UDR wins.
		{"203.0.113.5", "0.0.0.0/0", cloud.NextHopVirtualAppliance, "10.1.2.4", "User", "only route"},
		{"198.51.100.9", "198.51.100.0/24", cloud.NextHopInternet, "", "User", "longest prefix"},
		{"10.1.0.9", "10.1.0.0/16", cloud.NextHopVnetLocal, "", "Default", "longest prefix"},
		// The BGP /24 is more specific, but Azure prefers the VNet's route.
		{"10.1.7.3", "10.1.0.0/16", cloud.NextHopVnetLocal, "", "Default", "beat BGP routes"},
		{"10.50.1.1", "10.50.0.0/16", cloud.NextHopGateway, "10.1.255.4,10.1.255.5", "VirtualNetworkGateway", "longest prefix"},
		{"10.200.0.1", "10.0.0.0/8", cloud.NextHopNone, "", "Default", "longest prefix"},
		{"192.168.1.1", "192.168.0.0/16", cloud.NextHopNone, "", "Default", "longest prefix"},
		{"192.0.2.10", "192.0.2.0/24", cloud.NextHopNone, "", "User", "longest prefix"},
	}
	for _, c := range cases {
		d := ExplainNextHop(routes, netip.MustParseAddr(c.dst))
		r := d.Route
		if !d.Found || r.AddressPrefix != c.prefix || r.NextHopType != c.typ || r.NextHopIP != c.ip || r.Source != c.source || !strings.Contains(d.Reason, c.reason) {
			t.Errorf("%s: %+v (%s)", c.dst, r, d.Reason)
		}
		if !d.Candidates[0].Chosen || d.Candidates[0].Route != r {
			t.Errorf("%s: chosen route not first: %+v", c.dst, d.Candidates)
		}
		if nr, ok := NextHop(routes, netip.MustParseAddr(c.dst)); !ok || nr != r {
			t.Errorf("%s: NextHop %+v differs", c.dst, nr)
		}
	}
	d := ExplainNextHop(routes, netip.MustParseAddr("10.1.7.3"))
	if len(d.Candidates) != 4 || !strings.Contains(d.Candidates[1].Note, "BGP route") || !strings.Contains(d.Candidates[2].Note, "less specific") {
		t.Errorf("candidates %+v", d.Candidates)
	}
	if d := ExplainNextHop(routes, netip.MustParseAddr("2001:db8::1")); d.Found || len(d.Candidates) != 0 {
		t.Errorf("v6: %+v", d)
	}
}

func TestExplainNextHopPrecedence(t *testing.T) {
	r := func(name, prefix string, typ cloud.NextHopType, source string) cloud.Route {
		return cloud.Route{Name: name, AddressPrefix: prefix, NextHopType: typ, Source: source}
	}
	cases := []struct {
		name   string
		routes []cloud.Route
		dst    string
		want   string
	}{
		{"user beats BGP beats system, same prefix", []cloud.Route{r("sys", "10.5.0.0/16", cloud.NextHopNone, "Default"), r("bgp", "10.5.0.0/16", cloud.NextHopGateway, "VirtualNetworkGateway"), r("udr", "10.5.0.0/16", cloud.NextHopVirtualAppliance, "User")}, "10.5.1.1", "udr"},
		{"BGP beats system, same prefix", []cloud.Route{r("bgp", "10.5.0.0/16", cloud.NextHopGateway, "VirtualNetworkGateway"), r("sys", "10.5.0.0/16", cloud.NextHopNone, "Default")}, "10.5.1.1", "bgp"},
		{"longer system route beats shorter user route", []cloud.Route{r("udr", "0.0.0.0/0", cloud.NextHopVirtualAppliance, "User"), r("sys", "10.0.0.0/8", cloud.NextHopNone, "Default")}, "10.1.1.1", "sys"},
		{"peering beats a more specific BGP route", []cloud.Route{r("peer", "10.8.0.0/16", "VNetPeering", "Default"), r("bgp", "10.8.1.0/24", cloud.NextHopGateway, "VirtualNetworkGateway")}, "10.8.1.1", "peer"},
		{"UDR still beats the VNet route when more specific", []cloud.Route{r("vnet", "10.1.0.0/16", cloud.NextHopVnetLocal, "Default"), r("bgp", "10.1.2.0/24", cloud.NextHopGateway, "VirtualNetworkGateway"), r("udr", "10.1.2.0/24", cloud.NextHopVirtualAppliance, "User")}, "10.1.2.9", "udr"},
		{"None system route beats nothing", []cloud.Route{r("bgp", "10.1.2.0/24", cloud.NextHopGateway, "VirtualNetworkGateway"), r("none", "10.0.0.0/8", cloud.NextHopNone, "Default")}, "10.1.2.9", "bgp"},
		{"single address", []cloud.Route{r("host", "192.0.2.7", cloud.NextHopNone, "User"), r("net", "192.0.2.0/24", cloud.NextHopInternet, "User")}, "192.0.2.7", "host"},
		{"unparsable prefix skipped", []cloud.Route{r("tag", "AzureCloud", cloud.NextHopInternet, "User"), r("def", "0.0.0.0/0", cloud.NextHopInternet, "Default")}, "20.1.1.1", "def"},
		{"v4-mapped destination", []cloud.Route{r("def", "0.0.0.0/0", cloud.NextHopInternet, "Default")}, "::ffff:20.1.1.1", "def"},
	}
	for _, c := range cases {
		d := ExplainNextHop(c.routes, netip.MustParseAddr(c.dst))
		if !d.Found || d.Route.Name != c.want {
			t.Errorf("%s: got %q (%s), want %q", c.name, d.Route.Name, d.Reason, c.want)
		}
	}
	d := ExplainNextHop([]cloud.Route{r("tag", "AzureCloud", cloud.NextHopInternet, "User")}, netip.MustParseAddr("1.1.1.1"))
	if d.Found || len(d.Unparsed) != 1 {
		t.Errorf("unparsed: %+v", d)
	}
}
