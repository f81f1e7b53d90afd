package fix

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// world is an in-memory control plane with one VM whose SSH works exactly
// when the VM runs, its NSGs let the client through and no user route
// drops the replies — and the guest (authFail) accepts the key. Every
// mutating call is recorded.
type world struct {
	mu       sync.Mutex
	vm       cloud.VM
	nsgs     cloud.EffectiveNSGs
	routes   []cloud.Route
	authFail bool
	// banner: sshd never answers with a banner (a cause nothing names).
	banner bool
	calls  []string
}

var _ cloud.Provider = (*world)(nil)

var (
	clientIP = netip.MustParseAddr("198.51.100.7")
	otherIP  = netip.MustParseAddr("203.0.113.99")
)

func rule(name string, prio int, access cloud.Access, src, port string) cloud.SecurityRule {
	return cloud.SecurityRule{Name: name, Priority: prio, Direction: cloud.Inbound, Access: access, Protocol: "Tcp",
		SourceAddressPrefixes: []string{src}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{port}}
}

func newWorld() *world {
	return &world{
		vm: cloud.VM{Name: "web1", PowerState: cloud.PowerRunning, ProvisioningState: "Succeeded", AgentReady: true, AgentStatus: "Ready",
			PrivateIP: "10.0.0.4", PublicIP: "20.1.2.3", NIC: "web1-nic", BootDiagnostics: false},
		nsgs: cloud.EffectiveNSGs{
			NIC:          &cloud.NSG{ID: "ids/web1-nsg", Name: "web1-nsg", Rules: []cloud.SecurityRule{rule("SSH", 300, cloud.Allow, "*", "22")}},
			VNetPrefixes: []string{"10.0.0.0/16"}, Live: true,
		},
		routes: []cloud.Route{
			{Name: "vnet", AddressPrefix: "10.0.0.0/16", NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
			{Name: "default", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopInternet, Source: "Default"},
		},
	}
}

func (w *world) call(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, s)
}

func (w *world) Kind() string               { return "fake" }
func (w *world) RunLimits() cloud.RunLimits { return cloud.AzureRunLimits }
func (w *world) GetVM(context.Context, string) (*cloud.VM, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.vm
	return &v, nil
}
func (w *world) Health(context.Context, string) (*cloud.Health, error) {
	return &cloud.Health{State: cloud.HealthAvailable}, nil
}
func (w *world) SerialLog(context.Context, string) ([]byte, error) { return nil, cloud.ErrUnsupported }
func (w *world) EffectiveNSGs(context.Context, string) (*cloud.EffectiveNSGs, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.nsgs
	n := *c.NIC
	n.Rules = slices.Clone(n.Rules)
	c.NIC = &n
	return &c, nil
}
func (w *world) EffectiveRoutes(context.Context, string) ([]cloud.Route, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.routes), nil
}
func (w *world) Start(context.Context, string) error {
	w.call("start")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.vm.PowerState, w.vm.AgentReady = cloud.PowerRunning, true
	return nil
}
func (w *world) Stop(context.Context, string) error {
	w.call("stop")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.vm.PowerState = cloud.PowerDeallocated
	return nil
}
func (w *world) Restart(context.Context, string) error  { w.call("restart"); return nil }
func (w *world) Redeploy(context.Context, string) error { w.call("redeploy"); return nil }

// RunCommand: the guest cannot be examined (so the guest is no evidence).
func (w *world) RunCommand(context.Context, string, string, time.Duration) (*cloud.RunResult, error) {
	return nil, cloud.ErrUnsupported
}
func (w *world) SetNSGRule(_ context.Context, id string, r cloud.SecurityRule) error {
	w.call("set " + id + " " + r.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if id != w.nsgs.NIC.ID {
		return cloud.ErrNotFound
	}
	rules := w.nsgs.NIC.Rules
	for i := range rules {
		if rules[i].Name != r.Name && rules[i].Priority == r.Priority && rules[i].Direction == r.Direction {
			return errors.New("priority in use") // as Azure refuses it
		}
	}
	if i := slices.IndexFunc(rules, func(x cloud.SecurityRule) bool { return x.Name == r.Name }); i >= 0 {
		rules[i] = r
	} else {
		w.nsgs.NIC.Rules = append(rules, r)
	}
	return nil
}
func (w *world) RemoveNSGRule(_ context.Context, id, name string) error {
	w.call("remove " + id + " " + name)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nsgs.NIC.Rules = slices.DeleteFunc(w.nsgs.NIC.Rules, func(x cloud.SecurityRule) bool { return x.Name == name })
	return nil
}
func (w *world) RemoveRoute(_ context.Context, table, name string) error {
	w.call("route-remove " + table + " " + name)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.routes = slices.DeleteFunc(w.routes, func(r cloud.Route) bool { return r.Table == table && r.Name == name })
	return nil
}
func (w *world) ResetSSH(context.Context, string) error { w.call("reset-ssh"); return nil }
func (w *world) ResetUser(_ context.Context, _, user, _ string) error {
	w.call("reset-user " + user)
	return nil
}

// allows: the NSGs let src reach TCP/22.
func (w *world) allows(t *testing.T, src netip.Addr) bool {
	t.Helper()
	e, _ := w.EffectiveNSGs(context.Background(), "")
	p, err := netpolicy.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := p.Allowed(netpolicy.Flow{Protocol: "Tcp", Source: src, Destination: netip.MustParseAddr("10.0.0.4"), SourcePort: 50000, DestinationPort: 22, Direction: cloud.Inbound})
	return ok
}

func verdict(id string) *diagnose.Verdict {
	if id == "" {
		return &diagnose.Verdict{Works: true, Diagnosis: "SSH works"}
	}
	f := findings.New(id, id, "")
	return &diagnose.Verdict{RootCause: &f, Diagnosis: id}
}

// checker connects from clientIP through the world.
func (w *world) checker(t *testing.T) Checker {
	return func(context.Context) (*probe.Report, *diagnose.Verdict) {
		w.mu.Lock()
		running, routes, auth, banner := w.vm.PowerState == cloud.PowerRunning, slices.Clone(w.routes), w.authFail, w.banner
		w.mu.Unlock()
		switch {
		case !running || !w.allows(t, clientIP) || slices.ContainsFunc(routes, func(r cloud.Route) bool { return r.NextHopType == cloud.NextHopNone }):
			return &probe.Report{}, verdict("tcp.timeout")
		case banner:
			return &probe.Report{}, verdict("ssh.closed_before_banner")
		case auth:
			return &probe.Report{}, verdict("auth.publickey_rejected")
		}
		return &probe.Report{}, verdict("")
	}
}

func (w *world) run(t *testing.T, mod func(*Options)) (*Report, error) {
	t.Helper()
	o := Options{Provider: w, VM: "web1", User: "azureuser", Port: 22, Source: clientIP, Check: w.checker(t), ReadyTimeout: 5 * time.Second}
	if mod != nil {
		mod(&o)
	}
	return Run(context.Background(), o)
}

func kinds(r *Report) []string {
	var k []string
	for _, e := range r.Journal {
		k = append(k, e.Step.Kind)
	}
	return k
}

func TestHealthyVMIsNotTouched(t *testing.T) {
	w := newWorld()
	r, err := w.run(t, nil)
	if err != nil || !r.Before.Works || len(r.Journal) != 0 || len(w.calls) != 0 || r.Fixed {
		t.Fatalf("err %v, report %+v, calls %v", err, r, w.calls)
	}
}

// An NSG deny is fixed by allowing the client's address only: another
// address stays denied.
func TestNSGDenyAllowsOnlyTheClient(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 200, cloud.Deny, "*", "22"))
	r, err := w.run(t, nil)
	if err != nil || !r.Fixed || !slices.Equal(kinds(r), []string{KindNSGAllow}) {
		t.Fatalf("err %v fixed %v steps %v", err, r.Fixed, kinds(r))
	}
	st := r.Journal[0].Step
	if st.Rule == nil || !slices.Equal(st.Rule.SourceAddressPrefixes, []string{"198.51.100.7/32"}) || st.Rule.Priority >= 200 {
		t.Fatalf("rule %+v: want the client's /32 above the deny", st.Rule)
	}
	if w.allows(t, otherIP) {
		t.Fatal("another address got in: the fix widened the NSG")
	}
	if r.Journal[0].Effect != "fixed" || r.Journal[0].Undo == nil || r.Journal[0].Undo.RuleName != st.Rule.Name {
		t.Fatalf("entry %+v", r.Journal[0])
	}
}

// A deny at the lowest priority leaves no room above it: the deny moves
// one priority down (asked first), the client's rule takes its place; undo
// puts both back.
func TestNSGDenyAtTopIsRenumberedAndUndone(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 100, cloud.Deny, "*", "22"))
	var asked []string
	r, err := w.run(t, func(o *Options) {
		o.Confirm = func(s Step) (bool, error) { asked = append(asked, s.Kind); return true, nil }
	})
	if err != nil || !r.Fixed || len(asked) != 1 {
		t.Fatalf("err %v fixed %v asked %v steps %v", err, r.Fixed, asked, kinds(r))
	}
	if w.allows(t, otherIP) {
		t.Fatal("another address got in")
	}
	i := slices.IndexFunc(w.nsgs.NIC.Rules, func(x cloud.SecurityRule) bool { return x.Name == "DenySSH" })
	if w.nsgs.NIC.Rules[i].Priority != 101 {
		t.Fatalf("DenySSH at %d, want 101", w.nsgs.NIC.Rules[i].Priority)
	}
	res, err := UndoJournal(context.Background(), w, r)
	if err != nil || len(res) != 1 || res[0].Result != "undone" {
		t.Fatalf("undo: %v %+v", err, res)
	}
	if len(w.nsgs.NIC.Rules) != 2 || w.nsgs.NIC.Rules[i].Priority != 100 || w.allows(t, clientIP) {
		t.Fatalf("after undo: %+v", w.nsgs.NIC.Rules)
	}
}

func TestDeclinedStepChangesNothing(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 100, cloud.Deny, "*", "22"))
	r, err := w.run(t, func(o *Options) {
		o.Confirm = func(Step) (bool, error) { return false, nil }
	})
	if !errors.Is(err, ErrNotFixed) || len(w.calls) != 0 || len(r.Journal) == 0 || r.Journal[0].Result != "declined" {
		t.Fatalf("err %v calls %v journal %+v", err, w.calls, r.Journal)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld()
	w.vm.PowerState = cloud.PowerDeallocated
	r, err := w.run(t, func(o *Options) { o.DryRun = true })
	if !errors.Is(err, ErrNotFixed) || len(w.calls) != 0 || len(r.Plan) == 0 || r.Plan[0].Kind != KindStart {
		t.Fatalf("err %v calls %v plan %+v", err, w.calls, r.Plan)
	}
}

// Without the client's address, fix does not open the NSG to anything.
func TestUnknownSourceIsManual(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 200, cloud.Deny, "*", "22"))
	r, err := w.run(t, func(o *Options) { o.Source = netip.Addr{} })
	if !errors.Is(err, ErrNotFixed) || len(w.calls) != 0 || !strings.Contains(strings.Join(r.Next, " "), "--source-ip") {
		t.Fatalf("err %v calls %v next %q", err, w.calls, r.Next)
	}
}

// A just-in-time rule is access to request, never a rule to add.
func TestJITIsManual(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("SecurityCenter-JITRule_1_abc", 200, cloud.Deny, "*", "22"))
	r, err := w.run(t, nil)
	if !errors.Is(err, ErrNotFixed) || len(w.calls) != 0 || !strings.Contains(strings.Join(r.Next, " "), "JIT") {
		t.Fatalf("err %v calls %v next %q", err, w.calls, r.Next)
	}
}

func TestStoppedVMIsStarted(t *testing.T) {
	w := newWorld()
	w.vm.PowerState, w.vm.AgentReady = cloud.PowerDeallocated, false
	r, err := w.run(t, nil)
	if err != nil || !r.Fixed || !slices.Equal(w.calls, []string{"start"}) {
		t.Fatalf("err %v fixed %v calls %v", err, r.Fixed, w.calls)
	}
}

func TestBlackholeUserRouteIsRemoved(t *testing.T) {
	w := newWorld()
	w.routes = append(w.routes, cloud.Route{Name: "drop-clients", Table: "ids/rt", AddressPrefix: "198.51.100.0/24", NextHopType: cloud.NextHopNone, Source: "User"})
	r, err := w.run(t, func(o *Options) { o.Confirm = func(Step) (bool, error) { return true, nil } })
	if err != nil || !r.Fixed || !slices.Equal(w.calls, []string{"route-remove ids/rt drop-clients"}) {
		t.Fatalf("err %v fixed %v calls %v", err, r.Fixed, w.calls)
	}
}

// A route fix may not change (from a gateway) is reported, and no blind
// reset or reboot is tried while the evidence names it.
func TestKnownCauseNeverFallsBackToBlindSteps(t *testing.T) {
	w := newWorld()
	w.routes = append(w.routes, cloud.Route{Name: "bgp", AddressPrefix: "198.51.100.0/24", NextHopType: cloud.NextHopNone, Source: "VirtualNetworkGateway"})
	r, err := w.run(t, nil)
	if !errors.Is(err, ErrNotFixed) || len(w.calls) != 0 || len(r.Next) == 0 {
		t.Fatalf("err %v calls %v next %q", err, w.calls, r.Next)
	}
}

// A step after which the connection fails earlier than before is undone.
func TestWorseStepIsUndone(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 200, cloud.Deny, "*", "22"))
	n := 0
	base := w.checker(t)
	r, err := w.run(t, func(o *Options) {
		o.MaxSteps = 1
		o.Check = func(ctx context.Context) (*probe.Report, *diagnose.Verdict) {
			n++
			if n == 1 { // before: auth fails (a later layer than TCP)
				return &probe.Report{}, verdict("auth.publickey_rejected")
			}
			if w.allows(t, clientIP) { // the new rule "breaks" TCP
				return &probe.Report{}, verdict("tcp.timeout")
			}
			return base(ctx)
		}
	})
	if !errors.Is(err, ErrNotFixed) || len(r.Journal) != 1 || r.Journal[0].Effect != "worse" || !r.Journal[0].Undone {
		t.Fatalf("err %v journal %+v", err, r.Journal)
	}
	if w.allows(t, clientIP) || len(w.nsgs.NIC.Rules) != 2 {
		t.Fatalf("the rule was not removed: %+v", w.nsgs.NIC.Rules)
	}
}

// Nothing names a cause: the seed's order, one step at a time, a check
// after each; redeploy only with --allow-redeploy.
func TestNoEvidenceFallsBackToSeedOrder(t *testing.T) {
	w := newWorld()
	w.banner = true
	r, err := w.run(t, nil)
	if !errors.Is(err, ErrNotFixed) || !slices.Equal(w.calls, []string{"reset-ssh", "restart"}) {
		t.Fatalf("err %v calls %v", err, w.calls)
	}
	for _, e := range r.Journal {
		if !e.Step.Fallback || e.Recheck == nil {
			t.Fatalf("entry %+v: a fallback step with a recheck", e)
		}
	}
	if !strings.Contains(strings.Join(r.Next, " "), "--allow-redeploy") {
		t.Fatalf("next %q", r.Next)
	}
	w = newWorld()
	w.banner = true
	if _, err := w.run(t, func(o *Options) { o.AllowRedeploy = true }); !errors.Is(err, ErrNotFixed) || !slices.Equal(w.calls, []string{"reset-ssh", "restart", "redeploy"}) {
		t.Fatalf("err %v calls %v", err, w.calls)
	}
}

func TestJournalRoundTripAndRefusesOtherProvider(t *testing.T) {
	w := newWorld()
	w.nsgs.NIC.Rules = append(w.nsgs.NIC.Rules, rule("DenySSH", 200, cloud.Deny, "*", "22"))
	r, err := w.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/j.json"
	if err := WriteJournal(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJournal(path)
	if err != nil || len(back.Journal) != 1 || back.Journal[0].Undo == nil {
		t.Fatalf("%v %+v", err, back)
	}
	back.Provider = "azure"
	if _, err := UndoJournal(context.Background(), w, back); err == nil {
		t.Fatal("a journal of another provider was undone")
	}
}

// VMAccess needs the VM agent: with the agent not ready the resets are not
// planned (the user would be asked for a step that cannot run).
func TestNoVMAccessWithoutAgent(t *testing.T) {
	w := newWorld()
	w.banner = true
	w.vm.AgentReady, w.vm.AgentStatus = false, "Not Ready"
	_, err := w.run(t, nil)
	if !errors.Is(err, ErrNotFixed) || slices.Contains(w.calls, "reset-ssh") || slices.ContainsFunc(w.calls, func(c string) bool { return strings.HasPrefix(c, "reset-user") }) {
		t.Fatalf("err %v calls %v", err, w.calls)
	}
}

// A declined restart is not a restart that did not help: no redeploy.
func TestDeclinedRestartIsNoReasonToRedeploy(t *testing.T) {
	w := newWorld()
	w.banner = true
	var asked []string
	r, err := w.run(t, func(o *Options) {
		o.AllowRedeploy = true
		o.Confirm = func(s Step) (bool, error) { asked = append(asked, s.Kind); return s.Kind != KindRestart, nil }
	})
	if !errors.Is(err, ErrNotFixed) || slices.Contains(asked, KindRedeploy) || slices.Contains(w.calls, "redeploy") {
		t.Fatalf("err %v asked %v calls %v journal %v", err, asked, w.calls, kinds(r))
	}
}
