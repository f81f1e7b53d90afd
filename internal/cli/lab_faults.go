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
				return writeJSONDoc(l.ios, out)
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
			cargs, target := s.CheckArgs(v, f)
			fmt.Fprintf(l.ios.Out, "broke %s: %s\nsee it: sshdoctor lab client -- sshdoctor check %s\n", v.Name, f.Description, shellJoin(append(cargs, target)))
			if interrupted() {
				fmt.Fprintf(l.ios.Err, "interrupted: %s has fault %s (undo: sshdoctor lab heal %s)\n", v.Name, f.Name, v.Name)
				return &ExitError{Code: ExitInterrupted}
			}
			return nil
		}),
	}
	return breakCmd
}

// heal builds `lab heal`.
func (l *labCmds) heal() *cobra.Command {
	heal := &cobra.Command{
		Use: "heal VM", Short: "Undo every fault injected into a VM", Args: l.exact(1, "a VM name"),
		RunE: l.withVM(true, func(s *lab.State, v *lab.VMState, args []string) error {
			// Heal (restore the disk, the network, boot) runs to its end
			// whatever Ctrl-C says: a half-healed VM would be neither.
			interrupted, release := holdInterrupts(l.ios, "healing "+v.Name)
			err := s.Heal(v, "")
			release()
			if err != nil {
				return err
			}
			fmt.Fprintf(l.ios.Out, "healed %s\n", v.Name)
			if interrupted() {
				fmt.Fprintf(l.ios.Err, "interrupted: %s was healed first\n", v.Name)
				return &ExitError{Code: ExitInterrupted}
			}
			return nil
		}),
	}
	return heal
}
