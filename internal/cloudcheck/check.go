// Package cloudcheck asks a cloud's control plane what stops SSH to a VM:
// power, provisioning and agent state, health, the serial log (through the
// boot-log analyzer), the public address, the NSGs for the client's exact
// flow and the route the replies take. It is written against
// cloud.Provider only, so `sshdoctor azure check` and `sshdoctor lab check`
// are one check; what only one cloud has (Azure's Network Watcher, az
// commands) is layered on the Report by that cloud's package.
//
// Check gathers into a Report (observations), then judges it into Steps and
// Findings from the shared catalogue; it never prints.
package cloudcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/sshdoctor/sshdoctor/internal/bootlog"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// InternetProbe is the source address `--source-ip auto` evaluates: an
// address from TEST-NET-3 (RFC 5737), which no real client has and which
// NSGs treat like any other Internet address. It answers "is SSH open to
// the Internet at large?", not "is it open to me?".
var InternetProbe = netip.MustParseAddr("203.0.113.1")

// ClientPort is the source port evaluated: inside both Linux's
// (32768-60999) and Windows' (49152-65535) ephemeral ranges.
const ClientPort = 50000

// maxAllowedSources bounds the list of allowed sources in a report.
const maxAllowedSources = 10

// jitRulePrefix starts the name of every NSG rule Microsoft Defender for
// Cloud's just-in-time VM access writes: its standing deny
// ("SecurityCenter-JITRule_-<n>_<hex>") and the temporary allow of an
// approved request ("SecurityCenter-JITRule-<n>-<hex>").
const jitRulePrefix = "securitycenter-jitrule"

// ParseSource reads --source-ip: an IP address, or "auto" (or "") for
// InternetProbe.
func ParseSource(s string) (addr netip.Addr, auto bool, err error) {
	if s == "" || s == "auto" {
		return InternetProbe, true, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false, fmt.Errorf("--source-ip %q is not an IP address or \"auto\"", s)
	}
	return a.Unmap(), false, nil
}

// Options are the inputs of a check besides the VM.
type Options struct {
	// Source is the client address evaluated against NSGs and routes
	// (invalid: neither is evaluated); SourceAuto says it is
	// InternetProbe, standing for "any Internet address" (then no rule is
	// suggested: one for a documentation address would be useless).
	Source     netip.Addr
	SourceAuto bool
	Port       int
	// Commands words the remediations for this provider and VM.
	Commands Commands
	// Explain, when set, turns a failed provider call into a finding in
	// the provider's own terms (Azure: the RBAC action and role a 403
	// needs); ok false leaves it to the neutral judgement.
	Explain func(Problem) (f findings.Finding, ok bool)
}

// Commands are how remediations tell the user to act on the checked VM.
// An empty field or nil func leaves that part out (or the catalogue's
// generic remedy in).
type Commands struct {
	// Start, Restart and Redeploy act on the VM
	// ("sshdoctor azure start -g rg -n web1"); Redeploy carries its
	// confirmation.
	Start, Restart, Redeploy string
	// Check re-runs this check and AllowSSH adds every suggested rule;
	// " --source-ip IP --port N" is appended to both.
	Check, AllowSSH string
	// AddRule is the command that adds one suggested rule.
	AddRule func(Suggestion) string
	// RemoveRule deletes rule from an NSG (level "subnet" or "nic").
	RemoveRule func(level, nsgID, nsg, rule string) string
	// RemoveRoute deletes a user route.
	RemoveRoute func(cloud.Route) string
	// NewNSG creates an NSG that allows source to port and attaches it to
	// the VM's NIC (for a VM no NSG applies to).
	NewNSG func(vm *cloud.VM, source string, port int) string
	// Remedy replaces the remediation of a finding by ID, for what only
	// one cloud has (Azure's boot diagnostics, reapply).
	Remedy map[string]string
}

// Target is what a check is about.
type Target struct {
	// Provider is the control plane asked (cloud.Provider's Kind).
	Provider string `json:"provider"`
	VM       string `json:"vm"`
	// SourceIP is the client address evaluated against NSGs and routes.
	SourceIP string `json:"source_ip"`
	// SourceAuto: SourceIP is InternetProbe (--source-ip auto), standing
	// for "any Internet address".
	SourceAuto bool `json:"source_auto"`
	Port       int  `json:"port"`
}

// Suggestion is an NSG rule that would let the flow through: always for
// the client's address alone (a /32 or /128).
type Suggestion struct {
	Level string             `json:"level"` // "subnet" or "nic"
	NSG   string             `json:"nsg"`   // name
	NSGID string             `json:"nsg_id"`
	Rule  cloud.SecurityRule `json:"rule"`
	// Renumber, when set, is the deny rule that decided the flow moved one
	// priority down (it sits at the lowest priority with nothing free
	// above it): set it first, then Rule takes its old priority. Every
	// other flow is judged exactly as before.
	Renumber *cloud.SecurityRule `json:"renumber,omitempty"`
}

// Problem is a gather step that failed.
type Problem struct {
	Step    string `json:"step"` // vm, health, boot, network, nsg, route
	Message string `json:"message"`
	// Err is the provider's error (errors.Is with cloud.ErrForbidden…,
	// errors.As with the provider's own type); nil when sshdoctor could
	// not evaluate what the provider returned (a rule it cannot parse).
	Err error `json:"-"`
}

// Report records what the control plane said about the VM and the path
// to it; judge turns it into Steps and Findings.
type Report struct {
	Target Target `json:"target"`
	// VM is nil when the VM could not be read; then nothing else is known.
	VM     *cloud.VM     `json:"vm,omitempty"`
	Health *cloud.Health `json:"health,omitempty"`
	// Boot is the serial log run through bootlog.Analyze; nil when there
	// is no serial log (boot diagnostics off, or it could not be fetched).
	Boot *bootlog.Report `json:"boot,omitempty"`
	// NSGs apply to the VM's NIC; NSGsLive says they are the cloud's
	// effective view, not the attached NSGs read because the VM does not run.
	NSGs     *cloud.EffectiveNSGs `json:"nsgs,omitempty"`
	NSGsLive bool                 `json:"nsgs_live"`
	// Flow is the connection evaluated, Verdict the NSGs' answer.
	Flow    string             `json:"flow,omitempty"`
	Verdict *netpolicy.Verdict `json:"verdict,omitempty"`
	// AllowedSources (auto mode, flow denied): sources the NSGs let reach
	// the port.
	AllowedSources []string     `json:"allowed_sources,omitempty"`
	Suggestions    []Suggestion `json:"suggestions,omitempty"`
	// JITRule names the Defender for Cloud just-in-time rule that denied
	// the flow: access is to be requested, not opened with a rule (so
	// there are no Suggestions).
	JITRule string `json:"jit_rule,omitempty"`
	// StandardClosed: no NSG applies, and the way in is a Standard SKU
	// public IP or load balancer, which admits nothing without one.
	StandardClosed bool          `json:"standard_closed,omitempty"`
	Routes         []cloud.Route `json:"routes,omitempty"`
	// ReturnRoute is the effective route the VM's replies to the client
	// take (NextHopNone named "(no route)" when none matches); nil when
	// the routes were not read (the VM does not run).
	ReturnRoute *cloud.Route `json:"return_route,omitempty"`
	// ReturnPath is netpolicy's judgement of that route for SSH.
	ReturnPath *netpolicy.ReturnPath `json:"return_path,omitempty"`
	Problems   []Problem             `json:"problems,omitempty"`

	Steps    []Step             `json:"steps"`
	Findings []findings.Finding `json:"findings"`
	// Unknown lists the steps that could not be evaluated ("nsg: …"): the
	// check cannot say they are fine.
	Unknown []string `json:"unknown,omitempty"`
	// OK: the VM was read, every step was evaluated (Unknown is empty)
	// and no finding is an error.
	OK bool `json:"ok"`
}

func (r *Report) problem(step string, err error) {
	r.Problems = append(r.Problems, Problem{Step: step, Message: err.Error(), Err: err})
}

// unevaluable records what sshdoctor could not evaluate itself.
func (r *Report) unevaluable(step string, err error) {
	r.Problems = append(r.Problems, Problem{Step: step, Message: err.Error()})
}

// Check gathers what p knows about VM vm and the path to it from o.Source
// to o.Port, then judges it. Failed calls become findings
// (cloud.access_denied, cloud.not_found, cloud.api_error); Check itself
// never fails.
func Check(ctx context.Context, p cloud.Provider, vm string, o Options) *Report {
	r := gather(ctx, p, vm, o, true)
	judge(r, &o)
	return r
}

// EvaluateSSH gathers only what the NSG verdict needs — the VM and its
// NSGs — and evaluates the flow, unjudged: Verdict and Suggestions are
// what an "allow SSH" action applies.
func EvaluateSSH(ctx context.Context, p cloud.Provider, vm string, o Options) *Report {
	return gather(ctx, p, vm, o, false)
}

// gather fills a report; full adds health, the serial log and routes to
// what the NSG verdict needs.
func gather(ctx context.Context, p cloud.Provider, name string, o Options, full bool) *Report {
	r := &Report{Target: Target{Provider: p.Kind(), VM: name, SourceAuto: o.SourceAuto, Port: o.Port}}
	if o.Source.IsValid() {
		r.Target.SourceIP = o.Source.String()
	}
	vm, err := p.GetVM(ctx, name)
	if vm == nil {
		if err == nil {
			err = fmt.Errorf("%s returned no VM %s", p.Kind(), name)
		}
		r.problem("vm", err)
		return r
	}
	r.VM = vm
	// A VM with an error: its network (NIC, public IP) could not be read.
	network := err == nil || vm.PrivateIP != ""
	if err != nil {
		r.problem("network", err)
	}

	// Each call is independent, and on Azure the effective NSGs and
	// routes are each a long-running operation of several seconds: ask
	// for them all at once, record in a fixed order.
	var (
		wg                 sync.WaitGroup
		health             *cloud.Health
		serial             []byte
		nsgs               *cloud.EffectiveNSGs
		routes             []cloud.Route
		healthErr, bootErr error
		nsgErr, routeErr   error
	)
	running := vm.PowerState == cloud.PowerRunning
	if full {
		wg.Go(func() { health, healthErr = p.Health(ctx, name) })
		if vm.BootDiagnostics {
			wg.Go(func() { serial, bootErr = p.SerialLog(ctx, name) })
		}
		// Effective routes exist only for a running VM (Azure computes
		// them then); otherwise the power state says why.
		if running && network {
			wg.Go(func() { routes, routeErr = p.EffectiveRoutes(ctx, name) })
		}
	}
	if network {
		wg.Go(func() { nsgs, nsgErr = p.EffectiveNSGs(ctx, name) })
	}
	wg.Wait()

	if full {
		if healthErr != nil {
			r.problem("health", healthErr)
		} else {
			r.Health = health
		}
		if bootErr != nil {
			r.problem("boot", bootErr)
		} else if vm.BootDiagnostics {
			// A bytes.Reader never fails a read.
			r.Boot, _ = bootlog.Analyze(bytes.NewReader(serial))
		}
		switch {
		case errors.Is(routeErr, cloud.ErrNotRunning):
			// It stopped meanwhile: nothing to judge.
		case routeErr != nil:
			r.problem("route", routeErr)
		case running && network:
			r.Routes = routes
			if !o.Source.IsValid() {
				break
			}
			rp := netpolicy.ExplainReturnPath(routes, true, o.Source)
			r.ReturnPath = &rp
			if rp.Found {
				rt := rp.Route
				r.ReturnRoute = &rt
			} else {
				r.ReturnRoute = &cloud.Route{Name: "(no route)", NextHopType: cloud.NextHopNone}
			}
		}
	}
	switch {
	case nsgErr != nil:
		r.problem("nsg", nsgErr)
	case nsgs != nil:
		r.NSGs, r.NSGsLive = nsgs, nsgs.Live
		evaluate(r, o.Source)
	}
	return r
}

// standardClosed: the VM's way in from the Internet is a Standard SKU
// public IP or load balancer, closed to inbound traffic by default.
func standardClosed(vm *cloud.VM) bool {
	if vm.PublicIPResource != "" {
		return strings.EqualFold(vm.PublicIPSKU, "Standard")
	}
	for _, n := range vm.InboundNAT {
		if strings.EqualFold(n.FrontendSKU, "Standard") {
			return true
		}
	}
	return false
}

// inVNet: src is in the virtual network's address space (traffic that
// does not come through the public IP).
func inVNet(e *cloud.EffectiveNSGs, src netip.Addr) bool {
	for _, s := range e.VNetPrefixes {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(src) {
			return true
		}
	}
	return false
}

// evaluate decides the SSH flow against the NSGs and, when denied, finds
// who may connect (auto) or the rules that would let the client in.
func evaluate(r *Report, src netip.Addr) {
	if !src.IsValid() {
		r.unevaluable("nsg", errors.New("no client address to evaluate the NSGs for (give --source-ip)"))
		return
	}
	dst, err := netip.ParseAddr(r.VM.PrivateIP)
	if err != nil {
		r.unevaluable("nsg", fmt.Errorf("the NIC has no private address to evaluate the NSGs against (%q)", r.VM.PrivateIP))
		return
	}
	policy, err := netpolicy.Compile(r.NSGs)
	if err != nil {
		r.unevaluable("nsg", fmt.Errorf("cannot evaluate the NSGs: %w", err))
		return
	}
	f := netpolicy.Flow{Protocol: "Tcp", Source: src, Destination: dst, SourcePort: ClientPort, DestinationPort: r.Target.Port, Direction: cloud.Inbound}
	if r.NSGs.Subnet == nil && r.NSGs.NIC == nil && standardClosed(r.VM) && !inVNet(r.NSGs, src) {
		// No NSG: a Basic address would be open, but a Standard public
		// IP or load balancer admits nothing until an NSG allows it.
		r.Flow = fmt.Sprintf("TCP %s → %s:%d (inbound)", src, dst, r.Target.Port)
		r.Verdict = &netpolicy.Verdict{}
		r.StandardClosed = true
		return
	}
	r.Flow = fmt.Sprintf("TCP %s → %s:%d (inbound)", src, dst, r.Target.Port)
	v := policy.Evaluate(f)
	verdict := v
	r.Verdict = &verdict
	if v.Allowed {
		return
	}
	if r.Target.SourceAuto {
		r.AllowedSources = allowedSources(policy, r.NSGs, f)
		return
	}
	// Suggest a rule for the deciding NSG; if the other NSG then denies,
	// one for it too. Just-in-time access closes the port on purpose: a
	// standing allow rule would defeat it, in either NSG.
	fixes, kept, err := netpolicy.SuggestFixKeep(r.NSGs, f, func(name string) bool {
		return strings.HasPrefix(strings.ToLower(name), jitRulePrefix)
	})
	switch {
	case err != nil:
		r.unevaluable("nsg", err)
	case kept != nil:
		r.JITRule = kept.Rule
	default:
		for _, fx := range fixes {
			r.Suggestions = append(r.Suggestions, Suggestion{Level: fx.Level, NSG: fx.NSG, NSGID: fx.NSGID, Rule: fx.Rule, Renumber: fx.Renumber})
		}
	}
}

// allowedSources lists the sources among the NSGs' inbound allow rules
// (and the virtual network) from which the flow would pass.
func allowedSources(policy *netpolicy.Policy, e *cloud.EffectiveNSGs, f netpolicy.Flow) []string {
	var out []string
	try := func(label string, a netip.Addr) {
		g := f
		g.Source = a
		if len(out) < maxAllowedSources && !slices.Contains(out, label) && allowed(policy, g) {
			out = append(out, label)
		}
	}
	for _, n := range []*cloud.NSG{e.Subnet, e.NIC} {
		if n == nil {
			continue
		}
		for _, rule := range n.Rules {
			if rule.Direction != cloud.Inbound || rule.Access != cloud.Allow {
				continue
			}
			for _, s := range rule.SourceAddressPrefixes {
				if p, err := netip.ParsePrefix(s); err == nil {
					try(p.Masked().String(), p.Masked().Addr())
				} else if a, err := netip.ParseAddr(s); err == nil {
					try(a.String(), a)
				}
			}
		}
	}
	for _, s := range e.VNetPrefixes {
		if p, err := netip.ParsePrefix(s); err == nil {
			try("VirtualNetwork ("+strings.Join(e.VNetPrefixes, ", ")+")", p.Masked().Addr())
			break
		}
	}
	return out
}

func allowed(p *netpolicy.Policy, f netpolicy.Flow) bool {
	ok, _ := p.Allowed(f)
	return ok
}
