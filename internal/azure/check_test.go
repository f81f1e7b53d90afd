package azure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcehealth/armresourcehealth"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
)

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

func step(t *testing.T, r *Report, name string) cloudcheck.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, r.Steps)
	return cloudcheck.Step{}
}

func TestCheckHealthy(t *testing.T) {
	p, w := newWorld(t, scenario{})
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	if !r.OK || len(r.Findings) != 1 || r.Findings[0].ID != "cloud.ok" {
		t.Fatalf("findings %v, steps %+v, problems %+v", ids(r), r.Steps, r.Problems)
	}
	v := r.VM
	if v.PowerState != cloud.PowerRunning || !v.AgentReady || v.ProvisioningState != "Succeeded" || v.PrivateIP != "10.0.0.4" || v.PublicIP != "20.50.60.70" {
		t.Errorf("vm %+v", v)
	}
	if r.Health.State != cloud.HealthAvailable || !r.NSGsLive || r.Verdict == nil || !r.Verdict.Allowed {
		t.Errorf("health %+v live %v verdict %+v", r.Health, r.NSGsLive, r.Verdict)
	}
	if r.Verdict.DecidingRule != "securityRules/Allow-SSH" || r.NSGs.NIC.Name != "web1-nsg" || r.NSGs.Subnet.Name != "web-subnet-nsg" {
		t.Errorf("verdict %v, nsgs %+v", r.Verdict, r.NSGs)
	}
	if strings.Join(r.NSGs.VNetPrefixes, ",") != "10.0.0.0/16,168.63.129.16/32" {
		t.Errorf("vnet prefixes %v", r.NSGs.VNetPrefixes)
	}
	// The serial log came from the SAS URI through the injected transport,
	// without the ARM bearer token.
	if r.Boot == nil || r.Boot.Bytes != int64(len(w.Serial)) || !r.Boot.Healthy || !r.Boot.LastBoot.LoginPrompt {
		t.Errorf("serial log analysis %+v, want %d bytes with a login prompt", r.Boot, len(w.Serial))
	}
	if len(w.Blobs) != 1 || w.Blobs[0].Header.Get("Authorization") != "" {
		t.Errorf("blob requests %d, auth %q", len(w.Blobs), w.Blobs[0].Header.Get("Authorization"))
	}
	if s := step(t, r, "boot"); s.Status != StatusOK || !strings.Contains(s.Summary, "serial log fetched:") {
		t.Errorf("boot step %+v", s)
	}
	if r.ReturnRoute == nil || r.ReturnRoute.NextHopType != cloud.NextHopInternet {
		t.Errorf("return route %+v", r.ReturnRoute)
	}
	for _, s := range r.Steps {
		if s.Status != StatusOK {
			t.Errorf("step %+v", s)
		}
	}
}

func TestCheckDeallocated(t *testing.T) {
	p, w := newWorld(t, scenario{Power: "deallocated", AgentDown: true, Health: armresourcehealth.AvailabilityStateValuesUnavailable})
	w.Network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = nil // must not be asked
	w.Network.InterfacesServer.BeginGetEffectiveRouteTable = nil
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	f := finding(t, r, "cloud.vm_deallocated")
	if f.Severity != findings.Error || !strings.Contains(f.Remediation, "sshdoctor azure start -g rg -n web1") {
		t.Errorf("%+v", f)
	}
	noFinding(t, r, "cloud.agent_not_ready")    // a deallocated VM has no agent to be ready
	noFinding(t, r, "cloud.health_unavailable") // the power state is the cause
	if r.OK {
		t.Error("OK")
	}
	// The attached NSGs were read instead of the effective view, with the
	// VNet's and its peering's address space for the VirtualNetwork tag.
	if r.NSGsLive || r.NSGs.Subnet == nil || r.NSGs.Subnet.Name != "web-subnet-nsg" || r.NSGs.NIC.Name != "web1-nsg" {
		t.Fatalf("nsgs %+v live %v", r.NSGs, r.NSGsLive)
	}
	if strings.Join(r.NSGs.VNetPrefixes, ",") != "10.0.0.0/16,10.100.0.0/16" || !r.Verdict.Allowed {
		t.Errorf("vnet %v verdict %v", r.NSGs.VNetPrefixes, r.Verdict)
	}
	if s := step(t, r, "route"); s.Status != StatusSkip {
		t.Errorf("route step %+v", s)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems %+v", r.Problems)
	}
}

func TestCheckAgentNotReady(t *testing.T) {
	p, _ := newWorld(t, scenario{AgentDown: true})
	r := Check(context.Background(), p, vmName, "auto", 22)
	f := finding(t, r, "cloud.agent_not_ready")
	if f.Severity != findings.Warning || !strings.Contains(strings.Join(f.Evidence, "\n"), "Not Ready") {
		t.Errorf("%+v", f)
	}
	if !r.OK || r.VM.AgentReady {
		t.Errorf("ok %v agent %v", r.OK, r.VM.AgentReady)
	}
	// In-guest actions refuse at once instead of waiting for the agent.
	if err := p.ResetSSH(context.Background(), vmName); !errors.Is(err, ErrAgentNotReady) {
		t.Errorf("ResetSSH: %v", err)
	}
	if _, err := p.RunCommand(context.Background(), vmName, "true", 0); !errors.Is(err, ErrAgentNotReady) {
		t.Errorf("RunCommand: %v", err)
	}
}

func TestCheckNSGDenyAtSubnet(t *testing.T) {
	p, _ := newWorld(t, scenario{EffNSG: subnetDenyEffNSG})
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	f := finding(t, r, "cloud.nsg_denies")
	if f.Severity != findings.Error || r.OK {
		t.Errorf("%+v ok=%v", f, r.OK)
	}
	if r.Verdict.DecidingNSG != "subnet/web-subnet-nsg" || r.Verdict.DecidingRule != "securityRules/Deny-SSH-Internet" {
		t.Fatalf("verdict %v", r.Verdict)
	}
	ev := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"decided by: subnet/web-subnet-nsg securityRules/Deny-SSH-Internet (priority 200)", "198.51.100.7 → 10.0.0.4:22", "← matched"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	// One rule in the subnet NSG suffices: the NIC NSG already allows.
	if len(r.Suggestions) != 1 {
		t.Fatalf("suggestions %+v", r.Suggestions)
	}
	s := r.Suggestions[0]
	if s.Level != "subnet" || s.NSG != "web-subnet-nsg" || s.NSGID != snsgID || s.Rule.Priority != 100 || s.Rule.SourceAddressPrefixes[0] != "198.51.100.7/32" {
		t.Errorf("suggestion %+v", s)
	}
	for _, want := range []string{
		"sshdoctor azure nsg allow-ssh -g rg -n web1 --source-ip 198.51.100.7 --port 22",
		"az network nsg rule create --resource-group net-rg --nsg-name web-subnet-nsg --name Allow-SSH-from-198-51-100-7 --priority 100 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 198.51.100.7/32 --source-port-ranges '*' --destination-address-prefixes '*' --destination-port-ranges 22",
	} {
		if !strings.Contains(f.Remediation, want) {
			t.Errorf("remediation lacks %q:\n%s", want, f.Remediation)
		}
	}

	// auto: the Internet at large is denied; only the virtual network may
	// connect, which does not help a client coming over the public IP.
	r = Check(context.Background(), p, vmName, "auto", 22)
	f = finding(t, r, "cloud.nsg_denies")
	if !r.Target.SourceAuto || r.Target.SourceIP != cloudcheck.InternetProbe.String() || !strings.Contains(f.Evidence[0], "allowed only from: VirtualNetwork (10.0.0.0/16") {
		t.Errorf("%+v %+v", r.Target, f)
	}
	noFinding(t, r, "cloud.nsg_source_restricted")
}

func TestCheckNSGSourceRestricted(t *testing.T) {
	p, _ := newWorld(t, scenario{EffNSG: effNSG(`
        {"name": "securityRules/Allow-SSH-Office", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefixes": ["198.51.100.0/24", "192.0.2.10"], "destinationAddressPrefix": "0.0.0.0/0", "access": "Allow", "priority": 150, "direction": "Inbound"},`,
		allowSSHAnywhere)})
	r := Check(context.Background(), p, vmName, "auto", 22)
	f := finding(t, r, "cloud.nsg_source_restricted")
	if f.Severity != findings.Warning || !strings.Contains(f.Summary, "198.51.100.0/24, 192.0.2.10, VirtualNetwork") || !strings.Contains(f.Remediation, "--source-ip YOUR_PUBLIC_IP") {
		t.Errorf("%+v", f)
	}
	noFinding(t, r, "cloud.nsg_denies")
	// The office address itself passes.
	r = Check(context.Background(), p, vmName, "198.51.100.20", 22)
	if !r.Verdict.Allowed || r.Verdict.DecidingRule != "securityRules/Allow-SSH" {
		t.Errorf("%v", r.Verdict)
	}
}

func TestCheckNSGDenyBoth(t *testing.T) {
	// Subnet and NIC NSGs both carry only the defaults: two rules needed.
	p, _ := newWorld(t, scenario{EffNSG: effNSG("", "")})
	r := Check(context.Background(), p, vmName, "198.51.100.7", 2222)
	finding(t, r, "cloud.nsg_denies")
	if len(r.Suggestions) != 2 || r.Suggestions[0].Level != "subnet" || r.Suggestions[1].Level != "nic" || r.Suggestions[1].Rule.DestinationPortRanges[0] != "2222" {
		t.Errorf("suggestions %+v", r.Suggestions)
	}
	r = Check(context.Background(), p, vmName, "auto", 2222)
	f := finding(t, r, "cloud.nsg_denies")
	if !strings.Contains(f.Remediation, "--source-ip YOUR_PUBLIC_IP") || len(r.Suggestions) != 0 {
		t.Errorf("%+v %+v", f, r.Suggestions)
	}
}

func TestCheckRoutes(t *testing.T) {
	cases := []struct {
		udr, id string
		sev     findings.Severity
	}{
		{`, {"source": "User", "state": "Active", "name": "default-via-fw", "addressPrefix": ["0.0.0.0/0"], "nextHopType": "VirtualAppliance", "nextHopIpAddress": ["10.0.1.4"]}`,
			"cloud.route_appliance", findings.Warning},
		{`, {"source": "User", "state": "Active", "name": "blackhole", "addressPrefix": ["198.51.100.0/24"], "nextHopType": "None", "nextHopIpAddress": []}`,
			"cloud.route_none", findings.Error},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			p, _ := newWorld(t, scenario{Routes: routesJSON(c.udr)})
			r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
			f := finding(t, r, c.id)
			if f.Severity != c.sev || r.ReturnRoute.Source != "User" {
				t.Errorf("%+v route %+v", f, r.ReturnRoute)
			}
			if c.id == "cloud.route_appliance" && !strings.Contains(f.Summary, "10.0.1.4") {
				t.Errorf("summary %q", f.Summary)
			}
			// The user route comes from the subnet's route table.
			if c.id == "cloud.route_none" && (r.ReturnRoute.Table != azurefake.RouteTableID ||
				!strings.Contains(f.Remediation, "`az network route-table route delete -g net-rg --route-table-name web-routes -n blackhole`")) {
				t.Errorf("route %+v remediation %q", r.ReturnRoute, f.Remediation)
			}
		})
	}
}

func TestCheckBootDiagnosticsDisabled(t *testing.T) {
	p, w := newWorld(t, scenario{NoBootDiag: true})
	r := Check(context.Background(), p, vmName, "auto", 22)
	f := finding(t, r, "cloud.boot_diagnostics_disabled")
	if f.Severity != findings.Warning || !strings.Contains(f.Remediation, "az vm boot-diagnostics enable -g rg -n web1") || len(w.Blobs) != 0 {
		t.Errorf("%+v blobs %d", f, len(w.Blobs))
	}
	if _, err := p.SerialLog(context.Background(), vmName); !errors.Is(err, ErrBootDiagnosticsDisabled) {
		t.Errorf("SerialLog: %v", err)
	}
}

func TestSerialLog(t *testing.T) {
	p, w := newWorld(t, scenario{})
	got, err := p.SerialLog(context.Background(), vmName)
	if err != nil || string(got) != string(w.Serial) {
		t.Fatalf("%q %v", got, err)
	}
	w.Serial = nil // blob gone: 404
	_, err = p.SerialLog(context.Background(), vmName)
	if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("err %v (must not show the SAS signature)", err)
	}
	r := Check(context.Background(), p, vmName, "auto", 22)
	if f := finding(t, r, "cloud.serial_log_unavailable"); strings.Contains(strings.Join(f.Evidence, ""), "SECRET") {
		t.Errorf("evidence leaks the SAS: %+v", f)
	}
}

func TestCheckNoPublicIP(t *testing.T) {
	p, _ := newWorld(t, scenario{NoPublicIP: true})
	r := Check(context.Background(), p, vmName, "auto", 22)
	if f := finding(t, r, "cloud.no_public_ip"); f.Severity != findings.Warning || r.VM.PublicIP != "" {
		t.Errorf("%+v", f)
	}
}

func TestCheckHealthDegraded(t *testing.T) {
	p, _ := newWorld(t, scenario{Health: armresourcehealth.AvailabilityStateValuesDegraded})
	r := Check(context.Background(), p, vmName, "auto", 22)
	finding(t, r, "cloud.health_degraded")
	p, _ = newWorld(t, scenario{Health: armresourcehealth.AvailabilityStateValuesUnavailable})
	r = Check(context.Background(), p, vmName, "auto", 22)
	if f := finding(t, r, "cloud.health_unavailable"); f.Severity != findings.Error || r.OK {
		t.Errorf("%+v", f)
	}
}

func TestCheckARMErrors(t *testing.T) {
	t.Run("vm 403", func(t *testing.T) {
		p, w := newWorld(t, scenario{})
		w.Compute.VirtualMachinesServer.Get = func(context.Context, string, string, *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
			errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
			return
		}
		r := Check(context.Background(), p, vmName, "auto", 22)
		f := finding(t, r, "cloud.access_denied")
		if len(r.Findings) != 1 || r.OK || r.VM != nil {
			t.Errorf("findings %v", ids(r))
		}
		if !strings.Contains(f.Summary, "Microsoft.Compute/virtualMachines/read") || !strings.Contains(f.Remediation, `--role "Reader" --scope `+rgID) {
			t.Errorf("%+v", f)
		}
		if s := step(t, r, "vm"); s.Status != cloudcheck.StatusFail {
			t.Errorf("step %+v", s)
		}
	})
	t.Run("vm 404", func(t *testing.T) {
		p, _ := newWorld(t, scenario{})
		r := Check(context.Background(), p, "web2", "auto", 22)
		f := finding(t, r, "cloud.not_found")
		if f.Summary != "VM web2 does not exist in resource group rg (subscription "+sub+")" || r.OK {
			t.Errorf("%+v", f)
		}
	})
	t.Run("effective NSG 403", func(t *testing.T) {
		p, w := newWorld(t, scenario{})
		w.Network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = func(context.Context, string, string, *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
			errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
			return
		}
		r := Check(context.Background(), p, vmName, "auto", 22)
		f := finding(t, r, "cloud.access_denied")
		if !strings.Contains(f.Summary, "effectiveNetworkSecurityGroups/action") || !strings.Contains(f.Remediation, `"Network Contributor"`) {
			t.Errorf("%+v", f)
		}
		// The rest of the check still ran.
		if r.VM.PublicIP == "" || r.ReturnRoute == nil {
			t.Errorf("vm %+v route %+v", r.VM, r.ReturnRoute)
		}
	})
	t.Run("effective NSG 400 falls back", func(t *testing.T) {
		p, w := newWorld(t, scenario{})
		w.Network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = func(context.Context, string, string, *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
			errResp.SetResponseError(http.StatusBadRequest, "NetworkInterfaceNotAttachedToRunningVm")
			return
		}
		r := Check(context.Background(), p, vmName, "auto", 22)
		if r.NSGsLive || r.NSGs == nil || !r.Verdict.Allowed || len(r.Problems) != 0 {
			t.Errorf("live %v nsgs %+v problems %+v", r.NSGsLive, r.NSGs, r.Problems)
		}
	})
}

func TestCheckNSGUnevaluable(t *testing.T) {
	p, _ := newWorld(t, scenario{EffNSG: effNSG(`
        {"name": "securityRules/Odd", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-x",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "0.0.0.0/0", "access": "Allow", "priority": 150, "direction": "Inbound"},`, "")})
	r := Check(context.Background(), p, vmName, "auto", 22)
	if s := step(t, r, "nsg"); s.Status != StatusWarn || !strings.Contains(s.Summary, `bad port range "22-x"`) || r.Verdict != nil {
		t.Errorf("step %+v verdict %v", s, r.Verdict)
	}
}

func TestConfiguredNSGSubnetDeny(t *testing.T) {
	p, _ := newWorld(t, scenario{Power: "stopped", SubnetRules: `{"name": "Deny-SSH", "properties": {"protocol": "Tcp", "sourcePortRange": "*",
  "destinationPortRange": "22", "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "access": "Deny", "priority": 150, "direction": "Inbound"}},
 {"name": "Allow-Storage", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
  "sourceAddressPrefix": "Storage", "destinationAddressPrefix": "*", "access": "Allow", "priority": 160, "direction": "Inbound"}}`})
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	finding(t, r, "cloud.vm_stopped")
	f := finding(t, r, "cloud.nsg_denies")
	if r.Verdict.DecidingRule != "securityRules/Deny-SSH" || !strings.Contains(strings.Join(f.Evidence, "\n"), "attached NSGs") {
		t.Errorf("%v %+v", r.Verdict, f)
	}
	// A rule on a service tag only Azure can expand is kept (its
	// priority stays taken) and marked unevaluable; after the deciding
	// rule, it leaves the verdict certain.
	kept := false
	for _, rule := range r.NSGs.Subnet.Rules {
		if rule.Name == "Allow-Storage" {
			kept = strings.Contains(rule.Unevaluable, "Storage")
		}
	}
	if !kept || len(r.Verdict.Uncertain) != 0 {
		t.Errorf("Allow-Storage kept as unevaluable: %v; uncertain %+v", kept, r.Verdict.Uncertain)
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
	if n < 4 {
		t.Fatalf("found only %d findings.New calls; the pattern is broken", n)
	}
}

// The serial log goes through the boot-log analyzer: an fstab entry that
// sent the boot to emergency mode is the check's root cause.
func TestCheckBootLog(t *testing.T) {
	p, w := newWorld(t, scenario{})
	log, err := os.ReadFile(filepath.Join("..", "bootlog", "testdata", "lab-boot-fstab-error.log"))
	if err != nil {
		t.Fatal(err)
	}
	w.Serial = log
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	f := finding(t, r, "boot.fstab")
	if f.Severity != findings.Error || r.OK || r.Boot.RootCause == nil || r.Boot.RootCause.ID != "boot.fstab" {
		t.Fatalf("%+v ok %v", f, r.OK)
	}
	if s := step(t, r, "boot"); s.Status != cloudcheck.StatusFail || !strings.Contains(s.Summary, "emergency") && !strings.Contains(s.Summary, "fstab") {
		t.Errorf("boot step %+v", s)
	}
}

// Defender for Cloud's just-in-time access: no rule is suggested, the
// remediation asks for a JIT request.
func TestCheckJustInTime(t *testing.T) {
	const jit = "SecurityCenter-JITRule_-1105480617_9EF6964FE766478B9EC568B32FB82045"
	p, _ := newWorld(t, scenario{EffNSG: effNSG(allowSSHAnywhere, `
        {"name": "securityRules/`+jit+`", "protocol": "All", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "10.0.0.4/32", "access": "Deny", "priority": 1000, "direction": "Inbound"},
        {"name": "securityRules/Allow-SSH", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "0.0.0.0/0", "access": "Allow", "priority": 1100, "direction": "Inbound"},`)})
	r := Check(context.Background(), p, vmName, "198.51.100.7", 22)
	f := finding(t, r, "cloud.nsg_denies")
	if r.JITRule != jit || len(r.Suggestions) != 0 || !strings.Contains(f.Remediation, "just-in-time") || strings.Contains(f.Remediation, "az network nsg rule create") {
		t.Errorf("jit %q suggestions %+v remediation %q", r.JITRule, r.Suggestions, f.Remediation)
	}
}

// sshdoctor.azure.check/v1 keeps its fields: the target's subscription
// and resource group, each failed call with ARM's answer.
func TestCheckJSON(t *testing.T) {
	p, w := newWorld(t, scenario{})
	w.Network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = func(context.Context, string, string, *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
		return
	}
	b, err := json.Marshal(Check(context.Background(), p, vmName, "198.51.100.7", 22))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Target   map[string]any `json:"target"`
		VM       map[string]any `json:"vm"`
		Boot     map[string]any `json:"boot"`
		Problems []struct {
			Step string         `json:"step"`
			ARM  map[string]any `json:"arm"`
		} `json:"problems"`
		Steps    []any `json:"steps"`
		Findings []any `json:"findings"`
		OK       *bool `json:"ok"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	tg := doc.Target
	if tg["subscription"] != sub || tg["resource_group"] != rg || tg["provider"] != "azure" || tg["vm"] != vmName || tg["source_ip"] != "198.51.100.7" || tg["port"] != 22.0 {
		t.Errorf("target %v", tg)
	}
	if len(doc.Problems) != 1 || doc.Problems[0].Step != "nsg" || doc.Problems[0].ARM["status"] != 403.0 || doc.Problems[0].ARM["action"] == "" {
		t.Errorf("problems %+v", doc.Problems)
	}
	if doc.VM["location"] != "westeurope" || doc.Boot["healthy"] != true || len(doc.Steps) == 0 || len(doc.Findings) == 0 || doc.OK == nil {
		t.Errorf("vm %v boot %v\n%s", doc.VM, doc.Boot, b)
	}
}
