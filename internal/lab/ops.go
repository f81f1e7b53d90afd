package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// nft tables the lab owns.
const (
	tableSubnet = "sdlab_subnet" // router: the subnet NSG
	tablePower  = "sdlab_power"  // router: drops traffic to deallocated VMs
	tableNIC    = "sdlab_nic"    // router: one per VM, its NIC NSG (sdlab_nic_<index>)
)

func nicTable(v *VMState) string { return fmt.Sprintf("%s_%d", tableNIC, v.Index) }

// applyNetwork enforces the control plane's network state: subnet NSG and
// power in the router, NIC NSGs and user-defined routes in each VM.
func (s *State) applyNetwork() error {
	r := s.nsRouter()
	if s.SubnetNSG != nil {
		rs, err := netpolicy.NFTInbound(tableSubnet, "forward", s.SubnetNSG, []string{VNetCIDR}, VNetCIDR)
		if err != nil {
			return err
		}
		if err := nft(r, rs); err != nil {
			return err
		}
	} else if err := nft(r, netpolicy.NFTDelete(tableSubnet)); err != nil {
		return err
	}
	// A deallocated VM has no host: its address answers nothing, as in
	// Azure, so connections time out rather than being refused.
	var down []string
	for _, v := range s.VMs {
		if v.Power != cloud.PowerRunning {
			down = append(down, v.IP())
		}
	}
	power := netpolicy.NFTDelete(tablePower)
	if len(down) > 0 {
		power += fmt.Sprintf("table inet %s {\n  chain deallocated {\n    type filter hook forward priority -10; policy accept;\n    ip daddr { %s } drop\n  }\n}\n", tablePower, strings.Join(down, ", "))
	}
	if err := nft(r, power); err != nil {
		return err
	}
	for _, v := range s.VMs {
		// A NIC NSG is named after its VM, whatever template built it.
		if v.NSG != nil {
			v.NSG.Name = NICNSGID(v.Name)
		}
		if err := s.applyVMNetwork(v); err != nil {
			return err
		}
	}
	return nil
}

func (s *State) applyVMNetwork(v *VMState) error {
	ns := s.nsVM(v)
	if !nsExists(ns) {
		return nil
	}
	// The NIC NSG is enforced in the router, scoped to the VM's address,
	// as a separate table on the forward hook: a packet must pass every
	// base chain, so subnet and NIC NSG must both allow, as in Azure. It
	// stays out of the VM's own namespace, where the guest would see it.
	table := nicTable(v)
	if v.NSG != nil {
		rs, err := netpolicy.NFTInbound(table, "forward", v.NSG, []string{VNetCIDR}, v.IP()+"/32")
		if err != nil {
			return err
		}
		if err := nft(s.nsRouter(), rs); err != nil {
			return err
		}
	} else if err := nft(s.nsRouter(), netpolicy.NFTDelete(table)); err != nil {
		return err
	}
	_ = run("ip", "-n", ns, "route", "flush", "proto", "static")
	for _, rt := range s.Routes {
		var err error
		switch rt.NextHopType {
		case cloud.NextHopNone:
			err = run("ip", "-n", ns, "route", "replace", "blackhole", rt.AddressPrefix, "proto", "static")
		case cloud.NextHopVirtualAppliance:
			err = run("ip", "-n", ns, "route", "replace", rt.AddressPrefix, "via", rt.NextHopIP, "proto", "static")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *State) bootFault(v *VMState) bool {
	_, err := os.Stat(filepath.Join(s.vmDir(v.Name), "boot-fault"))
	return err == nil
}

// Start boots a deallocated VM.
func (s *State) Start(v *VMState, self string) error {
	if v.Power == cloud.PowerRunning && v.alive() {
		return nil
	}
	v.Power = cloud.PowerStarting
	if !nsExists(s.nsVM(v)) {
		if err := s.setupVMNet(v); err != nil {
			return err
		}
	}
	if err := s.boot(context.Background(), v, self, false); err != nil {
		return err
	}
	return s.applyNetwork()
}

// Stop deallocates a VM: every process ends; its address stops answering.
func (s *State) Stop(v *VMState) error {
	s.kill(v)
	return s.applyNetwork()
}

// Restart reboots a VM (stop, then start).
func (s *State) Restart(v *VMState, self string) error {
	s.kill(v)
	return s.Start(v, self)
}

// Redeploy moves a VM to "another host": it is stopped, gets a new
// address, its temporary disk (/mnt) is wiped, and it boots again. The OS
// disk (/etc, /home, /root, /var/log) is kept.
func (s *State) Redeploy(v *VMState, self string) error {
	s.kill(v)
	s.teardownVMNet(v)
	// The NIC NSG table is named and scoped by the old address.
	if err := nft(s.nsRouter(), netpolicy.NFTDelete(nicTable(v))); err != nil {
		return err
	}
	used := map[int]bool{}
	for _, o := range s.VMs {
		used[o.Index] = true
	}
	for i := v.Index + 1; ; i++ {
		if !used[i] && firstVMHost+i < 250 {
			v.Index = i
			break
		}
		if firstVMHost+i >= 250 {
			return fmt.Errorf("no free address left in %s", VNetCIDR)
		}
	}
	tmp := filepath.Join(s.vmDir(v.Name), "tmpdisk")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := s.setupVMNet(v); err != nil {
		return err
	}
	if err := s.boot(context.Background(), v, self, false); err != nil {
		return err
	}
	if err := s.writeClientConfig(); err != nil {
		return err
	}
	return s.applyNetwork()
}

// SerialLog returns the VM's console output, all boots.
func (s *State) SerialLog(v *VMState) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.vmDir(v.Name), "console.log"))
}

// Health answers like Azure Resource Health.
func (s *State) Health(v *VMState) cloud.Health {
	switch {
	case v.Power != cloud.PowerRunning:
		return cloud.Health{State: cloud.HealthUnavailable, Summary: "The virtual machine is stopped and deallocated.", Reason: "Customer initiated"}
	case !v.alive():
		return cloud.Health{State: cloud.HealthUnavailable, Summary: "The virtual machine is not running; its host process is gone.", Reason: "Unexpected"}
	case s.bootFault(v):
		return cloud.Health{State: cloud.HealthDegraded, Summary: "The guest OS did not finish booting (see the serial log).", Reason: "Guest OS"}
	}
	return cloud.Health{State: cloud.HealthAvailable, Summary: "There aren't any known problems affecting this virtual machine."}
}

// settle gives a just-changed guest a moment (service restarts are
// asynchronous signals to the VM's init).
func settle() { time.Sleep(150 * time.Millisecond) }

// SetNICRule adds or replaces (by name) an inbound rule of v's NIC NSG.
func (s *State) SetNICRule(v *VMState, r cloud.SecurityRule) error {
	n, err := withRule(v.NSG, NICNSGID(v.Name), r)
	if err != nil {
		return err
	}
	v.NSG = n
	return s.applyNetwork()
}

// SetSubnetRule adds or replaces (by name) an inbound rule of the subnet
// NSG, creating the NSG when the subnet has none.
func (s *State) SetSubnetRule(r cloud.SecurityRule) error {
	n, err := withRule(s.SubnetNSG, SubnetNSGID, r)
	if err != nil {
		return err
	}
	s.SubnetNSG = n
	return s.applyNetwork()
}

// withRule returns a copy of n (a new NSG named name when n is nil) with
// r added or replacing the rule of its name, checked as Azure checks it.
func withRule(n *cloud.NSG, name string, r cloud.SecurityRule) (*cloud.NSG, error) {
	if r.Name == "" || r.Priority < 100 || r.Priority > 4096 {
		return nil, fmt.Errorf("a rule needs --name and a --priority between 100 and 4096")
	}
	if r.Access != cloud.Allow && r.Access != cloud.Deny {
		return nil, fmt.Errorf("--access must be Allow or Deny, not %q", r.Access)
	}
	n = cloneNSG(n)
	if n == nil {
		n = &cloud.NSG{Name: name}
	}
	n.Rules = slices.DeleteFunc(n.Rules, func(x cloud.SecurityRule) bool { return x.Name == r.Name })
	for _, x := range n.Rules {
		if x.Priority == r.Priority && x.Direction == r.Direction {
			return nil, fmt.Errorf("priority %d is already used by rule %s", r.Priority, x.Name)
		}
	}
	n.Rules = append(n.Rules, r)
	// Compiling checks the rules; which level the NSG is at does not matter.
	if _, err := netpolicy.Compile(&cloud.EffectiveNSGs{NIC: n, VNetPrefixes: []string{VNetCIDR}}); err != nil {
		return nil, err
	}
	return n, nil
}

// RemoveNICRule deletes a rule of v's NIC NSG by name.
func (s *State) RemoveNICRule(v *VMState, name string) error {
	n, err := withoutRule(v.NSG, name)
	if err != nil {
		return fmt.Errorf("%s's NIC NSG: %w", v.Name, err)
	}
	v.NSG = n
	return s.applyNetwork()
}

// RemoveSubnetRule deletes a rule of the subnet NSG by name. The NSG
// stays, with Azure's default rules only when it was the last.
func (s *State) RemoveSubnetRule(name string) error {
	n, err := withoutRule(s.SubnetNSG, name)
	if err != nil {
		return fmt.Errorf("the subnet NSG: %w", err)
	}
	s.SubnetNSG = n
	return s.applyNetwork()
}

func withoutRule(n *cloud.NSG, name string) (*cloud.NSG, error) {
	if n == nil || !slices.ContainsFunc(n.Rules, func(x cloud.SecurityRule) bool { return x.Name == name }) {
		return nil, notFoundf("no rule %q", name)
	}
	n = cloneNSG(n)
	n.Rules = slices.DeleteFunc(n.Rules, func(x cloud.SecurityRule) bool { return x.Name == name })
	return n, nil
}

// SetRoute adds or replaces a user-defined route on the VM subnet.
func (s *State) SetRoute(r cloud.Route) error {
	if _, err := netip.ParsePrefix(r.AddressPrefix); err != nil {
		return fmt.Errorf("route prefix %q: %v", r.AddressPrefix, err)
	}
	switch r.NextHopType {
	case cloud.NextHopNone:
	case cloud.NextHopVirtualAppliance:
		if _, err := netip.ParseAddr(r.NextHopIP); err != nil {
			return fmt.Errorf("VirtualAppliance needs --next-hop-ip: %v", err)
		}
	default:
		return fmt.Errorf("next hop must be None or VirtualAppliance, not %q", r.NextHopType)
	}
	s.Routes = append(slices.DeleteFunc(s.Routes, func(x cloud.Route) bool { return x.Name == r.Name }), r)
	return s.applyNetwork()
}

// RemoveRoute deletes a user-defined route by name.
func (s *State) RemoveRoute(name string) error {
	if !slices.ContainsFunc(s.Routes, func(x cloud.Route) bool { return x.Name == name }) {
		return notFoundf("no route %q in %s", name, RouteTable)
	}
	s.Routes = slices.DeleteFunc(s.Routes, func(x cloud.Route) bool { return x.Name == name })
	return s.applyNetwork()
}
