package azure

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
)

// Target is what an Azure check is about: the provider-neutral target in
// a subscription and resource group.
type Target struct {
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resource_group"`
	cloudcheck.Target
}

// Problem is a gather step that failed, with Azure's answer when ARM gave one.
type Problem struct {
	Step    string `json:"step"` // vm, health, boot, network, nsg, route
	Message string `json:"message"`
	ARM     *Error `json:"arm,omitempty"`
}

// Report is the cloud check (cloudcheck.Report) of an Azure VM, with the
// subscription and resource group in its Target, ARM's answers in its
// Problems, and what only Azure answers (Network Watcher).
type Report struct {
	Target Target `json:"target"`
	*cloudcheck.Report
	Problems []Problem `json:"problems,omitempty"`
	// Watcher is Network Watcher's answer (--network-watcher).
	Watcher *WatcherResult `json:"network_watcher,omitempty"`
}

// Check runs the cloud check (cloudcheck.Check) on VM vm from sourceIP
// (see cloudcheck.ParseSource; one that does not parse leaves the NSGs and
// the return route unevaluated) to port, with remediations that name
// sshdoctor azure and az commands for this resource group, and ARM's
// refusals judged by the permission they need. Check itself never fails.
func Check(ctx context.Context, p *Provider, vm string, sourceIP string, port int) *Report {
	src, auto, _ := cloudcheck.ParseSource(sourceIP)
	return p.report(cloudcheck.Check(ctx, p, vm, cloudcheck.Options{
		Source: src, SourceAuto: auto, Port: port, Commands: p.commands(vm), Explain: explain,
	}))
}

// EvaluateSSH gathers only what the NSG verdict needs and evaluates the
// flow, unjudged: `azure nsg allow-ssh` applies its Suggestions.
func EvaluateSSH(ctx context.Context, p *Provider, vm string, sourceIP string, port int) *Report {
	src, auto, _ := cloudcheck.ParseSource(sourceIP)
	return p.report(cloudcheck.EvaluateSSH(ctx, p, vm, cloudcheck.Options{Source: src, SourceAuto: auto, Port: port}))
}

func (p *Provider) report(r *cloudcheck.Report) *Report {
	out := &Report{Target: Target{Subscription: p.Subscription, ResourceGroup: p.ResourceGroup, Target: r.Target}, Report: r}
	for _, pr := range r.Problems {
		ap := Problem{Step: pr.Step, Message: pr.Message}
		var ae *Error
		if errors.As(pr.Err, &ae) && ae.Status != 0 {
			ap.ARM = ae
		}
		out.Problems = append(out.Problems, ap)
	}
	return out
}

// commands are the remediations' commands for VM vm: sshdoctor azure for
// what it does, az for the rest.
func (p *Provider) commands(vm string) cloudcheck.Commands {
	t := fmt.Sprintf("-g %s -n %s", p.ResourceGroup, vm)
	return cloudcheck.Commands{
		Start:    "sshdoctor azure start " + t,
		Restart:  "sshdoctor azure restart " + t,
		Redeploy: "sshdoctor azure redeploy " + t + " --yes",
		Check:    "sshdoctor azure check " + t,
		AllowSSH: "sshdoctor azure nsg allow-ssh " + t,
		AddRule:  func(s cloudcheck.Suggestion) string { return RuleCreateCommand(s, p.ResourceGroup) },
		RemoveRule: func(_, id, nsg, rule string) string {
			return fmt.Sprintf("az network nsg rule delete -g %s --nsg-name %s -n %s", groupOf(id, p.ResourceGroup), nsg, rule)
		},
		RemoveRoute: func(r cloud.Route) string {
			rid, err := arm.ParseResourceID(r.Table)
			if err != nil || rid.ResourceGroupName == "" {
				return ""
			}
			return fmt.Sprintf("az network route-table route delete -g %s --route-table-name %s -n %s", rid.ResourceGroupName, rid.Name, r.Name)
		},
		Remedy: map[string]string{
			"cloud.boot_diagnostics_disabled": fmt.Sprintf("Enable them: `az vm boot-diagnostics enable %s` (managed storage); the log fills from the next boot.", t),
			"cloud.provisioning_failed":       fmt.Sprintf("Read the error; `az vm reapply %s` retries it, `sshdoctor azure redeploy %s --yes` moves the VM to a new host.", t, t),
			"cloud.agent_not_ready":           fmt.Sprintf("Restart the VM (`sshdoctor azure restart %s`); if the agent stays down, check walinuxagent (waagent on RHEL) from the serial console.", t),
		},
	}
}

// groupOf is the resource group a resource ID names; rg when it names none.
func groupOf(id, rg string) string {
	if rid, err := arm.ParseResourceID(id); err == nil && rid.ResourceGroupName != "" {
		return rid.ResourceGroupName
	}
	return rg
}
