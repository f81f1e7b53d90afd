package azure

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
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

// judge turns the observations into steps and findings. No I/O.
func judge(r *Report) {
	j := &judgement{r: r, cmd: fmt.Sprintf("-g %s -n %s", r.Target.ResourceGroup, r.Target.VM)}
	j.vm()
	if r.VM != nil {
		j.health()
		j.boot()
		j.network()
		j.nsg()
		j.route()
	}
	// Without the VM nothing was checked: never "OK".
	r.OK = r.VM != nil
	quiet := true
	for _, f := range r.Findings {
		r.OK = r.OK && f.Severity != findings.Error
		quiet = quiet && f.Severity == findings.Info
	}
	if quiet {
		r.Findings = append(r.Findings, findings.New("cloud.ok",
			fmt.Sprintf("Azure shows nothing that stops SSH to %s on port %d", r.Target.VM, r.Target.Port), ""))
	}
}

type judgement struct {
	r   *Report
	cmd string // "-g RG -n VM", for remediation commands
}

func (j *judgement) step(name string, st Status, format string, a ...any) {
	j.r.Steps = append(j.r.Steps, Step{Name: name, Status: st, Summary: fmt.Sprintf(format, a...)})
}

func (j *judgement) add(f findings.Finding) { j.r.Findings = append(j.r.Findings, f) }

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
	}
	return first != ""
}

// apiFinding judges a failed call: 403 and 404 name the permission or the
// resource; other Azure errors are cloud.api_error; local evaluation
// problems (no ARM error) make no finding.
func (j *judgement) apiFinding(pr Problem) findings.Finding {
	e := pr.ARM
	if e == nil {
		if pr.Step == "nsg" || pr.Step == "boot" {
			return findings.Finding{}
		}
		return findings.New("cloud.api_error", fmt.Sprintf("%s: %s", pr.Step, pr.Message), "")
	}
	evidence := []string{strings.TrimSpace(fmt.Sprintf("Azure: %s (HTTP %d) %s", e.Code, e.Status, e.Message))}
	switch {
	case e.Forbidden():
		scope := scopeOf(e.Resource)
		return findings.New("cloud.access_denied",
			fmt.Sprintf("Azure refused to %s: the signed-in identity lacks %s", e.Op, e.Action),
			fmt.Sprintf("Grant %s on %s, e.g. `az role assignment create --assignee YOUR_ID --role %q --scope %s`, or sign in as an identity that has it (`az login`).",
				e.Action, scope, roleFor(e.Action), scope),
			append([]string{"permission needed: " + e.Action, "resource: " + e.Resource}, evidence...)...)
	case e.NotFound():
		return findings.New("cloud.not_found", describeMissing(e), "",
			append([]string{"while trying to " + e.Op, "resource: " + e.Resource}, evidence...)...)
	}
	return findings.New("cloud.api_error", fmt.Sprintf("Azure failed to %s: %s (HTTP %d)", e.Op, e.Code, e.Status), "", evidence...)
}

func describeMissing(e *Error) string {
	rid, err := arm.ParseResourceID(e.Resource)
	if err != nil {
		return "Not found: " + e.Resource
	}
	if strings.EqualFold(e.Code, "ResourceGroupNotFound") {
		return fmt.Sprintf("Resource group %s does not exist in subscription %s", rid.ResourceGroupName, rid.SubscriptionID)
	}
	if strings.EqualFold(e.Code, "SubscriptionNotFound") {
		return fmt.Sprintf("Subscription %s does not exist or is not visible to you", rid.SubscriptionID)
	}
	kind := rid.ResourceType.Types[len(rid.ResourceType.Types)-1]
	if k, ok := kinds[kind]; ok {
		kind = k
	}
	return fmt.Sprintf("%s %s does not exist in resource group %s (subscription %s)", kind, rid.Name, rid.ResourceGroupName, rid.SubscriptionID)
}

// kinds names resource types for people.
var kinds = map[string]string{
	"virtualMachines": "VM", "networkInterfaces": "Network interface", "publicIPAddresses": "Public IP",
	"networkSecurityGroups": "Network security group", "subnets": "Subnet", "virtualNetworks": "Virtual network",
}

// roleFor names the built-in role that carries action.
func roleFor(action string) string {
	switch {
	case strings.HasSuffix(action, "/read"):
		return "Reader"
	case strings.HasPrefix(action, "Microsoft.Network/"):
		return "Network Contributor"
	}
	return "Virtual Machine Contributor"
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
	summary := fmt.Sprintf("%s, provisioning %s, agent: %s", v.PowerState, orUnknown(v.ProvisioningState), orUnknown(r.Agent))
	st := StatusOK
	switch v.PowerState {
	case cloud.PowerRunning:
	case cloud.PowerDeallocated:
		st = StatusFail
		j.add(findings.New("cloud.vm_deallocated", fmt.Sprintf("VM %s is stopped and deallocated", v.Name),
			fmt.Sprintf("Start it: `sshdoctor azure start %s` (or `az vm start %s`); a dynamic public IP may change.", j.cmd, j.cmd),
			"power state: "+string(v.PowerState)))
	case cloud.PowerStopped:
		st = StatusFail
		j.add(findings.New("cloud.vm_stopped", fmt.Sprintf("VM %s is stopped (still allocated)", v.Name),
			fmt.Sprintf("Start it: `sshdoctor azure start %s` (or `az vm start %s`).", j.cmd, j.cmd), "power state: "+string(v.PowerState)))
	default:
		st = StatusWarn
		j.add(findings.New("cloud.vm_transitioning", fmt.Sprintf("VM %s is %s", v.Name, v.PowerState), "", "power state: "+string(v.PowerState)))
	}
	if strings.EqualFold(v.ProvisioningState, "Failed") {
		st = StatusFail
		ev := []string{"provisioning state: " + v.ProvisioningState}
		if r.ProvisioningDetail != "" {
			ev = append(ev, r.ProvisioningDetail)
		}
		j.add(findings.New("cloud.provisioning_failed", fmt.Sprintf("The last operation on VM %s failed", v.Name),
			fmt.Sprintf("Read the error; `az vm reapply %s` retries it, `sshdoctor azure redeploy %s --yes` moves the VM to a new host.", j.cmd, j.cmd), ev...))
	}
	if v.PowerState == cloud.PowerRunning && !v.AgentReady {
		if st == StatusOK {
			st = StatusWarn
		}
		j.add(findings.New("cloud.agent_not_ready", fmt.Sprintf("The VM agent on %s is not Ready: run-command, reset-ssh and reset-user will not work", v.Name),
			fmt.Sprintf("Restart the VM (`sshdoctor azure restart %s`); if the agent stays down, check walinuxagent from the serial console.", j.cmd),
			"agent: "+orUnknown(r.Agent)))
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
		j.add(findings.New("cloud.health_unavailable", "Azure Resource Health reports VM "+r.VM.Name+" Unavailable",
			fmt.Sprintf("Read the reason; a platform event usually clears by itself, otherwise `sshdoctor azure restart %s`, then `sshdoctor azure redeploy %s --yes`.", j.cmd, j.cmd), ev...))
		j.step("health", StatusFail, "%s", summary)
	case h.State == cloud.HealthDegraded:
		j.add(findings.New("cloud.health_degraded", "Azure Resource Health reports VM "+r.VM.Name+" Degraded", "", ev...))
		j.step("health", StatusWarn, "%s", summary)
	default:
		j.step("health", StatusWarn, "%s", summary)
	}
}

func (j *judgement) boot() {
	r := j.r
	if !r.BootDiagnostics {
		j.add(findings.New("cloud.boot_diagnostics_disabled", "Boot diagnostics are off on VM "+r.VM.Name+": no serial log to read",
			fmt.Sprintf("Enable them: `az vm boot-diagnostics enable %s` (managed storage); the log fills from the next boot.", j.cmd)))
		j.step("boot", StatusWarn, "boot diagnostics disabled")
		return
	}
	for _, pr := range r.Problems {
		if pr.Step != "boot" {
			continue
		}
		if f := j.apiFinding(pr); f.ID != "" && f.ID != "cloud.api_error" {
			j.add(f)
			j.step("boot", StatusWarn, "%s", f.Summary)
		} else {
			j.add(findings.New("cloud.serial_log_unavailable", "The serial log of VM "+r.VM.Name+" could not be fetched", "", pr.Message))
			j.step("boot", StatusWarn, "serial log: %s", pr.Message)
		}
		return
	}
	j.step("boot", StatusOK, "boot diagnostics on; serial log fetched: %d bytes", r.SerialLogBytes)
}

func (j *judgement) network() {
	r := j.r
	if j.problems("network") {
		return
	}
	v := r.VM
	summary := fmt.Sprintf("nic %s: private %s, public %s", r.NIC, orUnknown(v.PrivateIP), orNone(v.PublicIP))
	switch {
	case v.PublicIP != "":
		j.step("network", StatusOK, "%s", summary)
	case r.PublicIPResource != "" && v.PowerState != cloud.PowerRunning:
		// A dynamic address is released with the VM; starting it brings one.
		j.step("network", StatusWarn, "%s (public IP %s holds no address while the VM is %s)", summary, r.PublicIPResource, v.PowerState)
	default:
		ev := []string{"private IP: " + orUnknown(v.PrivateIP)}
		what := "VM " + v.Name + " has no public IP address"
		if r.PublicIPResource != "" {
			what = fmt.Sprintf("Public IP %s of VM %s holds no address", r.PublicIPResource, v.Name)
		}
		j.add(findings.New("cloud.no_public_ip", what, "", ev...))
		j.step("network", StatusWarn, "%s", summary)
	}
}

func (j *judgement) nsg() {
	r := j.r
	if r.NSGs == nil {
		j.problems("nsg")
		return
	}
	source := "the effective NSGs"
	if !r.NSGsLive {
		source = "the attached NSGs: Azure computes no effective view while the VM is not running"
	}
	if r.Verdict == nil {
		if !j.problems("nsg") {
			j.step("nsg", StatusSkip, "not evaluated")
		}
		return
	}
	v := r.Verdict
	decided := strings.TrimSpace(v.DecidingNSG + " " + v.DecidingRule)
	if v.Allowed {
		if decided == "" {
			decided = "no NSG"
		}
		j.step("nsg", StatusOK, "%s allowed by %s; rules from %s", r.Flow, decided, source)
		return
	}
	ev := []string{"flow: " + r.Flow, "decided by: " + decided + fmt.Sprintf(" (priority %d)", decidingPriority(*v)), "rules read from " + source}
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
	if t.SourceAuto && len(r.AllowedSources) > 0 && !(vnetOnly && r.PublicIPResource != "") {
		j.add(findings.New("cloud.nsg_source_restricted",
			fmt.Sprintf("Port %d is open only to some sources: %s", t.Port, strings.Join(r.AllowedSources, ", ")),
			fmt.Sprintf("Connect from one of them, or check your own address: `sshdoctor azure check %s --source-ip YOUR_PUBLIC_IP --port %d`.", j.cmd, t.Port),
			append([]string{"an arbitrary Internet address (" + t.SourceIP + ") is denied"}, ev[1:]...)...))
		j.step("nsg", StatusWarn, "%s denied by %s; allowed from %s", r.Flow, decided, strings.Join(r.AllowedSources, ", "))
		return
	}
	j.add(findings.New("cloud.nsg_denies", fmt.Sprintf("NSG %s denies TCP port %d from %s (%s)", v.DecidingNSG, t.Port, sourceLabel(t), v.DecidingRule),
		j.nsgRemedy(), ev...))
	j.step("nsg", StatusFail, "%s denied by %s", r.Flow, decided)
}

func sourceLabel(t Target) string {
	if t.SourceAuto {
		return "the Internet"
	}
	return t.SourceIP
}

// nsgRemedy names the rules that would let the client in, as sshdoctor
// and az commands.
func (j *judgement) nsgRemedy() string {
	r, t := j.r, j.r.Target
	if t.SourceAuto {
		return fmt.Sprintf("Allow your own address (not the whole Internet): `sshdoctor azure nsg allow-ssh %s --source-ip YOUR_PUBLIC_IP --port %d`.", j.cmd, t.Port)
	}
	if len(r.Suggestions) == 0 {
		return fmt.Sprintf("The deny rule %s leaves no free priority above it: delete or renumber it (`az network nsg rule delete|update`), then `sshdoctor azure nsg allow-ssh %s --source-ip %s --port %d`.",
			r.Verdict.DecidingRule, j.cmd, t.SourceIP, t.Port)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "`sshdoctor azure nsg allow-ssh %s --source-ip %s --port %d` adds ", j.cmd, t.SourceIP, t.Port)
	for i, s := range r.Suggestions {
		if i > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "rule %s (priority %d) to %s NSG %s", s.Rule.Name, s.Rule.Priority, s.Level, s.NSG)
	}
	b.WriteString("; with the az CLI:")
	for _, s := range r.Suggestions {
		fmt.Fprintf(&b, " `%s`", s.AzCommand(t.ResourceGroup))
	}
	return b.String()
}

// AzCommand is the `az network nsg rule create` command that adds the
// suggested rule; rg is used when the NSG's ID names none.
func (s Suggestion) AzCommand(rg string) string {
	if rid, err := arm.ParseResourceID(s.NSGID); err == nil && rid.ResourceGroupName != "" {
		rg = rid.ResourceGroupName
	}
	return azRuleCreate(rg, s.NSG, s.Rule)
}

func azRuleCreate(rg, nsg string, rule cloud.SecurityRule) string {
	q := func(vals []string) string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = v
			if v == "*" {
				out[i] = "'*'"
			}
		}
		return strings.Join(out, " ")
	}
	return fmt.Sprintf("az network nsg rule create -g %s --nsg-name %s -n %s --priority %d --direction %s --access %s --protocol %s --source-address-prefixes %s --source-port-ranges %s --destination-address-prefixes %s --destination-port-ranges %s",
		rg, nsg, rule.Name, rule.Priority, rule.Direction, rule.Access, rule.Protocol,
		q(rule.SourceAddressPrefixes), q(rule.SourcePortRanges), q(rule.DestinationAddressPrefixes), q(rule.DestinationPortRanges))
}

func (j *judgement) route() {
	r := j.r
	if j.problems("route") {
		return
	}
	rt := r.ReturnRoute
	if rt == nil {
		j.step("route", StatusSkip, "effective routes need a running VM")
		return
	}
	t := r.Target
	desc := fmt.Sprintf("%s %s → %s", orNone(rt.Name), rt.AddressPrefix, rt.NextHopType)
	if rt.NextHopIP != "" {
		desc += " " + rt.NextHopIP
	}
	desc += " (" + orUnknown(rt.Source) + ")"
	ev := []string{"return path to " + t.SourceIP + ": " + desc}
	switch rt.NextHopType {
	case cloud.NextHopNone:
		j.add(findings.New("cloud.route_none", fmt.Sprintf("Replies from VM %s to %s are dropped: route %s", r.VM.Name, sourceLabel(t), desc), "", ev...))
		j.step("route", StatusFail, "replies to %s: %s", t.SourceIP, desc)
	case cloud.NextHopVirtualAppliance:
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
