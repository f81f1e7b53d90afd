package netpolicy

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

func readParsed(t testing.TB, name string) *ParsedNSG {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseNSG(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func ruleNamed(t testing.TB, n *cloud.NSG, name string) cloud.SecurityRule {
	t.Helper()
	for _, r := range n.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("nsg %s has no rule %q: %+v", n.Name, name, n.Rules)
	return cloud.SecurityRule{}
}

func TestParseNSGFiles(t *testing.T) {
	az := readParsed(t, "nic-nsg.az.json")
	if az.Shape != ShapeAZ || az.NSG.Name != "vm1-nsg" || len(az.NSG.Rules) != 5 || az.DefaultRules != 6 || az.Effective != nil {
		t.Errorf("az: shape %s nsg %+v defaults %d", az.Shape, az.NSG, az.DefaultRules)
	}
	if az.Info.ResourceGroup != "rg-web" || !strings.HasSuffix(az.Info.ID, "/networkSecurityGroups/vm1-nsg") {
		t.Errorf("az info %+v", az.Info)
	}
	ssh := ruleNamed(t, az.NSG, "AllowSSH")
	if !slices.Equal(ssh.SourceAddressPrefixes, []string{"203.0.113.0/24", "198.51.100.7"}) || !slices.Equal(ssh.DestinationPortRanges, []string{"22", "2222"}) ||
		!slices.Equal(ssh.DestinationAddressPrefixes, []string{"*"}) || ssh.Priority != 100 || ssh.Direction != cloud.Inbound || ssh.Access != cloud.Allow || ssh.Protocol != "Tcp" {
		t.Errorf("az AllowSSH %+v", ssh)
	}
	if r := ruleNamed(t, az.NSG, "AllowWebRange"); !slices.Equal(r.SourceAddressPrefixes, []string{"Internet"}) || !slices.Equal(r.DestinationPortRanges, []string{"8000-8100"}) {
		t.Errorf("singular fields: %+v", r)
	}

	arm := readParsed(t, "subnet-nsg.arm.json")
	if arm.Shape != ShapeARM || arm.NSG.Name != "snet-web-nsg" || len(arm.NSG.Rules) != 4 || arm.DefaultRules != 3 || arm.Info.ResourceGroup != "rg-web" {
		t.Errorf("arm: shape %s nsg %+v defaults %d info %+v", arm.Shape, arm.NSG, arm.DefaultRules, arm.Info)
	}
	if r := ruleNamed(t, arm.NSG, "AllowWeb"); !slices.Equal(r.DestinationPortRanges, []string{"80", "443", "8000-8100"}) {
		t.Errorf("arm AllowWeb %+v", r)
	}

	eff := readParsed(t, "effective-nsg.json")
	e := eff.Effective
	if eff.Shape != ShapeEffective || eff.NSG != nil || e == nil || e.Subnet == nil || e.NIC == nil {
		t.Fatalf("effective: %+v", eff)
	}
	if e.Subnet.Name != "snet-web-nsg" || e.NIC.Name != "vm1-nsg" || len(e.Subnet.Rules) != 4 || len(e.NIC.Rules) != 3 || eff.DefaultRules != 12 {
		t.Errorf("effective levels: subnet %+v nic %+v defaults %d", e.Subnet, e.NIC, eff.DefaultRules)
	}
	if !slices.Equal(e.VNetPrefixes, []string{"10.1.0.0/16", "168.63.129.16/32"}) {
		t.Errorf("vnet %v", e.VNetPrefixes)
	}
	if !strings.HasSuffix(eff.SubnetInfo.Association, "/subnets/snet-web") || !strings.HasSuffix(eff.NICInfo.Association, "/networkInterfaces/vm1-nic") || eff.NICInfo.ResourceGroup != "rg-web" {
		t.Errorf("associations %+v %+v", eff.SubnetInfo, eff.NICInfo)
	}
	all := ruleNamed(t, e.Subnet, "AllowAll") // "securityRules/" prefix stripped
	if all.Protocol != "*" || !slices.Equal(all.DestinationPortRanges, []string{"0-65535"}) {
		t.Errorf("effective AllowAll %+v", all)
	}
	if got := eff.Tags["AzureCloud.WestEurope"]; !slices.Equal(got, []string{"20.50.0.0/16", "52.236.0.0/15"}) {
		t.Errorf("tags %v", eff.Tags)
	}

	asg := readParsed(t, "asg-nsg.arm.json")
	web := ruleNamed(t, asg.NSG, "AllowSSHToWeb")
	if len(web.DestinationAddressPrefixes) != 1 || !IsASG(web.DestinationAddressPrefixes[0]) || ASGName(web.DestinationAddressPrefixes[0]) != "asg-web" {
		t.Errorf("ASG rule %+v", web)
	}
	if r := ruleNamed(t, asg.NSG, "AllowSSHFromBastion"); ASGName(r.SourceAddressPrefixes[0]) != "asg-bastion" {
		t.Errorf("source ASG rule %+v", r)
	}
}

func TestParseNSGInline(t *testing.T) {
	cases := []struct {
		name, doc string
		shape     Shape
		check     func(t *testing.T, p *ParsedNSG)
	}{
		{"plural wins when non-empty", `{"name":"n","securityRules":[{"name":"r","priority":100,"direction":"inbound","access":"allow","protocol":"TCP",
			"sourceAddressPrefix":"10.0.0.0/8","sourceAddressPrefixes":["192.0.2.1","192.0.2.2"],"destinationAddressPrefix":"*","destinationAddressPrefixes":[],
			"sourcePortRange":"*","destinationPortRange":"22","destinationPortRanges":null}]}`, ShapeAZ,
			func(t *testing.T, p *ParsedNSG) {
				r := p.NSG.Rules[0]
				if !slices.Equal(r.SourceAddressPrefixes, []string{"192.0.2.1", "192.0.2.2"}) || !slices.Equal(r.DestinationAddressPrefixes, []string{"*"}) ||
					!slices.Equal(r.DestinationPortRanges, []string{"22"}) || r.Direction != cloud.Inbound || r.Access != cloud.Allow || r.Protocol != "Tcp" {
					t.Errorf("%+v", r)
				}
			}},
		{"PowerShell PascalCase with lists", `{"Name":"psnsg","ResourceGroupName":"rg","SecurityRules":[{"Name":"ssh","Priority":100,"Direction":"Inbound","Access":"Allow","Protocol":"Tcp",
			"SourceAddressPrefix":["203.0.113.0/24"],"DestinationAddressPrefix":["*"],"SourcePortRange":["*"],"DestinationPortRange":["22"],
			"SourceApplicationSecurityGroups":[],"DestinationApplicationSecurityGroups":[]}],"DefaultSecurityRules":[]}`, ShapeAZ,
			func(t *testing.T, p *ParsedNSG) {
				r := p.NSG.Rules[0]
				if p.NSG.Name != "psnsg" || r.Name != "ssh" || r.SourceAddressPrefixes[0] != "203.0.113.0/24" || r.DestinationPortRanges[0] != "22" {
					t.Errorf("%+v %+v", p.NSG, r)
				}
			}},
		{"rule list names its NSG from the id", `[{"name":"ssh","id":"/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg-a/securityRules/ssh",
			"priority":"100","direction":"Inbound","access":"Allow","protocol":"Tcp","sourceAddressPrefix":"*","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"22"}]`, ShapeRuleList,
			func(t *testing.T, p *ParsedNSG) {
				if p.NSG.Name != "nsg-a" || p.Info.ResourceGroup != "rg1" || p.NSG.Rules[0].Priority != 100 || !strings.HasSuffix(p.Info.ID, "/networkSecurityGroups/nsg-a") {
					t.Errorf("%+v %+v", p.NSG, p.Info)
				}
			}},
		{"array of one NSG", `[{"name":"one","properties":{"securityRules":[]}}]`, ShapeARM,
			func(t *testing.T, p *ParsedNSG) {
				if p.NSG.Name != "one" || len(p.NSG.Rules) != 0 {
					t.Errorf("%+v", p.NSG)
				}
			}},
		{"REST list of one NSG", `{"value":[{"name":"one","id":"/subscriptions/s/resourceGroups/rgx/providers/Microsoft.Network/networkSecurityGroups/one","properties":{}}]}`, ShapeARM,
			func(t *testing.T, p *ParsedNSG) {
				if p.NSG.Name != "one" || p.Info.ResourceGroup != "rgx" {
					t.Errorf("%+v %+v", p.NSG, p.Info)
				}
			}},
		{"default rules listed among user rules", `{"name":"n","securityRules":[{"name":"DenyAllInBound","priority":65500,"direction":"Inbound","access":"Deny","protocol":"*",
			"sourceAddressPrefix":"*","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"*"}]}`, ShapeAZ,
			func(t *testing.T, p *ParsedNSG) {
				if len(p.NSG.Rules) != 0 || p.DefaultRules != 1 {
					t.Errorf("%+v", p)
				}
			}},
		{"missing ports become * with a warning", `{"name":"n","securityRules":[{"name":"r","priority":100,"direction":"Inbound","access":"Allow","protocol":"Tcp","sourceAddressPrefix":"*","destinationAddressPrefix":"*"}]}`, ShapeAZ,
			func(t *testing.T, p *ParsedNSG) {
				r := p.NSG.Rules[0]
				if r.SourcePortRanges[0] != "*" || r.DestinationPortRanges[0] != "*" || len(p.Warnings) != 1 {
					t.Errorf("%+v %v", r, p.Warnings)
				}
			}},
		{"effective: single entry, tagMap as a string, no association", `{"effectiveSecurityRules":[{"name":"UserRule_ssh","priority":100,"direction":"Inbound","access":"Allow","protocol":"All",
			"sourceAddressPrefix":"VirtualNetwork","destinationAddressPrefix":"0.0.0.0/0","sourcePortRange":"0-65535","destinationPortRange":"22-22"},
			{"name":"DefaultRule_DenyAllInBound","priority":65500,"direction":"Inbound","access":"Deny","protocol":"All","sourceAddressPrefix":"0.0.0.0/0","destinationAddressPrefix":"0.0.0.0/0","sourcePortRange":"0-65535","destinationPortRange":"0-65535"}],
			"tagMap":"{\"VirtualNetwork\":[\"10.9.0.0/16\"]}"}`, ShapeEffective,
			func(t *testing.T, p *ParsedNSG) {
				e := p.Effective
				if e.NIC == nil || e.Subnet != nil || e.NIC.Rules[0].Name != "ssh" || e.NIC.Rules[0].Protocol != "*" || p.DefaultRules != 1 || len(e.NIC.Rules) != 1 {
					t.Errorf("%+v", e.NIC)
				}
				if !slices.Equal(e.VNetPrefixes, []string{"10.9.0.0/16"}) || len(p.Warnings) != 2 {
					t.Errorf("vnet %v warnings %v", e.VNetPrefixes, p.Warnings)
				}
			}},
		{"effective: a side given only by its expansion", `{"value":[{"association":{"subnet":{"id":"/s/snet"}},"networkSecurityGroup":{"id":"/x/networkSecurityGroups/sn"},
			"effectiveSecurityRules":[{"name":"securityRules/toWeb","priority":100,"direction":"Inbound","access":"Allow","protocol":"Tcp",
			"sourceAddressPrefix":"*","destinationAddressPrefix":null,"destinationAddressPrefixes":[],"expandedDestinationAddressPrefix":["10.9.0.4/32","10.9.0.5/32"],
			"sourcePortRange":"0-65535","destinationPortRange":"22-22"}]}]}`, ShapeEffective,
			func(t *testing.T, p *ParsedNSG) {
				r := p.Effective.Subnet.Rules[0]
				if p.Effective.Subnet.Name != "sn" || !slices.Equal(r.DestinationAddressPrefixes, []string{"10.9.0.4/32", "10.9.0.5/32"}) {
					t.Errorf("%+v", r)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseNSG([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if p.Shape != c.shape {
				t.Errorf("shape %s, want %s", p.Shape, c.shape)
			}
			c.check(t, p)
		})
	}
}

func TestParseNSGErrors(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"empty":            {"", "empty input"},
		"not JSON":         {"nsg: yes", "not JSON"},
		"trailing data":    {`{"name":"n","securityRules":[]} {}`, "data after"},
		"scalar":           {`42`, "not a JSON object or array"},
		"unknown object":   {`{"name":"vm1","vmSize":"Standard_B1s"}`, "unknown shape"},
		"unknown array":    {`[1,2]`, "unknown shape"},
		"empty array":      {`[]`, "empty list"},
		"two NSGs":         {`[{"name":"a","securityRules":[]},{"name":"b","securityRules":[]}]`, "holds 2 NSGs (a, b)"},
		"route table":      {`{"name":"rt","properties":{"routes":[]}}`, "route table"},
		"ARM template":     {`{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","resources":[]}`, "ARM template is not supported"},
		"rules not a list": {`{"name":"n","securityRules":{}}`, "not a list"},
		"rule no priority": {`{"name":"n","securityRules":[{"name":"r","direction":"Inbound"}]}`, `rule "r": no numeric priority`},
		"rule no name":     {`{"name":"n","securityRules":[{"priority":100}]}`, "without a name"},
		"priority float":   {`{"name":"n","securityRules":[{"name":"r","priority":100.5}]}`, "no numeric priority"},
		"two NIC entries":  {`{"value":[{"association":{"networkInterface":{"id":"/a"}},"effectiveSecurityRules":[]},{"association":{"networkInterface":{"id":"/b"}},"effectiveSecurityRules":[]}]}`, "two effective rules entries for the NIC"},
	}
	for name, c := range cases {
		_, err := ParseNSG([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", name, err)
		}
	}
}

// verifyCase evaluates one flow on NSG files, as `sshdoctor nsg verify`
// does: resolve tags, compile, evaluate.
type verifyCase struct {
	name        string
	subnet, nic string // testdata files; an effective file in nic holds both levels
	vnet        []string
	f           Flow
	allowed     bool
	nsg, rule   string
}

func loadEffective(t testing.TB, subnet, nic string, vnet []string) (*cloud.EffectiveNSGs, []Unresolved) {
	t.Helper()
	p := readParsed(t, nic)
	e := p.EffectiveNSGs()
	tags := p.Tags
	if subnet != "" {
		e.Subnet = readParsed(t, subnet).NSG
	}
	if vnet != nil {
		e.VNetPrefixes = vnet
	}
	return ResolveTags(e, tags)
}

func TestVerifyFiles(t *testing.T) {
	const vm = "10.1.0.4"
	vnet16 := []string{"10.1.0.0/16"}
	withASG := func(f Flow, src, dst []string) Flow { f.SourceASGs, f.DestinationASGs = src, dst; return f }
	cases := []verifyCase{
		// ARM subnet NSG + az NIC NSG.
		{"corp allowed by both, priority 100 in both levels", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 22), true, "nic/vm1-nsg", "securityRules/AllowSSH"},
		{"subnet deny + NIC allow", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "198.51.100.7", vm, 22), false, "subnet/snet-web-nsg", "securityRules/DenySSHFromInternet"},
		{"port list: 2222 allowed by NIC, subnet default denies", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 2222), false, "subnet/snet-web-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"port list: 2222 on the NIC alone", "", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 2222), true, "nic/vm1-nsg", "securityRules/AllowSSH"},
		{"port range inside both", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 8050), true, "nic/vm1-nsg", "securityRules/AllowWebRange"},
		{"port range edge", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 8100), true, "nic/vm1-nsg", "securityRules/AllowWebRange"},
		{"port range outside", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 8101), false, "subnet/snet-web-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"port list entry 443 on subnet, NIC default denies", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 443), false, "nic/vm1-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"protocol * rule denies UDP", "", "nic-nsg.az.json", vnet16, flow("Udp", "10.1.0.9", vm, 3389), false, "nic/vm1-nsg", "securityRules/DenyRDP"},
		{"protocol * rule with a port matches ICMP (ports ignored)", "", "nic-nsg.az.json", vnet16, flow("Icmp", "10.1.0.9", vm, 0), false, "nic/vm1-nsg", "securityRules/DenyRDP"},
		{"default rule: vnet allowed", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "10.1.0.9", vm, 22), true, "nic/vm1-nsg", "defaultSecurityRules/AllowVnetInBound"},
		{"default rule: vnet tag follows --vnet", "", "nic-nsg.az.json", []string{"10.2.0.0/16"}, flow("Tcp", "10.1.0.9", vm, 22), false, "nic/vm1-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"default rule: load balancer probe", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "168.63.129.16", vm, 9000), true, "nic/vm1-nsg", "defaultSecurityRules/AllowAzureLoadBalancerInBound"},
		{"service tag Internet excludes vnet", "", "subnet-nsg.arm.json", vnet16, flow("Tcp", "10.1.0.9", vm, 22), true, "nic/snet-web-nsg", "defaultSecurityRules/AllowVnetInBound"},
		{"unknown service tag matches nothing", "subnet-nsg.arm.json", "nic-nsg.az.json", vnet16, flow("Tcp", "203.0.113.5", vm, 65200), false, "subnet/snet-web-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"outbound: unknown tag dropped, Internet denied", "", "nic-nsg.az.json", vnet16, out(flow("Tcp", vm, "52.239.1.1", 443)), false, "nic/vm1-nsg", "securityRules/DenyInternetOut"},
		// Effective rules: both levels, vnet and tag expansions from the file.
		{"effective: corp allowed", "", "effective-nsg.json", nil, flow("Tcp", "203.0.113.5", vm, 22), true, "nic/vm1-nsg", "securityRules/AllowSSH"},
		{"effective: subnet denies internet", "", "effective-nsg.json", nil, flow("Tcp", "198.51.100.7", vm, 22), false, "subnet/snet-web-nsg", "securityRules/DenySSHFromInternet"},
		{"effective: service tag expanded", "", "effective-nsg.json", nil, flow("Tcp", "20.50.1.1", vm, 22), true, "nic/vm1-nsg", "securityRules/AllowSSHAzure"},
		{"effective: expansion boundary", "", "effective-nsg.json", nil, flow("Tcp", "20.51.1.1", vm, 22), false, "subnet/snet-web-nsg", "securityRules/DenySSHFromInternet"},
		{"effective: 0-65535 and All", "", "effective-nsg.json", nil, flow("Udp", "203.0.113.5", vm, 53), false, "nic/vm1-nsg", "securityRules/DenyAll"},
		{"effective: vnet from tagMap", "", "effective-nsg.json", nil, flow("Tcp", "10.1.3.3", vm, 22), false, "nic/vm1-nsg", "securityRules/DenyAll"},
		// Application security groups.
		{"ASG: destination member", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "203.0.113.5", vm, 22), nil, []string{"asg-web"}), true, "nic/app-nsg", "securityRules/AllowSSHToWeb"},
		{"ASG: destination member by ID, other case", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "203.0.113.5", vm, 22), nil,
			[]string{"/SUBSCRIPTIONS/00000000-1111-2222-3333-444444444444/resourceGroups/RG-WEB/providers/Microsoft.Network/applicationSecurityGroups/ASG-WEB"}), true, "nic/app-nsg", "securityRules/AllowSSHToWeb"},
		{"ASG: not a member", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "203.0.113.5", vm, 22), nil, []string{"asg-db"}), false, "nic/app-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"ASG: no memberships", "", "asg-nsg.arm.json", vnet16, flow("Tcp", "203.0.113.5", vm, 22), false, "nic/app-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"ASG: wrong ID, right name", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "203.0.113.5", vm, 22), nil, []string{"/subscriptions/other/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg-web"}), false, "nic/app-nsg", "defaultSecurityRules/DenyAllInBound"},
		{"ASG: source member", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "10.1.9.9", vm, 22), []string{"asg-bastion"}, nil), true, "nic/app-nsg", "securityRules/AllowSSHFromBastion"},
		{"ASG: source not a member", "", "asg-nsg.arm.json", vnet16, withASG(flow("Tcp", "10.1.9.9", vm, 22), []string{"asg-web"}, nil), false, "nic/app-nsg", "securityRules/DenyVnetSSH"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := loadEffective(t, c.subnet, c.nic, c.vnet)
			p := mustCompile(t, e)
			v := p.Evaluate(c.f)
			if v.Allowed != c.allowed || v.DecidingNSG != c.nsg || v.DecidingRule != c.rule {
				t.Errorf("Evaluate = %v, want allowed=%v by %s %s\ntrace %+v", v, c.allowed, c.nsg, c.rule, v.Trace)
			}
			if a, r := p.Allowed(c.f); a != v.Allowed || r != v.DecidingRule {
				t.Errorf("Allowed = %v %q, Evaluate %v", a, r, v)
			}
		})
	}
}

func TestResolveTags(t *testing.T) {
	e := &cloud.EffectiveNSGs{NIC: nsg("n",
		in("OnlyTag", 100, cloud.Allow, "Tcp", "GatewayManager", "443"),
		in("TagAndCIDR", 110, cloud.Deny, "Tcp", "AzureCloud,192.0.2.0/24", "22"),
		in("Expanded", 120, cloud.Allow, "Tcp", "Storage", "22"),
		in("Builtin", 130, cloud.Allow, "Tcp", "VirtualNetwork,Internet,AzureLoadBalancer,*", "22"),
		in("Bad", 140, cloud.Allow, "Tcp", "10.0.0.300", "22"),
	)}
	r, notes := ResolveTags(e, map[string][]string{"storage": {"52.239.0.0/16"}, "VirtualNetwork": {"10.0.0.0/8"}})
	names := []string{}
	for _, x := range r.NIC.Rules {
		names = append(names, x.Name)
	}
	if !slices.Equal(names, []string{"TagAndCIDR", "Expanded", "Builtin", "Bad"}) {
		t.Errorf("rules kept %v", names)
	}
	if got := ruleNamed(t, r.NIC, "TagAndCIDR").SourceAddressPrefixes; !slices.Equal(got, []string{"192.0.2.0/24"}) {
		t.Errorf("TagAndCIDR %v", got)
	}
	if got := ruleNamed(t, r.NIC, "Expanded").SourceAddressPrefixes; !slices.Equal(got, []string{"52.239.0.0/16"}) {
		t.Errorf("Expanded %v", got)
	}
	if got := ruleNamed(t, r.NIC, "Builtin").SourceAddressPrefixes; len(got) != 4 {
		t.Errorf("Builtin %v", got)
	}
	if len(notes) != 2 || notes[0].Entry != "GatewayManager" || !notes[0].RuleDropped || notes[1].Entry != "AzureCloud" || notes[1].RuleDropped ||
		notes[0].NSG != "nic/n" || notes[0].Rule != "securityRules/OnlyTag" || notes[0].Side != "source" {
		t.Errorf("notes %+v", notes)
	}
	if len(e.NIC.Rules) != 5 || e.NIC.Rules[1].SourceAddressPrefixes[0] != "AzureCloud" {
		t.Error("ResolveTags modified its input")
	}
	if _, err := Compile(r); err == nil || !strings.Contains(err.Error(), `"Bad"`) {
		t.Errorf("malformed address must still fail Compile: %v", err)
	}
}

func TestASGEngine(t *testing.T) {
	const web = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web"
	const db = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/db"
	n := nsg("n",
		rl("DenyDB", 100, cloud.Inbound, cloud.Deny, "Tcp", "*", db, "22"),
		rl("AllowWeb", 110, cloud.Inbound, cloud.Allow, "Tcp", "*", web+",10.9.9.9", "22"),
		rl("AllowWebToWeb", 120, cloud.Inbound, cloud.Allow, "*", web, web, "*"),
	)
	p := mustCompile(t, &cloud.EffectiveNSGs{NIC: n, VNetPrefixes: vnet})
	f := func(src string, srcASG, dstASG []string, dport int) Flow {
		g := flow("Tcp", src, "10.0.0.4", dport)
		g.SourceASGs, g.DestinationASGs = srcASG, dstASG
		return g
	}
	cases := []struct {
		name    string
		f       Flow
		allowed bool
		rule    string
	}{
		{"member of web", f("203.0.113.5", nil, []string{"web"}, 22), true, "securityRules/AllowWeb"},
		{"member of db and web: deny first", f("203.0.113.5", nil, []string{"web", "db"}, 22), false, "securityRules/DenyDB"},
		{"trailing slash and case", f("203.0.113.5", nil, []string{strings.ToUpper(web) + "/"}, 22), true, "securityRules/AllowWeb"},
		{"prefix beside the ASG", f("203.0.113.5", nil, nil, 22), false, "defaultSecurityRules/DenyAllInBound"},
		{"both sides", f("203.0.113.5", []string{"web"}, []string{"web"}, 8080), true, "securityRules/AllowWebToWeb"},
		{"source side only", f("203.0.113.5", []string{"web"}, nil, 8080), false, "defaultSecurityRules/DenyAllInBound"},
		{"empty membership string", f("203.0.113.5", nil, []string{"", "/"}, 22), false, "defaultSecurityRules/DenyAllInBound"},
	}
	for _, c := range cases {
		v := p.Evaluate(c.f)
		a, r := p.Allowed(c.f)
		if v.Allowed != c.allowed || v.DecidingRule != c.rule || a != c.allowed || r != c.rule {
			t.Errorf("%s: Evaluate %v, Allowed %v %q; want %v %q", c.name, v, a, r, c.allowed, c.rule)
		}
	}
	// Destination 10.9.9.9 matches AllowWeb by address, without ASGs.
	g := f("203.0.113.5", nil, nil, 22)
	g.Destination = netip.MustParseAddr("10.9.9.9")
	if a, r := p.Allowed(g); !a || r != "securityRules/AllowWeb" {
		t.Errorf("address beside ASG: %v %q", a, r)
	}
	// ASG memberships do not make Allowed allocate.
	h := f("203.0.113.5", []string{"web"}, []string{"web"}, 8080)
	if n := testing.AllocsPerRun(100, func() { p.Allowed(h) }); n != 0 {
		t.Errorf("Allowed with ASGs allocates %v times", n)
	}
	// The lab cannot enforce ASGs: such a side renders no nft rule.
	rs, err := NFTInbound("t", "input", n, vnet, "")
	if err != nil || strings.Contains(rs, "DenyDB\" ") || !strings.Contains(rs, "securityRules/DenyDB matches no address here") || !strings.Contains(rs, `ip daddr 10.9.9.9 tcp dport 22 counter accept comment "securityRules/AllowWeb"`) {
		t.Errorf("nft: %v\n%s", err, rs)
	}
}

func TestEspAh(t *testing.T) {
	n := nsg("n", in("AllowEsp", 100, cloud.Allow, "Esp", "*", "500"), in("DenyAh", 110, cloud.Deny, "ah", "*", "*"), in("Deny22", 120, cloud.Deny, "*", "*", "22"))
	p := mustCompile(t, &cloud.EffectiveNSGs{NIC: n, VNetPrefixes: vnet})
	for _, c := range []struct {
		f       Flow
		allowed bool
		rule    string
	}{
		{flow("Esp", "203.0.113.5", "10.0.0.4", 0), true, "securityRules/AllowEsp"}, // ports do not apply
		{flow("AH", "203.0.113.5", "10.0.0.4", 0), false, "securityRules/DenyAh"},
		{flow("Tcp", "10.0.0.9", "10.0.0.4", 22), false, "securityRules/Deny22"},
	} {
		v := p.Evaluate(c.f)
		if a, r := p.Allowed(c.f); v.Allowed != c.allowed || v.DecidingRule != c.rule || a != c.allowed || r != c.rule {
			t.Errorf("%s: %v / %v %q", c.f.Protocol, v, a, r)
		}
	}
	rs, err := NFTInbound("t", "input", n, vnet, "")
	if err != nil || !strings.Contains(rs, `meta l4proto esp counter accept comment "securityRules/AllowEsp"`) || !strings.Contains(rs, "meta l4proto ah counter drop") ||
		!strings.Contains(rs, `meta l4proto { icmp, ipv6-icmp, esp, ah } counter drop comment "securityRules/Deny22"`) {
		t.Errorf("nft: %v\n%s", err, rs)
	}
	r, err := SuggestAllow(nsg("n"), flow("Esp", "203.0.113.5", "10.0.0.4", 0), 65500)
	if err != nil || r.Protocol != "Esp" || r.DestinationPortRanges[0] != "*" {
		t.Errorf("SuggestAllow Esp: %+v %v", r, err)
	}
}

func TestSuggestFix(t *testing.T) {
	e, _ := loadEffective(t, "", "effective-nsg.json", nil)
	f := flow("Tcp", "198.51.100.7", "10.1.0.4", 22)
	fixes, err := SuggestFix(e, f)
	if err != nil {
		t.Fatal(err)
	}
	// The subnet denies at 300 (200 is taken: 290); then the NIC's DenyAll
	// at 4000 would deny too (3900).
	if len(fixes) != 2 || fixes[0].Level != "subnet" || fixes[0].NSG != "snet-web-nsg" || fixes[0].Rule.Priority != 290 ||
		fixes[1].Level != "nic" || fixes[1].NSG != "vm1-nsg" || fixes[1].Rule.Priority != 3900 {
		t.Fatalf("fixes %+v", fixes)
	}
	if len(e.Subnet.Rules) != 4 || len(e.NIC.Rules) != 3 {
		t.Error("SuggestFix modified its input")
	}
	e.Subnet.Rules = append(e.Subnet.Rules, fixes[0].Rule)
	e.NIC.Rules = append(e.NIC.Rules, fixes[1].Rule)
	if v := mustCompile(t, e).Evaluate(f); !v.Allowed {
		t.Errorf("still denied with the fixes: %v", v)
	}
	if fx, err := SuggestFix(e, f); err != nil || fx != nil {
		t.Errorf("allowed flow: %v %v", fx, err)
	}
	// A deny at priority 100 leaves no room for an allow rule: it moves to
	// 101 and the allow rule takes 100.
	e2 := &cloud.EffectiveNSGs{NIC: nsg("n", in("DenySSH", 100, cloud.Deny, "Tcp", "*", "22")), VNetPrefixes: vnet}
	fixes, err = SuggestFix(e2, flow("Tcp", "203.0.113.5", "10.0.0.4", 22))
	if err != nil || len(fixes) != 1 || fixes[0].Rule.Priority != 100 || fixes[0].Renumber == nil || fixes[0].Renumber.Name != "DenySSH" || fixes[0].Renumber.Priority != 101 {
		t.Errorf("fixes %+v, err = %v", fixes, err)
	}
	// With 101 taken too, only editing the deny rule is left.
	e2.NIC.Rules = append(e2.NIC.Rules, in("Other", 101, cloud.Allow, "Tcp", "10.9.0.0/16", "443"))
	if _, err := SuggestFix(e2, flow("Tcp", "203.0.113.5", "10.0.0.4", 22)); err == nil || !strings.Contains(err.Error(), "no free Inbound priority") {
		t.Errorf("err = %v", err)
	}
}

func TestAzRuleCreate(t *testing.T) {
	r, _ := SuggestAllow(nsg("vm1-nsg"), flow("Tcp", "203.0.113.5", "10.0.0.4", 22), 65500)
	got := AzRuleCreate("rg-web", "vm1-nsg", r)
	want := "az network nsg rule create --resource-group rg-web --nsg-name vm1-nsg --name Allow-SSH-from-203-0-113-5 --priority 4090 --direction Inbound --access Allow --protocol Tcp" +
		" --source-address-prefixes 203.0.113.5/32 --source-port-ranges '*' --destination-address-prefixes '*' --destination-port-ranges 22"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := AzRuleCreate("", "it's", r); !strings.Contains(got, `--resource-group "$RESOURCE_GROUP" --nsg-name 'it'\''s'`) {
		t.Errorf("quoting: %s", got)
	}
}

func TestRuleFor(t *testing.T) {
	e, _ := loadEffective(t, "subnet-nsg.arm.json", "nic-nsg.az.json", nil)
	v := mustCompile(t, e).Evaluate(flow("Tcp", "198.51.100.7", "10.1.0.4", 22))
	for _, s := range v.Trace {
		r, ok := RuleFor(e, s)
		if !ok || "securityRules/"+r.Name != s.Rule || r.Priority != s.Priority {
			t.Errorf("step %+v: %+v %v", s, r, ok)
		}
	}
	if r, ok := RuleFor(e, Step{NSG: "nic/vm1-nsg", Rule: "defaultSecurityRules/AllowVnetInBound", Priority: 65000}); !ok || !UsesTag(r, "virtualnetwork") {
		t.Errorf("default rule: %+v %v", r, ok)
	}
	if _, ok := RuleFor(e, Step{NSG: "nic/other", Rule: "securityRules/AllowSSH", Priority: 100}); ok {
		t.Error("found a rule in an unknown NSG")
	}
}
