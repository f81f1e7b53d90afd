package cli

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// NSGVerifyOptions are the inputs of `sshdoctor nsg verify`.
type NSGVerifyOptions struct {
	IO *IOStreams

	NSGFile       string // NIC NSG, or effective rules (both levels)
	SubnetNSGFile string
	From, To      string
	Port          int
	SourcePort    int
	Protocol      string
	Direction     string
	VNet          []string
	NICASGs       []string // ASGs the destination's NIC (--to) is a member of
	SourceASGs    []string // ASGs the source's NIC (--from) is a member of
	Output        string
}

// NewCmdNSG builds `sshdoctor nsg`.
func NewCmdNSG(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "nsg",
		SilenceUsage:  true,
		SilenceErrors: true,
		Short:         "Evaluate Azure network security groups offline, from JSON files",
		Long: `Evaluate Azure network security groups (NSGs) the way Azure does, offline,
from the JSON you already have: ARM JSON, 'az network nsg show', 'az network nsg
rule list', or a NIC's effective rules ('az network nic list-effective-nsg').
See docs/netpolicy.md.`,
	}
	o := &NSGVerifyOptions{IO: ios}
	verify := &cobra.Command{
		Use:   "verify --nsg FILE [--subnet-nsg FILE] --from IP --to IP [flags]",
		Short: "Would this flow reach the VM? Which rule decides, and the smallest fix",
		Long: `Verify evaluates one flow against a NIC's NSGs: inbound traffic must pass the
subnet's NSG and then the NIC's, outbound the NIC's and then the subnet's; in
each, rules of the flow's direction in ascending priority, first match wins,
Azure's default rules last. It prints the verdict (Allowed or Denied), the
deciding NSG and rule, every rule looked at, and when denied the smallest rule
that lets the flow through, as an 'az network nsg rule create' command.

--nsg is the NIC's NSG, or effective security rules, which hold both levels and
the VirtualNetwork tag's addresses (then --subnet-nsg is not needed). The
VirtualNetwork tag stands for --vnet, else the prefixes the file lists, else
Azure's default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (with a warning).

Exit status: 0 allowed, 1 denied, 2 bad input.`,
		Example: `  az network nic list-effective-nsg -g rg -n vm1-nic > eff.json
  sshdoctor nsg verify --nsg eff.json --from 203.0.113.5 --to 10.1.0.4

  az network nsg show -g rg -n vm1-nsg > nic.json
  az network nsg show -g rg -n snet-nsg > subnet.json
  sshdoctor nsg verify --nsg nic.json --subnet-nsg subnet.json --vnet 10.1.0.0/16 \
      --from 203.0.113.5 --to 10.1.0.4 --port 22 --output json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return nsgVerifyRun(o) },
	}
	f := verify.Flags()
	f.StringVar(&o.NSGFile, "nsg", "", "the NIC's NSG (ARM JSON, az network nsg show, az network nsg rule list) or its effective rules (az network nic list-effective-nsg)")
	f.StringVar(&o.SubnetNSGFile, "subnet-nsg", "", "the subnet's NSG (ARM JSON, az network nsg show, az network nsg rule list)")
	f.StringVar(&o.From, "from", "", "source address of the flow (for SSH: the client, as the VM sees it)")
	f.StringVar(&o.To, "to", "", "destination address of the flow (for SSH: the VM's private address)")
	f.IntVar(&o.Port, "port", 22, "destination port")
	f.IntVar(&o.SourcePort, "source-port", 50000, "source port (clients pick an ephemeral one; matters only for rules that restrict source ports)")
	f.StringVar(&o.Protocol, "protocol", "tcp", "tcp, udp, icmp, esp or ah")
	f.StringVar(&o.Direction, "direction", "inbound", "inbound (to the VM) or outbound (from it)")
	f.StringSliceVar(&o.VNet, "vnet", nil, "the virtual network's address space, for the VirtualNetwork tag (repeatable, or comma-separated)")
	f.StringArrayVar(&o.NICASGs, "nic-asg", nil, "an application security group the destination's (--to) NIC is a member of: resource ID or name (repeatable)")
	f.StringArrayVar(&o.SourceASGs, "source-asg", nil, "an application security group the source's (--from) NIC is a member of: resource ID or name (repeatable)")
	f.StringVar(&o.Output, "output", "text", "text or json")
	cmd.AddCommand(verify)
	return cmd
}

// nsgVerifyJSON is `nsg verify --output json` (schema sshdoctor.nsg-verify/v1).
type nsgVerifyJSON struct {
	Schema           string                 `json:"schema"`
	Verdict          string                 `json:"verdict"` // "Allowed" or "Denied"
	Allowed          bool                   `json:"allowed"`
	ExitCode         int                    `json:"exit_code"`
	Flow             nsgFlowJSON            `json:"flow"`
	DecidingNSG      string                 `json:"deciding_nsg"`
	DecidingRule     string                 `json:"deciding_rule"`
	DecidingPriority int                    `json:"deciding_priority"`
	Trace            []nsgStepJSON          `json:"trace"`
	Fix              []nsgFixJSON           `json:"fix"`
	FixError         string                 `json:"fix_error,omitempty"`
	Inputs           []nsgInputJSON         `json:"inputs"`
	VNetPrefixes     []string               `json:"vnet_prefixes"`
	VNetSource       string                 `json:"vnet_source"` // "flag", "file" or "assumed"
	Unresolved       []netpolicy.Unresolved `json:"unresolved"`
	Warnings         []string               `json:"warnings"`
}

type nsgFlowJSON struct {
	Protocol        string   `json:"protocol"`
	Source          string   `json:"source"`
	SourcePort      int      `json:"source_port"`
	Destination     string   `json:"destination"`
	DestinationPort int      `json:"destination_port"`
	Direction       string   `json:"direction"`
	SourceASGs      []string `json:"source_asgs"`
	DestinationASGs []string `json:"destination_asgs"`
}

type nsgStepJSON struct {
	NSG      string       `json:"nsg"`
	Rule     string       `json:"rule"`
	Priority int          `json:"priority"`
	Access   cloud.Access `json:"access"`
	Matched  bool         `json:"matched"`
	Decides  bool         `json:"decides"`
	Summary  string       `json:"summary"`
}

type nsgFixJSON struct {
	Level         string             `json:"level"`
	NSG           string             `json:"nsg"`
	ResourceGroup string             `json:"resource_group,omitempty"`
	Rule          cloud.SecurityRule `json:"rule"`
	Az            string             `json:"az"`
	// Renumber is the deny rule moved one priority down first, so that
	// Rule can take its place (nothing was free above it).
	Renumber *cloud.SecurityRule `json:"renumber,omitempty"`
}

type nsgInputJSON struct {
	Flag  string          `json:"flag"`
	File  string          `json:"file"`
	Shape netpolicy.Shape `json:"shape"`
	NSGs  []string        `json:"nsgs"`
}

func nsgReadFile(flag, path string) (*netpolicy.ParsedNSG, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	p, err := netpolicy.ParseNSG(data)
	if err != nil {
		return nil, usagef("%s %s: %s", flag, path, strings.TrimPrefix(err.Error(), "netpolicy: "))
	}
	return p, nil
}

func nsgParseAddr(flag, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, usagef("%s is required: an IP address", flag)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, usagef("%s %q is not an IP address", flag, s)
	}
	return a.Unmap(), nil
}

func nsgVerifyRun(o *NSGVerifyOptions) error {
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json, not %q", o.Output)
	}
	if o.NSGFile == "" {
		return usagef("--nsg is required: the NIC's NSG or its effective rules, as JSON")
	}
	src, err := nsgParseAddr("--from", o.From)
	if err != nil {
		return err
	}
	dst, err := nsgParseAddr("--to", o.To)
	if err != nil {
		return err
	}
	if src.Is4() != dst.Is4() {
		return usagef("--from %s and --to %s are not of the same address family", src, dst)
	}
	var proto string
	switch strings.ToLower(o.Protocol) {
	case "tcp", "udp", "icmp", "esp", "ah":
		proto = strings.ToUpper(o.Protocol[:1]) + strings.ToLower(o.Protocol[1:])
	default:
		return usagef("--protocol must be tcp, udp, icmp, esp or ah, not %q", o.Protocol)
	}
	var dir cloud.Direction
	switch strings.ToLower(o.Direction) {
	case "inbound", "in":
		dir = cloud.Inbound
	case "outbound", "out":
		dir = cloud.Outbound
	default:
		return usagef("--direction must be inbound or outbound, not %q", o.Direction)
	}
	if o.Port < 0 || o.Port > 65535 {
		return usagef("--port %d is out of range 0-65535", o.Port)
	}
	if o.SourcePort < 0 || o.SourcePort > 65535 {
		return usagef("--source-port %d is out of range 0-65535", o.SourcePort)
	}
	for _, v := range o.VNet {
		if _, err := netip.ParsePrefix(strings.TrimSpace(v)); err != nil {
			if _, err := netip.ParseAddr(strings.TrimSpace(v)); err != nil {
				return usagef("--vnet %q is not a CIDR", v)
			}
		}
	}

	doc := nsgVerifyJSON{Schema: "sshdoctor.nsg-verify/v1", Trace: []nsgStepJSON{}, Fix: []nsgFixJSON{}, Unresolved: []netpolicy.Unresolved{}, Warnings: []string{}}
	warn := func(format string, a ...any) { doc.Warnings = append(doc.Warnings, fmt.Sprintf(format, a...)) }

	nicDoc, err := nsgReadFile("--nsg", o.NSGFile)
	if err != nil {
		return err
	}
	e := nicDoc.EffectiveNSGs()
	e = &cloud.EffectiveNSGs{Subnet: e.Subnet, NIC: e.NIC, VNetPrefixes: e.VNetPrefixes}
	infos := map[string]netpolicy.NSGInfo{} // "subnet"/"nic" → info
	if nicDoc.Effective != nil {
		infos["subnet"], infos["nic"] = nicDoc.SubnetInfo, nicDoc.NICInfo
	} else {
		infos["nic"] = nicDoc.Info
	}
	tags := map[string][]string{}
	for k, v := range nicDoc.Tags {
		tags[k] = v
	}
	in := nsgInputJSON{Flag: "--nsg", File: o.NSGFile, Shape: nicDoc.Shape}
	if e.Subnet != nil {
		in.NSGs = append(in.NSGs, "subnet/"+e.Subnet.Name)
	}
	if e.NIC != nil {
		in.NSGs = append(in.NSGs, "nic/"+e.NIC.Name)
	}
	for _, w := range nicDoc.Warnings {
		warn("%s: %s", o.NSGFile, w)
	}
	if o.SubnetNSGFile != "" {
		sub, err := nsgReadFile("--subnet-nsg", o.SubnetNSGFile)
		if err != nil {
			return err
		}
		if sub.Effective != nil {
			return usagef("--subnet-nsg %s: effective rules hold both levels: give them as --nsg, alone", o.SubnetNSGFile)
		}
		if e.Subnet != nil {
			return usagef("--subnet-nsg: the effective rules in --nsg %s already hold the subnet's NSG (%s)", o.NSGFile, e.Subnet.Name)
		}
		e.Subnet = sub.NSG
		infos["subnet"] = sub.Info
		for _, w := range sub.Warnings {
			warn("%s: %s", o.SubnetNSGFile, w)
		}
		doc.Inputs = append(doc.Inputs, nsgInputJSON{Flag: "--subnet-nsg", File: o.SubnetNSGFile, Shape: sub.Shape, NSGs: []string{"subnet/" + sub.NSG.Name}})
	}
	doc.Inputs = append([]nsgInputJSON{in}, doc.Inputs...)

	flow := netpolicy.Flow{Protocol: proto, Source: src, Destination: dst, SourcePort: o.SourcePort, DestinationPort: o.Port, Direction: dir,
		SourceASGs: o.SourceASGs, DestinationASGs: o.NICASGs}
	res, err := netpolicy.Verify(netpolicy.VerifyInput{NSGs: e, Tags: tags, VNet: o.VNet, Flow: flow})
	if err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), "netpolicy: "))
	}
	v := res.Verdict
	doc.VNetPrefixes, doc.VNetSource = res.VNetPrefixes, res.VNetSource
	doc.Flow = nsgFlowJSON{Protocol: proto, Source: src.String(), SourcePort: o.SourcePort, Destination: dst.String(), DestinationPort: o.Port, Direction: string(dir),
		SourceASGs: nsgNonNil(o.SourceASGs), DestinationASGs: nsgNonNil(o.NICASGs)}
	doc.Allowed, doc.DecidingNSG, doc.DecidingRule, doc.DecidingPriority = v.Allowed, v.DecidingNSG, v.DecidingRule, res.DecidingPriority
	doc.Verdict, doc.ExitCode = "Allowed", ExitOK
	if !v.Allowed {
		doc.Verdict, doc.ExitCode = "Denied", ExitProblem
	}
	for _, s := range res.Trace {
		doc.Trace = append(doc.Trace, nsgStepJSON{NSG: s.NSG, Rule: s.Step.Rule, Priority: s.Priority, Access: s.Access, Matched: s.Matched, Decides: s.Decides, Summary: nsgRuleSummary(s.Rule, proto)})
	}
	// What the answer assumed, in the words of the flags that change it.
	for _, n := range res.ASGNotes {
		flag := map[string]string{"source": "--source-asg", "destination": "--nic-asg"}[n.Side]
		warn("%s %s applies to application security group %s: give %s %s if that NIC is a member", n.NSG, n.Rule, n.ASG, flag, n.ASG)
	}
	if res.VNetMatters {
		warn("VNet address space unknown (no --vnet, and %s does not list it): the VirtualNetwork tag is taken as %s, Azure's default; give --vnet CIDR for an exact answer",
			o.NSGFile, strings.Join(netpolicy.DefaultVNetPrefixes, ", "))
	}
	for _, u := range res.Unresolved {
		doc.Unresolved = append(doc.Unresolved, u)
		warn("%s %s names service tag %s on its %s side, whose addresses the file does not list: taken to match nothing%s (effective rules list them)",
			u.NSG, u.Rule, u.Entry, u.Side, map[bool]string{true: ", so the rule was skipped", false: ""}[u.RuleDropped])
	}
	if !v.Allowed {
		if res.FixErr != nil {
			doc.FixError = fmt.Sprintf("no allow rule fits above %s %s (priority %d): edit or delete that rule instead", v.DecidingNSG, v.DecidingRule, doc.DecidingPriority)
		}
		for _, fx := range res.Fixes {
			rg := infos[fx.Level].ResourceGroup
			doc.Fix = append(doc.Fix, nsgFixJSON{Level: fx.Level, NSG: fx.NSG, ResourceGroup: rg, Rule: fx.Rule, Az: netpolicy.AzRuleCreate(rg, fx.NSG, fx.Rule), Renumber: fx.Renumber})
		}
	}

	if o.Output == "json" {
		if err := writeJSONDoc(o.IO, doc); err != nil {
			return err
		}
	} else {
		nsgWriteText(o.IO.Out, &doc)
	}
	if !v.Allowed {
		return &ExitError{Code: ExitProblem}
	}
	return nil
}

func nsgNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
