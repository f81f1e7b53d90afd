package azure

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// InternetProbe is the source address `--source-ip auto` evaluates: an
// address from TEST-NET-3 (RFC 5737), which no real client has and which
// Azure's NSGs treat like any other Internet address. It answers "is SSH
// open to the Internet at large?", not "is it open to me?".
var InternetProbe = netip.MustParseAddr("203.0.113.1")

// clientPort is the source port evaluated: inside both Linux's
// (32768-60999) and Windows' (49152-65535) ephemeral ranges.
const clientPort = 50000

// maxAllowedSources bounds the list of allowed sources in a report.
const maxAllowedSources = 10

// Target is what a check is about.
type Target struct {
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resource_group"`
	VM            string `json:"vm"`
	// SourceIP is the client address evaluated against NSGs and routes.
	SourceIP string `json:"source_ip"`
	// SourceAuto: SourceIP is InternetProbe (--source-ip auto), standing
	// for "any Internet address".
	SourceAuto bool `json:"source_auto"`
	Port       int  `json:"port"`
}

// Suggestion is an NSG rule that would let the flow through.
type Suggestion struct {
	Level string             `json:"level"` // "subnet" or "nic"
	NSG   string             `json:"nsg"`   // name
	NSGID string             `json:"nsg_id"`
	Rule  cloud.SecurityRule `json:"rule"`
}

// Problem is a gather step that failed.
type Problem struct {
	Step    string `json:"step"` // vm, health, boot, network, nsg, route
	Message string `json:"message"`
	ARM     *Error `json:"arm,omitempty"` // set when Azure answered with an error
}

// Report records what Azure said about the VM and the path to it;
// judge turns it into Steps and Findings.
type Report struct {
	Target Target `json:"target"`
	// VM is nil when the VM could not be read; then nothing else is known.
	VM *cloud.VM `json:"vm,omitempty"`
	// ProvisioningDetail is the instance view's failure message.
	ProvisioningDetail string        `json:"provisioning_detail,omitempty"`
	Agent              string        `json:"agent,omitempty"` // the VM agent's status line
	Health             *cloud.Health `json:"health,omitempty"`
	BootDiagnostics    bool          `json:"boot_diagnostics"`
	// SerialLog is the boot-diagnostics serial log as fetched, for the
	// boot-log analyzer; the report shows only its size.
	SerialLog      []byte `json:"-"`
	SerialLogBytes int    `json:"serial_log_bytes"`
	NIC            string `json:"nic,omitempty"`
	// PublicIPResource names the public IP resource attached to the NIC
	// (it may hold no address: dynamic and released).
	PublicIPResource string `json:"public_ip_resource,omitempty"`
	// NSGs apply to the NIC; NSGsLive says they are Azure's effective
	// view, not the attached NSGs read because the VM does not run.
	NSGs        *cloud.EffectiveNSGs `json:"nsgs,omitempty"`
	NSGsLive    bool                 `json:"nsgs_live"`
	SubnetNSGID string               `json:"subnet_nsg_id,omitempty"`
	NICNSGID    string               `json:"nic_nsg_id,omitempty"`
	// Flow is the connection evaluated, Verdict the NSGs' answer.
	Flow    string             `json:"flow,omitempty"`
	Verdict *netpolicy.Verdict `json:"verdict,omitempty"`
	// AllowedSources (auto mode, flow denied): sources the NSGs let reach
	// the port.
	AllowedSources []string      `json:"allowed_sources,omitempty"`
	Suggestions    []Suggestion  `json:"suggestions,omitempty"`
	Routes         []cloud.Route `json:"routes,omitempty"`
	// ReturnRoute is the effective route the VM's replies to the client take.
	ReturnRoute *cloud.Route `json:"return_route,omitempty"`
	Problems    []Problem    `json:"problems,omitempty"`
	// Location is the VM's Azure region.
	Location string `json:"location,omitempty"`
	// Watcher is Network Watcher's answer (--network-watcher).
	Watcher *WatcherResult `json:"network_watcher,omitempty"`

	Steps    []Step             `json:"steps"`
	Findings []findings.Finding `json:"findings"`
	// OK: no error finding.
	OK bool `json:"ok"`

	mu sync.Mutex // gather's goroutines record into the report
}

func (r *Report) problem(step string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problemLocked(step, err)
}

func (r *Report) problemLocked(step string, err error) {
	pr := Problem{Step: step, Message: err.Error()}
	var ae *Error
	if errors.As(err, &ae) && ae.Status != 0 {
		pr.ARM = ae
	}
	r.Problems = append(r.Problems, pr)
}

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

// Check gathers what Azure knows about vm and the path to it from
// sourceIP (see ParseSource) to port, then judges it. ARM errors become
// findings (cloud.access_denied, cloud.not_found, cloud.api_error);
// Check itself never fails.
func Check(ctx context.Context, p *Provider, vm string, sourceIP string, port int) *Report {
	r := &Report{Target: Target{Subscription: p.Subscription, ResourceGroup: p.ResourceGroup, VM: vm, Port: port}}
	src, auto, srcErr := ParseSource(sourceIP)
	r.Target.SourceIP, r.Target.SourceAuto = sourceIP, auto
	if srcErr == nil {
		r.Target.SourceIP = src.String()
	}
	gather(ctx, p, r, src, srcErr, true)
	judge(r)
	return r
}

// EvaluateSSH gathers only what the NSG verdict needs — the VM, its NIC
// and NSGs — and evaluates the flow; unjudged. `azure nsg allow-ssh`
// uses its Verdict and Suggestions.
func EvaluateSSH(ctx context.Context, p *Provider, vm string, sourceIP string, port int) *Report {
	r := &Report{Target: Target{Subscription: p.Subscription, ResourceGroup: p.ResourceGroup, VM: vm, Port: port}}
	src, auto, srcErr := ParseSource(sourceIP)
	r.Target.SourceIP, r.Target.SourceAuto = src.String(), auto
	gather(ctx, p, r, src, srcErr, false)
	return r
}

// gather fills r; full adds health, boot diagnostics and routes to what
// the NSG verdict needs.
func gather(ctx context.Context, p *Provider, r *Report, src netip.Addr, srcErr error, full bool) {
	name := r.Target.VM
	vm, err := p.vm(ctx, name)
	if err != nil {
		r.problem("vm", err)
		return
	}
	r.VM = vmView(vm)
	r.Location = deref(vm.Location)
	_, r.ProvisioningDetail = provisioning(vm)
	_, r.Agent = agentState(vm)

	r.BootDiagnostics = bootDiagnostics(vm)
	// Health, the serial log and the network are independent, and the
	// effective NSGs and routes are each a long-running operation of
	// several seconds: ask for them all at once.
	var wg sync.WaitGroup
	defer wg.Wait()
	if full {
		wg.Go(func() {
			h, err := p.Health(ctx, name)
			r.set(func() { r.Health = h }, "health", err)
		})
		if r.BootDiagnostics {
			wg.Go(func() {
				log, err := p.serialLog(ctx, vm)
				r.set(func() { r.SerialLog, r.SerialLogBytes = log, len(log) }, "boot", err)
			})
		}
	}

	nic, err := p.primaryNIC(ctx, vm)
	if err != nil {
		r.problem("network", err)
		return
	}
	r.NIC = deref(nic.Name)
	if c := primaryIPConfig(nic); c.PublicIPAddress != nil && c.PublicIPAddress.ID != nil {
		r.PublicIPResource = lastSegment(*c.PublicIPAddress.ID)
	}
	if full {
		wg.Go(func() {
			routes, err := p.routes(ctx, vm, nic)
			if errors.Is(err, ErrNotRunning) {
				return // nothing to judge: the power state says why
			}
			r.set(func() {
				r.Routes = routes
				if srcErr != nil {
					return
				}
				if rt, ok := netpolicy.NextHop(routes, src); ok {
					r.ReturnRoute = &rt
				} else {
					r.ReturnRoute = &cloud.Route{Name: "(no route)", NextHopType: cloud.NextHopNone}
				}
			}, "route", err)
		})
	}
	private, public, err := p.addresses(ctx, nic)
	r.set(func() { r.VM.PrivateIP, r.VM.PublicIP = private, public }, "network", err)
	if err != nil && private == "" {
		return
	}

	view, err := p.nsgView(ctx, vm, nic)
	if err == nil && srcErr != nil {
		err = srcErr
	}
	r.set(func() {
		r.NSGs, r.NSGsLive, r.SubnetNSGID, r.NICNSGID = view.NSGs, view.Live, view.SubnetNSGID, view.NICNSGID
		evaluate(r, src)
	}, "nsg", err)
}

// set records a gather result under the report's lock: f on success, a
// problem of step otherwise.
func (r *Report) set(f func(), step string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.problemLocked(step, err)
		return
	}
	f()
}

// evaluate decides the SSH flow against the NSGs and, when denied, finds
// who may connect (auto) or the rules that would let the client in. The
// caller holds r.mu.
func evaluate(r *Report, src netip.Addr) {
	dst, err := netip.ParseAddr(r.VM.PrivateIP)
	if err != nil {
		r.problemLocked("nsg", fmt.Errorf("the NIC has no private address to evaluate the NSGs against (%q)", r.VM.PrivateIP))
		return
	}
	policy, err := netpolicy.Compile(r.NSGs)
	if err != nil {
		r.problemLocked("nsg", fmt.Errorf("cannot evaluate the NSGs: %w", err))
		return
	}
	f := netpolicy.Flow{Protocol: "Tcp", Source: src, Destination: dst, SourcePort: clientPort, DestinationPort: r.Target.Port, Direction: cloud.Inbound}
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
	// one for it too.
	nsgs := cloneNSGs(r.NSGs)
	for range 2 {
		level, _, _ := strings.Cut(v.DecidingNSG, "/")
		target, id := nsgs.NIC, r.NICNSGID
		if level == "subnet" {
			target, id = nsgs.Subnet, r.SubnetNSGID
		}
		rule, err := netpolicy.SuggestAllow(target, f, decidingPriority(v))
		if err != nil {
			r.problemLocked("nsg", err)
			return
		}
		r.Suggestions = append(r.Suggestions, Suggestion{Level: level, NSG: target.Name, NSGID: id, Rule: rule})
		target.Rules = append(target.Rules, rule)
		policy, err := netpolicy.Compile(nsgs)
		if err != nil {
			r.problemLocked("nsg", err)
			return
		}
		if v = policy.Evaluate(f); v.Allowed {
			return
		}
	}
}

// decidingPriority is the priority of the rule that decided v.
func decidingPriority(v netpolicy.Verdict) int {
	for _, s := range v.Trace {
		if s.Matched && s.NSG == v.DecidingNSG && s.Rule == v.DecidingRule {
			return s.Priority
		}
	}
	return 65500 // DenyAllInBound
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

func cloneNSGs(e *cloud.EffectiveNSGs) *cloud.EffectiveNSGs {
	c := *e
	for _, n := range []**cloud.NSG{&c.Subnet, &c.NIC} {
		if *n != nil {
			cp := **n
			cp.Rules = slices.Clone(cp.Rules)
			*n = &cp
		}
	}
	return &c
}

// scopeOf is the resource group scope of a resource ID, where a role
// assignment for sshdoctor's needs belongs.
func scopeOf(id string) string {
	rid, err := arm.ParseResourceID(id)
	if err != nil || rid.SubscriptionID == "" || rid.ResourceGroupName == "" {
		return id
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", rid.SubscriptionID, rid.ResourceGroupName)
}
