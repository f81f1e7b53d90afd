package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

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

	l := &labCmds{ios: ios, withLab: withLab, vmArg: vmArg, exact: exact}
	list, status := l.listStatus()
	start, stop, restart, redeploy := l.power()
	cmd.AddCommand(l.up(), l.down(), list, status, l.exec(), l.serial(), start, stop, restart, redeploy,
		newCmdLabNSG(ios, withLab, vmArg), newCmdLabRoute(ios, withLab), newCmdLabCheck(ios, withLab, vmArg), l.faults(), l.breakCmd(), l.heal(), l.client(), l.fix(), l.ssh(), l.vmInit())
	completeLabArgs(cmd)
	return cmd
}

// withVM is withLab for a verb whose first argument names a VM.
func (l *labCmds) withVM(mutates bool, f func(s *lab.State, v *lab.VMState, args []string) error) func(*cobra.Command, []string) error {
	return l.withLab(mutates, func(s *lab.State, args []string) error {
		v, err := l.vmArg(s, args)
		if err != nil {
			return err
		}
		return f(s, v, args)
	})
}

// labCmds holds what every lab verb shares: the streams and the helpers
// that load the lab, find a VM and check the arguments.
type labCmds struct {
	ios     *IOStreams
	withLab labRunner
	vmArg   func(*lab.State, []string) (*lab.VMState, error)
	exact   func(n int, what string) cobra.PositionalArgs
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

func labVM(s *lab.State, v *lab.VMState) labVMJSON {
	h := s.Health(v)
	f := v.Faults
	if f == nil {
		f = []string{}
	}
	return labVMJSON{Name: v.Name, Power: string(v.Power), IP: v.IP(), Health: string(h.State), Summary: h.Summary, NSG: v.NSG, Faults: f, Boots: v.Boots}
}

// outputFlag adds --output text|json to a command that lists things.
func listVMs(ios *IOStreams, s *lab.State) {
	w := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATE\tIP\tHEALTH\tFAULTS")
	for _, v := range s.VMs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Power, v.IP(), s.Health(v).State, orNone(strings.Join(v.Faults, ",")))
	}
	w.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellJoin quotes args for sh -c.
