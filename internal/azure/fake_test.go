package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcehealth/armresourcehealth"
	healthfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcehealth/armresourcehealth/fake"
)

// The test world: one VM in resource group rg, its NIC, public IP,
// subnet and NSGs, served by the SDK's fake servers. Fixtures are JSON as
// Azure sends it, unmarshalled by the SDK's own models.
const (
	sub      = "00000000-0000-0000-0000-00000000000a"
	rg       = "rg"
	vmName   = "web1"
	rgID     = "/subscriptions/" + sub + "/resourceGroups/" + rg
	vmID     = rgID + "/providers/Microsoft.Compute/virtualMachines/" + vmName
	nicID    = rgID + "/providers/Microsoft.Network/networkInterfaces/web1-nic"
	pipID    = rgID + "/providers/Microsoft.Network/publicIPAddresses/web1-ip"
	vnetID   = "/subscriptions/" + sub + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet"
	subnetID = vnetID + "/subnets/default"
	snsgID   = "/subscriptions/" + sub + "/resourceGroups/net-rg/providers/Microsoft.Network/networkSecurityGroups/web-subnet-nsg"
	nnsgID   = rgID + "/providers/Microsoft.Network/networkSecurityGroups/web1-nsg"
	blobHost = "web1diag.blob.core.windows.net"
	sasURI   = "https://" + blobHost + "/bootdiagnostics-web1-1234/web1.1234.serialconsole.log?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=SECRET"
)

// scenario sets the world's state; zero values are a healthy running VM.
type scenario struct {
	power      string // PowerState/<power>; default running
	agentDown  bool
	noBootDiag bool
	noPublicIP bool
	health     armresourcehealth.AvailabilityStateValues // default Available
	effNSG     string                                    // EffectiveNetworkSecurityGroupListResult JSON; default openEffNSG
	routes     string                                    // EffectiveRouteListResult JSON; default systemRoutes
	// subnetRules are the subnet NSG's securityRules as attached (read when
	// the VM is not running); default allowSSHRule.
	subnetRules string
}

const allowSSHRule = `{"name": "Allow-SSH", "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
  "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow", "priority": 300, "direction": "Inbound"}}`

func vmJSON(s scenario) string {
	power := s.power
	if power == "" {
		power = "running"
	}
	agent := `{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready", "message": "Guest Agent is running"}`
	if s.agentDown {
		agent = `{"code": "ProvisioningState/Unavailable", "level": "Warning", "displayStatus": "Not Ready", "message": "VM status blob is found but not yet populated."}`
	}
	return fmt.Sprintf(`{
  "name": %q, "id": %q, "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
  "properties": {
    "hardwareProfile": {"vmSize": "Standard_B1s"},
    "networkProfile": {"networkInterfaces": [{"id": %q, "properties": {"primary": true}}]},
    "diagnosticsProfile": {"bootDiagnostics": {"enabled": %t}},
    "provisioningState": "Succeeded",
    "instanceView": {
      "computerName": "web1",
      "vmAgent": {"vmAgentVersion": "2.9.1.1", "statuses": [%s]},
      "statuses": [
        {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
        {"code": "PowerState/%s", "level": "Info", "displayStatus": "VM %s"}
      ]
    }
  }
}`, vmName, vmID, nicID, !s.noBootDiag, agent, power, power)
}

func nicJSON(s scenario) string {
	pip := fmt.Sprintf(`, "publicIPAddress": {"id": %q}`, pipID)
	if s.noPublicIP {
		pip = ""
	}
	return fmt.Sprintf(`{
  "name": "web1-nic", "id": %q,
  "properties": {
    "ipConfigurations": [{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4", "primary": true, "subnet": {"id": %q}%s}}],
    "networkSecurityGroup": {"id": %q}
  }
}`, nicID, subnetID, pip, nnsgID)
}

// defaultRules are the default rules as the effective-NSG API lists them.
const defaultRules = `
        {"name": "defaultSecurityRules/AllowVnetInBound", "protocol": "All", "sourcePortRange": "0-65535", "destinationPortRange": "0-65535",
         "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "VirtualNetwork",
         "expandedSourceAddressPrefix": ["10.0.0.0/16", "168.63.129.16/32"], "expandedDestinationAddressPrefix": ["10.0.0.0/16", "168.63.129.16/32"],
         "access": "Allow", "priority": 65000, "direction": "Inbound"},
        {"name": "defaultSecurityRules/AllowAzureLoadBalancerInBound", "protocol": "All", "sourcePortRange": "0-65535", "destinationPortRange": "0-65535",
         "sourceAddressPrefix": "AzureLoadBalancer", "destinationAddressPrefix": "0.0.0.0/0",
         "access": "Allow", "priority": 65001, "direction": "Inbound"},
        {"name": "defaultSecurityRules/DenyAllInBound", "protocol": "All", "sourcePortRange": "0-65535", "destinationPortRange": "0-65535",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "0.0.0.0/0",
         "access": "Deny", "priority": 65500, "direction": "Inbound"}`

func effNSG(subnetRules, nicRules string) string {
	return fmt.Sprintf(`{"value": [
    {"networkSecurityGroup": {"id": %q}, "association": {"subnet": {"id": %q}},
     "effectiveSecurityRules": [%s%s]},
    {"networkSecurityGroup": {"id": %q}, "association": {"networkInterface": {"id": %q}},
     "effectiveSecurityRules": [%s%s]}
  ]}`, snsgID, subnetID, subnetRules, defaultRules, nnsgID, nicID, nicRules, defaultRules)
}

const allowSSHAnywhere = `
        {"name": "securityRules/Allow-SSH", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "0.0.0.0/0", "access": "Allow", "priority": 300, "direction": "Inbound"},`

var openEffNSG = effNSG(allowSSHAnywhere, allowSSHAnywhere)

// subnetDenyEffNSG: the subnet NSG denies SSH from the Internet above
// the NIC NSG's allow.
var subnetDenyEffNSG = effNSG(`
        {"name": "securityRules/Deny-SSH-Internet", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "Internet", "expandedSourceAddressPrefix": ["1.0.0.0/8", "2.0.0.0/7"],
         "destinationAddressPrefix": "0.0.0.0/0", "access": "Deny", "priority": 200, "direction": "Inbound"},`,
	allowSSHAnywhere)

func routesJSON(udr string) string {
	return `{"value": [
    {"source": "Default", "state": "Active", "addressPrefix": ["10.0.0.0/16"], "nextHopType": "VnetLocal", "nextHopIpAddress": []},
    {"source": "Default", "state": "` + map[bool]string{true: "Invalid", false: "Active"}[udr != ""] + `", "addressPrefix": ["0.0.0.0/0"], "nextHopType": "Internet", "nextHopIpAddress": []}` +
		udr + `]}`
}

var systemRoutes = routesJSON("")

func must[T any](t testing.TB, js string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("fixture: %v\n%s", err, js)
	}
	return v
}

// world routes requests to the three modules' fake servers by provider,
// and serves the boot-diagnostics blob itself.
type world struct {
	t       *testing.T
	compute computefake.ServerFactory
	network networkfake.ServerFactory
	health  healthfake.ServerFactory
	ct      *computefake.ServerFactoryTransport
	nt      *networkfake.ServerFactoryTransport
	ht      *healthfake.ServerFactoryTransport

	mu     sync.Mutex
	serial []byte            // the blob's content; nil: 404
	blobs  []*http.Request   // blob requests seen
	bodies map[string][]byte // last PUT body by path
	hits   map[string]int    // requests by path (LRO polls included)
}

func (w *world) Do(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	if strings.Contains(path, "//") {
		w.t.Errorf("malformed path %s", path)
	}
	w.mu.Lock()
	w.hits[strings.TrimSuffix(path, "/get/fake/status")]++
	w.mu.Unlock()
	if req.Body != nil && req.Method == http.MethodPut {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		w.mu.Lock()
		w.bodies[strings.TrimSuffix(path, "/get/fake/status")] = b
		w.mu.Unlock()
	}
	switch {
	case req.URL.Host == blobHost:
		w.mu.Lock()
		w.blobs = append(w.blobs, req)
		w.mu.Unlock()
		resp := &http.Response{Request: req, Header: http.Header{}, StatusCode: http.StatusOK, Status: "200 OK"}
		if w.serial == nil || req.URL.Query().Get("sig") != "SECRET" {
			resp.StatusCode, resp.Status = http.StatusNotFound, "404 The specified blob does not exist."
			resp.Body = io.NopCloser(strings.NewReader(""))
			return resp, nil
		}
		resp.Body = io.NopCloser(bytes.NewReader(w.serial))
		return resp, nil
	case req.URL.Host != "management.azure.com":
		w.t.Errorf("request to %s: only ARM and the blob are faked", req.URL)
		return nil, fmt.Errorf("unexpected host %s", req.URL.Host)
	case strings.Contains(path, "/providers/Microsoft.ResourceHealth/"):
		return w.ht.Do(req)
	case strings.Contains(path, "/providers/Microsoft.Network/"):
		return w.nt.Do(req)
	}
	return w.ct.Do(req)
}

func newWorld(t *testing.T, s scenario) (*Provider, *world) {
	t.Helper()
	w := &world{t: t, serial: []byte("[    0.000000] Linux version 6.8.0-azure\nUbuntu 24.04 LTS web1 ttyS0\n\nweb1 login: "), bodies: map[string][]byte{}, hits: map[string]int{}}
	w.ct = computefake.NewServerFactoryTransport(&w.compute)
	w.nt = networkfake.NewServerFactoryTransport(&w.network)
	w.ht = healthfake.NewServerFactoryTransport(&w.health)

	vm := must[armcompute.VirtualMachine](t, vmJSON(s))
	w.compute.VirtualMachinesServer.Get = func(_ context.Context, group, name string, opts *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
		if group != rg || name != vmName {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		}
		if opts == nil || opts.Expand == nil || *opts.Expand != armcompute.InstanceViewTypesInstanceView {
			t.Errorf("VM read without the instance view")
		}
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: vm}, nil)
		return
	}
	w.compute.VirtualMachinesServer.RetrieveBootDiagnosticsData = func(_ context.Context, _, _ string, opts *armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataResponse], errResp azfake.ErrorResponder) {
		if s.noBootDiag {
			t.Errorf("boot diagnostics retrieved although disabled")
		}
		if opts == nil || opts.SasURIExpirationTimeInMinutes == nil || *opts.SasURIExpirationTimeInMinutes > 10 {
			t.Errorf("SAS lifetime not bounded: %+v", opts)
		}
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataResponse{RetrieveBootDiagnosticsDataResult: armcompute.RetrieveBootDiagnosticsDataResult{
			SerialConsoleLogBlobURI: ptr(sasURI),
		}}, nil)
		return
	}
	nic := must[armnetwork.Interface](t, nicJSON(s))
	w.network.InterfacesServer.Get = func(_ context.Context, group, name string, _ *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], errResp azfake.ErrorResponder) {
		if group != rg || name != "web1-nic" {
			t.Errorf("NIC %s/%s", group, name)
		}
		resp.SetResponse(http.StatusOK, armnetwork.InterfacesClientGetResponse{Interface: nic}, nil)
		return
	}
	w.network.PublicIPAddressesServer.Get = func(_ context.Context, _, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], errResp azfake.ErrorResponder) {
		pip := must[armnetwork.PublicIPAddress](t, `{"name": "web1-ip", "properties": {"publicIPAllocationMethod": "Static", "ipAddress": "20.50.60.70"}}`)
		resp.SetResponse(http.StatusOK, armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: pip}, nil)
		return
	}
	eff := s.effNSG
	if eff == "" {
		eff = openEffNSG
	}
	w.network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = func(_ context.Context, _, _ string, _ *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse{
			EffectiveNetworkSecurityGroupListResult: must[armnetwork.EffectiveNetworkSecurityGroupListResult](t, eff)}, nil)
		return
	}
	routes := s.routes
	if routes == "" {
		routes = systemRoutes
	}
	w.network.InterfacesServer.BeginGetEffectiveRouteTable = func(_ context.Context, _, _ string, _ *armnetwork.InterfacesClientBeginGetEffectiveRouteTableOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientGetEffectiveRouteTableResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientGetEffectiveRouteTableResponse{
			EffectiveRouteListResult: must[armnetwork.EffectiveRouteListResult](t, routes)}, nil)
		return
	}
	health := s.health
	if health == "" {
		health = armresourcehealth.AvailabilityStateValuesAvailable
	}
	w.health.AvailabilityStatusesServer.GetByResource = func(_ context.Context, uri string, _ *armresourcehealth.AvailabilityStatusesClientGetByResourceOptions) (resp azfake.Responder[armresourcehealth.AvailabilityStatusesClientGetByResourceResponse], errResp azfake.ErrorResponder) {
		if uri != strings.TrimPrefix(vmID, "/") {
			t.Errorf("health asked for %q", uri)
		}
		summary := map[armresourcehealth.AvailabilityStateValues]string{
			armresourcehealth.AvailabilityStateValuesAvailable:   "There aren't any known Azure platform problems affecting this virtual machine.",
			armresourcehealth.AvailabilityStateValuesUnavailable: "This virtual machine is stopped and deallocated.",
			armresourcehealth.AvailabilityStateValuesDegraded:    "We're sorry, your virtual machine is degraded.",
		}[health]
		resp.SetResponse(http.StatusOK, armresourcehealth.AvailabilityStatusesClientGetByResourceResponse{AvailabilityStatus: armresourcehealth.AvailabilityStatus{
			Properties: &armresourcehealth.AvailabilityStatusProperties{AvailabilityState: &health, Summary: &summary, ReasonType: ptr("Customer Initiated")},
		}}, nil)
		return
	}

	subnetRules := s.subnetRules
	if subnetRules == "" {
		subnetRules = allowSSHRule
	}
	w.network.SecurityGroupsServer.Get = func(_ context.Context, group, name string, _ *armnetwork.SecurityGroupsClientGetOptions) (resp azfake.Responder[armnetwork.SecurityGroupsClientGetResponse], errResp azfake.ErrorResponder) {
		rules := map[string]string{"net-rg/web-subnet-nsg": subnetRules, "rg/web1-nsg": allowSSHRule}[group+"/"+name]
		if rules == "" {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		}
		g := must[armnetwork.SecurityGroup](t, fmt.Sprintf(`{"name": %q, "properties": {"securityRules": [%s]}}`, name, rules))
		resp.SetResponse(http.StatusOK, armnetwork.SecurityGroupsClientGetResponse{SecurityGroup: g}, nil)
		return
	}
	w.network.SubnetsServer.Get = func(_ context.Context, group, vnet, name string, _ *armnetwork.SubnetsClientGetOptions) (resp azfake.Responder[armnetwork.SubnetsClientGetResponse], errResp azfake.ErrorResponder) {
		if group != "net-rg" || vnet != "vnet" || name != "default" {
			t.Errorf("subnet %s/%s/%s", group, vnet, name)
		}
		sn := must[armnetwork.Subnet](t, fmt.Sprintf(`{"name": "default", "id": %q, "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": %q}}}`, subnetID, snsgID))
		resp.SetResponse(http.StatusOK, armnetwork.SubnetsClientGetResponse{Subnet: sn}, nil)
		return
	}
	w.network.VirtualNetworksServer.Get = func(_ context.Context, _, _ string, _ *armnetwork.VirtualNetworksClientGetOptions) (resp azfake.Responder[armnetwork.VirtualNetworksClientGetResponse], errResp azfake.ErrorResponder) {
		vn := must[armnetwork.VirtualNetwork](t, `{"name": "vnet", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
  "virtualNetworkPeerings": [{"name": "hub", "properties": {"remoteAddressSpace": {"addressPrefixes": ["10.100.0.0/16"]}}}]}}`)
		resp.SetResponse(http.StatusOK, armnetwork.VirtualNetworksClientGetResponse{VirtualNetwork: vn}, nil)
		return
	}

	p, err := New(sub, rg, &azfake.TokenCredential{}, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: w}})
	if err != nil {
		t.Fatal(err)
	}
	p.PollFrequency = time.Millisecond
	return p, w
}

func ptr[T any](v T) *T { return &v }
