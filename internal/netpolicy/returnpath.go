package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// ReturnPath is what a VM's route to an SSH client means for the
// connection: the client's SYN may arrive, but the replies follow the VM's
// routes. One judge for `route next-hop` and the cloud check.
type ReturnPath struct {
	NextHopDecision
	// Dropped: Azure drops the replies (next hop None, or no route at
	// all in a complete table): ssh times out.
	Dropped bool `json:"dropped"`
	// Detour: the replies leave through a virtual appliance or a
	// gateway, which may not be the way the client came in.
	Detour bool `json:"detour"`
	// Explanation says what it means for SSH, in a sentence or three.
	Explanation string `json:"explanation"`
}

// ExplainReturnPath picks the route for replies to dst (ExplainNextHop) and
// says what it means for SSH. complete is true for effective routes, which
// hold the system routes too; a route table holds only user routes.
func ExplainReturnPath(routes []cloud.Route, complete bool, dst netip.Addr) ReturnPath {
	d := ExplainNextHop(routes, dst)
	p := ReturnPath{NextHopDecision: d}
	if !d.Found {
		if complete {
			p.Dropped = true
			p.Explanation = fmt.Sprintf("No route holds %s, so Azure drops traffic to it: if %s is your SSH client, the VM's replies never leave and ssh times out.", dst, dst)
		} else {
			p.Explanation = fmt.Sprintf("No user route holds %s, so Azure's system routes decide: inside the virtual network (and peerings) traffic stays local, public addresses go to the Internet, other private ranges are dropped. For the full picture use the NIC's effective routes (az network nic show-effective-route-table).", dst)
		}
		return p
	}
	r := d.Route
	is := func(name string) bool { return strings.EqualFold(string(r.NextHopType), name) }
	switch {
	case is("None"):
		p.Dropped = true
		p.Explanation = fmt.Sprintf("The next hop is None: Azure drops traffic to %s. If %s is your SSH client, the SYN reaches the VM but the SYN-ACK is dropped on the way back, so ssh times out. Remove that route, or add a more specific one for the client's address with another next hop.", dst, dst)
	case is("VirtualAppliance"):
		p.Detour = true
		p.Explanation = fmt.Sprintf("Replies to %s go to the virtual appliance %s, not straight back. If the client's packets reached the VM another way (say, straight to its public IP), the appliance sees only the reply half of the connection (asymmetric routing): a stateful firewall drops it, or it leaves with the appliance's address, and ssh times out. Send the way in through the same appliance (DNAT on it), or add a more specific route for the client's prefix with next hop Internet; and check the appliance forwards (IP forwarding on its NIC and in its OS) and allows the flow.", dst, orText(r.NextHopIP, "(address not listed)"))
	case is("VirtualNetworkGateway"):
		p.Detour = true
		p.Explanation = fmt.Sprintf("Replies to %s go through the virtual network gateway%s, VPN or ExpressRoute: right for a client on-premises; for a client that came in over the internet (the VM's public IP) the replies go to on-premises instead (forced tunnelling), and ssh times out.", dst, via(r.NextHopIP))
	case is("Internet"):
		p.Explanation = fmt.Sprintf("Replies to %s go straight out to the internet: right for a client reaching the VM's public IP (or through the load balancer).", dst)
	case is("VnetLocal"), is("VNetPeering"), is("VNetGlobalPeering"):
		p.Explanation = fmt.Sprintf("Replies to %s stay inside the virtual network (or its peering): right for a client in the VNet, a peered VNet or Azure Bastion.", dst)
	case is("VirtualNetworkServiceEndpoint"):
		p.Explanation = fmt.Sprintf("Traffic to %s goes to an Azure service over a service endpoint: not an SSH client's path.", dst)
	default:
		p.Explanation = fmt.Sprintf("Replies to %s go to next hop %s%s.", dst, r.NextHopType, via(r.NextHopIP))
	}
	return p
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// via is " (ADDR)" for a next hop with an address, else "".
func via(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
