// Package cloud defines the control-plane model sshdoctor diagnoses and acts
// on: virtual machines, their health and serial log, network security groups
// in Azure's model, effective routes, and the actions a cloud offers (start,
// stop, restart, redeploy, run a command in the guest). The local lab and
// Azure both implement Provider.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every provider returns (wrapped, test with errors.Is) so callers
// decide without knowing which cloud answered.
var (
	// ErrNotFound: the VM, NSG, rule or route does not exist.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the caller's identity lacks the permission.
	ErrForbidden = errors.New("permission denied by the control plane")
	// ErrNotRunning: the operation needs a running VM.
	ErrNotRunning = errors.New("the VM is not running")
	// ErrAgentNotReady: the in-guest agent does not answer, so run-command
	// and extensions (VMAccess) cannot work.
	ErrAgentNotReady = errors.New("the VM agent is not ready")
	// ErrUnsupported: this provider cannot do that.
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrBusy: another operation holds the resource (Azure answers 409 to
	// a run-command while one is running).
	ErrBusy = errors.New("another operation is in progress on the VM")
)

// PowerState of a VM, as Azure names them.
type PowerState string

// Power states.
const (
	PowerRunning     PowerState = "running"
	PowerStopped     PowerState = "stopped"     // OS shut down, resources still allocated
	PowerDeallocated PowerState = "deallocated" // stopped and released
	PowerStarting    PowerState = "starting"
	PowerStopping    PowerState = "stopping"
	PowerUnknown     PowerState = "unknown"
)

// HealthState is Azure Resource Health's availability state.
type HealthState string

// Health states.
const (
	HealthAvailable   HealthState = "Available"
	HealthUnavailable HealthState = "Unavailable"
	HealthDegraded    HealthState = "Degraded"
	HealthUnknown     HealthState = "Unknown"
)

// VM is what the control plane knows about a machine.
type VM struct {
	Name              string     `json:"name"`
	PowerState        PowerState `json:"power_state"`
	ProvisioningState string     `json:"provisioning_state"` // Succeeded, Failed, Updating…
	PrivateIP         string     `json:"private_ip"`
	PublicIP          string     `json:"public_ip,omitempty"`
	AgentReady        bool       `json:"agent_ready"` // the in-guest agent answers (run-command works)
	// ID is the provider's identity of the VM (Azure resource ID).
	ID       string `json:"id,omitempty"`
	Location string `json:"location,omitempty"`
	// AgentStatus is the agent's own status line ("Ready", "Not Ready: …").
	AgentStatus string `json:"agent_status,omitempty"`
	// ProvisioningDetail is the failure message of a failed provisioning.
	ProvisioningDetail string `json:"provisioning_detail,omitempty"`
	// BootDiagnostics: the serial log can be read.
	BootDiagnostics bool   `json:"boot_diagnostics"`
	NIC             string `json:"nic,omitempty"`
	// NICID is the NIC's provider identity (Azure resource ID).
	NICID string `json:"nic_id,omitempty"`
	// PublicIPResource names the public IP resource on the NIC (it may
	// hold no address: dynamic and released); PublicIPSKU is its SKU
	// ("Basic" is open by default, "Standard" closed until an NSG allows).
	PublicIPResource string `json:"public_ip_resource,omitempty"`
	PublicIPSKU      string `json:"public_ip_sku,omitempty"`
	// InboundNAT are the load balancer's inbound NAT rules that forward
	// to this NIC: the way in when the VM has no public IP of its own.
	InboundNAT []NATRule `json:"inbound_nat,omitempty"`
	// Bastion names the Azure Bastion host in the VM's virtual network
	// (its AzureBastionSubnet), another way in; "" when there is none or
	// it was not looked for (the VM has a public IP).
	Bastion string `json:"bastion,omitempty"`
}

// Health is a resource-health answer.
type Health struct {
	State   HealthState `json:"state"`
	Summary string      `json:"summary"`
	Reason  string      `json:"reason,omitempty"`
}

// Access of a security rule.
type Access string

// Accesses.
const (
	Allow Access = "Allow"
	Deny  Access = "Deny"
)

// Direction of a security rule.
type Direction string

// Directions.
const (
	Inbound  Direction = "Inbound"
	Outbound Direction = "Outbound"
)

// SecurityRule is one NSG rule in Azure's model. Prefixes are CIDRs, single
// addresses, "*", or the service tags "VirtualNetwork", "Internet" and
// "AzureLoadBalancer". Ports are "*", "22" or "1000-2000". Protocol is
// "Tcp", "Udp", "Icmp" or "*".
type SecurityRule struct {
	Name                       string    `json:"name"`
	Priority                   int       `json:"priority"` // 100-4096 user rules; defaults 65000+
	Direction                  Direction `json:"direction"`
	Access                     Access    `json:"access"`
	Protocol                   string    `json:"protocol"`
	SourceAddressPrefixes      []string  `json:"source_address_prefixes"`
	SourcePortRanges           []string  `json:"source_port_ranges"`
	DestinationAddressPrefixes []string  `json:"destination_address_prefixes"`
	DestinationPortRanges      []string  `json:"destination_port_ranges"`
	Default                    bool      `json:"default,omitempty"` // one of Azure's defaultSecurityRules
	// Opaque: the provider's rule holds what this model does not carry
	// (application security groups, a description): it is evaluated as
	// read, but must never be written back from this value.
	Opaque bool `json:"opaque,omitempty"`
	// Unevaluable says why this rule's match cannot be decided here (a
	// service tag only the cloud expands, an AVNM admin rule…). Such a
	// rule is never taken as matching, its priority stays taken, and a
	// verdict it could have changed is reported as uncertain.
	Unevaluable string `json:"unevaluable,omitempty"`
}

// NATRule is a load balancer's inbound NAT rule to the VM: connections
// to FrontendIP:FrontendPort reach the VM's BackendPort.
type NATRule struct {
	Name         string `json:"name"`
	LoadBalancer string `json:"load_balancer"`
	FrontendIP   string `json:"frontend_ip,omitempty"`
	// FrontendSKU is the load balancer's SKU: "Standard" is closed to
	// inbound traffic until an NSG allows it, as a Standard public IP.
	FrontendSKU  string `json:"frontend_sku,omitempty"`
	FrontendPort int    `json:"frontend_port"`
	BackendPort  int    `json:"backend_port"`
}

// NSG is a network security group: user rules plus Azure's default rules.
type NSG struct {
	// ID is what SetNSGRule/RemoveNSGRule take to change this NSG (Azure:
	// the resource ID; lab: "subnet" or the VM name).
	ID    string         `json:"id,omitempty"`
	Name  string         `json:"name"`
	Rules []SecurityRule `json:"rules"` // user rules only; DefaultRules() are implied
}

// DefaultRules are the rules every Azure NSG carries, lowest priority.
func DefaultRules() []SecurityRule {
	all := []string{"*"}
	return []SecurityRule{
		{Name: "AllowVnetInBound", Priority: 65000, Direction: Inbound, Access: Allow, Protocol: "*", SourceAddressPrefixes: []string{"VirtualNetwork"}, SourcePortRanges: all, DestinationAddressPrefixes: []string{"VirtualNetwork"}, DestinationPortRanges: all, Default: true},
		{Name: "AllowAzureLoadBalancerInBound", Priority: 65001, Direction: Inbound, Access: Allow, Protocol: "*", SourceAddressPrefixes: []string{"AzureLoadBalancer"}, SourcePortRanges: all, DestinationAddressPrefixes: all, DestinationPortRanges: all, Default: true},
		{Name: "DenyAllInBound", Priority: 65500, Direction: Inbound, Access: Deny, Protocol: "*", SourceAddressPrefixes: all, SourcePortRanges: all, DestinationAddressPrefixes: all, DestinationPortRanges: all, Default: true},
		{Name: "AllowVnetOutBound", Priority: 65000, Direction: Outbound, Access: Allow, Protocol: "*", SourceAddressPrefixes: []string{"VirtualNetwork"}, SourcePortRanges: all, DestinationAddressPrefixes: []string{"VirtualNetwork"}, DestinationPortRanges: all, Default: true},
		{Name: "AllowInternetOutBound", Priority: 65001, Direction: Outbound, Access: Allow, Protocol: "*", SourceAddressPrefixes: all, SourcePortRanges: all, DestinationAddressPrefixes: []string{"Internet"}, DestinationPortRanges: all, Default: true},
		{Name: "DenyAllOutBound", Priority: 65500, Direction: Outbound, Access: Deny, Protocol: "*", SourceAddressPrefixes: all, SourcePortRanges: all, DestinationAddressPrefixes: all, DestinationPortRanges: all, Default: true},
	}
}

// EffectiveNSGs are the NSGs applying to one NIC: the subnet's, then the
// NIC's, for inbound traffic (outbound: NIC then subnet). Nil means none.
type EffectiveNSGs struct {
	Subnet *NSG `json:"subnet,omitempty"`
	NIC    *NSG `json:"nic,omitempty"`
	// VNetPrefixes is the address space the VirtualNetwork tag stands for.
	VNetPrefixes []string `json:"vnet_prefixes"`
	// Live: Azure's effective view of a running NIC; false means the
	// configured NSGs were read (the VM does not run).
	Live bool `json:"live"`
}

// NextHopType of a route, as Azure names them.
type NextHopType string

// Next hop types.
const (
	NextHopVnetLocal        NextHopType = "VnetLocal"
	NextHopInternet         NextHopType = "Internet"
	NextHopVirtualAppliance NextHopType = "VirtualAppliance"
	NextHopGateway          NextHopType = "VirtualNetworkGateway"
	NextHopNone             NextHopType = "None"
)

// Route is one entry of an (effective) route table.
type Route struct {
	Name          string      `json:"name"`
	AddressPrefix string      `json:"address_prefix"`
	NextHopType   NextHopType `json:"next_hop_type"`
	NextHopIP     string      `json:"next_hop_ip,omitempty"`
	Source        string      `json:"source"` // "Default" (system), "User" (UDR), "VirtualNetworkGateway" (BGP)
	// Table identifies the route table of a user route, for RemoveRoute.
	Table string `json:"table,omitempty"`
}

// RunResult is the outcome of a run-command.
type RunResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	// Truncated: the provider kept only the tail of stdout or stderr.
	Truncated bool `json:"truncated,omitempty"`
}

// RunLimits are what a provider's run-command keeps and allows. Azure's
// (RunCommand on Linux): the last 4096 bytes of stdout and of stderr, one
// command at a time per VM, no cancellation once started.
type RunLimits struct {
	MaxStdout   int  `json:"max_stdout"` // bytes kept (the tail); 0 = unbounded
	MaxStderr   int  `json:"max_stderr"`
	Cancellable bool `json:"cancellable"`
}

// AzureRunLimits are Azure run-command's limits; the lab emulates them.
var AzureRunLimits = RunLimits{MaxStdout: 4096, MaxStderr: 4096}

// Truncate applies l to r as the provider would: keep the tails.
func (l RunLimits) Truncate(r *RunResult) {
	if l.MaxStdout > 0 && len(r.Stdout) > l.MaxStdout {
		r.Stdout, r.Truncated = r.Stdout[len(r.Stdout)-l.MaxStdout:], true
	}
	if l.MaxStderr > 0 && len(r.Stderr) > l.MaxStderr {
		r.Stderr, r.Truncated = r.Stderr[len(r.Stderr)-l.MaxStderr:], true
	}
}

// Provider is a cloud control plane: the one seam between sshdoctor's
// engines (cloud check, fix) and a cloud. The lab (internal/lab) and Azure
// (internal/azure) implement it. Errors wrap the Err* values above.
type Provider interface {
	// Kind names the provider ("lab", "azure") for reports and commands.
	Kind() string
	GetVM(ctx context.Context, name string) (*VM, error)
	Health(ctx context.Context, name string) (*Health, error)
	SerialLog(ctx context.Context, name string) ([]byte, error)
	EffectiveNSGs(ctx context.Context, name string) (*EffectiveNSGs, error)
	EffectiveRoutes(ctx context.Context, name string) ([]Route, error)
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error // deallocate
	Restart(ctx context.Context, name string) error
	// Redeploy moves the VM to a new host: new address, temporary disk
	// wiped, OS disk kept. Destructive: callers confirm first.
	Redeploy(ctx context.Context, name string) error
	// RunCommand runs a shell script as root in the guest through the
	// agent, within RunLimits (ErrBusy while another runs).
	RunCommand(ctx context.Context, name, script string, timeout time.Duration) (*RunResult, error)
	RunLimits() RunLimits
	// SetNSGRule creates or replaces a rule (by name) in the NSG with that
	// ID, as EffectiveNSGs reported it; RemoveNSGRule deletes one.
	SetNSGRule(ctx context.Context, nsgID string, rule SecurityRule) error
	RemoveNSGRule(ctx context.Context, nsgID, rule string) error
	// RemoveRoute deletes a user route from the route table with that ID.
	RemoveRoute(ctx context.Context, tableID, route string) error
	// ResetSSH and ResetUser are Azure's VMAccess extension: reset sshd's
	// configuration to safe defaults; create or repair an account and
	// authorize a public key (authorized_keys line).
	ResetSSH(ctx context.Context, name string) error
	ResetUser(ctx context.Context, name, user, sshKey string) error
}

// WaitReady waits until the VM runs, its agent is ready and, when probe is
// set, probe succeeds (the caller's "is sshd's port open"), polling every
// interval up to timeout. The error names what was still missing.
func WaitReady(ctx context.Context, p Provider, name string, timeout, interval time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if interval <= 0 {
		interval = time.Second
	}
	var last error
	for {
		vm, err := p.GetVM(ctx, name)
		switch {
		case err != nil:
			last = err
		case vm.PowerState != PowerRunning:
			last = fmt.Errorf("%w (power state %s)", ErrNotRunning, vm.PowerState)
		case !vm.AgentReady:
			last = fmt.Errorf("%w (%s)", ErrAgentNotReady, orDash(vm.AgentStatus))
		case probe != nil:
			if last = probe(ctx); last == nil {
				return nil
			}
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return &WaitError{VM: name, Timeout: timeout, Last: last}
		case <-time.After(interval):
		}
	}
}

// WaitError: WaitReady ran out of time.
type WaitError struct {
	VM      string
	Timeout time.Duration
	Last    error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s was not ready after %s: %v", e.VM, e.Timeout, e.Last)
}

func (e *WaitError) Unwrap() error { return e.Last }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
