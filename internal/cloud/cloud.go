// Package cloud defines the control-plane model sshdoctor diagnoses and acts
// on: virtual machines, their health and serial log, network security groups
// in Azure's model, effective routes, and the actions a cloud offers (start,
// stop, restart, redeploy, run a command in the guest). The local lab and
// Azure both implement Provider.
package cloud

import (
	"context"
	"time"
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
}

// NSG is a network security group: user rules plus Azure's default rules.
type NSG struct {
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
}

// RunResult is the outcome of a run-command.
type RunResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// Provider is a cloud control plane.
type Provider interface {
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
	RunCommand(ctx context.Context, name, script string, timeout time.Duration) (*RunResult, error)
	SetNSGRule(ctx context.Context, nsg string, rule SecurityRule) error
	RemoveNSGRule(ctx context.Context, nsg, rule string) error
}
