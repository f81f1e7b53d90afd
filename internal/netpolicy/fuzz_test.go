package netpolicy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// FuzzParseNSG feeds the parser arbitrary bytes. It must never panic;
// errors are one line; whatever it accepts must survive ResolveTags and
// Compile without panicking, and when it compiles, the indexed Allowed
// must agree with the plain Evaluate. Without -fuzz it runs the seeds, as
// a normal test.
func FuzzParseNSG(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `{"value":[]}`, `{"value":{}}`, `[null]`, `[{}]`,
		`{"name":"n","securityRules":[{"name":"r","priority":100,"direction":"Inbound","access":"Allow","protocol":"*","sourceAddressPrefix":"*","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"22"}]}`,
		`{"name":"n","securityRules":[{"name":"r","priority":1e3,"direction":"Outbound","access":"Deny","protocol":"Udp","sourceAddressPrefixes":["::/0"],"destinationAddressPrefix":"Storage","sourcePortRange":"1-2","destinationPortRanges":["5","6-7"]}]}`,
		`{"name":"n","properties":{"securityRules":[{"name":"a","properties":{"priority":"150","sourceApplicationSecurityGroups":[{"id":"x"}],"destinationApplicationSecurityGroups":["/y/"]}}]}}`,
		`{"value":[{"association":{"subnet":{"id":"/s"}},"effectiveSecurityRules":[{"name":"securityRules/","priority":100}]}]}`,
		`{"effectiveSecurityRules":[{"name":"defaultSecurityRules/X","priority":65000,"expandedSourceAddressPrefix":"1.2.3.4"}],"tagMap":"{\"a\":[\"b\"]}"}`,
		`{"effectiveSecurityRules":[],"tagMap":"not json"}`,
		`{"Name":"n","SecurityRules":[{"Name":"r","Priority":4096,"SourcePortRange":["*"]}]}`,
		`[{"name":"r","id":"/securityRules/r","priority":100}]`,
		`{"name":"rt","properties":{"routes":[]}}`,
		"\xef\xbb\xbf{\"name\":\"bom\",\"securityRules\":[]}",
	} {
		f.Add([]byte(s))
	}
	flows := []Flow{
		flow("Tcp", "203.0.113.5", "10.0.0.4", 22),
		flow("Udp", "10.0.0.9", "10.0.0.4", 53),
		out(flow("Icmp", "10.0.0.4", "2001:db8::1", 0)),
		{Protocol: "Tcp", Source: netip.MustParseAddr("10.0.0.9"), Destination: netip.MustParseAddr("10.0.0.4"), SourcePort: 50000, DestinationPort: 22, Direction: cloud.Inbound, SourceASGs: []string{"x", "a"}, DestinationASGs: []string{"y"}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseNSG(data)
		if err != nil {
			if p != nil {
				t.Fatal("result and error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if (p.NSG == nil) == (p.Effective == nil) {
			t.Fatalf("want exactly one of NSG and Effective: %+v", p)
		}
		e := p.EffectiveNSGs()
		if e.VNetPrefixes == nil {
			e.VNetPrefixes = vnet
		}
		r, _ := ResolveTags(e, p.Tags)
		pol, err := Compile(r)
		if err != nil {
			return
		}
		for _, fl := range flows {
			v := pol.Evaluate(fl)
			if a, rule := pol.Allowed(fl); a != v.Allowed || rule != v.DecidingRule {
				t.Fatalf("flow %+v: Allowed %v %q, Evaluate %v", fl, a, rule, v)
			}
		}
	})
}

// FuzzParseRoutes: never panic; whatever parses can be looked up.
func FuzzParseRoutes(f *testing.F) {
	for _, name := range []string{"effective-routes.json", "route-table.arm.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{``, `[]`, `{"value":[{"source":"User","addressPrefix":["1.0.0.0/8","x"],"nextHopType":"None","nextHopIpAddress":[1]}]}`, `{"routes":[{"addressPrefix":"::/0","nextHopType":"Internet"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseRoutes(data)
		if err != nil {
			return
		}
		for _, dst := range []string{"10.1.2.3", "2001:db8::1"} {
			d := ExplainNextHop(p.Routes, netip.MustParseAddr(dst))
			if d.Found != (len(d.Candidates) > 0 && d.Candidates[0].Chosen) {
				t.Fatalf("inconsistent decision %+v", d)
			}
		}
	})
}

// TestAllowedEdges checks the indexed path at the ends of the IPv4 and
// port ranges, where the 32-bit axis keys start and stop.
func TestAllowedEdges(t *testing.T) {
	n := nsg("n",
		in("Top", 100, cloud.Deny, "Tcp", "255.255.255.255", "65535"),
		in("Upper", 110, cloud.Allow, "Tcp", "128.0.0.0/1", "0"),
		in("Zero", 120, cloud.Deny, "Udp", "0.0.0.0", "0-1"),
		in("All4", 130, cloud.Allow, "*", "0.0.0.0/0", "65000-65535"),
		in("All6", 140, cloud.Allow, "*", "::/0", "22"),
	)
	p := mustCompile(t, &cloud.EffectiveNSGs{NIC: n, VNetPrefixes: []string{"0.0.0.0/1"}})
	for _, src := range []string{"0.0.0.0", "0.0.0.1", "127.255.255.255", "128.0.0.0", "255.255.255.254", "255.255.255.255", "::", "::ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		for _, port := range []int{-1, 0, 1, 2, 22, 64999, 65000, 65535, 65536} {
			for _, proto := range []string{"Tcp", "Udp", "Icmp"} {
				f := flow(proto, src, "10.0.0.4", port)
				if netip.MustParseAddr(src).Unmap().Is6() {
					f.Destination = netip.MustParseAddr("fd00::4")
				}
				f.SourcePort = port
				v := p.Evaluate(f)
				if a, r := p.Allowed(f); a != v.Allowed || r != v.DecidingRule {
					t.Errorf("%s %s port %d: Allowed %v %q, Evaluate %v", proto, src, port, a, r, v)
				}
			}
		}
	}
}
