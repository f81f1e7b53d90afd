package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const nsgTestdata = "../netpolicy/testdata/"

// nsgRun runs a command built by build in-process, with buffers, and
// maps its error to an exit code the way Main does.
type nsgResult struct {
	code           int
	stdout, stderr string
}

func nsgRun(t *testing.T, build func(*IOStreams) *cobra.Command, args ...string) nsgResult {
	t.Helper()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}
	cmd := build(ios)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.Execute()
	var ee *ExitError
	var ue *UsageError
	code := ExitOK
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.Code
	case errors.As(err, &ue), isCobraUsage(err):
		code = ExitUsage
		errb.WriteString("sshdoctor: " + err.Error() + "\n")
	default:
		code = ExitInternal
		errb.WriteString("sshdoctor: internal error: " + err.Error() + "\n")
	}
	return nsgResult{code, out.String(), errb.String()}
}

func nsgVerifyCmd(t *testing.T, args ...string) nsgResult {
	t.Helper()
	return nsgRun(t, NewCmdNSG, append([]string{"verify"}, args...)...)
}

func nsgNextHopCmd(t *testing.T, args ...string) nsgResult {
	t.Helper()
	return nsgRun(t, NewCmdRoute, append([]string{"next-hop"}, args...)...)
}

func nsgWriteTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func nsgVerifyJSONRun(t *testing.T, args ...string) (nsgResult, nsgVerifyJSON) {
	t.Helper()
	r := nsgVerifyCmd(t, append(args, "--output", "json")...)
	var doc nsgVerifyJSON
	if r.code == ExitOK || r.code == ExitProblem {
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not JSON (%v):\n%s\nstderr: %s", err, r.stdout, r.stderr)
		}
		if doc.ExitCode != r.code {
			t.Errorf("exit_code %d, exit %d", doc.ExitCode, r.code)
		}
	}
	return r, doc
}

func TestNSGVerifyExitCodes(t *testing.T) {
	eff := nsgTestdata + "effective-nsg.json"
	nic := nsgTestdata + "nic-nsg.az.json"
	sub := nsgTestdata + "subnet-nsg.arm.json"
	unknown := nsgWriteTemp(t, "vm.json", `{"name":"vm1","hardwareProfile":{"vmSize":"Standard_B1s"}}`)
	notJSON := nsgWriteTemp(t, "nsg.txt", "Name  Priority\nAllowSSH 100\n")
	badRule := nsgWriteTemp(t, "bad.json", `{"name":"n","securityRules":[{"name":"Broken","priority":100,"direction":"Inbound","access":"Allow","protocol":"Tcp",
		"sourceAddressPrefix":"10.0.0.0/33","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"22"}]}`)
	routes := nsgTestdata + "effective-routes.json"
	cases := []struct {
		name string
		args []string
		code int
		want string // in stdout (exit 0/1) or stderr (exit 2)
	}{
		{"effective: allowed", []string{"--nsg", eff, "--from", "203.0.113.5", "--to", "10.1.0.4"}, ExitOK, "Allowed: Tcp 203.0.113.5:50000 → 10.1.0.4:22 (inbound)"},
		{"effective: denied", []string{"--nsg", eff, "--from", "198.51.100.7", "--to", "10.1.0.4"}, ExitProblem, "Denied: Tcp 198.51.100.7:50000 → 10.1.0.4:22"},
		{"effective: service tag expanded", []string{"--nsg", eff, "--from", "20.50.3.4", "--to", "10.1.0.4"}, ExitOK, "allowed by nic/vm1-nsg securityRules/AllowSSHAzure"},
		{"subnet deny + NIC allow", []string{"--nsg", nic, "--subnet-nsg", sub, "--from", "198.51.100.7", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16"}, ExitProblem, "denied by subnet/snet-web-nsg securityRules/DenySSHFromInternet"},
		{"priority 100 in both levels", []string{"--nsg", nic, "--subnet-nsg", sub, "--from", "203.0.113.5", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16"}, ExitOK, "allowed by nic/vm1-nsg securityRules/AllowSSH (priority 100"},
		{"port range", []string{"--nsg", nic, "--subnet-nsg", sub, "--from", "203.0.113.5", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16", "--port", "8080"}, ExitOK, "securityRules/AllowWebRange"},
		{"udp", []string{"--nsg", nic, "--from", "10.1.0.9", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16", "--protocol", "UDP", "--port", "3389"}, ExitProblem, "denied by nic/vm1-nsg securityRules/DenyRDP"},
		{"icmp", []string{"--nsg", nic, "--from", "10.1.0.9", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16", "--protocol", "icmp"}, ExitProblem, "Denied: Icmp 10.1.0.9 → 10.1.0.4 (inbound)\n  denied by nic/vm1-nsg securityRules/DenyRDP"},
		{"outbound", []string{"--nsg", nic, "--from", "10.1.0.4", "--to", "52.239.1.1", "--vnet", "10.1.0.0/16", "--direction", "outbound", "--port", "443"}, ExitProblem, "denied by nic/vm1-nsg securityRules/DenyInternetOut"},
		{"bad --from", []string{"--nsg", eff, "--from", "1.2.3", "--to", "10.1.0.4"}, ExitUsage, `--from "1.2.3" is not an IP address`},
		{"missing --to", []string{"--nsg", eff, "--from", "1.2.3.4"}, ExitUsage, "--to is required"},
		{"missing --nsg", []string{"--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "--nsg is required"},
		{"mixed families", []string{"--nsg", eff, "--from", "2001:db8::1", "--to", "10.1.0.4"}, ExitUsage, "same address family"},
		{"unreadable file", []string{"--nsg", filepath.Join(t.TempDir(), "missing.json"), "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "no such file"},
		{"unknown shape", []string{"--nsg", unknown, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "unknown shape"},
		{"not JSON", []string{"--nsg", notJSON, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "not JSON"},
		{"routes given as NSG", []string{"--nsg", routes, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "route table, not an NSG"},
		{"bad rule", []string{"--nsg", badRule, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, `rule "Broken": source: bad address prefix "10.0.0.0/33"`},
		{"effective as --subnet-nsg", []string{"--nsg", nic, "--subnet-nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "effective rules hold both levels"},
		{"--subnet-nsg beside effective with a subnet", []string{"--nsg", eff, "--subnet-nsg", sub, "--from", "1.2.3.4", "--to", "10.1.0.4"}, ExitUsage, "already hold the subnet's NSG"},
		{"bad protocol", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--protocol", "gre"}, ExitUsage, "--protocol must be"},
		{"protocol *", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--protocol", "*"}, ExitUsage, "--protocol must be"},
		{"bad direction", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--direction", "sideways"}, ExitUsage, "--direction must be"},
		{"bad port", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--port", "70000"}, ExitUsage, "--port 70000 is out of range"},
		{"bad vnet", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--vnet", "10.1/16"}, ExitUsage, `--vnet "10.1/16" is not a CIDR`},
		{"bad output", []string{"--nsg", eff, "--from", "1.2.3.4", "--to", "10.1.0.4", "--output", "yaml"}, ExitUsage, "--output must be text or json"},
		{"unknown flag", []string{"--nsg", eff, "--frm", "1.2.3.4"}, ExitUsage, "unknown flag"},
		{"stray argument", []string{"extra", "--nsg", eff}, ExitUsage, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := nsgVerifyCmd(t, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			got := r.stdout
			if c.code == ExitUsage {
				got = r.stderr
				if r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("bad input must give one line on stderr and nothing on stdout:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
				}
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, got)
			}
		})
	}
}

func TestNSGVerifyJSON(t *testing.T) {
	r, doc := nsgVerifyJSONRun(t, "--nsg", nsgTestdata+"effective-nsg.json", "--from", "198.51.100.7", "--to", "10.1.0.4")
	if r.code != ExitProblem || doc.Schema != "sshdoctor.nsg-verify/v1" || doc.Verdict != "Denied" || doc.Allowed {
		t.Fatalf("verdict: %+v", doc)
	}
	if doc.DecidingNSG != "subnet/snet-web-nsg" || doc.DecidingRule != "securityRules/DenySSHFromInternet" || doc.DecidingPriority != 300 {
		t.Errorf("deciding %s %s %d", doc.DecidingNSG, doc.DecidingRule, doc.DecidingPriority)
	}
	f := doc.Flow
	if f.Protocol != "Tcp" || f.Source != "198.51.100.7" || f.Destination != "10.1.0.4" || f.DestinationPort != 22 || f.SourcePort != 50000 || f.Direction != "Inbound" {
		t.Errorf("flow %+v", f)
	}
	if len(doc.Trace) != 3 || doc.Trace[2].Rule != "securityRules/DenySSHFromInternet" || !doc.Trace[2].Matched || !doc.Trace[2].Decides || doc.Trace[0].Matched ||
		doc.Trace[2].Summary != "Tcp Internet → 0.0.0.0/0:22-22" || doc.Trace[2].Access != "Deny" {
		t.Errorf("trace %+v", doc.Trace)
	}
	if doc.VNetSource != "file" || strings.Join(doc.VNetPrefixes, ",") != "10.1.0.0/16,168.63.129.16/32" || len(doc.Warnings) != 0 {
		t.Errorf("vnet %s %v warnings %v", doc.VNetSource, doc.VNetPrefixes, doc.Warnings)
	}
	if len(doc.Inputs) != 1 || doc.Inputs[0].Shape != "effective" || strings.Join(doc.Inputs[0].NSGs, ",") != "subnet/snet-web-nsg,nic/vm1-nsg" {
		t.Errorf("inputs %+v", doc.Inputs)
	}
	// Both levels deny: one rule for each.
	if len(doc.Fix) != 2 {
		t.Fatalf("fix %+v", doc.Fix)
	}
	want := []string{
		"az network nsg rule create --resource-group rg-web --nsg-name snet-web-nsg --name Allow-SSH-from-198-51-100-7 --priority 290 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 198.51.100.7/32 --source-port-ranges '*' --destination-address-prefixes '*' --destination-port-ranges 22",
		"az network nsg rule create --resource-group rg-web --nsg-name vm1-nsg --name Allow-SSH-from-198-51-100-7 --priority 3900 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 198.51.100.7/32 --source-port-ranges '*' --destination-address-prefixes '*' --destination-port-ranges 22",
	}
	for i, fx := range doc.Fix {
		if fx.Az != want[i] || fx.ResourceGroup != "rg-web" || fx.Rule.Access != "Allow" {
			t.Errorf("fix %d: %+v\nwant az %s", i, fx, want[i])
		}
	}
	if doc.Fix[0].Level != "subnet" || doc.Fix[1].Level != "nic" {
		t.Errorf("fix levels %s %s", doc.Fix[0].Level, doc.Fix[1].Level)
	}

	// The raw document: stable field names, arrays never null.
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "verdict", "allowed", "exit_code", "flow", "deciding_nsg", "deciding_rule", "deciding_priority", "trace", "fix", "inputs", "vnet_prefixes", "vnet_source", "unresolved", "warnings"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	for _, k := range []string{"fix", "unresolved", "warnings", "trace"} {
		if _, ok := raw[k].([]any); !ok {
			t.Errorf("%q is not an array: %v", k, raw[k])
		}
	}

	// Allowed: no fix, exit 0.
	r, doc = nsgVerifyJSONRun(t, "--nsg", nsgTestdata+"effective-nsg.json", "--from", "203.0.113.5", "--to", "10.1.0.4")
	if r.code != ExitOK || doc.Verdict != "Allowed" || len(doc.Fix) != 0 || doc.DecidingRule != "securityRules/AllowSSH" || doc.DecidingPriority != 100 {
		t.Errorf("allowed: exit %d %+v", r.code, doc)
	}
}

func TestNSGVerifyText(t *testing.T) {
	r := nsgVerifyCmd(t, "--nsg", nsgTestdata+"nic-nsg.az.json", "--subnet-nsg", nsgTestdata+"subnet-nsg.arm.json", "--from", "198.51.100.7", "--to", "10.1.0.4")
	if r.code != ExitProblem {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Denied: Tcp 198.51.100.7:50000 → 10.1.0.4:22 (inbound)\n",
		"  denied by subnet/snet-web-nsg securityRules/DenySSHFromInternet (priority 200: Deny Tcp Internet → *:22)\n",
		"warning: VNet address space unknown",
		"  nic/vm1-nsg  from " + nsgTestdata + "nic-nsg.az.json: az network nsg show\n",
		"  subnet/snet-web-nsg  from " + nsgTestdata + "subnet-nsg.arm.json: ARM resource JSON\n",
		"  VirtualNetwork = 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (assumed)\n",
		"securityRules/AllowSSHFromCorp     Allow  -      Tcp 203.0.113.0/24 → *:22\n",
		"securityRules/DenySSHFromInternet  Deny   MATCH  Tcp Internet → *:22   ← decides\n",
		"  1. NSG snet-web-nsg (subnet): Allow Tcp from 198.51.100.7/32 to port 22 at priority 190 (Inbound)\n",
		"     az network nsg rule create --resource-group rg-web --nsg-name snet-web-nsg --name Allow-SSH-from-198-51-100-7 --priority 190 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes 198.51.100.7/32 --source-port-ranges '*' --destination-address-prefixes '*' --destination-port-ranges 22\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "2. NSG") {
		t.Errorf("the NIC allows this flow: one fix is enough\n%s", r.stdout)
	}
}

func TestNSGVerifyVNetWarning(t *testing.T) {
	nic := nsgTestdata + "nic-nsg.az.json"
	const w = "VNet address space unknown"
	// The default AllowVnetInBound rule decides: the answer depends on it.
	_, doc := nsgVerifyJSONRun(t, "--nsg", nic, "--from", "10.1.0.9", "--to", "10.1.0.4")
	if doc.VNetSource != "assumed" || len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], w) || doc.Verdict != "Allowed" {
		t.Errorf("assumed: %+v", doc)
	}
	// Given --vnet: no warning, and the answer follows it.
	r, doc := nsgVerifyJSONRun(t, "--nsg", nic, "--from", "10.1.0.9", "--to", "10.1.0.4", "--vnet", "10.2.0.0/16,10.3.0.0/16")
	if doc.VNetSource != "flag" || len(doc.Warnings) != 0 || doc.Verdict != "Denied" || r.code != ExitProblem || len(doc.VNetPrefixes) != 2 {
		t.Errorf("flag: %+v", doc)
	}
	// Decided before any tag rule: the VNet does not matter, no warning.
	_, doc = nsgVerifyJSONRun(t, "--nsg", nic, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if len(doc.Warnings) != 0 || doc.Verdict != "Allowed" {
		t.Errorf("no tag rule looked at: %+v", doc)
	}
}

func TestNSGVerifyUnresolvedTag(t *testing.T) {
	// Outbound: AllowStorageOut names Storage.WestEurope, unknown offline.
	_, doc := nsgVerifyJSONRun(t, "--nsg", nsgTestdata+"nic-nsg.az.json", "--from", "10.1.0.4", "--to", "52.239.1.1", "--port", "443", "--direction", "out", "--vnet", "10.1.0.0/16")
	if doc.Verdict != "Denied" || len(doc.Unresolved) != 1 || doc.Unresolved[0].Entry != "Storage.WestEurope" || !doc.Unresolved[0].RuleDropped {
		t.Fatalf("%+v", doc)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "nic/vm1-nsg securityRules/AllowStorageOut names service tag Storage.WestEurope on its destination side") {
		t.Errorf("warnings %v", doc.Warnings)
	}
	// Inbound: the outbound rule is irrelevant, no warning.
	_, doc = nsgVerifyJSONRun(t, "--nsg", nsgTestdata+"nic-nsg.az.json", "--from", "203.0.113.5", "--to", "10.1.0.4")
	if len(doc.Unresolved) != 0 || len(doc.Warnings) != 0 {
		t.Errorf("inbound: %+v", doc)
	}
}

func TestNSGVerifyASG(t *testing.T) {
	asg := nsgTestdata + "asg-nsg.arm.json"
	r, doc := nsgVerifyJSONRun(t, "--nsg", asg, "--from", "203.0.113.5", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16", "--nic-asg", "asg-web")
	if r.code != ExitOK || doc.DecidingRule != "securityRules/AllowSSHToWeb" || strings.Join(doc.Flow.DestinationASGs, ",") != "asg-web" {
		t.Errorf("member: exit %d %+v", r.code, doc)
	}
	r, doc = nsgVerifyJSONRun(t, "--nsg", asg, "--from", "203.0.113.5", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16")
	if r.code != ExitProblem || len(doc.Warnings) == 0 || !strings.Contains(strings.Join(doc.Warnings, "\n"), "give --nic-asg asg-web if that NIC is a member") {
		t.Errorf("no membership: exit %d %+v", r.code, doc)
	}
	r = nsgVerifyCmd(t, "--nsg", asg, "--from", "10.1.9.9", "--to", "10.1.0.4", "--vnet", "10.1.0.0/16", "--source-asg",
		"/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-web/providers/Microsoft.Network/applicationSecurityGroups/asg-bastion")
	if r.code != ExitOK || !strings.Contains(r.stdout, "allowed by nic/app-nsg securityRules/AllowSSHFromBastion") || !strings.Contains(r.stdout, "ASG memberships: source asg-bastion; destination none") {
		t.Errorf("source member: exit %d\n%s", r.code, r.stdout)
	}
	if !strings.Contains(r.stdout, "Tcp asg:asg-bastion → *:22") {
		t.Errorf("ASG not shown in the trace:\n%s", r.stdout)
	}
}

func TestNSGVerifyNoFreePriority(t *testing.T) {
	// A deny at 100 leaves no room above it, but 101 is free: the deny
	// moves there first and the allow rule takes 100.
	const deny = `{"name":"DenySSH","priority":100,"direction":"Inbound","access":"Deny","protocol":"Tcp",
		"sourceAddressPrefix":"*","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"22"}`
	m := nsgWriteTemp(t, "nsg.json", `{"name":"tight","resourceGroup":"rg1","securityRules":[`+deny+`]}`)
	r, doc := nsgVerifyJSONRun(t, "--nsg", m, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if r.code != ExitProblem || doc.FixError != "" || len(doc.Fix) != 1 || doc.Fix[0].Rule.Priority != 100 ||
		doc.Fix[0].Renumber == nil || doc.Fix[0].Renumber.Name != "DenySSH" || doc.Fix[0].Renumber.Priority != 101 {
		t.Errorf("renumber: %+v", doc)
	}
	r = nsgVerifyCmd(t, "--nsg", m, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if !strings.Contains(r.stdout, "     first move DenySSH from priority 100 to 101 (az network nsg rule update --resource-group rg1 --nsg-name tight --name DenySSH --priority 101)\n") ||
		!strings.Contains(r.stdout, "--name Allow-SSH-from-203-0-113-5 --priority 100 ") {
		t.Errorf("renumber text:\n%s", r.stdout)
	}
	// With 101 taken too, only editing the deny rule is left.
	p := nsgWriteTemp(t, "nsg.json", `{"name":"tight","resourceGroup":"rg1","securityRules":[`+deny+`,{"name":"Other","priority":101,"direction":"Inbound","access":"Allow","protocol":"Tcp",
		"sourceAddressPrefix":"10.9.0.0/16","destinationAddressPrefix":"*","sourcePortRange":"*","destinationPortRange":"443"}]}`)
	r, doc = nsgVerifyJSONRun(t, "--nsg", p, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if r.code != ExitProblem || len(doc.Fix) != 0 || !strings.Contains(doc.FixError, "no allow rule fits above nic/tight securityRules/DenySSH (priority 100)") {
		t.Errorf("%+v", doc)
	}
	r = nsgVerifyCmd(t, "--nsg", p, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if !strings.Contains(r.stdout, "Fix: no allow rule fits above") {
		t.Errorf("text:\n%s", r.stdout)
	}
	// Without a resource group in the file, the command uses $RESOURCE_GROUP.
	q := nsgWriteTemp(t, "nsg.json", `{"name":"nogroup","securityRules":[]}`)
	r = nsgVerifyCmd(t, "--nsg", q, "--from", "203.0.113.5", "--to", "10.1.0.4")
	if !strings.Contains(r.stdout, `--resource-group "$RESOURCE_GROUP" --nsg-name nogroup`) || !strings.Contains(r.stdout, "set RESOURCE_GROUP") {
		t.Errorf("text:\n%s", r.stdout)
	}
}

func TestRouteNextHop(t *testing.T) {
	eff := nsgTestdata + "effective-routes.json"
	table := nsgTestdata + "route-table.arm.json"
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"appliance, invalid route ignored", []string{"--routes", eff, "--to", "203.0.113.5"}, ExitOK, []string{
			"Next hop for 203.0.113.5: VirtualAppliance (10.1.2.4)\n", `route 0.0.0.0/0 "to-firewall", source User`,
			"203.0.113.0/24      User                    VirtualAppliance 10.9.9.9  (old-fw)  — ignored: state Invalid",
			"SSH return path: Replies to 203.0.113.5 go to the virtual appliance 10.1.2.4", "asymmetric routing"}},
		{"LPM: user /24 Internet", []string{"--routes", eff, "--to", "198.51.100.20"}, ExitOK, []string{"Next hop for 198.51.100.20: Internet\n", "less specific than /24", "go straight out to the internet"}},
		{"None drops: exit 1", []string{"--routes", eff, "--to", "192.0.2.9"}, ExitProblem, []string{"Next hop for 192.0.2.9: None", "SYN-ACK is dropped"}},
		{"system None", []string{"--routes", eff, "--to", "172.16.5.5"}, ExitProblem, []string{"route 172.16.0.0/12, source Default"}},
		{"VNet beats BGP", []string{"--routes", eff, "--to", "10.1.7.3"}, ExitOK, []string{"Next hop for 10.1.7.3: VnetLocal", "beat BGP routes", "stay inside the virtual network"}},
		{"gateway", []string{"--routes", eff, "--to", "10.50.0.1"}, ExitOK, []string{"VirtualNetworkGateway (10.1.255.4,10.1.255.5)", "forced tunnelling"}},
		{"no route in an effective table", []string{"--routes", eff, "--to", "2001:db8::1"}, ExitProblem, []string{"no route holds it", "Azure drops traffic"}},
		{"route table: UDR", []string{"--routes", table, "--to", "8.8.8.8"}, ExitOK, []string{"VirtualAppliance (10.1.2.4)", "ARM route table"}},
		{"route table: no UDR, system routes apply", []string{"--routes", "../netpolicy/testdata/route-table.arm.json", "--to", "2001:db8::1"}, ExitOK, []string{"No user route holds 2001:db8::1"}},
		{"bad --to", []string{"--routes", eff, "--to", "300.1.1.1"}, ExitUsage, []string{`--to "300.1.1.1" is not an IP address`}},
		{"missing --routes", []string{"--to", "1.1.1.1"}, ExitUsage, []string{"--routes is required"}},
		{"NSG as routes", []string{"--routes", nsgTestdata + "nic-nsg.az.json", "--to", "1.1.1.1"}, ExitUsage, []string{"an NSG, not routes"}},
		{"unreadable", []string{"--routes", filepath.Join(t.TempDir(), "x.json"), "--to", "1.1.1.1"}, ExitUsage, []string{"no such file"}},
		{"bad output", []string{"--routes", eff, "--to", "1.1.1.1", "--output", "xml"}, ExitUsage, []string{"--output must be"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := nsgNextHopCmd(t, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			got := r.stdout
			if c.code == ExitUsage {
				got = r.stderr
				if r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("bad input must give one line on stderr:\n%s%s", r.stdout, r.stderr)
				}
			}
			for _, w := range c.wants {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestRouteNextHopJSON(t *testing.T) {
	r := nsgNextHopCmd(t, "--routes", nsgTestdata+"effective-routes.json", "--to", "203.0.113.5", "--output", "json")
	var doc routeNextHopJSON
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	if doc.Schema != "sshdoctor.route-next-hop/v1" || !doc.Found || doc.Route == nil || doc.Route.Name != "to-firewall" || doc.Route.Source != "User" ||
		doc.Shape != "effective" || !doc.Complete || doc.Dropped || doc.ExitCode != 0 || len(doc.Invalid) != 2 || len(doc.Candidates) != 1 || !doc.Candidates[0].Chosen {
		t.Errorf("%+v", doc)
	}
	r = nsgNextHopCmd(t, "--routes", nsgTestdata+"effective-routes.json", "--to", "192.0.2.1", "--output", "json")
	doc = routeNextHopJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitProblem || !doc.Dropped || doc.ExitCode != ExitProblem || doc.Route.NextHopType != "None" {
		t.Errorf("dropped: exit %d %+v", r.code, doc)
	}
}
