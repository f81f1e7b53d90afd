package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// newCmdAzureCheck builds `sshdoctor azure check`.
func newCmdAzureCheck(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	check := &cobra.Command{
		Use:   "check -g RG -n VM",
		Short: "Find what on Azure's side stops SSH to the VM (read-only)",
		Long: `Reads the VM (power, provisioning, agent), Resource Health, the boot-diagnostics
serial log, NIC and public IP, evaluates the effective NSGs for TCP from
--source-ip to the VM's private address on --port, and finds the effective
route the replies take. Changes nothing. --network-watcher also asks the
region's Network Watcher (IP flow verify, next hop) the same questions and
reports any disagreement (cloud.watcher_disagrees).

--source-ip auto (the default) evaluates an arbitrary Internet address
(203.0.113.1, a documentation address), so it answers "is SSH open to the
Internet?"; when only some sources are allowed it lists them. Azure cannot
tell sshdoctor your public address and sshdoctor asks no third party: pass
--source-ip with your address to check yours.

Exit status: 0 nothing blocks SSH, 1 a problem was found, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: run(func() error {
			if o.Output != "text" && o.Output != "json" {
				return usagef("--output must be text or json, not %q", o.Output)
			}
			if _, _, err := cloudcheck.ParseSource(o.SourceIP); err != nil {
				return &UsageError{err}
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			r := azure.Check(ctx, p, o.VM, o.SourceIP, o.Port)
			if o.NetworkWatcher {
				p.CrossCheckNetworkWatcher(ctx, r)
			}
			return printAzureCheck(o, r)
		}),
	}
	vmFlags(check)
	check.Flags().StringVar(&o.SourceIP, "source-ip", "auto", "your public IP address as Azure sees it, or auto (an arbitrary Internet address)")
	check.Flags().IntVarP(&o.Port, "port", "p", 22, "sshd's port")
	check.Flags().StringVar(&o.Output, "output", "text", "output format: text or json")
	check.Flags().BoolVar(&o.NetworkWatcher, "network-watcher", false, "also ask the region's Network Watcher (IP flow verify, next hop) and compare; slower: two long-running calls")

	return check
}

var statusMark = map[cloudcheck.Status]string{cloudcheck.StatusOK: "✓", cloudcheck.StatusFail: "✗", cloudcheck.StatusWarn: "!", cloudcheck.StatusSkip: "-"}

func printAzureCheck(o *AzureOptions, r *azure.Report) error {
	t := r.Target
	header := fmt.Sprintf("sshdoctor azure check %s/%s, TCP %d from %s  (subscription %s)", t.ResourceGroup, t.VM, t.Port, sourceText(t.Target), t.Subscription)
	return printCloudCheck(o.IO, o.Output, header, r.Report, func(code int) any {
		return struct {
			Schema   string `json:"schema"`
			ExitCode int    `json:"exit_code"`
			*azure.Report
		}{AzureSchema, code, r}
	})
}

// sourceText names the check's client for its header.
func sourceText(t cloudcheck.Target) string {
	if t.SourceAuto {
		return "the Internet (" + t.SourceIP + ", --source-ip auto)"
	}
	return t.SourceIP
}

// printCloudCheck prints a cloud check (azure check, lab check): the JSON
// document doc makes for the exit code, or the text under header. Exit 1
// when the check is not OK.
func printCloudCheck(ios *IOStreams, output, header string, r *cloudcheck.Report, doc func(code int) any) error {
	code := ExitOK
	if !r.OK {
		code = ExitProblem
	}
	var err error
	if output == "json" {
		err = writeJSONDoc(ios, doc(code))
	} else {
		err = cloudCheckText(ios.Out, header, r)
	}
	if err != nil {
		return err
	}
	if code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// cloudCheckText writes one line per step, then the first error finding
// with its evidence and fix, then the others.
func cloudCheckText(w io.Writer, header string, r *cloudcheck.Report) error {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, " %s %-8s %s\n", statusMark[s.Status], s.Name, s.Summary)
	}
	var root *findings.Finding
	for i, f := range r.Findings {
		if f.Severity == findings.Error {
			root = &r.Findings[i]
			break
		}
	}
	b.WriteString("\n")
	switch {
	case root == nil && len(r.Unknown) > 0:
		fmt.Fprintf(&b, "Diagnosis: unknown. %s shows nothing that stops SSH in what could be evaluated, but not everything could be:\n", cloudcheck.Title(r.Target.Provider))
		for _, u := range r.Unknown {
			fmt.Fprintf(&b, "  ? %s\n", u)
		}
	case root == nil:
		fmt.Fprintf(&b, "Diagnosis: %s shows nothing that stops SSH.\n", cloudcheck.Title(r.Target.Provider))
	default:
		fmt.Fprintf(&b, "Diagnosis: %s\n  [%s]\n", root.Summary, root.ID)
		for _, e := range root.Evidence {
			fmt.Fprintf(&b, "  · %s\n", e)
		}
		fmt.Fprintf(&b, "Fix: %s\n", root.Remediation)
	}
	var others []findings.Finding
	for _, f := range r.Findings {
		if root == nil || f.ID != root.ID {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		b.WriteString("\nAlso found:\n")
		for _, f := range others {
			mark := map[findings.Severity]string{findings.Error: "✗", findings.Warning: "!", findings.Info: "i"}[f.Severity]
			fmt.Fprintf(&b, "  %s %s [%s]\n    → %s\n", mark, f.Summary, f.ID, f.Remediation)
		}
	}
	_, err := fmt.Fprint(w, b.String())
	return err
}
