package netpolicy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// rl builds a rule; list arguments are comma-separated.
func rl(name string, prio int, dir cloud.Direction, acc cloud.Access, proto, src, dst, dport string) cloud.SecurityRule {
	return cloud.SecurityRule{
		Name: name, Priority: prio, Direction: dir, Access: acc, Protocol: proto,
		SourceAddressPrefixes: strings.Split(src, ","), SourcePortRanges: []string{"*"},
		DestinationAddressPrefixes: strings.Split(dst, ","), DestinationPortRanges: strings.Split(dport, ","),
	}
}

func in(name string, prio int, acc cloud.Access, proto, src, dport string) cloud.SecurityRule {
	return rl(name, prio, cloud.Inbound, acc, proto, src, "*", dport)
}

func nsg(name string, rules ...cloud.SecurityRule) *cloud.NSG {
	return &cloud.NSG{Name: name, Rules: rules}
}

var vnet = []string{"10.0.0.0/16", "fd00::/48"}

func flow(proto, src, dst string, dport int) Flow {
	return Flow{Protocol: proto, Source: netip.MustParseAddr(src), Destination: netip.MustParseAddr(dst), SourcePort: 50000, DestinationPort: dport, Direction: cloud.Inbound}
}

func out(f Flow) Flow { f.Direction = cloud.Outbound; return f }

func mustCompile(t testing.TB, e *cloud.EffectiveNSGs) *Policy {
	t.Helper()
	p, err := Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	const ext, vm = "203.0.113.5", "10.0.0.4"
	cases := []struct {
		name          string
		subnet, nic   *cloud.NSG
		f             Flow
		allowed       bool
		nsg, deciding string
	}{
		{"deny above allow", nil, nsg("n", in("Deny-SSH", 100, cloud.Deny, "Tcp", "*", "22"), in("Allow-SSH", 200, cloud.Allow, "Tcp", ext, "22")),
			flow("Tcp", ext, vm, 22), false, "nic/n", "securityRules/Deny-SSH"},
		{"allow above deny", nil, nsg("n", in("Deny-SSH", 200, cloud.Deny, "Tcp", "*", "22"), in("Allow-SSH", 100, cloud.Allow, "Tcp", ext, "22")),
			flow("Tcp", ext, vm, 22), true, "nic/n", "securityRules/Allow-SSH"},
		{"defaults: internet denied", nil, nsg("n"), flow("Tcp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"defaults: vnet allowed", nil, nsg("n"), flow("Tcp", "10.0.7.9", vm, 22), true, "nic/n", "defaultSecurityRules/AllowVnetInBound"},
		{"defaults: load balancer allowed", nil, nsg("n"), flow("Tcp", "168.63.129.16", vm, 80), true, "nic/n", "defaultSecurityRules/AllowAzureLoadBalancerInBound"},
		{"subnet denies, nic allows", nsg("s", in("Deny-SSH", 300, cloud.Deny, "Tcp", "Internet", "22")), nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")),
			flow("Tcp", ext, vm, 22), false, "subnet/s", "securityRules/Deny-SSH"},
		{"both allow: nic decides", nsg("s", in("Allow-All", 100, cloud.Allow, "*", "*", "*")), nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")),
			flow("Tcp", ext, vm, 22), true, "nic/n", "securityRules/Allow-SSH"},
		{"subnet only allows", nsg("s", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")), nil,
			flow("Tcp", ext, vm, 22), true, "subnet/s", "securityRules/Allow-SSH"},
		{"subnet allows, nic defaults deny", nsg("s", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")), nsg("n"),
			flow("Tcp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"no NSG", nil, nil, flow("Tcp", ext, vm, 22), true, "", ""},
		{"wrong port", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")), flow("Tcp", ext, vm, 2222), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"wrong protocol", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")), flow("Udp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"wrong source", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "192.0.2.0/24", "22")), flow("Tcp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"right source", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "192.0.2.0/24,203.0.113.0/28", "22")), flow("Tcp", ext, vm, 22), true, "nic/n", "securityRules/Allow-SSH"},
		{"wrong destination", nil, nsg("n", rl("Allow-SSH", 100, cloud.Inbound, cloud.Allow, "Tcp", "*", "10.0.0.5", "22")), flow("Tcp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"port range inside", nil, nsg("n", in("Allow-Range", 100, cloud.Allow, "Tcp", "*", "22,2000-2999")), flow("Tcp", ext, vm, 2222), true, "nic/n", "securityRules/Allow-Range"},
		{"port range edge", nil, nsg("n", in("Allow-Range", 100, cloud.Allow, "Tcp", "*", "2000-2999")), flow("Tcp", ext, vm, 2999), true, "nic/n", "securityRules/Allow-Range"},
		{"port range outside", nil, nsg("n", in("Allow-Range", 100, cloud.Allow, "Tcp", "*", "2000-2999")), flow("Tcp", ext, vm, 3000), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"protocol case-insensitive", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "TCP", "*", "22")), flow("tcp", ext, vm, 22), true, "nic/n", "securityRules/Allow-SSH"},
		{"icmp ignores ports", nil, nsg("n", in("Allow-Ping", 100, cloud.Allow, "Icmp", "*", "22")), flow("Icmp", ext, vm, 0), true, "nic/n", "securityRules/Allow-Ping"},
		{"any protocol with ports matches icmp", nil, nsg("n", in("Deny-22", 100, cloud.Deny, "*", "*", "22"), in("Allow-All", 200, cloud.Allow, "*", "*", "*")),
			flow("Icmp", ext, vm, 7), false, "nic/n", "securityRules/Deny-22"},
		{"internet tag excludes vnet", nil, nsg("n", in("Deny-Internet", 100, cloud.Deny, "*", "Internet", "*")), flow("Tcp", "10.0.3.3", vm, 22), true, "nic/n", "defaultSecurityRules/AllowVnetInBound"},
		{"internet tag excludes load balancer", nil, nsg("n", in("Deny-Internet", 100, cloud.Deny, "*", "Internet", "*")), flow("Tcp", "168.63.129.16", vm, 22), true, "nic/n", "defaultSecurityRules/AllowAzureLoadBalancerInBound"},
		{"vnet source to outside destination", nil, nsg("n"), flow("Tcp", "10.0.3.3", "192.0.2.1", 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"v6 allowed", nil, nsg("n", in("Allow-SSH6", 100, cloud.Allow, "Tcp", "2001:db8::/32", "22")), flow("Tcp", "2001:db8::5", "fd00::4", 22), true, "nic/n", "securityRules/Allow-SSH6"},
		{"v6 other prefix", nil, nsg("n", in("Allow-SSH6", 100, cloud.Allow, "Tcp", "2001:db8::/32", "22")), flow("Tcp", "2001:db9::5", "fd00::4", 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"v6 vnet", nil, nsg("n"), flow("Tcp", "fd00::9", "fd00::4", 22), true, "nic/n", "defaultSecurityRules/AllowVnetInBound"},
		{"v6 rule does not match v4", nil, nsg("n", in("Allow-Any6", 100, cloud.Allow, "*", "::/0", "*")), flow("Tcp", ext, vm, 22), false, "nic/n", "defaultSecurityRules/DenyAllInBound"},
		{"v4-mapped source matches v4 rule", nil, nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "203.0.113.5", "22")), flow("Tcp", "::ffff:203.0.113.5", vm, 22), true, "nic/n", "securityRules/Allow-SSH"},
		{"outbound: nic denies first", nsg("s", rl("Deny-Web", 100, cloud.Outbound, cloud.Deny, "Tcp", "*", "*", "443")), nsg("n", rl("Deny-Web", 100, cloud.Outbound, cloud.Deny, "Tcp", "*", "Internet", "443")),
			out(flow("Tcp", vm, "198.51.100.9", 443)), false, "nic/n", "securityRules/Deny-Web"},
		{"outbound: nic allows, subnet denies", nsg("s", rl("Deny-Web", 100, cloud.Outbound, cloud.Deny, "Tcp", "*", "*", "443")), nsg("n"),
			out(flow("Tcp", vm, "198.51.100.9", 443)), false, "subnet/s", "securityRules/Deny-Web"},
		{"outbound: defaults allow internet, nic decides", nsg("s"), nsg("n"),
			out(flow("Tcp", vm, "198.51.100.9", 443)), true, "nic/n", "defaultSecurityRules/AllowInternetOutBound"},
		{"outbound ignores inbound rules", nil, nsg("n", in("Deny-All", 100, cloud.Deny, "*", "*", "*")),
			out(flow("Tcp", vm, "10.0.9.9", 22)), true, "nic/n", "defaultSecurityRules/AllowVnetOutBound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustCompile(t, &cloud.EffectiveNSGs{Subnet: c.subnet, NIC: c.nic, VNetPrefixes: vnet})
			v := p.Evaluate(c.f)
			if v.Allowed != c.allowed || v.DecidingNSG != c.nsg || v.DecidingRule != c.deciding {
				t.Errorf("Evaluate = %v (allowed=%v), want allowed=%v by %s %s", v, v.Allowed, c.allowed, c.nsg, c.deciding)
			}
			if a, r := p.Allowed(c.f); a != c.allowed || r != c.deciding {
				t.Errorf("Allowed = %v, %q; want %v, %q", a, r, c.allowed, c.deciding)
			}
			// The trace ends on the deciding rule, marked Matched.
			if c.deciding != "" {
				last := v.Trace[len(v.Trace)-1]
				if !v.Allowed && (last.Rule != c.deciding || !last.Matched || last.NSG != c.nsg) {
					t.Errorf("last step %+v", last)
				}
			}
		})
	}
}

func TestEvaluateTrace(t *testing.T) {
	p := mustCompile(t, &cloud.EffectiveNSGs{
		Subnet:       nsg("s", in("Allow-SSH", 100, cloud.Allow, "Tcp", "*", "22")),
		NIC:          nsg("n", in("Deny-Other", 100, cloud.Deny, "Tcp", "192.0.2.0/24", "22"), in("Allow-SSH", 110, cloud.Allow, "Tcp", "*", "22")),
		VNetPrefixes: vnet,
	})
	v := p.Evaluate(flow("Tcp", "203.0.113.5", "10.0.0.4", 22))
	want := []Step{
		{"subnet/s", "securityRules/Allow-SSH", 100, true, cloud.Allow},
		{"nic/n", "securityRules/Deny-Other", 100, false, cloud.Deny},
		{"nic/n", "securityRules/Allow-SSH", 110, true, cloud.Allow},
	}
	if fmt.Sprint(v.Trace) != fmt.Sprint(want) || !v.Allowed {
		t.Errorf("trace %+v\nwant  %+v", v.Trace, want)
	}
	v = p.Evaluate(out(flow("Tcp", "10.0.0.4", "10.0.1.1", 22)))
	if v.Trace[0].NSG != "nic/n" || v.Trace[len(v.Trace)-1].NSG != "subnet/s" {
		t.Errorf("outbound trace order: %+v", v.Trace)
	}
}

// TestAllowedMatchesEvaluate checks the indexed fast path against the
// plain scan on random policies and flows.
func TestAllowedMatchesEvaluate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	srcs := []string{"*", "Internet", "VirtualNetwork", "AzureLoadBalancer", "10.0.0.0/24", "203.0.113.0/24", "203.0.113.5", "2001:db8::/32", "10.0.0.0/8,2001:db8::1"}
	ports := []string{"*", "22", "2222", "20-30", "1000-3000", "22,80,443", "0-65535", "443"}
	randNSG := func(name string) *cloud.NSG {
		n := nsg(name)
		for i := range rng.IntN(30) {
			dir := cloud.Inbound
			if rng.IntN(3) == 0 {
				dir = cloud.Outbound
			}
			acc := cloud.Allow
			if rng.IntN(2) == 0 {
				acc = cloud.Deny
			}
			r := rl(fmt.Sprint("r", i), 100+i, dir, acc, pick("Tcp", "Udp", "Icmp", "*"), pick(srcs...), pick(srcs...), pick(ports...))
			r.SourcePortRanges = []string{pick("*", "*", "*", "50000", "1024-65535")}
			n.Rules = append(n.Rules, r)
		}
		return n
	}
	addrs := []string{"10.0.0.4", "10.0.5.5", "203.0.113.5", "203.0.113.200", "168.63.129.16", "2001:db8::1", "fd00::4", "192.0.2.1"}
	for range 300 {
		e := &cloud.EffectiveNSGs{VNetPrefixes: vnet}
		if rng.IntN(4) > 0 {
			e.Subnet = randNSG("s")
		}
		if rng.IntN(4) > 0 {
			e.NIC = randNSG("n")
		}
		p := mustCompile(t, e)
		for range 50 {
			f := flow(pick("Tcp", "Udp", "Icmp", "Gre"), pick(addrs...), pick(addrs...), []int{22, 25, 80, 443, 2222, 3000, 3001, 0, 65535, -1, 70000}[rng.IntN(11)])
			f.SourcePort = []int{50000, 1000}[rng.IntN(2)]
			if rng.IntN(2) == 0 {
				f = out(f)
			}
			v := p.Evaluate(f)
			if a, r := p.Allowed(f); a != v.Allowed || r != v.DecidingRule {
				t.Fatalf("flow %+v on %+v %+v:\nAllowed = %v %q, Evaluate = %v", f, e.Subnet, e.NIC, a, r, v)
			}
		}
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	p, f := benchPolicy(t)
	if n := testing.AllocsPerRun(100, func() { p.Allowed(f) }); n != 0 {
		t.Errorf("Allowed allocates %v times", n)
	}
}

func TestCompileErrors(t *testing.T) {
	good := func() cloud.SecurityRule { return in("Bad-Rule", 100, cloud.Allow, "Tcp", "*", "22") }
	cases := map[string]func(*cloud.SecurityRule){
		"bad CIDR":         func(r *cloud.SecurityRule) { r.SourceAddressPrefixes = []string{"10.0.0.0/33"} },
		"bad address":      func(r *cloud.SecurityRule) { r.DestinationAddressPrefixes = []string{"10.0.0.300"} },
		"unsupported tag":  func(r *cloud.SecurityRule) { r.SourceAddressPrefixes = []string{"Storage"} },
		"empty prefixes":   func(r *cloud.SecurityRule) { r.SourceAddressPrefixes = nil },
		"port abc":         func(r *cloud.SecurityRule) { r.DestinationPortRanges = []string{"abc"} },
		"port too big":     func(r *cloud.SecurityRule) { r.DestinationPortRanges = []string{"65536"} },
		"reversed range":   func(r *cloud.SecurityRule) { r.SourcePortRanges = []string{"30-20"} },
		"protocol Foo":     func(r *cloud.SecurityRule) { r.Protocol = "Foo" },
		"priority 0":       func(r *cloud.SecurityRule) { r.Priority = 0 },
		"priority 4097":    func(r *cloud.SecurityRule) { r.Priority = 4097 },
		"bad access":       func(r *cloud.SecurityRule) { r.Access = "Maybe" },
		"bad direction":    func(r *cloud.SecurityRule) { r.Direction = "Sideways" },
		"outbound too bad": func(r *cloud.SecurityRule) { r.Direction, r.Protocol = cloud.Outbound, "Foo" },
	}
	for name, mod := range cases {
		r := good()
		mod(&r)
		_, err := Compile(&cloud.EffectiveNSGs{NIC: nsg("n", r), VNetPrefixes: vnet})
		if err == nil || !strings.Contains(err.Error(), `"Bad-Rule"`) {
			t.Errorf("%s: err = %v, want one naming the rule", name, err)
		}
	}
	if _, err := Compile(&cloud.EffectiveNSGs{NIC: nsg("n", good(), good())}); err == nil {
		t.Error("duplicate priority accepted")
	}
	if _, err := Compile(&cloud.EffectiveNSGs{VNetPrefixes: []string{"10.0.0/16"}}); err == nil {
		t.Error("bad vnet prefix accepted")
	}
	if _, err := Compile(&cloud.EffectiveNSGs{Subnet: nsg("s", good()), NIC: nsg("n", good()), VNetPrefixes: vnet}); err != nil {
		t.Errorf("good rule refused: %v", err)
	}
}

func TestSuggestAllow(t *testing.T) {
	f := flow("Tcp", "203.0.113.5", "10.0.0.4", 22)
	cases := []struct {
		name     string
		n        *cloud.NSG
		f        Flow
		wantPrio int
	}{
		{"deny-100", nsg("n", in("Deny-SSH", 200, cloud.Deny, "Tcp", "*", "22")), f, 100},
		{"default deny", nsg("n"), f, 4090},
		{"steps of 10", nsg("n", in("Deny-SSH", 300, cloud.Deny, "Tcp", "*", "22"), in("Other", 200, cloud.Allow, "Udp", "*", "53"), in("Other2", 290, cloud.Allow, "Udp", "*", "54")), f, 280},
		{"squeezed", nsg("n", in("Deny-SSH", 103, cloud.Deny, "Tcp", "*", "22"), in("Other", 100, cloud.Allow, "Udp", "*", "53")), f, 102},
		{"v6", nsg("n", in("Deny-SSH", 1000, cloud.Deny, "Tcp", "*", "22")), flow("Tcp", "2001:db8::5", "fd00::4", 22), 900},
		{"outbound", nsg("n", rl("Deny-Web", 500, cloud.Outbound, cloud.Deny, "Tcp", "*", "*", "443"), in("In400", 400, cloud.Allow, "Tcp", "*", "1")), out(flow("Tcp", "10.0.0.4", "198.51.100.9", 443)), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &cloud.EffectiveNSGs{NIC: c.n, VNetPrefixes: vnet}
			v := mustCompile(t, e).Evaluate(c.f)
			if v.Allowed {
				t.Fatalf("flow already allowed: %v", v)
			}
			deny := v.Trace[len(v.Trace)-1].Priority
			r, err := SuggestAllow(c.n, c.f, deny)
			if err != nil {
				t.Fatal(err)
			}
			if r.Priority != c.wantPrio || r.Priority >= deny || r.Access != cloud.Allow || r.Protocol != "Tcp" {
				t.Errorf("rule %+v, want priority %d < %d", r, c.wantPrio, deny)
			}
			c.n.Rules = append(c.n.Rules, r)
			if v := mustCompile(t, e).Evaluate(c.f); !v.Allowed || v.DecidingRule != "securityRules/"+r.Name {
				t.Errorf("with %+v: %v", r, v)
			}
			// Narrow: another source stays denied.
			g := c.f
			g.Source = netip.MustParseAddr("192.0.2.77")
			if g.Direction == cloud.Inbound {
				if v := mustCompile(t, e).Evaluate(g); v.Allowed {
					t.Errorf("suggested rule also lets %v in: %v", g.Source, v)
				}
			}
		})
	}
	r, _ := SuggestAllow(nsg("n"), f, 65500)
	if r.Name != "Allow-SSH-from-203-0-113-5" || r.SourceAddressPrefixes[0] != "203.0.113.5/32" || r.DestinationPortRanges[0] != "22" || r.DestinationAddressPrefixes[0] != "*" {
		t.Errorf("rule %+v", r)
	}
	r, _ = SuggestAllow(nsg("n"), flow("Tcp", "2001:db8::5", "fd00::4", 22), 65500)
	if r.Name != "Allow-SSH-from-2001-db8--5" || r.SourceAddressPrefixes[0] != "2001:db8::5/128" {
		t.Errorf("v6 rule %+v", r)
	}
	if _, err := SuggestAllow(nsg("n", in("Deny-SSH", 100, cloud.Deny, "Tcp", "*", "22")), f, 100); err == nil {
		t.Error("no error when no priority below 100 exists")
	}
	full := nsg("n", in("Deny-SSH", 102, cloud.Deny, "Tcp", "*", "22"), in("A", 100, cloud.Allow, "Udp", "*", "1"), in("B", 101, cloud.Allow, "Udp", "*", "2"))
	if _, err := SuggestAllow(full, f, 102); err == nil {
		t.Error("no error when priorities below the deny are all used")
	}
}

func TestNextHop(t *testing.T) {
	routes := []cloud.Route{
		{Name: "default", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopInternet, Source: "Default"},
		{Name: "vnet", AddressPrefix: "10.0.0.0/16", NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
		{Name: "rfc1918", AddressPrefix: "10.0.0.0/8", NextHopType: cloud.NextHopNone, Source: "Default"},
		{Name: "udr-fw", AddressPrefix: "10.0.2.0/24", NextHopType: cloud.NextHopVirtualAppliance, NextHopIP: "10.0.0.4", Source: "User"},
		{Name: "sys-sub", AddressPrefix: "10.0.2.0/24", NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
		{Name: "bgp", AddressPrefix: "172.16.0.0/12", NextHopType: cloud.NextHopGateway, Source: "VirtualNetworkGateway"},
		{Name: "sys-172", AddressPrefix: "172.16.0.0/12", NextHopType: cloud.NextHopNone, Source: "Default"},
		{Name: "host", AddressPrefix: "192.0.2.7", NextHopType: cloud.NextHopNone, Source: "User"},
		{Name: "broken", AddressPrefix: "nonsense", NextHopType: cloud.NextHopInternet, Source: "User"},
	}
	cases := []struct {
		dst  string
		want string // route name, "" = no match
	}{
		{"10.0.1.5", "vnet"},
		{"10.0.2.5", "udr-fw"},
		{"10.9.9.9", "rfc1918"},
		{"8.8.8.8", "default"},
		{"172.20.0.1", "bgp"},
		{"192.0.2.7", "host"},
		{"2001:db8::1", ""},
	}
	for _, c := range cases {
		r, ok := NextHop(routes, netip.MustParseAddr(c.dst))
		if ok != (c.want != "") || r.Name != c.want {
			t.Errorf("NextHop(%s) = %q, %v; want %q", c.dst, r.Name, ok, c.want)
		}
	}
	// Order must not matter: the User route wins even when listed first.
	rev := []cloud.Route{routes[3], routes[4]}
	if r, _ := NextHop(rev, netip.MustParseAddr("10.0.2.9")); r.Name != "udr-fw" {
		t.Errorf("got %q", r.Name)
	}
	if r, _ := NextHop([]cloud.Route{routes[4], routes[3]}, netip.MustParseAddr("10.0.2.9")); r.Name != "udr-fw" {
		t.Errorf("got %q", r.Name)
	}
	if r, _ := NextHop(routes[7:8], netip.MustParseAddr("192.0.2.7")); r.NextHopType != cloud.NextHopNone {
		t.Errorf("None route: %+v", r)
	}
	if _, ok := NextHop(nil, netip.MustParseAddr("10.0.0.1")); ok {
		t.Error("match in an empty table")
	}
}

// benchPolicy has a subnet NSG and a NIC NSG of 100 user rules each, mixed
// prefixes, protocols and ports, several on port 22 with other sources;
// the rule that allows the flow is near the end of each.
func benchPolicy(t testing.TB) (*Policy, Flow) {
	mk := func(name string, match int) *cloud.NSG {
		n := nsg(name)
		for i := range 100 {
			src := []string{fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("192.0.2.%d", i), "VirtualNetwork", fmt.Sprintf("198.51.%d.0/24,2001:db8:%x::/48", i, i)}[i%4]
			port := []string{fmt.Sprint(1000 + i), fmt.Sprintf("%d-%d", 3000+10*i, 3005+10*i), "22", "80,443,8080-8090"}[i%4]
			proto := []string{"Tcp", "Udp", "*", "Tcp"}[i%4]
			acc := []cloud.Access{cloud.Allow, cloud.Deny}[i%2]
			if i == match {
				src, port, proto, acc = "203.0.113.0/24", "22", "Tcp", cloud.Allow
			}
			n.Rules = append(n.Rules, in(fmt.Sprint("rule-", i), 100+10*i, acc, proto, src, port))
		}
		return n
	}
	p := mustCompile(t, &cloud.EffectiveNSGs{Subnet: mk("s", 97), NIC: mk("n", 95), VNetPrefixes: vnet})
	f := flow("Tcp", "203.0.113.7", "10.0.0.4", 22)
	if ok, r := p.Allowed(f); !ok || r != "securityRules/rule-95" {
		t.Fatalf("bench flow: %v %q", ok, r)
	}
	return p, f
}

func BenchmarkAllowed(b *testing.B) {
	p, f := benchPolicy(b)
	b.ReportAllocs()
	for b.Loop() {
		p.Allowed(f)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p, f := benchPolicy(b)
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(f)
	}
}
