package netpolicy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

const jitName = "SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045"

func isJIT(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), "securitycenter-jitrule")
}

// deepCopy copies e through JSON: nothing of it is shared.
func deepCopy(t *testing.T, e *cloud.EffectiveNSGs) *cloud.EffectiveNSGs {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var c cloud.EffectiveNSGs
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// withID gives n an ID, which every fix for it must carry.
func withID(n *cloud.NSG, id string) *cloud.NSG { n.ID = id; return n }

// fillPriorities is an allow rule for another source at every user
// priority from lo to hi, skipping those in skip.
func fillPriorities(lo, hi int, skip ...int) []cloud.SecurityRule {
	var rs []cloud.SecurityRule
	for p := lo; p <= hi; p++ {
		if !containsInt(skip, p) {
			rs = append(rs, in(fmt.Sprintf("Other-%d", p), p, cloud.Allow, "Tcp", fmt.Sprintf("10.9.%d.%d/32", p/256, p%256), "443"))
		}
	}
	return rs
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// applyFixes applies fixes to e as a user would: the renumbered rule
// first, then the new one.
func applyFixes(t *testing.T, e *cloud.EffectiveNSGs, fixes []Fix) {
	t.Helper()
	for _, fx := range fixes {
		n := e.NIC
		if fx.Level == "subnet" {
			n = e.Subnet
		}
		if fx.Renumber != nil {
			found := false
			for i := range n.Rules {
				if n.Rules[i].Name == fx.Renumber.Name {
					n.Rules[i], found = *fx.Renumber, true
				}
			}
			if !found {
				t.Fatalf("renumbered rule %s not in %s", fx.Renumber.Name, n.Name)
			}
		}
		n.Rules = append(n.Rules, fx.Rule)
	}
}

func TestSuggestFixTable(t *testing.T) {
	client := flow("Tcp", "198.51.100.7", "10.0.0.4", 22)
	type want struct {
		level, nsgID string
		prio         int
		renumber     string // "NAME@PRIO", or ""
	}
	cases := []struct {
		name  string
		e     *cloud.EffectiveNSGs
		keep  func(string) bool
		fixes []want
		kept  *Kept
		err   string
	}{
		{
			name:  "user deny, free priority above",
			e:     &cloud.EffectiveNSGs{NIC: withID(nsg("nic-nsg", in("DenySSH", 1000, cloud.Deny, "Tcp", "*", "22")), "ids/nic"), VNetPrefixes: vnet},
			fixes: []want{{"nic", "ids/nic", 900, ""}},
		},
		{
			// The deny decides at 1000, though a later rule (2000) exists:
			// the allow rule must beat 1000, not the last rule looked at.
			name: "deny priority is the deciding rule's",
			e: &cloud.EffectiveNSGs{NIC: withID(nsg("nic-nsg",
				in("DenyAll", 2000, cloud.Deny, "*", "*", "*"),
				in("DenySSH", 1000, cloud.Deny, "Tcp", "*", "22"),
			), "ids/nic"), VNetPrefixes: vnet},
			fixes: []want{{"nic", "ids/nic", 900, ""}},
		},
		{
			name: "no free priority above a user deny: renumber",
			e: &cloud.EffectiveNSGs{NIC: withID(nsg("nic-nsg", append(fillPriorities(100, 101),
				in("DenySSH", 102, cloud.Deny, "Tcp", "*", "22"))...), "ids/nic"), VNetPrefixes: vnet},
			fixes: []want{{"nic", "ids/nic", 102, "DenySSH@103"}},
		},
		{
			name: "no free priority, next one taken",
			e: &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", in("DenySSH", 100, cloud.Deny, "Tcp", "*", "22"),
				in("Other", 101, cloud.Allow, "Tcp", "10.9.0.0/16", "443")), VNetPrefixes: vnet},
			err: "no free Inbound priority",
		},
		{
			name: "no free priority, opaque deny",
			e: &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", func() cloud.SecurityRule {
				r := in("DenySSH", 100, cloud.Deny, "Tcp", "*", "22")
				r.Opaque = true
				return r
			}()), VNetPrefixes: vnet},
			err: "no free Inbound priority",
		},
		{
			name: "no free priority, deny at 4096",
			e: &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", append(fillPriorities(100, 4095),
				in("DenySSH", 4096, cloud.Deny, "Tcp", "*", "22"))...), VNetPrefixes: vnet},
			err: "no free Inbound priority",
		},
		{
			name: "no free priority, default deny",
			e:    &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", fillPriorities(100, 4096)...), VNetPrefixes: vnet},
			err:  "no free Inbound priority",
		},
		{
			name: "default deny listed with the rules",
			e: &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", append(fillPriorities(100, 4096), func() cloud.SecurityRule {
				r := cloud.DefaultRules()[2] // DenyAllInBound
				return r
			}())...), VNetPrefixes: vnet},
			err: "no free Inbound priority",
		},
		{
			name: "both NSGs deny: subnet, then NIC",
			e: &cloud.EffectiveNSGs{
				Subnet:       withID(nsg("snet-nsg", in("DenySSH", 100, cloud.Deny, "Tcp", "*", "22")), "ids/subnet"),
				NIC:          withID(nsg("nic-nsg", in("DenyAll", 3000, cloud.Deny, "*", "*", "*")), "ids/nic"),
				VNetPrefixes: vnet,
			},
			fixes: []want{{"subnet", "ids/subnet", 100, "DenySSH@101"}, {"nic", "ids/nic", 2900, ""}},
		},
		{
			name:  "only the NIC denies",
			e:     &cloud.EffectiveNSGs{Subnet: nsg("snet-nsg", in("AllowSSH", 100, cloud.Allow, "Tcp", "*", "22")), NIC: withID(nsg("nic-nsg"), "ids/nic"), VNetPrefixes: vnet},
			fixes: []want{{"nic", "ids/nic", 4090, ""}}, // DenyAllInBound decides
		},
		{
			name:  "allowed",
			e:     &cloud.EffectiveNSGs{NIC: nsg("nic-nsg", in("AllowSSH", 100, cloud.Allow, "Tcp", "*", "22")), VNetPrefixes: vnet},
			fixes: nil,
		},
		{
			name: "keep: JIT deny in the first NSG",
			e: &cloud.EffectiveNSGs{
				Subnet: withID(nsg("snet-nsg", in(jitName, 1000, cloud.Deny, "*", "*", "22")), "ids/subnet"),
				NIC:    nsg("nic-nsg"), VNetPrefixes: vnet,
			},
			keep: isJIT,
			kept: &Kept{Level: "subnet", NSG: "snet-nsg", NSGID: "ids/subnet", Rule: jitName, Priority: 1000},
		},
		{
			name: "keep: JIT deny in the second NSG, after the first is fixed",
			e: &cloud.EffectiveNSGs{
				Subnet:       nsg("snet-nsg", in("DenySSH", 500, cloud.Deny, "Tcp", "*", "22")),
				NIC:          withID(nsg("nic-nsg", in(jitName, 1000, cloud.Deny, "*", "*", "22"), in("AllowSSH", 1100, cloud.Allow, "Tcp", "*", "22")), "ids/nic"),
				VNetPrefixes: vnet,
			},
			keep: isJIT,
			kept: &Kept{Level: "nic", NSG: "nic-nsg", NSGID: "ids/nic", Rule: jitName, Priority: 1000},
		},
		{
			name:  "keep: other rules are worked around",
			e:     &cloud.EffectiveNSGs{NIC: withID(nsg("nic-nsg", in("DenySSH", 1000, cloud.Deny, "Tcp", "*", "22")), "ids/nic"), VNetPrefixes: vnet},
			keep:  isJIT,
			fixes: []want{{"nic", "ids/nic", 900, ""}},
		},
		{
			name:  "without keep, a JIT deny is worked around",
			e:     &cloud.EffectiveNSGs{NIC: withID(nsg("nic-nsg", in(jitName, 1000, cloud.Deny, "*", "*", "22")), "ids/nic"), VNetPrefixes: vnet},
			fixes: []want{{"nic", "ids/nic", 900, ""}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := deepCopy(t, c.e)
			fixes, kept, err := SuggestFixKeep(c.e, client, c.keep)
			if !reflect.DeepEqual(deepCopy(t, c.e), before) {
				t.Fatal("SuggestFixKeep modified its input")
			}
			if c.keep == nil {
				f2, err2 := SuggestFix(c.e, client)
				if !reflect.DeepEqual(f2, fixes) || fmt.Sprint(err2) != fmt.Sprint(err) {
					t.Errorf("SuggestFix %+v %v, SuggestFixKeep(nil) %+v %v", f2, err2, fixes, err)
				}
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || fixes != nil || kept != nil {
					t.Fatalf("want error %q; got %+v %+v %v", c.err, fixes, kept, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(kept, c.kept) {
				t.Fatalf("kept %+v, want %+v", kept, c.kept)
			}
			if kept != nil {
				if fixes != nil {
					t.Errorf("fixes %+v along with a kept rule", fixes)
				}
				return
			}
			var got []want
			for _, fx := range fixes {
				w := want{fx.Level, fx.NSGID, fx.Rule.Priority, ""}
				if fx.Renumber != nil {
					w.renumber = fmt.Sprintf("%s@%d", fx.Renumber.Name, fx.Renumber.Priority)
				}
				got = append(got, w)
				if src := strings.Join(fx.Rule.SourceAddressPrefixes, ","); src != "198.51.100.7/32" || fx.Rule.Access != cloud.Allow {
					t.Errorf("rule %+v", fx.Rule)
				}
			}
			if !reflect.DeepEqual(got, c.fixes) {
				t.Fatalf("fixes %+v, want %+v", got, c.fixes)
			}
			// Applied in order (renumber, then add), the fixes let the
			// client in, and any other flow is judged as before.
			other := flow("Tcp", "203.0.113.9", "10.0.0.4", 22)
			otherBefore := mustCompile(t, c.e).Evaluate(other).Allowed
			work := deepCopy(t, c.e)
			applyFixes(t, work, fixes)
			p := mustCompile(t, work)
			if v := p.Evaluate(client); !v.Allowed {
				t.Errorf("still denied with the fixes: %v", v)
			}
			if v := p.Evaluate(other); v.Allowed != otherBefore {
				t.Errorf("another source's verdict changed: %v", v)
			}
		})
	}
}

func TestRuleName(t *testing.T) {
	for in, want := range map[string]string{"securityRules/DenySSH": "DenySSH", "defaultSecurityRules/DenyAllInBound": "DenyAllInBound", "x": "x", "": ""} {
		if got := RuleName(in); got != want {
			t.Errorf("RuleName(%q) = %q", in, got)
		}
	}
}

func TestCloneNSGKeepsFields(t *testing.T) {
	n := &cloud.NSG{ID: "ids/n", Name: "n", Rules: []cloud.SecurityRule{in("A", 100, cloud.Allow, "Tcp", "*", "22")}}
	c := cloneNSG(n)
	if !reflect.DeepEqual(c, n) {
		t.Fatalf("clone %+v of %+v", c, n)
	}
	c.Rules[0].Priority = 200
	if n.Rules[0].Priority != 100 {
		t.Error("clone shares Rules")
	}
}

func TestAzRuleSetPriority(t *testing.T) {
	if got, want := AzRuleSetPriority("", "vm1-nsg", "Deny SSH", 101), `az network nsg rule update --resource-group "$RESOURCE_GROUP" --nsg-name vm1-nsg --name 'Deny SSH' --priority 101`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
