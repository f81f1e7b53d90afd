package netpolicy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

func TestNFTInboundText(t *testing.T) {
	n := nsg("n",
		in("Allow-SSH", 200, cloud.Allow, "Tcp", "203.0.113.5", "22"),
		in("Deny-Internet", 100, cloud.Deny, "*", "Internet", "*"),
		rl("Allow-Out", 100, cloud.Outbound, cloud.Allow, "*", "*", "*", "*"),
	)
	rs, err := NFTInbound("sdnsg", "forward", n, []string{"10.0.0.0/16"}, "10.0.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rs, "table inet sdnsg {}\ndelete table inet sdnsg\ntable inet sdnsg {\n") {
		t.Errorf("no atomic replace prologue:\n%s", rs)
	}
	for _, want := range []string{
		"type filter hook forward priority 0; policy accept;",
		"ip daddr != 10.0.1.0/24 accept",
		`ip saddr != { 10.0.0.0/16, 168.63.129.16 } counter drop comment "securityRules/Deny-Internet"`,
		`meta nfproto ipv6 counter drop comment "securityRules/Deny-Internet"`,
		`ip saddr 203.0.113.5 tcp dport 22 counter accept comment "securityRules/Allow-SSH"`,
		`ip saddr 10.0.0.0/16 ip daddr 10.0.0.0/16 counter accept comment "defaultSecurityRules/AllowVnetInBound"`,
		`ip saddr 168.63.129.16 counter accept comment "defaultSecurityRules/AllowAzureLoadBalancerInBound"`,
		`counter drop comment "defaultSecurityRules/DenyAllInBound"`,
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	if strings.Contains(rs, "Allow-Out") || strings.Contains(rs, `iifname "lo"`) {
		t.Errorf("outbound rule or loopback rule on forward hook:\n%s", rs)
	}
	// Priority order, not input order; established first.
	order := []string{"ct state established,related accept", "Deny-Internet", "Allow-SSH", "AllowVnetInBound", "DenyAllInBound"}
	for i := 1; i < len(order); i++ {
		if strings.Index(rs, order[i-1]) > strings.Index(rs, order[i]) {
			t.Errorf("%s after %s:\n%s", order[i-1], order[i], rs)
		}
	}
	if rs, _ := NFTInbound("t", "input", nil, nil, ""); strings.Contains(rs, "drop") || !strings.Contains(rs, `iifname "lo" accept`) {
		t.Errorf("nil NSG must filter nothing:\n%s", rs)
	}
	for name, call := range map[string]func() error{
		"table": func() error { _, err := NFTInbound("x; flush ruleset", "input", n, nil, ""); return err },
		"hook":  func() error { _, err := NFTInbound("t", "output", n, nil, ""); return err },
		"scope": func() error { _, err := NFTInbound("t", "forward", n, nil, "10.0.1/24"); return err },
		"vnet":  func() error { _, err := NFTInbound("t", "input", n, []string{"x"}, ""); return err },
		"rule": func() error {
			_, err := NFTInbound("t", "input", nsg("n", in("Bad", 100, cloud.Allow, "Foo", "*", "*")), nil, "")
			return err
		},
		"prefix": func() error {
			_, err := NFTInbound("t", "input", nsg("n", in("Bad", 100, cloud.Allow, "Tcp", "1.2.3.4/40", "*")), nil, "")
			return err
		},
	} {
		if call() == nil {
			t.Errorf("bad %s accepted", name)
		}
	}
	if got := NFTDelete("sdnsg"); got != "table inet sdnsg {}\ndelete table inet sdnsg\n" {
		t.Errorf("NFTDelete = %q", got)
	}
}

// TestNFTReal applies rendered rulesets in a throwaway server namespace and
// checks that real TCP connects from the client namespace get exactly the
// verdict Evaluate gives for the same flow.
func TestNFTReal(t *testing.T) {
	n := sshdtest.NewNetns(t)
	ports := []int{22, 2222}
	for _, p := range ports {
		n.Start(t, n.Server, "perl", "-MIO::Socket::INET", "-e",
			fmt.Sprintf(`$s=IO::Socket::INET->new(LocalAddr=>"%s:%d",Listen=>50,ReuseAddr=>1) or die $!; while($c=$s->accept){close $c}`, n.ServerIP, p))
	}
	connect := func(port int) bool {
		_, err := n.ExecErr(n.Client, "timeout", "1", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", n.ServerIP, port))
		return err == nil
	}
	// Both listeners up before any filtering, or "closed" would prove nothing.
	for _, p := range ports {
		for deadline := time.Now().Add(5 * time.Second); !connect(p); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("listener on %d never came up", p)
			}
		}
	}
	client := n.ClientIP
	outside := []string{"10.0.0.0/16"}    // the client counts as Internet
	inside := []string{"198.51.100.0/24"} // the client is in the vnet
	cases := []struct {
		name      string
		nsg       *cloud.NSG
		vnet      []string
		want      [2]bool // 22, 2222
		reapplies int
	}{
		{"default only, internet source", nsg("n"), outside, [2]bool{false, false}, 1},
		{"default only, vnet source", nsg("n"), inside, [2]bool{true, true}, 1},
		{"allow 22 from client", nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", client+"/32", "22")), outside, [2]bool{true, false}, 2},
		{"deny 22 above allow", nsg("n", in("Deny-SSH", 100, cloud.Deny, "Tcp", "*", "22"), in("Allow-SSH", 200, cloud.Allow, "Tcp", client, "22")), outside, [2]bool{false, false}, 1},
		{"allow from wrong source", nsg("n", in("Allow-SSH", 100, cloud.Allow, "Tcp", "192.0.2.0/24", "22,2222")), outside, [2]bool{false, false}, 1},
		{"internet tag and range", nsg("n", in("Deny-SSH", 100, cloud.Deny, "*", "*", "22"), in("Allow-Range", 110, cloud.Allow, "*", "Internet", "2000-3000")), outside, [2]bool{false, true}, 1},
		{"vnet denied explicitly", nsg("n", in("Deny-VNet", 100, cloud.Deny, "Tcp", "VirtualNetwork", "2222")), inside, [2]bool{true, false}, 1},
	}
	for _, c := range cases {
		rs, err := NFTInbound("sdnsg", "input", c.nsg, c.vnet, "")
		if err != nil {
			t.Fatal(err)
		}
		for range c.reapplies {
			n.Nft(t, n.Server, rs)
		}
		p := mustCompile(t, &cloud.EffectiveNSGs{NIC: c.nsg, VNetPrefixes: c.vnet})
		var got [2]bool
		var wg sync.WaitGroup
		for i, port := range ports {
			wg.Go(func() { got[i] = connect(port) })
		}
		wg.Wait()
		for i, port := range ports {
			v := p.Evaluate(flow("Tcp", client, n.ServerIP, port))
			if v.Allowed != c.want[i] {
				t.Errorf("%s: Evaluate(:%d) = %v, want allowed=%v", c.name, port, v, c.want[i])
			}
			if got[i] != v.Allowed {
				t.Errorf("%s: port %d: connect succeeded=%v but Evaluate says %v\n%s", c.name, port, got[i], v, rs)
			}
		}
		if c.reapplies > 1 {
			if tables := n.Exec(t, n.Server, "nft", "list", "tables"); strings.Count(tables, "table inet sdnsg") != 1 {
				t.Errorf("after re-applying: %q", tables)
			}
		}
	}
	n.Nft(t, n.Server, NFTDelete("sdnsg"))
	if tables := n.Exec(t, n.Server, "nft", "list", "tables"); strings.Contains(tables, "sdnsg") {
		t.Errorf("table still there after NFTDelete: %q", tables)
	}
	n.Nft(t, n.Server, NFTDelete("sdnsg")) // deleting a missing table is fine
	for _, p := range ports {
		if !connect(p) {
			t.Errorf("port %d closed after NFTDelete", p)
		}
	}
}

// TestNFTAccepted has nft itself parse the renderer's harder cases: both
// families, every tag, "*" with ports, Icmp, source ports, the forward
// hook with a scope, and a rule that can match nothing.
func TestNFTAccepted(t *testing.T) {
	n := sshdtest.NewNetns(t)
	r1 := rl("Mixed", 100, cloud.Inbound, cloud.Allow, "*", "Internet,10.0.0.0/24,2001:db8::/32", "VirtualNetwork,AzureLoadBalancer", "22,80-90,85,1000-2000")
	r1.SourcePortRanges = []string{"1024-65535"}
	r2 := rl("V4-to-V6", 110, cloud.Inbound, cloud.Deny, "Udp", "192.0.2.1", "2001:db8::1", "53")
	nsgs := nsg("n", r1, r2,
		in("Ping", 120, cloud.Allow, "Icmp", "*", "22"),
		in("Udp-Any", 130, cloud.Deny, "Udp", "198.51.100.7,198.51.100.0/24", "*"),
		in("V6-Only", 140, cloud.Allow, "Tcp", "fd00::/8", "22"))
	for _, c := range []struct {
		hook, scope string
		vnet        []string
	}{
		{"forward", "10.0.1.0/24", []string{"10.0.0.0/16", "fd00::/48"}},
		{"forward", "fd00:0:0:1::/64", []string{"10.0.0.0/16"}},
		{"input", "", nil},
	} {
		rs, err := NFTInbound("sdfwd", c.hook, nsgs, c.vnet, c.scope)
		if err != nil {
			t.Fatal(err)
		}
		n.Nft(t, n.Client, rs)
		got := n.Exec(t, n.Client, "nft", "list", "table", "inet", "sdfwd")
		for _, want := range []string{"hook " + c.hook, `comment "securityRules/Mixed"`, `comment "securityRules/V6-Only"`, `comment "defaultSecurityRules/DenyAllInBound"`} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: listing lacks %q:\n%s", c.hook, want, got)
			}
		}
		if strings.Contains(got, "V4-to-V6") {
			t.Errorf("a rule that cannot match was rendered:\n%s", got)
		}
	}
}
