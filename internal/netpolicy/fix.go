package netpolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Fix is one rule to add to one NSG.
type Fix struct {
	Level string             `json:"level"` // "subnet" or "nic"
	NSG   string             `json:"nsg"`   // the NSG's name
	NSGID string             `json:"nsg_id,omitempty"`
	Rule  cloud.SecurityRule `json:"rule"`
	// Renumber, when set, is the deny rule that decided the flow moved one
	// priority down (nothing was free above it): set it first, then Rule
	// takes its old priority. Every other flow is judged exactly as
	// before.
	Renumber *cloud.SecurityRule `json:"renumber,omitempty"`
}

// Kept is a deny rule SuggestFixKeep was told not to work around.
type Kept struct {
	Level    string `json:"level"` // "subnet" or "nic"
	NSG      string `json:"nsg"`
	NSGID    string `json:"nsg_id,omitempty"`
	Rule     string `json:"rule"` // the name, as RuleName gives it
	Priority int    `json:"priority"`
}

// SuggestFix returns the smallest set of rules that lets f through e: a
// rule for the NSG that denies f, then, when the other NSG denies it too,
// one for that NSG, computed with the first applied (inbound flows must
// pass both). Nil when f is already allowed. e is not modified.
//
// Each rule is SuggestAllow's above the rule that decided the verdict.
// When no priority is free above it, and it is a user deny rule that can
// be written back (not Default, not Opaque) whose next priority (at most
// 4096) is free, that rule moves one priority down (Fix.Renumber) and the
// allow rule takes its place. Otherwise the error is SuggestAllow's.
func SuggestFix(e *cloud.EffectiveNSGs, f Flow) ([]Fix, error) {
	fixes, _, err := SuggestFixKeep(e, f, nil)
	return fixes, err
}

// SuggestFixKeep is SuggestFix, except that it stops at a deny rule for
// which keep (given RuleName of the deciding rule) is true, in either NSG:
// it then returns no fix and that rule, since no standing rule may work
// around it. A nil keep keeps nothing.
func SuggestFixKeep(e *cloud.EffectiveNSGs, f Flow, keep func(ruleName string) bool) ([]Fix, *Kept, error) {
	work := &cloud.EffectiveNSGs{Subnet: cloneNSG(e.Subnet), NIC: cloneNSG(e.NIC), VNetPrefixes: e.VNetPrefixes, Live: e.Live}
	var fixes []Fix
	for i := 0; ; i++ {
		p, err := Compile(work)
		if err != nil {
			return nil, nil, err
		}
		v := p.Evaluate(f)
		if v.Allowed {
			return fixes, nil, nil
		}
		if v.DecidingNSG == "" {
			return nil, nil, fmt.Errorf("netpolicy: flow denied with no deciding NSG (direction %q?)", f.Direction)
		}
		level, _, _ := strings.Cut(v.DecidingNSG, "/")
		n := work.NIC
		if level == "subnet" {
			n = work.Subnet
		}
		name := RuleName(v.DecidingRule)
		if keep != nil && name != "" && keep(name) {
			return nil, &Kept{Level: level, NSG: n.Name, NSGID: n.ID, Rule: name, Priority: v.DecidingPriority()}, nil
		}
		if i == 2 { // one rule per NSG must have done it
			return nil, nil, fmt.Errorf("netpolicy: no fix found for %v", f)
		}
		fx, err := suggestFor(n, f, v)
		if err != nil {
			return nil, nil, err
		}
		fx.Level = level
		if fx.Renumber != nil {
			for j := range n.Rules {
				if n.Rules[j].Name == fx.Renumber.Name && n.Rules[j].Direction == f.Direction {
					n.Rules[j] = *fx.Renumber
				}
			}
		}
		n.Rules = append(n.Rules, fx.Rule)
		fixes = append(fixes, fx)
	}
}

// suggestFor is the fix for the NSG n whose rule decided v (see
// SuggestFix); n is not modified.
func suggestFor(n *cloud.NSG, f Flow, v Verdict) (Fix, error) {
	fx := Fix{NSG: n.Name, NSGID: n.ID}
	prio := v.DecidingPriority()
	rule, err := SuggestAllow(n, f, prio)
	if err == nil {
		fx.Rule = rule
		return fx, nil
	}
	name := RuleName(v.DecidingRule)
	i := slices.IndexFunc(n.Rules, func(r cloud.SecurityRule) bool { return r.Name == name && r.Direction == f.Direction })
	if v.DecidingRule == "" || i < 0 || n.Rules[i].Default || n.Rules[i].Opaque || n.Rules[i].Access != cloud.Deny || n.Rules[i].Priority != prio || prio+1 > 4096 ||
		slices.ContainsFunc(n.Rules, func(r cloud.SecurityRule) bool { return r.Direction == f.Direction && r.Priority == prio+1 }) {
		return fx, err
	}
	moved := cloneRule(n.Rules[i])
	moved.Priority = prio + 1
	others := *n
	others.Rules = slices.Clone(n.Rules)
	others.Rules[i] = moved
	rule, err2 := SuggestAllow(&others, f, prio+1)
	if err2 != nil || rule.Priority != prio {
		return fx, err
	}
	fx.Rule, fx.Renumber = rule, &moved
	return fx, nil
}

// RuleName is a verdict's or step's rule without its "securityRules/" or
// "defaultSecurityRules/" prefix: the rule's name.
func RuleName(rule string) string {
	_, name, ok := strings.Cut(rule, "/")
	if !ok {
		return rule
	}
	return name
}

// DecidingPriority is the priority of the rule that decided v; 65500
// (DenyAllInBound's, which any rule beats) when no rule did.
func (v Verdict) DecidingPriority() int {
	for _, s := range v.Trace {
		if s.Matched && s.NSG == v.DecidingNSG && s.Rule == v.DecidingRule {
			return s.Priority
		}
	}
	return 65500
}

// cloneNSG copies n with its own Rules, so that rules can be replaced and
// added without touching n.
func cloneNSG(n *cloud.NSG) *cloud.NSG {
	if n == nil {
		return nil
	}
	c := *n
	c.Rules = slices.Clone(n.Rules)
	return &c
}

// cloneRule copies r with its own slices.
func cloneRule(r cloud.SecurityRule) cloud.SecurityRule {
	r.SourceAddressPrefixes = slices.Clone(r.SourceAddressPrefixes)
	r.SourcePortRanges = slices.Clone(r.SourcePortRanges)
	r.DestinationAddressPrefixes = slices.Clone(r.DestinationAddressPrefixes)
	r.DestinationPortRanges = slices.Clone(r.DestinationPortRanges)
	return r
}

// AzRuleCreate renders r as an `az network nsg rule create` command line
// for NSG nsg in resourceGroup; an empty resourceGroup becomes
// "$RESOURCE_GROUP", for the user to set. Arguments are quoted for a
// POSIX shell where needed ('*' always).
func AzRuleCreate(resourceGroup, nsg string, r cloud.SecurityRule) string {
	rg := shellQuote(resourceGroup)
	if resourceGroup == "" {
		rg = `"$RESOURCE_GROUP"`
	}
	list := func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = shellQuote(s)
		}
		return strings.Join(q, " ")
	}
	parts := []string{
		"az network nsg rule create",
		"--resource-group " + rg,
		"--nsg-name " + shellQuote(nsg),
		"--name " + shellQuote(r.Name),
		fmt.Sprintf("--priority %d", r.Priority),
		"--direction " + shellQuote(string(r.Direction)),
		"--access " + shellQuote(string(r.Access)),
		"--protocol " + shellQuote(r.Protocol),
		"--source-address-prefixes " + list(r.SourceAddressPrefixes),
		"--source-port-ranges " + list(r.SourcePortRanges),
		"--destination-address-prefixes " + list(r.DestinationAddressPrefixes),
		"--destination-port-ranges " + list(r.DestinationPortRanges),
	}
	return strings.Join(parts, " ")
}

// AzRuleSetPriority renders the `az network nsg rule update` command
// line that moves rule of NSG nsg to priority, quoted as AzRuleCreate.
func AzRuleSetPriority(resourceGroup, nsg, rule string, priority int) string {
	rg := shellQuote(resourceGroup)
	if resourceGroup == "" {
		rg = `"$RESOURCE_GROUP"`
	}
	return fmt.Sprintf("az network nsg rule update --resource-group %s --nsg-name %s --name %s --priority %d", rg, shellQuote(nsg), shellQuote(rule), priority)
}

// shellQuote quotes s for a POSIX shell unless it is made of characters
// that need no quoting.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("-_./:,@+=%", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
