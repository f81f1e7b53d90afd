package azure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// lro answers a long-running operation with two non-terminal responses
// before the terminal one, and counts how often it was started.
func lro[T any](calls *int, result T) func() (azfake.PollerResponder[T], azfake.ErrorResponder) {
	return func() (resp azfake.PollerResponder[T], errResp azfake.ErrorResponder) {
		*calls++
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, result, nil)
		return
	}
}

func TestVMActionsPollToCompletion(t *testing.T) {
	p, w := newWorld(t, scenario{})
	vms := &w.Compute.VirtualMachinesServer
	var start, stop, restart, redeploy int
	startF := lro(&start, armcompute.VirtualMachinesClientStartResponse{})
	vms.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], azfake.ErrorResponder) {
		return startF()
	}
	stopF := lro(&stop, armcompute.VirtualMachinesClientDeallocateResponse{})
	vms.BeginDeallocate = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginDeallocateOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientDeallocateResponse], azfake.ErrorResponder) {
		return stopF()
	}
	restartF := lro(&restart, armcompute.VirtualMachinesClientRestartResponse{})
	vms.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], azfake.ErrorResponder) {
		return restartF()
	}
	redeployF := lro(&redeploy, armcompute.VirtualMachinesClientRedeployResponse{})
	vms.BeginRedeploy = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRedeployOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientRedeployResponse], azfake.ErrorResponder) {
		return redeployF()
	}
	ctx := context.Background()
	for name, f := range map[string]func(context.Context, string) error{"start": p.Start, "stop": p.Stop, "restart": p.Restart, "redeploy": p.Redeploy} {
		if err := f(ctx, vmName); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if start != 1 || stop != 1 || restart != 1 || redeploy != 1 {
		t.Errorf("calls: start %d stop %d restart %d redeploy %d", start, stop, restart, redeploy)
	}
	// Each was polled through both non-terminal responses: the request,
	// then two polls.
	for _, op := range []string{"start", "deallocate", "restart", "redeploy"} {
		if n := w.Hits[vmID+"/"+op]; n != 3 {
			t.Errorf("%s: %d requests, want 3", op, n)
		}
	}

	// A failed operation is an *Error naming the permission.
	vms.BeginRedeploy = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRedeployOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRedeployResponse], errResp azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
		return
	}
	var ae *Error
	if err := p.Redeploy(ctx, vmName); !errors.As(err, &ae) || !ae.Forbidden() || ae.Action != actRedeploy || ae.Resource != vmID {
		t.Errorf("%v %+v", err, ae)
	}
	// A terminal failure after polling too.
	vms.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalError(http.StatusConflict, "OperationNotAllowed")
		return
	}
	if err := p.Restart(ctx, vmName); !errors.As(err, &ae) || ae.Code != "OperationNotAllowed" || ae.Op != "restart VM web1" {
		t.Errorf("%v %+v", err, ae)
	}
}

func TestRunCommand(t *testing.T) {
	p, w := newWorld(t, scenario{})
	var got armcompute.RunCommandInput
	msg := "Enable succeeded: \n[stdout]\nsshd is running\nPort 22\n" + exitMarker + "0\n\n[stderr]\nwarning: x\n"
	w.Compute.VirtualMachinesServer.BeginRunCommand = func(_ context.Context, _, _ string, in armcompute.RunCommandInput, _ *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		got = in
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: ptr("ProvisioningState/succeeded"), Level: ptr(armcompute.StatusLevelTypesInfo), DisplayStatus: ptr("Provisioning succeeded"), Message: &msg}},
		}}, nil)
		return
	}
	res, err := p.RunCommand(context.Background(), vmName, "pgrep -a sshd\ngrep ^Port /etc/ssh/sshd_config", 0)
	if err != nil {
		t.Fatal(err)
	}
	if *got.CommandID != "RunShellScript" || len(got.Script) != 6 || *got.Script[2] != "grep ^Port /etc/ssh/sshd_config" || *got.Script[4] != `echo "`+exitMarker+`$?"` {
		t.Errorf("input %+v", got)
	}
	if res.ExitCode != 0 || res.Stdout != "sshd is running\nPort 22\n" || res.Stderr != "warning: x\n" {
		t.Errorf("%+v", res)
	}
}

func TestParseRunOutput(t *testing.T) {
	cases := []struct {
		msg            string
		failed         bool
		code           int
		stdout, stderr string
	}{
		{"Enable succeeded: \n[stdout]\n" + exitMarker + "0\n\n[stderr]\n", false, 0, "", ""},
		{"Enable succeeded: \n[stdout]\nhello\n" + exitMarker + "0\n\n[stderr]\n", false, 0, "hello\n", ""},
		// Azure's Linux handler says "succeeded" whatever the script did:
		// the script's own status decides.
		{"Enable succeeded: \n[stdout]\nhello\n" + exitMarker + "3\n\n[stderr]\noops\n", false, 3, "hello\n", "oops\n"},
		// No status: the script did not finish.
		{"Enable succeeded: \n[stdout]\nhal\n\n[stderr]\n", false, -1, "hal\n", "\nsshdoctor: the script reported no exit status: it did not finish, or its output was cut"},
		// The marker only counts at the start of a line.
		{"Enable succeeded: \n[stdout]\nx" + exitMarker + "0\n\n[stderr]\n", false, -1, "x" + exitMarker + "0\n", "\nsshdoctor: the script reported no exit status: it did not finish, or its output was cut"},
		{"Enable failed: failed to execute command: command terminated with exit status=127\n[stdout]\n\n[stderr]\n/bin/sh: 1: foo: not found\n", false, 127, "", "/bin/sh: 1: foo: not found\n"},
		{"Enable failed: \n[stdout]\npartial\n\n[stderr]\n", true, 1, "partial\n", ""},
	}
	for _, c := range cases {
		r := parseRunOutput(c.msg, c.failed)
		if r.ExitCode != c.code || r.Stdout != c.stdout || r.Stderr != c.stderr {
			t.Errorf("%q: %+v", c.msg, r)
		}
	}
}

// extensionPUT returns the wire body of the last VMAccess PUT.
func extensionPUT(t *testing.T, w *azurefake.World, instance string) map[string]any {
	t.Helper()
	body := w.Bodies[vmID+"/extensions/"+instance]
	if body == nil {
		t.Fatalf("no PUT to extension %s; saw %v", instance, keys(w.Bodies))
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestVMAccessPayloads(t *testing.T) {
	p, w := newWorld(t, scenario{})
	var calls []armcompute.VirtualMachineExtension
	var names []string
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, group, vm, name string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		if group != rg || vm != vmName {
			t.Errorf("extension on %s/%s", group, vm)
		}
		calls, names = append(calls, ext), append(names, name)
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{}, nil)
		return
	}
	ctx := context.Background()
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv3N6c2ncR8eF0ly2zY1s9X8bC3bF6Yk0h6nA3v2mQx alice@laptop"
	if err := p.ResetUserPassword(ctx, vmName, "alice", "S3cret!pass", ""); err != nil {
		t.Fatal(err)
	}
	if err := p.ResetUser(ctx, vmName, "bob", key+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := p.ResetSSH(ctx, vmName); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("calls %d", len(calls))
	}
	for i, c := range calls {
		pr := c.Properties
		if names[i] != "enablevmaccess" || *c.Location != "westeurope" || *pr.Publisher != "Microsoft.OSTCExtensions" || *pr.Type != "VMAccessForLinux" ||
			*pr.TypeHandlerVersion != "1.5" || !*pr.AutoUpgradeMinorVersion {
			t.Errorf("call %d: %s %+v", i, names[i], pr)
		}
		// Public settings: present and empty — never a secret.
		if s, ok := pr.Settings.(map[string]any); !ok || len(s) != 0 {
			t.Errorf("call %d: public settings %#v", i, pr.Settings)
		}
	}
	want := []map[string]any{
		{"username": "alice", "password": "S3cret!pass"},
		{"username": "bob", "ssh_key": key},
		{"reset_ssh": true},
	}
	for i, c := range calls {
		got, _ := c.Properties.ProtectedSettings.(map[string]any)
		if len(got) != len(want[i]) {
			t.Errorf("call %d: protected settings %#v, want %#v", i, got, want[i])
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("call %d: protected %s = %#v, want %#v", i, k, got[k], v)
			}
		}
	}
	// The contract holds both ways: what azure reset-user/reset-ssh send
	// is exactly what `sshdoctor guest apply` accepts and carries out.
	for i, c := range calls {
		pub, _ := json.Marshal(c.Properties.Settings)
		prot, _ := json.Marshal(c.Properties.ProtectedSettings)
		v, err := guest.ParseVMAccess(pub, prot)
		if err != nil {
			t.Errorf("call %d: guest apply would refuse %s + %s: %v", i, pub, prot, err)
			continue
		}
		if u, ok := want[i]["username"]; ok && (v.Username == nil || *v.Username != u) {
			t.Errorf("call %d: guest apply reads username %v", i, v.Username)
		}
		if _, ok := want[i]["reset_ssh"]; ok && (v.ResetSSH == nil || !*v.ResetSSH) {
			t.Errorf("call %d: guest apply does not read reset_ssh", i)
		}
	}
	// On the wire: the password appears only under protectedSettings.
	doc := extensionPUT(t, w, "enablevmaccess")
	props := doc["properties"].(map[string]any)
	if _, ok := props["settings"].(map[string]any); !ok {
		t.Errorf("settings missing on the wire: %v", props)
	}
	if err := p.ResetUserPassword(ctx, vmName, "alice", "S3cret!pass", ""); err != nil {
		t.Fatal(err)
	}
	raw := string(w.Bodies[vmID+"/extensions/enablevmaccess"])
	if strings.Count(raw, "S3cret!pass") != 1 {
		t.Errorf("password not exactly once: %s", raw)
	}
	doc = extensionPUT(t, w, "enablevmaccess")
	props = doc["properties"].(map[string]any)
	settings, _ := json.Marshal(props["settings"])
	protected, _ := json.Marshal(props["protectedSettings"])
	if string(settings) != "{}" || !strings.Contains(string(protected), "S3cret!pass") {
		t.Errorf("settings %s protected %s", settings, protected)
	}

	if err := p.ResetUserPassword(ctx, vmName, "carol", "", ""); err == nil {
		t.Error("ResetUserPassword with neither password nor key")
	}
	if err := p.ResetUser(ctx, vmName, "carol", " "); err == nil {
		t.Error("ResetUser without a key")
	}
}

func TestVMAccessReusesInstance(t *testing.T) {
	p, w := newWorld(t, scenario{})
	vm := must[armcompute.VirtualMachine](t, vmJSON(scenario{}))
	vm.Resources = []*armcompute.VirtualMachineExtension{{Name: ptr("VMAccessForLinux"), Properties: &armcompute.VirtualMachineExtensionProperties{
		Publisher: ptr(VMAccessPublisher), Type: ptr(VMAccessType)}}}
	w.Compute.VirtualMachinesServer.Get = func(context.Context, string, string, *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: vm}, nil)
		return
	}
	var name string
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, n string, _ armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		name = n
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{}, nil)
		return
	}
	if err := p.ResetSSH(context.Background(), vmName); err != nil || name != "VMAccessForLinux" {
		t.Errorf("%v, instance %q", err, name)
	}
}

func TestNSGRules(t *testing.T) {
	p, w := newWorld(t, scenario{})
	var got armnetwork.SecurityRule
	var where []string
	w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(_ context.Context, group, nsg, name string, r armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		got, where = r, append(where, group+"/"+nsg+"/"+name)
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{}, nil)
		return
	}
	w.Network.SecurityRulesServer.BeginDelete = func(_ context.Context, group, nsg, name string, _ *armnetwork.SecurityRulesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
		where = append(where, "delete "+group+"/"+nsg+"/"+name)
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
		return
	}
	rule := cloud.SecurityRule{Name: "Allow-SSH-from-198-51-100-7", Priority: 100, Direction: cloud.Inbound, Access: cloud.Allow, Protocol: "Tcp",
		SourceAddressPrefixes: []string{"198.51.100.7/32"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22", "2222"}}
	ctx := context.Background()
	if err := p.SetNSGRule(ctx, snsgID, rule); err != nil {
		t.Fatal(err)
	}
	pr := got.Properties
	if *pr.Priority != 100 || *pr.Access != armnetwork.SecurityRuleAccessAllow || *pr.Direction != armnetwork.SecurityRuleDirectionInbound || *pr.Protocol != armnetwork.SecurityRuleProtocolTCP ||
		*pr.SourceAddressPrefix != "198.51.100.7/32" || pr.SourceAddressPrefixes != nil || *pr.SourcePortRange != "*" ||
		pr.DestinationPortRange != nil || len(pr.DestinationPortRanges) != 2 || *pr.DestinationPortRanges[1] != "2222" {
		t.Errorf("rule %+v", pr)
	}
	if err := p.RemoveNSGRule(ctx, "web1-nsg", rule.Name); err != nil {
		t.Fatal(err)
	}
	if strings.Join(where, ",") != "net-rg/web-subnet-nsg/Allow-SSH-from-198-51-100-7,delete rg/web1-nsg/Allow-SSH-from-198-51-100-7" {
		t.Errorf("calls %v", where)
	}
}

func TestGetVMAndProviderMethods(t *testing.T) {
	p, _ := newWorld(t, scenario{})
	ctx := context.Background()
	if p.Kind() != "azure" || p.RunLimits() != cloud.AzureRunLimits {
		t.Errorf("kind %q limits %+v", p.Kind(), p.RunLimits())
	}
	v, err := p.GetVM(ctx, vmName)
	if err != nil || v.Name != vmName || v.PublicIP != "20.50.60.70" || v.PrivateIP != "10.0.0.4" || !v.AgentReady {
		t.Errorf("%+v %v", v, err)
	}
	want := cloud.VM{Name: vmName, ID: vmID, Location: "westeurope", PowerState: cloud.PowerRunning, ProvisioningState: "Succeeded",
		PrivateIP: "10.0.0.4", PublicIP: "20.50.60.70", AgentReady: true, AgentStatus: "Ready (Guest Agent is running); version 2.9.1.1",
		BootDiagnostics: true, NIC: "web1-nic", NICID: azurefake.NICID, PublicIPResource: "web1-ip", PublicIPSKU: "Standard"}
	if v != nil && !reflect.DeepEqual(*v, want) {
		t.Errorf("GetVM:\n got %+v\nwant %+v", *v, want)
	}
	// A deallocated VM whose agent is down, with a Basic public IP and no
	// boot diagnostics.
	p2, _ := newWorld(t, scenario{Power: "deallocated", AgentDown: true, NoBootDiag: true, PublicIPSKU: "Basic"})
	v, err = p2.GetVM(ctx, vmName)
	if err != nil || v.PowerState != cloud.PowerDeallocated || v.AgentReady || !strings.HasPrefix(v.AgentStatus, "Not Ready (VM status blob is found but not yet populated)") ||
		v.BootDiagnostics || v.PublicIPSKU != "Basic" {
		t.Errorf("%+v %v", v, err)
	}
	h, err := p.Health(ctx, vmName)
	if err != nil || h.State != cloud.HealthAvailable || h.Reason != "Customer Initiated" {
		t.Errorf("%+v %v", h, err)
	}
	e, err := p.EffectiveNSGs(ctx, vmName)
	if err != nil || len(e.NIC.Rules) != 1 || e.NIC.Rules[0].DestinationPortRanges[0] != "22-22" || e.NIC.Rules[0].Protocol != "Tcp" {
		t.Errorf("%+v %v", e, err)
	}
	routes, err := p.EffectiveRoutes(ctx, vmName)
	if err != nil || len(routes) != 2 || routes[1].AddressPrefix != "0.0.0.0/0" || routes[1].Source != "Default" {
		t.Errorf("%+v %v", routes, err)
	}
}

// TestCloudErrors: ARM's answers are the cloud errors callers test with
// errors.Is, and still *Error with status, code and message.
func TestCloudErrors(t *testing.T) {
	ctx := context.Background()
	p, w := newWorld(t, scenario{})
	var ae *Error

	// 404: the world has no VM web9.
	_, err := p.GetVM(ctx, "web9")
	if !errors.Is(err, cloud.ErrNotFound) || errors.Is(err, cloud.ErrForbidden) || !errors.As(err, &ae) || !ae.NotFound() || ae.Code != "ResourceNotFound" {
		t.Errorf("404: %v", err)
	}

	// 403.
	w.Compute.VirtualMachinesServer.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], errResp azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
		return
	}
	if err := p.Restart(ctx, vmName); !errors.Is(err, cloud.ErrForbidden) || errors.Is(err, cloud.ErrNotFound) || !errors.As(err, &ae) || ae.Action != actRestart {
		t.Errorf("403: %v", err)
	}

	// 409 to a run-command while another runs, worded as Azure words it.
	const busy = "Run command extension execution is in progress. Please wait for completion before invoking a run command."
	w.FailWith(http.MethodPost, vmID+"/runCommand", azurefake.Failure{Status: http.StatusConflict, Code: "Conflict", Message: busy})
	_, err = p.RunCommand(ctx, vmName, "true", 0)
	if !errors.Is(err, cloud.ErrBusy) || errors.Is(err, cloud.ErrNotRunning) || !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Message != busy {
		t.Errorf("409 busy: %v", err)
	}
	// A run-command conflict without that wording is still the one running.
	w.FailWith(http.MethodPost, vmID+"/runCommand", azurefake.Failure{Status: http.StatusConflict, Code: "OperationNotAllowed", Message: "Operation is not allowed."})
	if _, err := p.RunCommand(ctx, vmName, "true", 0); !errors.Is(err, cloud.ErrBusy) {
		t.Errorf("409 run-command: %v", err)
	}
	// 409 because the VM was deallocated after it was read.
	w.FailWith(http.MethodPost, vmID+"/runCommand", azurefake.Failure{Status: http.StatusConflict, Code: "OperationNotAllowed", Message: "The operation requires the VM to be running (or set to run)."})
	if _, err := p.RunCommand(ctx, vmName, "true", 0); !errors.Is(err, cloud.ErrNotRunning) || errors.Is(err, cloud.ErrBusy) {
		t.Errorf("409 not running: %v", err)
	}

	// VMAccess that waited for an agent that never answered.
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(context.Context, string, string, string, armcompute.VirtualMachineExtension, *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalError(http.StatusOK, "VMAgentStatusCommunicationError")
		return
	}
	if err := p.ResetSSH(ctx, vmName); !errors.Is(err, cloud.ErrAgentNotReady) || !errors.Is(err, ErrAgentNotReady) {
		t.Errorf("agent: %v", err)
	}
	// Another 409 elsewhere is not taken for a busy VM.
	if err := fail(&azcore.ResponseError{StatusCode: http.StatusConflict, ErrorCode: "OperationNotAllowed"}, "restart VM web1", actRestart, vmID); errors.Is(err, cloud.ErrBusy) {
		t.Errorf("a restart conflict is not a busy agent: %v", err)
	}

	// The power state and the agent are checked before Azure is asked.
	for _, s := range []scenario{{Power: "deallocated", AgentDown: true}, {Power: "stopped"}} {
		p, _ := newWorld(t, s)
		_, err := p.RunCommand(ctx, vmName, "true", 0)
		for name, err := range map[string]error{"run-command": err, "reset-ssh": p.ResetSSH(ctx, vmName), "reset-user": p.ResetUser(ctx, vmName, "alice", testKey)} {
			if !errors.Is(err, cloud.ErrNotRunning) || !errors.Is(err, ErrNotRunning) {
				t.Errorf("%s, %s: %v", s.Power, name, err)
			}
		}
	}
	p, _ = newWorld(t, scenario{AgentDown: true})
	if err := p.ResetUser(ctx, vmName, "alice", testKey); !errors.Is(err, cloud.ErrAgentNotReady) {
		t.Errorf("agent down: %v", err)
	}
}

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv3N6c2ncR8eF0ly2zY1s9X8bC3bF6Yk0h6nA3v2mQx alice@laptop"

// TestNSGIDsRoundTrip: the IDs EffectiveNSGs reports are what SetNSGRule
// and RemoveNSGRule take, from Azure's effective view (running) and from
// the attached NSGs (deallocated).
func TestNSGIDsRoundTrip(t *testing.T) {
	ctx := context.Background()
	rule := cloud.SecurityRule{Name: "Allow-SSH-from-198-51-100-7", Priority: 100, Direction: cloud.Inbound, Access: cloud.Allow, Protocol: "Tcp",
		SourceAddressPrefixes: []string{"198.51.100.7"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}
	for _, c := range []struct {
		power string
		live  bool
	}{{"running", true}, {"deallocated", false}} {
		t.Run(c.power, func(t *testing.T) {
			p, w := newWorld(t, scenario{Power: c.power})
			var where []string
			w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(_ context.Context, group, nsg, name string, _ armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				where = append(where, group+"/"+nsg+"/"+name)
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{}, nil)
				return
			}
			w.Network.SecurityRulesServer.BeginDelete = func(_ context.Context, group, nsg, name string, _ *armnetwork.SecurityRulesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
				where = append(where, "delete "+group+"/"+nsg+"/"+name)
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
				return
			}
			e, err := p.EffectiveNSGs(ctx, vmName)
			if err != nil {
				t.Fatal(err)
			}
			if e.Live != c.live || e.Subnet == nil || e.Subnet.ID != snsgID || e.Subnet.Name != "web-subnet-nsg" || e.NIC == nil || e.NIC.ID != nnsgID || e.NIC.Name != "web1-nsg" {
				t.Fatalf("live %v subnet %+v nic %+v", e.Live, e.Subnet, e.NIC)
			}
			if err := p.SetNSGRule(ctx, e.NIC.ID, rule); err != nil {
				t.Fatal(err)
			}
			if err := p.SetNSGRule(ctx, e.Subnet.ID, rule); err != nil {
				t.Fatal(err)
			}
			if err := p.RemoveNSGRule(ctx, e.Subnet.ID, rule.Name); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(where, ","); got != "rg/web1-nsg/"+rule.Name+",net-rg/web-subnet-nsg/"+rule.Name+",delete net-rg/web-subnet-nsg/"+rule.Name {
				t.Errorf("calls %s", got)
			}
		})
	}
}

// TestRemoveRoute: a user route carries its route table's ID (the
// subnet's), which RemoveRoute takes; system routes carry none.
func TestRemoveRoute(t *testing.T) {
	ctx := context.Background()
	p, w := newWorld(t, scenario{Routes: routesJSON(`, {"source": "User", "state": "Active", "name": "blackhole", "addressPrefix": ["198.51.100.0/24"], "nextHopType": "None", "nextHopIpAddress": []}`)})
	routes, err := p.EffectiveRoutes(ctx, vmName)
	// The system default route is Invalid (overridden), so left out.
	if err != nil || len(routes) != 2 {
		t.Fatalf("%+v %v", routes, err)
	}
	udr := routes[1]
	if routes[0].Table != "" || udr.Name != "blackhole" || udr.Source != "User" || udr.Table != azurefake.RouteTableID {
		t.Fatalf("routes %+v", routes)
	}
	var where []string
	w.Network.RoutesServer.BeginDelete = func(_ context.Context, group, table, name string, _ *armnetwork.RoutesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.RoutesClientDeleteResponse], errResp azfake.ErrorResponder) {
		where = append(where, group+"/"+table+"/"+name)
		if name != "blackhole" {
			errResp.SetResponseError(http.StatusNotFound, "NotFound")
			return
		}
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.RoutesClientDeleteResponse{}, nil)
		return
	}
	if err := p.RemoveRoute(ctx, udr.Table, udr.Name); err != nil {
		t.Fatal(err)
	}
	var ae *Error
	if err := p.RemoveRoute(ctx, udr.Table, "nope"); !errors.Is(err, cloud.ErrNotFound) || !errors.As(err, &ae) || ae.Action != actRouteDel || ae.Resource != azurefake.RouteTableID {
		t.Errorf("unknown route: %v", err)
	}
	if got := strings.Join(where, ","); got != "net-rg/web-routes/blackhole,net-rg/web-routes/nope" {
		t.Errorf("calls %s", got)
	}
}

// TestRunCommandTruncated: a stream of 4096 bytes is all Azure kept of it.
func TestRunCommandTruncated(t *testing.T) {
	p, w := newWorld(t, scenario{})
	out := strings.Repeat("x", 4095-len(exitMarker+"0\n")) + "\n"
	msg := "Enable succeeded: \n[stdout]\n" + out + exitMarker + "0\n\n[stderr]\nwarn\n"
	w.Compute.VirtualMachinesServer.BeginRunCommand = func(context.Context, string, string, armcompute.RunCommandInput, *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: ptr("ProvisioningState/succeeded"), Message: &msg}},
		}}, nil)
		return
	}
	res, err := p.RunCommand(context.Background(), vmName, "cat big", 0)
	if err != nil || !res.Truncated || res.Stdout != out || res.Stderr != "warn\n" {
		t.Fatalf("%v %v %d", err, res.Truncated, len(res.Stdout))
	}
	msg = "Enable succeeded: \n[stdout]\nshort\n" + exitMarker + "0\n\n[stderr]\n"
	if res, err := p.RunCommand(context.Background(), vmName, "echo short", 0); err != nil || res.Truncated {
		t.Fatalf("%v %+v", err, res)
	}
}
