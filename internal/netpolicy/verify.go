package netpolicy

import (
	"slices"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// VerifyInput is one flow to judge against NSGs read from files (or ARM):
// the subnet's and the NIC's NSGs, the service tags' addresses the input
// listed, and the VirtualNetwork tag's address space if the caller knows it.
type VerifyInput struct {
	NSGs *cloud.EffectiveNSGs
	Tags map[string][]string
	// VNet is the virtual network's address space as the user gave it;
	// empty: NSGs.VNetPrefixes, else Azure's default private ranges.
	VNet []string
	Flow Flow
}

// VerifyStep is one rule looked at, with the rule itself.
type VerifyStep struct {
	Step
	Decides bool
	Rule    cloud.SecurityRule
}

// ASGNote: a rule the flow did not match names an application security
// group on a side for which the caller listed no memberships, so the
// answer assumes the NIC is not a member.
type ASGNote struct {
	NSG, Rule string
	ASG       string // the group's name
	Side      string // "source" or "destination"
}

// VNet sources.
const (
	VNetGiven   = "flag"    // VerifyInput.VNet
	VNetListed  = "file"    // the input listed it (effective rules)
	VNetAssumed = "assumed" // Azure's default private ranges
)

// Verification is the judgement of one flow: the verdict, every rule
// looked at, what the answer had to assume, and when denied the smallest
// fix.
type Verification struct {
	Verdict          Verdict
	DecidingPriority int
	Trace            []VerifyStep
	VNetPrefixes     []string
	VNetSource       string
	// VNetMatters: the VNet was assumed and a rule looked at uses the
	// VirtualNetwork or Internet tag, so the assumption can change the
	// answer.
	VNetMatters bool
	// Unresolved are service tags whose addresses the input did not list,
	// in rules the evaluation reached (taken to match nothing).
	Unresolved []Unresolved
	ASGNotes   []ASGNote
	// Fixes (when denied): the rules to add, in order; FixErr when none
	// fits.
	Fixes  []Fix
	FixErr error
}

// Verify judges in.Flow against in.NSGs as Azure would. The error is for
// NSGs that do not compile (bad input); in.NSGs is not modified.
func Verify(in VerifyInput) (*Verification, error) {
	e := &cloud.EffectiveNSGs{Subnet: in.NSGs.Subnet, NIC: in.NSGs.NIC, VNetPrefixes: in.NSGs.VNetPrefixes}
	out := &Verification{}
	switch {
	case len(in.VNet) > 0:
		e.VNetPrefixes, out.VNetSource = in.VNet, VNetGiven
	case len(e.VNetPrefixes) > 0:
		out.VNetSource = VNetListed
	default:
		e.VNetPrefixes, out.VNetSource = DefaultVNetPrefixes, VNetAssumed
	}
	out.VNetPrefixes = slices.Clone(e.VNetPrefixes)

	resolved, unresolved := ResolveTags(e, in.Tags)
	pol, err := Compile(resolved)
	if err != nil {
		return nil, err
	}
	f := in.Flow
	v := pol.Evaluate(f)
	out.Verdict = v

	lastPrio := map[string]int{} // NSG label → priority of its last step
	seen := map[string]bool{}
	usesVNet := false
	for _, s := range v.Trace {
		r, _ := RuleFor(resolved, s)
		decides := s.Matched && s.NSG == v.DecidingNSG && s.Rule == v.DecidingRule
		out.Trace = append(out.Trace, VerifyStep{Step: s, Decides: decides, Rule: r})
		if s.NSG == v.DecidingNSG && s.Rule == v.DecidingRule {
			out.DecidingPriority = s.Priority
		}
		lastPrio[s.NSG] = s.Priority
		usesVNet = usesVNet || UsesTag(r, "VirtualNetwork") || UsesTag(r, "Internet")
		if s.Matched {
			continue
		}
		for _, side := range []struct {
			name    string
			list    []string
			members []string
		}{{"source", r.SourceAddressPrefixes, f.SourceASGs}, {"destination", r.DestinationAddressPrefixes, f.DestinationASGs}} {
			for _, x := range side.list {
				if IsASG(x) && len(side.members) == 0 && !seen[s.Rule+x] {
					seen[s.Rule+x] = true
					out.ASGNotes = append(out.ASGNotes, ASGNote{NSG: s.NSG, Rule: s.Rule, ASG: ASGName(x), Side: side.name})
				}
			}
		}
	}
	out.VNetMatters = out.VNetSource == VNetAssumed && usesVNet
	for _, u := range unresolved {
		if last, reached := lastPrio[u.NSG]; u.Direction == f.Direction && reached && u.Priority <= last {
			out.Unresolved = append(out.Unresolved, u)
		}
	}
	if !v.Allowed {
		out.Fixes, out.FixErr = SuggestFix(resolved, f)
	}
	return out, nil
}
