package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Provider is the lab's control plane behind cloud.Provider, so everything
// built for Azure can be exercised against lab VMs. Each call loads the
// state, and calls that change it hold the lab lock and save it.
type Provider struct {
	Dir string // lab directory (Dir() by default)
}

var _ cloud.Provider = (*Provider)(nil)

// Identities the lab reports, in Azure's roles: the subnet NSG, one NIC
// NSG per VM ("<vm>-nsg"), and the route table holding user routes.
const (
	SubnetNSGID = "subnet-nsg"
	RouteTable  = "lab-routes"
)

// NICNSGID is the ID (and name) of the NIC NSG of the VM named vm.
func NICNSGID(vm string) string { return vm + "-nsg" }

// vmAccessTimeout bounds the emulated VMAccess extension: guest apply
// plans, backs up, restarts sshd and waits for it, seconds in the lab.
const vmAccessTimeout = 2 * time.Minute

// notFound marks an error as cloud.ErrNotFound and keeps its message.
type notFound struct{ error }

func (e notFound) Is(target error) bool { return target == cloud.ErrNotFound }
func (e notFound) Unwrap() error        { return e.error }

func notFoundf(format string, a ...any) error { return notFound{fmt.Errorf(format, a...)} }

// Kind names the provider.
func (p *Provider) Kind() string { return "lab" }

// RunLimits are Azure run-command's: the lab emulates them so tests meet
// what users meet.
func (p *Provider) RunLimits() cloud.RunLimits { return cloud.AzureRunLimits }

func (p *Provider) dir() string {
	if p.Dir != "" {
		return p.Dir
	}
	return Dir()
}

func (p *Provider) read(name string) (*State, *VMState, error) {
	s, err := Load(p.dir())
	if err != nil {
		return nil, nil, err
	}
	v, err := s.VM(name)
	if err != nil {
		return nil, nil, notFound{err}
	}
	return s, v, nil
}

// changeState runs f on the state under the lab lock and saves it.
func (p *Provider) changeState(f func(s *State) error) error {
	unlock, err := Lock(p.dir())
	if err != nil {
		return err
	}
	defer unlock()
	s, err := Load(p.dir())
	if err != nil {
		return err
	}
	ferr := f(s)
	if err := s.Save(); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

func (p *Provider) change(name string, f func(s *State, v *VMState) error) error {
	return p.changeState(func(s *State) error {
		v, err := s.VM(name)
		if err != nil {
			return notFound{err}
		}
		return f(s, v)
	})
}

// powerOf is the VM's power state as the control plane sees it: a VM whose
// processes died is stopped, whatever was recorded.
func powerOf(v *VMState) cloud.PowerState {
	if v.Power == cloud.PowerRunning && !v.alive() {
		return cloud.PowerStopped
	}
	return v.Power
}

// GetVM returns the VM's control-plane view. The lab has no separate
// public address: clients reach the VM's own address through the router.
func (p *Provider) GetVM(_ context.Context, name string) (*cloud.VM, error) {
	_, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	pw := powerOf(v)
	agent := "Ready"
	if pw != cloud.PowerRunning {
		agent = "Not Ready: VM is stopped"
	}
	return &cloud.VM{
		Name: v.Name, ID: "lab/" + v.Name, Location: "lab",
		PowerState: pw, ProvisioningState: "Succeeded",
		PrivateIP: v.IP(), PublicIP: v.IP(), NIC: v.Name + "-nic",
		AgentReady: pw == cloud.PowerRunning, AgentStatus: agent,
		BootDiagnostics: true,
	}, nil
}

// Health answers like Azure Resource Health.
func (p *Provider) Health(_ context.Context, name string) (*cloud.Health, error) {
	s, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	h := s.Health(v)
	return &h, nil
}

// SerialLog returns the VM's console log.
func (p *Provider) SerialLog(_ context.Context, name string) ([]byte, error) {
	s, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	return s.SerialLog(v)
}

// EffectiveNSGs returns the subnet and NIC NSGs of the VM, with the IDs
// SetNSGRule and RemoveNSGRule take. Live: the VM runs (Azure computes
// the effective view only then; the lab's NSGs are the same either way).
func (p *Provider) EffectiveNSGs(_ context.Context, name string) (*cloud.EffectiveNSGs, error) {
	s, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	e := &cloud.EffectiveNSGs{Subnet: cloneNSG(s.SubnetNSG), NIC: cloneNSG(v.NSG), VNetPrefixes: []string{VNetCIDR}, Live: powerOf(v) == cloud.PowerRunning}
	if e.Subnet != nil {
		e.Subnet.ID, e.Subnet.Name = SubnetNSGID, SubnetNSGID
	}
	if e.NIC != nil {
		e.NIC.ID, e.NIC.Name = NICNSGID(v.Name), NICNSGID(v.Name)
	}
	return e, nil
}

// EffectiveRoutes returns the system routes plus the user-defined ones,
// which live in route table RouteTable.
func (p *Provider) EffectiveRoutes(_ context.Context, name string) ([]cloud.Route, error) {
	s, _, err := p.read(name)
	if err != nil {
		return nil, err
	}
	routes := []cloud.Route{
		{Name: "vnet", AddressPrefix: VNetCIDR, NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
		{Name: "default", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopInternet, Source: "Default"},
	}
	for _, r := range s.Routes {
		r.Source, r.Table = "User", RouteTable
		routes = append(routes, r)
	}
	return routes, nil
}

// Start boots the VM.
func (p *Provider) Start(_ context.Context, name string) error {
	return p.change(name, func(s *State, v *VMState) error { return s.Start(v, "") })
}

// Stop deallocates the VM.
func (p *Provider) Stop(_ context.Context, name string) error {
	return p.change(name, func(s *State, v *VMState) error { return s.Stop(v) })
}

// Restart reboots the VM.
func (p *Provider) Restart(_ context.Context, name string) error {
	return p.change(name, func(s *State, v *VMState) error { return s.Restart(v, "") })
}

// Redeploy moves the VM: new address, temporary disk wiped.
func (p *Provider) Redeploy(_ context.Context, name string) error {
	return p.change(name, func(s *State, v *VMState) error { return s.Redeploy(v, "") })
}

// agent takes the VM's agent, as Azure's does one run-command or
// extension at a time per VM: a non-blocking lock on a file in the VM's
// directory, held until release. A running VM is checked first, so a
// stopped VM answers cloud.ErrNotRunning, not cloud.ErrBusy.
func (p *Provider) agent(name string) (s *State, v *VMState, release func(), err error) {
	s, v, err = p.read(name)
	if err != nil {
		return nil, nil, nil, err
	}
	if powerOf(v) != cloud.PowerRunning {
		return nil, nil, nil, errNotRunning(v)
	}
	f, err := os.OpenFile(filepath.Join(s.vmDir(v.Name), "agent.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, nil, fmt.Errorf("%s: %w: wait for it to finish", v.Name, cloud.ErrBusy)
		}
		return nil, nil, nil, fmt.Errorf("lock the agent of %s: %w", v.Name, err)
	}
	return s, v, func() { f.Close() }, nil
}

// errNotRunning says the VM must run for an in-guest action.
func errNotRunning(v *VMState) error {
	return fmt.Errorf("%s: %w (power state %s): start it with `sshdoctor lab start %s`", v.Name, cloud.ErrNotRunning, powerOf(v), v.Name)
}

// RunCommand runs a script as root in the VM within RunLimits: the tail
// of each stream is kept, and a second run-command while one runs gets
// cloud.ErrBusy.
func (p *Provider) RunCommand(ctx context.Context, name, script string, timeout time.Duration) (*cloud.RunResult, error) {
	s, v, release, err := p.agent(name)
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := s.Exec(ctx, v, script, timeout)
	if res != nil {
		p.RunLimits().Truncate(res)
	}
	return res, err
}

// ResetSSH emulates VMAccessForLinux's reset_ssh: the extension's code
// runs inside the guest, here `sshdoctor guest apply`.
func (p *Provider) ResetSSH(ctx context.Context, name string) error {
	return p.vmAccess(ctx, name, "reset the SSH configuration", map[string]any{"reset_ssh": true})
}

// ResetUser emulates VMAccessForLinux's username and ssh_key: create or
// repair the account and authorize the key.
func (p *Provider) ResetUser(ctx context.Context, name, user, sshKey string) error {
	if user == "" || strings.TrimSpace(sshKey) == "" {
		return errors.New("reset user: give a user name and an SSH public key")
	}
	return p.vmAccess(ctx, name, "reset user "+user, map[string]any{"username": user, "ssh_key": strings.TrimSpace(sshKey)})
}

// vmAccess runs `sshdoctor guest apply` in the VM with empty public
// settings and every instruction in the protected settings, as Azure's
// provider sends them. The protected settings go through standard input,
// never the command line.
func (p *Provider) vmAccess(ctx context.Context, name, what string, protected map[string]any) error {
	s, v, release, err := p.agent(name)
	if err != nil {
		return err
	}
	defer release()
	data, err := json.Marshal(protected)
	if err != nil {
		return err
	}
	res, err := s.execInput(ctx, v, "exec /run/lab/bin/sshdoctor guest apply --settings '{}' --protected-settings -", data, vmAccessTimeout, false)
	if err != nil {
		return fmt.Errorf("%s on %s (VMAccess): %w", what, v.Name, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s on %s (VMAccess) failed, exit %d: %s", what, v.Name, res.ExitCode, lastLines(res.Stdout+res.Stderr, 8))
	}
	return nil
}

// lastLines keeps the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	lines := slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// SetNSGRule sets a rule in the NSG with that ID, as EffectiveNSGs
// reports it: SubnetNSGID (created when the subnet has none) or
// NICNSGID(vm). A bare VM name and "subnet" are accepted too.
func (p *Provider) SetNSGRule(_ context.Context, nsgID string, rule cloud.SecurityRule) error {
	return p.changeState(func(s *State) error {
		v, subnet, err := resolveNSG(s, nsgID)
		if err != nil {
			return err
		}
		if subnet {
			return s.SetSubnetRule(rule)
		}
		return s.SetNICRule(v, rule)
	})
}

// RemoveNSGRule removes a rule from the NSG with that ID.
func (p *Provider) RemoveNSGRule(_ context.Context, nsgID, rule string) error {
	return p.changeState(func(s *State) error {
		v, subnet, err := resolveNSG(s, nsgID)
		if err != nil {
			return err
		}
		if subnet {
			return s.RemoveSubnetRule(rule)
		}
		return s.RemoveNICRule(v, rule)
	})
}

// resolveNSG finds the NSG an ID names: the subnet's, or a VM's NIC NSG.
func resolveNSG(s *State, id string) (v *VMState, subnet bool, err error) {
	if id == SubnetNSGID || id == "subnet" {
		return nil, true, nil
	}
	if v, err := s.VM(id); err == nil {
		return v, false, nil
	}
	if vm, ok := strings.CutSuffix(id, "-nsg"); ok {
		if v, err := s.VM(vm); err == nil {
			return v, false, nil
		}
	}
	return nil, false, notFoundf("the lab has no NSG %q (NSGs: %s and <vm>-nsg for each VM)", id, SubnetNSGID)
}

// RemoveRoute deletes a user route from route table RouteTable.
func (p *Provider) RemoveRoute(_ context.Context, tableID, route string) error {
	if tableID != RouteTable {
		return notFoundf("the lab has no route table %q (its user routes are in %s)", tableID, RouteTable)
	}
	return p.changeState(func(s *State) error { return s.RemoveRoute(route) })
}
