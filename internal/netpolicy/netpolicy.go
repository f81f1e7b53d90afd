// Package netpolicy evaluates and enforces network security groups and
// routes in Azure's model.
//
// Evaluation (Compile, Policy.Evaluate, Policy.Allowed) answers "would this
// flow reach the VM, and which rule decides?" the way Azure does: per NSG,
// rules of the flow's direction in ascending priority, first match wins;
// inbound traffic must pass the subnet's NSG and then the NIC's, outbound
// the NIC's and then the subnet's. SuggestAllow proposes the smallest fix,
// and NextHop picks the effective route.
//
// Input (ParseNSG, ParseRoutes) reads what users have at hand: ARM JSON,
// az CLI output, effective security rules and effective routes; see
// docs/netpolicy.md. Application security groups are carried in the
// prefix lists as resource IDs (IsASG) and matched against a flow's
// memberships.
//
// Enforcement (NFTInbound, NFTDelete) renders the same rules as an
// nftables ruleset, so that a local lab of namespaced VMs behaves like
// Azure and the evaluator can be checked against real packets.
package netpolicy

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Flow is one connection attempt, as seen by the VM's NSGs.
type Flow struct {
	Protocol                    string // "Tcp", "Udp", "Icmp", "Esp" or "Ah" (case-insensitive)
	Source, Destination         netip.Addr
	SourcePort, DestinationPort int // ignored for Icmp, Esp and Ah
	Direction                   cloud.Direction
	// SourceASGs and DestinationASGs are the application security groups
	// the NIC holding Source (Destination) is a member of: resource IDs,
	// or bare names, which match an ASG ID's last segment. A rule that
	// names ASGs on a side matches when that side's NIC is a member of
	// one of them (see IsASG). Case-insensitive, as Azure resource IDs.
	SourceASGs, DestinationASGs []string
}

// Step is one rule looked at while evaluating a flow.
type Step struct {
	NSG      string // "subnet/<name>" or "nic/<name>"
	Rule     string // "securityRules/<name>" or "defaultSecurityRules/<name>"
	Priority int
	Matched  bool // the flow matched this rule, which decided for its NSG
	Access   cloud.Access
}

// Verdict is the outcome of evaluating a flow.
type Verdict struct {
	Allowed bool
	// DecidingNSG and DecidingRule name the rule that denied the flow or,
	// when allowed, the NIC rule that allowed it (the subnet's if the NIC
	// has no NSG). Both are empty when no NSG applies.
	DecidingNSG  string
	DecidingRule string
	Trace        []Step // every rule looked at, in evaluation order
	// Uncertain lists the rules that could not be evaluated
	// (SecurityRule.Unevaluable) and come before the decision: any of
	// them may have decided the flow instead. Empty: the verdict is
	// certain.
	Uncertain []Uncertain `json:"uncertain,omitempty"`
}

// Uncertain is a rule whose match could not be decided, placed where it
// could have changed the verdict.
type Uncertain struct {
	NSG      string       `json:"nsg"`
	Rule     string       `json:"rule"`
	Priority int          `json:"priority"`
	Access   cloud.Access `json:"access"`
	Reason   string       `json:"reason"`
}

// addrKey is an address as two words plus its family, so that prefix
// tests are two masked compares with no allocation.
type addrKey struct {
	hi, lo uint64
	v4     bool
}

func keyOf(a netip.Addr) addrKey {
	if a.Is4() || a.Is4In6() { // As16 puts IPv4 in the low 32 bits, after 0xffff
		b := a.As4()
		return addrKey{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:])), true}
	}
	b := a.As16()
	return addrKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), false}
}

// pfx is a prefix in addrKey form: network and mask.
type pfx struct {
	hi, lo, mhi, mlo uint64
	v4               bool
}

func pfxOf(p netip.Prefix) pfx {
	k := keyOf(p.Addr())
	n := p.Bits()
	if k.v4 {
		n += 96 // As16 puts IPv4 in the low 32 bits
	}
	var mhi, mlo uint64
	switch {
	case n >= 128:
		mhi, mlo = math.MaxUint64, math.MaxUint64
	case n >= 64:
		mhi, mlo = math.MaxUint64, ^(math.MaxUint64 >> (n - 64))
	case n > 0:
		mhi = ^(math.MaxUint64 >> n)
	}
	return pfx{k.hi & mhi, k.lo & mlo, mhi, mlo, k.v4}
}

func (p *pfx) contains(a *addrKey) bool {
	return a.v4 == p.v4 && a.hi&p.mhi == p.hi && a.lo&p.mlo == p.lo
}

func anyContains(ps []pfx, a *addrKey) bool {
	for i := range ps {
		if ps[i].contains(a) {
			return true
		}
	}
	return false
}

// addrMatch is a compiled addrSpec. Tags stay flags: a flow's vnet and
// load-balancer memberships are computed once, not per rule.
type addrMatch struct {
	any, vnet, lb, internet bool
	pfx                     []pfx
	asg                     []asgRef
}

// side is one address of a flow with its tag and ASG memberships.
type side struct {
	k            addrKey
	inVNet, isLB bool
	asgs         []string
}

func (m *addrMatch) match(s *side) bool {
	return m.any || (m.vnet && s.inVNet) || (m.lb && s.isLB) ||
		(m.internet && !s.inVNet && !s.isLB) || anyContains(m.pfx, &s.k) ||
		(len(m.asg) > 0 && anyASG(m.asg, s.asgs))
}

type portMatch struct {
	any bool
	r   []portRange
}

func (m *portMatch) match(p int32) bool {
	if m.any {
		return true
	}
	for _, r := range m.r {
		if r.lo <= p && p <= r.hi {
			return true
		}
	}
	return false
}

// crule is a compiled rule.
type crule struct {
	name     string
	priority int
	allow    bool
	proto    proto
	src, dst addrMatch
	sp, dp   portMatch
}

// fctx is a flow prepared for matching.
type fctx struct {
	proto    proto
	src, dst side
	sp, dp   int32
}

func (r *crule) match(f *fctx) bool {
	if r.proto != protoAny && r.proto != f.proto {
		return false
	}
	if !f.proto.portless() && (!r.dp.match(f.dp) || !r.sp.match(f.sp)) {
		return false
	}
	return r.src.match(&f.src) && r.dst.match(&f.dst)
}

// cnsg is one compiled NSG.
type cnsg struct {
	label string
	in    chain
	out   chain
	// unknownIn and unknownOut are the rules that cannot be evaluated.
	unknownIn, unknownOut []unknownRule
}

// uncertain adds to v the unknown rules of n before priority prio that
// could match f.
func (n *cnsg) uncertain(v *Verdict, d cloud.Direction, f *fctx, prio int) {
	list := n.unknownIn
	if d == cloud.Outbound {
		list = n.unknownOut
	}
	for i := range list {
		u := &list[i]
		if u.priority < prio && u.couldMatch(f) {
			v.Uncertain = append(v.Uncertain, Uncertain{NSG: n.label, Rule: u.name, Priority: u.priority, Access: u.access, Reason: u.reason})
		}
	}
}

func (n *cnsg) chain(d cloud.Direction) *chain {
	if d == cloud.Outbound {
		return &n.out
	}
	return &n.in
}

// Policy is an EffectiveNSGs compiled for repeated evaluation. It is
// immutable and safe for concurrent use.
type Policy struct {
	subnet, nic *cnsg
	vnet        []pfx
}

// Compile prepares e for repeated evaluation: it validates and parses
// prefixes, ports and protocols once, appends cloud.DefaultRules() to each
// NSG and sorts the rules by priority. Errors name the NSG and the rule.
func Compile(e *cloud.EffectiveNSGs) (*Policy, error) {
	vnet, err := parseVNet(e.VNetPrefixes)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	for _, v := range mergePrefixes(vnet) {
		p.vnet = append(p.vnet, pfxOf(v))
	}
	build := func(n *cloud.NSG, level string) (*cnsg, error) {
		if n == nil {
			return nil, nil
		}
		in, uin, err := parseNSG(n, cloud.Inbound)
		if err != nil {
			return nil, err
		}
		out, uout, err := parseNSG(n, cloud.Outbound)
		if err != nil {
			return nil, err
		}
		return &cnsg{label: level + "/" + n.Name, in: compileChain(in, p.vnet), out: compileChain(out, p.vnet), unknownIn: uin, unknownOut: uout}, nil
	}
	if p.subnet, err = build(e.Subnet, "subnet"); err != nil {
		return nil, err
	}
	if p.nic, err = build(e.NIC, "nic"); err != nil {
		return nil, err
	}
	return p, nil
}

var lbKey = pfxOf(AzureLoadBalancer)

// prepare parses f once for matching, without tag memberships.
func prepare(f *Flow) fctx {
	pr, _ := parseProto(f.Protocol)
	if pr == protoAny { // "*" names no real protocol
		pr = protoOther
	}
	return fctx{proto: pr, src: side{k: keyOf(f.Source), asgs: f.SourceASGs}, dst: side{k: keyOf(f.Destination), asgs: f.DestinationASGs}, sp: clampPort(f.SourcePort), dp: clampPort(f.DestinationPort)}
}

// tag records s's service-tag memberships.
func (p *Policy) tag(s *side) {
	s.inVNet = anyContains(p.vnet, &s.k)
	s.isLB = lbKey.contains(&s.k)
}

// clampPort maps out-of-range ports to -1, which no range holds.
func clampPort(p int) int32 {
	if p < 0 || p > 65535 {
		return -1
	}
	return int32(p)
}

// order returns the NSGs a flow of direction d passes, in order.
func (p *Policy) order(d cloud.Direction) (first, second *cnsg, ok bool) {
	switch d {
	case cloud.Inbound:
		return p.subnet, p.nic, true
	case cloud.Outbound:
		return p.nic, p.subnet, true
	}
	return nil, nil, false
}

// Allowed is the allocation-free form of Evaluate: it reports the verdict
// and the deciding rule without a trace, using the index built by Compile.
func (p *Policy) Allowed(f Flow) (allowed bool, decidingRule string) {
	first, second, ok := p.order(f.Direction)
	if !ok {
		return false, ""
	}
	c := prepare(&f)
	allowed, decidingRule = true, ""
	for _, n := range [2]*cnsg{first, second} {
		if n == nil {
			continue
		}
		ch := n.chain(f.Direction)
		i := ch.first(&c)
		if i < 0 { // unreachable: the default DenyAll rules match everything
			return false, ""
		}
		r := &ch.rules[i]
		if !r.allow {
			return false, r.name
		}
		if decidingRule == "" || n == p.nic {
			decidingRule = r.name
		}
	}
	return allowed, decidingRule
}

// Evaluate decides f and records every rule looked at. It scans rules in
// priority order without the index, so it doubles as the reference Allowed
// is tested against. A flow whose Direction is neither Inbound nor
// Outbound is denied, with no deciding rule.
func (p *Policy) Evaluate(f Flow) Verdict {
	first, second, ok := p.order(f.Direction)
	if !ok {
		return Verdict{}
	}
	c := prepare(&f)
	// Allowed does not need tag memberships: its index has them built in.
	p.tag(&c.src)
	p.tag(&c.dst)
	v := Verdict{Allowed: true}
	n := 0
	for _, ns := range [2]*cnsg{first, second} {
		if ns != nil {
			n += len(ns.chain(f.Direction).rules)
		}
	}
	v.Trace = make([]Step, 0, n)
	for _, n := range [2]*cnsg{first, second} {
		if n == nil {
			continue
		}
		ch := n.chain(f.Direction)
		matched := false
		for i := range ch.rules {
			r := &ch.rules[i]
			m := r.match(&c)
			v.Trace = append(v.Trace, Step{NSG: n.label, Rule: r.name, Priority: r.priority, Matched: m, Access: access(r.allow)})
			if !m {
				continue
			}
			matched = true
			n.uncertain(&v, f.Direction, &c, r.priority)
			if !r.allow {
				v.Allowed, v.DecidingNSG, v.DecidingRule = false, n.label, r.name
				return v
			}
			if v.DecidingRule == "" || n == p.nic {
				v.DecidingNSG, v.DecidingRule = n.label, r.name
			}
			break
		}
		if !matched {
			v.Allowed, v.DecidingNSG, v.DecidingRule = false, n.label, ""
			return v
		}
	}
	return v
}

func access(allow bool) cloud.Access {
	if allow {
		return cloud.Allow
	}
	return cloud.Deny
}

// String renders a verdict in one line, for logs and findings.
func (v Verdict) String() string {
	var b strings.Builder
	if v.Allowed {
		b.WriteString("allowed")
	} else {
		b.WriteString("denied")
	}
	if v.DecidingRule != "" {
		fmt.Fprintf(&b, " by %s %s", v.DecidingNSG, v.DecidingRule)
	}
	for i, u := range v.Uncertain {
		if i == 0 {
			b.WriteString(" — uncertain: ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s (priority %d, %s) cannot be evaluated", u.NSG, u.Rule, u.Priority, u.Reason)
	}
	return b.String()
}
