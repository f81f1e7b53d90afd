package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
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
		RunE: run(func() error {
			if _, auto, err := cloudcheck.ParseSource(o.SourceIP); err != nil || auto {
				return usagef("allow-ssh needs --source-ip with your public IP address (not auto): sshdoctor opens the NSG to one address only")
			}
			return nil
		}, allowSSH),
	}
	vmFlags(allow)
	recheckFlags(allow, o)
	allow.Flags().StringVar(&o.SourceIP, "source-ip", "", "the address to allow: your public IP as Azure sees it (required)")
	allow.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	nsg.AddCommand(allow)

	return nsg
}

func allowSSH(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
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
	if r.Verdict.Allowed {
		fmt.Fprintf(o.IO.Out, "%s is already allowed (%s); nothing to do.\n", r.Flow, r.Verdict)
		return nil
	}
	if r.JITRule != "" {
		// A standing allow rule above just-in-time access's deny would
		// defeat it: access is requested, for a while, instead.
		fmt.Fprintf(o.IO.Out, "%s is denied by %s, Microsoft Defender for Cloud's just-in-time VM access: sshdoctor adds no permanent rule above it.\n", r.Flow, r.JITRule)
		fmt.Fprintf(o.IO.Out, "Request access for %s to port %d (3 hours): the VM's Connect page in the portal, `Start-AzJitNetworkAccessPolicy` in PowerShell, or:\n  %s\n",
			o.SourceIP, o.Port, p.JITRequestCommand(o.VM, r.VM.Location, o.SourceIP, o.Port))
		return &ExitError{Code: ExitProblem}
	}
	if len(r.Verdict.Uncertain) > 0 {
		return fmt.Errorf("the NSGs' verdict for %s is uncertain (%s): sshdoctor adds no rule it cannot show to be needed; check in the portal or with Network Watcher's IP flow verify", r.Flow, r.Verdict)
	}
	if len(r.Suggestions) == 0 {
		return fmt.Errorf("%s is %s, and no free priority beats that rule: delete or renumber it first", r.Flow, r.Verdict)
	}
	fmt.Fprintf(o.IO.Out, "%s is %s. To allow it:\n", r.Flow, r.Verdict)
	for _, s := range r.Suggestions {
		if s.Renumber != nil {
			fmt.Fprintf(o.IO.Out, "  ~ %s NSG %s: %s moves from priority %d to %d (every other flow is judged as before)\n", s.Level, s.NSG, s.Renumber.Name, s.Renumber.Priority-1, s.Renumber.Priority)
		}
		fmt.Fprintf(o.IO.Out, "  + %s NSG %s: %s, priority %d, %s TCP from %s to port %s\n    (%s)\n", s.Level, s.NSG, s.Rule.Name, s.Rule.Priority, s.Rule.Access,
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
			fmt.Fprintf(o.IO.Out, "moved %s to priority %d in %s\n", s.Renumber.Name, s.Renumber.Priority, s.NSG)
		}
		if err := p.SetNSGRule(ctx, s.NSGID, s.Rule); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.Out, "added %s to %s\n", s.Rule.Name, s.NSG)
	}
	after := azure.EvaluateSSH(ctx, p, o.VM, o.SourceIP, o.Port)
	if after.Verdict != nil && after.Verdict.Allowed {
		fmt.Fprintf(o.IO.Out, "Now %s.\n", after.Verdict)
	} else {
		fmt.Fprintln(o.IO.Out, "Azure does not show the new rules in effect yet; run `sshdoctor azure check` again in a minute.")
	}
	recheckSSH(ctx, o, p)
	return nil
}
