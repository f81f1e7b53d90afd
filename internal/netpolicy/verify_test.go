package netpolicy

import (
	"reflect"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

func TestVerify(t *testing.T) {
	asg := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/web-asg"
	toASG := in("AllowWebASG", 200, cloud.Allow, "Tcp", "*", "22")
	toASG.DestinationAddressPrefixes = []string{asg}
	fromVNet := in("DenyVNet", 300, cloud.Deny, "Tcp", "VirtualNetwork", "22")
	tagged := in("AllowSQL", 400, cloud.Allow, "Tcp", "Sql", "22")
	late := in("AllowStorage", 4000, cloud.Allow, "Tcp", "Storage", "22")
	e := &cloud.EffectiveNSGs{NIC: nsg("n", toASG, fromVNet, tagged, late)}
	before := cloneForTest(e)
	f := flow("Tcp", "10.2.0.9", "10.0.0.4", 22)

	res, err := Verify(VerifyInput{NSGs: e, Flow: f})
	if err != nil {
		t.Fatal(err)
	}
	// 10.2.0.9 is inside the assumed VNet (10.0.0.0/8): DenyVNet decides.
	if res.Verdict.Allowed || res.DecidingPriority != 300 || res.VNetSource != VNetAssumed || !res.VNetMatters {
		t.Fatalf("verdict %v prio %d vnet %s matters %v", res.Verdict, res.DecidingPriority, res.VNetSource, res.VNetMatters)
	}
	// The ASG rule was looked at without memberships: noted, once.
	if len(res.ASGNotes) != 1 || res.ASGNotes[0].ASG != "web-asg" || res.ASGNotes[0].Side != "destination" {
		t.Errorf("ASG notes %+v", res.ASGNotes)
	}
	// Neither service tag was reached before the decision.
	if len(res.Unresolved) != 0 {
		t.Errorf("unresolved %+v", res.Unresolved)
	}
	if len(res.Fixes) != 1 || res.Fixes[0].Rule.Priority >= 300 || res.FixErr != nil {
		t.Errorf("fixes %+v %v", res.Fixes, res.FixErr)
	}
	if len(res.Trace) == 0 || !res.Trace[len(res.Trace)-1].Decides || res.Trace[len(res.Trace)-1].Rule.Name != "DenyVNet" {
		t.Errorf("trace %+v", res.Trace)
	}
	if !reflect.DeepEqual(e, before) {
		t.Error("Verify modified its input")
	}

	// The VNet given: 10.2.0.9 is outside it, so DenyVNet does not match,
	// the Sql tag (unlisted) is reached and taken to match nothing.
	res, err = Verify(VerifyInput{NSGs: e, Flow: f, VNet: []string{"10.0.0.0/16"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.VNetSource != VNetGiven || res.VNetMatters || len(res.Unresolved) == 0 || res.Unresolved[0].Entry != "Sql" {
		t.Errorf("vnet %s matters %v unresolved %+v", res.VNetSource, res.VNetMatters, res.Unresolved)
	}
	for _, u := range res.Unresolved {
		if u.Entry == "Storage" && res.Verdict.DecidingRule != "securityRules/AllowStorage" && u.Priority > res.DecidingPriority {
			t.Errorf("a tag past the decision is reported: %+v", u)
		}
	}
	// Membership given: no note.
	f.DestinationASGs = []string{"web-asg"}
	if res, _ := Verify(VerifyInput{NSGs: e, Flow: f}); len(res.ASGNotes) != 0 || !res.Verdict.Allowed {
		t.Errorf("member of the ASG: notes %+v verdict %v", res.ASGNotes, res.Verdict)
	}
}

func cloneForTest(e *cloud.EffectiveNSGs) *cloud.EffectiveNSGs {
	c := *e
	if e.NIC != nil {
		n := *e.NIC
		n.Rules = append([]cloud.SecurityRule(nil), e.NIC.Rules...)
		c.NIC = &n
	}
	return &c
}
