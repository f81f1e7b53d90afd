package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// newCmdAzureNSG builds `sshdoctor azure nsg` (allow-ssh).
func newCmdAzureNSG(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	nsg := &cobra.Command{Use: "nsg", Short: "Change the VM's network security groups"}
	allow := &cobra.Command{
		Use:   "allow-ssh -g RG -n VM --source-ip IP",
		Short: "Add the narrowest NSG rule(s) that let --source-ip reach sshd's port",
		Long: `Evaluates the VM's NSGs for TCP from --source-ip to --port and, where a rule
denies it, adds an Allow rule for exactly that source address and port, at a
priority that beats the deciding deny rule — in the subnet NSG, the NIC NSG,
or both. Shows the rules (and the equivalent az commands) first.`,
		Args: cobra.NoArgs,
		RunE: run(jsonNeedsYes(o, "allow-ssh", func() error {
			if _, auto, err := cloudcheck.ParseSource(o.SourceIP); err != nil || auto {
				return usagef("allow-ssh needs --source-ip with your public IP address (not auto): sshdoctor opens the NSG to one address only")
			}
			return nil
		}), withActionDoc("nsg allow-ssh", allowSSH)),
	}
	vmFlags(allow)
	recheckFlags(allow, o)
	allow.Flags().StringVar(&o.SourceIP, "source-ip", "", "the address to allow: your public IP as Azure sees it (required)")
	allow.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	actionOutputFlag(allow, o)
	nsg.AddCommand(allow)

	return nsg
}

// allowSSHJSON is what `azure nsg allow-ssh --output json` reports.
type allowSSHJSON struct {
	SourceIP string       `json:"source_ip"`
	Port     int          `json:"port"`
	Flow     string       `json:"flow"`             // the connection evaluated
	Before   *verdictJSON `json:"before,omitempty"` // the NSGs' verdict before any change
	// JITRule is the just-in-time access rule that denies the flow: no
	// rule is added; JITCommand requests access instead.
	JITRule    string          `json:"jit_rule,omitempty"`
	JITCommand string          `json:"jit_command,omitempty"`
	Rules      []allowRuleJSON `json:"rules"`           // the rules added (and deny rules moved), in order
	Applied    bool            `json:"applied"`         // the rules were written
	After      *verdictJSON    `json:"after,omitempty"` // the verdict after the change
}

// verdictJSON is an NSG verdict for the flow.
type verdictJSON struct {
	Allowed      bool   `json:"allowed"`
	Verdict      string `json:"verdict"` // in words, as text shows it
	DecidingNSG  string `json:"deciding_nsg,omitempty"`
	DecidingRule string `json:"deciding_rule,omitempty"`
}

// allowRuleJSON is one rule allow-ssh adds, and the deny rule it moves
// one priority down first, if any.
type allowRuleJSON struct {
	Level     string              `json:"level"` // subnet or nic
	NSG       string              `json:"nsg"`
	NSGID     string              `json:"nsg_id"`
	Rule      cloud.SecurityRule  `json:"rule"`
	Moved     *cloud.SecurityRule `json:"moved,omitempty"` // the deny rule, at its new priority
	AzCommand string              `json:"az_command"`
}

func newVerdictJSON(v *netpolicy.Verdict) *verdictJSON {
	if v == nil {
		return nil
	}
	return &verdictJSON{Allowed: v.Allowed, Verdict: v.String(), DecidingNSG: v.DecidingNSG, DecidingRule: v.DecidingRule}
}

func allowSSH(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error {
	w := o.textOut()
	a := &allowSSHJSON{SourceIP: o.SourceIP, Port: o.Port, Rules: []allowRuleJSON{}}
	d.AllowSSH = a
	r := azure.EvaluateSSH(ctx, p, o.VM, o.SourceIP, o.Port)
	if len(r.Problems) > 0 {
		if pr := r.Report.Problems[0]; pr.Err != nil {
			return pr.Err
		}
		return errors.New(r.Problems[0].Message)
	}
	if r.Verdict == nil {
		return fmt.Errorf("the NSGs of %s/%s could not be evaluated", o.ResourceGroup, o.VM)
	}
	a.Flow, a.Before = r.Flow, newVerdictJSON(r.Verdict)
	if r.Verdict.Allowed {
		fmt.Fprintf(w, "%s is already allowed (%s); nothing to do.\n", r.Flow, r.Verdict)
		return nil
	}
	if r.JITRule != "" {
		// A standing allow rule above just-in-time access's deny would
		// defeat it: access is requested, for a while, instead.
		a.JITRule, a.JITCommand = r.JITRule, p.JITRequestCommand(o.VM, r.VM.Location, o.SourceIP, o.Port)
		fmt.Fprintf(w, "%s is denied by %s, Microsoft Defender for Cloud's just-in-time VM access: sshdoctor adds no permanent rule above it.\n", r.Flow, r.JITRule)
		fmt.Fprintf(w, "Request access for %s to port %d (3 hours): the VM's Connect page in the portal, `Start-AzJitNetworkAccessPolicy` in PowerShell, or:\n  %s\n",
			o.SourceIP, o.Port, a.JITCommand)
		return &ExitError{Code: ExitProblem}
	}
	if len(r.Verdict.Uncertain) > 0 {
		return fmt.Errorf("the NSGs' verdict for %s is uncertain (%s): sshdoctor adds no rule it cannot show to be needed; check in the portal or with Network Watcher's IP flow verify", r.Flow, r.Verdict)
	}
	if len(r.Suggestions) == 0 {
		return fmt.Errorf("%s is %s, and no free priority beats that rule: delete or renumber it first", r.Flow, r.Verdict)
	}
	fmt.Fprintf(w, "%s is %s. To allow it:\n", r.Flow, r.Verdict)
	for _, s := range r.Suggestions {
		a.Rules = append(a.Rules, allowRuleJSON{Level: s.Level, NSG: s.NSG, NSGID: s.NSGID, Rule: s.Rule, Moved: s.Renumber, AzCommand: azure.RuleCreateCommand(s, o.ResourceGroup)})
		if s.Renumber != nil {
			fmt.Fprintf(w, "  ~ %s NSG %s: %s moves from priority %d to %d (every other flow is judged as before)\n", s.Level, s.NSG, s.Renumber.Name, s.Renumber.Priority-1, s.Renumber.Priority)
		}
		fmt.Fprintf(w, "  + %s NSG %s: %s, priority %d, %s TCP from %s to port %s\n    (%s)\n", s.Level, s.NSG, s.Rule.Name, s.Rule.Priority, s.Rule.Access,
			strings.Join(s.Rule.SourceAddressPrefixes, ","), strings.Join(s.Rule.DestinationPortRanges, ","), azure.RuleCreateCommand(s, o.ResourceGroup))
	}
	if err := confirm(o, "Add these rules?"); err != nil {
		return err
	}
	for _, s := range r.Suggestions {
		if s.Renumber != nil {
			if err := p.SetNSGRule(ctx, s.NSGID, *s.Renumber); err != nil {
				return err
			}
			d.Done = "rules changed"
			fmt.Fprintf(w, "moved %s to priority %d in %s\n", s.Renumber.Name, s.Renumber.Priority, s.NSG)
		}
		if err := p.SetNSGRule(ctx, s.NSGID, s.Rule); err != nil {
			return err
		}
		d.Done = "rules changed"
		fmt.Fprintf(w, "added %s to %s\n", s.Rule.Name, s.NSG)
	}
	a.Applied, d.Done = true, "rules added"
	after := azure.EvaluateSSH(ctx, p, o.VM, o.SourceIP, o.Port)
	a.After = newVerdictJSON(after.Verdict)
	if after.Verdict != nil && after.Verdict.Allowed {
		fmt.Fprintf(w, "Now %s.\n", after.Verdict)
	} else {
		fmt.Fprintln(w, "Azure does not show the new rules in effect yet; run `sshdoctor azure check` again in a minute.")
	}
	d.Recheck = recheckSSH(ctx, o, p)
	return nil
}
