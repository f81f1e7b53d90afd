// Package azure is sshdoctor's Azure control plane: a cloud.Provider over
// Azure Resource Manager for the VMs of one resource group, the VMAccess
// actions (reset the SSH configuration or a user's credentials), and
// Check, which gathers what Azure knows about a VM and the network path to
// it and judges it into findings.
//
// Everything goes through the Azure SDK for Go, built from an
// azcore.TokenCredential and arm.ClientOptions, so tests plug in the SDK's
// fake servers (azcore/fake and each module's fake package) as transport.
package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcehealth/armresourcehealth"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Provider is cloud.Provider for the VMs of one resource group. NICs,
// public IPs, NSGs and subnets are followed by resource ID, so they may
// live in other resource groups of the subscription.
type Provider struct {
	Subscription  string
	ResourceGroup string
	// PollFrequency is how often long-running operations are polled
	// (zero: defaultPoll). Tests make it tiny.
	PollFrequency time.Duration
	// Progress, when set, hears how long a long-running operation has
	// been running (the CLI prints it on stderr).
	Progress func(msg string)

	vms     *armcompute.VirtualMachinesClient
	exts    *armcompute.VirtualMachineExtensionsClient
	nics    *armnetwork.InterfacesClient
	pips    *armnetwork.PublicIPAddressesClient
	nsgs    *armnetwork.SecurityGroupsClient
	rules   *armnetwork.SecurityRulesClient
	subnets *armnetwork.SubnetsClient
	udrs    *armnetwork.RoutesClient // routes of route tables
	// watchers answers --network-watcher's cross-check.
	watchers *armnetwork.WatchersClient
	vnets    *armnetwork.VirtualNetworksClient
	lbs      *armnetwork.LoadBalancersClient
	health   *armresourcehealth.AvailabilityStatusesClient
	// blob fetches the serial log from its SAS URI: the same transport as
	// ARM, but no bearer token, since the SAS signature is the credential.
	blob runtime.Pipeline
	// arm is a bare ARM client (the SDK's pipeline: token, retries) for
	// the answers this package decodes itself.
	arm *arm.Client
}

var _ cloud.Provider = (*Provider)(nil)

const (
	// defaultPoll: VM operations take tens of seconds to minutes; polling
	// faster than this only spends ARM's read quota.
	defaultPoll = 5 * time.Second
	// maxSerialLog bounds what SerialLog reads: the boot-diagnostics blob
	// is capped by Azure at a few MB, and the tail is what matters.
	maxSerialLog = 16 << 20
	// sasMinutes is how long the serial log's SAS URI stays valid; it is
	// used once, at once.
	sasMinutes = 5
)

// New returns a Provider for subscription and resourceGroup. opts may be
// nil; tests pass the SDK fakes' transports in opts.Transport.
func New(subscription, resourceGroup string, cred azcore.TokenCredential, opts *arm.ClientOptions) (*Provider, error) {
	if subscription == "" || resourceGroup == "" {
		return nil, errors.New("azure: subscription and resource group are required")
	}
	if opts == nil {
		opts = &arm.ClientOptions{}
	}
	compute, err := armcompute.NewClientFactory(subscription, cred, opts)
	if err != nil {
		return nil, err
	}
	network, err := armnetwork.NewClientFactory(subscription, cred, opts)
	if err != nil {
		return nil, err
	}
	health, err := armresourcehealth.NewAvailabilityStatusesClient(subscription, cred, opts)
	if err != nil {
		return nil, err
	}
	raw, err := arm.NewClient("sshdoctor", "v1.0.0", cred, opts)
	if err != nil {
		return nil, err
	}
	return &Provider{
		Subscription: subscription, ResourceGroup: resourceGroup,
		vms: compute.NewVirtualMachinesClient(), exts: compute.NewVirtualMachineExtensionsClient(),
		nics: network.NewInterfacesClient(), pips: network.NewPublicIPAddressesClient(),
		nsgs: network.NewSecurityGroupsClient(), rules: network.NewSecurityRulesClient(),
		subnets: network.NewSubnetsClient(), vnets: network.NewVirtualNetworksClient(), udrs: network.NewRoutesClient(),
		watchers: network.NewWatchersClient(), lbs: network.NewLoadBalancersClient(),
		health: health, arm: raw,
		blob: runtime.NewPipeline("sshdoctor", "v1", runtime.PipelineOptions{}, &opts.ClientOptions),
	}, nil
}

// RBAC actions the calls need, named in cloud.access_denied findings.
const (
	actVMRead     = "Microsoft.Compute/virtualMachines/read"
	actBootDiag   = "Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action"
	actStart      = "Microsoft.Compute/virtualMachines/start/action"
	actDeallocate = "Microsoft.Compute/virtualMachines/deallocate/action"
	actRestart    = "Microsoft.Compute/virtualMachines/restart/action"
	actRedeploy   = "Microsoft.Compute/virtualMachines/redeploy/action"
	actRunCommand = "Microsoft.Compute/virtualMachines/runCommand/action"
	actExtWrite   = "Microsoft.Compute/virtualMachines/extensions/write"
	actHealth     = "Microsoft.ResourceHealth/availabilityStatuses/read"
	actNICRead    = "Microsoft.Network/networkInterfaces/read"
	actEffNSG     = "Microsoft.Network/networkInterfaces/effectiveNetworkSecurityGroups/action"
	actEffRoutes  = "Microsoft.Network/networkInterfaces/effectiveRouteTable/action"
	actPIPRead    = "Microsoft.Network/publicIPAddresses/read"
	actNSGRead    = "Microsoft.Network/networkSecurityGroups/read"
	actRuleWrite  = "Microsoft.Network/networkSecurityGroups/securityRules/write"
	actRuleDelete = "Microsoft.Network/networkSecurityGroups/securityRules/delete"
	actRouteDel   = "Microsoft.Network/routeTables/routes/delete"
	actSubnetRead = "Microsoft.Network/virtualNetworks/subnets/read"
	actVNetRead   = "Microsoft.Network/virtualNetworks/read"
	actLBRead     = "Microsoft.Network/loadBalancers/read"
)

// Kind names the provider.
func (p *Provider) Kind() string { return "azure" }

// RunLimits are Azure run-command's.
func (p *Provider) RunLimits() cloud.RunLimits { return cloud.AzureRunLimits }

func (p *Provider) vmID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", p.Subscription, p.ResourceGroup, name)
}

func (p *Provider) poll() *runtime.PollUntilDoneOptions {
	f := p.PollFrequency
	if f <= 0 {
		f = defaultPoll
	}
	return &runtime.PollUntilDoneOptions{Frequency: f}
}

// await polls a long-running operation to completion, telling Progress
// (when set) how long it has been running every progressEvery.
func await[T any](ctx context.Context, p *Provider, poller *runtime.Poller[T], err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if p.Progress == nil {
		return poller.PollUntilDone(ctx, p.poll())
	}
	start, said := time.Now(), time.Duration(0)
	freq := p.poll().Frequency
	for !poller.Done() {
		if _, err := poller.Poll(ctx); err != nil {
			return zero, err
		}
		if poller.Done() {
			break
		}
		every := progressEvery
		if progressEveryTest > 0 {
			every = progressEveryTest
		}
		if el := time.Since(start); el-said >= every {
			said = el
			p.Progress(fmt.Sprintf("Azure is still working (%s) …", el.Round(time.Second)))
		}
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(freq):
		}
	}
	return poller.Result(ctx)
}

// progressEvery is how often a long-running operation reports progress;
// progressEveryTest, when set, replaces it (tests).
const progressEvery = 15 * time.Second

var progressEveryTest time.Duration

// vm reads a VM with its instance view (power, agent, extensions).
func (p *Provider) vm(ctx context.Context, name string) (*armcompute.VirtualMachine, error) {
	r, err := p.vms.Get(ctx, p.ResourceGroup, name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		return nil, fail(err, "read VM "+name, actVMRead, p.vmID(name))
	}
	return &r.VirtualMachine, nil
}

// GetVM returns the VM's power, provisioning and agent state, and its
// primary NIC with its private and public address and public IP resource.
func (p *Provider) GetVM(ctx context.Context, name string) (*cloud.VM, error) {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return nil, err
	}
	out := vmView(vm)
	nic, err := p.primaryNIC(ctx, vm)
	if err != nil {
		return out, err
	}
	return out, p.nicView(ctx, nic, out)
}

// vmView is what the VM resource and its instance view say.
func vmView(vm *armcompute.VirtualMachine) *cloud.VM {
	ready, agent := agentState(vm)
	prov, detail := provisioning(vm)
	return &cloud.VM{
		Name: deref(vm.Name), ID: deref(vm.ID), Location: deref(vm.Location),
		PowerState: powerState(vm), ProvisioningState: prov, ProvisioningDetail: detail,
		AgentReady: ready, AgentStatus: agent, BootDiagnostics: bootDiagnostics(vm),
	}
}

func instanceView(vm *armcompute.VirtualMachine) *armcompute.VirtualMachineInstanceView {
	if vm.Properties == nil || vm.Properties.InstanceView == nil {
		return &armcompute.VirtualMachineInstanceView{}
	}
	return vm.Properties.InstanceView
}

// powerState maps the instance view's PowerState/<state> status code.
func powerState(vm *armcompute.VirtualMachine) cloud.PowerState {
	for _, s := range instanceView(vm).Statuses {
		state, ok := strings.CutPrefix(deref(s.Code), "PowerState/")
		if !ok {
			continue
		}
		switch state {
		case "running":
			return cloud.PowerRunning
		case "stopped":
			return cloud.PowerStopped
		case "deallocated":
			return cloud.PowerDeallocated
		case "starting":
			return cloud.PowerStarting
		case "stopping", "deallocating":
			return cloud.PowerStopping
		}
	}
	return cloud.PowerUnknown
}

// provisioning returns the VM's provisioning state and, when it failed,
// the instance view's message saying why.
func provisioning(vm *armcompute.VirtualMachine) (state, detail string) {
	if vm.Properties != nil {
		state = deref(vm.Properties.ProvisioningState)
	}
	for _, s := range instanceView(vm).Statuses {
		code := deref(s.Code)
		if strings.HasPrefix(code, "ProvisioningState/failed") {
			if state == "" {
				state = "Failed"
			}
			detail = strings.TrimSpace(code + ": " + deref(s.Message))
		}
	}
	return state, detail
}

// agentState reports whether the VM agent says Ready, and its status line.
func agentState(vm *armcompute.VirtualMachine) (ready bool, status string) {
	a := instanceView(vm).VMAgent
	if a == nil {
		return false, "no agent status reported"
	}
	var parts []string
	for _, s := range a.Statuses {
		if deref(s.DisplayStatus) == "Ready" {
			ready = true
		}
		part := deref(s.DisplayStatus)
		if m := deref(s.Message); m != "" {
			part += " (" + strings.TrimSuffix(m, ".") + ")"
		}
		parts = append(parts, part)
	}
	if v := deref(a.VMAgentVersion); v != "" && v != "Unknown" {
		parts = append(parts, "version "+v)
	}
	if len(parts) == 0 {
		return false, "no agent status reported"
	}
	return ready, strings.Join(parts, "; ")
}

func bootDiagnostics(vm *armcompute.VirtualMachine) bool {
	pr := vm.Properties
	return pr != nil && pr.DiagnosticsProfile != nil && pr.DiagnosticsProfile.BootDiagnostics != nil &&
		deref(pr.DiagnosticsProfile.BootDiagnostics.Enabled)
}

// primaryNIC reads the VM's primary network interface (the first one
// when none is marked primary).
func (p *Provider) primaryNIC(ctx context.Context, vm *armcompute.VirtualMachine) (*armnetwork.Interface, error) {
	var id string
	if vm.Properties != nil && vm.Properties.NetworkProfile != nil {
		for _, ref := range vm.Properties.NetworkProfile.NetworkInterfaces {
			if id == "" || (ref.Properties != nil && deref(ref.Properties.Primary)) {
				id = deref(ref.ID)
			}
		}
	}
	if id == "" {
		return nil, fmt.Errorf("VM %s has no network interface", deref(vm.Name))
	}
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, fmt.Errorf("VM %s: network interface %q: %w", deref(vm.Name), id, err)
	}
	r, err := p.nics.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return nil, fail(err, "read network interface "+rid.Name, actNICRead, id)
	}
	return &r.Interface, nil
}

// primaryIPConfig is the NIC's primary IP configuration.
func primaryIPConfig(nic *armnetwork.Interface) *armnetwork.InterfaceIPConfigurationPropertiesFormat {
	var out *armnetwork.InterfaceIPConfigurationPropertiesFormat
	if nic.Properties == nil {
		return &armnetwork.InterfaceIPConfigurationPropertiesFormat{}
	}
	for _, c := range nic.Properties.IPConfigurations {
		if c.Properties != nil && (out == nil || deref(c.Properties.Primary)) {
			out = c.Properties
		}
	}
	if out == nil {
		return &armnetwork.InterfaceIPConfigurationPropertiesFormat{}
	}
	return out
}

// nicView fills out with the NIC's name, its private address and its
// public IP resource: name, SKU and address ("" when it holds none).
func (p *Provider) nicView(ctx context.Context, nic *armnetwork.Interface, out *cloud.VM) error {
	c := primaryIPConfig(nic)
	out.NIC, out.NICID, out.PrivateIP = deref(nic.Name), deref(nic.ID), deref(c.PrivateIPAddress)
	if c.PublicIPAddress == nil || c.PublicIPAddress.ID == nil {
		// No address of its own: the ways in are a load balancer's
		// inbound NAT rules and Azure Bastion in the VNet.
		nat, err := p.inboundNAT(ctx, c)
		if err != nil {
			return err
		}
		out.InboundNAT = nat
		out.Bastion = p.bastion(ctx, c)
		return nil
	}
	id := *c.PublicIPAddress.ID
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return fmt.Errorf("public IP %q: %w", id, err)
	}
	out.PublicIPResource = rid.Name
	r, err := p.pips.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return fail(err, "read public IP "+rid.Name, actPIPRead, id)
	}
	if r.SKU != nil {
		out.PublicIPSKU = string(deref(r.SKU.Name))
	}
	if r.Properties != nil {
		out.PublicIP = deref(r.Properties.IPAddress)
	}
	return nil
}

// inboundNAT reads the load balancer NAT rules that forward to the IP
// configuration, with their frontend's public address.
func (p *Provider) inboundNAT(ctx context.Context, c *armnetwork.InterfaceIPConfigurationPropertiesFormat) ([]cloud.NATRule, error) {
	var out []cloud.NATRule
	lbs := map[string]*armnetwork.LoadBalancer{}
	for _, ref := range c.LoadBalancerInboundNatRules {
		if ref == nil || ref.ID == nil {
			continue
		}
		rid, err := arm.ParseResourceID(*ref.ID)
		if err != nil || rid.Parent == nil {
			return nil, fmt.Errorf("inbound NAT rule %q: not a rule of a load balancer", deref(ref.ID))
		}
		lbID := rid.Parent.String()
		lb := lbs[strings.ToLower(lbID)]
		if lb == nil {
			r, err := p.lbs.Get(ctx, rid.ResourceGroupName, rid.Parent.Name, nil)
			if err != nil {
				return nil, fail(err, "read load balancer "+rid.Parent.Name, actLBRead, lbID)
			}
			lb = &r.LoadBalancer
			lbs[strings.ToLower(lbID)] = lb
		}
		n := cloud.NATRule{Name: rid.Name, LoadBalancer: rid.Parent.Name}
		if lb.SKU != nil {
			n.FrontendSKU = string(deref(lb.SKU.Name))
		}
		if lb.Properties == nil {
			continue
		}
		var front string
		for _, r := range lb.Properties.InboundNatRules {
			if r != nil && strings.EqualFold(deref(r.Name), rid.Name) && r.Properties != nil {
				n.FrontendPort, n.BackendPort = int(deref(r.Properties.FrontendPort)), int(deref(r.Properties.BackendPort))
				if r.Properties.FrontendIPConfiguration != nil {
					front = deref(r.Properties.FrontendIPConfiguration.ID)
				}
			}
		}
		for _, f := range lb.Properties.FrontendIPConfigurations {
			if f == nil || !strings.EqualFold(deref(f.ID), front) || f.Properties == nil {
				continue
			}
			if f.Properties.PublicIPAddress != nil && f.Properties.PublicIPAddress.ID != nil {
				if prid, err := arm.ParseResourceID(*f.Properties.PublicIPAddress.ID); err == nil {
					if pip, err := p.pips.Get(ctx, prid.ResourceGroupName, prid.Name, nil); err == nil && pip.Properties != nil {
						n.FrontendIP = deref(pip.Properties.IPAddress)
					}
				}
			} else {
				n.FrontendIP = deref(f.Properties.PrivateIPAddress)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// bastion names the Azure Bastion host in the VNet of the IP
// configuration's subnet: the one whose IP configuration sits in
// AzureBastionSubnet. "" when there is none or the VNet cannot be read
// (the check does not fail for a way in it only suggests).
func (p *Provider) bastion(ctx context.Context, c *armnetwork.InterfaceIPConfigurationPropertiesFormat) string {
	if c.Subnet == nil || c.Subnet.ID == nil {
		return ""
	}
	rid, err := arm.ParseResourceID(*c.Subnet.ID)
	if err != nil || rid.Parent == nil {
		return ""
	}
	vnet, err := p.vnets.Get(ctx, rid.ResourceGroupName, rid.Parent.Name, nil)
	if err != nil || vnet.Properties == nil {
		return ""
	}
	for _, sn := range vnet.Properties.Subnets {
		if sn == nil || !strings.EqualFold(deref(sn.Name), "AzureBastionSubnet") || sn.Properties == nil {
			continue
		}
		for _, ipc := range sn.Properties.IPConfigurations {
			id := deref(ipc.ID)
			if _, rest, ok := strings.Cut(strings.ToLower(id), "/providers/microsoft.network/bastionhosts/"); ok {
				name, _, _ := strings.Cut(rest, "/")
				// The name as Azure spells it.
				i := strings.Index(strings.ToLower(id), "/bastionhosts/") + len("/bastionhosts/")
				return id[i : i+len(name)]
			}
		}
	}
	return ""
}

// Health returns Azure Resource Health's current availability status.
func (p *Provider) Health(ctx context.Context, name string) (*cloud.Health, error) {
	// The resource URI goes into the path as it is: no leading slash.
	r, err := p.health.GetByResource(ctx, strings.TrimPrefix(p.vmID(name), "/"), nil)
	if err != nil {
		return nil, fail(err, "read resource health of VM "+name, actHealth, p.vmID(name))
	}
	h := &cloud.Health{State: cloud.HealthUnknown}
	if pr := r.Properties; pr != nil {
		if pr.AvailabilityState != nil {
			h.State = cloud.HealthState(*pr.AvailabilityState)
		}
		h.Summary = strings.TrimSpace(deref(pr.Summary))
		h.Reason = strings.TrimSpace(strings.Join(nonEmpty(deref(pr.ReasonType), deref(pr.DetailedStatus)), ": "))
	}
	return h, nil
}

// ErrBootDiagnosticsDisabled: the VM keeps no serial log.
var ErrBootDiagnosticsDisabled = errors.New("boot diagnostics are disabled on this VM: there is no serial log (enable: az vm boot-diagnostics enable -g RG -n VM)")

// SerialLog fetches the boot-diagnostics serial log: ARM hands out a
// short-lived SAS URI for the blob, which is then read without the ARM token.
func (p *Provider) SerialLog(ctx context.Context, name string) ([]byte, error) {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return nil, err
	}
	return p.serialLog(ctx, vm)
}

func (p *Provider) serialLog(ctx context.Context, vm *armcompute.VirtualMachine) ([]byte, error) {
	name := deref(vm.Name)
	if !bootDiagnostics(vm) {
		return nil, ErrBootDiagnosticsDisabled
	}
	r, err := p.vms.RetrieveBootDiagnosticsData(ctx, p.ResourceGroup, name,
		&armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataOptions{SasURIExpirationTimeInMinutes: to.Ptr[int32](sasMinutes)})
	if err != nil {
		return nil, fail(err, "retrieve boot diagnostics of VM "+name, actBootDiag, p.vmID(name))
	}
	uri := deref(r.SerialConsoleLogBlobURI)
	if uri == "" {
		return nil, fmt.Errorf("VM %s: Azure returned no serial log URI (the VM has not booted since boot diagnostics were enabled)", name)
	}
	req, err := runtime.NewRequest(ctx, http.MethodGet, uri)
	if err != nil {
		return nil, fmt.Errorf("serial log URI: %w", err)
	}
	resp, err := p.blob.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch serial log of VM %s from %s: %w", name, redact(uri), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch serial log of VM %s from %s: HTTP %s", name, redact(uri), resp.Status)
	}
	data, err := readTail(resp.Body, maxSerialLog)
	if err != nil {
		return nil, fmt.Errorf("read serial log of VM %s: %w", name, err)
	}
	return data, nil
}

// readTail reads r to its end and returns its last max bytes: a serial
// log's last boot is at its end.
func readTail(r io.Reader, max int) ([]byte, error) {
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > 2*max {
			buf = append(buf[:0], buf[len(buf)-max:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > max {
		buf = buf[len(buf)-max:]
	}
	return buf, nil
}

// redact drops a SAS URI's query: its signature is a credential.
func redact(uri string) string {
	base, _, _ := strings.Cut(uri, "?")
	return base
}

// Start boots a stopped or deallocated VM and waits until it runs.
func (p *Provider) Start(ctx context.Context, name string) error {
	poller, err := p.vms.BeginStart(ctx, p.ResourceGroup, name, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "start VM "+name, actStart, p.vmID(name))
}

// Stop deallocates the VM (releasing its host and a dynamic public IP).
func (p *Provider) Stop(ctx context.Context, name string) error {
	poller, err := p.vms.BeginDeallocate(ctx, p.ResourceGroup, name, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "deallocate VM "+name, actDeallocate, p.vmID(name))
}

// Restart reboots the VM and waits for the platform to report it done.
func (p *Provider) Restart(ctx context.Context, name string) error {
	poller, err := p.vms.BeginRestart(ctx, p.ResourceGroup, name, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "restart VM "+name, actRestart, p.vmID(name))
}

// Redeploy moves the VM to a new host: the temporary disk is wiped and a
// dynamic public IP changes. Callers confirm first.
func (p *Provider) Redeploy(ctx context.Context, name string) error {
	poller, err := p.vms.BeginRedeploy(ctx, p.ResourceGroup, name, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "redeploy VM "+name, actRedeploy, p.vmID(name))
}

// ErrAgentNotReady is cloud.ErrAgentNotReady, under its older name.
var ErrAgentNotReady = cloud.ErrAgentNotReady

// guestReady checks that an in-guest action can run now: with the VM
// stopped or its agent down, run-command and extensions would only time
// out (after up to 90 minutes).
func guestReady(vm *armcompute.VirtualMachine, what string) error {
	if windows(vm) {
		return fmt.Errorf("VM %s runs Windows: %w: %s is for Linux VMs (for Windows: az vm user update, RDP troubleshooting)", deref(vm.Name), cloud.ErrUnsupported, what)
	}
	if ps := powerState(vm); ps != cloud.PowerRunning {
		return fmt.Errorf("VM %s: %w (power state %s): %s needs a running VM (sshdoctor azure start)", deref(vm.Name), cloud.ErrNotRunning, ps, what)
	}
	if ready, status := agentState(vm); !ready {
		return fmt.Errorf("VM %s: %w (agent: %s): run-command and VMAccess cannot work until it is Ready (restart the VM)", deref(vm.Name), cloud.ErrAgentNotReady, status)
	}
	return nil
}

// windows: the VM's OS disk says Windows (storageProfile.osDisk.osType).
func windows(vm *armcompute.VirtualMachine) bool {
	pr := vm.Properties
	return pr != nil && pr.StorageProfile != nil && pr.StorageProfile.OSDisk != nil &&
		strings.EqualFold(string(deref(pr.StorageProfile.OSDisk.OSType)), string(armcompute.OperatingSystemTypesWindows))
}

// exitMarker ends the output of every script RunCommand runs: Azure's
// Linux handler reports "Enable succeeded" whatever the script's exit
// status, so the script reports its own, last on stdout (Azure keeps the
// tail).
const exitMarker = "sshdoctor-run-command-exit="

// wrapScript runs script in a subshell, so that its own `exit` ends only
// the subshell, and prints its exit status after it.
func wrapScript(script string) string {
	shebang := ""
	if strings.HasPrefix(script, "#!") {
		shebang, script, _ = strings.Cut(script, "\n")
		shebang += "\n"
	}
	return shebang + "(\n" + strings.TrimRight(script, "\n") + "\n)\necho \"" + exitMarker + "$?\"\n"
}

// RunCommand runs script as root through the VM agent (run-command
// RunShellScript) and parses its output. Azure keeps only the last 4096
// bytes of each stream (RunLimits); a stream that long is marked
// Truncated. While another run-command runs, Azure answers 409:
// cloud.ErrBusy.
func (p *Provider) RunCommand(ctx context.Context, name, script string, timeout time.Duration) (*cloud.RunResult, error) {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := guestReady(vm, "run-command"); err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	in := armcompute.RunCommandInput{CommandID: to.Ptr("RunShellScript"), Script: to.SliceOfPtrs(strings.Split(wrapScript(script), "\n")...)}
	poller, err := p.vms.BeginRunCommand(ctx, p.ResourceGroup, name, in, nil)
	res, err := await(ctx, p, poller, err)
	if err != nil {
		// A script that exits non-zero can fail the whole operation, with
		// its output in the error message.
		if msg := armMessage(err); strings.Contains(msg, "[stdout]") {
			return p.limited(parseRunOutput(msg, true), msg), nil
		}
		err = fail(err, "run a command on VM "+name, actRunCommand, p.vmID(name))
		if errors.Is(err, cloud.ErrBusy) {
			return nil, fmt.Errorf("%w; a script that ran past its timeout keeps running on the VM, and Azure refuses another until it ends (up to 90 minutes): wait, or restart the VM to end it", err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("run-command on VM %s gave no answer in time: the script may still be running on the VM (run-command has no cancel); its output needs the VM to reach Azure over HTTPS (443): %w", name, err)
		}
		return nil, err
	}
	for _, s := range res.Value {
		if msg := deref(s.Message); strings.Contains(msg, "[stdout]") {
			return p.limited(parseRunOutput(msg, strings.Contains(strings.ToLower(deref(s.Code)), "failed")), msg), nil
		}
	}
	return nil, fmt.Errorf("run-command on VM %s returned no output", name)
}

// limited marks r Truncated when a stream fills its limit: the agent
// kept only that stream's tail, so more was probably written.
// The streams are measured as Azure sent them (msg), before the exit
// marker was taken off.
func (p *Provider) limited(r *cloud.RunResult, msg string) *cloud.RunResult {
	l := p.RunLimits()
	l.Truncate(r)
	_, rest, _ := strings.Cut(msg, "[stdout]\n")
	out, errOut, _ := strings.Cut(rest, "\n[stderr]\n")
	if (l.MaxStdout > 0 && len(out) >= l.MaxStdout) || (l.MaxStderr > 0 && len(errOut) >= l.MaxStderr) {
		r.Truncated = true
	}
	return r
}

// parseRunOutput splits the agent's "Enable succeeded: \n[stdout]\n…\n[stderr]\n…"
// message. A failed script reads "Enable failed: failed to execute
// command: command terminated with exit status=N\n[stdout]…".
func parseRunOutput(msg string, failed bool) *cloud.RunResult {
	head, rest, _ := strings.Cut(msg, "[stdout]\n")
	out, errOut, _ := strings.Cut(rest, "\n[stderr]\n")
	r := &cloud.RunResult{Stdout: out, Stderr: errOut}
	// The script's own exit status (wrapScript), when it got that far.
	if i := strings.LastIndex(out, exitMarker); i >= 0 && (i == 0 || out[i-1] == '\n') {
		line := strings.TrimSpace(out[i+len(exitMarker):])
		if n, err := strconv.Atoi(line); err == nil {
			r.Stdout, r.ExitCode = out[:i], n
			return r
		}
	}
	if _, code, ok := strings.Cut(head, "exit status="); ok {
		n := 0
		for _, c := range code {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		r.ExitCode = n
	} else if failed || strings.Contains(strings.ToLower(head), "failed") {
		r.ExitCode = 1
	} else {
		// No exit status: the script did not finish (killed, timed out)
		// or its output lost the end.
		r.ExitCode = -1
		r.Stderr = strings.TrimRight(r.Stderr, "\n") + "\nsshdoctor: the script reported no exit status: it did not finish, or its output was cut"
	}
	return r
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
