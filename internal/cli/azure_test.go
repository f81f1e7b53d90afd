package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// azureRun runs `sshdoctor ARGS` with the Azure provider over world w
// (nil: the provider must not be built). It returns the result and how
// many times the provider was built (signing in happens there).
func azureRun(t *testing.T, w *azurefake.World, stdin string, args ...string) (checkResult, int) {
	t.Helper()
	built := 0
	old := newAzureProvider
	newAzureProvider = func(_ context.Context, o *AzureOptions) (*azure.Provider, error) {
		built++
		if w == nil {
			t.Fatal("the provider was built although the input is bad")
		}
		p, err := azure.New(o.Subscription, o.ResourceGroup, azurefake.Credential(), w.Options())
		if err != nil {
			return nil, err
		}
		p.PollFrequency = time.Millisecond
		return p, nil
	}
	oldDial := sshDial
	sshDial = func(ctx context.Context, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() {
			t.Errorf("the re-check connects to %s: tests may only reach loopback (pass --no-recheck, or a loopback PublicIP)", addr)
			return nil, errors.New("not loopback")
		}
		return oldDial(ctx, addr)
	}
	defer func() { newAzureProvider, sshDial = old, oldDial }()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	code := Main(ios, args)
	return checkResult{code: code, stdout: out.String(), stderr: errb.String()}, built
}

var vmArgs = []string{"-g", azurefake.RG, "-n", azurefake.VMName, "--subscription", azurefake.Sub}

func azureArgs(cmd ...string) []string { return append(append([]string{"azure"}, cmd...), vmArgs...) }

// azureJSON is the part of sshdoctor.azure.check/v1 the tests read.
type azureJSON struct {
	Schema   string `json:"schema"`
	ExitCode int    `json:"exit_code"`
	OK       bool   `json:"ok"`
	Findings []struct {
		ID       string   `json:"id"`
		Severity string   `json:"severity"`
		Evidence []string `json:"evidence"`
	} `json:"findings"`
	Suggestions []json.RawMessage `json:"suggestions"`
}

func (d azureJSON) has(id string) bool {
	for _, f := range d.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func TestAzureCheck(t *testing.T) {
	cases := []struct {
		name   string
		s      azurefake.Scenario
		extra  []string
		code   int
		want   string // a finding ID that must be reported ("" = none of severity error)
		inText string
	}{
		{"healthy", azurefake.Scenario{}, nil, ExitOK, "", "Azure shows nothing that stops SSH"},
		{"deallocated", azurefake.Scenario{Power: "deallocated", AgentDown: true}, nil, ExitProblem, "cloud.vm_deallocated", "sshdoctor azure start"},
		{"subnet nsg denies", azurefake.Scenario{EffNSG: azurefake.SubnetDenyEffNSG}, []string{"--source-ip", "1.2.3.4"}, ExitProblem, "cloud.nsg_denies", "Deny-SSH-Internet"},
		// A warning: the VM may be reached privately (VPN, Bastion).
		{"no public ip", azurefake.Scenario{NoPublicIP: true}, nil, ExitOK, "cloud.no_public_ip", "no public IP address"},
		{"boot diagnostics off", azurefake.Scenario{NoBootDiag: true}, nil, ExitOK, "cloud.boot_diagnostics_disabled", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(azureArgs("check"), c.extra...)
			w := azurefake.NewWorld(t, c.s)
			r, _ := azureRun(t, w, "", append(args, "--output", "json")...)
			var doc azureJSON
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Schema != AzureSchema {
				t.Fatalf("not %s JSON (%v): %s\n%s", AzureSchema, err, r.stdout, r.stderr)
			}
			if r.code != c.code || doc.ExitCode != c.code || doc.OK != (c.code == ExitOK) {
				t.Errorf("exit %d, JSON exit_code %d ok %v; want %d", r.code, doc.ExitCode, doc.OK, c.code)
			}
			if c.want != "" && !doc.has(c.want) {
				t.Errorf("findings %+v lack %s", doc.Findings, c.want)
			}
			// Text: the same verdict, the root cause first.
			r, _ = azureRun(t, azurefake.NewWorld(t, c.s), "", args...)
			if r.code != c.code || !strings.Contains(r.stdout, c.inText) {
				t.Errorf("text: exit %d, want %d and %q:\n%s", r.code, c.code, c.inText, r.stdout)
			}
			if c.code == ExitProblem && !strings.Contains(r.stdout, "["+c.want+"]") {
				t.Errorf("text does not name %s:\n%s", c.want, r.stdout)
			}
		})
	}
}

// ARM refusals are diagnosed problems (exit 1) with what to do, never a
// stack trace or an internal error.
func TestAzureARMErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		code   string
		want   []string
	}{
		{"forbidden", http.StatusForbidden, "AuthorizationFailed", []string{"cloud.access_denied", "Microsoft.Compute/virtualMachines/read"}},
		{"not found", http.StatusNotFound, "ResourceNotFound", []string{"cloud.not_found"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := azurefake.NewWorld(t, azurefake.Scenario{})
			w.Compute.VirtualMachinesServer.Get = func(context.Context, string, string, *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
				errResp.SetResponseError(c.status, c.code)
				return
			}
			r, _ := azureRun(t, w, "", azureArgs("check")...)
			if r.code != ExitProblem {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, s := range c.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("output lacks %q:\n%s", s, r.stdout)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "goroutine") || strings.Contains(r.stdout+r.stderr, "panic") {
				t.Errorf("a stack trace:\n%s%s", r.stdout, r.stderr)
			}
			// An action refused by ARM: exit 1, one line saying why and what to do.
			w.Compute.VirtualMachinesServer.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
				errResp.SetResponseError(c.status, c.code)
				return
			}
			r, _ = azureRun(t, w, "", append(azureArgs("start"), "--yes")...)
			if r.code != ExitProblem || !strings.Contains(r.stderr, c.code) {
				t.Errorf("start refused by ARM: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// Bad input: exit 2, one line, and no sign-in (the provider is not built).
func TestAzureBadInput(t *testing.T) {
	t.Setenv("AZURE_SUBSCRIPTION_ID", "")
	t.Setenv("AZURE_CONFIG_DIR", t.TempDir()) // no az profile to fall back to
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"no subscription", "", []string{"azure", "check", "-g", "rg", "-n", "web1"}},
		{"no resource group", "", []string{"azure", "check", "-n", "web1", "--subscription", azurefake.Sub}},
		{"bad source ip", "", append(azureArgs("check"), "--source-ip", "300.1.1.1")},
		{"bad port", "", append(azureArgs("check"), "--port", "70000")},
		{"bad output", "", append(azureArgs("check"), "--output", "yaml")},
		{"allow-ssh without source", "", append(azureArgs("nsg", "allow-ssh"), "--yes")},
		{"allow-ssh with auto", "", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "auto", "--yes")},
		{"redeploy without --yes", "", azureArgs("redeploy")},
		{"reset-user bad name", "", append(azureArgs("reset-user"), "--username", "../root", "--ssh-key", "x", "--yes")},
		{"reset-user nothing to set", "", append(azureArgs("reset-user"), "--username", "alice", "--yes")},
		{"reset-user private key", "", append(azureArgs("reset-user"), "--username", "alice", "--ssh-key", "-----BEGIN OPENSSH PRIVATE KEY-----", "--yes")},
		{"reset-user empty password", "\n", append(azureArgs("reset-user"), "--username", "alice", "--password-stdin", "--yes")},
		{"reset-user password without --yes", "pw\n", append(azureArgs("reset-user"), "--username", "alice", "--password-stdin")},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, built := azureRun(t, nil, c.stdin, c.args...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != ExitUsage || built != 0 || msg == "" {
				t.Fatalf("exit %d, provider built %d times, stderr %q; want exit 2, no sign-in", r.code, built, msg)
			}
			if c.name != "redeploy without --yes" && strings.Contains(msg, "\n") {
				t.Errorf("more than one line: %q", msg)
			}
		})
	}
}

func TestAzureActionsConfirm(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{Power: "deallocated"})
	started := 0
	w.Compute.VirtualMachinesServer.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
		started++
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientStartResponse{}, nil)
		return
	}
	// Declined: nothing is done.
	r, _ := azureRun(t, w, "n\n", azureArgs("start")...)
	if r.code != ExitUsage || started != 0 || !strings.Contains(r.stderr, "Start VM rg/web1?") {
		t.Fatalf("declined start: exit %d, started %d\n%s", r.code, started, r.stderr)
	}
	// Confirmed on stdin, and with --yes.
	if r, _ = azureRun(t, w, "y\n", append(azureArgs("start"), "--no-recheck")...); r.code != ExitOK || started != 1 {
		t.Fatalf("confirmed start: exit %d, started %d\n%s%s", r.code, started, r.stdout, r.stderr)
	}
	if r, _ = azureRun(t, w, "", append(azureArgs("start"), "--yes", "--no-recheck")...); r.code != ExitOK || started != 2 || !strings.Contains(r.stdout, "started") {
		t.Fatalf("start --yes: exit %d, started %d\n%s%s", r.code, started, r.stdout, r.stderr)
	}
}

func TestAzureResetUserPassword(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{})
	var body []byte
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		body, _ = json.Marshal(ext)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{VirtualMachineExtension: ext}, nil)
		return
	}
	const pw = "Corr3ct-Horse-Battery"
	r, _ := azureRun(t, w, pw+"\n", append(azureArgs("reset-user"), "--username", "alice", "--password-stdin", "--yes", "--no-recheck")...)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Fatal("the password is in the output")
	}
	var ext struct {
		Properties struct {
			Settings          map[string]any `json:"settings"`
			ProtectedSettings map[string]any `json:"protectedSettings"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(body, &ext); err != nil {
		t.Fatal(err)
	}
	if ext.Properties.ProtectedSettings["password"] != pw || ext.Properties.ProtectedSettings["username"] != "alice" || len(ext.Properties.Settings) != 0 {
		t.Fatalf("extension settings: public %v, protected keys %d", ext.Properties.Settings, len(ext.Properties.ProtectedSettings))
	}
}

func TestAzureAllowSSH(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{EffNSG: azurefake.SubnetDenyEffNSG})
	w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, rule armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{SecurityRule: rule}, nil)
		return
	}
	r, _ := azureRun(t, w, "n\n", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "1.2.3.4")...)
	if r.code != ExitUsage || len(w.Bodies) != 0 {
		t.Fatalf("declined allow-ssh: exit %d, PUTs %v\n%s%s", r.code, w.Bodies, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "1.2.3.4/32") || !strings.Contains(r.stdout, "az network nsg rule create") {
		t.Errorf("the plan does not show the rule and the az command:\n%s", r.stdout)
	}
	r, _ = azureRun(t, w, "", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "1.2.3.4", "--yes", "--no-recheck")...)
	if r.code != ExitOK {
		t.Fatalf("allow-ssh --yes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var put []byte
	for path, b := range w.Bodies {
		if strings.Contains(path, "/networkSecurityGroups/web-subnet-nsg/securityRules/") {
			put = b
		}
	}
	var rule struct {
		Properties struct {
			Access                string   `json:"access"`
			Priority              int      `json:"priority"`
			SourceAddressPrefix   string   `json:"sourceAddressPrefix"`
			SourceAddressPrefixes []string `json:"sourceAddressPrefixes"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(put, &rule); err != nil {
		t.Fatalf("no rule PUT to the subnet NSG (%v): %v", err, w.Bodies)
	}
	src := append([]string{rule.Properties.SourceAddressPrefix}, rule.Properties.SourceAddressPrefixes...)
	if rule.Properties.Access != "Allow" || rule.Properties.Priority >= 200 || !strings.Contains(strings.Join(src, ","), "1.2.3.4/32") || strings.Contains(strings.Join(src, ","), "*") {
		t.Fatalf("rule %s: want Allow from 1.2.3.4/32 only, priority above the deny's 200", put)
	}
}

// remoteFacts is what guest.RemoteScript prints, gzip+base64 as on a VM.
func remoteFacts(t *testing.T, lines ...string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	return "SDGZ:" + base64.StdEncoding.EncodeToString(b.Bytes())
}

func TestAzureGuestCheck(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{})
	var script string
	stdout := ""
	w.Compute.VirtualMachinesServer.BeginRunCommand = func(_ context.Context, _, _ string, in armcompute.RunCommandInput, _ *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		if in.CommandID == nil || *in.CommandID != "RunShellScript" {
			t.Errorf("command %v", in.CommandID)
		}
		var lines []string
		for _, l := range in.Script {
			lines = append(lines, *l)
		}
		script = strings.Join(lines, "\n")
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: azurefake.Ptr("ProvisioningState/succeeded"), Message: azurefake.Ptr("Enable succeeded: \n[stdout]\n" + strings.TrimSuffix(stdout, "\n") + "\nsshdoctor-run-command-exit=0\n\n[stderr]\n")}},
		}}, nil)
		return
	}
	// sshd is installed and its configuration is valid, but it does not
	// run: something else listens on 22.
	stdout = remoteFacts(t, "F\tsdfacts1", "bin\t1", "v\tOpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15", "t\t0\t",
		"T\tport 22", "L\t22\t00000000\t0", "privsep\t1", "privuser\t1", "hk\t/etc/ssh/ssh_host_ed25519_key",
		"u\talice\t1\t1000\t1000\t/home/alice\t/bin/bash\t1\t0\t0\t0\t0", "ug\talice\talice\t1",
		"kf\talice\t/home/alice/.ssh/authorized_keys\t1\tssh-ed25519,\t0", "E\tend")
	r, _ := azureRun(t, w, "", append(azureArgs("guest-check"), "--user", "alice", "--output", "json")...)
	// the precise cause: the port is taken, so sshd cannot run
	if r.code != ExitProblem || !strings.Contains(r.stdout, `"guest.port_taken"`) || !strings.Contains(r.stdout, `"sshdoctor.guest/v1"`) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(script, "#!/bin/sh") || !strings.Contains(script, `USERS="alice"`) || !strings.Contains(script, "PORT=22") {
		t.Errorf("script sent:\n%.300s", script)
	}
	// A healthy guest: exit 0.
	stdout = remoteFacts(t, "F\tsdfacts1", "bin\t1", "v\tOpenSSH_9.2p1", "pid\t1", "t\t0\t", "T\tport 22", "L\t22\t00000000\t1",
		"privsep\t1", "privuser\t1", "hk\t/etc/ssh/ssh_host_ed25519_key", "E\tend")
	if r, _ = azureRun(t, w, "", azureArgs("guest-check")...); r.code != ExitOK {
		t.Fatalf("healthy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Output cut by run-command: a clear line, exit 1.
	for _, cut := range []string{"SDGZ:H4sIAAAAAAAA", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="} {
		stdout = cut
		if r, _ = azureRun(t, w, "", azureArgs("guest-check")...); r.code != ExitProblem || !strings.Contains(r.stderr, "4096") {
			t.Fatalf("truncated %q: exit %d\n%s%s", cut, r.code, r.stdout, r.stderr)
		}
	}
	// Bad input never signs in.
	if r, built := azureRun(t, nil, "", append(azureArgs("guest-check"), "--user", "a;reboot")...); r.code != ExitUsage || built != 0 {
		t.Fatalf("bad user: exit %d, built %d", r.code, built)
	}
	// The agent is not ready: run-command cannot work; exit 1 with why.
	w2 := azurefake.NewWorld(t, azurefake.Scenario{AgentDown: true})
	if r, _ = azureRun(t, w2, "", azureArgs("guest-check")...); r.code != ExitProblem || !strings.Contains(r.stderr, "agent") {
		t.Fatalf("agent down: exit %d\n%s", r.code, r.stderr)
	}
}

// After an action, sshdoctor connects to the VM's public address and
// waits for sshd's banner: here a real sshd on loopback plays the VM.
func TestAzureActionRechecksSSH(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	host, port, _ := net.SplitHostPort(srv.Addr)
	w := azurefake.NewWorld(t, azurefake.Scenario{PublicIP: host})
	w.Compute.VirtualMachinesServer.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRestartResponse{}, nil)
		return
	}
	r, _ := azureRun(t, w, "", append(azureArgs("restart"), "--yes", "--port", port)...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "Re-check: SSH answers on "+srv.Addr+" (SSH-2.0-OpenSSH") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Nothing answers: reported after --recheck-wait, the action still succeeded.
	closed := strconv.Itoa(sshdtest.FreePort(t))
	r, _ = azureRun(t, w, "", append(azureArgs("restart"), "--yes", "--port", closed, "--recheck-wait", "1s")...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "Re-check: no SSH answer on "+net.JoinHostPort(host, closed)) {
		t.Fatalf("closed port: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// reset-ssh: the guest repair first; when the guest judge finds nothing
// to repair, VMAccess's reset_ssh, said for what it is, after consent.
func TestAzureResetSSH(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{})
	runs := 0
	runFails := false
	w.Compute.VirtualMachinesServer.BeginRunCommand = func(_ context.Context, _, _ string, in armcompute.RunCommandInput, _ *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		runs++
		if runFails {
			errResp.SetResponseError(http.StatusInternalServerError, "InternalExecutionError")
			return
		}
		stdout := remoteFacts(t, "F\tsdfacts1", "bin\t1", "v\tOpenSSH_9.2p1", "pid\t1", "t\t0\t", "T\tport 22", "L\t22\t00000000\t1",
			"privsep\t1", "privuser\t1", "hk\t/etc/ssh/ssh_host_ed25519_key", "E\tend")
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: azurefake.Ptr("ProvisioningState/succeeded"), Message: azurefake.Ptr("Enable succeeded: \n[stdout]\n" + stdout + "\nsshdoctor-run-command-exit=0\n\n[stderr]\n")}},
		}}, nil)
		return
	}
	var puts []map[string]any
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		ps, _ := ext.Properties.ProtectedSettings.(map[string]any)
		if ext.Properties.ForceUpdateTag == nil || *ext.Properties.ForceUpdateTag == "" {
			t.Error("VMAccess PUT without forceUpdateTag: a repeated reset would not run")
		}
		puts = append(puts, ps)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{VirtualMachineExtension: ext}, nil)
		return
	}

	// Declined: the guest was read, nothing changed, exit 2.
	r, _ := azureRun(t, w, "n\n", append(azureArgs("reset-ssh"), "--no-recheck")...)
	if r.code != ExitUsage || len(puts) != 0 || runs != 1 || !strings.Contains(r.stdout, "finds nothing") || !strings.Contains(r.stderr, "PasswordAuthentication yes") {
		t.Fatalf("declined: exit %d, puts %v, runs %d\n%s%s", r.code, puts, runs, r.stdout, r.stderr)
	}
	// --yes: VMAccess reset_ssh.
	r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--yes", "--no-recheck")...)
	if r.code != ExitOK || len(puts) != 1 || puts[0]["reset_ssh"] != true || !strings.Contains(r.stdout, "--restore-backup") {
		t.Fatalf("reset: exit %d, puts %v\n%s%s", r.code, puts, r.stdout, r.stderr)
	}
	// run-command cannot answer: said, then VMAccess.
	runFails = true
	r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--yes", "--no-recheck")...)
	if r.code != ExitOK || len(puts) != 2 || !strings.Contains(r.stderr, "could not be read through run-command") {
		t.Fatalf("fallback: exit %d, puts %d\n%s%s", r.code, len(puts), r.stdout, r.stderr)
	}
	// --vmaccess: no run-command at all.
	before := runs
	if r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--vmaccess", "--yes", "--no-recheck")...); r.code != ExitOK || runs != before || len(puts) != 3 {
		t.Fatalf("--vmaccess: exit %d, runs %d→%d\n%s%s", r.code, before, runs, r.stdout, r.stderr)
	}
	// --restore-backup asks VMAccess for its backup.
	if r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--restore-backup", "--yes", "--no-recheck")...); r.code != ExitOK || len(puts) != 4 || puts[3]["restore_backup_ssh"] != true {
		t.Fatalf("--restore-backup: exit %d, puts %v\n%s%s", r.code, puts, r.stdout, r.stderr)
	}
	// Both: usage error before signing in.
	if r, _ = azureRun(t, nil, "", append(azureArgs("reset-ssh"), "--restore-backup", "--vmaccess")...); r.code != ExitUsage {
		t.Fatalf("both flags: exit %d", r.code)
	}
	// The extension ran and failed: exit 1 with its message.
	w.ExtensionFailure = "Failed to reset sshd_config: [Errno 2] No such file or directory"
	if r, _ = azureRun(t, w, "", append(azureArgs("reset-ssh"), "--vmaccess", "--yes", "--no-recheck")...); r.code == ExitOK || !strings.Contains(r.stderr, "No such file") {
		t.Fatalf("extension failure: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// reset-user refuses, before signing in, a key VMAccess cannot install.
func TestAzureResetUserKeyTypes(t *testing.T) {
	for _, key := range []string{
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= a@b",
		"sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIH0sKLi0IwMU62lLAEBiPudg4OxqQGY1n3MOsV8rAJybAAAAB3NzaDpwMjI= ssh:p22",
		`from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN6WjfKQ5dv6XV/VV/GMcAnkmb70qh1ThlOom1Sko4ai t@x`,
	} {
		r, _ := azureRun(t, nil, "", append(azureArgs("reset-user"), "--username", "alice", "--ssh-key", key, "--yes")...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "VMAccess") {
			t.Errorf("%.30s: exit %d\n%s", key, r.code, r.stderr)
		}
	}
}

// allow-ssh never adds a standing rule above just-in-time access's deny:
// it says how to request access, and changes nothing.
func TestAzureAllowSSHJIT(t *testing.T) {
	w := azurefake.NewWorld(t, azurefake.Scenario{EffNSG: azurefake.EffNSG("", `
        {"name": "securityRules/SecurityCenter-JITRule_-1656453209_F1A8E4C1B2D34E5F8A9B0C1D2E3F4A5B", "protocol": "*", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "10.0.0.4/32", "access": "Deny", "priority": 1000, "direction": "Inbound"},`)})
	puts := 0
	w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(context.Context, string, string, string, armnetwork.SecurityRule, *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		puts++
		return
	}
	r, _ := azureRun(t, w, "", append(azureArgs("nsg", "allow-ssh"), "--source-ip", "198.51.100.7", "--yes", "--no-recheck")...)
	if r.code != ExitProblem || puts != 0 || !strings.Contains(r.stdout, "just-in-time") || !strings.Contains(r.stdout, "jitNetworkAccessPolicies/default/initiate") ||
		!strings.Contains(r.stdout, `"allowedSourceAddressPrefix":"198.51.100.7"`) {
		t.Fatalf("exit %d, %d rule writes\n%s%s", r.code, puts, r.stdout, r.stderr)
	}
}
