package azure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
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
		NewNSG: func(v *cloud.VM, source string, port int) string {
			if v.NIC == "" {
				return ""
			}
			nsg := vm + "-nsg"
			src := source
			if src == "" || src == cloudcheck.InternetProbe.String() {
				src = "YOUR_PUBLIC_IP"
			}
			rule := cloud.SecurityRule{Name: "Allow-SSH", Priority: 1000, Direction: cloud.Inbound, Access: cloud.Allow, Protocol: "Tcp",
				SourceAddressPrefixes: []string{src}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{strconv.Itoa(port)}}
			return fmt.Sprintf("az network nsg create -g %s -n %s && %s && az network nic update -g %s -n %s --network-security-group %s",
				p.ResourceGroup, nsg, netpolicy.AzRuleCreate(p.ResourceGroup, nsg, rule), groupOf(v.NICID, p.ResourceGroup), v.NIC, nsg)
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

// JITRequestCommand is the az command that asks Microsoft Defender for
// Cloud's just-in-time VM access to open port for source on VM vm (the
// policy's initiate action; the az CLI has no verb of its own for it).
// The policy is usually named "default": `az security jit-policy list -g RG`
// lists them.
func (p *Provider) JITRequestCommand(vm, location, source string, port int) string {
	loc := strings.ToLower(strings.ReplaceAll(location, " ", ""))
	if loc == "" {
		loc = "LOCATION"
	}
	body := fmt.Sprintf(`{"virtualMachines":[{"id":"%s","ports":[{"number":%d,"duration":"PT3H","allowedSourceAddressPrefix":"%s"}]}],"justification":"sshdoctor: SSH troubleshooting"}`,
		p.vmID(vm), port, source)
	return fmt.Sprintf("az rest --method post --url 'https://management.azure.com/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Security/locations/%s/jitNetworkAccessPolicies/default/initiate?api-version=2020-01-01' --body '%s'",
		p.Subscription, p.ResourceGroup, loc, body)
}
