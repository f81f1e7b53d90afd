package azure

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/fix"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// fix.Run against the real Provider over azurefake, made stateful: the
// VM's power and agent, the NIC NSG's rules and the guest change as Azure
// is asked to change them, and the client check reads that state.

var (
	fixClient = netip.MustParseAddr("198.51.100.7")
	fixOther  = netip.MustParseAddr("203.0.113.99")
)

// nsgRule is an inbound TCP rule of the NIC NSG web1-nsg.
type nsgRule struct {
	name, access string
	prio         int
	src, ports   []string
}

var allowSSH = nsgRule{name: "Allow-SSH", access: "Allow", prio: 300, src: []string{"*"}, ports: []string{"22"}}

type fixWorld struct {
	*azurefake.World
	t   *testing.T
	p   *Provider
	key ssh.PublicKey

	mu        sync.Mutex
	power     string // PowerState/<power>
	agentDown bool
	booting   int // VM reads left, after a start, before the agent says Ready
	rules     []nsgRule
	authFail  bool                       // sshd rejects the client's key
	guest     func(script string) string // run-command's stdout; nil: none expected
	scripts   []string                   // run-command scripts received
	calls     []string                   // changes asked of Azure
	progress  []string
}

func newFixWorld(t *testing.T, s scenario, rules ...nsgRule) *fixWorld {
	t.Helper()
	p, w := newWorld(t, s)
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	fw := &fixWorld{World: w, t: t, p: p, key: key, power: s.Power, agentDown: s.AgentDown, rules: rules}
	if fw.power == "" {
		fw.power = "running"
	}
	vms := &w.Compute.VirtualMachinesServer
	vms.Get = func(context.Context, string, string, *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
		fw.mu.Lock()
		v := s
		v.Power, v.AgentDown = fw.power, fw.agentDown || fw.booting > 0
		fw.booting = max(fw.booting-1, 0)
		fw.mu.Unlock()
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: must[armcompute.VirtualMachine](t, vmJSON(v))}, nil)
		return
	}
	vms.BeginStart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginStartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], errResp azfake.ErrorResponder) {
		fw.change("start", func() { fw.power, fw.booting = "running", 1 })
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientStartResponse{}, nil)
		return
	}
	vms.BeginRestart = func(context.Context, string, string, *armcompute.VirtualMachinesClientBeginRestartOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRestartResponse], errResp azfake.ErrorResponder) {
		fw.change("restart", func() {})
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRestartResponse{}, nil)
		return
	}
	vms.BeginRunCommand = func(_ context.Context, _, _ string, in armcompute.RunCommandInput, _ *armcompute.VirtualMachinesClientBeginRunCommandOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientRunCommandResponse], errResp azfake.ErrorResponder) {
		var lines []string
		for _, l := range in.Script {
			lines = append(lines, *l)
		}
		script := strings.Join(lines, "\n")
		fw.mu.Lock()
		fw.scripts = append(fw.scripts, script)
		guest := fw.guest
		fw.mu.Unlock()
		if guest == nil || deref(in.CommandID) != "RunShellScript" {
			t.Errorf("unexpected run-command %v:\n%.200s", deref(in.CommandID), script)
			errResp.SetResponseError(http.StatusInternalServerError, "Unexpected")
			return
		}
		msg := "Enable succeeded: \n[stdout]\n" + ranToEnd(guest(script)) + "\n[stderr]\n"
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientRunCommandResponse{RunCommandResult: armcompute.RunCommandResult{
			Value: []*armcompute.InstanceViewStatus{{Code: ptr("ProvisioningState/succeeded"), Level: ptr(armcompute.StatusLevelTypesInfo), DisplayStatus: ptr("Provisioning succeeded"), Message: &msg}},
		}}, nil)
		return
	}
	// VMAccess: a reset-user with the client's key authorizes it.
	w.Compute.VirtualMachineExtensionsServer.BeginCreateOrUpdate = func(_ context.Context, _, _, name string, ext armcompute.VirtualMachineExtension, _ *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		fw.change("extension "+name, func() {
			ps, _ := ext.Properties.ProtectedSettings.(map[string]any)
			if ps["username"] == "azureuser" && ps["ssh_key"] == strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) {
				fw.authFail = false
			}
		})
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse{}, nil)
		return
	}
	nics := &w.Network.InterfacesServer
	nics.BeginListEffectiveNetworkSecurityGroups = func(context.Context, string, string, *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse{
			EffectiveNetworkSecurityGroupListResult: must[armnetwork.EffectiveNetworkSecurityGroupListResult](t, effNSG(allowSSHAnywhere, fw.effectiveRules()))}, nil)
		return
	}
	sr := &w.Network.SecurityRulesServer
	sr.BeginCreateOrUpdate = func(_ context.Context, group, nsg, name string, r armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
		pr := r.Properties
		if group+"/"+nsg != rg+"/web1-nsg" || deref(pr.Direction) != armnetwork.SecurityRuleDirectionInbound || deref(pr.Protocol) != armnetwork.SecurityRuleProtocolTCP {
			t.Errorf("rule %s/%s/%s: %+v", group, nsg, name, pr)
		}
		nr := nsgRule{name: name, access: string(deref(pr.Access)), prio: int(deref(pr.Priority)),
			src: list(pr.SourceAddressPrefixes, pr.SourceAddressPrefix), ports: list(pr.DestinationPortRanges, pr.DestinationPortRange)}
		fw.mu.Lock()
		taken := slices.ContainsFunc(fw.rules, func(x nsgRule) bool { return x.name != name && x.prio == nr.prio })
		fw.mu.Unlock()
		if taken { // as Azure refuses it
			errResp.SetResponseError(http.StatusBadRequest, "SecurityRuleConflict")
			return
		}
		fw.change("set "+group+"/"+nsg+"/"+name, func() {
			fw.rules = append(slices.DeleteFunc(fw.rules, func(x nsgRule) bool { return x.name == name }), nr)
		})
		resp.AddNonTerminalResponse(http.StatusCreated, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{}, nil)
		return
	}
	sr.BeginDelete = func(_ context.Context, group, nsg, name string, _ *armnetwork.SecurityRulesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
		fw.change("delete "+group+"/"+nsg+"/"+name, func() {
			fw.rules = slices.DeleteFunc(fw.rules, func(x nsgRule) bool { return x.name == name })
		})
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
		return
	}
	return fw
}

// change records a change asked of Azure and makes it.
func (fw *fixWorld) change(call string, f func()) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.calls = append(fw.calls, call)
	f()
}

// effectiveRules are the NIC NSG's rules as the effective-NSG API lists
// them: "securityRules/" names, "*" expanded to 0.0.0.0/0 and 0-65535,
// a port P as P-P.
func (fw *fixWorld) effectiveRules() string {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var b strings.Builder
	for _, r := range fw.rules {
		src, ports := slices.Clone(r.src), slices.Clone(r.ports)
		for i := range src {
			src[i] = strings.Replace(src[i], "*", "0.0.0.0/0", 1)
		}
		for i, p := range ports {
			if ports[i] = strings.Replace(p, "*", "0-65535", 1); !strings.Contains(ports[i], "-") {
				ports[i] = p + "-" + p
			}
		}
		rule := map[string]any{"name": "securityRules/" + r.name, "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationAddressPrefix": "0.0.0.0/0",
			"access": r.access, "priority": r.prio, "direction": "Inbound", "sourceAddressPrefixes": src, "destinationPortRanges": ports}
		if len(src) == 1 {
			delete(rule, "sourceAddressPrefixes")
			rule["sourceAddressPrefix"] = src[0]
		}
		if len(ports) == 1 {
			delete(rule, "destinationPortRanges")
			rule["destinationPortRange"] = ports[0]
		}
		js, _ := json.Marshal(rule)
		b.Write(append(js, ','))
	}
	return b.String()
}

// allows: the subnet and NIC NSGs let src reach TCP/22 on the VM.
func (fw *fixWorld) allows(src netip.Addr) bool {
	fw.mu.Lock()
	rules := slices.Clone(fw.rules)
	fw.mu.Unlock()
	conv := func(r nsgRule) cloud.SecurityRule {
		return cloud.SecurityRule{Name: r.name, Priority: r.prio, Direction: cloud.Inbound, Access: cloud.Access(r.access), Protocol: "Tcp",
			SourceAddressPrefixes: r.src, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: r.ports}
	}
	e := &cloud.EffectiveNSGs{Subnet: &cloud.NSG{Rules: []cloud.SecurityRule{conv(allowSSH)}}, NIC: &cloud.NSG{}, VNetPrefixes: []string{"10.0.0.0/16"}, Live: true}
	for _, r := range rules {
		e.NIC.Rules = append(e.NIC.Rules, conv(r))
	}
	p, err := netpolicy.Compile(e)
	if err != nil {
		fw.t.Fatal(err)
	}
	ok, _ := p.Allowed(netpolicy.Flow{Protocol: "Tcp", Source: src, Destination: netip.MustParseAddr("10.0.0.4"), SourcePort: 50000, DestinationPort: 22, Direction: cloud.Inbound})
	return ok
}

func fixVerdict(id string) *diagnose.Verdict {
	if id == "" {
		return &diagnose.Verdict{Works: true, Diagnosis: "SSH works"}
	}
	f := findings.New(id, id, "")
	return &diagnose.Verdict{RootCause: &f, Diagnosis: id}
}

// check is the client's check from 198.51.100.7: TCP needs a running,
// booted VM and the NSGs' consent; then the key must be accepted.
func (fw *fixWorld) check(context.Context) (*probe.Report, *diagnose.Verdict) {
	fw.mu.Lock()
	up, auth := fw.power == "running" && !fw.agentDown && fw.booting == 0, fw.authFail
	fw.mu.Unlock()
	switch {
	case !up || !fw.allows(fixClient):
		return &probe.Report{}, fixVerdict("tcp.timeout")
	case auth:
		return &probe.Report{}, fixVerdict("auth.publickey_rejected")
	}
	return &probe.Report{}, fixVerdict("")
}

func (fw *fixWorld) run() (*fix.Report, error) {
	o := fix.Options{Provider: fw.p, VM: vmName, User: "azureuser", Port: 22, Keys: []ssh.PublicKey{fw.key}, Source: fixClient,
		Check: fw.check, ReadyTimeout: 20 * time.Second, Progress: func(m string) {
			fw.mu.Lock()
			defer fw.mu.Unlock()
			fw.progress = append(fw.progress, m)
		}}
	return fix.Run(context.Background(), o)
}

func journalKinds(r *fix.Report) []string {
	var k []string
	for _, e := range r.Journal {
		k = append(k, e.Step.Kind+":"+e.Result+":"+e.Effect)
	}
	return k
}

// The guest: Ubuntu 22.04 on Azure, azureuser with one ed25519 key.
const (
	cloudInitConf = "/etc/ssh/sshd_config.d/50-cloud-init.conf"
	backupSet     = "/var/backups/sshdoctor/20250314T101502Z-remote"
)

// ubuntuFacts is guest.RemoteScript's report for that guest, gzip+base64
// as the script prints it: PubkeyAuthentication as cloud-init's drop-in
// sets it at line 1 when pubkeyOff, and the key file's fingerprints as
// ssh-keygen -l gives them ("-": the VM has no ssh-keygen).
func ubuntuFacts(t *testing.T, pubkeyOff bool, fps string) string {
	t.Helper()
	pubkey := "yes"
	if pubkeyOff {
		pubkey = "no"
	}
	eff := []string{"port 22", "permitrootlogin without-password", "pubkeyauthentication " + pubkey, "passwordauthentication no",
		"kbdinteractiveauthentication no", "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2", "strictmodes yes",
		"maxstartups 10:30:100", "usepam yes", "logingracetime 120"}
	lines := []string{"F\tsdfacts1", "bin\t1", "v\tOpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2 15 Mar 2022", "pid\t812", "t\t0\t"}
	for _, e := range eff {
		lines = append(lines, "T\t"+e)
	}
	if pubkeyOff {
		lines = append(lines, "o\t"+cloudInitConf+"\t1\tPubkeyAuthentication no")
	}
	lines = append(lines, "o\t"+cloudInitConf+"\t2\tPasswordAuthentication no",
		"o\t/etc/ssh/sshd_config\t62\tKbdInteractiveAuthentication no", "o\t/etc/ssh/sshd_config\t85\tUsePAM yes",
		"L\t22\t00000000\t1", "L\t22\t00000000000000000000000000000000\t1", "pre\t0", "privsep\t1", "privuser\t1",
		"hk\t/etc/ssh/ssh_host_rsa_key", "hk\t/etc/ssh/ssh_host_ecdsa_key", "hk\t/etc/ssh/ssh_host_ed25519_key")
	for _, p := range []string{"/", "/var", "/var/log", "/home", "/tmp"} {
		lines = append(lines, "df\t"+p+"\t2049\t7941116\t6391802\t4096\t3870720\t3781244")
	}
	lines = append(lines, "df\t/run\t24\t46350\t46226\t4096\t115875\t115121", "mgr\tsystemd",
		"u\tazureuser\t1\t1000\t1000\t/home/azureuser\t/bin/bash\t1\t1\t0\t0\t0",
		"ug\tazureuser\tazureuser,adm,dialout,cdrom,floppy,sudo,audio,dip,video,plugdev,netdev,lxd\t1")
	for _, e := range eff {
		lines = append(lines, "uT\tazureuser\t"+e)
	}
	lines = append(lines, "kf\tazureuser\t/home/azureuser/.ssh/authorized_keys\t1\tssh-ed25519,\t0\t"+fps,
		"kf\tazureuser\t/home/azureuser/.ssh/authorized_keys2\t0\t\t0",
		"st\tazureuser\t/home/azureuser/.ssh/authorized_keys\t600\t1000\t1000",
		"st\tazureuser\t/home/azureuser/.ssh\t700\t1000\t1000", "st\tazureuser\t/home/azureuser\t750\t1000\t1000", "E\tend")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	zw.Close()
	return "SDGZ:" + base64.StdEncoding.EncodeToString(b.Bytes())
}

// Run-command scripts, told apart as the guest would run them.
func isFacts(s string) bool   { return strings.Contains(s, `echo "F${T}sdfacts1"`) }
func isRepair(s string) bool  { return slices.Contains(strings.Split(s, "\n"), "sd_begin") }
func isRestore(s string) bool { return strings.Contains(s, "\nsd_restore '") }

// pubkeyGuest: cloud-init's drop-in turned public-key login off; the
// repair (disabling that line and restarting sshd) turns it on again,
// and a restore of its backup set off.
func (fw *fixWorld) pubkeyGuest() {
	fw.authFail = true
	fw.guest = func(s string) string {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		switch {
		case isFacts(s):
			return ubuntuFacts(fw.t, fw.authFail, ssh.FingerprintSHA256(fw.key)+",")
		case isRepair(s):
			fw.authFail = false
			return "R\tsdrepair1\nB\t" + backupSet + "\nA\t0\tok\nS\tvalidated\nS\trestarted\nE\tend\n"
		case isRestore(s):
			fw.authFail = true
			return "R\tsdrepair1\nB\t" + backupSet + "\nS\trolledback\nE\tend\n"
		}
		fw.t.Errorf("unknown script:\n%.300s", s)
		return ""
	}
}

// 1. A Deny for TCP/22 at 200 above the allow: fix allows the client's
// /32 only, above the deny, in the NSG it read; undo removes it.
func TestFixNSGDeny(t *testing.T) {
	deny := nsgRule{name: "Deny-SSH", access: "Deny", prio: 200, src: []string{"*"}, ports: []string{"22"}}
	fw := newFixWorld(t, scenario{}, allowSSH, deny)
	fw.guest = func(string) string { return ubuntuFacts(t, false, ssh.FingerprintSHA256(fw.key)+",") }
	r, err := fw.run()
	if err != nil || !r.Fixed || !slices.Equal(journalKinds(r), []string{"nsg-allow:applied:fixed"}) {
		t.Fatalf("err %v fixed %v journal %v next %q", err, r.Fixed, journalKinds(r), r.Next)
	}
	st := r.Journal[0].Step
	if st.NSGID != nnsgID || st.Rule == nil || len(fw.calls) != 1 || fw.calls[0] != "set rg/web1-nsg/"+st.Rule.Name {
		t.Fatalf("NSG %s rule %+v, calls %v", st.NSGID, st.Rule, fw.calls)
	}
	added := fw.rules[len(fw.rules)-1]
	if added.name != st.Rule.Name || added.access != "Allow" || added.prio >= 200 || !slices.Equal(added.src, []string{"198.51.100.7/32"}) || !slices.Equal(added.ports, []string{"22"}) {
		t.Fatalf("Azure got %+v: want an allow of 198.51.100.7/32 to 22 above priority 200", added)
	}
	if !fw.allows(fixClient) || fw.allows(fixOther) {
		t.Fatalf("client allowed %v, another address allowed %v", fw.allows(fixClient), fw.allows(fixOther))
	}
	if u := r.Journal[0].Undo; u == nil || u.Kind != "nsg-remove-rule" || u.NSGID != nnsgID || u.RuleName != st.Rule.Name {
		t.Fatalf("undo %+v", u)
	}
	if len(fw.scripts) != 1 || !isFacts(fw.scripts[0]) {
		t.Errorf("%d run-commands: want the guest's facts gathered once, nothing changed in it", len(fw.scripts))
	}
	res, err := fix.UndoJournal(context.Background(), fw.p, r)
	if err != nil || len(res) != 1 || res[0].Result != "undone" {
		t.Fatalf("undo: %v %+v", err, res)
	}
	if !slices.Equal(fw.calls[1:], []string{"delete rg/web1-nsg/" + st.Rule.Name}) || !slices.EqualFunc(fw.rules, []nsgRule{allowSSH, deny}, func(a, b nsgRule) bool { return a.name == b.name && a.prio == b.prio }) || fw.allows(fixClient) {
		t.Fatalf("after undo: calls %v rules %+v", fw.calls, fw.rules)
	}
}

// 2. A deallocated VM is started; WaitReady waits for the agent.
func TestFixStartsDeallocatedVM(t *testing.T) {
	fw := newFixWorld(t, scenario{Power: "deallocated", AgentDown: true}, allowSSH)
	fw.agentDown = false // it reports Ready once booted (see booting)
	r, err := fw.run()
	if err != nil || !r.Fixed || !slices.Equal(journalKinds(r), []string{"start:applied:fixed"}) || !slices.Equal(fw.calls, []string{"start"}) {
		t.Fatalf("err %v fixed %v journal %v calls %v", err, r.Fixed, journalKinds(r), fw.calls)
	}
	e := r.Journal[0]
	if r.Before.RootCause == nil || r.Before.RootCause.ID != "tcp.timeout" || e.Error != "" || e.Undo == nil || e.Undo.Kind != "stop" || e.Undo.VM != vmName {
		t.Fatalf("before %+v entry %+v", r.Before, e)
	}
	if fw.booting != 0 || !slices.ContainsFunc(fw.progress, func(m string) bool { return strings.HasPrefix(m, "waiting for web1 to be ready") }) {
		t.Fatalf("WaitReady did not see the agent come up: booting %d, progress %q", fw.booting, fw.progress)
	}
	if len(fw.scripts) != 0 {
		t.Errorf("run-command on a deallocated VM: %d", len(fw.scripts))
	}
}

// 3. The guest's facts (through run-command) name PubkeyAuthentication no
// in cloud-init's drop-in; the repair script disables that line; undo
// restores the backup set the guest reported.
func TestFixGuestRepairThroughRunCommand(t *testing.T) {
	fw := newFixWorld(t, scenario{}, allowSSH)
	fw.pubkeyGuest()
	r, err := fw.run()
	if err != nil || !r.Fixed || !slices.Equal(journalKinds(r), []string{"guest-repair:applied:fixed"}) {
		t.Fatalf("err %v fixed %v journal %v next %q", err, r.Fixed, journalKinds(r), r.Next)
	}
	if len(r.Diagnosis) != 1 || r.Diagnosis[0].ID != "guest.pubkey_disabled" || !strings.Contains(r.Cause, cloudInitConf+":1") {
		t.Fatalf("diagnosis %+v cause %q", r.Diagnosis, r.Cause)
	}
	if len(fw.scripts) != 2 || !isFacts(fw.scripts[0]) || !strings.Contains(fw.scripts[0], `USERS="azureuser"`) || !isRepair(fw.scripts[1]) {
		t.Fatalf("%d scripts: want the facts, then the repair", len(fw.scripts))
	}
	edit := fmt.Sprintf("sd_act 0 sd_edits 0 '%s' '1' 'PubkeyAuthentication no' '# sshdoctor: disabled (", cloudInitConf)
	if repair := fw.scripts[1]; !strings.Contains(repair, "\n"+edit) || !strings.Contains(repair, "\nRESTART=1\n") || strings.Count(repair, "\nsd_act ") != 1 {
		t.Fatalf("the repair does not (only) disable %s:1:\n%s", cloudInitConf, repair[strings.LastIndex(repair, "\nPORT="):])
	}
	e := r.Journal[0]
	if len(e.Step.Actions) != 1 || e.Step.Actions[0].For != "guest.pubkey_disabled" || e.Undo == nil || e.Undo.Kind != "guest-restore" || e.Undo.BackupDir != backupSet || e.Undo.VM != vmName {
		t.Fatalf("entry %+v undo %+v", e, e.Undo)
	}
	if len(fw.calls) != 0 {
		t.Errorf("control-plane changes %v for a guest cause", fw.calls)
	}
	res, err := fix.UndoJournal(context.Background(), fw.p, r)
	if err != nil || len(res) != 1 || res[0].Result != "undone" || len(fw.scripts) != 3 || !strings.Contains(fw.scripts[2], "\nsd_restore '"+backupSet+"'\n") || !fw.authFail {
		t.Fatalf("undo: %v %+v, %d scripts", err, res, len(fw.scripts))
	}
}

// 4. The key is rejected and the guest shows nothing wrong (the VM has
// no ssh-keygen, so which keys are authorized is unknown): the seed's
// reset-user, through VMAccess, authorizes the client's key for the user.
func TestFixResetUserThroughVMAccess(t *testing.T) {
	fw := newFixWorld(t, scenario{}, allowSSH)
	fw.authFail = true
	fw.guest = func(s string) string {
		if !isFacts(s) {
			t.Errorf("only the facts may be gathered:\n%.300s", s)
		}
		return ubuntuFacts(t, false, "-")
	}
	r, err := fw.run()
	if err != nil || !r.Fixed || !slices.Equal(journalKinds(r), []string{"reset-user:applied:fixed"}) || !r.Journal[0].Step.Fallback {
		t.Fatalf("err %v fixed %v journal %v next %q", err, r.Fixed, journalKinds(r), r.Next)
	}
	if len(r.Diagnosis) != 0 || len(fw.scripts) != 1 || !slices.Equal(fw.calls, []string{"extension enablevmaccess"}) {
		t.Fatalf("diagnosis %+v, %d scripts, calls %v", r.Diagnosis, len(fw.scripts), fw.calls)
	}
	var put struct {
		Properties struct {
			Publisher, Type   string
			ProtectedSettings map[string]string `json:"protectedSettings"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(fw.Bodies[vmID+"/extensions/enablevmaccess"], &put); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"username": "azureuser", "ssh_key": strings.TrimSpace(string(ssh.MarshalAuthorizedKey(fw.key)))}
	if pr := put.Properties; pr.Type != VMAccessType || pr.Publisher != VMAccessPublisher || len(pr.ProtectedSettings) != 2 ||
		pr.ProtectedSettings["username"] != want["username"] || pr.ProtectedSettings["ssh_key"] != want["ssh_key"] {
		t.Fatalf("VMAccess PUT %+v, want protected %v", pr, want)
	}
}

// 5. The VM runs but its agent is not Ready (the boot stopped in
// emergency mode): no run-command, no change, and the report says the
// guest could not be examined.
func TestFixAgentNotReadyChangesNothing(t *testing.T) {
	fw := newFixWorld(t, scenario{AgentDown: true}, allowSSH)
	fw.Serial = []byte("[    0.000000] Linux version 6.8.0-1021-azure (buildd@lcy02-amd64-034) #25-Ubuntu SMP\n" +
		"[  OK  ] Reached target Basic System.\n" +
		"[ TIME ] Timed out waiting for device /dev/disk/by-uuid/3f0a9c2e-0000-4000-8000-000000000001.\n" +
		"[DEPEND] Dependency failed for /datadisk.\n[DEPEND] Dependency failed for Local File Systems.\n" +
		"[  OK  ] Reached target Emergency Mode.\n" +
		"You are in emergency mode. After logging in, type \"journalctl -xb\" to view\n" +
		"system logs, \"systemctl reboot\" to reboot, \"systemctl default\" or \"exit\"\nto boot into default mode.\n" +
		"Press Enter for maintenance\n(or press Control-D to continue): \n")
	r, err := fw.run()
	if !errors.Is(err, fix.ErrNotFixed) || r.Fixed || len(r.Journal) != 0 {
		t.Fatalf("err %v fixed %v journal %v", err, r.Fixed, journalKinds(r))
	}
	if len(fw.scripts) != 0 || fw.Hits[vmID+"/runCommand"] != 0 || len(fw.calls) != 0 || len(fw.Bodies) != 0 {
		t.Fatalf("scripts %d, run-command requests %d, changes %v, PUTs %d", len(fw.scripts), fw.Hits[vmID+"/runCommand"], fw.calls, len(fw.Bodies))
	}
	next := strings.Join(r.Next, "\n")
	if !strings.Contains(next, "the guest could not be examined") || !strings.Contains(next, "agent") || !strings.Contains(next, "az vm repair") {
		t.Fatalf("next:\n%s", next)
	}
}

// 6. The first run-command finds another one running (409): fix waits,
// tries again, and goes on.
func TestFixRunCommandBusyIsRetried(t *testing.T) {
	fw := newFixWorld(t, scenario{}, allowSSH)
	fw.pubkeyGuest()
	fw.FailWith(http.MethodPost, vmID+"/runCommand", azurefake.Failure{Status: http.StatusConflict, Code: "Conflict", Times: 1,
		Message: "Run command extension execution is in progress. Please wait for completion before invoking a run command."})
	start := time.Now()
	r, err := fw.run()
	if err != nil || !r.Fixed || !slices.Equal(journalKinds(r), []string{"guest-repair:applied:fixed"}) {
		t.Fatalf("err %v fixed %v journal %v next %q", err, r.Fixed, journalKinds(r), r.Next)
	}
	waits := slices.DeleteFunc(slices.Clone(fw.progress), func(m string) bool { return !strings.Contains(m, "another run-command is running") })
	if len(waits) != 1 || len(fw.Fail) != 0 || time.Since(start) < 3*time.Second || len(fw.scripts) != 2 || !isFacts(fw.scripts[0]) {
		t.Fatalf("waits %q, failures left %v, %s, %d scripts reached the guest", waits, fw.Fail, time.Since(start), len(fw.scripts))
	}
}

// ranToEnd is a script's stdout as RunCommand's wrapper leaves it when
// the script exits 0.
func ranToEnd(out string) string {
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out + exitMarker + "0\n"
}

// azure reset-ssh's first choice: the guest judge's repair through
// run-command, planned without a change, then applied as one transaction.
func TestPlanGuestRepairThroughRunCommand(t *testing.T) {
	fw := newFixWorld(t, scenario{}, allowSSH)
	fw.pubkeyGuest()
	o := fix.Options{Provider: fw.p, VM: vmName, Port: 22}
	plan, err := fix.PlanGuestRepair(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(fw.scripts) != 1 || !isFacts(fw.scripts[0]) {
		t.Fatalf("planning ran %d scripts; want only the facts", len(fw.scripts))
	}
	reps := plan.Repairs()
	if len(reps) != 1 || reps[0].For != "guest.pubkey_disabled" {
		t.Fatalf("repairs %+v", reps)
	}
	undo, err := fix.ApplyGuestRepair(context.Background(), o, plan)
	if err != nil || undo == nil || undo.BackupDir != backupSet || len(fw.scripts) != 2 || !isRepair(fw.scripts[1]) || fw.authFail {
		t.Fatalf("apply: %v undo %+v scripts %d authFail %v", err, undo, len(fw.scripts), fw.authFail)
	}
	if len(fw.calls) != 0 {
		t.Errorf("control-plane changes %v", fw.calls)
	}
}
