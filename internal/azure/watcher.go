package azure

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// Statuses of the watcher step, as the cloud check names them.
const (
	StatusOK   = cloudcheck.StatusOK
	StatusWarn = cloudcheck.StatusWarn
	StatusSkip = cloudcheck.StatusSkip
)

const (
	actWatcherRead   = "Microsoft.Network/networkWatchers/read"
	actIPFlowVerify  = "Microsoft.Network/networkWatchers/ipFlowVerify/action"
	actWatcherNextHp = "Microsoft.Network/networkWatchers/nextHop/action"
)

// WatcherResult is what Network Watcher answered for the report's flow:
// observations only; judgeWatcher compares them with sshdoctor's own.
type WatcherResult struct {
	Watcher     string `json:"watcher"`          // the regional Network Watcher used
	Access      string `json:"access,omitempty"` // IP flow verify: Allow or Deny
	Rule        string `json:"rule,omitempty"`   // the rule it names
	NextHopType string `json:"next_hop_type,omitempty"`
	NextHopIP   string `json:"next_hop_ip,omitempty"`
	RouteTable  string `json:"route_table,omitempty"`
	// Skipped says why Network Watcher was not asked (no running VM,
	// none in the region); Failed is the call that failed and why.
	Skipped string `json:"skipped,omitempty"`
	Failed  string `json:"failed,omitempty"`
	// Agrees: both answers match sshdoctor's own evaluation (set by the
	// judgement).
	Agrees bool `json:"agrees"`
}

// CrossCheckNetworkWatcher asks the VM's regional Network Watcher — IP flow
// verify for the report's flow and next hop for the replies — then judges
// its answers against sshdoctor's own evaluation of the effective rules
// and routes: the "watcher" step, and a cloud.watcher_disagrees finding
// when the answers differ. Each call is one long-running operation
// (seconds each).
func (p *Provider) CrossCheckNetworkWatcher(ctx context.Context, r *Report) {
	r.Watcher = p.askNetworkWatcher(ctx, r)
	judgeWatcher(r)
}

// askNetworkWatcher gathers Network Watcher's answers for r's flow.
func (p *Provider) askNetworkWatcher(ctx context.Context, r *Report) *WatcherResult {
	res := &WatcherResult{}
	if r.VM == nil || r.VM.PrivateIP == "" || r.VM.PowerState != cloud.PowerRunning {
		res.Skipped = "Network Watcher needs a running VM with a private address"
		return res
	}
	loc := strings.ToLower(strings.ReplaceAll(r.VM.Location, " ", ""))
	var watcherID string
	pager := p.watchers.NewListAllPager(nil)
	for pager.More() && watcherID == "" {
		page, err := pager.NextPage(ctx)
		if err != nil {
			res.Failed = "Network Watcher: " + errLine(fail(err, "list Network Watchers", actWatcherRead, "/subscriptions/"+p.Subscription))
			return res
		}
		for _, w := range page.Value {
			if strings.EqualFold(strings.ReplaceAll(deref(w.Location), " ", ""), loc) {
				watcherID, res.Watcher = deref(w.ID), deref(w.Name)
				break
			}
		}
	}
	if watcherID == "" {
		res.Skipped = fmt.Sprintf("no Network Watcher in %s (az network watcher configure -l %s --enabled true)", loc, loc)
		return res
	}
	rid, err := arm.ParseResourceID(watcherID)
	if err != nil {
		res.Failed = "Network Watcher: " + errLine(err)
		return res
	}
	wrg, name := rid.ResourceGroupName, res.Watcher

	flow, err := p.watchers.BeginVerifyIPFlow(ctx, wrg, name, armnetwork.VerificationIPFlowParameters{
		Direction: to.Ptr(armnetwork.DirectionInbound), Protocol: to.Ptr(armnetwork.IPFlowProtocolTCP),
		LocalIPAddress: to.Ptr(r.VM.PrivateIP), LocalPort: to.Ptr(fmt.Sprint(r.Target.Port)),
		RemoteIPAddress: to.Ptr(r.Target.SourceIP), RemotePort: to.Ptr(fmt.Sprint(cloudcheck.ClientPort)),
		TargetResourceID: to.Ptr(p.vmID(r.Target.VM)),
	}, nil)
	fr, err := await(ctx, p, flow, err)
	if err != nil {
		res.Failed = "IP flow verify: " + errLine(fail(err, "verify the IP flow with "+name, actIPFlowVerify, watcherID))
		return res
	}
	res.Access, res.Rule = string(deref(fr.Access)), deref(fr.RuleName)

	hop, err := p.watchers.BeginGetNextHop(ctx, wrg, name, armnetwork.NextHopParameters{
		SourceIPAddress: to.Ptr(r.VM.PrivateIP), DestinationIPAddress: to.Ptr(r.Target.SourceIP),
		TargetResourceID: to.Ptr(p.vmID(r.Target.VM)),
	}, nil)
	hr, err := await(ctx, p, hop, err)
	if err != nil {
		res.Failed = "next hop: " + errLine(fail(err, "get the next hop from "+name, actWatcherNextHp, watcherID))
		return res
	}
	res.NextHopType, res.NextHopIP, res.RouteTable = string(deref(hr.NextHopType)), deref(hr.NextHopIPAddress), deref(hr.RouteTableID)
	return res
}

// judgeWatcher compares Network Watcher's answers (r.Watcher) with
// sshdoctor's verdict and return route: the "watcher" step, and
// cloud.watcher_disagrees when they differ.
func judgeWatcher(r *Report) {
	res := r.Watcher
	add := func(st cloudcheck.Status, summary string) {
		r.Steps = append(r.Steps, cloudcheck.Step{Name: "watcher", Status: st, Summary: summary})
	}
	switch {
	case res == nil:
		return
	case res.Skipped != "":
		add(StatusSkip, res.Skipped)
		return
	case res.Failed != "":
		add(StatusWarn, res.Failed)
		return
	}
	var diffs []string
	if r.Verdict != nil {
		ours := "Deny"
		if r.Verdict.Allowed {
			ours = "Allow"
		}
		if !strings.EqualFold(ours, res.Access) {
			diffs = append(diffs, fmt.Sprintf("IP flow verify says %s (%s), sshdoctor's evaluation says %s (%s)", res.Access, orNone(res.Rule), ours, r.Verdict))
		}
	}
	if r.ReturnRoute != nil && !strings.EqualFold(string(r.ReturnRoute.NextHopType), res.NextHopType) {
		diffs = append(diffs, fmt.Sprintf("next hop says %s %s, the effective routes say %s", res.NextHopType, res.NextHopIP, r.ReturnRoute.NextHopType))
	}
	res.Agrees = len(diffs) == 0
	summary := fmt.Sprintf("%s: IP flow verify %s (%s); next hop %s %s", res.Watcher, res.Access, orNone(res.Rule), res.NextHopType, res.NextHopIP)
	if res.Agrees {
		add(StatusOK, summary+"; agrees")
		return
	}
	add(StatusWarn, summary)
	r.Findings = append(r.Findings, findings.New("cloud.watcher_disagrees",
		fmt.Sprintf("Network Watcher and sshdoctor disagree about %s", r.Flow), "", diffs...))
}

func errLine(err error) string { return firstLine(err.Error()) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
