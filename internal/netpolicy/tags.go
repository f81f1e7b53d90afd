package netpolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// DefaultVNetPrefixes is what Azure offers as a new virtual network's
// address space: the RFC 1918 ranges. Callers that do not know a VNet's
// address space may assume it, and should say so.
var DefaultVNetPrefixes = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}

// Unresolved is an address entry ResolveTags could not evaluate offline
// and dropped.
type Unresolved struct {
	NSG       string          `json:"nsg"`  // "subnet/<name>" or "nic/<name>"
	Rule      string          `json:"rule"` // "securityRules/<name>"
	Priority  int             `json:"priority"`
	Direction cloud.Direction `json:"direction"`
	Side      string          `json:"side"` // "source" or "destination"
	Entry     string          `json:"entry"`
	// RuleDropped: nothing was left on that side, so the rule can never
	// match and was removed.
	RuleDropped bool `json:"rule_dropped"`
}

// builtinEntry reports whether Compile evaluates s on its own: "*", an
// address or CIDR, VirtualNetwork, Internet, AzureLoadBalancer or an ASG
// ID.
func builtinEntry(s string) bool {
	_, err := parseAddrs([]string{s})
	return err == nil
}

// ResolveTags returns a copy of e that Compile can evaluate: every
// address entry of form of a service tag Compile does not know (Storage,
// AzureCloud.WestEurope…) is replaced by its prefixes in tags (keys
// matched case-insensitively), and so is every ASG ID tags expands
// (effective rules list an ASG's member addresses). An unknown tag tags
// does not expand is dropped and reported: it is taken to match
// nothing. A rule left with an empty side can never match and is
// dropped. Malformed entries are kept, for Compile to report. e is not
// modified.
func ResolveTags(e *cloud.EffectiveNSGs, tags map[string][]string) (*cloud.EffectiveNSGs, []Unresolved) {
	return resolveTags(e, tags, false)
}

// ResolveTagsUncertain is ResolveTags for a verdict that must not guess:
// a rule naming a tag that tags does not expand is kept as it was,
// marked Unevaluable, so that Evaluate reports the verdicts it could
// change as uncertain and its priority stays taken.
func ResolveTagsUncertain(e *cloud.EffectiveNSGs, tags map[string][]string) (*cloud.EffectiveNSGs, []Unresolved) {
	return resolveTags(e, tags, true)
}

func resolveTags(e *cloud.EffectiveNSGs, tags map[string][]string, keep bool) (*cloud.EffectiveNSGs, []Unresolved) {
	lookup := func(s string) ([]string, bool) {
		if v, ok := tags[s]; ok {
			return v, true
		}
		for k, v := range tags {
			if strings.EqualFold(k, s) {
				return v, true
			}
		}
		return nil, false
	}
	var notes []Unresolved
	resolveNSG := func(n *cloud.NSG, level string) *cloud.NSG {
		if n == nil {
			return nil
		}
		out := &cloud.NSG{Name: n.Name, Rules: make([]cloud.SecurityRule, 0, len(n.Rules))}
		for _, r := range n.Rules {
			dropped := false
			side := func(list []string, name string) []string {
				var res []string
				changed := false
				var here []Unresolved
				for _, s := range list {
					t := strings.TrimSpace(s)
					if exp, ok := lookup(t); ok && len(exp) > 0 && !builtinTag(t) {
						res = append(res, exp...)
						changed = true
						continue
					}
					if !builtinEntry(t) && looksLikeTag(t) {
						here = append(here, Unresolved{NSG: level + "/" + n.Name, Rule: "securityRules/" + r.Name, Priority: r.Priority, Direction: r.Direction, Side: name, Entry: t})
						changed = true
						continue
					}
					res = append(res, s)
				}
				if len(res) == 0 && len(list) > 0 {
					dropped = true
					for i := range here {
						here[i].RuleDropped = true
					}
				}
				notes = append(notes, here...)
				if !changed {
					return list
				}
				return res
			}
			orig := r
			before := len(notes)
			r.SourceAddressPrefixes = side(r.SourceAddressPrefixes, "source")
			r.DestinationAddressPrefixes = side(r.DestinationAddressPrefixes, "destination")
			if keep && len(notes) > before && !r.Default {
				orig.Unevaluable = fmt.Sprintf("service tag %s: its addresses are not known here", notes[before].Entry)
				out.Rules = append(out.Rules, orig)
				continue
			}
			if dropped && !r.Default {
				continue
			}
			out.Rules = append(out.Rules, r)
		}
		return out
	}
	return &cloud.EffectiveNSGs{
		Subnet:       resolveNSG(e.Subnet, "subnet"),
		NIC:          resolveNSG(e.NIC, "nic"),
		VNetPrefixes: slices.Clone(e.VNetPrefixes),
	}, notes
}

// builtinTag reports whether s is a tag Compile keeps symbolic.
func builtinTag(s string) bool {
	for _, t := range []string{"*", "VirtualNetwork", "Internet", "AzureLoadBalancer"} {
		if strings.EqualFold(s, t) {
			return true
		}
	}
	return false
}

// RuleFor returns the rule a trace step names, looked up in e (default
// rules in cloud.DefaultRules()).
func RuleFor(e *cloud.EffectiveNSGs, s Step) (cloud.SecurityRule, bool) {
	level, nsgName, _ := strings.Cut(s.NSG, "/")
	var n *cloud.NSG
	switch level {
	case "subnet":
		n = e.Subnet
	case "nic":
		n = e.NIC
	}
	if n == nil || n.Name != nsgName {
		return cloud.SecurityRule{}, false
	}
	if name, ok := strings.CutPrefix(s.Rule, "defaultSecurityRules/"); ok {
		for _, r := range cloud.DefaultRules() {
			if r.Name == name {
				return r, true
			}
		}
		return cloud.SecurityRule{}, false
	}
	name := strings.TrimPrefix(s.Rule, "securityRules/")
	for _, r := range n.Rules {
		if r.Name == name && !r.Default && r.Priority == s.Priority {
			return r, true
		}
	}
	return cloud.SecurityRule{}, false
}

// UsesTag reports whether r names tag (case-insensitively) on either
// side.
func UsesTag(r cloud.SecurityRule, tag string) bool {
	for _, l := range [][]string{r.SourceAddressPrefixes, r.DestinationAddressPrefixes} {
		for _, s := range l {
			if strings.EqualFold(strings.TrimSpace(s), tag) {
				return true
			}
		}
	}
	return false
}
