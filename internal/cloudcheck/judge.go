package cloudcheck

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/bootlog"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// Status of a check step.
type Status string

// Step statuses.
const (
	StatusOK   Status = "ok"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusSkip Status = "skip"
)

// Step is one line of the check: what was looked at and what it showed.
type Step struct {
	Name    string `json:"name"` // vm, health, boot, network, nsg, route
	Status  Status `json:"status"`
	Summary string `json:"summary"`
}

// Name is how reports name a provider kind for people: "Azure", "the lab".
func Name(kind string) string {
	switch kind {
	case "azure":
		return "Azure"
	case "lab":
		return "the lab"
	}
	return kind
}

// Title is Name at the start of a sentence: "Azure", "The lab".
func Title(kind string) string {
	n := Name(kind)
	if n == "" {
		return "The control plane"
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// judge turns the observations into steps and findings. No I/O.
func judge(r *Report, o *Options) {
	j := &judgement{r: r, o: o, c: &o.Commands}
	j.vm()
	if r.VM != nil {
		j.health()
		j.boot()
		j.network()
		j.nsg()
		j.route()
	}
	// Without the VM nothing was checked, and a step that could not be
	// evaluated is not fine: never "OK".
	r.OK = r.VM != nil && len(r.Unknown) == 0
	quiet := true
	for _, f := range r.Findings {
		r.OK = r.OK && f.Severity != findings.Error
		quiet = quiet && f.Severity == findings.Info
	}
	if quiet && len(r.Unknown) == 0 {
		r.Findings = append(r.Findings, findings.New("cloud.ok",
			fmt.Sprintf("%s shows nothing that stops SSH to %s on port %d", Title(r.Target.Provider), r.Target.VM, r.Target.Port), ""))
	}
}

type judgement struct {
	r *Report
	o *Options
	c *Commands
}

func (j *judgement) step(name string, st Status, format string, a ...any) {
	j.r.Steps = append(j.r.Steps, Step{Name: name, Status: st, Summary: fmt.Sprintf(format, a...)})
}

// add records a finding; a Commands.Remedy for its ID replaces its
// remediation.
func (j *judgement) add(f findings.Finding) {
	if rem, ok := j.c.Remedy[f.ID]; ok {
		f.Remediation = rem
	}
	j.r.Findings = append(j.r.Findings, f)
}

// run quotes cmd in a sentence: fmt.Sprintf(format, cmd); "" (the
// catalogue's remedy) when the provider has no such command.
func run(format, cmd string) string {
	if cmd == "" {
		return ""
	}
	return fmt.Sprintf(format, cmd)
}

// problems turns the failures of one step into findings and reports
// whether there were any; the step line shows the first.
func (j *judgement) problems(step string) bool {
	first := ""
	worst := StatusWarn
	for _, pr := range j.r.Problems {
		if pr.Step != step {
			continue
		}
		f := j.apiFinding(pr)
		if f.ID != "" {
			j.add(f)
			if f.Severity == findings.Error {
				worst = StatusFail
			}
		}
		if first == "" {
			first = pr.Message
			if f.ID != "" {
				first = f.Summary
			}
		}
	}
	if first != "" {
		j.step(step, worst, "%s", first)
		j.unknown(step, first)
	}
	return first != ""
}

// unknown records that step could not be evaluated, and why.
func (j *judgement) unknown(step, why string) {
	j.r.Unknown = append(j.r.Unknown, step+": "+why)
}

// apiFinding judges a failed call: the provider's own explanation when it
// has one, else by the cloud.Err* the error wraps. What sshdoctor could not
// evaluate itself (no provider error) makes no finding: the step says it.
func (j *judgement) apiFinding(pr Problem) findings.Finding {
	if pr.Err == nil {
		return findings.Finding{}
	}
	if j.o.Explain != nil {
		if f, ok := j.o.Explain(pr); ok {
			return f
		}
	}
	name := Name(j.r.Target.Provider)
	switch {
	case errors.Is(pr.Err, cloud.ErrForbidden):
		return findings.New("cloud.access_denied", fmt.Sprintf("%s refused the %s step: %s", name, pr.Step, pr.Message), "")
	case errors.Is(pr.Err, cloud.ErrNotFound):
		return findings.New("cloud.not_found", pr.Message, "", "while reading: "+pr.Step)
	}
	return findings.New("cloud.api_error", fmt.Sprintf("%s: %s", pr.Step, pr.Message), "")
}

func (j *judgement) vm() {
	r := j.r
	if r.VM == nil {
		if !j.problems("vm") {
			j.step("vm", StatusFail, "the VM could not be read")
		}
		return
	}
	v := r.VM
	summary := fmt.Sprintf("%s, provisioning %s, agent: %s", v.PowerState, orUnknown(v.ProvisioningState), orUnknown(v.AgentStatus))
	st := StatusOK
	switch v.PowerState {
	case cloud.PowerRunning:
	case cloud.PowerDeallocated:
		st = StatusFail
		rem := run("Start it: `%s`.", j.c.Start)
		if rem != "" && v.PublicIPResource != "" {
			rem += " A dynamic public IP may come back different."
		}
		j.add(findings.New("cloud.vm_deallocated", fmt.Sprintf("VM %s is stopped and deallocated", v.Name), rem,
			"power state: "+string(v.PowerState)))
	case cloud.PowerStopped:
		st = StatusFail
		j.add(findings.New("cloud.vm_stopped", fmt.Sprintf("VM %s is stopped (still allocated)", v.Name),
			run("Start it: `%s`.", j.c.Start), "power state: "+string(v.PowerState)))
	default:
		st = StatusWarn
		j.add(findings.New("cloud.vm_transitioning", fmt.Sprintf("VM %s is %s", v.Name, v.PowerState), "", "power state: "+string(v.PowerState)))
	}
	if strings.EqualFold(v.ProvisioningState, "Failed") {
		st = StatusFail
		ev := []string{"provisioning state: " + v.ProvisioningState}
		if v.ProvisioningDetail != "" {
			ev = append(ev, v.ProvisioningDetail)
		}
		j.add(findings.New("cloud.provisioning_failed", fmt.Sprintf("The last operation on VM %s failed", v.Name),
			run("Read the error; `%s` moves the VM to a new host.", j.c.Redeploy), ev...))
	}
	if v.PowerState == cloud.PowerRunning && !v.AgentReady {
		if st == StatusOK {
			st = StatusWarn
		}
		j.add(findings.New("cloud.agent_not_ready", fmt.Sprintf("The VM agent on %s is not Ready: run-command, reset-ssh and reset-user will not work", v.Name),
			run("Restart the VM (`%s`); if the agent stays down, look at the serial log and the agent's service from the serial console.", j.c.Restart),
			"agent: "+orUnknown(v.AgentStatus)))
	}
	j.step("vm", st, "%s", summary)
}

func (j *judgement) health() {
	r := j.r
	if j.problems("health") || r.Health == nil {
		return
	}
	h := r.Health
	summary := strings.TrimSpace(fmt.Sprintf("%s: %s", h.State, h.Summary))
	ev := []string{"resource health: " + string(h.State)}
	if h.Summary != "" {
		ev = append(ev, h.Summary)
	}
	if h.Reason != "" {
		ev = append(ev, "reason: "+h.Reason)
	}
	running := r.VM.PowerState == cloud.PowerRunning
	switch {
	case h.State == cloud.HealthAvailable:
		j.step("health", StatusOK, "%s", summary)
	case h.State == cloud.HealthUnavailable && !running:
		// The power state is the cause; the VM finding says so.
		j.step("health", StatusWarn, "%s", summary)
	case h.State == cloud.HealthUnavailable:
		rem := ""
		if j.c.Restart != "" && j.c.Redeploy != "" {
			rem = fmt.Sprintf("Read the reason; a platform event usually clears by itself, otherwise `%s`, then `%s`.", j.c.Restart, j.c.Redeploy)
		}
		j.add(findings.New("cloud.health_unavailable", "Resource health reports VM "+r.VM.Name+" Unavailable", rem, ev...))
		j.step("health", StatusFail, "%s", summary)
	case h.State == cloud.HealthDegraded:
		j.add(findings.New("cloud.health_degraded", "Resource health reports VM "+r.VM.Name+" Degraded", "", ev...))
		j.step("health", StatusWarn, "%s", summary)
	default:
		j.step("health", StatusWarn, "%s", summary)
	}
}

// boot reports the serial log's analysis and folds its root cause into
// the check's findings (the boot.* IDs bootlog reports).
func (j *judgement) boot() {
	r := j.r
	if !r.VM.BootDiagnostics {
		j.add(findings.New("cloud.boot_diagnostics_disabled", "Boot diagnostics are off on VM "+r.VM.Name+": no serial log to read", ""))
		j.step("boot", StatusWarn, "boot diagnostics disabled")
		return
	}
	for _, pr := range r.Problems {
		if pr.Step != "boot" {
			continue
		}
		if f := j.apiFinding(pr); f.ID == "cloud.access_denied" || f.ID == "cloud.not_found" {
			j.add(f)
			j.step("boot", StatusWarn, "%s", f.Summary)
		} else {
			j.add(findings.New("cloud.serial_log_unavailable", "The serial log of VM "+r.VM.Name+" could not be fetched", "", pr.Message))
			j.step("boot", StatusWarn, "serial log: %s", pr.Message)
		}
		return
	}
	b := r.Boot
	if b == nil {
		j.step("boot", StatusSkip, "serial log not read")
		return
	}
	rc := b.RootCause
	// A stopped VM's log ends with its shutdown: the power state says so.
	if rc == nil || rc.ID == "boot.shutdown" && r.VM.PowerState != cloud.PowerRunning {
		j.step("boot", StatusOK, "serial log fetched: %d bytes; %s", b.Bytes, lastBoot(b))
		return
	}
	j.add(rc.Finding)
	st := StatusWarn
	if rc.Severity == findings.Error {
		st = StatusFail
	}
	j.step("boot", st, "serial log fetched: %d bytes; %s [%s]", b.Bytes, rc.Summary, rc.ID)
}

// lastBoot says in a few words how far the last boot in the log got.
func lastBoot(b *bootlog.Report) string {
	lb := b.LastBoot
	reached := "did not reach multi-user"
	switch {
	case lb.LoginPrompt:
		reached = "reached a login prompt"
	case lb.ReachedMultiUser:
		reached = "reached multi-user"
	case b.Lines == 0:
		return "the log is empty"
	}
	sshd := map[string]string{"running": "sshd started", "failed": "sshd failed", "stopped": "sshd stopped",
		"not_started": "sshd never started"}[lb.SSHD]
	if sshd == "" {
		sshd = "sshd not shown"
	}
	return fmt.Sprintf("the last boot %s, %s", reached, sshd)
}

func (j *judgement) network() {
	r := j.r
	if j.problems("network") {
		return
	}
	v := r.VM
	summary := fmt.Sprintf("private %s, public %s", orUnknown(v.PrivateIP), orNone(v.PublicIP))
	if v.NIC != "" {
		summary = "nic " + v.NIC + ": " + summary
	}
	if v.PublicIPSKU != "" {
		summary += " (" + v.PublicIPSKU + " SKU)"
	}
	switch {
	case v.PublicIP != "":
		j.step("network", StatusOK, "%s", summary)
	case v.PublicIPResource != "" && v.PowerState != cloud.PowerRunning:
		// A dynamic address is released with the VM; starting it brings one.
		j.step("network", StatusWarn, "%s (public IP %s holds no address while the VM is %s)", summary, v.PublicIPResource, v.PowerState)
	case v.PublicIPResource == "" && natTo(v, r.Target.Port) != nil:
		n := natTo(v, r.Target.Port)
		j.step("network", StatusOK, "%s; in through load balancer %s: %s:%d → port %d (NAT rule %s)", summary, n.LoadBalancer, orUnknown(n.FrontendIP), n.FrontendPort, n.BackendPort, n.Name)
	default:
		ev := []string{"private IP: " + orUnknown(v.PrivateIP)}
		what := "VM " + v.Name + " has no public IP address"
		if v.PublicIPResource != "" {
			what = fmt.Sprintf("Public IP %s of VM %s holds no address", v.PublicIPResource, v.Name)
		}
		for _, n := range v.InboundNAT {
			ev = append(ev, fmt.Sprintf("load balancer %s NAT rule %s forwards %s:%d to port %d, not %d", n.LoadBalancer, n.Name, orUnknown(n.FrontendIP), n.FrontendPort, n.BackendPort, r.Target.Port))
		}
		rem := ""
		if v.Bastion != "" {
			ev = append(ev, "Azure Bastion "+v.Bastion+" serves this virtual network")
			rem = fmt.Sprintf("Connect through Azure Bastion %s: `az network bastion ssh --name %s --resource-group RESOURCE_GROUP --target-resource-id %s --auth-type ssh-key --username USER --ssh-key ~/.ssh/id_ed25519` (the Standard SKU; its resource group may differ from the VM's), or from inside the network (VPN, peering).",
				v.Bastion, v.Bastion, orUnknown(v.ID))
		}
		j.add(findings.New("cloud.no_public_ip", what, rem, ev...))
		j.step("network", StatusWarn, "%s", summary)
	}
}

// natTo is the inbound NAT rule that forwards to port, nil when none does.
func natTo(v *cloud.VM, port int) *cloud.NATRule {
	for i, n := range v.InboundNAT {
		if n.BackendPort == port {
			return &v.InboundNAT[i]
		}
	}
	return nil
}

func (j *judgement) nsg() {
	r := j.r
	if r.NSGs == nil {
		j.problems("nsg")
		return
	}
	source := "the effective NSGs"
	if !r.NSGsLive {
		source = "the attached NSGs: no effective view is computed while the VM is not running"
	}
	if r.Verdict == nil {
		if !j.problems("nsg") {
			j.step("nsg", StatusSkip, "not evaluated")
			j.unknown("nsg", "not evaluated")
		}
		return
	}
	v := r.Verdict
	decided := strings.TrimSpace(v.DecidingNSG + " " + v.DecidingRule)
	if r.StandardClosed {
		j.standardClosed()
		return
	}
	if len(v.Uncertain) > 0 {
		j.uncertain(v, decided, source)
		return
	}
	if v.Allowed {
		if decided == "" {
			decided = "no NSG"
		}
		j.step("nsg", StatusOK, "%s allowed by %s; rules from %s", r.Flow, decided, source)
		return
	}
	ev := []string{"flow: " + r.Flow, "decided by: " + decided + fmt.Sprintf(" (priority %d)", v.DecidingPriority()), "rules read from " + source}
	for _, s := range v.Trace {
		mark := ""
		if s.Matched {
			mark = "  ← matched"
		}
		ev = append(ev, fmt.Sprintf("  %-5d %-5s %s %s%s", s.Priority, s.Access, s.NSG, s.Rule, mark))
	}
	t := r.Target
	if t.SourceAuto && len(r.AllowedSources) > 0 {
		ev = append([]string{"allowed only from: " + strings.Join(r.AllowedSources, ", ")}, ev...)
	}
	// With a public IP, "only the virtual network may connect" (the
	// default rules) still means the Internet client is refused.
	vnetOnly := len(r.AllowedSources) == 1 && strings.HasPrefix(r.AllowedSources[0], "VirtualNetwork")
	if t.SourceAuto && len(r.AllowedSources) > 0 && !(vnetOnly && r.VM.PublicIPResource != "") {
		j.add(findings.New("cloud.nsg_source_restricted",
			fmt.Sprintf("Port %d is open only to some sources: %s", t.Port, strings.Join(r.AllowedSources, ", ")),
			"Connect from one of them"+run(", or check your own address: `%s`", j.withSource(j.c.Check, "YOUR_PUBLIC_IP"))+".",
			append([]string{"an arbitrary Internet address (" + t.SourceIP + ") is denied"}, ev[1:]...)...))
		j.step("nsg", StatusWarn, "%s denied by %s; allowed from %s", r.Flow, decided, strings.Join(r.AllowedSources, ", "))
		return
	}
	if r.JITRule != "" {
		ev = append(ev, "rule "+r.JITRule+" is Microsoft Defender for Cloud's just-in-time VM access")
	}
	j.add(findings.New("cloud.nsg_denies", fmt.Sprintf("NSG %s denies TCP port %d from %s (%s)", v.DecidingNSG, t.Port, sourceLabel(t), v.DecidingRule),
		j.nsgRemedy(), ev...))
	j.step("nsg", StatusFail, "%s denied by %s", r.Flow, decided)
}

// standardClosed: a Standard SKU address with no NSG at all.
func (j *judgement) standardClosed() {
	r, t := j.r, j.r.Target
	what := fmt.Sprintf("public IP %s (Standard SKU)", r.VM.PublicIPResource)
	if r.VM.PublicIPResource == "" {
		what = "the load balancer's frontend (Standard SKU)"
	}
	rem := "Create an NSG that allows your address and attach it to the NIC"
	if c := j.c.NewNSG; c != nil {
		if cmd := c(r.VM, t.SourceIP, t.Port); cmd != "" {
			rem += ": `" + cmd + "`"
		}
	}
	j.add(findings.New("cloud.standard_ip_closed",
		fmt.Sprintf("No NSG applies to VM %s, and %s admits no inbound connection without one", r.VM.Name, what),
		rem+".", "flow: "+r.Flow, "NSGs: none on the subnet or the NIC", "Standard SKU public IPs and load balancers are secure by default: inbound traffic needs an NSG rule that allows it"))
	j.step("nsg", StatusFail, "%s denied: no NSG, and %s is closed without one", r.Flow, what)
}

// uncertain reports a verdict that rules sshdoctor cannot evaluate could
// have changed: neither "allowed" nor "denied" is sure.
func (j *judgement) uncertain(v *netpolicy.Verdict, decided, source string) {
	r := j.r
	what := "allowed"
	if !v.Allowed {
		what = "denied"
	}
	ev := []string{"flow: " + r.Flow, fmt.Sprintf("without them: %s by %s", what, orNone(decided)), "rules read from " + source}
	var names []string
	for _, u := range v.Uncertain {
		names = append(names, u.NSG+" "+netpolicy.RuleName(u.Rule))
		ev = append(ev, fmt.Sprintf("cannot evaluate %s %s (priority %d, %s): %s", u.NSG, netpolicy.RuleName(u.Rule), u.Priority, u.Access, u.Reason))
	}
	j.add(findings.New("cloud.nsg_uncertain",
		fmt.Sprintf("Whether the NSGs let TCP port %d from %s through is uncertain: %s cannot be evaluated here", r.Target.Port, sourceLabel(r.Target), strings.Join(names, ", ")),
		"Check the rule in the portal (Network Watcher's IP flow verify answers for Azure's own expansion)"+run(", or run `%s` while the VM runs, when Azure lists the rule's addresses", j.withSource(j.c.Check, r.Target.SourceIP))+".",
		ev...))
	j.step("nsg", StatusWarn, "%s uncertain: %s %s, but %s cannot be evaluated", r.Flow, what, orNone(decided), strings.Join(names, ", "))
	j.unknown("nsg", "uncertain: "+strings.Join(names, ", "))
}

func sourceLabel(t Target) string {
	if t.SourceAuto {
		return "the Internet"
	}
	return t.SourceIP
}

// withSource appends the flow's source and port to a command that takes
// them; "" stays "".
func (j *judgement) withSource(cmd, source string) string {
	if cmd == "" {
		return ""
	}
	return fmt.Sprintf("%s --source-ip %s --port %d", cmd, source, j.r.Target.Port)
}

// nsgRemedy says how to let the client in: request just-in-time access,
// or add the suggested rules (never for more than the client's address).
func (j *judgement) nsgRemedy() string {
	r, t := j.r, j.r.Target
	switch {
	case t.SourceAuto:
		if cmd := j.withSource(j.c.AllowSSH, "YOUR_PUBLIC_IP"); cmd != "" {
			return fmt.Sprintf("Allow your own address (not the whole Internet): `%s`.", cmd)
		}
		return "Allow your own address, not the whole Internet" + run(": check it for the exact rule with `%s`", j.withSource(j.c.Check, "YOUR_PUBLIC_IP")) + "."
	case r.JITRule != "":
		return fmt.Sprintf("The port is closed by Microsoft Defender for Cloud's just-in-time VM access (rule %s): request access for %s to port %d — the VM's Connect page in the portal, or `Start-AzJitNetworkAccessPolicy` in PowerShell — instead of adding an allow rule, which would defeat it.",
			r.JITRule, t.SourceIP, t.Port)
	case len(r.Suggestions) == 0:
		level, nsg, _ := strings.Cut(r.Verdict.DecidingNSG, "/")
		rule := netpolicy.RuleName(r.Verdict.DecidingRule)
		rem := fmt.Sprintf("The deny rule %s leaves no free priority above it: delete or renumber it", rule)
		if j.c.RemoveRule != nil {
			if cmd := j.c.RemoveRule(level, j.nsgID(level), nsg, rule); cmd != "" {
				rem += fmt.Sprintf(" (`%s`)", cmd)
			}
		}
		return rem + run(", then `%s`", j.withSource(j.c.AllowSSH, t.SourceIP)) + "."
	}
	var b strings.Builder
	if cmd := j.withSource(j.c.AllowSSH, t.SourceIP); cmd != "" {
		fmt.Fprintf(&b, "`%s` adds ", cmd)
	} else {
		b.WriteString("Add ")
	}
	for i, s := range r.Suggestions {
		if i > 0 {
			b.WriteString(" and ")
		}
		if s.Renumber != nil {
			fmt.Fprintf(&b, "(after moving %s to priority %d, the only free place) ", s.Renumber.Name, s.Renumber.Priority)
		}
		fmt.Fprintf(&b, "rule %s (priority %d) to %s NSG %s", s.Rule.Name, s.Rule.Priority, s.Level, s.NSG)
	}
	var cmds []string
	if j.c.AddRule != nil {
		for _, s := range r.Suggestions {
			if cmd := j.c.AddRule(s); cmd != "" {
				cmds = append(cmds, "`"+cmd+"`")
			}
		}
	}
	switch {
	case len(cmds) > 0 && j.c.AllowSSH != "":
		b.WriteString("; or yourself: " + strings.Join(cmds, " "))
	case len(cmds) > 0:
		b.WriteString(": " + strings.Join(cmds, " "))
	}
	b.WriteString(".")
	return b.String()
}

// nsgID is the ID of the NSG at level ("subnet" or "nic").
func (j *judgement) nsgID(level string) string {
	n := j.r.NSGs.NIC
	if level == "subnet" {
		n = j.r.NSGs.Subnet
	}
	if n == nil {
		return ""
	}
	return n.ID
}

func (j *judgement) route() {
	r := j.r
	if j.problems("route") {
		return
	}
	rt := r.ReturnRoute
	switch {
	case rt == nil && r.VM.PowerState != cloud.PowerRunning:
		j.step("route", StatusSkip, "effective routes need a running VM")
		return
	case rt == nil:
		j.step("route", StatusSkip, "no client address to look up the return route for")
		j.unknown("route", "no client address")
		return
	}
	t := r.Target
	desc := fmt.Sprintf("%s %s → %s", orNone(rt.Name), rt.AddressPrefix, rt.NextHopType)
	if rt.NextHopIP != "" {
		desc += " " + rt.NextHopIP
	}
	desc += " (" + orUnknown(rt.Source) + ")"
	ev := []string{"return path to " + t.SourceIP + ": " + desc}
	var rp netpolicy.ReturnPath
	if r.ReturnPath != nil {
		rp = *r.ReturnPath
		ev = append(ev, rp.Explanation)
	}
	switch {
	case rp.Dropped || r.ReturnPath == nil && rt.NextHopType == cloud.NextHopNone:
		rem := ""
		if j.c.RemoveRoute != nil && strings.EqualFold(rt.Source, "User") {
			rem = run("Remove the user route "+rt.Name+": `%s`, or add a more specific route to the client with next hop Internet.", j.c.RemoveRoute(*rt))
		}
		j.add(findings.New("cloud.route_none", fmt.Sprintf("Replies from VM %s to %s are dropped: route %s", r.VM.Name, sourceLabel(t), desc), rem, ev...))
		j.step("route", StatusFail, "replies to %s: %s", t.SourceIP, desc)
	case rt.NextHopType == cloud.NextHopVirtualAppliance:
		j.add(findings.New("cloud.route_appliance", fmt.Sprintf("Replies from VM %s to %s go through the appliance at %s", r.VM.Name, sourceLabel(t), orUnknown(rt.NextHopIP)), "", ev...))
		j.step("route", StatusWarn, "replies to %s: %s", t.SourceIP, desc)
	default:
		j.step("route", StatusOK, "replies to %s: %s", t.SourceIP, desc)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
