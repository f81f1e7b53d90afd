package netpolicy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

func TestExplainReturnPath(t *testing.T) {
	sys := []cloud.Route{
		{AddressPrefix: "10.0.0.0/16", NextHopType: "VnetLocal", Source: "Default"},
		{AddressPrefix: "0.0.0.0/0", NextHopType: "Internet", Source: "Default"},
	}
	with := func(r ...cloud.Route) []cloud.Route { return append(append([]cloud.Route(nil), sys...), r...) }
	client := netip.MustParseAddr("203.0.113.5")
	for _, c := range []struct {
		name            string
		routes          []cloud.Route
		complete        bool
		dropped, detour bool
		says            string
	}{
		{"internet", sys, true, false, false, "straight out to the internet"},
		{"user route None", with(cloud.Route{Name: "blackhole", AddressPrefix: "203.0.113.0/24", NextHopType: "None", Source: "User"}), true, true, false, "SYN-ACK is dropped"},
		{"appliance", with(cloud.Route{AddressPrefix: "0.0.0.0/0", NextHopType: "VirtualAppliance", NextHopIP: "10.0.9.4", Source: "User"}), true, false, true, "10.0.9.4"},
		{"forced tunnel", with(cloud.Route{AddressPrefix: "0.0.0.0/0", NextHopType: "VirtualNetworkGateway", Source: "User"}), true, false, true, "forced tunnelling"},
		{"no route in effective routes", sys[:1], true, true, false, "never leave"},
		{"no route in a route table", nil, false, false, false, "system routes decide"},
		{"vnet client", sys, true, false, false, "inside the virtual network"},
	} {
		dst := client
		if c.name == "vnet client" {
			dst = netip.MustParseAddr("10.0.1.9")
		}
		p := ExplainReturnPath(c.routes, c.complete, dst)
		if p.Dropped != c.dropped || p.Detour != c.detour || !strings.Contains(p.Explanation, c.says) {
			t.Errorf("%s: dropped %v detour %v %q", c.name, p.Dropped, p.Detour, p.Explanation)
		}
	}
}
