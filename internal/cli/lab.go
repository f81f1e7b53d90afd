package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// LabCheckSchema names the JSON document of `sshdoctor lab check`: the
// provider-neutral cloud check (azure check's, without the subscription,
// resource group and Network Watcher).
const LabCheckSchema = "sshdoctor.cloud.check/v1"

// NewCmdLab builds `sshdoctor lab` and its subcommands.
func NewCmdLab(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Local Linux VMs with real sshd, a cloud-like control plane and a catalogue of SSH faults",
		Long: `The lab runs "VMs" on this machine — each a set of Linux namespaces with its
own network stack, /etc, users and a real OpenSSH sshd — behind a router that
enforces Azure-style network security groups and routes with nftables. A
client namespace stands for your laptop. Break a VM with a fault from the
catalogue, diagnose it with sshdoctor, heal it.

Needs root. State lives in /var/lib/sshdoctor/lab (SSHDOCTOR_LAB_DIR).`,
		Example: `  sshdoctor lab up --vms 2 --name web
  sshdoctor lab break web1 nsg-deny-ssh
  sshdoctor lab client -- sshdoctor check lab-web1
  sshdoctor lab heal web1
  sshdoctor lab down`,
	}
	withLab := func(mutates bool, f func(s *lab.State, args []string) error) func(*cobra.Command, []string) error {
		return func(_ *cobra.Command, args []string) error {
			if err := lab.CheckRoot(); err != nil {
				return &UsageError{err}
			}
			dir := lab.Dir()
			// No lab: say so before taking the lock, which would create
			// the lab directory.
			if _, err := lab.Load(dir); errors.Is(err, lab.ErrNoLab) {
				return &UsageError{err}
			}
			if mutates {
				unlock, err := lab.Lock(dir)
				if err != nil {
					return err
				}
				defer unlock()
			}
			s, err := lab.Load(dir)
			if errors.Is(err, lab.ErrNoLab) {
				return &UsageError{err}
			}
			if err != nil {
				return err
			}
			return f(s, args)
		}
	}
	vmArg := func(s *lab.State, args []string) (*lab.VMState, error) {
		v, err := s.VM(args[0])
		if err != nil {
			return nil, &UsageError{err}
		}
		return v, nil
	}
	exact := func(n int, what string) cobra.PositionalArgs {
		return func(c *cobra.Command, args []string) error {
			if len(args) != n {
				return usagef("%s needs %s (see '%s --help')", c.CommandPath(), what, c.CommandPath())
			}
			return nil
		}
	}

	var vms int
	var name, prefix string
	up := &cobra.Command{
		Use:   "up",
		Short: "Create the lab: client, router and N VMs with sshd running",
		Args:  exact(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := lab.CheckRoot(); err != nil {
				return &UsageError{err}
			}
			if vms < 1 || vms > 200 {
				return usagef("--vms must be between 1 and 200")
			}
			unlock, err := lab.Lock(lab.Dir())
			if err != nil {
				return err
			}
			defer unlock()
			start := time.Now()
			s, err := lab.Up(lab.Dir(), lab.UpOptions{VMs: vms, Name: name, Prefix: prefix})
			if err != nil {
				return err
			}
			fmt.Fprintf(ios.Out, "lab up: %d VM(s) in %s\n\n", len(s.VMs), time.Since(start).Round(time.Millisecond))
			listVMs(ios, s)
			fmt.Fprintf(ios.Out, "\nTry:  sshdoctor lab client -- sshdoctor check lab-%s\n      sshdoctor lab faults\n", s.VMs[0].Name)
			return nil
		},
	}
	up.Flags().IntVar(&vms, "vms", 1, "number of VMs")
	up.Flags().StringVar(&name, "name", "vm", "VM name prefix (web → web1, web2, …)")
	up.Flags().StringVar(&prefix, "ns-prefix", "sdlab", "prefix of the lab's network namespace names (to run several labs, each with its own SSHDOCTOR_LAB_DIR)")

	down := &cobra.Command{
		Use: "down", Short: "Remove every namespace, process and file of the lab", Args: exact(0, "no arguments"),
		RunE: withLab(true, func(s *lab.State, _ []string) error {
			if err := lab.Down(s); err != nil {
				return err
			}
			fmt.Fprintln(ios.Out, "lab down: removed")
			return nil
		}),
	}
	var listOut, statusOut string
	list := &cobra.Command{
		Use: "list", Short: "List VMs: name, power state, IP, health, faults", Args: exact(0, "no arguments"),
		RunE: withLab(false, func(s *lab.State, _ []string) error {
			if listOut == "json" {
				out := []labVMJSON{}
				for _, v := range s.VMs {
					out = append(out, labVM(s, v))
				}
				return writeJSONDoc(ios, out)
			}
			listVMs(ios, s)
			return nil
		}),
	}
	outputFlag(list, &listOut)
	status := &cobra.Command{
		Use: "status VM", Short: "Show one VM as the control plane sees it", Args: exact(1, "a VM name"),
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			if statusOut == "json" {
				return writeJSONDoc(ios, labVM(s, v))
			}
			h := s.Health(v)
			fmt.Fprintf(ios.Out, "name:        %s\npower:       %s\nprivate IP:  %s\nhealth:      %s — %s\nNIC NSG:     %s\nfaults:      %s\nboots:       %d\n",
				v.Name, v.Power, v.IP(), h.State, h.Summary, nsgSummary(v.NSG), orNone(strings.Join(v.Faults, ", ")), v.Boots)
			return nil
		}),
	}
	outputFlag(status, &statusOut)
	var execTimeout time.Duration
	execCmd := &cobra.Command{
		Use:   "exec VM -- COMMAND...",
		Short: "Run a command as root inside a VM (the lab's run-command)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("lab exec needs a VM and a command: sshdoctor lab exec VM -- CMD")
			}
			return nil
		},
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			res, err := s.Exec(context.Background(), v, shellJoin(args[1:]), execTimeout)
			if err != nil {
				return err
			}
			fmt.Fprint(ios.Out, res.Stdout)
			fmt.Fprint(ios.Err, res.Stderr)
			if res.ExitCode != 0 {
				return &ExitError{Code: res.ExitCode}
			}
			return nil
		}),
	}
	execCmd.Flags().DurationVar(&execTimeout, "timeout", time.Minute, "kill the command after this long")
	serial := &cobra.Command{
		Use: "serial-log VM", Short: "Print a VM's serial console log (all boots)", Args: exact(1, "a VM name"),
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			b, err := s.SerialLog(v)
			if err != nil {
				return err
			}
			_, err = ios.Out.Write(b)
			return err
		}),
	}
	power := func(use, short string, f func(s *lab.State, v *lab.VMState) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " VM", Short: short, Args: exact(1, "a VM name"),
			RunE: withLab(true, func(s *lab.State, args []string) error {
				v, err := vmArg(s, args)
				if err != nil {
					return err
				}
				start := time.Now()
				err = f(s, v)
				if serr := s.Save(); err == nil {
					err = serr
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(ios.Out, "%s %s: %s, %s (%s)\n", use, v.Name, v.Power, v.IP(), time.Since(start).Round(time.Millisecond))
				return nil
			}),
		}
	}
	start := power("start", "Start a stopped VM", func(s *lab.State, v *lab.VMState) error { return s.Start(v, "") })
	stop := power("stop", "Stop (deallocate) a VM", func(s *lab.State, v *lab.VMState) error { return s.Stop(v) })
	restart := power("restart", "Restart a VM", func(s *lab.State, v *lab.VMState) error { return s.Restart(v, "") })
	redeploy := power("redeploy", "Redeploy a VM: new address, temporary disk (/mnt) wiped", func(s *lab.State, v *lab.VMState) error { return s.Redeploy(v, "") })

	var faultsOut string
	faults := &cobra.Command{
		Use: "faults", Short: "List the fault catalogue", Args: exact(0, "no arguments"),
		RunE: func(_ *cobra.Command, _ []string) error {
			if faultsOut == "json" {
				type faultJSON struct {
					Name        string `json:"name"`
					Expect      string `json:"check_shows"`
					Guest       string `json:"guest_check_shows,omitempty"`
					Description string `json:"description"`
				}
				out := []faultJSON{}
				for _, f := range lab.Faults {
					out = append(out, faultJSON{f.Name, f.Expect, f.Guest, f.Description})
				}
				return writeJSONDoc(ios, out)
			}
			w := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "FAULT\tCHECK SHOWS\tDESCRIPTION")
			for _, f := range lab.Faults {
				fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Expect, f.Description)
			}
			return w.Flush()
		},
	}
	outputFlag(faults, &faultsOut)
	breakCmd := &cobra.Command{
		Use: "break VM FAULT", Short: "Inject a fault into a VM (see `lab faults`)", Args: exact(2, "a VM name and a fault"),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			f, err := lab.FaultByName(args[1])
			if err != nil {
				return &UsageError{err}
			}
			if err := s.Break(v, f); err != nil {
				return err
			}
			cargs, target := s.CheckArgs(v, f)
			fmt.Fprintf(ios.Out, "broke %s: %s\nsee it: sshdoctor lab client -- sshdoctor check %s\n", v.Name, f.Description, shellJoin(append(cargs, target)))
			return nil
		}),
	}
	heal := &cobra.Command{
		Use: "heal VM", Short: "Undo every fault injected into a VM", Args: exact(1, "a VM name"),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			if err := s.Heal(v, ""); err != nil {
				return err
			}
			fmt.Fprintf(ios.Out, "healed %s\n", v.Name)
			return nil
		}),
	}
	client := &cobra.Command{
		Use:   "client -- COMMAND...",
		Short: "Run a command in the client namespace (your laptop in the lab)",
		Long: `Runs COMMAND in the lab's client namespace, with SSHDOCTOR_SSH_CONFIG pointing at
the lab's ssh_config, so "sshdoctor check lab-VM" works there. For plain ssh use:
  sshdoctor lab client -- ssh -F /var/lib/sshdoctor/lab/client/ssh_config lab-VM`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("lab client needs a command: sshdoctor lab client -- CMD")
			}
			return nil
		},
		RunE: withLab(false, func(s *lab.State, args []string) error {
			if args[0] == "sshdoctor" {
				if self, err := os.Executable(); err == nil {
					args[0] = self
				}
			}
			return runAttached(ios, s.ClientCommand(args...))
		}),
	}
	sshCmd := &cobra.Command{
		Use: "ssh VM", Short: "Open a shell on a VM over SSH from the client namespace (lab key)", Args: exact(1, "a VM name"),
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			return runAttached(ios, s.ClientCommand("ssh", "-F", s.ClientConfig(), "lab-"+v.Name))
		}),
	}
	fixCmd := &cobra.Command{
		Use:   "fix VM [-- FIX-FLAGS...]",
		Short: "Run `sshdoctor fix` for a VM from the client namespace (your laptop in the lab)",
		Long: `Runs, in the lab's client namespace,
  sshdoctor fix --provider lab --vm VM FIX-FLAGS... lab-VM
so the loop sees the VM from the client's side (its address, its key) and the
control plane from the lab's. FIX-FLAGS are fix's own (see sshdoctor fix --help).`,
		Example: `  sshdoctor lab break web1 nsg-deny-ssh
  sshdoctor lab fix web1 -- --dry-run
  sshdoctor lab fix web1 -- --yes --output json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 || (c.ArgsLenAtDash() != -1 && c.ArgsLenAtDash() != 1) {
				return usagef("lab fix needs a VM name, then fix's flags after --: sshdoctor lab fix VM -- --dry-run")
			}
			return nil
		},
		RunE: withLab(false, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args[:1])
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			argv := append(append([]string{self, "fix", "--provider", "lab", "--vm", v.Name}, args[1:]...), "lab-"+v.Name)
			cmd := s.ClientCommand(argv...)
			cmd.Env = append(cmd.Env, "SSHDOCTOR_LAB_DIR="+s.Dir)
			return runAttached(ios, cmd)
		}),
	}
	initCmd := &cobra.Command{
		Use: "vm-init", Hidden: true, Args: exact(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, _ := c.Flags().GetString("dir")
			name, _ := c.Flags().GetString("name")
			return lab.VMInit(dir, name)
		},
	}
	initCmd.Flags().String("dir", "", "")
	initCmd.Flags().String("name", "", "")

	cmd.AddCommand(up, down, list, status, execCmd, serial, start, stop, restart, redeploy,
		newCmdNSG(ios, withLab, vmArg), newCmdRoute(ios, withLab), newCmdLabCheck(ios, withLab, vmArg), faults, breakCmd, heal, client, fixCmd, sshCmd, initCmd)
	return cmd
}

type labRunner = func(mutates bool, f func(s *lab.State, args []string) error) func(*cobra.Command, []string) error

// newCmdLabCheck builds `lab check`: azure check's control-plane check,
// the same code, asked of the lab's control plane.
func newCmdLabCheck(ios *IOStreams, withLab labRunner, vmArg func(*lab.State, []string) (*lab.VMState, error)) *cobra.Command {
	var source, output string
	var port int
	cmd := &cobra.Command{
		Use:   "check VM [--source-ip IP|auto] [--port N] [--output text|json]",
		Short: "Find what in the lab's control plane stops SSH to a VM (read-only), as `azure check` does on Azure",
		Long: `Asks the lab's control plane what azure check asks Azure's: power and agent
state, health, the serial log (through the boot-log analyzer), the NSGs for TCP
from --source-ip (default: the lab client's address) to the VM on --port, and
the route the replies take. Changes nothing.

Exit status: 0 nothing blocks SSH, 1 a problem was found, 2 bad usage.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("lab check needs a VM name (see '%s --help')", c.CommandPath())
			}
			return nil
		},
	}
	run := withLab(false, func(s *lab.State, args []string) error {
		v, err := vmArg(s, args)
		if err != nil {
			return err
		}
		src, auto, _ := cloudcheck.ParseSource(source)
		r := cloudcheck.Check(context.Background(), &lab.Provider{Dir: s.Dir}, v.Name,
			cloudcheck.Options{Source: src, SourceAuto: auto, Port: port, Commands: labCommands(v.Name)})
		t := r.Target
		header := fmt.Sprintf("sshdoctor lab check %s, TCP %d from %s", t.VM, t.Port, sourceText(t))
		return printCloudCheck(ios, output, header, r, func(code int) any {
			return struct {
				Schema   string `json:"schema"`
				ExitCode int    `json:"exit_code"`
				*cloudcheck.Report
			}{LabCheckSchema, code, r}
		})
	})
	cmd.RunE = func(c *cobra.Command, args []string) error {
		switch {
		case output != "text" && output != "json":
			return usagef("--output must be text or json, not %q", output)
		case port < 1 || port > 65535:
			return usagef("--port %d is out of range 1-65535", port)
		}
		if _, _, err := cloudcheck.ParseSource(source); err != nil {
			return &UsageError{err}
		}
		return run(c, args)
	}
	cmd.Flags().StringVar(&source, "source-ip", lab.ClientIP, "the client address evaluated, or auto (an arbitrary Internet address)")
	cmd.Flags().IntVarP(&port, "port", "p", 22, "sshd's port")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

// labCommands are the lab's commands for the check's remediations. The
// lab's subnet NSG changes only through faults, so a subnet rule has no
// command.
func labCommands(vm string) cloudcheck.Commands {
	return cloudcheck.Commands{
		Start:    "sshdoctor lab start " + vm,
		Restart:  "sshdoctor lab restart " + vm,
		Redeploy: "sshdoctor lab redeploy " + vm,
		Check:    "sshdoctor lab check " + vm,
		AddRule: func(s cloudcheck.Suggestion) string {
			r := s.Rule
			if s.Level != "nic" || len(r.SourceAddressPrefixes) != 1 || len(r.DestinationPortRanges) != 1 {
				return ""
			}
			return fmt.Sprintf("sshdoctor lab nsg add %s --name %s --priority %d --access %s --protocol %s --source %s --port %s",
				vm, r.Name, r.Priority, r.Access, r.Protocol, r.SourceAddressPrefixes[0], r.DestinationPortRanges[0])
		},
		RemoveRule: func(level, _, _, rule string) string {
			if level != "nic" {
				return ""
			}
			return fmt.Sprintf("sshdoctor lab nsg remove %s %s", vm, shellJoin([]string{rule}))
		},
		RemoveRoute: func(r cloud.Route) string { return "sshdoctor lab route remove " + shellJoin([]string{r.Name}) },
	}
}

func newCmdNSG(ios *IOStreams, withLab labRunner, vmArg func(*lab.State, []string) (*lab.VMState, error)) *cobra.Command {
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
				return writeJSONDoc(ios, map[string]*cloud.NSG{"subnet": s.SubnetNSG, "nic": v.NSG})
			}
			printNSG(ios, "subnet", s.SubnetNSG)
			printNSG(ios, "nic", v.NSG)
			return nil
		}),
	}
	outputFlag(nsgList, &nsgOut)
	cmd.AddCommand(nsgList)
	var r cloud.SecurityRule
	var src, port string
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
			fmt.Fprintf(ios.Out, "%s: rule %s set\n", v.Name, r.Name)
			return s.Save()
		}),
	}
	add.Flags().StringVar(&r.Name, "name", "", "rule name (required)")
	add.Flags().IntVar(&r.Priority, "priority", 0, "priority 100-4096, lower wins (required)")
	add.Flags().StringVar((*string)(&r.Access), "access", "Allow", "Allow or Deny")
	add.Flags().StringVar(&r.Protocol, "protocol", "Tcp", "Tcp, Udp, Icmp or *")
	add.Flags().StringVar(&src, "source", "*", "source prefix: CIDR, address, *, Internet, VirtualNetwork")
	add.Flags().StringVar(&port, "port", "22", "destination port or range (22, 1000-2000, *)")
	cmd.AddCommand(add, &cobra.Command{
		Use: "remove VM RULE", Short: "Remove a rule from a VM's NIC NSG", Args: cobra.ExactArgs(2),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			v, err := vmArg(s, args)
			if err != nil {
				return err
			}
			if err := s.RemoveNICRule(v, args[1]); err != nil {
				return &UsageError{err}
			}
			fmt.Fprintf(ios.Out, "%s: rule %s removed\n", v.Name, args[1])
			return s.Save()
		}),
	})
	return cmd
}

func newCmdRoute(ios *IOStreams, withLab labRunner) *cobra.Command {
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
				return writeJSONDoc(ios, rs)
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
	var hopIP string
	add := &cobra.Command{
		Use: "add NAME PREFIX NEXTHOP", Short: "Add a route; NEXTHOP is None or VirtualAppliance (with --next-hop-ip)", Args: cobra.ExactArgs(3),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			if err := s.SetRoute(cloud.Route{Name: args[0], AddressPrefix: args[1], NextHopType: cloud.NextHopType(args[2]), NextHopIP: hopIP, Source: "User"}); err != nil {
				return &UsageError{err}
			}
			return s.Save()
		}),
	}
	add.Flags().StringVar(&hopIP, "next-hop-ip", "", "appliance address for VirtualAppliance")
	cmd.AddCommand(add, &cobra.Command{
		Use: "remove NAME", Short: "Remove a route", Args: cobra.ExactArgs(1),
		RunE: withLab(true, func(s *lab.State, args []string) error {
			if err := s.RemoveRoute(args[0]); err != nil {
				return &UsageError{err}
			}
			return s.Save()
		}),
	})
	return cmd
}

// labVMJSON is a lab VM in `lab list|status --output json`.
type labVMJSON struct {
	Name    string     `json:"name"`
	Power   string     `json:"power"`
	IP      string     `json:"ip"`
	Health  string     `json:"health"`
	Summary string     `json:"health_summary"`
	NSG     *cloud.NSG `json:"nic_nsg"`
	Faults  []string   `json:"faults"`
	Boots   int        `json:"boots"`
}

func labVM(s *lab.State, v *lab.VMState) labVMJSON {
	h := s.Health(v)
	f := v.Faults
	if f == nil {
		f = []string{}
	}
	return labVMJSON{Name: v.Name, Power: string(v.Power), IP: v.IP(), Health: string(h.State), Summary: h.Summary, NSG: v.NSG, Faults: f, Boots: v.Boots}
}

// outputFlag adds --output text|json to a command that lists things.
func outputFlag(c *cobra.Command, out *string) {
	c.Flags().StringVar(out, "output", "text", "output format: text or json")
	prev := c.PreRunE
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if *out != "text" && *out != "json" {
			return usagef("--output must be text or json, not %q", *out)
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// writeJSONDoc prints v as indented JSON.
func writeJSONDoc(ios *IOStreams, v any) error {
	enc := json.NewEncoder(ios.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func listVMs(ios *IOStreams, s *lab.State) {
	w := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATE\tIP\tHEALTH\tFAULTS")
	for _, v := range s.VMs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Power, v.IP(), s.Health(v).State, orNone(strings.Join(v.Faults, ",")))
	}
	w.Flush()
}

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

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellJoin quotes args for sh -c.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%", r)
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// runAttached runs cmd with the caller's terminal and passes its exit code on.
func runAttached(ios *IOStreams, cmd *exec.Cmd) error {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ios.In, ios.Out, ios.Err
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	return err
}
