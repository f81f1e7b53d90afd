package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/netpolicy"
)

// RouteNextHopOptions are the inputs of `sshdoctor route next-hop`.
type RouteNextHopOptions struct {
	IO         *IOStreams
	RoutesFile string
	To         string
	Output     string
}

// NewCmdRoute builds `sshdoctor route`.
func NewCmdRoute(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "route",
		SilenceUsage:  true,
		SilenceErrors: true,
		Short:         "Evaluate Azure routes offline, from JSON files",
		Long: `Evaluate a NIC's effective routes ('az network nic show-effective-route-table')
or a route table the way Azure does, offline. See docs/netpolicy.md.`,
	}
	o := &RouteNextHopOptions{IO: ios}
	next := &cobra.Command{
		Use:   "next-hop --routes FILE --to IP [flags]",
		Short: "Where does the VM send traffic for this address, and what it means for SSH",
		Long: `Next-hop picks the route Azure uses for traffic from the VM to --to: longest
prefix match; among equal prefixes a user route (UDR) beats a BGP route, which
beats a system route; system routes for the virtual network, peerings and
service endpoints beat BGP routes of any length; Invalid routes are ignored.

For SSH, give the client's address as the VM sees it: the route tells where the
VM's replies go. A next hop of None drops them; a virtual appliance or gateway
can make the return path differ from the way in.

--routes is 'az network nic show-effective-route-table' output (complete: system
routes included) or a route table (ARM JSON, az network route-table show, az
network route-table route list: user routes only).

Exit status: 0 a next hop forwards the traffic, 1 it is dropped (None, or no
route in an effective table), 2 bad input.`,
		Example: `  az network nic show-effective-route-table -g rg -n vm1-nic > routes.json
  sshdoctor route next-hop --routes routes.json --to 203.0.113.5`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return routeNextHopRun(o) },
	}
	next.Flags().StringVar(&o.RoutesFile, "routes", "", "effective routes (az network nic show-effective-route-table) or a route table, as JSON")
	next.Flags().StringVar(&o.To, "to", "", "destination address (for SSH's return path: the client, as the VM sees it)")
	next.Flags().StringVar(&o.Output, "output", "text", "text or json")
	cmd.AddCommand(next)
	return cmd
}

// routeNextHopJSON is `route next-hop --output json` (schema
// sshdoctor.route-next-hop/v1).
type routeNextHopJSON struct {
	Schema      string                     `json:"schema"`
	Destination string                     `json:"destination"`
	File        string                     `json:"file"`
	Shape       netpolicy.RouteShape       `json:"shape"`
	Complete    bool                       `json:"complete"`
	Found       bool                       `json:"found"`
	Route       *cloud.Route               `json:"route"`
	Reason      string                     `json:"reason"`
	Candidates  []netpolicy.RouteCandidate `json:"candidates"`
	Invalid     []cloud.Route              `json:"invalid"` // Invalid routes that hold the destination
	Unparsed    []cloud.Route              `json:"unparsed"`
	Dropped     bool                       `json:"dropped"`
	ReturnPath  string                     `json:"return_path"`
	ExitCode    int                        `json:"exit_code"`
}

func routeNextHopRun(o *RouteNextHopOptions) error {
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json, not %q", o.Output)
	}
	if o.RoutesFile == "" {
		return usagef("--routes is required: effective routes or a route table, as JSON")
	}
	dst, err := nsgParseAddr("--to", o.To)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(o.RoutesFile)
	if err != nil {
		return usagef("--routes: %v", err)
	}
	p, err := netpolicy.ParseRoutes(data)
	if err != nil {
		return usagef("--routes %s: %s", o.RoutesFile, strings.TrimPrefix(err.Error(), "netpolicy: "))
	}
	rp := netpolicy.ExplainReturnPath(p.Routes, p.Complete, dst)
	d := rp.NextHopDecision
	doc := routeNextHopJSON{Schema: "sshdoctor.route-next-hop/v1", Destination: dst.String(), File: o.RoutesFile, Shape: p.Shape, Complete: p.Complete,
		Found: d.Found, Reason: d.Reason, Candidates: d.Candidates, Invalid: []cloud.Route{}, Unparsed: routeNonNil(d.Unparsed)}
	for _, c := range netpolicy.ExplainNextHop(p.Invalid, dst).Candidates {
		doc.Invalid = append(doc.Invalid, c.Route)
	}
	if d.Found {
		r := d.Route
		doc.Route = &r
	}
	doc.ReturnPath, doc.Dropped = rp.Explanation, rp.Dropped
	if doc.Dropped {
		doc.ExitCode = ExitProblem
	}
	if o.Output == "json" {
		if err := writeJSONDoc(o.IO, doc); err != nil {
			return err
		}
	} else {
		routeWriteText(o.IO.Out, &doc)
	}
	if doc.Dropped {
		return &ExitError{Code: ExitProblem}
	}
	return nil
}

func routeNonNil(r []cloud.Route) []cloud.Route {
	if r == nil {
		return []cloud.Route{}
	}
	return r
}

func routeVia(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func routeLine(r cloud.Route) string {
	s := fmt.Sprintf("%-18s  %-22s  %s", r.AddressPrefix, r.Source, r.NextHopType)
	if r.NextHopIP != "" {
		s += " " + r.NextHopIP
	}
	if r.Name != "" {
		s += fmt.Sprintf("  (%s)", r.Name)
	}
	return s
}

func routeWriteText(w io.Writer, d *routeNextHopJSON) {
	if d.Route != nil {
		r := d.Route
		fmt.Fprintf(w, "Next hop for %s: %s%s\n", d.Destination, r.NextHopType, routeVia(r.NextHopIP))
		name := ""
		if r.Name != "" {
			name = fmt.Sprintf(" %q", r.Name)
		}
		fmt.Fprintf(w, "  route %s%s, source %s\n", r.AddressPrefix, name, r.Source)
		fmt.Fprintf(w, "  why: %s\n", d.Reason)
	} else {
		fmt.Fprintf(w, "Next hop for %s: no route holds it\n", d.Destination)
	}
	fmt.Fprintf(w, "  from %s: %s\n", d.File, d.Shape.Describe())
	if len(d.Candidates) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Routes holding %s\n", d.Destination)
		for _, c := range d.Candidates {
			note := c.Note
			if c.Chosen {
				note = "chosen"
			}
			fmt.Fprintf(w, "  %s  — %s\n", routeLine(c.Route), note)
		}
	}
	for _, r := range d.Invalid {
		fmt.Fprintf(w, "  %s  — ignored: state Invalid\n", routeLine(r))
	}
	for _, r := range d.Unparsed {
		fmt.Fprintf(w, "warning: route %q prefix %q is not a CIDR; not considered\n", r.Name, r.AddressPrefix)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "SSH return path: %s\n", d.ReturnPath)
}
