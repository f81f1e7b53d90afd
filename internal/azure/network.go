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
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
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

// effectiveNSGs asks Azure for the NIC's effective NSGs. The response is
// decoded here, not by the SDK: armnetwork declares tagMap a string where
// ARM sends an object, so the SDK's decoder fails on every real answer.
// netpolicy.ParseNSG reads both shapes (the same parser as `sshdoctor nsg
// verify`), and service tags the answer does not expand are kept as
// unevaluable rules, so the verdict says when it is uncertain.
func (p *Provider) effectiveNSGs(ctx context.Context, nic *armnetwork.Interface) (*nsgView, error) {
	id := deref(nic.ID)
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return nil, fmt.Errorf("network interface %q: %w", id, err)
	}
	op := "list the effective NSGs of network interface " + rid.Name
	raw, err := p.postLRO(ctx, "InterfacesClient.BeginListEffectiveNetworkSecurityGroups", id+"/effectiveNetworkSecurityGroups", networkAPI)
	if err != nil {
		return nil, fail(err, op, actEffNSG, id)
	}
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if json.Unmarshal(raw, &list) == nil && list.Value != nil && len(list.Value) == 0 {
		// No NSG on the subnet nor on the NIC.
		return &nsgView{NSGs: &cloud.EffectiveNSGs{Live: true}, Live: true}, nil
	}
	parsed, err := netpolicy.ParseNSG(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: Azure's answer: %w", op, err)
	}
	e := parsed.EffectiveNSGs()
	resolved, _ := netpolicy.ResolveTagsUncertain(e, parsed.Tags)
	resolved.Live = true
	v := &nsgView{NSGs: resolved, Live: true}
	if resolved.Subnet != nil {
		resolved.Subnet.ID, v.SubnetNSGID = parsed.SubnetInfo.ID, parsed.SubnetInfo.ID
	}
	if resolved.NIC != nil {
		resolved.NIC.ID, v.NICNSGID = parsed.NICInfo.ID, parsed.NICInfo.ID
	}
	if nm := networkManager(raw); nm != "" {
		// Azure Virtual Network Manager's security admin rules are
		// evaluated before every NSG rule, and this answer does not list
		// them: whatever the NSGs decide is uncertain.
		admin := cloud.SecurityRule{Name: "AVNM-security-admin-rules-" + lastSegment(nm), Priority: 0, Direction: cloud.Inbound,
			Access: cloud.Deny, Protocol: "*", SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"},
			DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"*"},
			Unevaluable: "network manager " + lastSegment(nm) + " applies to this NIC: its security admin rules come before every NSG rule and are not listed in the effective rules (Network Watcher's IP flow verify includes them)"}
		switch {
		case resolved.Subnet != nil:
			resolved.Subnet.Rules = append(resolved.Subnet.Rules, admin)
		case resolved.NIC != nil:
			resolved.NIC.Rules = append(resolved.NIC.Rules, admin)
		}
	}
	return v, nil
}

// networkManager is the Azure Virtual Network Manager an effective-NSG
// answer says applies (association.networkManager.id); "" when none.
func networkManager(raw []byte) string {
	var doc struct {
		Value []struct {
			Association struct {
				NetworkManager *struct {
					ID string `json:"id"`
				} `json:"networkManager"`
			} `json:"association"`
		} `json:"value"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	for _, e := range doc.Value {
		if nm := e.Association.NetworkManager; nm != nil && nm.ID != "" {
			return nm.ID
		}
	}
	return ""
}

// networkAPI is the Microsoft.Network API version of armnetwork v9.
const networkAPI = "2025-05-01"

// postLRO POSTs to an ARM action (path: a resource ID plus the action)
// and polls it to completion as the SDK does, returning the final JSON
// undecoded. operation is the SDK's name for it (the SDK's fake servers
// dispatch on it).
func (p *Provider) postLRO(ctx context.Context, operation, path, apiVersion string) (json.RawMessage, error) {
	ctx = context.WithValue(ctx, runtime.CtxAPINameKey{}, operation)
	req, err := runtime.NewRequest(ctx, http.MethodPost, runtime.JoinPaths(p.arm.Endpoint(), path))
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", apiVersion)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header["Accept"] = []string{"application/json"}
	resp, err := p.arm.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusAccepted) {
		return nil, runtime.NewResponseError(resp)
	}
	poller, err := runtime.NewPoller(resp, p.arm.Pipeline(), &runtime.NewPollerOptions[json.RawMessage]{FinalStateVia: runtime.FinalStateViaLocation})
	if err != nil {
		return nil, err
	}
	return poller.PollUntilDone(ctx, p.poll())
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

// readNSG converts an NSG's user rules, none left out: a rule dropped
// here would free its priority for a new rule Azure then refuses.
// Application security groups are resolved for this NIC: a destination
// ASG matches when the NIC is a member; source ASGs stay as their IDs,
// which an outside client is never in. A service tag other than
// VirtualNetwork, Internet and AzureLoadBalancer, which only Azure
// expands, makes its rule unevaluable (cloud.SecurityRule.Unevaluable),
// as does a protocol Azure added after this code.
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
		rule := cloud.SecurityRule{
			Name: deref(r.Name), Priority: int(deref(pr.Priority)),
			Direction: cloud.Direction(deref(pr.Direction)), Access: cloud.Access(deref(pr.Access)),
			Protocol:                   protocol(string(deref(pr.Protocol))),
			SourceAddressPrefixes:      list(pr.SourceAddressPrefixes, pr.SourceAddressPrefix),
			SourcePortRanges:           list(pr.SourcePortRanges, pr.SourcePortRange),
			DestinationAddressPrefixes: list(pr.DestinationAddressPrefixes, pr.DestinationAddressPrefix),
			DestinationPortRanges:      list(pr.DestinationPortRanges, pr.DestinationPortRange),
		}
		for _, a := range pr.SourceApplicationSecurityGroups {
			rule.SourceAddressPrefixes = append(rule.SourceAddressPrefixes, deref(a.ID))
		}
		if len(pr.DestinationApplicationSecurityGroups) > 0 {
			for _, a := range pr.DestinationApplicationSecurityGroups {
				if slices.Contains(member, strings.ToLower(deref(a.ID))) {
					rule.DestinationAddressPrefixes = []string{"*"}
					break
				}
				rule.DestinationAddressPrefixes = append(rule.DestinationAddressPrefixes, deref(a.ID))
			}
		}
		rule.Opaque = len(pr.SourceApplicationSecurityGroups) > 0 || len(pr.DestinationApplicationSecurityGroups) > 0 || deref(pr.Description) != ""
		rule.Unevaluable = unevaluable(rule, string(deref(pr.Protocol)))
		n.Rules = append(n.Rules, rule)
	}
	return n, nil
}

// unevaluable says why a configured rule cannot be evaluated here: a
// protocol this code does not know, or a service tag only Azure expands.
func unevaluable(r cloud.SecurityRule, azureProtocol string) string {
	if r.Protocol == "" {
		return fmt.Sprintf("protocol %q", azureProtocol)
	}
	for _, side := range [][]string{r.SourceAddressPrefixes, r.DestinationAddressPrefixes} {
		for _, s := range side {
			switch {
			case s == "*", strings.EqualFold(s, "VirtualNetwork"), strings.EqualFold(s, "Internet"), strings.EqualFold(s, "AzureLoadBalancer"),
				isPrefix(s), netpolicy.IsASG(s):
			default:
				return fmt.Sprintf("service tag %s: only Azure knows its addresses (the effective rules list them while the VM runs)", s)
			}
		}
	}
	if len(r.SourceAddressPrefixes) == 0 || len(r.DestinationAddressPrefixes) == 0 || len(r.SourcePortRanges) == 0 || len(r.DestinationPortRanges) == 0 {
		return "a side of the rule is empty"
	}
	return ""
}

// protocol maps Azure's protocol names to netpolicy's; "" for one it does
// not know.
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
	case "esp":
		return "Esp"
	case "ah":
		return "Ah"
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
