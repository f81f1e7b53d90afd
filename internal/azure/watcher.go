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

// WatcherResult is what Network Watcher answered for the report's flow.
type WatcherResult struct {
	Watcher     string `json:"watcher"`          // the regional Network Watcher used
	Access      string `json:"access,omitempty"` // IP flow verify: Allow or Deny
	Rule        string `json:"rule,omitempty"`   // the rule it names
	NextHopType string `json:"next_hop_type,omitempty"`
	NextHopIP   string `json:"next_hop_ip,omitempty"`
	RouteTable  string `json:"route_table,omitempty"`
	// Agrees: both answers match sshdoctor's own evaluation.
	Agrees bool `json:"agrees"`
}

// CrossCheckNetworkWatcher asks the VM's regional Network Watcher — IP flow
// verify for the report's flow and next hop for the replies — and compares
// with sshdoctor's own evaluation of the effective rules and routes. It
// adds the "watcher" step, and a cloud.watcher_disagrees finding when the
// answers differ. Each call is one long-running operation (seconds each).
func (p *Provider) CrossCheckNetworkWatcher(ctx context.Context, r *Report) {
	add := func(st cloudcheck.Status, summary string) {
		r.Steps = append(r.Steps, cloudcheck.Step{Name: "watcher", Status: st, Summary: summary})
	}
	if r.VM == nil || r.VM.PrivateIP == "" || r.VM.PowerState != cloud.PowerRunning {
		add(StatusSkip, "Network Watcher needs a running VM with a private address")
		return
	}
	loc := strings.ToLower(strings.ReplaceAll(r.VM.Location, " ", ""))
	var watcherID, watcherName string
	pager := p.watchers.NewListAllPager(nil)
	for pager.More() && watcherID == "" {
		page, err := pager.NextPage(ctx)
		if err != nil {
			e := fail(err, "list Network Watchers", actWatcherRead, "/subscriptions/"+p.Subscription)
			add(StatusWarn, "Network Watcher: "+errLine(e))
			return
		}
		for _, w := range page.Value {
			if strings.EqualFold(strings.ReplaceAll(deref(w.Location), " ", ""), loc) {
				watcherID, watcherName = deref(w.ID), deref(w.Name)
				break
			}
		}
	}
	if watcherID == "" {
		add(StatusSkip, fmt.Sprintf("no Network Watcher in %s (az network watcher configure -l %s --enabled true)", loc, loc))
		return
	}
	rid, err := arm.ParseResourceID(watcherID)
	if err != nil {
		add(StatusWarn, "Network Watcher: "+errLine(err))
		return
	}
	wrg := rid.ResourceGroupName
	res := &WatcherResult{Watcher: watcherName}
	r.Watcher = res

	flow, err := p.watchers.BeginVerifyIPFlow(ctx, wrg, watcherName, armnetwork.VerificationIPFlowParameters{
		Direction: to.Ptr(armnetwork.DirectionInbound), Protocol: to.Ptr(armnetwork.IPFlowProtocolTCP),
		LocalIPAddress: to.Ptr(r.VM.PrivateIP), LocalPort: to.Ptr(fmt.Sprint(r.Target.Port)),
		RemoteIPAddress: to.Ptr(r.Target.SourceIP), RemotePort: to.Ptr(fmt.Sprint(cloudcheck.ClientPort)),
		TargetResourceID: to.Ptr(p.vmID(r.Target.VM)),
	}, nil)
	fr, err := await(ctx, p, flow, err)
	if err != nil {
		add(StatusWarn, "IP flow verify: "+errLine(fail(err, "verify the IP flow with "+watcherName, actIPFlowVerify, watcherID)))
		return
	}
	res.Access, res.Rule = string(deref(fr.Access)), deref(fr.RuleName)

	hop, err := p.watchers.BeginGetNextHop(ctx, wrg, watcherName, armnetwork.NextHopParameters{
		SourceIPAddress: to.Ptr(r.VM.PrivateIP), DestinationIPAddress: to.Ptr(r.Target.SourceIP),
		TargetResourceID: to.Ptr(p.vmID(r.Target.VM)),
	}, nil)
	hr, err := await(ctx, p, hop, err)
	if err != nil {
		add(StatusWarn, "next hop: "+errLine(fail(err, "get the next hop from "+watcherName, actWatcherNextHp, watcherID)))
		return
	}
	res.NextHopType, res.NextHopIP, res.RouteTable = string(deref(hr.NextHopType)), deref(hr.NextHopIPAddress), deref(hr.RouteTableID)

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
	summary := fmt.Sprintf("%s: IP flow verify %s (%s); next hop %s %s", watcherName, res.Access, orNone(res.Rule), res.NextHopType, res.NextHopIP)
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
