package netpolicy

import (
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

func unevaluable(r cloud.SecurityRule, why string) cloud.SecurityRule {
	r.Unevaluable = why
	return r
}

func TestUnevaluableRulesMakeVerdictsUncertain(t *testing.T) {
	f := flow("Tcp", "203.0.113.9", "10.0.0.4", 22)
	cases := []struct {
		name      string
		rules     []cloud.SecurityRule
		allowed   bool
		uncertain []string
	}{
		{"unknown deny before the allow", []cloud.SecurityRule{
			unevaluable(in("TagDeny", 100, cloud.Deny, "Tcp", "AzureCloud", "22"), "service tag AzureCloud"),
			in("AllowSSH", 200, cloud.Allow, "Tcp", "*", "22"),
		}, true, []string{"securityRules/TagDeny"}},
		{"unknown rule after the decision", []cloud.SecurityRule{
			in("AllowSSH", 200, cloud.Allow, "Tcp", "*", "22"),
			unevaluable(in("TagDeny", 300, cloud.Deny, "Tcp", "AzureCloud", "22"), "service tag AzureCloud"),
		}, true, nil},
		{"unknown rule for another port", []cloud.SecurityRule{
			unevaluable(in("TagDeny", 100, cloud.Deny, "Tcp", "AzureCloud", "443"), "service tag AzureCloud"),
			in("AllowSSH", 200, cloud.Allow, "Tcp", "*", "22"),
		}, true, nil},
		{"unknown rule for ESP", []cloud.SecurityRule{
			unevaluable(in("IPsec", 100, cloud.Allow, "Esp", "AzureCloud", "*"), "service tag AzureCloud"),
		}, false, nil},
		{"unknown allow before the default deny", []cloud.SecurityRule{
			unevaluable(in("TagAllow", 150, cloud.Allow, "*", "GatewayManager", "*"), "service tag GatewayManager"),
		}, false, []string{"securityRules/TagAllow"}},
		{"protocol that does not parse could be anything", []cloud.SecurityRule{
			unevaluable(in("AVNM", 100, cloud.Deny, "Gre?", "*", "22"), "AVNM admin rule"),
		}, false, []string{"securityRules/AVNM"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(&cloud.EffectiveNSGs{NIC: nsg("n", c.rules...), VNetPrefixes: vnet})
			if err != nil {
				t.Fatal(err)
			}
			v := p.Evaluate(f)
			if v.Allowed != c.allowed {
				t.Errorf("allowed = %v, want %v (%s)", v.Allowed, c.allowed, v)
			}
			var got []string
			for _, u := range v.Uncertain {
				got = append(got, u.Rule)
			}
			if strings.Join(got, ",") != strings.Join(c.uncertain, ",") {
				t.Errorf("uncertain = %v, want %v", got, c.uncertain)
			}
			if len(c.uncertain) > 0 && !strings.Contains(v.String(), "uncertain") {
				t.Errorf("String() hides the uncertainty: %s", v)
			}
		})
	}
}

func TestUnevaluableRuleKeepsItsPriority(t *testing.T) {
	_, err := Compile(&cloud.EffectiveNSGs{NIC: nsg("n",
		unevaluable(in("TagDeny", 100, cloud.Deny, "Tcp", "AzureCloud", "22"), "tag"),
		in("AllowSSH", 100, cloud.Allow, "Tcp", "*", "22"),
	)})
	if err == nil || !strings.Contains(err.Error(), "share") {
		t.Fatalf("two rules at one priority must not compile: %v", err)
	}
	fixes, err := SuggestFix(&cloud.EffectiveNSGs{NIC: nsg("n",
		in("DenyAll", 102, cloud.Deny, "*", "*", "*"),
		unevaluable(in("TagDeny", 100, cloud.Deny, "Tcp", "AzureCloud", "22"), "tag"),
	), VNetPrefixes: vnet}, flow("Tcp", "203.0.113.9", "10.0.0.4", 22))
	if err != nil {
		t.Fatal(err)
	}
	if len(fixes) != 1 || fixes[0].Rule.Priority != 101 {
		t.Errorf("want one rule at 101 (100 is the unevaluable rule's): %+v", fixes)
	}
}

func TestResolveTagsUncertainKeepsUnknownTags(t *testing.T) {
	e := &cloud.EffectiveNSGs{NIC: nsg("n",
		in("OnlyTag", 100, cloud.Deny, "Tcp", "GatewayManager", "22"),
		in("Expanded", 120, cloud.Allow, "Tcp", "Storage", "22"),
	), VNetPrefixes: vnet}
	r, notes := ResolveTagsUncertain(e, map[string][]string{"Storage": {"52.239.0.0/16"}})
	if len(notes) != 1 || len(r.NIC.Rules) != 2 {
		t.Fatalf("notes %+v rules %+v", notes, r.NIC.Rules)
	}
	if u := ruleNamed(t, r.NIC, "OnlyTag"); !strings.Contains(u.Unevaluable, "GatewayManager") {
		t.Errorf("OnlyTag not marked: %+v", u)
	}
	if x := ruleNamed(t, r.NIC, "Expanded"); x.Unevaluable != "" || x.SourceAddressPrefixes[0] != "52.239.0.0/16" {
		t.Errorf("Expanded: %+v", x)
	}
	p, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Evaluate(flow("Tcp", "52.239.1.1", "10.0.0.4", 22)); !v.Allowed || len(v.Uncertain) != 1 {
		t.Errorf("verdict %s", v)
	}
}
