package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// ErrNotRunning is cloud.ErrNotRunning, under its older name.
var ErrNotRunning = cloud.ErrNotRunning

// nsgView is the NSGs that apply to a NIC, with their resource IDs.
type nsgView struct {
	NSGs                  *cloud.EffectiveNSGs
	SubnetNSGID, NICNSGID string
	// Live: from Azure's effective-NSG computation. False: read from the
	// NSGs attached to the subnet and NIC (the VM is not running).
	Live bool
}

// EffectiveNSGs returns the subnet and NIC NSGs of the VM's primary NIC:
// Azure's effective view when the VM runs (Live), else the attached NSGs.
// Each NSG's ID is its resource ID, which SetNSGRule takes.
func (p *Provider) EffectiveNSGs(ctx context.Context, name string) (*cloud.EffectiveNSGs, error) {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return nil, err
	}
	nic, err := p.primaryNIC(ctx, vm)
	if err != nil {
		return nil, err
	}
	v, err := p.nsgView(ctx, vm, nic)
	if err != nil {
		return nil, err
	}
	return v.NSGs, nil
}

// nsgView asks Azure for the effective NSGs, which it computes only for a
// NIC attached to a running VM (400/409 otherwise); then it falls back to
// reading the NSGs attached to the subnet and the NIC.
func (p *Provider) nsgView(ctx context.Context, vm *armcompute.VirtualMachine, nic *armnetwork.Interface) (*nsgView, error) {
	if powerState(vm) == cloud.PowerRunning {
		v, err := p.effectiveNSGs(ctx, nic)
		var ae *Error
		if err == nil || !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusConflict) {
			return v, err
		}
	}
	return p.configuredNSGs(ctx, nic)
}

func (p *Provider) effectiveNSGs(ctx context.Context, nic *armnetwork.Interface) (*nsgView, error) {
	id := deref(nic.ID)
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, fmt.Errorf("network interface %q: %w", id, err)
	}
	poller, err := p.nics.BeginListEffectiveNetworkSecurityGroups(ctx, rid.ResourceGroupName, rid.Name, nil)
	res, err := await(ctx, p, poller, err)
	if err != nil {
		return nil, fail(err, "list the effective NSGs of network interface "+rid.Name, actEffNSG, id)
	}
	v := &nsgView{NSGs: &cloud.EffectiveNSGs{Live: true}, Live: true}
	for _, g := range res.Value {
		if g == nil || g.Association == nil {
			continue
		}
		n, vnet := effectiveNSG(g)
		nsgID := n.ID
		switch {
		case g.Association.Subnet != nil:
			v.NSGs.Subnet, v.SubnetNSGID = n, nsgID
		case g.Association.NetworkInterface != nil:
			v.NSGs.NIC, v.NICNSGID = n, nsgID
		default:
			continue // e.g. Azure Virtual Network Manager rules: not modelled
		}
		for _, pfx := range vnet {
			if !slices.Contains(v.NSGs.VNetPrefixes, pfx) {
				v.NSGs.VNetPrefixes = append(v.NSGs.VNetPrefixes, pfx)
			}
		}
	}
	return v, nil
}

// effectiveNSG converts one effective NSG. Its default rules are left out
// (netpolicy implies them); the prefixes the VirtualNetwork tag stands for
// come from the expanded AllowVnetInBound rule, else from the tag map.
func effectiveNSG(g *armnetwork.EffectiveNetworkSecurityGroup) (*cloud.NSG, []string) {
	n := &cloud.NSG{Name: "unknown"}
	if g.NetworkSecurityGroup != nil && g.NetworkSecurityGroup.ID != nil {
		n.ID, n.Name = *g.NetworkSecurityGroup.ID, lastSegment(*g.NetworkSecurityGroup.ID)
	}
	var vnet []string
	for _, r := range g.EffectiveSecurityRules {
		if r == nil {
			continue
		}
		name, isDefault := strings.CutPrefix(deref(r.Name), "defaultSecurityRules/")
		if isDefault {
			if name == "AllowVnetInBound" {
				vnet = derefAll(r.ExpandedSourceAddressPrefix)
			}
			continue
		}
		rule := cloud.SecurityRule{
			Name: strings.TrimPrefix(name, "securityRules/"), Priority: int(deref(r.Priority)),
			Direction: cloud.Direction(deref(r.Direction)), Access: cloud.Access(deref(r.Access)),
			Protocol:                   protocol(string(deref(r.Protocol))),
			SourceAddressPrefixes:      addrs(list(r.SourceAddressPrefixes, r.SourceAddressPrefix), derefAll(r.ExpandedSourceAddressPrefix)),
			SourcePortRanges:           list(r.SourcePortRanges, r.SourcePortRange),
			DestinationAddressPrefixes: addrs(list(r.DestinationAddressPrefixes, r.DestinationAddressPrefix), derefAll(r.ExpandedDestinationAddressPrefix)),
			DestinationPortRanges:      list(r.DestinationPortRanges, r.DestinationPortRange),
		}
		if usable(rule) {
			n.Rules = append(n.Rules, rule)
		}
	}
	if len(vnet) == 0 && g.TagMap != nil {
		var tags map[string][]string
		if json.Unmarshal([]byte(*g.TagMap), &tags) == nil {
			vnet = tags["VirtualNetwork"]
		}
	}
	return n, vnet
}

// configuredNSGs reads the NSGs attached to the NIC and to its subnet,
// and the VNet's address space (plus peered address spaces) for the
// VirtualNetwork tag.
func (p *Provider) configuredNSGs(ctx context.Context, nic *armnetwork.Interface) (*nsgView, error) {
	v := &nsgView{NSGs: &cloud.EffectiveNSGs{}}
	ipc := primaryIPConfig(nic)
	var member []string
	for _, a := range ipc.ApplicationSecurityGroups {
		member = append(member, strings.ToLower(deref(a.ID)))
	}
	if nic.Properties != nil && nic.Properties.NetworkSecurityGroup != nil && nic.Properties.NetworkSecurityGroup.ID != nil {
		v.NICNSGID = *nic.Properties.NetworkSecurityGroup.ID
		n, err := p.readNSG(ctx, v.NICNSGID, member)
		if err != nil {
			return nil, err
		}
		v.NSGs.NIC = n
	}
	if ipc.Subnet == nil || ipc.Subnet.ID == nil {
		return v, nil
	}
	sid := *ipc.Subnet.ID
	rid, err := arm.ParseResourceID(sid)
	if err != nil || rid.Parent == nil {
		return nil, fmt.Errorf("subnet %q: not a subnet resource ID", sid)
	}
	sub, err := p.subnets.Get(ctx, rid.ResourceGroupName, rid.Parent.Name, rid.Name, nil)
	if err != nil {
		return nil, fail(err, "read subnet "+rid.Parent.Name+"/"+rid.Name, actSubnetRead, sid)
	}
	if sub.Properties != nil && sub.Properties.NetworkSecurityGroup != nil && sub.Properties.NetworkSecurityGroup.ID != nil {
		v.SubnetNSGID = *sub.Properties.NetworkSecurityGroup.ID
		n, err := p.readNSG(ctx, v.SubnetNSGID, member)
		if err != nil {
			return nil, err
		}
		v.NSGs.Subnet = n
	}
	vnet, err := p.vnets.Get(ctx, rid.ResourceGroupName, rid.Parent.Name, nil)
	if err != nil {
		return nil, fail(err, "read virtual network "+rid.Parent.Name, actVNetRead, rid.Parent.String())
	}
	if pr := vnet.Properties; pr != nil {
		if pr.AddressSpace != nil {
			v.NSGs.VNetPrefixes = derefAll(pr.AddressSpace.AddressPrefixes)
		}
		for _, peer := range pr.VirtualNetworkPeerings {
			if peer.Properties != nil && peer.Properties.RemoteAddressSpace != nil {
				v.NSGs.VNetPrefixes = append(v.NSGs.VNetPrefixes, derefAll(peer.Properties.RemoteAddressSpace.AddressPrefixes)...)
			}
		}
	}
	return v, nil
}

// readNSG converts an NSG's user rules. Application security groups are
// resolved for this NIC: a destination ASG matches when the NIC is a
// member; a source ASG never holds the (outside) client, so such rules are
// left out, as are rules with service tags other than VirtualNetwork,
// Internet and AzureLoadBalancer, which only Azure can expand.
func (p *Provider) readNSG(ctx context.Context, id string, member []string) (*cloud.NSG, error) {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, fmt.Errorf("network security group %q: %w", id, err)
	}
	g, err := p.nsgs.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return nil, fail(err, "read network security group "+rid.Name, actNSGRead, id)
	}
	n := &cloud.NSG{ID: id, Name: rid.Name}
	if g.Properties == nil {
		return n, nil
	}
	for _, r := range g.Properties.SecurityRules {
		if r == nil || r.Properties == nil {
			continue
		}
		pr := r.Properties
		dst := addrs(list(pr.DestinationAddressPrefixes, pr.DestinationAddressPrefix), nil)
		if len(pr.DestinationApplicationSecurityGroups) > 0 {
			dst = nil
			for _, a := range pr.DestinationApplicationSecurityGroups {
				if slices.Contains(member, strings.ToLower(deref(a.ID))) {
					dst = []string{"*"}
				}
			}
		}
		rule := cloud.SecurityRule{
			Name: deref(r.Name), Priority: int(deref(pr.Priority)),
			Direction: cloud.Direction(deref(pr.Direction)), Access: cloud.Access(deref(pr.Access)),
			Protocol:                   protocol(string(deref(pr.Protocol))),
			SourceAddressPrefixes:      addrs(list(pr.SourceAddressPrefixes, pr.SourceAddressPrefix), nil),
			SourcePortRanges:           list(pr.SourcePortRanges, pr.SourcePortRange),
			DestinationAddressPrefixes: dst,
			DestinationPortRanges:      list(pr.DestinationPortRanges, pr.DestinationPortRange),
		}
		if len(pr.SourceApplicationSecurityGroups) > 0 {
			rule.SourceAddressPrefixes = nil
		}
		rule.Opaque = len(pr.SourceApplicationSecurityGroups) > 0 || len(pr.DestinationApplicationSecurityGroups) > 0 || deref(pr.Description) != ""
		if usable(rule) {
			n.Rules = append(n.Rules, rule)
		}
	}
	return n, nil
}

// usable: the rule can match something netpolicy can evaluate.
func usable(r cloud.SecurityRule) bool {
	return r.Protocol != "" && len(r.SourceAddressPrefixes) > 0 && len(r.DestinationAddressPrefixes) > 0 &&
		len(r.SourcePortRanges) > 0 && len(r.DestinationPortRanges) > 0
}

// protocol maps Azure's protocol names to netpolicy's; "" for protocols
// an SSH flow can never be (Esp, Ah).
func protocol(p string) string {
	switch strings.ToLower(p) {
	case "*", "all":
		return "*"
	case "tcp":
		return "Tcp"
	case "udp":
		return "Udp"
	case "icmp":
		return "Icmp"
	}
	return ""
}

// list is a rule's plural field, else its singular one, with
// comma-separated values split.
func list(many []*string, one *string) []string {
	vals := derefAll(many)
	if len(vals) == 0 && one != nil {
		vals = []string{*one}
	}
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// addrs keeps what netpolicy understands — "*", CIDRs, addresses and the
// VirtualNetwork, Internet and AzureLoadBalancer tags — and replaces other
// service tags by Azure's expansion when there is one (effective rules
// carry it), else drops them.
func addrs(prefixes, expanded []string) []string {
	var out []string
	usedExpansion := false
	for _, s := range prefixes {
		switch {
		case s == "*", strings.EqualFold(s, "VirtualNetwork"), strings.EqualFold(s, "Internet"), strings.EqualFold(s, "AzureLoadBalancer"):
			out = append(out, s)
		case isPrefix(s):
			out = append(out, s)
		case !usedExpansion:
			out, usedExpansion = append(out, expanded...), true
		}
	}
	return out
}

func isPrefix(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// EffectiveRoutes returns the effective routes of the VM's primary NIC.
// Azure computes them only for a running VM. User routes carry the ID of
// the subnet's route table, which RemoveRoute takes.
func (p *Provider) EffectiveRoutes(ctx context.Context, name string) ([]cloud.Route, error) {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return nil, err
	}
	nic, err := p.primaryNIC(ctx, vm)
	if err != nil {
		return nil, err
	}
	return p.routes(ctx, vm, nic)
}

func (p *Provider) routes(ctx context.Context, vm *armcompute.VirtualMachine, nic *armnetwork.Interface) ([]cloud.Route, error) {
	if ps := powerState(vm); ps != cloud.PowerRunning {
		return nil, fmt.Errorf("VM %s is %s: %w; Azure computes effective routes only for a running VM", deref(vm.Name), ps, ErrNotRunning)
	}
	id := deref(nic.ID)
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, fmt.Errorf("network interface %q: %w", id, err)
	}
	poller, err := p.nics.BeginGetEffectiveRouteTable(ctx, rid.ResourceGroupName, rid.Name, nil)
	res, err := await(ctx, p, poller, err)
	if err != nil {
		return nil, fail(err, "get the effective routes of network interface "+rid.Name, actEffRoutes, id)
	}
	var out []cloud.Route
	table := ""
	for _, r := range res.Value {
		if r == nil || strings.EqualFold(string(deref(r.State)), "Invalid") {
			continue
		}
		hop := ""
		if ips := derefAll(r.NextHopIPAddress); len(ips) > 0 {
			hop = ips[0]
		}
		src := string(deref(r.Source))
		if src == string(armnetwork.EffectiveRouteSourceUser) && table == "" {
			table = p.routeTable(ctx, nic)
		}
		for _, pfx := range derefAll(r.AddressPrefix) {
			rt := cloud.Route{Name: deref(r.Name), AddressPrefix: pfx, NextHopType: cloud.NextHopType(deref(r.NextHopType)), NextHopIP: hop, Source: src}
			if src == string(armnetwork.EffectiveRouteSourceUser) {
				rt.Table = table
			}
			out = append(out, rt)
		}
	}
	return out, nil
}

// routeTable is the resource ID of the route table on the NIC's subnet,
// where Azure's user routes come from. The effective routes do not say;
// "" when the subnet cannot be read, which leaves the routes right but
// not removable by ID.
func (p *Provider) routeTable(ctx context.Context, nic *armnetwork.Interface) string {
	ipc := primaryIPConfig(nic)
	if ipc.Subnet == nil || ipc.Subnet.ID == nil {
		return ""
	}
	rid, err := arm.ParseResourceID(*ipc.Subnet.ID)
	if err != nil || rid.Parent == nil {
		return ""
	}
	sub, err := p.subnets.Get(ctx, rid.ResourceGroupName, rid.Parent.Name, rid.Name, nil)
	if err != nil || sub.Properties == nil || sub.Properties.RouteTable == nil {
		return ""
	}
	return deref(sub.Properties.RouteTable.ID)
}

// RemoveRoute deletes a route from a route table (a name in the resource
// group, or a resource ID).
func (p *Provider) RemoveRoute(ctx context.Context, table, route string) error {
	rg, name, id, err := p.scope("routeTables", table)
	if err != nil {
		return err
	}
	poller, err := p.udrs.BeginDelete(ctx, rg, name, route, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "remove route "+route+" from route table "+name, actRouteDel, id)
}

// scope resolves a network resource of type kind (networkSecurityGroups,
// routeTables) given by name (in the provider's resource group) or by
// resource ID.
func (p *Provider) scope(kind, ref string) (rg, name, id string, err error) {
	if strings.HasPrefix(ref, "/") {
		rid, err := arm.ParseResourceID(ref)
		if err != nil {
			return "", "", "", fmt.Errorf("%s %q: %w", kind, ref, err)
		}
		return rid.ResourceGroupName, rid.Name, ref, nil
	}
	return p.ResourceGroup, ref, fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/%s/%s", p.Subscription, p.ResourceGroup, kind, ref), nil
}

// SetNSGRule creates or replaces a security rule in an NSG (a name in the
// resource group, or a resource ID).
func (p *Provider) SetNSGRule(ctx context.Context, nsg string, r cloud.SecurityRule) error {
	rg, name, id, err := p.scope("networkSecurityGroups", nsg)
	if err != nil {
		return err
	}
	pr := &armnetwork.SecurityRulePropertiesFormat{
		Access: to.Ptr(armnetwork.SecurityRuleAccess(r.Access)), Direction: to.Ptr(armnetwork.SecurityRuleDirection(r.Direction)),
		Priority: to.Ptr(int32(r.Priority)), Protocol: to.Ptr(armnetwork.SecurityRuleProtocol(r.Protocol)),
	}
	// Azure takes one value in the singular field and several in the
	// plural one, never both.
	set := func(one **string, many *[]*string, vals []string) {
		if len(vals) == 1 {
			*one = to.Ptr(vals[0])
		} else {
			*many = to.SliceOfPtrs(vals...)
		}
	}
	set(&pr.SourceAddressPrefix, &pr.SourceAddressPrefixes, r.SourceAddressPrefixes)
	set(&pr.SourcePortRange, &pr.SourcePortRanges, r.SourcePortRanges)
	set(&pr.DestinationAddressPrefix, &pr.DestinationAddressPrefixes, r.DestinationAddressPrefixes)
	set(&pr.DestinationPortRange, &pr.DestinationPortRanges, r.DestinationPortRanges)
	poller, err := p.rules.BeginCreateOrUpdate(ctx, rg, name, r.Name, armnetwork.SecurityRule{Properties: pr}, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "set rule "+r.Name+" in network security group "+name, actRuleWrite, id)
}

// RemoveNSGRule deletes a security rule from an NSG.
func (p *Provider) RemoveNSGRule(ctx context.Context, nsg, rule string) error {
	rg, name, id, err := p.scope("networkSecurityGroups", nsg)
	if err != nil {
		return err
	}
	poller, err := p.rules.BeginDelete(ctx, rg, name, rule, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, "remove rule "+rule+" from network security group "+name, actRuleDelete, id)
}

func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

func derefAll(ps []*string) []string {
	var out []string
	for _, p := range ps {
		if p != nil && *p != "" {
			out = append(out, *p)
		}
	}
	return out
}

// deref reads an optional SDK field; the zero value when absent.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
