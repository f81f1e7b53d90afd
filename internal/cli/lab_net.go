package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

func newCmdLabNSG(ios *IOStreams, withLab labRunner, vmArg func(*lab.State, []string) (*lab.VMState, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "nsg", Short: "List, add or remove NIC NSG rules of a VM (Azure's model)"}
	var nsgOut string
	nsgList := &cobra.Command{
		Use: "list VM", Short: "Show the subnet and NIC NSG rules that apply to a VM", Args: cobra.ExactArgs(1),
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			if nsgOut == "json" {
				return writeJSONDoc(ios, map[string]any{"schema": "sshdoctor.lab.nsg.list/v1", "vm": v.Name, "subnet": s.SubnetNSG, "nic": v.NSG})
			}
			printNSG(ios, "subnet", s.SubnetNSG)
			printNSG(ios, "nic", v.NSG)
			return nil
		}),
	}
	outputFlag(nsgList, &nsgOut)
	cmd.AddCommand(nsgList)
	var r cloud.SecurityRule
	var src, port, addOut, removeOut string
	add := &cobra.Command{
		Use: "add VM", Short: "Add (or replace) an inbound rule in a VM's NIC NSG", Args: cobra.ExactArgs(1),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			r.Direction, r.SourcePortRanges, r.DestinationAddressPrefixes = cloud.Inbound, []string{"*"}, []string{"*"}
			r.SourceAddressPrefixes, r.DestinationPortRanges = []string{src}, []string{port}
			if err := s.SetNICRule(v, r); err != nil {
				return &UsageError{err}
			}
			if addOut == "json" {
				if err := s.Save(); err != nil {
					return err
				}
				return writeJSONDoc(ios, labNSGDoc("add", v, r.Name))
			}
			fmt.Fprintf(ios.Out, "%s: rule %s set\n", v.Name, r.Name)
			return s.Save()
		}),
	}
	outputFlag(add, &addOut)
	add.Flags().StringVar(&r.Name, "name", "", "rule name (required)")
	add.Flags().IntVar(&r.Priority, "priority", 0, "priority 100-4096, lower wins (required)")
	add.Flags().StringVar((*string)(&r.Access), "access", "Allow", "Allow or Deny")
	add.Flags().StringVar(&r.Protocol, "protocol", "Tcp", "Tcp, Udp, Icmp or *")
	add.Flags().StringVar(&src, "source", "*", "source prefix: CIDR, address, *, Internet, VirtualNetwork")
	add.Flags().StringVar(&port, "port", "22", "destination port or range (22, 1000-2000, *)")
	remove := &cobra.Command{
		Use: "remove VM RULE", Short: "Remove a rule from a VM's NIC NSG", Args: cobra.ExactArgs(2),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			if err := s.RemoveNICRule(v, args[1]); err != nil {
				return &UsageError{err}
			}
			if removeOut == "json" {
				if err := s.Save(); err != nil {
					return err
				}
				return writeJSONDoc(ios, labNSGDoc("remove", v, args[1]))
			}
			fmt.Fprintf(ios.Out, "%s: rule %s removed\n", v.Name, args[1])
			return s.Save()
		}),
	}
	outputFlag(remove, &removeOut)
	cmd.AddCommand(add, remove)
	return cmd
}

func newCmdLabRoute(ios *IOStreams, withLab labRunner) *cobra.Command {
	cmd := &cobra.Command{Use: "route", Short: "List, add or remove user-defined routes on the VM subnet"}
	var routeOut string
	routeList := &cobra.Command{
		Use: "list", Short: "List user-defined routes", Args: cobra.NoArgs,
		RunE: withLab(false, func(s *lab.State, _ []string) error {
			if routeOut == "json" {
				rs := s.Routes
				if rs == nil {
					rs = []cloud.Route{}
				}
				return writeJSONDoc(ios, map[string]any{"schema": "sshdoctor.lab.route.list/v1", "routes": rs})
			}
			if len(s.Routes) == 0 {
				fmt.Fprintln(ios.Out, "no user-defined routes (system routes: VNet local, default to the internet)")
			}
			for _, r := range s.Routes {
				fmt.Fprintf(ios.Out, "%s\t%s\t%s %s\n", r.Name, r.AddressPrefix, r.NextHopType, r.NextHopIP)
			}
			return nil
		}),
	}
	outputFlag(routeList, &routeOut)
	cmd.AddCommand(routeList)
	var hopIP, addOut, removeOut string
	add := &cobra.Command{
		Use: "add NAME PREFIX NEXTHOP", Short: "Add a route; NEXTHOP is None or VirtualAppliance (with --next-hop-ip)", Args: cobra.ExactArgs(3),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			if err := s.SetRoute(cloud.Route{Name: args[0], AddressPrefix: args[1], NextHopType: cloud.NextHopType(args[2]), NextHopIP: hopIP, Source: "User"}); err != nil {
				return &UsageError{err}
			}
			if err := s.Save(); err != nil || addOut != "json" {
				return err
			}
			return writeJSONDoc(ios, labRouteDoc("add", s, args[0]))
		}),
	}
	add.Flags().StringVar(&hopIP, "next-hop-ip", "", "appliance address for VirtualAppliance")
	outputFlag(add, &addOut)
	remove := &cobra.Command{
		Use: "remove NAME", Short: "Remove a route", Args: cobra.ExactArgs(1),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			if err := s.RemoveRoute(args[0]); err != nil {
				return &UsageError{err}
			}
			if err := s.Save(); err != nil || removeOut != "json" {
				return err
			}
			return writeJSONDoc(ios, labRouteDoc("remove", s, args[0]))
		}),
	}
	outputFlag(remove, &removeOut)
	cmd.AddCommand(add, remove)
	return cmd
}

// labNSGChangeJSON is `lab nsg add|remove --output json`
// (sshdoctor.lab.nsg.add/v1, sshdoctor.lab.nsg.remove/v1).
type labNSGChangeJSON struct {
	Schema   string     `json:"schema"`
	ExitCode int        `json:"exit_code"`
	VM       string     `json:"vm"`
	Rule     string     `json:"rule"`    // the rule set or removed
	NICNSG   *cloud.NSG `json:"nic_nsg"` // the VM's NIC NSG after the change (user rules; null: none)
}

func labNSGDoc(verb string, v *lab.VMState, rule string) labNSGChangeJSON {
	return labNSGChangeJSON{Schema: "sshdoctor.lab.nsg." + verb + "/v1", ExitCode: ExitOK, VM: v.Name, Rule: rule, NICNSG: v.NSG}
}

// labRouteChangeJSON is `lab route add|remove --output json`
// (sshdoctor.lab.route.add/v1, sshdoctor.lab.route.remove/v1).
type labRouteChangeJSON struct {
	Schema   string        `json:"schema"`
	ExitCode int           `json:"exit_code"`
	Route    string        `json:"route"`  // the route added or removed
	Routes   []cloud.Route `json:"routes"` // the user-defined routes after the change, as lab route list --output json shows them
}

func labRouteDoc(verb string, s *lab.State, route string) labRouteChangeJSON {
	rs := s.Routes
	if rs == nil {
		rs = []cloud.Route{}
	}
	return labRouteChangeJSON{Schema: "sshdoctor.lab.route." + verb + "/v1", ExitCode: ExitOK, Route: route, Routes: rs}
}

// printNSG prints one NSG's rules, as `lab nsg list` shows them.
func printNSG(ios *IOStreams, level string, n *cloud.NSG) {
	if n == nil {
		fmt.Fprintf(ios.Out, "%s NSG: none (allows everything)\n", level)
		return
	}
	fmt.Fprintf(ios.Out, "%s NSG %s:\n", level, n.Name)
	w := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  PRIORITY\tNAME\tACCESS\tPROTOCOL\tSOURCE\tPORTS")
	rules := append(append([]cloud.SecurityRule(nil), n.Rules...), cloud.DefaultRules()...)
	// in the order Azure evaluates them
	slices.SortStableFunc(rules, func(a, b cloud.SecurityRule) int { return a.Priority - b.Priority })
	for _, r := range rules {
		if r.Direction != cloud.Inbound {
			continue
		}
		fmt.Fprintf(w, "  %d\t%s\t%s\t%s\t%s\t%s\n", r.Priority, r.Name, r.Access, r.Protocol, strings.Join(r.SourceAddressPrefixes, ","), strings.Join(r.DestinationPortRanges, ","))
	}
	w.Flush()
}

func nsgSummary(n *cloud.NSG) string {
	if n == nil {
		return "none"
	}
	return fmt.Sprintf("%s (%d rules + defaults)", n.Name, len(n.Rules))
}
