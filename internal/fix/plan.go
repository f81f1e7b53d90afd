package fix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// Step kinds, least invasive first. The seed's fixed order (SPEC S1-S7)
// is SeedOrder; the loop uses it only when the evidence names no cause.
const (
	KindStart       = "start"        // start a stopped VM
	KindNSGAllow    = "nsg-allow"    // allow sshd's port from the client's address only
	KindRouteRemove = "route-remove" // remove the user route that drops replies
	KindGuestRepair = "guest-repair" // the guest judge's repairs, through run-command
	KindResetSSH    = "reset-ssh"    // VMAccess reset_ssh: sshd configuration to safe defaults
	KindResetUser   = "reset-user"   // VMAccess: repair the account, authorize the client's key
	KindRestart     = "restart"      // reboot the VM
	KindRedeploy    = "redeploy"     // move to a new host (--allow-redeploy)
	KindRescue      = "rescue"       // offline disk repair: manual (not built)
	KindManual      = "manual"       // a cause fix may not or cannot remove
)

// SeedOrder is the order the seed's guide takes its steps in: reset the
// SSH configuration, reset the user, check the NSG, the routes, the VM's
// health (start it), restart, redeploy.
var SeedOrder = []string{KindResetSSH, KindResetUser, KindNSGAllow, KindRouteRemove, KindStart, KindRestart, KindRedeploy}

// Step is one planned change.
type Step struct {
	Kind string `json:"kind"`
	// For is the finding the step addresses ("" for a fallback step).
	For string `json:"for,omitempty"`
	// Why says what evidence led to the step.
	Why string `json:"why"`
	// Change says what the step changes.
	Change string `json:"change"`
	Risk   string `json:"risk"` // low, medium, high
	// UndoText says how the step can be undone.
	UndoText   string `json:"undo"`
	Disruptive bool   `json:"disruptive"`
	// Manual: the step cannot (or may not) be taken by fix; Command is
	// what to run by hand.
	Manual  bool   `json:"manual,omitempty"`
	Command string `json:"command,omitempty"`
	// Fallback: taken in the seed's order because no evidence named a
	// cause.
	Fallback bool `json:"fallback,omitempty"`

	// NSG: the rule to set and where.
	NSGID string              `json:"nsg_id,omitempty"`
	Rule  *cloud.SecurityRule `json:"rule,omitempty"`
	// Renumber: the deny rule moved one priority down first, so that Rule
	// can take its place.
	Renumber *cloud.SecurityRule `json:"renumber,omitempty"`
	// Route to remove.
	Route *cloud.Route `json:"route,omitempty"`
	// Actions of a guest repair.
	Actions []guest.Action `json:"actions,omitempty"`

	waitReady bool
	port      int
}

func (s Step) key() string {
	switch s.Kind {
	case KindNSGAllow:
		return s.Kind + "/" + s.NSGID
	case KindRouteRemove:
		if s.Route != nil {
			return s.Kind + "/" + s.Route.Table + "/" + s.Route.Name
		}
	case KindGuestRepair:
		var ids []string
		for _, a := range s.Actions {
			ids = append(ids, a.For+"@"+a.User+":"+a.Description)
		}
		return s.Kind + "/" + strings.Join(ids, ",")
	}
	return s.Kind
}

func firstRunnable(plan []Step) (Step, bool) {
	for _, s := range plan {
		if !s.Manual {
			return s, true
		}
	}
	return Step{}, false
}

// planSteps orders the steps the evidence calls for, then the seed's
// fallback steps when nothing in the evidence explains the failure.
// Steps already taken are not planned again.
func planSteps(g *gathered, cur *Outcome, o *Options, taken map[string]bool) []Step {
	var plan []Step
	add := func(s Step) {
		s.port = o.Port
		if s.Manual || !taken[s.key()] {
			plan = append(plan, s)
		}
	}
	c := g.cloud
	running := c != nil && c.VM != nil && c.VM.PowerState == cloud.PowerRunning
	if o.SeedOrder {
		return seedPlan(g, o, add, running, &plan)
	}
	if c != nil && c.VM != nil && !running {
		add(Step{Kind: KindStart, For: "cloud.vm_stopped", Why: fmt.Sprintf("the VM is %s", c.VM.PowerState),
			Change: "start VM " + o.VM, Risk: "low", UndoText: "stop (deallocate) the VM again", waitReady: true})
		return plan // nothing inside a stopped VM can be judged yet
	}
	if c != nil {
		nsgSteps(c, o, add)
		routeSteps(c, o, add)
	}
	guestSteps(g, c, o, add)
	if len(plan) > 0 && !allManual(plan) {
		return plan
	}
	if cur.RootCause != nil && clientSide(cur.RootCause.Layer) {
		// What fails is on this machine's side (its known_hosts, its
		// configuration): nothing on the VM or in the cloud changes it.
		add(Step{Kind: KindManual, For: cur.RootCause.ID, Manual: true, Why: cur.RootCause.Summary,
			Change: orText(cur.RootCause.Remediation, "fix it on this machine") + hostKeyNote(g)})
		return plan
	}
	if len(g.diagnosis()) > 0 || len(plan) > 0 {
		// The evidence names a cause no step can (or may) remove: a
		// blind reset or reboot would not address it. Stop with the
		// manual steps.
		if len(plan) == 0 {
			d := g.diagnosis()[0]
			add(Step{Kind: KindManual, For: d.ID, Manual: true, Why: d.Summary, Change: orText(d.Remediation, "remove the cause by hand")})
		}
		return plan
	}
	// No evidence-driven step left: the seed's order, from what is left.
	// VMAccess needs the agent; a declined restart is no evidence that a
	// restart did not help.
	agent := running && c.VM.AgentReady
	for _, kind := range SeedOrder {
		switch kind {
		case KindResetSSH:
			if agent && cur.Layer <= layerIndex(findings.LayerBanner) {
				add(Step{Kind: KindResetSSH, Fallback: true, Why: "no cause was found; sshd does not answer: the seed's first step",
					Change: "reset sshd's configuration to safe defaults (VMAccess reset_ssh; hardening kept)", Risk: "medium",
					UndoText: "the guest keeps a backup set (`sshdoctor guest restore`)", Disruptive: true})
			}
		case KindResetUser:
			if agent && cur.RootCause != nil && cur.RootCause.Layer == findings.LayerAuth && len(o.Keys) > 0 && o.User != "" && o.User != "root" {
				add(Step{Kind: KindResetUser, Fallback: true, Why: "no cause was found in the guest; the server rejects your key",
					Change: fmt.Sprintf("repair account %s and authorize your key %s (VMAccess)", o.User, fingerprint(o)), Risk: "medium",
					UndoText: "remove the key line from ~" + o.User + "/.ssh/authorized_keys", Disruptive: true})
			}
		case KindRestart:
			if running {
				add(Step{Kind: KindRestart, Fallback: true, Why: "no remaining cause was found: the seed restarts the VM",
					Change: "restart VM " + o.VM, Risk: "medium", UndoText: "none needed (a reboot)", Disruptive: true, waitReady: true})
			}
		case KindRedeploy:
			s := Step{Kind: KindRedeploy, Fallback: true, Why: "a restart did not help: the seed redeploys to a new host",
				Change: "redeploy VM " + o.VM + " (temporary disk wiped, dynamic IP may change)", Risk: "high",
				UndoText: "cannot be undone", Disruptive: true, waitReady: true}
			if !o.AllowRedeploy {
				s.Manual, s.Command = true, "sshdoctor fix --allow-redeploy …"
				s.Why += " (not taken without --allow-redeploy)"
			}
			if taken[KindRestart] && !taken[declined(KindRestart)] {
				add(s)
			}
		}
	}
	return plan
}

func allManual(plan []Step) bool {
	for _, s := range plan {
		if !s.Manual {
			return false
		}
	}
	return true
}

func layerIndex(l findings.Layer) int {
	for i, x := range findings.ClientLayers {
		if x == l {
			return i
		}
	}
	return -1
}

// nsgSteps: a rule allowing sshd's port from the client's address only,
// on each NSG that denies it, as the cloud check suggested.
func nsgSteps(c *cloudcheck.Report, o *Options, add func(Step)) {
	if c.Verdict == nil || c.Verdict.Allowed {
		return
	}
	if c.JITRule != "" || isJIT(c.Verdict.DecidingRule) {
		rule := c.JITRule
		if rule == "" {
			rule = c.Verdict.DecidingRule
		}
		add(Step{Kind: KindManual, For: "cloud.nsg_denies", Manual: true,
			Why:    "a Defender for Cloud just-in-time rule (" + rule + ") closes the port",
			Change: "request JIT access for your address (the VM's Connect page in the portal, `Start-AzJitNetworkAccessPolicy`, or `sshdoctor azure nsg allow-ssh`, which prints the request); fix does not bypass JIT"})
		return
	}
	if c.StandardClosed {
		add(Step{Kind: KindManual, For: "cloud.standard_ip_closed", Manual: true,
			Why:    "no NSG applies, and the VM's Standard SKU address admits nothing without one",
			Change: "create an NSG that allows your address and attach it to the NIC (the finding's remediation has the commands)"})
		return
	}
	if len(c.Verdict.Uncertain) > 0 {
		add(Step{Kind: KindManual, For: "cloud.nsg_uncertain", Manual: true,
			Why:    "the NSGs' verdict is uncertain: " + c.Verdict.String(),
			Change: "check the named rule in the portal or with Network Watcher's IP flow verify; fix adds no rule it cannot show to be needed"})
		return
	}
	if !o.Source.IsValid() {
		add(Step{Kind: KindManual, For: "cloud.nsg_denies", Manual: true, Why: "the NSG denies SSH, and your public address is unknown",
			Change: "give your public address with --source-ip so fix can allow it (and only it)"})
		return
	}
	for _, s := range c.Suggestions {
		rule := s.Rule
		st := Step{Kind: KindNSGAllow, For: "cloud.nsg_denies",
			Why:    fmt.Sprintf("%s denies TCP/%d from %s (%s)", c.Verdict.DecidingNSG, o.Port, o.Source, c.Verdict.DecidingRule),
			Change: fmt.Sprintf("add rule %s to %s NSG %s: allow TCP/%s from %s, priority %d", rule.Name, s.Level, s.NSG, strings.Join(rule.DestinationPortRanges, ","), strings.Join(rule.SourceAddressPrefixes, ","), rule.Priority),
			Risk:   "low", UndoText: "remove rule " + rule.Name + " from " + s.NSG, NSGID: s.NSGID, Rule: &rule}
		if s.Renumber != nil {
			// An admin's rule changes (its meaning for every other flow
			// does not): ask first.
			mv := *s.Renumber
			st.Renumber, st.Disruptive, st.Risk = &mv, true, "medium"
			st.Change = fmt.Sprintf("move deny rule %s from priority %d to %d, then ", mv.Name, mv.Priority-1, mv.Priority) + st.Change
			st.UndoText += fmt.Sprintf(" and move %s back to priority %d", mv.Name, mv.Priority-1)
		}
		add(st)
	}
}

// isJIT: Microsoft Defender for Cloud's just-in-time access names its
// rules SecurityCenter-JITRule_<n>_<hash>.
func isJIT(rule string) bool {
	return strings.Contains(strings.ToLower(rule), "securitycenter-jitrule")
}

// guestSteps: the guest judge's repairs, and the manual notes for what a
// repair may not do without an opt-in.
func guestSteps(g *gathered, c *cloudcheck.Report, o *Options, add func(Step)) {
	if g.facts == nil {
		if c != nil && c.Boot != nil && bootStuck(c) {
			add(Step{Kind: KindRescue, For: bootCause(c), Manual: true,
				Why:     "the serial log shows the guest did not finish booting, and run-command cannot reach it: " + firstLine(guestErr(g)),
				Change:  "repair the OS disk offline: attach it to a rescue VM (`az vm repair create`), fix the cause the serial log names, `az vm repair restore`",
				Command: "az vm repair create -g RG -n " + o.VM + " --verbose"})
		}
		return
	}
	var acts, skipped []guest.Action
	for _, a := range g.acts {
		if a.Skipped != "" {
			skipped = append(skipped, a)
		} else {
			acts = append(acts, a)
		}
	}
	if len(acts) > 0 {
		var what []string
		disruptive := false
		for _, a := range acts {
			what = append(what, a.Description)
			if a.User != "" {
				disruptive = true // account policy or keys
			}
		}
		add(Step{Kind: KindGuestRepair, For: acts[0].For,
			Why:    "inside the VM: " + problemSummary(g.problems),
			Change: strings.Join(what, "; "), Risk: "low",
			UndoText: "the guest keeps a backup set; `sshdoctor fix --undo JOURNAL` restores it", Disruptive: disruptive,
			Actions: acts})
	}
	for _, a := range skipped {
		add(Step{Kind: KindManual, For: a.For, Manual: true, Why: "inside the VM: " + a.For, Change: fixFlags.Replace(a.Skipped)})
	}
}

// fixFlags names fix's opt-in flags where guest repair names its own.
var fixFlags = strings.NewReplacer("pass --password-auth", "pass --allow-password-auth", "(--password-auth)", "(--allow-password-auth)",
	"sshdoctor guest repair --user", "sshdoctor guest repair (on the VM) --user")

func problemSummary(ps []guest.Problem) string {
	var s []string
	for _, p := range ps {
		if p.Severity == findings.Error {
			s = append(s, p.ID)
		}
	}
	if len(s) == 0 {
		return "no error"
	}
	return strings.Join(s, ", ")
}

func guestErr(g *gathered) string {
	if g.guestErr == nil {
		return "no answer"
	}
	return g.guestErr.Error()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// bootStuck: the boot log's verdict is an error (the boot did not reach
// sshd).
func bootStuck(c *cloudcheck.Report) bool {
	return bootCause(c) != ""
}

func bootCause(c *cloudcheck.Report) string {
	for _, f := range c.Findings {
		if f.Layer == findings.LayerBoot && f.Severity == findings.Error {
			return f.ID
		}
	}
	return ""
}

func fingerprint(o *Options) string {
	if len(o.Keys) == 0 {
		return "-"
	}
	return sshFingerprint(o.Keys[0])
}

// run takes the step.
func (s Step) run(ctx context.Context, o *Options) (*Undo, error) {
	p, vm := o.Provider, o.VM
	switch s.Kind {
	case KindStart:
		return &Undo{Kind: "stop", VM: vm}, p.Start(ctx, vm)
	case KindRestart:
		return nil, p.Restart(ctx, vm)
	case KindRedeploy:
		return nil, p.Redeploy(ctx, vm)
	case KindNSGAllow:
		var undo *Undo
		if s.Renumber != nil {
			if err := p.SetNSGRule(ctx, s.NSGID, *s.Renumber); err != nil {
				return nil, err
			}
			back := *s.Renumber
			back.Priority--
			undo = &Undo{Kind: "nsg-remove-rule", NSGID: s.NSGID, Restore: &back}
		}
		if err := p.SetNSGRule(ctx, s.NSGID, *s.Rule); err != nil {
			if undo != nil {
				if uerr := undo.apply(ctx, p); uerr != nil {
					err = fmt.Errorf("%w; moving %s back failed too: %v", err, s.Renumber.Name, uerr)
				}
			}
			return nil, err
		}
		if undo == nil {
			undo = &Undo{Kind: "nsg-remove-rule", NSGID: s.NSGID}
		}
		undo.RuleName = s.Rule.Name
		return undo, nil
	case KindRouteRemove:
		return nil, p.RemoveRoute(ctx, s.Route.Table, s.Route.Name)
	case KindResetSSH:
		return nil, p.ResetSSH(ctx, vm)
	case KindResetUser:
		if len(o.Keys) == 0 {
			return nil, errors.New("no public key of yours to authorize")
		}
		return nil, p.ResetUser(ctx, vm, o.User, authorizedLine(o.Keys[0]))
	case KindGuestRepair:
		undo, err := guestRepair(ctx, o, s.Actions)
		if errors.Is(err, errRebootRequired) {
			// The boot is stuck before sshd (emergency mode): the
			// repaired configuration takes effect at the next boot.
			o.progress("the repair takes effect at the next boot: restarting %s", vm)
			o.rebooted = true
			if err = p.Restart(ctx, vm); err == nil {
				err = cloud.WaitReady(ctx, p, vm, o.ReadyTimeout, time.Second, nil)
			}
		}
		return undo, err
	}
	return nil, fmt.Errorf("step %s cannot be taken by fix", s.Kind)
}

// guestRepair renders the actions to one POSIX-sh transaction and runs it
// through run-command.
func guestRepair(ctx context.Context, o *Options, acts []guest.Action) (*Undo, error) {
	script, err := guest.RemoteRepairScript(acts, o.Port)
	if err != nil {
		return nil, err
	}
	res, err := runBusy(ctx, o, script, 3*time.Minute)
	if err != nil {
		return nil, err
	}
	out, err := guest.ParseRemoteRepair(res.Stdout, acts)
	if err != nil {
		return nil, fmt.Errorf("guest repair: %w (exit %d: %s)", err, res.ExitCode, firstLine(strings.TrimSpace(res.Stderr)))
	}
	var undo *Undo
	if out.Backup != "" && !out.RolledBack {
		undo = &Undo{Kind: "guest-restore", VM: o.VM, BackupDir: out.Backup, Port: o.Port}
	}
	if out.RolledBack {
		return undo, fmt.Errorf("guest repair rolled back: %s", out.Error)
	}
	if out.Error != "" {
		return undo, errors.New(out.Error)
	}
	if out.RebootRequired {
		return undo, errRebootRequired
	}
	return undo, nil
}

var errRebootRequired = errors.New("the repair takes effect at the next boot")

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// clientSide: a client-check layer only this machine can change.
func clientSide(l findings.Layer) bool {
	return l == findings.LayerHostKey || l == findings.LayerConfig || l == findings.LayerClient
}

// hostKeyNote: the VM's host key fingerprints as its control plane reads
// them (an authenticated channel), to compare with what the server shows.
func hostKeyNote(g *gathered) string {
	if g.facts == nil || len(g.hostKeys) == 0 {
		return ""
	}
	return " — the VM's host keys, read through the control plane: " + strings.Join(g.hostKeys, ", ")
}

// routeSteps: remove the user route that drops the replies to the client;
// a route of another source is a manual step.
func routeSteps(c *cloudcheck.Report, o *Options, add func(Step)) {
	rt := c.ReturnRoute
	if rt == nil || rt.NextHopType != cloud.NextHopNone {
		return
	}
	if strings.EqualFold(rt.Source, "User") && rt.Table != "" {
		r := *rt
		add(Step{Kind: KindRouteRemove, For: "cloud.route_none", Why: fmt.Sprintf("replies to %s match user route %s (%s → None) and are dropped", o.Source, rt.Name, rt.AddressPrefix),
			Change: fmt.Sprintf("remove user route %s (%s → None)", rt.Name, rt.AddressPrefix), Risk: "medium",
			UndoText: fmt.Sprintf("recreate route %s %s next hop None in %s", rt.Name, rt.AddressPrefix, rt.Table), Disruptive: true, Route: &r})
		return
	}
	add(Step{Kind: KindManual, For: "cloud.route_none", Manual: true, Why: "replies are dropped by a route that is not a user route (" + rt.Source + ")",
		Change: "change the route outside sshdoctor (BGP / gateway)"})
}

// seedPlan is the seed guide's fixed order (Options.SeedOrder, for the
// benchmark): each step in turn whether or not the evidence points at it
// — reset the SSH configuration, reset the user, the NSG, the routes,
// start, restart, redeploy — with a check after each, as a user working
// through the guide by hand would. The NSG and route steps still use the
// evaluation for their parameters (the guide says to look at the rules).
func seedPlan(g *gathered, o *Options, add func(Step), running bool, plan *[]Step) []Step {
	c := g.cloud
	for _, kind := range SeedOrder {
		switch kind {
		case KindResetSSH:
			add(Step{Kind: KindResetSSH, Change: "reset sshd's configuration (VMAccess reset_ssh)", Risk: "medium", UndoText: "the guest keeps a backup set"})
		case KindResetUser:
			if len(o.Keys) > 0 && o.User != "" {
				add(Step{Kind: KindResetUser, Change: "reset user " + o.User + " and its key (VMAccess)", Risk: "medium", UndoText: "remove the key line"})
			}
		case KindNSGAllow:
			if c != nil {
				nsgSteps(c, o, add)
			}
		case KindRouteRemove:
			if c != nil {
				routeSteps(c, o, add)
			}
		case KindStart:
			if !running {
				add(Step{Kind: KindStart, Change: "start VM " + o.VM, Risk: "low", waitReady: true})
			}
		case KindRestart:
			add(Step{Kind: KindRestart, Change: "restart VM " + o.VM, Risk: "medium", waitReady: true})
		case KindRedeploy:
			if o.AllowRedeploy {
				add(Step{Kind: KindRedeploy, Change: "redeploy VM " + o.VM, Risk: "high", waitReady: true})
			}
		}
	}
	return *plan
}

// declined is the taken-map key of a step the user declined.
func declined(key string) string { return "declined/" + key }
