package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/azure/armreplay"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// The real SDK clients against recorded ARM answers: the examples of
// Azure/azure-rest-api-specs (testdata/arm, SOURCES.tsv) and error bodies
// from public threads (testdata/arm/errors), served over HTTPS by
// armreplay. Each test says what it changes in a recording and why.

const (
	rVM      = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Compute/virtualMachines/*"
	rNIC     = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/networkInterfaces/*"
	rPIP     = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/publicIPAddresses/*"
	rNSG     = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/networkSecurityGroups/*"
	rSubnet  = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/virtualNetworks/*/subnets/*"
	rVNet    = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/virtualNetworks/*"
	rLB      = "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/loadBalancers/*"
	rHealth  = rVM + "/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
	rEffNSG  = rNIC + "/effectiveNetworkSecurityGroups"
	rRoutes  = rNIC + "/effectiveRouteTable"
	rBoot    = rVM + "/retrieveBootDiagnosticsData"
	rRun     = rVM + "/runCommand"
	rExt     = rVM + "/extensions/*"
	rBlob    = "/blob/serial.log"
	recSub   = "00000000-0000-0000-0000-000000000000"
	recRG    = "myResourceGroup"
	recVM    = "myVM"
	recFrom  = "198.51.100.7"
	lastBoot = "Ubuntu 24.04 LTS myVM ttyS0\n\nmyVM login: "
)

type recorded struct {
	s *armreplay.Server
	p *Provider
}

// obj and arr walk decoded JSON in Edit callbacks.
func obj(m any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m.(map[string]any)[k]
	}
	return m.(map[string]any)
}

// linuxVM is VirtualMachine_Get (a Windows VM in the spec) as a running
// Linux VM: osType Linux, and the recorded instance view
// (VirtualMachine_Get_InstanceView: PowerState/running, agent Ready) in
// properties.instanceView, as $expand=instanceView returns it.
func linuxVM(t *testing.T, power string) armreplay.Response {
	iv := armreplay.Example(t, "VirtualMachine_Get_InstanceView.json", 200)
	var view map[string]any
	if err := json.Unmarshal(iv.Body, &view); err != nil {
		t.Fatal(err)
	}
	for _, s := range view["statuses"].([]any) {
		st := s.(map[string]any)
		if strings.HasPrefix(st["code"].(string), "PowerState/") {
			st["code"] = "PowerState/" + power
		}
	}
	return armreplay.Example(t, "VirtualMachine_Get.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties", "storageProfile", "osDisk")["osType"] = "Linux"
		obj(b, "properties")["instanceView"] = view
	})
}

// newRecorded serves a running Linux VM whose NIC (NetworkInterfaceGet)
// has a Standard public IP (PublicIpAddressGet, given an address and the
// SKU: the recorded one is Dynamic and unallocated), healthy (the recorded
// health is "Unavailable": changed to Available), with a serial log.
func newRecorded(t *testing.T) *recorded {
	s := armreplay.New(t)
	s.Handle("GET", rVM, linuxVM(t, "running"))
	s.Handle("GET", rNIC, armreplay.Example(t, "NetworkInterfaceGet.json", 200))
	s.Handle("GET", rPIP, armreplay.Example(t, "PublicIpAddressGet.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties")["ipAddress"] = "20.1.2.3"
		b["sku"] = map[string]any{"name": "Standard", "tier": "Regional"}
	}))
	s.Handle("GET", rHealth, armreplay.Example(t, "AvailabilityStatus_GetByResource.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties")["availabilityState"] = "Available"
		obj(b, "properties")["summary"] = "There aren't any known Azure platform problems affecting this virtual machine."
	}))
	s.Handle("POST", rBoot, armreplay.Example(t, "VirtualMachine_RetrieveBootDiagnosticsData.json", 200).Edit(t, func(b map[string]any) {
		b["serialConsoleLogBlobUri"] = s.URL + rBlob + "?sv=2022&sig=SECRET"
	}))
	s.Handle("GET", rBlob, armreplay.Response{Status: 200, Body: []byte(lastBoot)})
	s.Handle("POST", rEffNSG, effNSGs(t).LRO(1))
	s.Handle("POST", rRoutes, armreplay.Example(t, "NetworkInterfaceEffectiveRouteTableList.json", 200).LRO(1))
	p, err := New(recSub, recRG, armreplay.Credential(), s.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	p.PollFrequency = time.Millisecond
	return &recorded{s: s, p: p}
}

// effNSGs is NetworkInterfaceEffectiveNSGList without its association's
// networkManager (an AVNM, whose unlisted admin rules make every verdict
// uncertain: TestRecordedNetworkManagerMakesVerdictUncertain).
func effNSGs(t *testing.T) armreplay.Response {
	return armreplay.Example(t, "NetworkInterfaceEffectiveNSGList.json", 200).Edit(t, func(b map[string]any) {
		for _, e := range b["value"].([]any) {
			delete(obj(e, "association"), "networkManager")
		}
	})
}

// The recording as it is: a network manager applies to the NIC. Its
// security admin rules come first and are not in this answer, so the
// verdict is uncertain, never "denied" or "allowed" outright.
func TestRecordedNetworkManagerMakesVerdictUncertain(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("POST", rEffNSG, armreplay.Example(t, "NetworkInterfaceEffectiveNSGList.json", 200))
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	f := has(r, "cloud.nsg_uncertain")
	if f == nil || r.OK || !strings.Contains(strings.Join(f.Evidence, "\n"), "network manager nm1") {
		t.Fatalf("findings %v ok %v verdict %v", ids(r), r.OK, r.Verdict)
	}
}

func has(r *Report, id string) *findings.Finding {
	for i, f := range r.Findings {
		if f.ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

// The recorded effective NSGs, as the spec has them: the NSG's rules
// allow 6579 and 3389 only, so SSH falls to DenyAllInBound: a verdict,
// decoded by sshdoctor (not by armnetwork).
func TestRecordedCheckRunningVM(t *testing.T) {
	rc := newRecorded(t)
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	if r.VM == nil || r.VM.PowerState != cloud.PowerRunning || r.VM.PublicIP != "20.1.2.3" || r.VM.PrivateIP != "172.20.2.4" || !r.VM.AgentReady {
		t.Fatalf("vm %+v problems %+v", r.VM, r.Problems)
	}
	if r.Verdict == nil || r.Verdict.Allowed || r.Verdict.DecidingRule != "defaultSecurityRules/DenyAllInBound" || !r.NSGsLive {
		t.Fatalf("verdict %v problems %+v", r.Verdict, r.Problems)
	}
	if has(r, "cloud.nsg_denies") == nil || r.OK || r.Boot == nil || r.ReturnRoute == nil || r.ReturnRoute.NextHopType != cloud.NextHopInternet {
		t.Errorf("findings %v ok %v route %+v", ids(r), r.OK, r.ReturnRoute)
	}
	if n := rc.s.Count("GET", "/_op/*"); n < 2 {
		t.Errorf("the effective views were not polled as long-running operations (%d polls)", n)
	}
	// The SAS signature never reaches the report.
	b, _ := json.Marshal(r)
	if bytes.Contains(b, []byte("SECRET")) {
		t.Error("the SAS signature is in the report")
	}
}

// Defect 1: ARM sends tagMap as an object (armnetwork v9 declares a
// string, so the SDK's decoder fails on every running VM: reported in
// mondoohq/mql#7373). The verdict must survive it, and use the tag map.
func TestRecordedEffectiveNSGTagMapObject(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("POST", rEffNSG, effNSGs(t).Edit(t, func(b map[string]any) {
		for _, e := range b["value"].([]any) {
			g := e.(map[string]any)
			g["tagMap"] = map[string]any{"VirtualNetwork": []any{"172.20.0.0/16"}, "Internet": []any{"1.0.0.0/8"}}
			// An SSH rule from the virtual network only.
			g["effectiveSecurityRules"] = append(g["effectiveSecurityRules"].([]any), map[string]any{
				"name": "securityRules/ssh-from-vnet", "access": "Allow", "direction": "Inbound", "priority": 300, "protocol": "Tcp",
				"sourceAddressPrefix": "VirtualNetwork", "sourcePortRange": "0-65535", "destinationAddressPrefix": "0.0.0.0/0", "destinationPortRange": "22-22",
			})
		}
	}).LRO(2))
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	if r.Verdict == nil || len(r.Problems) != 0 {
		t.Fatalf("no verdict: problems %+v", r.Problems)
	}
	if r.Verdict.Allowed || !strings.Contains(strings.Join(r.NSGs.VNetPrefixes, ","), "172.20.0.0/16") {
		t.Errorf("verdict %v vnet %v", r.Verdict, r.NSGs.VNetPrefixes)
	}
	// From inside the VNet (the tag map's prefix) SSH is allowed.
	r = Check(context.Background(), rc.p, recVM, "172.20.9.9", 22)
	if r.Verdict == nil || !r.Verdict.Allowed || r.Verdict.DecidingRule != "securityRules/ssh-from-vnet" {
		t.Errorf("from the VNet: %v %+v", r.Verdict, r.Problems)
	}
}

// Defect 3: a service tag the effective rules do not expand comes before
// the decision: the verdict is uncertain, named, and the check is not OK.
func TestRecordedUncertainRule(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("POST", rEffNSG, effNSGs(t).Edit(t, func(b map[string]any) {
		g := b["value"].([]any)[0].(map[string]any)
		g["effectiveSecurityRules"] = append(g["effectiveSecurityRules"].([]any), map[string]any{
			"name": "securityRules/ssh-from-azurecloud", "access": "Allow", "direction": "Inbound", "priority": 150, "protocol": "Tcp",
			"sourceAddressPrefix": "AzureCloud.WestEurope", "sourcePortRange": "0-65535", "destinationAddressPrefix": "0.0.0.0/0", "destinationPortRange": "22-22",
		})
	}))
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	f := has(r, "cloud.nsg_uncertain")
	if f == nil || r.OK || !strings.Contains(f.Summary, "ssh-from-azurecloud") || len(r.Verdict.Uncertain) != 1 || has(r, "cloud.nsg_denies") != nil {
		t.Fatalf("findings %v ok %v verdict %v", ids(r), r.OK, r.Verdict)
	}
}

// Defect 2: no NSG at all and a Standard public IP: closed, not open.
func TestRecordedStandardIPWithoutNSG(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("POST", rEffNSG, armreplay.JSON(200, `{"value": []}`))
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	if f := has(r, "cloud.standard_ip_closed"); f == nil || r.OK || r.Verdict == nil || r.Verdict.Allowed || !strings.Contains(f.Remediation, "az network nic update") {
		t.Fatalf("findings %v ok %v verdict %v", ids(r), r.OK, r.Verdict)
	}
	// A Basic public IP without an NSG is open.
	rc.s.Handle("GET", rPIP, armreplay.Example(t, "PublicIpAddressGet.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties")["ipAddress"] = "20.1.2.3"
		b["sku"] = map[string]any{"name": "Basic"}
	}))
	if r = Check(context.Background(), rc.p, recVM, recFrom, 22); r.Verdict == nil || !r.Verdict.Allowed || has(r, "cloud.standard_ip_closed") != nil {
		t.Fatalf("basic: findings %v verdict %v", ids(r), r.Verdict)
	}
}

// A stopped VM: Azure computes no effective view, so the attached NSG
// (NetworkSecurityGroupGet), subnet (SubnetGet) and VNet
// (VirtualNetworkGet) are read; a rule on a service tag only Azure
// expands is kept, marked, and its priority is never reused.
func TestRecordedStoppedVMConfiguredNSGs(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("GET", rVM, linuxVM(t, "deallocated"))
	rc.s.Handle("GET", rNSG, armreplay.Example(t, "NetworkSecurityGroupGet.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties")["securityRules"] = []any{
			map[string]any{"name": "deny-ssh-storage", "properties": map[string]any{"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
				"sourceAddressPrefix": "Storage", "destinationAddressPrefix": "*", "access": "Deny", "priority": 100, "direction": "Inbound"}},
			map[string]any{"name": "ipsec", "properties": map[string]any{"protocol": "Esp", "sourcePortRange": "*", "destinationPortRange": "*",
				"sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow", "priority": 110, "direction": "Inbound"}},
		}
	}))
	rc.s.Handle("GET", rSubnet, armreplay.Example(t, "SubnetGet.json", 200))
	rc.s.Handle("GET", rVNet, armreplay.Example(t, "VirtualNetworkGet.json", 200))
	r := EvaluateSSH(context.Background(), rc.p, recVM, recFrom, 22)
	if r.NSGs == nil || r.NSGsLive || r.NSGs.NIC == nil || len(r.NSGs.NIC.Rules) != 2 {
		t.Fatalf("nsgs %+v problems %+v", r.NSGs, r.Problems)
	}
	if r.NSGs.NIC.Rules[0].Unevaluable == "" || r.NSGs.NIC.Rules[1].Protocol != "Esp" {
		t.Errorf("rules %+v", r.NSGs.NIC.Rules)
	}
	if r.Verdict == nil || r.Verdict.Allowed || len(r.Verdict.Uncertain) != 1 {
		t.Errorf("verdict %v", r.Verdict)
	}
	for _, s := range r.Suggestions {
		if s.Rule.Priority == 100 || s.Rule.Priority == 110 {
			t.Errorf("suggested a taken priority: %+v", s.Rule)
		}
	}
	if rc.s.Count("POST", rEffNSG) != 0 {
		t.Error("asked for the effective NSGs of a deallocated VM")
	}
}

// No public IP of its own: the load balancer's inbound NAT rule
// (LoadBalancerGetInboundNatRulePortMapping, its rule pointed at port
// 22) is the way in; and Azure Bastion in the VNet is named.
func TestRecordedNATAndBastion(t *testing.T) {
	rc := newRecorded(t)
	lb := "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/loadBalancers/lb"
	rc.s.Handle("GET", rNIC, armreplay.Example(t, "NetworkInterfaceGet.json", 200).Edit(t, func(b map[string]any) {
		ipc := obj(b["properties"].(map[string]any)["ipConfigurations"].([]any)[0], "properties")
		delete(ipc, "publicIPAddress")
		ipc["loadBalancerInboundNatRules"] = []any{map[string]any{"id": lb + "/inboundNatRules/in-nat-rule"}}
	}))
	rc.s.Handle("GET", rLB, armreplay.Example(t, "LoadBalancerGetInboundNatRulePortMapping.json", 200).Edit(t, func(b map[string]any) {
		rule := obj(b["properties"].(map[string]any)["inboundNatRules"].([]any)[0], "properties")
		rule["frontendPort"], rule["backendPort"] = 50022, 22
	}))
	rc.s.Handle("GET", rVNet, armreplay.Example(t, "VirtualNetworkGet.json", 200).Edit(t, func(b map[string]any) {
		p := obj(b, "properties")
		p["subnets"] = append(p["subnets"].([]any), map[string]any{"name": "AzureBastionSubnet", "properties": map[string]any{
			"addressPrefix":    "10.0.250.0/26",
			"ipConfigurations": []any{map[string]any{"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/bastionHosts/corp-bastion/bastionHostIpConfigurations/bastionHostIpConfiguration"}},
		}})
	}))
	v, err := rc.p.GetVM(context.Background(), recVM)
	if err != nil || v.PublicIPResource != "" || len(v.InboundNAT) != 1 || v.Bastion != "corp-bastion" {
		t.Fatalf("%+v %v", v, err)
	}
	n := v.InboundNAT[0]
	if n.LoadBalancer != "lb" || n.FrontendPort != 50022 || n.BackendPort != 22 || n.FrontendIP != "10.0.1.4" || n.FrontendSKU != "Standard" {
		t.Errorf("nat %+v", n)
	}
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	for _, s := range r.Steps {
		if s.Name == "network" && (s.Status != StatusOK || !strings.Contains(s.Summary, "50022")) {
			t.Errorf("network step %+v", s)
		}
	}
	if has(r, "cloud.no_public_ip") != nil {
		t.Errorf("no_public_ip although the NAT rule forwards port 22: %v", ids(r))
	}
	// Port 2222 has no NAT rule: no way in but Bastion, which is named.
	r = Check(context.Background(), rc.p, recVM, recFrom, 2222)
	if f := has(r, "cloud.no_public_ip"); f == nil || !strings.Contains(f.Remediation, "az network bastion ssh --name corp-bastion") {
		t.Errorf("findings %v", ids(r))
	}
}

// Errors as ARM sends them.
func TestRecordedErrors(t *testing.T) {
	t.Run("403 on the effective NSGs", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("POST", rEffNSG, armreplay.ErrorResponse(t, "authorization_failed_403.json"))
		r := Check(context.Background(), rc.p, recVM, recFrom, 22)
		f := has(r, "cloud.access_denied")
		if f == nil || r.OK || !strings.Contains(f.Summary, "effectiveNetworkSecurityGroups/action") {
			t.Fatalf("findings %v ok %v", ids(r), r.OK)
		}
	})
	t.Run("404 VM", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("GET", rVM, armreplay.ErrorResponse(t, "resource_not_found_404.json"))
		r := Check(context.Background(), rc.p, recVM, recFrom, 22)
		if has(r, "cloud.not_found") == nil || r.OK {
			t.Fatalf("findings %v", ids(r))
		}
	})
	t.Run("404 resource group", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("GET", rVM, armreplay.ErrorResponse(t, "resource_group_not_found_404.json"))
		r := Check(context.Background(), rc.p, recVM, recFrom, 22)
		if f := has(r, "cloud.not_found"); f == nil || !strings.Contains(f.Summary, "Resource group") {
			t.Fatalf("findings %+v", r.Findings)
		}
	})
	t.Run("401 wrong tenant", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("GET", rVM, armreplay.ErrorResponse(t, "invalid_authentication_token_tenant_401.json"))
		_, err := rc.p.GetVM(context.Background(), recVM)
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "InvalidAuthenticationTokenTenant" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("429 with Retry-After is retried", func(t *testing.T) {
		rc := newRecorded(t)
		throttled := armreplay.ErrorResponse(t, "too_many_requests_429.json")
		throttled.Header.Set("Retry-After", "1")
		rc.s.Handle("GET", rVM, throttled, linuxVM(t, "running"))
		start := time.Now()
		v, err := rc.p.GetVM(context.Background(), recVM)
		if err != nil || v.PowerState != cloud.PowerRunning || rc.s.Count("GET", rVM) != 2 {
			t.Fatalf("%v %v, %d requests", v, err, rc.s.Count("GET", rVM))
		}
		if time.Since(start) < 900*time.Millisecond {
			t.Errorf("Retry-After: 1 not honoured (%v)", time.Since(start))
		}
	})
	t.Run("409 run-command busy", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("POST", rRun, armreplay.ErrorResponse(t, "runcommand_conflict_409.json"))
		_, err := rc.p.RunCommand(context.Background(), recVM, "true", time.Minute)
		if !errors.Is(err, cloud.ErrBusy) || !strings.Contains(err.Error(), "keeps running") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("409 operation not allowed", func(t *testing.T) {
		rc := newRecorded(t)
		rc.s.Handle("POST", rVM+"/restart", armreplay.ErrorResponse(t, "operation_not_allowed_409.json"))
		err := rc.p.Restart(context.Background(), recVM)
		if !errors.Is(err, cloud.ErrNotRunning) {
			t.Fatalf("%v", err)
		}
	})
}

// Start, restart, redeploy and deallocate: 202, polled to completion.
func TestRecordedLongRunningActions(t *testing.T) {
	rc := newRecorded(t)
	for _, c := range []struct {
		action, example string
		do              func(context.Context, string) error
	}{
		{"start", "VirtualMachine_Start_MaximumSet_Gen.json", rc.p.Start},
		{"restart", "VirtualMachine_Restart_MaximumSet_Gen.json", rc.p.Restart},
		{"redeploy", "VirtualMachine_Redeploy_MaximumSet_Gen.json", rc.p.Redeploy},
		{"deallocate", "VirtualMachine_Deallocate_MaximumSet_Gen.json", rc.p.Stop},
	} {
		before := rc.s.Count("GET", "/_op/*")
		rc.s.Handle("POST", rVM+"/"+c.action, armreplay.Example(t, c.example, 200).LRO(3))
		if err := c.do(context.Background(), recVM); err != nil {
			t.Errorf("%s: %v", c.action, err)
		}
		if n := rc.s.Count("GET", "/_op/*") - before; n < 3 {
			t.Errorf("%s: polled %d times", c.action, n)
		}
	}
	// A failed operation is an error.
	rc.s.Handle("POST", rVM+"/start", armreplay.JSON(500, `{"error": {"code": "AllocationFailed", "message": "Allocation failed. We do not have sufficient capacity for the requested VM size in this region."}}`).LRO(1))
	if err := rc.p.Start(context.Background(), recVM); err == nil || !strings.Contains(err.Error(), "AllocationFailed") {
		t.Errorf("failed start: %v", err)
	}
}

// Run-command on Linux: Azure reports ProvisioningState/succeeded with
// the streams in one message (errors/runcommand_linux_enable_succeeded),
// whatever the script did; the script's own status decides.
func TestRecordedRunCommand(t *testing.T) {
	rc := newRecorded(t)
	rec := armreplay.ErrorResponse(t, "runcommand_linux_enable_succeeded.json")
	withExit := func(code string) armreplay.Response {
		return rec.Edit(t, func(b map[string]any) {
			st := b["value"].([]any)[0].(map[string]any)
			st["message"] = strings.Replace(st["message"].(string), "\n\n[stderr]\n", "\n"+exitMarker+code+"\n\n[stderr]\ncannot read x\n", 1)
		}).LRO(2)
	}
	rc.s.Handle("POST", rRun, withExit("3"))
	res, err := rc.p.RunCommand(context.Background(), recVM, "cat x", time.Minute)
	if err != nil || res.ExitCode != 3 || !strings.Contains(res.Stdout, "This is a sample script") || res.Stderr != "cannot read x\n" {
		t.Fatalf("%+v %v", res, err)
	}
	var in struct {
		CommandID string   `json:"commandId"`
		Script    []string `json:"script"`
	}
	reqs := rc.s.Requests()
	for _, r := range reqs {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/runCommand") {
			_ = json.Unmarshal(r.Body, &in)
		}
	}
	if in.CommandID != "RunShellScript" || !strings.Contains(strings.Join(in.Script, "\n"), exitMarker) {
		t.Errorf("sent %+v", in)
	}
	// As recorded (no status of the script's own): not taken as success.
	rc.s.Handle("POST", rRun, rec.LRO(1))
	if res, err = rc.p.RunCommand(context.Background(), recVM, "true", time.Minute); err != nil || res.ExitCode == 0 {
		t.Fatalf("no exit status taken as success: %+v %v", res, err)
	}
	// The spec's example VM is Windows: refused before anything runs.
	rc.s.Handle("GET", rVM, armreplay.Example(t, "VirtualMachine_Get.json", 200).Edit(t, func(b map[string]any) {
		iv := armreplay.Example(t, "VirtualMachine_Get_InstanceView.json", 200)
		var view map[string]any
		_ = json.Unmarshal(iv.Body, &view)
		obj(b, "properties")["instanceView"] = view
	}))
	before := rc.s.Count("POST", rRun)
	if _, err := rc.p.RunCommand(context.Background(), recVM, "true", time.Minute); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "Windows") || rc.s.Count("POST", rRun) != before {
		t.Errorf("windows: %v", err)
	}
}

// VMAccess: the PUT (VirtualMachineExtension_CreateOrUpdate) carries a
// new forceUpdateTag each time, and the extension's instance view
// (VirtualMachineExtension_Get) decides success.
func TestRecordedVMAccess(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("PUT", rExt, armreplay.Example(t, "VirtualMachineExtension_CreateOrUpdate_MaximumSet_Gen.json", 200).LRO(1))
	ok := armreplay.Example(t, "VirtualMachineExtension_Get_MaximumSet_Gen.json", 200).Edit(t, func(b map[string]any) {
		obj(b, "properties")["instanceView"] = map[string]any{"name": "enablevmaccess", "statuses": []any{map[string]any{
			"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "message": "Enable succeeded."}}}
	})
	rc.s.Handle("GET", rExt, ok)
	if err := rc.p.ResetSSH(context.Background(), recVM); err != nil {
		t.Fatal(err)
	}
	if err := rc.p.ResetSSH(context.Background(), recVM); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, r := range rc.s.Requests() {
		if r.Method == "PUT" {
			var ext struct {
				Properties struct {
					ForceUpdateTag string `json:"forceUpdateTag"`
				} `json:"properties"`
			}
			_ = json.Unmarshal(r.Body, &ext)
			tags = append(tags, ext.Properties.ForceUpdateTag)
		}
	}
	if len(tags) != 2 || tags[0] == "" || tags[0] == tags[1] {
		t.Errorf("forceUpdateTag %q: a repeated reset would not run", tags)
	}
	// The handler failed: its message is the error.
	rc.s.Handle("GET", rExt, ok.Edit(t, func(b map[string]any) {
		obj(b, "properties")["instanceView"] = map[string]any{"name": "enablevmaccess", "statuses": []any{map[string]any{
			"code": "ProvisioningState/failed/0", "level": "Error", "displayStatus": "Provisioning failed",
			"message": "Enable failed: Failed to reset sshd_config: [Errno 2] No such file or directory"}}}
	}))
	if err := rc.p.ResetSSH(context.Background(), recVM); !errors.Is(err, ErrExtensionFailed) || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("failed extension: %v", err)
	}
	// A key VMAccess cannot install is refused before any call.
	before := len(rc.s.Requests())
	if err := rc.p.ResetUser(context.Background(), recVM, "alice", "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= a@b"); err == nil || len(rc.s.Requests()) != before {
		t.Errorf("ecdsa key: %v, %d calls", err, len(rc.s.Requests())-before)
	}
}

// Network Watcher's answers (NetworkWatcherList, NetworkWatcherIpFlowVerify,
// NetworkWatcherNextHopGet) compared with sshdoctor's.
func TestRecordedNetworkWatcher(t *testing.T) {
	rc := newRecorded(t)
	rc.s.Handle("GET", "/subscriptions/*/providers/Microsoft.Network/networkWatchers", armreplay.Example(t, "NetworkWatcherList.json", 200).Edit(t, func(b map[string]any) {
		for _, w := range b["value"].([]any) {
			w.(map[string]any)["location"] = "westus"
		}
	}))
	rc.s.Handle("POST", "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/networkWatchers/*/ipFlowVerify", armreplay.Example(t, "NetworkWatcherIpFlowVerify.json", 200).LRO(1))
	rc.s.Handle("POST", "/subscriptions/*/resourceGroups/*/providers/Microsoft.Network/networkWatchers/*/nextHop", armreplay.Example(t, "NetworkWatcherNextHopGet.json", 200).LRO(1))
	r := Check(context.Background(), rc.p, recVM, recFrom, 22)
	rc.p.CrossCheckNetworkWatcher(context.Background(), r)
	if r.Watcher == nil || r.Watcher.Access == "" || r.Watcher.NextHopType == "" {
		t.Fatalf("watcher %+v steps %+v", r.Watcher, r.Steps)
	}
	// The recorded IP flow verify allows (Rule1); sshdoctor's evaluation
	// of the recorded rules denies: the disagreement is reported.
	if r.Watcher.Access != "Allow" || r.Watcher.Rule != "Rule1" || r.Verdict == nil || r.Verdict.Allowed {
		t.Fatalf("watcher %+v verdict %v", r.Watcher, r.Verdict)
	}
	if has(r, "cloud.watcher_disagrees") == nil || r.Watcher.Agrees {
		t.Errorf("no disagreement reported: %+v", r.Watcher)
	}
}

// Defect 9: the serial log keeps its last 16 MiB, where the last boot is.
func TestRecordedSerialLogTail(t *testing.T) {
	rc := newRecorded(t)
	big := bytes.Repeat([]byte("[    1.000000] early boot noise\n"), (maxSerialLog/32)+4096)
	rc.s.Handle("GET", rBlob, armreplay.Response{Status: 200, Body: append(big, []byte(lastBoot)...)})
	data, err := rc.p.SerialLog(context.Background(), recVM)
	if err != nil || len(data) != maxSerialLog || !bytes.HasSuffix(data, []byte(lastBoot)) {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
}

// Every recording the tests use is listed with its source.
func TestRecordingsHaveSources(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(armreplay.Dir(), "SOURCES.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(armreplay.Dir(), "*.json"))
	if len(files) < 20 {
		t.Fatalf("only %d recordings", len(files))
	}
	for _, f := range files {
		if !bytes.Contains(src, []byte(filepath.Base(f)+"\t")) {
			t.Errorf("%s is not in SOURCES.tsv", filepath.Base(f))
		}
	}
	errs, _ := filepath.Glob(filepath.Join(armreplay.Dir(), "errors", "*.json"))
	for _, f := range errs {
		b, _ := os.ReadFile(f)
		var e struct {
			Source string `json:"source"`
		}
		if json.Unmarshal(b, &e) != nil || e.Source == "" {
			t.Errorf("%s names no source", filepath.Base(f))
		}
	}
}

// A long-running operation reports how long it has run.
func TestRecordedLROProgress(t *testing.T) {
	rc := newRecorded(t)
	var msgs []string
	rc.p.Progress = func(m string) { msgs = append(msgs, m) }
	rc.p.PollFrequency = 20 * time.Millisecond
	rc.s.Handle("POST", rVM+"/start", armreplay.Example(t, "VirtualMachine_Start_MaximumSet_Gen.json", 200).LRO(4))
	old := progressEvery
	defer func() { progressEveryTest = 0 }()
	progressEveryTest = 30 * time.Millisecond
	if err := rc.p.Start(context.Background(), recVM); err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || !strings.Contains(msgs[0], "still working") {
		t.Errorf("progress %q (every %v)", msgs, old)
	}
}
