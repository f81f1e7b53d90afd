package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// up builds `lab up`.
func (l *labCmds) up() *cobra.Command {
	var vms int
	var name, prefix, output string
	up := &cobra.Command{
		Use:   "up",
		Short: "Create the lab: client, router and N VMs with sshd running",
		Args:  l.exact(0, "no arguments"),
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
			// Ctrl-C (or SIGTERM) stops Up between steps; Up then removes
			// the partial lab. Further signals are caught until it is done.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			s, err := lab.Up(ctx, lab.Dir(), lab.UpOptions{VMs: vms, Name: name, Prefix: prefix})
			if err != nil && ctx.Err() != nil {
				if _, lerr := lab.Load(lab.Dir()); errors.Is(lerr, lab.ErrNoLab) {
					fmt.Fprintln(l.ios.Err, "interrupted: the partial lab was removed")
				} else {
					fmt.Fprintf(l.ios.Err, "interrupted: %s\n", oneLine(err.Error()))
				}
				return &ExitError{Code: ExitInterrupted}
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONDoc(l.ios, labUpDoc(s, time.Since(start)))
			}
			fmt.Fprintf(l.ios.Out, "lab up: %d VM(s) in %s\n\n", len(s.VMs), time.Since(start).Round(time.Millisecond))
			listVMs(l.ios, s)
			fmt.Fprintf(l.ios.Out, "\nTry:  sshdoctor lab client -- sshdoctor check lab-%s\n      sshdoctor lab faults\n", s.VMs[0].Name)
			return nil
		},
	}
	up.Flags().IntVar(&vms, "vms", 1, "number of VMs")
	up.Flags().StringVar(&name, "name", "vm", "VM name prefix (web → web1, web2, …)")
	up.Flags().StringVar(&prefix, "ns-prefix", "sdlab", "prefix of the lab's network namespace names (to run several labs, each with its own SSHDOCTOR_LAB_DIR)")
	outputFlag(up, &output)
	return up
}

// down builds `lab down`.
func (l *labCmds) down() *cobra.Command {
	var output string
	down := &cobra.Command{
		Use: "down", Short: "Remove every namespace, process and file of the lab", Args: l.exact(0, "no arguments"),
	}
	done := func(removed bool) error {
		d := labDownDoc(removed)
		if output == "json" {
			return writeJSONDoc(l.ios, d)
		}
		fmt.Fprintln(l.ios.Out, d.Message)
		return nil
	}
	remove := l.withLab(true, func(s *lab.State, _ []string) error {
		if err := lab.Down(s); err != nil {
			return err
		}
		return done(true)
	})
	// What down is asked for is already true when no lab is up: as with
	// rm -f, that is success, so scripts can run it unconditionally.
	down.RunE = func(c *cobra.Command, args []string) error {
		err := remove(c, args)
		if errors.Is(err, lab.ErrNoLab) {
			return done(false)
		}
		return err
	}
	outputFlag(down, &output)
	return down
}

// listStatus builds `lab list` and `lab status`.
func (l *labCmds) listStatus() (*cobra.Command, *cobra.Command) {
	var listOut, statusOut string
	list := &cobra.Command{
		Use: "list", Short: "List VMs: name, power state, IP, health, faults", Args: l.exact(0, "no arguments"),
		RunE: l.withLab(false, func(s *lab.State, _ []string) error {
			if listOut == "json" {
				out := []labVMJSON{}
				for _, v := range s.VMs {
					out = append(out, labVM(s, v))
				}
				return writeJSONDoc(l.ios, map[string]any{"schema": "sshdoctor.lab.list/v1", "vms": out})
			}
			listVMs(l.ios, s)
			return nil
		}),
	}
	outputFlag(list, &listOut)
	status := &cobra.Command{
		Use: "status VM", Short: "Show one VM as the control plane sees it", Args: l.exact(1, "a VM name"),
		RunE: l.withVM(false, func(s *lab.State, v *lab.VMState, args []string) error {
			if statusOut == "json" {
				return writeJSONDoc(l.ios, struct {
					Schema string `json:"schema"`
					labVMJSON
				}{"sshdoctor.lab.status/v1", labVM(s, v)})
			}
			h := s.Health(v)
			fmt.Fprintf(l.ios.Out, "name:        %s\npower:       %s\nprivate IP:  %s\nhealth:      %s — %s\nNIC NSG:     %s\nfaults:      %s\nboots:       %d\n",
				v.Name, v.Power, v.IP(), h.State, h.Summary, nsgSummary(v.NSG), orNone(strings.Join(v.Faults, ", ")), v.Boots)
			return nil
		}),
	}
	outputFlag(status, &statusOut)
	return list, status
}

// exec builds `lab exec`.
func (l *labCmds) exec() *cobra.Command {
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
		RunE: l.withVM(false, func(s *lab.State, v *lab.VMState, args []string) error {
			res, err := s.Exec(context.Background(), v, shellJoin(args[1:]), execTimeout)
			if err != nil {
				return err
			}
			fmt.Fprint(l.ios.Out, res.Stdout)
			fmt.Fprint(l.ios.Err, res.Stderr)
			if res.ExitCode != 0 {
				return &ExitError{Code: res.ExitCode}
			}
			return nil
		}),
	}
	execCmd.Flags().DurationVar(&execTimeout, "timeout", time.Minute, "kill the command after this long")
	return execCmd
}

// serial builds `lab serial-log`.
func (l *labCmds) serial() *cobra.Command {
	serial := &cobra.Command{
		Use: "serial-log VM", Short: "Print a VM's serial console log (all boots)", Args: l.exact(1, "a VM name"),
		RunE: l.withVM(false, func(s *lab.State, v *lab.VMState, args []string) error {
			b, err := s.SerialLog(v)
			if err != nil {
				return err
			}
			_, err = l.ios.Out.Write(b)
			return err
		}),
	}
	return serial
}

// power builds `lab start|stop|restart|redeploy`.
func (l *labCmds) power() (*cobra.Command, *cobra.Command, *cobra.Command, *cobra.Command) {
	power := func(use, short string, f func(s *lab.State, v *lab.VMState) error) *cobra.Command {
		var output string
		c := &cobra.Command{
			Use: use + " VM", Short: short, Args: l.exact(1, "a VM name"),
			RunE: l.withVM(true, func(s *lab.State, v *lab.VMState, args []string) error {
				start := time.Now()
				err := f(s, v)
				if serr := s.Save(); err == nil {
					err = serr
				}
				if err != nil {
					return err
				}
				if output == "json" {
					return writeJSONDoc(l.ios, labPowerDoc(use, s, v, time.Since(start)))
				}
				fmt.Fprintf(l.ios.Out, "%s %s: %s, %s (%s)\n", use, v.Name, v.Power, v.IP(), time.Since(start).Round(time.Millisecond))
				return nil
			}),
		}
		outputFlag(c, &output)
		return c
	}
	start := power("start", "Start a stopped VM", func(s *lab.State, v *lab.VMState) error { return s.Start(v, "") })
	stop := power("stop", "Stop (deallocate) a VM", func(s *lab.State, v *lab.VMState) error { return s.Stop(v) })
	restart := power("restart", "Restart a VM", func(s *lab.State, v *lab.VMState) error { return s.Restart(v, "") })
	redeploy := power("redeploy", "Redeploy a VM: new address, temporary disk (/mnt) wiped", func(s *lab.State, v *lab.VMState) error { return s.Redeploy(v, "") })
	return start, stop, restart, redeploy
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

// labUpJSON is `lab up --output json` (sshdoctor.lab.up/v1).
type labUpJSON struct {
	Schema    string      `json:"schema"`
	ExitCode  int         `json:"exit_code"`
	VMs       []labVMJSON `json:"vms"` // as lab list --output json shows them
	ElapsedMS float64     `json:"elapsed_ms"`
}

func labUpDoc(s *lab.State, elapsed time.Duration) labUpJSON {
	d := labUpJSON{Schema: "sshdoctor.lab.up/v1", ExitCode: ExitOK, VMs: []labVMJSON{}, ElapsedMS: ms(elapsed)}
	for _, v := range s.VMs {
		d.VMs = append(d.VMs, labVM(s, v))
	}
	return d
}

// labDownJSON is `lab down --output json` (sshdoctor.lab.down/v1).
type labDownJSON struct {
	Schema   string `json:"schema"`
	ExitCode int    `json:"exit_code"`
	Removed  bool   `json:"removed"` // false: no lab was up
	Message  string `json:"message"` // the text mode's line
}

func labDownDoc(removed bool) labDownJSON {
	d := labDownJSON{Schema: "sshdoctor.lab.down/v1", ExitCode: ExitOK, Removed: removed, Message: "lab down: removed"}
	if !removed {
		d.Message = "no lab is up; nothing to remove"
	}
	return d
}

// labPowerJSON is `lab start|stop|restart|redeploy --output json`
// (sshdoctor.lab.VERB/v1): the VM after the action.
type labPowerJSON struct {
	Schema    string    `json:"schema"`
	ExitCode  int       `json:"exit_code"`
	Action    string    `json:"action"`
	VM        string    `json:"vm"`
	Power     string    `json:"power"`
	IP        string    `json:"ip"` // the private address (redeploy changes it)
	ElapsedMS float64   `json:"elapsed_ms"`
	Status    labVMJSON `json:"status"` // as lab status --output json shows it
}

func labPowerDoc(action string, s *lab.State, v *lab.VMState, elapsed time.Duration) labPowerJSON {
	return labPowerJSON{Schema: "sshdoctor.lab." + action + "/v1", ExitCode: ExitOK, Action: action, VM: v.Name, Power: string(v.Power), IP: v.IP(),
		ElapsedMS: ms(elapsed), Status: labVM(s, v)}
}

// ms is d in (fractional) milliseconds, as the JSON documents give durations.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
