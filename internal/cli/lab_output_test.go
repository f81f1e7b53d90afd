package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// The lab verbs that change the lab refuse a bad --output before anything
// else: before the root check, before loading (or creating) a lab.
func TestLabActionsOutputFlag(t *testing.T) {
	// An empty lab directory: were the flag not checked first, the verbs
	// would say "no lab" here, never touch a real lab.
	t.Setenv("SSHDOCTOR_LAB_DIR", t.TempDir())
	for _, args := range [][]string{
		{"up", "--vms", "0"}, {"down"}, {"start", "vm1"}, {"stop", "vm1"}, {"restart", "vm1"}, {"redeploy", "vm1"},
		{"break", "vm1", "nsg-deny-ssh"}, {"heal", "vm1"}, {"nsg", "add", "vm1", "--name", "r", "--priority", "100"},
		{"nsg", "remove", "vm1", "r"}, {"route", "add", "r", "10.0.0.0/8", "None"}, {"route", "remove", "r"},
	} {
		r := runMain(append(append([]string{"lab"}, args...), "--output", "bogus")...)
		if r.code != ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, `--output must be text or json, not "bogus"`) {
			t.Errorf("lab %v --output bogus: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// testLab is a lab state as the builders see it, without a lab: web1 is
// deallocated, web2 is recorded running (its host process is gone).
func testLab() *lab.State {
	nsg := &cloud.NSG{ID: "web1", Name: "web1-nic-nsg", Rules: []cloud.SecurityRule{{Name: "allow-ssh", Priority: 100, Direction: cloud.Inbound, Access: cloud.Allow, Protocol: "Tcp",
		SourceAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}}}
	return &lab.State{Dir: "/nonexistent", VMs: []*lab.VMState{
		{Name: "web1", Index: 0, Power: cloud.PowerDeallocated, NSG: nsg, Faults: []string{"nsg-deny-ssh"}, Boots: 2},
		{Name: "web2", Index: 1, Power: cloud.PowerRunning, Boots: 1},
	}, Routes: []cloud.Route{{Name: "blackhole", AddressPrefix: "203.0.113.0/24", NextHopType: "None", Source: "User"}}}
}

// decode marshals v and decodes it into a map, as a script reads it.
func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLabUpDownDocs(t *testing.T) {
	s := testLab()
	m := decode(t, labUpDoc(s, 1500*time.Millisecond))
	vms, _ := m["vms"].([]any)
	if m["schema"] != "sshdoctor.lab.up/v1" || m["exit_code"] != 0.0 || m["elapsed_ms"] != 1500.0 || len(vms) != 2 {
		t.Fatalf("lab up: %v", m)
	}
	// The VMs as lab list --output json shows them.
	want := decode(t, labVM(s, s.VMs[0]))
	got, _ := vms[0].(map[string]any)
	if b1, _ := json.Marshal(got); string(b1) != mustJSON(t, want) {
		t.Errorf("vm %s, want %s", b1, mustJSON(t, want))
	}
	if got["name"] != "web1" || got["power"] != "deallocated" || got["ip"] == "" || got["health"] != "Unavailable" {
		t.Errorf("vm %v", got)
	}
	if m := decode(t, labDownDoc(true)); m["schema"] != "sshdoctor.lab.down/v1" || m["removed"] != true || m["message"] != "lab down: removed" {
		t.Errorf("lab down: %v", m)
	}
	if m := decode(t, labDownDoc(false)); m["removed"] != false || m["exit_code"] != 0.0 || m["message"] != "no lab is up; nothing to remove" {
		t.Errorf("lab down, no lab: %v", m)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLabPowerFaultDocs(t *testing.T) {
	s := testLab()
	v := s.VMs[1]
	m := decode(t, labPowerDoc("redeploy", s, v, 20*time.Millisecond))
	st, _ := m["status"].(map[string]any)
	if m["schema"] != "sshdoctor.lab.redeploy/v1" || m["action"] != "redeploy" || m["vm"] != "web2" || m["power"] != "running" || m["ip"] != v.IP() || st["name"] != "web2" || st["boots"] != 1.0 {
		t.Fatalf("lab redeploy: %v", m)
	}
	f, err := lab.FaultByName("nsg-deny-ssh")
	if err != nil {
		t.Fatal(err)
	}
	m = decode(t, labBreakDoc(s, s.VMs[0], f, false))
	if m["schema"] != "sshdoctor.lab.break/v1" || m["exit_code"] != 0.0 || m["vm"] != "web1" || m["fault"] != "nsg-deny-ssh" || m["description"] != f.Description ||
		!strings.HasPrefix(m["see_it"].(string), "sshdoctor lab client -- sshdoctor check ") || !strings.HasSuffix(m["see_it"].(string), "lab-web1") {
		t.Fatalf("lab break: %v", m)
	}
	if st, _ := m["status"].(map[string]any); st["faults"].([]any)[0] != "nsg-deny-ssh" {
		t.Errorf("lab break status: %v", st)
	}
	if m = decode(t, labBreakDoc(s, s.VMs[0], f, true)); m["exit_code"] != float64(ExitInterrupted) || m["interrupted"] != true {
		t.Errorf("interrupted break: %v", m)
	}
	m = decode(t, labHealDoc(s, s.VMs[1], nil, false))
	if h, ok := m["healed"].([]any); m["schema"] != "sshdoctor.lab.heal/v1" || !ok || len(h) != 0 || m["interrupted"] != false {
		t.Fatalf("lab heal: %v", m)
	}
	if m = decode(t, labHealDoc(s, s.VMs[0], []string{"nsg-deny-ssh"}, true)); m["exit_code"] != float64(ExitInterrupted) || m["healed"].([]any)[0] != "nsg-deny-ssh" {
		t.Errorf("interrupted heal: %v", m)
	}
}

func TestLabNetDocs(t *testing.T) {
	s := testLab()
	m := decode(t, labNSGDoc("add", s.VMs[0], "allow-ssh"))
	nsg, _ := m["nic_nsg"].(map[string]any)
	if m["schema"] != "sshdoctor.lab.nsg.add/v1" || m["vm"] != "web1" || m["rule"] != "allow-ssh" || nsg["name"] != "web1-nic-nsg" || len(nsg["rules"].([]any)) != 1 {
		t.Fatalf("lab nsg add: %v", m)
	}
	if m = decode(t, labNSGDoc("remove", s.VMs[1], "x")); m["schema"] != "sshdoctor.lab.nsg.remove/v1" || m["nic_nsg"] != nil {
		t.Errorf("lab nsg remove, no NSG left: %v", m)
	}
	m = decode(t, labRouteDoc("add", s, "blackhole"))
	rs, _ := m["routes"].([]any)
	if m["schema"] != "sshdoctor.lab.route.add/v1" || m["route"] != "blackhole" || len(rs) != 1 || rs[0].(map[string]any)["next_hop_type"] != "None" {
		t.Fatalf("lab route add: %v", m)
	}
	s.Routes = nil
	if m = decode(t, labRouteDoc("remove", s, "blackhole")); m["schema"] != "sshdoctor.lab.route.remove/v1" || m["routes"] == nil {
		t.Errorf("lab route remove, none left: %v", m)
	}
}
