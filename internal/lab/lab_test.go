package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cli"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/render"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// binary builds sshdoctor: the lab runs it as each VM's init, and the
// client side runs it as a user would.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sshdoctor")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sshdoctor/sshdoctor/cmd/sshdoctor").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// upLab builds sshdoctor and brings up a one-VM lab (VM name, namespace
// prefix) for the test; it goes down when the test ends.
func upLab(t *testing.T, name, prefix string) (s *lab.State, bin string) {
	t.Helper()
	sshdtest.NeedRoot(t)
	bin = binary(t)
	s, err := lab.Up(context.Background(), filepath.Join(t.TempDir(), "lab"), lab.UpOptions{VMs: 1, Name: name, Prefix: prefix, Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Down(s); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	return s, bin
}

// labCheck runs `sshdoctor check` for v in the client namespace.
func labCheck(t *testing.T, s *lab.State, bin string, v *lab.VMState, f *lab.Fault) (int, render.CheckJSON) {
	t.Helper()
	args, target := s.CheckArgs(v, f)
	args = append(append([]string{bin, "check", "--timeout", "1500ms", "--output", "json"}, args...), target)
	cmd := s.ClientCommand(args...)
	cmd.Stdin = strings.NewReader(s.Password + "\n")
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var doc render.CheckJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("check output is not JSON (%v): %s", err, out)
	}
	return code, doc
}

// snapshotHost records the host's links and the namespaces with prefix
// (other labs may come and go meanwhile).
func snapshotHost(t *testing.T, prefix string) string {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	var mine []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, prefix) {
			mine = append(mine, l)
		}
	}
	links, _ := exec.Command("ip", "-br", "link").Output()
	return strings.Join(mine, "\n") + "\n" + string(links)
}

// TestFaultCatalogue breaks one VM with every fault, checks that the client
// sees the expected root cause, heals, and checks that SSH works again.
func TestFaultCatalogue(t *testing.T) {
	sshdtest.NeedRoot(t)
	before := snapshotHost(t, "sdlt-")
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := lab.Up(context.Background(), dir, lab.UpOptions{VMs: 1, Name: "web", Prefix: "sdlt", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Down(s); err != nil {
			t.Errorf("down: %v", err)
		}
		if after := snapshotHost(t, "sdlt-"); after != before {
			t.Errorf("lab down left the host different:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("lab dir %s still exists", dir)
		}
	})
	v := s.VMs[0]
	if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
		t.Fatalf("fresh lab: exit %d, %s", code, doc.Diagnosis)
	}
	for i := range lab.Faults {
		f := &lab.Faults[i]
		t.Run(f.Name, func(t *testing.T) {
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			code, doc := labCheck(t, s, bin, v, f)
			if f.Name == "boot-fstab-error" {
				bootlogOfLab(t, bin, dir, v.Name, "boot.fstab", "Timed out waiting for device")
			}
			// Every command printed for the fault is complete and
			// accepted as written, and it is the lab's.
			for _, cmd := range printedCommands(doc) {
				if err := cli.ValidateCommandLine(cmd); err != nil {
					t.Errorf("printed command `%s`: %v", cmd, err)
				}
				if strings.Contains(cmd, "guest ") && !strings.HasPrefix(cmd, "sshdoctor lab exec "+v.Name+" -- ") {
					t.Errorf("printed command `%s` is not the lab's (lab exec %s)", cmd, v.Name)
				}
			}
			if code != 1 || doc.RootCause != f.Expect {
				log, _ := s.SerialLog(v)
				t.Errorf("broken: exit %d root cause %q, want %q\ndiagnosis: %s\nlayers: %+v\nserial log tail: %s", code, doc.RootCause, f.Expect, doc.Diagnosis, doc.Layers, tail(string(log), 8))
			}
			if err := s.Heal(v, bin); err != nil {
				t.Fatal(err)
			}
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				t.Fatalf("healed: exit %d, %s (%s)", code, doc.RootCause, doc.Diagnosis)
			}
		})
	}
}

// bootlogOfLab pipes `sshdoctor lab serial-log VM` into `sshdoctor bootlog
// analyze -`, as docs/bootlog.md tells a user to, and wants root cause id
// on the last line of the log that contains at.
func bootlogOfLab(t *testing.T, bin, dir, vm, id, at string) {
	t.Helper()
	logCmd := exec.Command(bin, "lab", "serial-log", vm)
	logCmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+dir)
	log, err := logCmd.Output()
	if err != nil {
		t.Fatalf("lab serial-log: %v", err)
	}
	want := 0
	for i, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, at) {
			want = i + 1
		}
	}
	script := shellQuote([]string{bin, "lab", "serial-log", vm}) + " | " + shellQuote([]string{bin, "bootlog", "analyze", "--output", "json", "-"})
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
		t.Fatalf("lab serial-log | bootlog analyze: %v\n%s", err, out)
	}
	var doc struct {
		RootCause string `json:"root_cause"`
		Findings  []struct {
			ID    string `json:"id"`
			Line  int    `json:"line"`
			Lines []int  `json:"lines"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || doc.RootCause != id || len(doc.Findings) == 0 || doc.Findings[0].ID != id || doc.Findings[0].Line != want || want == 0 {
		t.Fatalf("bootlog analyze of the lab's serial log: want root cause %s at line %d (%v):\n%s", id, want, err, out)
	}
	t.Logf("lab serial-log | bootlog analyze: root cause %s at line %d (evidence lines %v)", id, doc.Findings[0].Line, doc.Findings[0].Lines)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestProviderLifecycle(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := lab.Up(context.Background(), dir, lab.UpOptions{VMs: 2, Name: "app", Prefix: "sdlp", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if st, err := lab.Load(dir); err == nil {
			s = st
		}
		if err := lab.Down(s); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	// The listing commands speak JSON too.
	for _, args := range [][]string{{"lab", "list"}, {"lab", "status", "app1"}, {"lab", "nsg", "list", "app1"}, {"lab", "route", "list"}} {
		cmd := exec.Command(bin, append(args, "--output", "json")...)
		cmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+dir)
		out, err := cmd.Output()
		var doc any
		if err != nil || json.Unmarshal(out, &doc) != nil {
			t.Errorf("%v --output json: %v\n%s", args, err, out)
		}
		if args[1] == "list" {
			m, _ := doc.(map[string]any)
			if vms, _ := m["vms"].([]any); m["schema"] != "sshdoctor.lab.list/v1" || len(vms) != 2 || vms[0].(map[string]any)["name"] != "app1" {
				t.Errorf("lab list --output json: %s", out)
			}
		}
	}
	ctx := context.Background()
	p := &lab.Provider{Dir: dir}
	checkCode := func() (int, string) {
		st, err := lab.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		code, doc := labCheck(t, st, bin, st.VMs[0], nil)
		return code, doc.RootCause
	}
	run := func(script string) string {
		t.Helper()
		res, err := p.RunCommand(ctx, "app1", script, 10*time.Second)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("run %q: %v %+v", script, err, res)
		}
		return strings.TrimSpace(res.Stdout)
	}

	vm, err := p.GetVM(ctx, "app1")
	if err != nil || vm.PowerState != cloud.PowerRunning || vm.PrivateIP != "198.51.100.10" || !vm.AgentReady {
		t.Fatalf("GetVM: %+v %v", vm, err)
	}
	want := cloud.VM{Name: "app1", ID: "lab/app1", Location: "lab", PowerState: cloud.PowerRunning, ProvisioningState: "Succeeded",
		PrivateIP: "198.51.100.10", PublicIP: "198.51.100.10", AgentReady: true, AgentStatus: "Ready", BootDiagnostics: true, NIC: "app1-nic"}
	if !reflect.DeepEqual(*vm, want) {
		t.Errorf("GetVM:\n got %+v\nwant %+v", *vm, want)
	}
	if got := run("hostname"); got != "app1" {
		t.Errorf("hostname in VM = %q", got)
	}
	// The VM's /etc is its own: a user made there does not exist on the host.
	run("useradd -M labonly && id -u labonly")
	if host, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(host), "labonly") {
		t.Fatal("useradd in the VM changed the host's /etc/passwd")
	}
	if other, err := p.RunCommand(ctx, "app2", "id labonly", 10*time.Second); err != nil || other.ExitCode == 0 {
		t.Fatalf("user leaked to the other VM: %+v %v", other, err)
	}

	deny := cloud.SecurityRule{Name: "DenySSH", Priority: 100, Direction: cloud.Inbound, Access: cloud.Deny, Protocol: "Tcp",
		SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}
	// The NIC NSG is known by the ID EffectiveNSGs reports; the bare VM
	// name still works.
	eff, _ := p.EffectiveNSGs(ctx, "app1")
	if eff.NIC == nil || eff.NIC.ID != "app1-nsg" || eff.NIC.Name != "app1-nsg" || eff.Subnet != nil || !eff.Live {
		t.Fatalf("effective NSGs %+v", eff)
	}
	if err := p.SetNSGRule(ctx, eff.NIC.ID, deny); err != nil {
		t.Fatal(err)
	}
	if code, rc := checkCode(); code != 1 || rc != "tcp.timeout" {
		t.Fatalf("with a deny rule: exit %d %s", code, rc)
	}
	eff, _ = p.EffectiveNSGs(ctx, "app1")
	if eff.NIC == nil || len(eff.NIC.Rules) != 2 {
		t.Fatalf("effective NSGs %+v", eff)
	}
	if other, _ := p.EffectiveNSGs(ctx, "app2"); other.NIC == nil || other.NIC.ID != "app2-nsg" || len(other.NIC.Rules) != 1 {
		t.Fatalf("app2's NIC NSG changed with app1's: %+v", other.NIC)
	}
	if err := p.RemoveNSGRule(ctx, "app1", "DenySSH"); err != nil {
		t.Fatal(err)
	}
	if code, rc := checkCode(); code != 0 {
		t.Fatalf("after removing the deny: exit %d %s", code, rc)
	}

	if err := p.Stop(ctx, "app1"); err != nil {
		t.Fatal(err)
	}
	if vm, _ := p.GetVM(ctx, "app1"); vm.PowerState != cloud.PowerDeallocated {
		t.Fatalf("after stop: %s", vm.PowerState)
	}
	if h, _ := p.Health(ctx, "app1"); h.State != cloud.HealthUnavailable {
		t.Fatalf("health of a stopped VM: %+v", h)
	}
	if _, err := p.RunCommand(ctx, "app1", "true", time.Second); !errors.Is(err, cloud.ErrNotRunning) {
		t.Fatalf("run-command on a stopped VM: %v", err)
	}
	if vm, _ := p.GetVM(ctx, "app1"); vm.AgentReady || vm.AgentStatus != "Not Ready: VM is stopped" {
		t.Fatalf("agent of a stopped VM: %+v", vm)
	}
	if eff, _ := p.EffectiveNSGs(ctx, "app1"); eff.Live {
		t.Fatal("the NSGs of a stopped VM are reported live")
	}
	if code, rc := checkCode(); code != 1 || rc != "tcp.timeout" {
		t.Fatalf("stopped VM: exit %d %s", code, rc)
	}
	if err := p.Start(ctx, "app1"); err != nil {
		t.Fatal(err)
	}
	if code, rc := checkCode(); code != 0 {
		t.Fatalf("after start: exit %d %s", code, rc)
	}

	run("echo temp > /mnt/scratch && echo keep > /root/keep")
	if err := p.Redeploy(ctx, "app1"); err != nil {
		t.Fatal(err)
	}
	vm, _ = p.GetVM(ctx, "app1")
	if vm.PrivateIP == "198.51.100.10" {
		t.Fatal("redeploy kept the address")
	}
	if got := run("ls /mnt; cat /root/keep"); got != "keep" {
		t.Fatalf("after redeploy: %q, want the temp disk empty and /root kept", got)
	}
	if code, rc := checkCode(); code != 0 {
		t.Fatalf("after redeploy: exit %d %s", code, rc)
	}
	log, _ := p.SerialLog(ctx, "app1")
	if n := strings.Count(string(log), "Linux version"); n != 3 {
		t.Errorf("serial log shows %d boots, want 3 (up, start, redeploy)", n)
	}
	routes, _ := p.EffectiveRoutes(ctx, "app1")
	if len(routes) != 2 {
		t.Errorf("routes %+v", routes)
	}
}

// TestProviderContract holds the lab to what cloud.Provider promises and
// Azure does: typed errors, one run-command at a time, Azure's output
// limits, NSGs and routes changed by the IDs the provider reports, and
// VMAccess (reset_ssh, username + ssh_key) carried out in the guest.
func TestProviderContract(t *testing.T) {
	s, bin := upLab(t, "p", "sdp")
	ctx := context.Background()
	p := &lab.Provider{Dir: s.Dir}
	v := s.VMs[0]
	g := &guestUserLab{t: t, s: s, v: v, bin: bin}
	checkCode := func(t *testing.T) (int, string) {
		t.Helper()
		st, err := lab.Load(s.Dir)
		if err != nil {
			t.Fatal(err)
		}
		code, doc := labCheck(t, st, bin, st.VMs[0], nil)
		return code, doc.RootCause
	}
	if p.Kind() != "lab" || p.RunLimits() != cloud.AzureRunLimits {
		t.Fatalf("kind %q limits %+v", p.Kind(), p.RunLimits())
	}

	t.Run("not-found", func(t *testing.T) {
		if _, err := p.GetVM(ctx, "nope"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("GetVM: %v", err)
		}
		if _, err := p.RunCommand(ctx, "nope", "true", time.Second); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("RunCommand: %v", err)
		}
		if err := p.Restart(ctx, "nope"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("Restart: %v", err)
		}
		if err := p.RemoveNSGRule(ctx, "nope-nsg", "SSH"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("RemoveNSGRule of an unknown NSG: %v", err)
		}
		if err := p.RemoveNSGRule(ctx, lab.NICNSGID(v.Name), "nope"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("RemoveNSGRule of an unknown rule: %v", err)
		}
		if err := p.RemoveRoute(ctx, lab.RouteTable, "nope"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("RemoveRoute of an unknown route: %v", err)
		}
		if err := p.RemoveRoute(ctx, "other-table", "nope"); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("RemoveRoute from an unknown table: %v", err)
		}
	})

	t.Run("run-command-limits", func(t *testing.T) {
		res, err := p.RunCommand(ctx, v.Name, "head -c 10000 /dev/zero | tr '\\0' a; printf END; head -c 5000 /dev/zero | tr '\\0' b >&2; printf ERR >&2", 10*time.Second)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%v %+v", err, res)
		}
		if !res.Truncated || len(res.Stdout) != 4096 || !strings.HasSuffix(res.Stdout, "aEND") || len(res.Stderr) != 4096 || !strings.HasSuffix(res.Stderr, "bERR") {
			end := func(s string) string { return s[max(0, len(s)-8):] }
			t.Fatalf("truncated %v, stdout %d bytes …%q, stderr %d bytes …%q", res.Truncated, len(res.Stdout), end(res.Stdout), len(res.Stderr), end(res.Stderr))
		}
		if res, err := p.RunCommand(ctx, v.Name, "echo short", 10*time.Second); err != nil || res.Truncated || res.Stdout != "short\n" {
			t.Fatalf("short output: %v %+v", err, res)
		}
		// lab-internal callers (faults, tests) get the whole output.
		if res, err := s.Exec(ctx, v, "head -c 10000 /dev/zero", 10*time.Second); err != nil || len(res.Stdout) != 10000 || res.Truncated {
			t.Fatalf("Exec: %v, %d bytes", err, len(res.Stdout))
		}
	})

	t.Run("busy", func(t *testing.T) {
		g.t = t
		done := make(chan error, 1)
		go func() {
			_, err := p.RunCommand(ctx, v.Name, "touch /run/busy-started; sleep 2; rm /run/busy-started", 10*time.Second)
			done <- err
		}()
		// Wait until the first runs in the guest (State.Exec, which tests
		// use, bypasses the agent).
		for deadline := time.Now().Add(5 * time.Second); g.sh("test -e /run/busy-started").ExitCode != 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the first run-command did not start: %v", <-done)
			}
		}
		if _, err := p.RunCommand(ctx, v.Name, "true", 10*time.Second); !errors.Is(err, cloud.ErrBusy) {
			t.Errorf("a second run-command while one runs: %v, want cloud.ErrBusy", err)
		}
		if err := p.ResetSSH(ctx, v.Name); !errors.Is(err, cloud.ErrBusy) {
			t.Errorf("VMAccess while a run-command runs: %v, want cloud.ErrBusy", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("the first run-command: %v", err)
		}
		if _, err := p.RunCommand(ctx, v.Name, "true", 10*time.Second); err != nil {
			t.Fatalf("after the first ended: %v", err)
		}
	})

	t.Run("subnet-nsg", func(t *testing.T) {
		rule := func(name string, prio int, access cloud.Access) cloud.SecurityRule {
			return cloud.SecurityRule{Name: name, Priority: prio, Direction: cloud.Inbound, Access: access, Protocol: "Tcp",
				SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}
		}
		// The subnet has no NSG yet: setting a rule creates it. An NSG
		// with a rule for SSH only would also deny the rest (DenyAllInBound),
		// as Azure's would.
		if err := p.SetNSGRule(ctx, lab.SubnetNSGID, rule("AllowSSH", 300, cloud.Allow)); err != nil {
			t.Fatal(err)
		}
		eff, err := p.EffectiveNSGs(ctx, v.Name)
		if err != nil || eff.Subnet == nil || eff.Subnet.ID != lab.SubnetNSGID || len(eff.Subnet.Rules) != 1 {
			t.Fatalf("%+v %v", eff, err)
		}
		if code, rc := checkCode(t); code != 0 {
			t.Fatalf("subnet allows SSH: exit %d %s", code, rc)
		}
		if err := p.SetNSGRule(ctx, eff.Subnet.ID, rule("DenySSH", 200, cloud.Deny)); err != nil {
			t.Fatal(err)
		}
		if code, rc := checkCode(t); code != 1 || rc != "tcp.timeout" {
			t.Fatalf("subnet denies SSH: exit %d %s", code, rc)
		}
		if err := p.RemoveNSGRule(ctx, eff.Subnet.ID, "DenySSH"); err != nil {
			t.Fatal(err)
		}
		if code, rc := checkCode(t); code != 0 {
			t.Fatalf("deny removed: exit %d %s", code, rc)
		}
	})

	t.Run("remove-route", func(t *testing.T) {
		st, err := lab.Load(s.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetRoute(cloud.Route{Name: "to-clients", AddressPrefix: "203.0.113.0/24", NextHopType: cloud.NextHopNone}); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
		if code, rc := checkCode(t); code != 1 || rc != "tcp.timeout" {
			t.Fatalf("blackhole route: exit %d %s", code, rc)
		}
		routes, err := p.EffectiveRoutes(ctx, v.Name)
		if err != nil || len(routes) != 3 {
			t.Fatalf("%+v %v", routes, err)
		}
		udr := routes[2]
		if udr.Name != "to-clients" || udr.Source != "User" || udr.Table != lab.RouteTable || routes[0].Table != "" {
			t.Fatalf("routes %+v", routes)
		}
		if err := p.RemoveRoute(ctx, udr.Table, udr.Name); err != nil {
			t.Fatal(err)
		}
		if routes, _ := p.EffectiveRoutes(ctx, v.Name); len(routes) != 2 {
			t.Fatalf("after RemoveRoute: %+v", routes)
		}
		if code, rc := checkCode(t); code != 0 {
			t.Fatalf("route removed: exit %d %s", code, rc)
		}
	})

	t.Run("reset-user", func(t *testing.T) {
		g.t = t
		key, line := clientKeyPair(t, s, "pat")
		asPat := []string{"-i", key, "-o", "IdentitiesOnly=yes", "pat@lab-" + v.Name}
		if code, _ := g.check("", asPat...); code == 0 {
			t.Fatal("pat logs in before she exists")
		}
		if err := p.ResetUser(ctx, v.Name, "pat", line); err != nil {
			t.Fatal(err)
		}
		if code, doc := g.check("", asPat...); code != 0 {
			t.Fatalf("pat's key login after ResetUser: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		// VMAccess refuses root; the guest's refusal comes back as the error.
		if err := p.ResetUser(ctx, v.Name, "root", line); err == nil || !strings.Contains(err.Error(), "root") {
			t.Fatalf("ResetUser root: %v", err)
		}
	})

	t.Run("reset-ssh", func(t *testing.T) {
		g.t = t
		if res, err := p.RunCommand(ctx, v.Name, "sed -i '1i Port 2222' /etc/ssh/sshd_config && service ssh restart", 30*time.Second); err != nil || res.ExitCode != 0 {
			t.Fatalf("break the port: %v %+v", err, res)
		}
		time.Sleep(200 * time.Millisecond)
		if code, rc := checkCode(t); code != 1 || rc != "tcp.refused" {
			t.Fatalf("sshd on port 2222: exit %d %s", code, rc)
		}
		if err := p.ResetSSH(ctx, v.Name); err != nil {
			t.Fatal(err)
		}
		if code, rc := checkCode(t); code != 0 {
			t.Fatalf("after ResetSSH: exit %d %s", code, rc)
		}
		if got := g.out("sshd -T 2>/dev/null | grep '^port '"); got != "port 22" {
			t.Errorf("sshd -T after ResetSSH: %q", got)
		}
	})

	t.Run("not-running", func(t *testing.T) {
		if err := p.Stop(ctx, v.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := p.RunCommand(ctx, v.Name, "true", time.Second); !errors.Is(err, cloud.ErrNotRunning) {
			t.Errorf("RunCommand: %v", err)
		}
		if err := p.ResetSSH(ctx, v.Name); !errors.Is(err, cloud.ErrNotRunning) {
			t.Errorf("ResetSSH: %v", err)
		}
		if err := p.ResetUser(ctx, v.Name, "pat", "ssh-ed25519 AAAA"); !errors.Is(err, cloud.ErrNotRunning) {
			t.Errorf("ResetUser: %v", err)
		}
		vm, err := p.GetVM(ctx, v.Name)
		if err != nil || vm.AgentReady || vm.AgentStatus != "Not Ready: VM is stopped" || vm.PowerState != cloud.PowerDeallocated {
			t.Errorf("GetVM: %+v %v", vm, err)
		}
		if err := cloud.WaitReady(ctx, p, v.Name, 300*time.Millisecond, 100*time.Millisecond, nil); !errors.Is(err, cloud.ErrNotRunning) {
			t.Errorf("WaitReady on a stopped VM: %v", err)
		}
		if err := p.Start(ctx, v.Name); err != nil {
			t.Fatal(err)
		}
		if err := cloud.WaitReady(ctx, p, v.Name, 10*time.Second, 100*time.Millisecond, nil); err != nil {
			t.Errorf("WaitReady after start: %v", err)
		}
	})
}

// Every fault must be documented in docs/LAB.md.
func TestFaultsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/LAB.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range lab.Faults {
		if !strings.Contains(string(doc), "`"+f.Name+"`") {
			t.Errorf("docs/LAB.md does not describe fault %s", f.Name)
		}
	}
}

// guestRun runs `sshdoctor guest ARGS` inside the VM through run-command.
func guestRun(t *testing.T, s *lab.State, v *lab.VMState, args ...string) (*cloud.RunResult, map[string]bool) {
	t.Helper()
	res, err := s.Exec(context.Background(), v, "sshdoctor guest "+shellQuote(args), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var doc struct {
		Problems []struct{ ID string } `json:"findings"`
	}
	if json.Unmarshal([]byte(res.Stdout), &doc) == nil {
		for _, p := range doc.Problems {
			ids[p.ID] = true
		}
	}
	return res, ids
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestGuestRepairsEveryFault: for every guest-side fault, `guest check`
// inside the VM names it, `guest repair --yes` fixes it, and the client's
// `sshdoctor check` (as the fault's user would check) succeeds again.
func TestGuestRepairsEveryFault(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	s, err := lab.Up(context.Background(), dir, lab.UpOptions{VMs: 1, Name: "g", Prefix: "sdlg", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Down(s) })
	v := s.VMs[0]
	pub, _ := os.ReadFile(s.ClientKey() + ".pub")

	// A healthy VM: repair changes nothing, not even a backup set.
	res, _ := guestRun(t, s, v, "repair", "--yes", "--output", "json")
	if res.ExitCode != 0 || strings.Contains(res.Stdout, `"backup": "/`) {
		t.Fatalf("repair on a healthy VM: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}

	var table []string
	for i := range lab.Faults {
		f := &lab.Faults[i]
		if f.Guest == "" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			args := make([]string, len(f.GuestArgs))
			for i, a := range f.GuestArgs {
				args[i] = strings.ReplaceAll(a, "{key}", strings.TrimSpace(string(pub)))
			}
			healthy := effectiveT(t, s, v)
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Heal(v, bin); err != nil {
					t.Fatal(err)
				}
				// Heal restores the VM's original host keys.
				if err := s.RefreshKnownHosts(); err != nil {
					t.Fatal(err)
				}
			}()
			res, ids := guestRun(t, s, v, append([]string{"check", "--output", "json"}, args...)...)
			wantExit := 1
			if d, _ := findings.Lookup(f.Guest); d.Severity != findings.Error {
				wantExit = 0 // a warning: SSH by key still works
			}
			if !ids[f.Guest] || res.ExitCode != wantExit {
				t.Fatalf("guest check: exit %d, findings %v, want %s\n%s", res.ExitCode, ids, f.Guest, res.Stderr)
			}
			repairArgs := append(append([]string{"repair", "--yes", "--output", "json"}, args...), f.RepairArgs...)
			if f.Decision {
				// A restriction set on purpose: repair names it and
				// changes nothing.
				res, _ = guestRun(t, s, v, repairArgs...)
				if strings.Contains(res.Stdout, `"backup": "/`) || !strings.Contains(res.Stdout, `"skipped"`) {
					t.Fatalf("repair of a decision changed something or did not say why not: exit %d\n%s", res.ExitCode, res.Stdout)
				}
				table = append(table, fmt.Sprintf("| `%s` | `%s` | not repaired: a decision (the line and the reason are shown) |", f.Name, f.Guest))
				return
			}
			res, _ = guestRun(t, s, v, repairArgs...)
			if res.ExitCode != 0 {
				t.Fatalf("guest repair: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			if f.Name == "boot-fstab-error" { // the repair takes effect at the next boot
				if err := s.Restart(v, bin); err != nil {
					t.Fatal(err)
				}
			}
			if f.NewHostKeys { // the user verifies and records them
				if err := s.RefreshKnownHosts(); err != nil {
					t.Fatal(err)
				}
			}
			if code, doc := labCheck(t, s, bin, v, f); code != 0 {
				t.Fatalf("after repair the client check fails: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
			}
			// Never weaker than the healthy VM: no PermitRootLogin,
			// PasswordAuthentication, PermitEmptyPasswords turned on, no
			// StrictModes off, no wider algorithms or limits.
			for _, k := range guest.Weakened(healthy, effectiveT(t, s, v)) {
				if !slices.ContainsFunc(f.RepairArgs, func(a string) bool { return slices.Contains(optInWidens[a], k) }) {
					t.Errorf("the repair weakened sshd: %s", k)
				}
			}
			// Idempotent: a second repair finds nothing to change.
			res, _ = guestRun(t, s, v, repairArgs...)
			if res.ExitCode != 0 || strings.Contains(res.Stdout, `"backup": "/`) {
				t.Errorf("second repair changed something: exit %d\n%s", res.ExitCode, res.Stdout)
			}
			table = append(table, fmt.Sprintf("| `%s` | `%s` | repaired |", f.Name, f.Guest))
		})
	}
	t.Logf("fault table:\n%s", strings.Join(table, "\n"))
}

// effectiveT is sshd -T in v for the lab user from a client address.
func effectiveT(t *testing.T, s *lab.State, v *lab.VMState) map[string][]string {
	t.Helper()
	res, err := s.Exec(context.Background(), v, "sshd -T -C user=azureuser,host=client,addr=203.0.113.10", 30*time.Second)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("sshd -T: %v %+v", err, res)
	}
	m := map[string][]string{}
	for _, l := range strings.Split(res.Stdout, "\n") {
		if k, val, ok := strings.Cut(l, " "); ok {
			m[k] = append(m[k], val)
		}
	}
	return m
}

// optInWidens: what a repair opt-in (the user's explicit choice) may widen.
var optInWidens = map[string][]string{
	"--allow-ssh-rsa": {"pubkeyacceptedalgorithms"},
	"--password-auth": {"passwordauthentication", "kbdinteractiveauthentication"},
}

// printedCommands are the sshdoctor command lines a check report prints.
func printedCommands(doc render.CheckJSON) []string {
	var out []string
	for _, f := range doc.Findings {
		out = append(out, cli.PrintedCommands(f.Remediation)...)
	}
	for _, s := range doc.NextSteps {
		out = append(out, cli.PrintedCommands(s)...)
	}
	return out
}
