package netpolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Fix is one rule to add to one NSG.
type Fix struct {
	Level string             `json:"level"` // "subnet" or "nic"
	NSG   string             `json:"nsg"`   // the NSG's name
	Rule  cloud.SecurityRule `json:"rule"`
}

// SuggestFix returns the smallest set of rules that lets f through e:
// SuggestAllow for the NSG that denies f, then, when the other NSG denies
// it too, for that one (inbound flows must pass both). Nil when f is
// already allowed. e is not modified.
func SuggestFix(e *cloud.EffectiveNSGs, f Flow) ([]Fix, error) {
	work := &cloud.EffectiveNSGs{Subnet: cloneNSG(e.Subnet), NIC: cloneNSG(e.NIC), VNetPrefixes: e.VNetPrefixes}
	var fixes []Fix
	for range 3 {
		p, err := Compile(work)
		if err != nil {
			return nil, err
		}
		v := p.Evaluate(f)
		if v.Allowed {
			return fixes, nil
		}
		if v.DecidingNSG == "" {
			return nil, fmt.Errorf("netpolicy: flow denied with no deciding NSG (direction %q?)", f.Direction)
		}
		level, _, _ := strings.Cut(v.DecidingNSG, "/")
		n := work.NIC
		if level == "subnet" {
			n = work.Subnet
		}
		deny := 65501 // no rule matched: anything beats "no match"
		if len(v.Trace) > 0 {
			deny = v.Trace[len(v.Trace)-1].Priority
		}
		r, err := SuggestAllow(n, f, deny)
		if err != nil {
			return nil, err
		}
		n.Rules = append(n.Rules, r)
		fixes = append(fixes, Fix{Level: level, NSG: n.Name, Rule: r})
	}
	return nil, fmt.Errorf("netpolicy: no fix found for %v", f)
}

func cloneNSG(n *cloud.NSG) *cloud.NSG {
	if n == nil {
		return nil
	}
	return &cloud.NSG{Name: n.Name, Rules: slices.Clone(n.Rules)}
}

// AzRuleCreate renders r as an `az network nsg rule create` command line
// for NSG nsg in resourceGroup; an empty resourceGroup becomes
// "$RESOURCE_GROUP", for the user to set. Arguments are quoted for a
// POSIX shell where needed ('*' always).
func AzRuleCreate(resourceGroup, nsg string, r cloud.SecurityRule) string {
	rg := shellQuote(resourceGroup)
	if resourceGroup == "" {
		rg = `"$RESOURCE_GROUP"`
	}
	list := func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = shellQuote(s)
		}
		return strings.Join(q, " ")
	}
	parts := []string{
		"az network nsg rule create",
		"--resource-group " + rg,
		"--nsg-name " + shellQuote(nsg),
		"--name " + shellQuote(r.Name),
		fmt.Sprintf("--priority %d", r.Priority),
		"--direction " + shellQuote(string(r.Direction)),
		"--access " + shellQuote(string(r.Access)),
		"--protocol " + shellQuote(r.Protocol),
		"--source-address-prefixes " + list(r.SourceAddressPrefixes),
		"--source-port-ranges " + list(r.SourcePortRanges),
		"--destination-address-prefixes " + list(r.DestinationAddressPrefixes),
		"--destination-port-ranges " + list(r.DestinationPortRanges),
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell unless it is made of characters
// that need no quoting.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("-_./:,@+=%", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
