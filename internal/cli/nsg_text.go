package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// nsgRuleSummary renders a rule's match in one line: "Tcp Internet → *:22".
func nsgRuleSummary(r cloud.SecurityRule, flowProto string) string {
	if r.Name == "" {
		return ""
	}
	addrs := func(l []string) string {
		out := make([]string, len(l))
		for i, s := range l {
			if netpolicy.IsASG(s) {
				s = "asg:" + netpolicy.ASGName(s)
			}
			out[i] = s
		}
		return strings.Join(out, ",")
	}
	ports := strings.Join(r.DestinationPortRanges, ",")
	s := fmt.Sprintf("%s %s → %s:%s", r.Protocol, addrs(r.SourceAddressPrefixes), addrs(r.DestinationAddressPrefixes), ports)
	if sp := strings.Join(r.SourcePortRanges, ","); sp != "*" && sp != "0-65535" {
		s += " (source ports " + sp + ")"
	}
	return s
}

func nsgWriteText(w io.Writer, d *nsgVerifyJSON) {
	f := d.Flow
	switch f.Protocol {
	case "Icmp", "Esp", "Ah": // no ports
		fmt.Fprintf(w, "%s: %s %s → %s (%s)\n", d.Verdict, f.Protocol, f.Source, f.Destination, strings.ToLower(f.Direction))
	default:
		fmt.Fprintf(w, "%s: %s %s:%d → %s:%d (%s)\n", d.Verdict, f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, strings.ToLower(f.Direction))
	}
	var decider nsgStepJSON
	for _, s := range d.Trace {
		if s.Decides {
			decider = s
		}
	}
	switch {
	case d.DecidingRule != "":
		verb := "denied by"
		if d.Allowed {
			verb = "allowed by"
		}
		fmt.Fprintf(w, "  %s %s %s (priority %d: %s %s)\n", verb, d.DecidingNSG, d.DecidingRule, d.DecidingPriority, decider.Access, decider.Summary)
	case d.DecidingNSG != "":
		fmt.Fprintf(w, "  denied by %s: no rule matched\n", d.DecidingNSG)
	}
	for _, x := range d.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "NSGs")
	for _, in := range d.Inputs {
		fmt.Fprintf(w, "  %s  from %s: %s\n", strings.Join(in.NSGs, ", "), in.File, in.Shape.Describe())
	}
	fmt.Fprintf(w, "  VirtualNetwork = %s (%s)\n", strings.Join(d.VNetPrefixes, ", "), map[string]string{"flag": "--vnet", "file": "from the file", "assumed": "assumed"}[d.VNetSource])
	if len(f.SourceASGs) > 0 || len(f.DestinationASGs) > 0 {
		fmt.Fprintf(w, "  ASG memberships: source %s; destination %s\n", nsgASGNames(f.SourceASGs), nsgASGNames(f.DestinationASGs))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Trace (rules looked at, in order; MATCH = the rule that decided for its NSG)")
	wn, wr := 0, 0
	for _, s := range d.Trace {
		wn, wr = max(wn, len(s.NSG)), max(wr, len(s.Rule))
	}
	for _, s := range d.Trace {
		m, mark := "-", ""
		if s.Matched {
			m = "MATCH"
		}
		if s.Decides {
			mark = "   ← decides"
		}
		fmt.Fprintf(w, "  %-*s  %5d  %-*s  %-5s  %-5s  %s%s\n", wn, s.NSG, s.Priority, wr, s.Rule, s.Access, m, s.Summary, mark)
	}
	if d.Allowed {
		return
	}
	fmt.Fprintln(w)
	if d.FixError != "" {
		fmt.Fprintf(w, "Fix: %s\n", d.FixError)
		return
	}
	fmt.Fprintln(w, "Fix: the smallest rule set that lets this flow through")
	needRG := false
	for i, fx := range d.Fix {
		r := fx.Rule
		fmt.Fprintf(w, "  %d. NSG %s (%s): %s %s from %s to port %s at priority %d (%s)\n", i+1, fx.NSG, fx.Level, r.Access, r.Protocol,
			strings.Join(r.SourceAddressPrefixes, ","), strings.Join(r.DestinationPortRanges, ","), r.Priority, r.Direction)
		if m := fx.Renumber; m != nil {
			fmt.Fprintf(w, "     first move %s from priority %d to %d (%s)\n", m.Name, m.Priority-1, m.Priority, netpolicy.AzRuleSetPriority(fx.ResourceGroup, fx.NSG, m.Name, m.Priority))
		}
		fmt.Fprintf(w, "     %s\n", fx.Az)
		needRG = needRG || fx.ResourceGroup == ""
	}
	if needRG {
		fmt.Fprintln(w, "  (set RESOURCE_GROUP to the NSG's resource group first: the file does not say)")
	}
}

func nsgASGNames(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = netpolicy.ASGName(s)
	}
	return strings.Join(out, ", ")
}
