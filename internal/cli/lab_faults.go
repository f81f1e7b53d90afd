package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// faults builds `lab faults`.
func (l *labCmds) faults() *cobra.Command {
	var faultsOut string
	faults := &cobra.Command{
		Use: "faults", Short: "List the fault catalogue", Args: l.exact(0, "no arguments"),
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
				return writeJSONDoc(l.ios, map[string]any{"schema": "sshdoctor.lab.faults/v1", "faults": out})
			}
			w := tabwriter.NewWriter(l.ios.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "FAULT\tCHECK SHOWS\tDESCRIPTION")
			for _, f := range lab.Faults {
				fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name, f.Expect, f.Description)
			}
			return w.Flush()
		},
	}
	outputFlag(faults, &faultsOut)
	return faults
}

// breakCmd builds `lab break`.
func (l *labCmds) breakCmd() *cobra.Command {
	var output string
	breakCmd := &cobra.Command{
		Use: "break VM FAULT", Short: "Inject a fault into a VM (see `lab faults`)", Args: l.exact(2, "a VM name and a fault"),
		RunE: l.withVM(true, func(s *lab.State, v *lab.VMState, args []string) error {
			f, err := lab.FaultByName(args[1])
			if err != nil {
				return &UsageError{err}
			}
			// A fault is injected wholly or not at all: Ctrl-C waits for
			// Break (snapshot, change, saved state) to end.
			interrupted, release := holdInterrupts(l.ios, "injecting "+f.Name)
			err = s.Break(v, f)
			release()
			if err != nil {
				return err
			}
			d := labBreakDoc(s, v, f, interrupted())
			if output == "json" {
				if err := writeJSONDoc(l.ios, d); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(l.ios.Out, "broke %s: %s\nsee it: %s\n", v.Name, f.Description, d.SeeIt)
			}
			if d.Interrupted {
				fmt.Fprintf(l.ios.Err, "interrupted: %s has fault %s (undo: sshdoctor lab heal %s)\n", v.Name, f.Name, v.Name)
				return &ExitError{Code: ExitInterrupted}
			}
			return nil
		}),
	}
	outputFlag(breakCmd, &output)
	return breakCmd
}

// heal builds `lab heal`.
func (l *labCmds) heal() *cobra.Command {
	var output string
	heal := &cobra.Command{
		Use: "heal VM", Short: "Undo every fault injected into a VM", Args: l.exact(1, "a VM name"),
		RunE: l.withVM(true, func(s *lab.State, v *lab.VMState, args []string) error {
			// Heal (restore the disk, the network, boot) runs to its end
			// whatever Ctrl-C says: a half-healed VM would be neither.
			faults := append([]string{}, v.Faults...)
			interrupted, release := holdInterrupts(l.ios, "healing "+v.Name)
			err := s.Heal(v, "")
			release()
			if err != nil {
				return err
			}
			d := labHealDoc(s, v, faults, interrupted())
			if output == "json" {
				if err := writeJSONDoc(l.ios, d); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(l.ios.Out, "healed %s\n", v.Name)
			}
			if d.Interrupted {
				fmt.Fprintf(l.ios.Err, "interrupted: %s was healed first\n", v.Name)
				return &ExitError{Code: ExitInterrupted}
			}
			return nil
		}),
	}
	outputFlag(heal, &output)
	return heal
}

// labBreakJSON is `lab break --output json` (sshdoctor.lab.break/v1).
type labBreakJSON struct {
	Schema      string    `json:"schema"`
	ExitCode    int       `json:"exit_code"` // 130 when Ctrl-C came while the fault was injected (it was, wholly)
	VM          string    `json:"vm"`
	Fault       string    `json:"fault"`
	Description string    `json:"description"`
	SeeIt       string    `json:"see_it"` // the command whose check shows the fault
	Interrupted bool      `json:"interrupted"`
	Status      labVMJSON `json:"status"` // the VM afterwards, as lab status --output json shows it
}

// labHealJSON is `lab heal --output json` (sshdoctor.lab.heal/v1).
type labHealJSON struct {
	Schema      string    `json:"schema"`
	ExitCode    int       `json:"exit_code"` // 130 when Ctrl-C came while healing (which was finished)
	VM          string    `json:"vm"`
	Healed      []string  `json:"healed"` // the faults undone
	Interrupted bool      `json:"interrupted"`
	Status      labVMJSON `json:"status"`
}

func labBreakDoc(s *lab.State, v *lab.VMState, f *lab.Fault, interrupted bool) labBreakJSON {
	cargs, target := s.CheckArgs(v, f)
	d := labBreakJSON{Schema: "sshdoctor.lab.break/v1", ExitCode: ExitOK, VM: v.Name, Fault: f.Name, Description: f.Description,
		SeeIt: "sshdoctor lab client -- sshdoctor check " + shellJoin(append(cargs, target)), Interrupted: interrupted, Status: labVM(s, v)}
	if interrupted {
		d.ExitCode = ExitInterrupted
	}
	return d
}

func labHealDoc(s *lab.State, v *lab.VMState, healed []string, interrupted bool) labHealJSON {
	if healed == nil {
		healed = []string{}
	}
	d := labHealJSON{Schema: "sshdoctor.lab.heal/v1", ExitCode: ExitOK, VM: v.Name, Healed: healed, Interrupted: interrupted, Status: labVM(s, v)}
	if interrupted {
		d.ExitCode = ExitInterrupted
	}
	return d
}
