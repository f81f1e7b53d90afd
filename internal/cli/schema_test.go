package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// The JSON contract (docs/json.md), held over every command that has
// --output: one JSON object on stdout, a schema named after the command,
// and findings with the same keys everywhere.

var schemaName = regexp.MustCompile(`^sshdoctor(\.[a-z][a-z0-9-]*)+/v[0-9]+$`)

// schemaWorld holds what the commands run against: a lab (one VM), a real
// sshd, Azure's fakes and files.
type schemaWorld struct {
	t      *testing.T
	bin    string
	labDir string
	vm     string
	srv    *sshdtest.Server
	key    sshdtest.Key
	kh     string
}

func (w *schemaWorld) lab(args ...string) (string, string, int) {
	cmd := exec.Command(w.bin, args...)
	cmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+w.labDir, "SSH_AUTH_SOCK=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// inProcess runs sshdoctor ARGS through Main.
func inProcess(t *testing.T, args ...string) (string, string, int) {
	r := run(t, "", args...)
	return r.stdout, r.stderr, r.code
}

// schemaCases: how to run each command with --output json (the flag is
// added by the test). A command with --output and no case fails the test.
func schemaCases(w *schemaWorld) map[string]func(t *testing.T) (string, string, int) {
	nsg := filepath.Join("..", "netpolicy", "testdata", "effective-nsg.json")
	routes := filepath.Join("..", "netpolicy", "testdata", "effective-routes.json")
	bootLog := filepath.Join("..", "bootlog", "testdata", "lab-boot-fstab-error.log")
	vmExec := func(args ...string) func(t *testing.T) (string, string, int) {
		return func(t *testing.T) (string, string, int) {
			return w.lab(append([]string{"lab", "exec", w.vm, "--", "sshdoctor"}, args...)...)
		}
	}
	azureIn := func(sc azurefake.Scenario, args ...string) func(t *testing.T) (string, string, int) {
		return func(t *testing.T) (string, string, int) {
			world := actionWorld(t, sc)
			r, _ := azureRun(t, world, "", append(azureArgs(args...), "--output", "json")...)
			return r.stdout, r.stderr, r.code
		}
	}
	azureCase := func(args ...string) func(t *testing.T) (string, string, int) {
		return azureIn(azurefake.Scenario{}, args...)
	}
	// A second lab, for up and down, so the first one stays.
	otherLab := func(t *testing.T, up bool) (string, string, int) {
		o := *w
		o.t, o.labDir = t, t.TempDir()
		prefix := fmt.Sprintf("sdsc2%d", os.Getpid()%10000)
		out, errOut, code := o.lab("lab", "up", "--vms", "1", "--name", "two", "--ns-prefix", prefix, "--output", "json")
		if up {
			t.Cleanup(func() { o.lab("lab", "down") })
			return out, errOut, code
		}
		if code != 0 {
			t.Fatalf("lab up: %s%s", out, errOut)
		}
		return o.lab("lab", "down", "--output", "json")
	}
	labJSON := func(args ...string) func(t *testing.T) (string, string, int) {
		return func(t *testing.T) (string, string, int) { return w.lab(append(args, "--output", "json")...) }
	}
	return map[string]func(t *testing.T) (string, string, int){
		"check": func(t *testing.T) (string, string, int) {
			return inProcess(t, "check", "-F", "none", "-o", "UserKnownHostsFile="+w.kh, "-o", "GlobalKnownHostsFile=/dev/null",
				"-i", w.key.Path, "--output", "json", "root@"+w.srv.Addr)
		},
		"findings": func(t *testing.T) (string, string, int) { return inProcess(t, "findings", "--output", "json") },
		"version":  func(t *testing.T) (string, string, int) { return inProcess(t, "version", "--output", "json") },
		"bootlog analyze": func(t *testing.T) (string, string, int) {
			return inProcess(t, "bootlog", "analyze", "--output", "json", bootLog)
		},
		"nsg verify": func(t *testing.T) (string, string, int) {
			return inProcess(t, "nsg", "verify", "--nsg", nsg, "--from", "198.51.100.7", "--to", "10.1.0.4", "--output", "json")
		},
		"route next-hop": func(t *testing.T) (string, string, int) {
			return inProcess(t, "route", "next-hop", "--routes", routes, "--to", "198.51.100.7", "--output", "json")
		},
		"azure check":         azureCase("check", "--source-ip", "198.51.100.7"),
		"azure start":         azureCase("start", "--yes", "--no-recheck"),
		"azure restart":       azureCase("restart", "--yes", "--no-recheck"),
		"azure redeploy":      azureCase("redeploy", "--yes", "--no-recheck"),
		"azure reset-user":    azureCase("reset-user", "--user", "alice", "--ssh-key", testPubKey, "--yes", "--no-recheck"),
		"azure reset-ssh":     azureCase("reset-ssh", "--restore-backup", "--yes", "--no-recheck"),
		"azure nsg allow-ssh": azureIn(azurefake.Scenario{EffNSG: azurefake.SubnetDenyEffNSG}, "nsg", "allow-ssh", "--source-ip", "198.51.100.7", "--yes", "--no-recheck"),
		"azure guest-check":   azureGuestCheckCase,
		"lab up":              func(t *testing.T) (string, string, int) { return otherLab(t, true) },
		"lab down":            func(t *testing.T) (string, string, int) { return otherLab(t, false) },
		"lab break":           labJSON("lab", "break", w.vm, "nsg-deny-ssh"),
		"lab heal":            labJSON("lab", "heal", w.vm),
		"lab start":           labJSON("lab", "start", w.vm),
		"lab restart":         labJSON("lab", "restart", w.vm),
		"lab redeploy":        labJSON("lab", "redeploy", w.vm),
		"lab stop":            labJSON("lab", "stop", w.vm),
		"lab nsg add":         labJSON("lab", "nsg", "add", w.vm, "--name", "schema-allow", "--priority", "3000"),
		"lab nsg remove":      labJSON("lab", "nsg", "remove", w.vm, "schema-allow"),
		"lab route add":       labJSON("lab", "route", "add", "schema-drop", "192.0.2.0/24", "None"),
		"lab route remove":    labJSON("lab", "route", "remove", "schema-drop"),
		"guest restore": func(t *testing.T) (string, string, int) {
			// A backup set to restore: the one reset-ssh makes.
			if out, errOut, code := w.lab("lab", "exec", w.vm, "--", "sshdoctor", "guest", "reset-ssh", "--yes"); code != 0 {
				t.Fatalf("reset-ssh: exit %d\n%s%s", code, out, errOut)
			}
			return w.lab("lab", "exec", w.vm, "--", "sshdoctor", "guest", "restore", "--output", "json")
		},
		"lab list":   func(t *testing.T) (string, string, int) { return w.lab("lab", "list", "--output", "json") },
		"lab status": func(t *testing.T) (string, string, int) { return w.lab("lab", "status", w.vm, "--output", "json") },
		"lab faults": func(t *testing.T) (string, string, int) { return w.lab("lab", "faults", "--output", "json") },
		"lab check":  func(t *testing.T) (string, string, int) { return w.lab("lab", "check", w.vm, "--output", "json") },
		"lab nsg list": func(t *testing.T) (string, string, int) {
			return w.lab("lab", "nsg", "list", w.vm, "--output", "json")
		},
		"lab route list": func(t *testing.T) (string, string, int) {
			return w.lab("lab", "route", "list", "--output", "json")
		},
		"fix": func(t *testing.T) (string, string, int) {
			return w.lab("lab", "fix", w.vm, "--", "--dry-run", "--output", "json")
		},
		"guest check":       vmExec("guest", "check", "--output", "json"),
		"guest repair":      vmExec("guest", "repair", "--dry-run", "--output", "json"),
		"guest reset-ssh":   vmExec("guest", "reset-ssh", "--dry-run", "--output", "json"),
		"guest user set":    vmExec("guest", "user", "set", "schemauser", "--ssh-key", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(w.key.Public))), "--dry-run", "--output", "json"),
		"guest user remove": vmExec("guest", "user", "remove", "schemauser", "--dry-run", "--output", "json"),
		"guest apply":       vmExec("guest", "apply", "--settings", `{"reset_ssh": true}`, "--dry-run", "--output", "json"),
	}
}

func TestJSONSchemaOfEveryCommand(t *testing.T) {
	sshdtest.NeedRoot(t)
	w := &schemaWorld{t: t, bin: binary(t), vm: "sch1"}
	w.labDir = t.TempDir()
	prefix := fmt.Sprintf("sdsch%d", os.Getpid()%10000)
	if out, errOut, code := w.lab("lab", "up", "--vms", "1", "--name", "sch", "--ns-prefix", prefix); code != 0 {
		t.Fatalf("lab up: exit %d\n%s%s", code, out, errOut)
	}
	t.Cleanup(func() {
		if out, errOut, code := w.lab("lab", "down"); code != 0 {
			t.Errorf("lab down: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Setenv("SSH_AUTH_SOCK", "")
	w.key = sshdtest.NewKey(t, "ed25519", "")
	w.srv = sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{w.key.Public}})
	w.kh = filepath.Join(t.TempDir(), "known_hosts")
	sshdtest.WriteKnownHosts(t, w.kh, w.srv.Addr, w.srv.HostKeys...)

	cases := schemaCases(w)
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		if c.Flags().Lookup("output") == nil || c.Hidden {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), "sshdoctor ")
		seen[path] = true
		runCase, ok := cases[path]
		if !ok {
			t.Errorf("%s has --output but no case in schemaCases: add one", path)
			return
		}
		t.Run(path, func(t *testing.T) {
			stdout, stderr, code := runCase(t)
			checkEnvelope(t, path, stdout, stderr, code)
		})
	}
	walk(NewRootCmd(System()))
	for path := range cases {
		if !seen[path] {
			t.Errorf("schemaCases has %q, which is no command with --output", path)
		}
	}
}

// checkEnvelope holds one document to docs/json.md's contract.
func checkEnvelope(t *testing.T, path, stdout, stderr string, code int) {
	t.Helper()
	if code == ExitUsage || code == ExitInternal {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s\nstderr: %s", err, stdout, stderr)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document on stdout:\n%s", stdout)
	}
	schema, _ := doc["schema"].(string)
	if !schemaName.MatchString(schema) {
		t.Errorf("schema %q is not sshdoctor.<name>/v<N>", schema)
	}
	if ec, ok := doc["exit_code"].(float64); ok && int(ec) != code {
		t.Errorf("exit_code %v, but the process exited %d", ec, code)
	}
	fs, ok := doc["findings"]
	if !ok {
		return
	}
	list, ok := fs.([]any)
	if !ok && fs != nil {
		t.Fatalf("findings is %T, not a list", fs)
	}
	keys := []string{"id", "layer", "severity", "summary", "remediation"}
	if schema == "sshdoctor.findings/v1" {
		keys = []string{"id", "layer", "severity", "title", "remediation"}
	}
	for i, f := range list {
		m, ok := f.(map[string]any)
		if !ok {
			t.Fatalf("findings[%d] is %T", i, f)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("findings[%d] (%v) has no %q", i, m["id"], k)
			}
		}
		if ev, ok := m["evidence"]; ok {
			if _, ok := ev.([]any); !ok && ev != nil {
				t.Errorf("findings[%d].evidence is %T, not a list", i, ev)
			}
		}
	}
}

// azureGuestCheckCase runs azure guest-check over a run-command fake that
// answers with a healthy guest's facts.
func azureGuestCheckCase(t *testing.T) (string, string, int) {
	world := azurefake.NewWorld(t, azurefake.Scenario{})
	facts := remoteFacts(t, "F\tsdfacts1", "bin\t1", "v\tOpenSSH_9.2p1", "pid\t1", "t\t0\t", "T\tport 22", "L\t22\t00000000\t1",
		"privsep\t1", "privuser\t1", "hk\t/etc/ssh/ssh_host_ed25519_key", "E\tend")
	world.Compute.VirtualMachinesServer.BeginRunCommand = func(_ context.Context, _, _ string, _ armcompute.RunCommandInput, _ *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: azurefake.Ptr("ProvisioningState/succeeded"), Message: azurefake.Ptr("Enable succeeded: \n[stdout]\n" + strings.TrimSuffix(facts, "\n") + "\nsshdoctor-run-command-exit=0\n\n[stderr]\n")}},
		}}, nil)
		return
	}
	r, _ := azureRun(t, world, "", append(azureArgs("guest-check"), "--output", "json")...)
	return r.stdout, r.stderr, r.code
}

// actionWorld is Azure's fakes with the long-running actions answered.
func actionWorld(t *testing.T, sc azurefake.Scenario) *azurefake.World {
	w := azurefake.NewWorld(t, sc)
	vms := &w.Compute.VirtualMachinesServer
	vms.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
		okPoller(&resp)
		return
	}
	vms.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], errResp azfake.ErrorResponder) {
		okPoller(&resp)
		return
	}
	vms.BeginRedeploy = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRedeployOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRedeployResponse], errResp azfake.ErrorResponder) {
		okPoller(&resp)
		return
	}
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{VirtualMachineExtension: ext}, nil)
		return
	}
	w.Network.SecurityRulesServer.BeginCreateOrUpdate = func(_ context.Context, _, _, _ string, rule armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{SecurityRule: rule}, nil)
		return
	}
	return w
}
