// Package azurefake is a test world for sshdoctor's Azure code: one VM in
// resource group "rg", its NIC, public IP, subnet and NSGs, served by the
// Azure SDK's own fake servers (armcompute, armnetwork, armresourcehealth)
// and a fake boot-diagnostics blob. Nothing contacts Azure. It imports no
// sshdoctor package, so internal/azure's own tests use it too.
package azurefake

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
	Sub          = "00000000-0000-0000-0000-00000000000a"
	RG           = "rg"
	VMName       = "web1"
	RGID         = "/subscriptions/" + Sub + "/resourceGroups/" + RG
	VMID         = RGID + "/providers/Microsoft.Compute/virtualMachines/" + VMName
	NICID        = RGID + "/providers/Microsoft.Network/networkInterfaces/web1-nic"
	PIPID        = RGID + "/providers/Microsoft.Network/publicIPAddresses/web1-ip"
	VNetID       = "/subscriptions/" + Sub + "/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet"
	SubnetID     = VNetID + "/subnets/default"
	SubnetNSGID  = "/subscriptions/" + Sub + "/resourceGroups/net-rg/providers/Microsoft.Network/networkSecurityGroups/web-subnet-nsg"
	NICNSGID     = RGID + "/providers/Microsoft.Network/networkSecurityGroups/web1-nsg"
	RouteTableID = "/subscriptions/" + Sub + "/resourceGroups/net-rg/providers/Microsoft.Network/routeTables/web-routes"
	BlobHost     = "web1diag.blob.core.windows.net"
	SASURI       = "https://" + BlobHost + "/bootdiagnostics-web1-1234/web1.1234.serialconsole.log?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=SECRET"
)

// scenario sets the world's state; zero values are a healthy running VM.
type Scenario struct {
	Power      string // PowerState/<power>; default running
	AgentDown  bool
	NoBootDiag bool
	NoPublicIP bool
	Health     armresourcehealth.AvailabilityStateValues // default Available
	EffNSG     string                                    // EffectiveNetworkSecurityGroupListResult JSON; default openEffNSG
	Routes     string                                    // EffectiveRouteListResult JSON; default systemRoutes
	// subnetRules are the subnet NSG's securityRules as attached (read when
	// the VM is not running); default allowSSHRule.
	SubnetRules string
	// PublicIP is the public IP resource's address; default 20.50.60.70.
	// Tests that connect to the VM set a loopback or lab address.
	PublicIP string
	// PublicIPSKU is the public IP resource's SKU; default Standard.
	PublicIPSKU string
}

const AllowSSHRule = `{"name": "Allow-SSH", "properties": {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22",
  "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow", "priority": 300, "direction": "Inbound"}}`

func VMJSON(s Scenario) string {
	power := s.Power
	if power == "" {
		power = "running"
	}
	agent := `{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready", "message": "Guest Agent is running"}`
	if s.AgentDown {
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
}`, VMName, VMID, NICID, !s.NoBootDiag, agent, power, power)
}

func NICJSON(s Scenario) string {
	pip := fmt.Sprintf(`, "publicIPAddress": {"id": %q}`, PIPID)
	if s.NoPublicIP {
		pip = ""
	}
	return fmt.Sprintf(`{
  "name": "web1-nic", "id": %q,
  "properties": {
    "ipConfigurations": [{"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4", "primary": true, "subnet": {"id": %q}%s}}],
    "networkSecurityGroup": {"id": %q}
  }
}`, NICID, SubnetID, pip, NICNSGID)
}

// defaultRules are the default rules as the effective-NSG API lists them.
const DefaultRules = `
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

func EffNSG(subnetRules, nicRules string) string {
	return fmt.Sprintf(`{"value": [
    {"networkSecurityGroup": {"id": %q}, "association": {"subnet": {"id": %q}},
     "effectiveSecurityRules": [%s%s]},
    {"networkSecurityGroup": {"id": %q}, "association": {"networkInterface": {"id": %q}},
     "effectiveSecurityRules": [%s%s]}
  ]}`, SubnetNSGID, SubnetID, subnetRules, DefaultRules, NICNSGID, NICID, nicRules, DefaultRules)
}

const AllowSSHAnywhere = `
        {"name": "securityRules/Allow-SSH", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "0.0.0.0/0", "destinationAddressPrefix": "0.0.0.0/0", "access": "Allow", "priority": 300, "direction": "Inbound"},`

var OpenEffNSG = EffNSG(AllowSSHAnywhere, AllowSSHAnywhere)

// subnetDenyEffNSG: the subnet NSG denies SSH from the Internet above
// the NIC NSG's allow.
var SubnetDenyEffNSG = EffNSG(`
        {"name": "securityRules/Deny-SSH-Internet", "protocol": "Tcp", "sourcePortRange": "0-65535", "destinationPortRange": "22-22",
         "sourceAddressPrefix": "Internet", "expandedSourceAddressPrefix": ["1.0.0.0/8", "2.0.0.0/7"],
         "destinationAddressPrefix": "0.0.0.0/0", "access": "Deny", "priority": 200, "direction": "Inbound"},`,
	AllowSSHAnywhere)

func RoutesJSON(udr string) string {
	return `{"value": [
    {"source": "Default", "state": "Active", "addressPrefix": ["10.0.0.0/16"], "nextHopType": "VnetLocal", "nextHopIpAddress": []},
    {"source": "Default", "state": "` + map[bool]string{true: "Invalid", false: "Active"}[udr != ""] + `", "addressPrefix": ["0.0.0.0/0"], "nextHopType": "Internet", "nextHopIpAddress": []}` +
		udr + `]}`
}

var SystemRoutes = RoutesJSON("")

func Must[T any](t testing.TB, js string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("fixture: %v\n%s", err, js)
	}
	return v
}

// world routes requests to the three modules' fake servers by provider,
// and serves the boot-diagnostics blob itself.
type World struct {
	T            testing.TB
	Compute      computefake.ServerFactory
	Network      networkfake.ServerFactory
	HealthServer healthfake.ServerFactory
	CT           *computefake.ServerFactoryTransport
	NT           *networkfake.ServerFactoryTransport
	HT           *healthfake.ServerFactoryTransport

	Mu     sync.Mutex
	Serial []byte            // the blob's content; nil: 404
	Blobs  []*http.Request   // blob requests seen
	Bodies map[string][]byte // last PUT body by path
	Hits   map[string]int    // requests by path (LRO polls included)
	// Fail holds ARM error answers by "METHOD path", served instead of
	// the fakes (which send no error message) — see FailWith.
	Fail map[string]Failure
	// ExtensionFailure, when set, is the message the extension's handler
	// reports in its instance view (it ran and failed).
	ExtensionFailure string
}

// Failure is an ARM error answer: status, and the body's code and message.
type Failure struct {
	Status        int
	Code, Message string
	// Times: answered this many times, then the fakes answer again (0:
	// every time).
	Times int
}

// FailWith makes every method request to path answer f, as Azure would:
// {"error": {"code": …, "message": …}}.
func (w *World) FailWith(method, path string, f Failure) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	w.Fail[method+" "+path] = f
}

// Do routes one request (the world is the clients' transport).
func (w *World) Do(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	if strings.Contains(path, "//") {
		w.T.Errorf("malformed path %s", path)
	}
	w.Mu.Lock()
	w.Hits[strings.TrimSuffix(path, "/get/fake/status")]++
	f, failing := w.Fail[req.Method+" "+path]
	if failing && f.Times > 0 {
		if f.Times--; f.Times == 0 {
			delete(w.Fail, req.Method+" "+path)
		} else {
			w.Fail[req.Method+" "+path] = f
		}
	}
	w.Mu.Unlock()
	if failing {
		body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": f.Code, "message": f.Message}})
		return &http.Response{Request: req, StatusCode: f.Status, Status: fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status)),
			Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, Body: io.NopCloser(bytes.NewReader(body))}, nil
	}
	if req.Body != nil && req.Method == http.MethodPut {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		w.Mu.Lock()
		w.Bodies[strings.TrimSuffix(path, "/get/fake/status")] = b
		w.Mu.Unlock()
	}
	switch {
	case req.URL.Host == BlobHost:
		w.Mu.Lock()
		w.Blobs = append(w.Blobs, req)
		w.Mu.Unlock()
		resp := &http.Response{Request: req, Header: http.Header{}, StatusCode: http.StatusOK, Status: "200 OK"}
		if w.Serial == nil || req.URL.Query().Get("sig") != "SECRET" {
			resp.StatusCode, resp.Status = http.StatusNotFound, "404 The specified blob does not exist."
			resp.Body = io.NopCloser(strings.NewReader(""))
			return resp, nil
		}
		resp.Body = io.NopCloser(bytes.NewReader(w.Serial))
		return resp, nil
	case req.URL.Host != "management.azure.com":
		w.T.Errorf("request to %s: only ARM and the blob are faked", req.URL)
		return nil, fmt.Errorf("unexpected host %s", req.URL.Host)
	case strings.Contains(path, "/providers/Microsoft.ResourceHealth/"):
		return w.HT.Do(req)
	case strings.Contains(path, "/providers/Microsoft.Network/"):
		return w.NT.Do(req)
	}
	return w.CT.Do(req)
}

// NewWorld builds the world for scenario s. Pass w.Options() to azure.New.
func NewWorld(t testing.TB, s Scenario) *World {
	t.Helper()
	w := &World{T: t, Serial: []byte("[    0.000000] Linux version 6.8.0-azure\nUbuntu 24.04 LTS web1 ttyS0\n\nweb1 login: "), Bodies: map[string][]byte{}, Hits: map[string]int{}, Fail: map[string]Failure{}}
	w.CT = computefake.NewServerFactoryTransport(&w.Compute)
	w.NT = networkfake.NewServerFactoryTransport(&w.Network)
	w.HT = healthfake.NewServerFactoryTransport(&w.HealthServer)

	vm := Must[armcompute.VirtualMachine](t, VMJSON(s))
	w.Compute.VirtualMachinesServer.Get = func(_ context.Context, group, name string, opts *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
		if group != RG || name != VMName {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		}
		if opts == nil || opts.Expand == nil || *opts.Expand != armcompute.InstanceViewTypesInstanceView {
			t.Errorf("VM read without the instance view")
		}
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: vm}, nil)
		return
	}
	w.Compute.VirtualMachinesServer.RetrieveBootDiagnosticsData = func(_ context.Context, _, _ string, opts *armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataResponse], errResp azfake.ErrorResponder) {
		if s.NoBootDiag {
			t.Errorf("boot diagnostics retrieved although disabled")
		}
		if opts == nil || opts.SasURIExpirationTimeInMinutes == nil || *opts.SasURIExpirationTimeInMinutes > 10 {
			t.Errorf("SAS lifetime not bounded: %+v", opts)
		}
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientRetrieveBootDiagnosticsDataResponse{RetrieveBootDiagnosticsDataResult: armcompute.RetrieveBootDiagnosticsDataResult{
			SerialConsoleLogBlobURI: Ptr(SASURI),
		}}, nil)
		return
	}
	nic := Must[armnetwork.Interface](t, NICJSON(s))
	w.Network.InterfacesServer.Get = func(_ context.Context, group, name string, _ *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], errResp azfake.ErrorResponder) {
		if group != RG || name != "web1-nic" {
			t.Errorf("NIC %s/%s", group, name)
		}
		resp.SetResponse(http.StatusOK, armnetwork.InterfacesClientGetResponse{Interface: nic}, nil)
		return
	}
	publicIP := s.PublicIP
	if publicIP == "" {
		publicIP = "20.50.60.70"
	}
	sku := s.PublicIPSKU
	if sku == "" {
		sku = "Standard"
	}
	w.Network.PublicIPAddressesServer.Get = func(_ context.Context, _, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], errResp azfake.ErrorResponder) {
		pip := Must[armnetwork.PublicIPAddress](t, fmt.Sprintf(`{"name": "web1-ip", "id": %q, "sku": {"name": %q, "tier": "Regional"}, "properties": {"publicIPAllocationMethod": "Static", "ipAddress": %q}}`, PIPID, sku, publicIP))
		resp.SetResponse(http.StatusOK, armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: pip}, nil)
		return
	}
	eff := s.EffNSG
	if eff == "" {
		eff = OpenEffNSG
	}
	w.Network.InterfacesServer.BeginListEffectiveNetworkSecurityGroups = func(_ context.Context, _, _ string, _ *armnetwork.InterfacesClientBeginListEffectiveNetworkSecurityGroupsOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientListEffectiveNetworkSecurityGroupsResponse{
			EffectiveNetworkSecurityGroupListResult: Must[armnetwork.EffectiveNetworkSecurityGroupListResult](t, eff)}, nil)
		return
	}
	routes := s.Routes
	if routes == "" {
		routes = SystemRoutes
	}
	w.Network.InterfacesServer.BeginGetEffectiveRouteTable = func(_ context.Context, _, _ string, _ *armnetwork.InterfacesClientBeginGetEffectiveRouteTableOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientGetEffectiveRouteTableResponse], errResp azfake.ErrorResponder) {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientGetEffectiveRouteTableResponse{
			EffectiveRouteListResult: Must[armnetwork.EffectiveRouteListResult](t, routes)}, nil)
		return
	}
	health := s.Health
	if health == "" {
		health = armresourcehealth.AvailabilityStateValuesAvailable
	}
	w.HealthServer.AvailabilityStatusesServer.GetByResource = func(_ context.Context, uri string, _ *armresourcehealth.AvailabilityStatusesClientGetByResourceOptions) (resp azfake.Responder[armresourcehealth.AvailabilityStatusesClientGetByResourceResponse], errResp azfake.ErrorResponder) {
		if uri != strings.TrimPrefix(VMID, "/") {
			t.Errorf("health asked for %q", uri)
		}
		summary := map[armresourcehealth.AvailabilityStateValues]string{
			armresourcehealth.AvailabilityStateValuesAvailable:   "There aren't any known Azure platform problems affecting this virtual machine.",
			armresourcehealth.AvailabilityStateValuesUnavailable: "This virtual machine is stopped and deallocated.",
			armresourcehealth.AvailabilityStateValuesDegraded:    "We're sorry, your virtual machine is degraded.",
		}[health]
		resp.SetResponse(http.StatusOK, armresourcehealth.AvailabilityStatusesClientGetByResourceResponse{AvailabilityStatus: armresourcehealth.AvailabilityStatus{
			Properties: &armresourcehealth.AvailabilityStatusProperties{AvailabilityState: &health, Summary: &summary, ReasonType: Ptr("Customer Initiated")},
		}}, nil)
		return
	}

	subnetRules := s.SubnetRules
	if subnetRules == "" {
		subnetRules = AllowSSHRule
	}
	w.Network.SecurityGroupsServer.Get = func(_ context.Context, group, name string, _ *armnetwork.SecurityGroupsClientGetOptions) (resp azfake.Responder[armnetwork.SecurityGroupsClientGetResponse], errResp azfake.ErrorResponder) {
		rules := map[string]string{"net-rg/web-subnet-nsg": subnetRules, "rg/web1-nsg": AllowSSHRule}[group+"/"+name]
		if rules == "" {
			errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		}
		g := Must[armnetwork.SecurityGroup](t, fmt.Sprintf(`{"name": %q, "properties": {"securityRules": [%s]}}`, name, rules))
		resp.SetResponse(http.StatusOK, armnetwork.SecurityGroupsClientGetResponse{SecurityGroup: g}, nil)
		return
	}
	w.Network.SubnetsServer.Get = func(_ context.Context, group, vnet, name string, _ *armnetwork.SubnetsClientGetOptions) (resp azfake.Responder[armnetwork.SubnetsClientGetResponse], errResp azfake.ErrorResponder) {
		if group != "net-rg" || vnet != "vnet" || name != "default" {
			t.Errorf("subnet %s/%s/%s", group, vnet, name)
		}
		sn := Must[armnetwork.Subnet](t, fmt.Sprintf(`{"name": "default", "id": %q, "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": %q}, "routeTable": {"id": %q}}}`, SubnetID, SubnetNSGID, RouteTableID))
		resp.SetResponse(http.StatusOK, armnetwork.SubnetsClientGetResponse{Subnet: sn}, nil)
		return
	}
	w.Network.VirtualNetworksServer.Get = func(_ context.Context, _, _ string, _ *armnetwork.VirtualNetworksClientGetOptions) (resp azfake.Responder[armnetwork.VirtualNetworksClientGetResponse], errResp azfake.ErrorResponder) {
		vn := Must[armnetwork.VirtualNetwork](t, `{"name": "vnet", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
  "virtualNetworkPeerings": [{"name": "hub", "properties": {"remoteAddressSpace": {"addressPrefixes": ["10.100.0.0/16"]}}}]}}`)
		resp.SetResponse(http.StatusOK, armnetwork.VirtualNetworksClientGetResponse{VirtualNetwork: vn}, nil)
		return
	}
	// The extension's own status, as its handler reported it: success
	// unless a test sets ExtensionFailure.
	w.Compute.VirtualMachineExtensionsServer.Get = func(_ context.Context, _, _, name string, opts *armcompute.VirtualMachineExtensionsClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachineExtensionsClientGetResponse], errResp azfake.ErrorResponder) {
		if opts == nil || opts.Expand == nil || *opts.Expand != "instanceView" {
			t.Errorf("extension %s read without its instance view", name)
		}
		status := `{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "message": "Enable succeeded."}`
		if w.ExtensionFailure != "" {
			status = fmt.Sprintf(`{"code": "ProvisioningState/failed/1", "level": "Error", "displayStatus": "Provisioning failed", "message": %q}`, w.ExtensionFailure)
		}
		ext := Must[armcompute.VirtualMachineExtension](t, fmt.Sprintf(`{"name": %q, "properties": {"publisher": "Microsoft.OSTCExtensions", "type": "VMAccessForLinux",
  "typeHandlerVersion": "1.5", "provisioningState": "Succeeded", "instanceView": {"name": %q, "statuses": [%s]}}}`, name, name, status))
		resp.SetResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientGetResponse{VirtualMachineExtension: ext}, nil)
		return
	}

	return w
}

// Options are the client options that route every call into the world.
func (w *World) Options() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: w}}
}

// Credential is the SDK's fake token credential.
func Credential() *azfake.TokenCredential { return &azfake.TokenCredential{} }

func Ptr[T any](v T) *T { return &v }
