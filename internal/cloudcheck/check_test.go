package cloudcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// fake is an in-memory control plane: one VM, its NSGs, routes and serial
// log, and a record of the calls made.
type fake struct {
	vm     *cloud.VM
	vmErr  error
	health *cloud.Health
	serial []byte
	nsgs   *cloud.EffectiveNSGs
	routes []cloud.Route
	// errs fails a call by name ("health", "serial", "nsgs", "routes").
	errs map[string]error

	mu    sync.Mutex
	calls map[string]int
}

var _ cloud.Provider = (*fake)(nil)

func (f *fake) called(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	return f.errs[name]
}

func (f *fake) Kind() string { return "fake" }

func (f *fake) GetVM(context.Context, string) (*cloud.VM, error) {
	f.called("vm")
	if f.vm == nil {
		return nil, f.vmErr
	}
	v := *f.vm
	return &v, f.vmErr
}

func (f *fake) Health(context.Context, string) (*cloud.Health, error) {
	if err := f.called("health"); err != nil {
		return nil, err
	}
	return f.health, nil
}

func (f *fake) SerialLog(context.Context, string) ([]byte, error) {
	if err := f.called("serial"); err != nil {
		return nil, err
	}
	return f.serial, nil
}

func (f *fake) EffectiveNSGs(context.Context, string) (*cloud.EffectiveNSGs, error) {
	if err := f.called("nsgs"); err != nil {
		return nil, err
	}
	return cloneNSGs(f.nsgs), nil
}

func (f *fake) EffectiveRoutes(context.Context, string) ([]cloud.Route, error) {
	if err := f.called("routes"); err != nil {
		return nil, err
	}
	return f.routes, nil
}

func (f *fake) Start(context.Context, string) error    { return cloud.ErrUnsupported }
func (f *fake) Stop(context.Context, string) error     { return cloud.ErrUnsupported }
func (f *fake) Restart(context.Context, string) error  { return cloud.ErrUnsupported }
func (f *fake) Redeploy(context.Context, string) error { return cloud.ErrUnsupported }
func (f *fake) RunCommand(context.Context, string, string, time.Duration) (*cloud.RunResult, error) {
	return nil, cloud.ErrUnsupported
}
func (f *fake) RunLimits() cloud.RunLimits { return cloud.AzureRunLimits }
func (f *fake) SetNSGRule(context.Context, string, cloud.SecurityRule) error {
	return cloud.ErrUnsupported
}
func (f *fake) RemoveNSGRule(context.Context, string, string) error { return cloud.ErrUnsupported }
func (f *fake) RemoveRoute(context.Context, string, string) error   { return cloud.ErrUnsupported }
func (f *fake) ResetSSH(context.Context, string) error              { return cloud.ErrUnsupported }
func (f *fake) ResetUser(context.Context, string, string, string) error {
	return cloud.ErrUnsupported
}

const healthyLog = "[    0.000000] Linux version 6.8.0-azure\n[    1.000000] systemd[1]: Reached target Multi-User System.\nUbuntu 24.04 LTS web1 ttyS0\n\nweb1 login: "

func rule(name string, prio int, access cloud.Access, src, port string) cloud.SecurityRule {
	return cloud.SecurityRule{Name: name, Priority: prio, Direction: cloud.Inbound, Access: access, Protocol: "Tcp",
		SourceAddressPrefixes: []string{src}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{port}}
}

// healthy is a running VM whose NIC NSG allows SSH from anywhere, with a
// subnet NSG that allows everything from the Internet, and system routes.
func healthy() *fake {
	return &fake{
		vm: &cloud.VM{Name: "web1", PowerState: cloud.PowerRunning, ProvisioningState: "Succeeded", AgentReady: true, AgentStatus: "Ready",
			PrivateIP: "10.0.0.4", PublicIP: "20.1.2.3", PublicIPResource: "web1-ip", NIC: "web1-nic", BootDiagnostics: true},
		health: &cloud.Health{State: cloud.HealthAvailable, Summary: "There aren't any known problems"},
		serial: []byte(healthyLog),
		nsgs: &cloud.EffectiveNSGs{
			Subnet:       &cloud.NSG{ID: "ids/subnet-nsg", Name: "subnet-nsg", Rules: []cloud.SecurityRule{rule("Allow-Internet", 4000, cloud.Allow, "Internet", "*")}},
			NIC:          &cloud.NSG{ID: "ids/web1-nsg", Name: "web1-nsg", Rules: []cloud.SecurityRule{rule("SSH", 300, cloud.Allow, "*", "22")}},
			VNetPrefixes: []string{"10.0.0.0/16"}, Live: true,
		},
		routes: []cloud.Route{
			{Name: "vnet", AddressPrefix: "10.0.0.0/16", NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
			{Name: "default", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopInternet, Source: "Default"},
		},
	}
}

// commands spells every action, so remediations can be checked for them.
var commands = Commands{
	Start: "cloud start web1", Restart: "cloud restart web1", Redeploy: "cloud redeploy web1 --yes",
	Check: "cloud check web1", AllowSSH: "cloud allow-ssh web1",
	AddRule: func(s Suggestion) string {
		return fmt.Sprintf("cloud rule add %s %s --priority %d --source %s", s.NSGID, s.Rule.Name, s.Rule.Priority, s.Rule.SourceAddressPrefixes[0])
	},
	RemoveRule: func(level, id, nsg, rule string) string {
		return fmt.Sprintf("cloud rule remove %s %s %s %s", level, id, nsg, rule)
	},
	RemoveRoute: func(r cloud.Route) string { return "cloud route remove " + r.Table + " " + r.Name },
}

var client = netip.MustParseAddr("198.51.100.7")

func check(t *testing.T, f *fake, src string) *Report {
	t.Helper()
	a, auto, err := ParseSource(src)
	if err != nil {
		t.Fatal(err)
	}
	return Check(context.Background(), f, "web1", Options{Source: a, SourceAuto: auto, Port: 22, Commands: commands})
}

func ids(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

func finding(t *testing.T, r *Report, id string) findings.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no %s among %v\nsteps: %+v\nproblems: %+v", id, ids(r), r.Steps, r.Problems)
	return findings.Finding{}
}

func noFinding(t *testing.T, r *Report, id string) {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == id {
			t.Errorf("unexpected %s: %+v", id, f)
		}
	}
}

func step(t *testing.T, r *Report, name string) Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, r.Steps)
	return Step{}
}

func TestHealthy(t *testing.T) {
	r := check(t, healthy(), client.String())
	if !r.OK || len(r.Findings) != 1 || r.Findings[0].ID != "cloud.ok" || r.Findings[0].Summary != "Fake shows nothing that stops SSH to web1 on port 22" {
		t.Fatalf("findings %+v, steps %+v, problems %+v", r.Findings, r.Steps, r.Problems)
	}
	if r.Target != (Target{Provider: "fake", VM: "web1", SourceIP: "198.51.100.7", Port: 22}) {
		t.Errorf("target %+v", r.Target)
	}
	if r.Boot == nil || !r.Boot.Healthy || r.Boot.Bytes != int64(len(healthyLog)) || !r.NSGsLive || !r.Verdict.Allowed || r.ReturnRoute.NextHopType != cloud.NextHopInternet {
		t.Errorf("boot %+v live %v verdict %v route %+v", r.Boot, r.NSGsLive, r.Verdict, r.ReturnRoute)
	}
	for _, s := range r.Steps {
		if s.Status != StatusOK {
			t.Errorf("step %+v", s)
		}
	}
	if s := step(t, r, "network"); s.Summary != "nic web1-nic: private 10.0.0.4, public 20.1.2.3" {
		t.Errorf("network step %q", s.Summary)
	}
}

func TestDeallocated(t *testing.T) {
	f := healthy()
	f.vm.PowerState, f.vm.AgentReady, f.vm.AgentStatus, f.vm.PublicIP = cloud.PowerDeallocated, false, "", ""
	f.health = &cloud.Health{State: cloud.HealthUnavailable, Summary: "stopped and deallocated"}
	f.nsgs.Live = false
	f.errs = map[string]error{"routes": errors.New("must not be asked")}
	// The last boot ended with its shutdown: the power state explains it.
	f.serial = []byte(healthyLog + "\n[  100.000000] systemd-shutdown[1]: Powering off.\n[  100.100000] reboot: Power down\n")
	r := check(t, f, client.String())
	if fd := finding(t, r, "cloud.vm_deallocated"); fd.Severity != findings.Error || fd.Remediation != "Start it: `cloud start web1`. A dynamic public IP may come back different." {
		t.Errorf("%+v", fd)
	}
	for _, id := range []string{"cloud.agent_not_ready", "cloud.health_unavailable", "cloud.no_public_ip", "boot.shutdown"} {
		noFinding(t, r, id)
	}
	if r.OK || f.calls["routes"] != 0 || r.ReturnRoute != nil || len(r.Problems) != 0 {
		t.Errorf("ok %v, routes asked %d, return route %+v, problems %+v", r.OK, f.calls["routes"], r.ReturnRoute, r.Problems)
	}
	if s := step(t, r, "route"); s.Status != StatusSkip {
		t.Errorf("route step %+v", s)
	}
	if s := step(t, r, "network"); s.Status != StatusWarn || !strings.Contains(s.Summary, "public IP web1-ip holds no address while the VM is deallocated") {
		t.Errorf("network step %+v", s)
	}
	// The attached NSGs were still evaluated.
	if r.NSGsLive || r.Verdict == nil || !r.Verdict.Allowed || !strings.Contains(step(t, r, "nsg").Summary, "attached NSGs") {
		t.Errorf("live %v verdict %v steps %+v", r.NSGsLive, r.Verdict, r.Steps)
	}
	if r.Boot.RootCause == nil || r.Boot.RootCause.ID != "boot.shutdown" {
		t.Errorf("boot %+v", r.Boot)
	}
}

func TestAgentNotReady(t *testing.T) {
	f := healthy()
	f.vm.AgentReady, f.vm.AgentStatus = false, "Not Ready (VM status blob is found but not yet populated)"
	r := check(t, f, "auto")
	fd := finding(t, r, "cloud.agent_not_ready")
	if fd.Severity != findings.Warning || !strings.Contains(fd.Evidence[0], "Not Ready (VM status blob") || !strings.Contains(fd.Remediation, "`cloud restart web1`") {
		t.Errorf("%+v", fd)
	}
	if !r.OK || step(t, r, "vm").Status != StatusWarn {
		t.Errorf("ok %v steps %+v", r.OK, r.Steps)
	}
}

// The NIC NSG denies SSH from the Internet above its allow rule.
func denyInternet() *fake {
	f := healthy()
	f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("Deny-SSH-Internet", 200, cloud.Deny, "Internet", "22"))
	return f
}

func TestNSGDenies(t *testing.T) {
	r := check(t, denyInternet(), client.String())
	fd := finding(t, r, "cloud.nsg_denies")
	if fd.Severity != findings.Error || r.OK || r.Verdict.DecidingNSG != "nic/web1-nsg" || r.Verdict.DecidingRule != "securityRules/Deny-SSH-Internet" {
		t.Fatalf("%+v ok %v verdict %v", fd, r.OK, r.Verdict)
	}
	if len(r.Suggestions) != 1 {
		t.Fatalf("suggestions %+v", r.Suggestions)
	}
	s := r.Suggestions[0]
	if s.Level != "nic" || s.NSG != "web1-nsg" || s.NSGID != "ids/web1-nsg" || s.Rule.Priority != 100 || s.Rule.Access != cloud.Allow ||
		strings.Join(s.Rule.SourceAddressPrefixes, ",") != "198.51.100.7/32" || strings.Join(s.Rule.DestinationPortRanges, ",") != "22" {
		t.Errorf("suggestion %+v", s)
	}
	for _, want := range []string{
		"`cloud allow-ssh web1 --source-ip 198.51.100.7 --port 22` adds rule Allow-SSH-from-198-51-100-7 (priority 100) to nic NSG web1-nsg",
		"`cloud rule add ids/web1-nsg Allow-SSH-from-198-51-100-7 --priority 100 --source 198.51.100.7/32`",
	} {
		if !strings.Contains(fd.Remediation, want) {
			t.Errorf("remediation lacks %q:\n%s", want, fd.Remediation)
		}
	}
	ev := strings.Join(fd.Evidence, "\n")
	if !strings.Contains(ev, "decided by: nic/web1-nsg securityRules/Deny-SSH-Internet (priority 200)") || !strings.Contains(ev, "← matched") {
		t.Errorf("evidence:\n%s", ev)
	}

	// IPv6: the rule is for the /128, nothing wider.
	f := denyInternet()
	f.vm.PrivateIP = "fd00::4"
	f.nsgs.VNetPrefixes = []string{"fd00::/64"}
	r = check(t, f, "2001:db8::7")
	if len(r.Suggestions) != 1 || strings.Join(r.Suggestions[0].Rule.SourceAddressPrefixes, ",") != "2001:db8::7/128" {
		t.Errorf("IPv6 suggestions %+v (verdict %v, problems %+v)", r.Suggestions, r.Verdict, r.Problems)
	}

	// auto: no rule for a documentation address, nor for "*" or Internet.
	r = check(t, denyInternet(), "auto")
	fd = finding(t, r, "cloud.nsg_denies")
	if len(r.Suggestions) != 0 || !strings.Contains(fd.Remediation, "`cloud allow-ssh web1 --source-ip YOUR_PUBLIC_IP --port 22`") {
		t.Errorf("auto: suggestions %+v, remediation %q", r.Suggestions, fd.Remediation)
	}
}

func TestNSGDeniesBothLevels(t *testing.T) {
	f := healthy()
	f.nsgs.Subnet.Rules = nil // DenyAllInBound
	f.nsgs.NIC.Rules = nil
	r := check(t, f, client.String())
	finding(t, r, "cloud.nsg_denies")
	if len(r.Suggestions) != 2 || r.Suggestions[0].Level != "subnet" || r.Suggestions[0].NSGID != "ids/subnet-nsg" || r.Suggestions[1].Level != "nic" {
		t.Fatalf("suggestions %+v", r.Suggestions)
	}
	for _, s := range r.Suggestions {
		if src := strings.Join(s.Rule.SourceAddressPrefixes, ","); src != "198.51.100.7/32" {
			t.Errorf("suggestion from %s", src)
		}
	}
}

// A deny at priority 100 leaves no room above it: the deny moves to 101
// (free) and the client's rule takes 100, so every other flow is judged as
// before. A rule sshdoctor cannot write back (Opaque), a default rule, or
// a taken 101 leave only the manual remedy.
func TestNSGNoFreePriority(t *testing.T) {
	f := healthy()
	f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("DenySSH", 100, cloud.Deny, "*", "22"))
	r := check(t, f, client.String())
	fd := finding(t, r, "cloud.nsg_denies")
	if len(r.Suggestions) != 1 || r.Suggestions[0].Renumber == nil || r.Suggestions[0].Renumber.Name != "DenySSH" ||
		r.Suggestions[0].Renumber.Priority != 101 || r.Suggestions[0].Rule.Priority != 100 ||
		!strings.Contains(fd.Remediation, "after moving DenySSH to priority 101") {
		t.Fatalf("suggestions %+v remediation %q", r.Suggestions, fd.Remediation)
	}
	for name, mod := range map[string]func(*fake){
		"opaque": func(f *fake) { f.nsgs.NIC.Rules[1].Opaque = true },
		"101 used": func(f *fake) {
			f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("Other", 101, cloud.Allow, "10.9.0.0/16", "443"))
		},
	} {
		f := healthy()
		f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("DenySSH", 100, cloud.Deny, "*", "22"))
		mod(f)
		r := check(t, f, client.String())
		fd := finding(t, r, "cloud.nsg_denies")
		if len(r.Suggestions) != 0 || !strings.Contains(fd.Remediation, "The deny rule DenySSH leaves no free priority above it") ||
			!strings.Contains(fd.Remediation, "`cloud rule remove nic ids/web1-nsg web1-nsg DenySSH`") {
			t.Errorf("%s: suggestions %+v remediation %q", name, r.Suggestions, fd.Remediation)
		}
	}
}

// Defender for Cloud's just-in-time access closes the port with its own
// deny rule: request access, never add a rule around it.
func TestNSGJustInTime(t *testing.T) {
	f := healthy()
	f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045", 1000, cloud.Deny, "*", "22"))
	f.nsgs.NIC.Rules[0].Priority = 1100 // the allow rule JIT pushed below its deny
	r := check(t, f, client.String())
	fd := finding(t, r, "cloud.nsg_denies")
	if r.JITRule != "SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045" || len(r.Suggestions) != 0 {
		t.Fatalf("jit %q suggestions %+v", r.JITRule, r.Suggestions)
	}
	if !strings.Contains(fd.Remediation, "just-in-time") || !strings.Contains(fd.Remediation, "request access for 198.51.100.7 to port 22") || strings.Contains(fd.Remediation, "allow-ssh") {
		t.Errorf("remediation %q", fd.Remediation)
	}
}

// A just-in-time deny in the NIC's NSG, behind a subnet that denies too:
// no rule for the subnet either, whatever it needs.
func TestNSGJustInTimeSecondNSG(t *testing.T) {
	f := healthy()
	f.nsgs.Subnet.Rules = nil // DenyAllInBound
	f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045", 1000, cloud.Deny, "*", "22"))
	f.nsgs.NIC.Rules[0].Priority = 1100
	r := check(t, f, client.String())
	fd := finding(t, r, "cloud.nsg_denies")
	if r.JITRule != "SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045" || len(r.Suggestions) != 0 || len(r.Problems) != 0 {
		t.Fatalf("jit %q suggestions %+v problems %+v", r.JITRule, r.Suggestions, r.Problems)
	}
	if strings.Contains(fd.Remediation, "allow-ssh") {
		t.Errorf("remediation %q", fd.Remediation)
	}
}

func TestNSGSourceRestricted(t *testing.T) {
	f := healthy()
	f.nsgs.NIC.Rules = []cloud.SecurityRule{rule("Allow-SSH-Office", 150, cloud.Allow, "192.0.2.0/24", "22")}
	r := check(t, f, "auto")
	fd := finding(t, r, "cloud.nsg_source_restricted")
	if fd.Severity != findings.Warning || !strings.Contains(fd.Summary, "192.0.2.0/24, VirtualNetwork (10.0.0.0/16)") ||
		!strings.Contains(fd.Remediation, "`cloud check web1 --source-ip YOUR_PUBLIC_IP --port 22`") {
		t.Errorf("%+v", fd)
	}
	noFinding(t, r, "cloud.nsg_denies")
}

func TestRouteNone(t *testing.T) {
	f := healthy()
	f.routes = append(f.routes, cloud.Route{Name: "blackhole", AddressPrefix: "198.51.100.0/24", NextHopType: cloud.NextHopNone, Source: "User", Table: "ids/rt"})
	r := check(t, f, client.String())
	fd := finding(t, r, "cloud.route_none")
	if fd.Severity != findings.Error || r.OK || r.ReturnRoute.Name != "blackhole" || !strings.Contains(fd.Remediation, "`cloud route remove ids/rt blackhole`") {
		t.Errorf("%+v route %+v", fd, r.ReturnRoute)
	}
	// No route at all to the client.
	f.routes = f.routes[:1]
	r = check(t, f, client.String())
	if fd := finding(t, r, "cloud.route_none"); !strings.Contains(fd.Summary, "(no route)") || fd.Remediation == "" {
		t.Errorf("%+v", fd)
	}
	// An appliance: a warning.
	f.routes = append(f.routes, cloud.Route{Name: "fw", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopVirtualAppliance, NextHopIP: "10.0.1.4", Source: "User"})
	r = check(t, f, client.String())
	if fd := finding(t, r, "cloud.route_appliance"); fd.Severity != findings.Warning || !r.OK {
		t.Errorf("%+v", fd)
	}
}

// The serial log shows an fstab entry sending the boot to emergency mode:
// bootlog's root cause becomes the check's.
func TestBootFstabEmergency(t *testing.T) {
	log, err := os.ReadFile(filepath.Join("..", "bootlog", "testdata", "lab-boot-fstab-error.log"))
	if err != nil {
		t.Fatal(err)
	}
	f := healthy()
	f.serial = log
	f.health = &cloud.Health{State: cloud.HealthDegraded, Summary: "The guest OS did not finish booting"}
	r := check(t, f, client.String())
	fd := finding(t, r, "boot.fstab")
	if fd.Severity != findings.Error || fd.Layer != findings.LayerBoot || r.OK || r.Boot.RootCause.ID != "boot.fstab" {
		t.Fatalf("%+v ok %v", fd, r.OK)
	}
	if !strings.Contains(strings.Join(fd.Evidence, "\n"), "Timed out waiting for device") {
		t.Errorf("evidence %v", fd.Evidence)
	}
	if s := step(t, r, "boot"); s.Status != StatusFail || !strings.Contains(s.Summary, fmt.Sprintf("serial log fetched: %d bytes", len(log))) {
		t.Errorf("boot step %+v", s)
	}
	// Only the root cause is folded in; the rest is in r.Boot.
	noFinding(t, r, "boot.emergency_mode")
	finding(t, r, "cloud.health_degraded")
	// The check's first error is the boot's.
	for _, x := range r.Findings {
		if x.Severity == findings.Error {
			if x.ID != "boot.fstab" {
				t.Errorf("first error %s", x.ID)
			}
			break
		}
	}
}

func TestBootDiagnostics(t *testing.T) {
	f := healthy()
	f.vm.BootDiagnostics = false
	r := Check(context.Background(), f, "web1", Options{Source: client, Port: 22,
		Commands: Commands{Remedy: map[string]string{"cloud.boot_diagnostics_disabled": "turn them on"}}})
	if fd := finding(t, r, "cloud.boot_diagnostics_disabled"); fd.Remediation != "turn them on" || f.calls["serial"] != 0 || r.Boot != nil {
		t.Errorf("%+v serial asked %d", fd, f.calls["serial"])
	}
	f = healthy()
	f.errs = map[string]error{"serial": errors.New("fetch serial log: HTTP 404")}
	r = check(t, f, client.String())
	if fd := finding(t, r, "cloud.serial_log_unavailable"); fd.Evidence[0] != "fetch serial log: HTTP 404" || r.Boot != nil {
		t.Errorf("%+v", fd)
	}
}

func TestProviderErrors(t *testing.T) {
	f := &fake{vmErr: fmt.Errorf("no VM %q: %w", "web1", cloud.ErrNotFound)}
	r := check(t, f, client.String())
	if fd := finding(t, r, "cloud.not_found"); r.OK || len(r.Findings) != 1 || !strings.Contains(fd.Summary, `no VM "web1"`) || step(t, r, "vm").Status != StatusFail {
		t.Errorf("%+v ok %v steps %+v", r.Findings, r.OK, r.Steps)
	}

	// The NSGs are refused; the rest is still judged.
	f = healthy()
	f.errs = map[string]error{"nsgs": fmt.Errorf("list effective NSGs: %w", cloud.ErrForbidden)}
	r = check(t, f, client.String())
	if fd := finding(t, r, "cloud.access_denied"); fd.Severity != findings.Error || r.ReturnRoute == nil || r.Health == nil {
		t.Errorf("%+v route %+v", fd, r.ReturnRoute)
	}

	// The provider explains its own errors.
	explained := 0
	r = Check(context.Background(), f, "web1", Options{Source: client, Port: 22, Explain: func(pr Problem) (findings.Finding, bool) {
		explained++
		return findings.New("cloud.access_denied", "refused: "+pr.Step, "grant it"), true
	}})
	if fd := finding(t, r, "cloud.access_denied"); fd.Summary != "refused: nsg" || fd.Remediation != "grant it" || explained != 1 {
		t.Errorf("%+v explained %d", fd, explained)
	}

	// The NIC could not be read: no NSG or route questions follow.
	f = healthy()
	f.vm.PrivateIP, f.vmErr = "", errors.New("read network interface web1-nic: boom")
	r = check(t, f, client.String())
	if fd := finding(t, r, "cloud.api_error"); !strings.Contains(fd.Summary, "network: read network interface") || f.calls["nsgs"]+f.calls["routes"] != 0 {
		t.Errorf("%+v calls %v", fd, f.calls)
	}

	// A rule sshdoctor cannot evaluate: said in the step, no finding,
	// and the check is not OK (never "nothing stops SSH").
	f = healthy()
	f.nsgs.NIC.Rules = append(f.nsgs.NIC.Rules, rule("Odd", 150, cloud.Allow, "*", "22-x"))
	r = check(t, f, client.String())
	if s := step(t, r, "nsg"); s.Status != StatusWarn || !strings.Contains(s.Summary, `"22-x"`) || r.Verdict != nil || len(r.Findings) != 0 ||
		r.OK || len(r.Unknown) != 1 || !strings.HasPrefix(r.Unknown[0], "nsg: ") {
		t.Errorf("step %+v findings %v ok %v unknown %v", s, ids(r), r.OK, r.Unknown)
	}
}

func TestParseSource(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		auto bool
		bad  bool
	}{
		{"", InternetProbe.String(), true, false}, {"auto", InternetProbe.String(), true, false},
		{"::ffff:192.0.2.1", "192.0.2.1", false, false}, {"2001:db8::1", "2001:db8::1", false, false},
		{"300.1.1.1", "", false, true}, {"fe80::1%eth0", "", false, true}, {"example.com", "", false, true},
	} {
		a, auto, err := ParseSource(c.in)
		if (err != nil) != c.bad || (!c.bad && (a.String() != c.want || auto != c.auto)) {
			t.Errorf("ParseSource(%q) = %v %v %v", c.in, a, auto, err)
		}
	}
}

// findings.New panics on an unregistered ID only when that path runs;
// this catches a typo in any path.
func TestEveryEmittedIDIsRegistered(t *testing.T) {
	re := regexp.MustCompile(`findings\.New\(\s*"([a-z_.]+)"`)
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			n++
			if _, ok := findings.Lookup(string(m[1])); !ok {
				t.Errorf("%s emits unregistered finding %s", f, m[1])
			}
		}
	}
	if n < 15 {
		t.Fatalf("found only %d findings.New calls; the pattern is broken", n)
	}
}

// Without a client address neither the NSGs nor the return route can be
// evaluated; the rest of the check stands.
func TestNoSource(t *testing.T) {
	r := Check(context.Background(), healthy(), "web1", Options{Port: 22})
	if r.Target.SourceIP != "" || r.Verdict != nil || r.ReturnRoute != nil || len(r.Routes) != 2 || r.OK || len(r.Unknown) != 2 {
		t.Fatalf("target %+v verdict %v route %+v ok %v unknown %v", r.Target, r.Verdict, r.ReturnRoute, r.OK, r.Unknown)
	}
	if s := step(t, r, "nsg"); s.Status != StatusWarn || !strings.Contains(s.Summary, "no client address") {
		t.Errorf("nsg step %+v", s)
	}
	if s := step(t, r, "route"); s.Status != StatusSkip || !strings.Contains(s.Summary, "no client address") {
		t.Errorf("route step %+v", s)
	}
}

// cloneNSGs copies e deeply enough that a check cannot change the fake's.
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
