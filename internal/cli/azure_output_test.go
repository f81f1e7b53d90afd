package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// actionJSON is the part of sshdoctor.azure.VERB/v1 the tests read.
type actionJSON struct {
	Schema        string           `json:"schema"`
	ExitCode      int              `json:"exit_code"`
	ResourceGroup string           `json:"resource_group"`
	VM            string           `json:"vm"`
	Action        string           `json:"action"`
	Done          string           `json:"done"`
	Error         string           `json:"error"`
	Username      string           `json:"username"`
	PasswordSet   bool             `json:"password_set"`
	KeyAdded      bool             `json:"key_added"`
	Method        string           `json:"method"`
	Guest         *guestRepairJSON `json:"guest"`
	AllowSSH      *allowSSHJSON    `json:"allow_ssh"`
	Recheck       *recheck         `json:"recheck"`
}

// oneDoc decodes stdout as exactly one JSON document.
func oneDoc(t *testing.T, r checkResult) actionJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var d actionJSON
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("stdout is not a JSON document (%v):\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one document on stdout:\n%s", r.stdout)
	}
	if d.ExitCode != r.code {
		t.Errorf("exit_code %d, exit status %d", d.ExitCode, r.code)
	}
	if d.ResourceGroup != azurefake.RG || d.VM != azurefake.VMName {
		t.Errorf("resource_group %q vm %q", d.ResourceGroup, d.VM)
	}
	return d
}

func okPoller[T any](resp *azfake.PollerResponder[T]) {
	var zero T
	resp.SetTerminalResponse(http.StatusOK, zero, nil)
}

func TestAzureActionsJSON(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	host, port, _ := net.SplitHostPort(srv.Addr)
	w := azurefake.NewWorld(t, azurefake.Scenario{PublicIP: host, Power: "deallocated"})
	w.Compute.VirtualMachinesServer.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
		okPoller(&resp)
		return
	}
	w.Compute.VirtualMachinesServer.BeginRedeploy = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRedeployOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRedeployResponse], errResp azfake.ErrorResponder) {
		okPoller(&resp)
		return
	}
	r, _ := azureRun(t, w, "", append(azureArgs("start"), "--yes", "--port", port, "--output", "json")...)
	d := oneDoc(t, r)
	if r.code != ExitOK || d.Schema != "sshdoctor.azure.start/v1" || d.Action != "start" || d.Done != "started" {
		t.Fatalf("start: exit %d %+v\n%s", r.code, d, r.stderr)
	}
	if rc := d.Recheck; rc == nil || rc.Outcome != "answered" || !rc.Answered || rc.Address != srv.Addr || !strings.HasPrefix(rc.Banner, "SSH-2.0-OpenSSH") || !strings.Contains(rc.Next, "sshdoctor check USER@"+host) {
		t.Fatalf("start recheck %+v", d.Recheck)
	}
	if !strings.Contains(r.stderr, "start rg/web1 …") {
		t.Errorf("progress is not on stderr: %q", r.stderr)
	}
	r, _ = azureRun(t, w, "", append(azureArgs("redeploy"), "--yes", "--no-recheck", "--output", "json")...)
	if d = oneDoc(t, r); r.code != ExitOK || d.Schema != "sshdoctor.azure.redeploy/v1" || d.Done != "redeployed" || d.Recheck != nil {
		t.Fatalf("redeploy: exit %d %+v", r.code, d)
	}
	// Without --yes, json never asks: exit 2, nothing signed in or done.
	for _, verb := range [][]string{{"start"}, {"restart"}, {"reset-ssh"}, {"nsg", "allow-ssh", "--source-ip", "1.2.3.4"}, {"reset-user", "--username", "alice", "--ssh-key", testPubKey}} {
		r, built := azureRun(t, nil, "y\n", append(azureArgs(verb...), "--output", "json")...)
		if r.code != ExitUsage || built != 0 || r.stdout != "" || !strings.Contains(r.stderr, "--output json needs --yes") {
			t.Errorf("%v --output json without --yes: exit %d, built %d\n%s%s", verb, r.code, built, r.stdout, r.stderr)
		}
	}
	if r, built := azureRun(t, nil, "", append(azureArgs("start"), "--yes", "--output", "yaml")...); r.code != ExitUsage || built != 0 {
		t.Errorf("--output yaml: exit %d, built %d", r.code, built)
	}
	// Azure refuses: exit 1 and a document that says why.
	w.Compute.VirtualMachinesServer.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
		return
	}
	r, _ = azureRun(t, w, "", append(azureArgs("start"), "--yes", "--no-recheck", "--output", "json")...)
	if d = oneDoc(t, r); r.code != ExitProblem || d.Done != "" || !strings.Contains(d.Error, "AuthorizationFailed") || !strings.Contains(r.stderr, "AuthorizationFailed") {
		t.Fatalf("refused start: exit %d %+v\n%s", r.code, d, r.stderr)
	}
}

// The re-check's text is unchanged by its refactoring into a result.
func TestRecheckText(t *testing.T) {
	for _, c := range []struct {
		r    recheck
		want string
	}{
		{recheck{Outcome: "skipped", Error: "boom", Next: "sshdoctor azure check -g rg -n vm"}, "Re-check skipped: boom\nNext: sshdoctor azure check -g rg -n vm\n"},
		{recheck{Outcome: "no_public_ip", PrivateIP: "10.0.0.4", Next: "sshdoctor check USER@10.0.0.4", vm: "vm"}, "Re-check: vm has no public IP; from inside its network: sshdoctor check USER@10.0.0.4\n"},
		{recheck{Outcome: "no_answer", Address: "192.0.2.1:22", Error: "refused", Next: "x", wait: 1e9}, "Re-check: no SSH answer on 192.0.2.1:22 within 1s (refused).\nNext: x\n"},
		{recheck{Outcome: "interrupted"}, ""},
	} {
		var b bytes.Buffer
		c.r.printText(&b)
		if b.String() != c.want {
			t.Errorf("%s: %q, want %q", c.r.Outcome, b.String(), c.want)
		}
	}
}

const testPubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN6WjfKQ5dv6XV/VV/GMcAnkmb70qh1ThlOom1Sko4ai t@x"

func TestAzureResetJSON(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{})
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{VirtualMachineExtension: ext}, nil)
		return
	}
	r, _ := azureRun(t, w, "", append(azureArgs("reset-user"), "--username", "alice", "--ssh-key", testPubKey, "--yes", "--no-recheck", "--output", "json")...)
	d := oneDoc(t, r)
	if r.code != ExitOK || d.Schema != "sshdoctor.azure.reset-user/v1" || d.Username != "alice" || !d.KeyAdded || d.PasswordSet || d.Done == "" {
		t.Fatalf("reset-user: exit %d %+v\n%s", r.code, d, r.stderr)
	}
	r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--vmaccess", "--yes", "--no-recheck", "--output", "json")...)
	if d = oneDoc(t, r); r.code != ExitOK || d.Schema != "sshdoctor.azure.reset-ssh/v1" || d.Method != "vmaccess-reset" || !strings.Contains(d.Done, "--restore-backup") {
		t.Fatalf("reset-ssh --vmaccess: exit %d %+v\n%s", r.code, d, r.stderr)
	}
	if !strings.Contains(r.stderr, azure.VMAccessResetNote) {
		t.Errorf("the VMAccess note is not on stderr: %q", r.stderr)
	}
	r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--restore-backup", "--yes", "--no-recheck", "--output", "json")...)
	if d = oneDoc(t, r); r.code != ExitOK || d.Method != "vmaccess-restore" || d.Done == "" {
		t.Fatalf("reset-ssh --restore-backup: exit %d %+v", r.code, d)
	}
	// The extension failed: today an internal error (exit 3), which
	// prints no document.
	w.ExtensionFailure = "Failed to reset sshd_config"
	r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--vmaccess", "--yes", "--no-recheck", "--output", "json")...)
	if r.code != ExitInternal || r.stdout != "" || !strings.Contains(r.stderr, "Failed to reset") {
		t.Fatalf("extension failure: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestAzureAllowSSHJSON(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{EffNSG: azurefake.SubnetDenyEffNSG})
	w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, rule armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{SecurityRule: rule}, nil)
		return
	}
	r, _ := azureRun(t, w, "", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "1.2.3.4", "--yes", "--no-recheck", "--output", "json")...)
	d := oneDoc(t, r)
	a := d.AllowSSH
	if r.code != ExitOK || d.Schema != "sshdoctor.azure.nsg.allow-ssh/v1" || d.Action != "allow-ssh" || a == nil {
		t.Fatalf("exit %d %+v\n%s", r.code, d, r.stderr)
	}
	if a.Before == nil || a.Before.Allowed || !a.Applied || len(a.Rules) == 0 || a.SourceIP != "1.2.3.4" || a.Port != 22 {
		t.Fatalf("allow_ssh %+v", a)
	}
	ru := a.Rules[0]
	if ru.Level != "subnet" || ru.Rule.Access != "Allow" || strings.Join(ru.Rule.SourceAddressPrefixes, ",") != "1.2.3.4/32" || !strings.Contains(ru.AzCommand, "az network nsg rule create") {
		t.Fatalf("rule %+v", ru)
	}
	if len(w.Bodies) == 0 {
		t.Fatal("no rule was written")
	}
}

func TestAzureAllowSSHJITJSON(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{EffNSG: azurefake.EffNSG("", `
        {"name": "securityRules/SecurityCenter-JITRule_-1656453209_F1A8E4C1B2D34E5F8A9B0C1D2E3F4A5B", "protocol": "*", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "10.0.0.4/32", "access": "Deny", "priority": 1000, "direction": "Inbound"},`)})
	r, _ := azureRun(t, w, "", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "198.51.100.7", "--yes", "--no-recheck", "--output", "json")...)
	d := oneDoc(t, r)
	if r.code != ExitProblem || d.AllowSSH == nil || !strings.HasPrefix(d.AllowSSH.JITRule, "SecurityCenter-JITRule") || !strings.Contains(d.AllowSSH.JITCommand, "jitNetworkAccessPolicies/default/initiate") || d.AllowSSH.Applied || d.Done != "" {
		t.Fatalf("exit %d %+v", r.code, d)
	}
}
