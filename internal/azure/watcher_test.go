package azure

import (
	"context"
	"net/http"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/azure/azurefake"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// watcherWorld answers IP flow verify with access/rule and next hop with
// hopType, from a Network Watcher in westeurope.
func watcherWorld(t *testing.T, s scenario, access armnetwork.Access, rule string, hopType armnetwork.NextHopType) (*Provider, *azurefake.World, *armnetwork.VerificationIPFlowParameters) {
	p, w := newWorld(t, s)
	var asked armnetwork.VerificationIPFlowParameters
	w.Network.WatchersServer.NewListAllPager = func(*armnetwork.WatchersClientListAllOptions) (resp azfake.PagerResponder[armnetwork.WatchersClientListAllResponse]) {
		resp.AddPage(http.StatusOK, armnetwork.WatchersClientListAllResponse{WatcherListResult: armnetwork.WatcherListResult{Value: []*armnetwork.Watcher{
			{Name: ptr("NetworkWatcher_eastus"), Location: ptr("eastus"), ID: ptr("/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_eastus")},
			{Name: ptr("NetworkWatcher_westeurope"), Location: ptr("westeurope"), ID: ptr("/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope")},
		}}}, nil)
		return
	}
	w.Network.WatchersServer.BeginVerifyIPFlow = func(_ context.Context, group, name string, in armnetwork.VerificationIPFlowParameters, _ *armnetwork.WatchersClientBeginVerifyIPFlowOptions) (resp azfake.PollerResponder[armnetwork.WatchersClientVerifyIPFlowResponse], errResp azfake.ErrorResponder) {
		if group != "NetworkWatcherRG" || name != "NetworkWatcher_westeurope" {
			t.Errorf("IP flow verify asked of %s/%s", group, name)
		}
		asked = in
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.WatchersClientVerifyIPFlowResponse{VerificationIPFlowResult: armnetwork.VerificationIPFlowResult{Access: &access, RuleName: &rule}}, nil)
		return
	}
	w.Network.WatchersServer.BeginGetNextHop = func(_ context.Context, _, _ string, in armnetwork.NextHopParameters, _ *armnetwork.WatchersClientBeginGetNextHopOptions) (resp azfake.PollerResponder[armnetwork.WatchersClientGetNextHopResponse], errResp azfake.ErrorResponder) {
		if *in.SourceIPAddress != "10.0.0.4" || *in.DestinationIPAddress != "1.2.3.4" || !strings.HasSuffix(*in.TargetResourceID, "/virtualMachines/"+vmName) {
			t.Errorf("next hop asked for %s → %s on %s", *in.SourceIPAddress, *in.DestinationIPAddress, *in.TargetResourceID)
		}
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		resp.SetTerminalResponse(http.StatusOK, armnetwork.WatchersClientGetNextHopResponse{NextHopResult: armnetwork.NextHopResult{NextHopType: &hopType, RouteTableID: ptr("System Route")}}, nil)
		return
	}
	return p, w, &asked
}

func TestNetworkWatcherAgrees(t *testing.T) {
	p, _, asked := watcherWorld(t, scenario{}, armnetwork.AccessAllow, "UserRule_Allow-SSH", armnetwork.NextHopTypeInternet)
	r := Check(context.Background(), p, vmName, "1.2.3.4", 22)
	p.CrossCheckNetworkWatcher(context.Background(), r)
	if r.Watcher == nil || !r.Watcher.Agrees || r.Watcher.Watcher != "NetworkWatcher_westeurope" {
		t.Fatalf("watcher %+v", r.Watcher)
	}
	if *asked.Direction != armnetwork.DirectionInbound || *asked.Protocol != armnetwork.IPFlowProtocolTCP || *asked.LocalIPAddress != "10.0.0.4" ||
		*asked.LocalPort != "22" || *asked.RemoteIPAddress != "1.2.3.4" || !strings.HasSuffix(*asked.TargetResourceID, "/virtualMachines/"+vmName) {
		t.Errorf("IP flow verify asked %+v", asked)
	}
	if last := r.Steps[len(r.Steps)-1]; last.Name != "watcher" || last.Status != StatusOK {
		t.Errorf("step %+v", last)
	}
	if hasFinding(r, "cloud.watcher_disagrees") {
		t.Error("a disagreement reported")
	}
}

func TestNetworkWatcherDisagrees(t *testing.T) {
	// sshdoctor's rules allow; the watcher says an admin rule (one the
	// effective rules do not show) denies, and the replies go to an
	// appliance.
	p, _, _ := watcherWorld(t, scenario{}, armnetwork.AccessDeny, "AdminRule_DenySSH", armnetwork.NextHopTypeVirtualAppliance)
	r := Check(context.Background(), p, vmName, "1.2.3.4", 22)
	p.CrossCheckNetworkWatcher(context.Background(), r)
	if r.Watcher == nil || r.Watcher.Agrees || !hasFinding(r, "cloud.watcher_disagrees") {
		t.Fatalf("watcher %+v findings %v", r.Watcher, r.Findings)
	}
	var f string
	for _, x := range r.Findings {
		if x.ID == "cloud.watcher_disagrees" {
			f = strings.Join(x.Evidence, " | ")
		}
	}
	if !strings.Contains(f, "AdminRule_DenySSH") || !strings.Contains(f, "VirtualAppliance") {
		t.Errorf("evidence %q", f)
	}
}

func TestNetworkWatcherMissingOrStopped(t *testing.T) {
	p, w := newWorld(t, scenario{})
	w.Network.WatchersServer.NewListAllPager = func(*armnetwork.WatchersClientListAllOptions) (resp azfake.PagerResponder[armnetwork.WatchersClientListAllResponse]) {
		resp.AddPage(http.StatusOK, armnetwork.WatchersClientListAllResponse{}, nil)
		return
	}
	r := Check(context.Background(), p, vmName, "1.2.3.4", 22)
	p.CrossCheckNetworkWatcher(context.Background(), r)
	if last := r.Steps[len(r.Steps)-1]; last.Status != StatusSkip || !strings.Contains(last.Summary, "az network watcher configure -l westeurope") {
		t.Errorf("no watcher: %+v", last)
	}
	p, _ = newWorld(t, scenario{Power: "deallocated"})
	r = Check(context.Background(), p, vmName, "1.2.3.4", 22)
	p.CrossCheckNetworkWatcher(context.Background(), r)
	if last := r.Steps[len(r.Steps)-1]; last.Name != "watcher" || last.Status != StatusSkip {
		t.Errorf("deallocated: %+v", last)
	}
}

func hasFinding(r *Report, id string) bool {
	for _, f := range r.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// The judgement works on observations alone: no Azure call.
func TestJudgeWatcher(t *testing.T) {
	mk := func(allowed bool, w *WatcherResult) *Report {
		r := &Report{Report: &cloudcheck.Report{Verdict: &netpolicy.Verdict{Allowed: allowed}, ReturnRoute: &cloud.Route{NextHopType: "Internet"}}, Watcher: w}
		judgeWatcher(r)
		return r
	}
	step := func(r *Report) cloudcheck.Step {
		for _, s := range r.Steps {
			if s.Name == "watcher" {
				return s
			}
		}
		return cloudcheck.Step{}
	}
	if r := mk(true, &WatcherResult{Watcher: "nw", Access: "Allow", NextHopType: "Internet"}); !r.Watcher.Agrees || step(r).Status != StatusOK || hasFinding(r, "cloud.watcher_disagrees") {
		t.Errorf("agreeing answers: %+v %+v", r.Watcher, r.Steps)
	}
	if r := mk(false, &WatcherResult{Watcher: "nw", Access: "Allow", NextHopType: "Internet"}); r.Watcher.Agrees || step(r).Status != StatusWarn || !hasFinding(r, "cloud.watcher_disagrees") {
		t.Errorf("access differs: %+v %+v", r.Watcher, r.Steps)
	}
	if r := mk(true, &WatcherResult{Watcher: "nw", Access: "Allow", NextHopType: "None"}); r.Watcher.Agrees || !hasFinding(r, "cloud.watcher_disagrees") {
		t.Errorf("next hop differs: %+v", r.Watcher)
	}
	if r := mk(false, &WatcherResult{Skipped: "no Network Watcher in westeurope"}); step(r).Status != StatusSkip || hasFinding(r, "cloud.watcher_disagrees") {
		t.Errorf("skipped: %+v", r.Steps)
	}
	if r := mk(false, &WatcherResult{Failed: "IP flow verify: 403"}); step(r).Status != StatusWarn || hasFinding(r, "cloud.watcher_disagrees") {
		t.Errorf("failed: %+v", r.Steps)
	}
}
