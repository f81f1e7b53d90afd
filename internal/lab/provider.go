package lab

import (
	"context"
	"fmt"
	"slices"
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
	return s, v, err
}

func (p *Provider) change(name string, f func(s *State, v *VMState) error) error {
	unlock, err := Lock(p.dir())
	if err != nil {
		return err
	}
	defer unlock()
	s, v, err := p.read(name)
	if err != nil {
		return err
	}
	ferr := f(s, v)
	if err := s.Save(); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

// GetVM returns the VM's control-plane view.
func (p *Provider) GetVM(_ context.Context, name string) (*cloud.VM, error) {
	_, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	power := v.Power
	if power == cloud.PowerRunning && !v.alive() {
		power = cloud.PowerStopped
	}
	return &cloud.VM{Name: v.Name, PowerState: power, ProvisioningState: "Succeeded", PrivateIP: v.IP(), AgentReady: power == cloud.PowerRunning}, nil
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

// EffectiveNSGs returns the subnet and NIC NSGs of the VM.
func (p *Provider) EffectiveNSGs(_ context.Context, name string) (*cloud.EffectiveNSGs, error) {
	s, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	return &cloud.EffectiveNSGs{Subnet: cloneNSG(s.SubnetNSG), NIC: cloneNSG(v.NSG), VNetPrefixes: []string{VNetCIDR}}, nil
}

// EffectiveRoutes returns the system routes plus user-defined ones.
func (p *Provider) EffectiveRoutes(_ context.Context, name string) ([]cloud.Route, error) {
	s, _, err := p.read(name)
	if err != nil {
		return nil, err
	}
	routes := []cloud.Route{
		{Name: "vnet", AddressPrefix: VNetCIDR, NextHopType: cloud.NextHopVnetLocal, Source: "Default"},
		{Name: "default", AddressPrefix: "0.0.0.0/0", NextHopType: cloud.NextHopInternet, Source: "Default"},
	}
	return append(routes, slices.Clone(s.Routes)...), nil
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

// RunCommand runs a script as root in the VM.
func (p *Provider) RunCommand(ctx context.Context, name, script string, timeout time.Duration) (*cloud.RunResult, error) {
	s, v, err := p.read(name)
	if err != nil {
		return nil, err
	}
	return s.Exec(ctx, v, script, timeout)
}

// SetNSGRule sets a rule in an NSG named "<vm>" (its NIC NSG) or "subnet".
func (p *Provider) SetNSGRule(_ context.Context, nsg string, rule cloud.SecurityRule) error {
	if nsg == "subnet" {
		return fmt.Errorf("the lab's subnet NSG is set through faults; use a VM name for its NIC NSG")
	}
	return p.change(nsg, func(s *State, v *VMState) error { return s.SetNICRule(v, rule) })
}

// RemoveNSGRule removes a rule from a VM's NIC NSG.
func (p *Provider) RemoveNSGRule(_ context.Context, nsg, rule string) error {
	return p.change(nsg, func(s *State, v *VMState) error { return s.RemoveNICRule(v, rule) })
}
