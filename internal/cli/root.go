// Package cli wires sshdoctor's commands to cobra. Each command is an
// options struct, a NewCmd function that only binds flags, and a run
// function that does the work and can be called without cobra.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// Exit codes, documented in README.md.
const (
	ExitOK       = 0 // SSH works
	ExitProblem  = 1 // a problem was diagnosed
	ExitUsage    = 2 // bad usage or input; nothing was changed
	ExitInternal = 3 // sshdoctor itself failed
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// UsageError is bad input from the user; it maps to ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// ExitError carries an exit code for a command that already printed its result.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// IOStreams are the command's input and outputs; tests pass buffers.
type IOStreams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY is true when Out is a terminal: colours and human layout.
	OutTTY bool
	// ErrTTY is true when Err is a terminal: progress lines go there.
	ErrTTY bool
}

// System returns the process's standard streams.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutTTY: term.IsTerminal(int(os.Stdout.Fd())), ErrTTY: term.IsTerminal(int(os.Stderr.Fd()))}
}

// NewRootCmd builds the command tree.
func NewRootCmd(ios *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "sshdoctor",
		Short: "Find why SSH to a Linux VM fails, fix it safely, and prove it works",
		Long: `sshdoctor finds why you cannot SSH into a Linux VM, layer by layer, from the
client (name, TCP, banner, algorithms, host key, auth), the cloud control plane
and the guest itself — and says what to do next.

Start with:  sshdoctor check user@host`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().line(),
	}
	root.SetVersionTemplate("sshdoctor {{.Version}}\n")
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	// Every command takes --no-color; those that colour (check, fix,
	// bootlog analyze) define their own, the rest print no colour.
	root.PersistentFlags().Bool("no-color", false, "no colours even on a terminal (NO_COLOR is honoured too)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(NewCmdCheck(ios, nil), NewCmdGuest(ios), NewCmdLab(ios), NewCmdBootlog(ios), NewCmdAzure(ios), NewCmdNSG(ios), NewCmdRoute(ios), NewCmdFindings(ios), NewCmdFix(ios, nil),
		NewCmdVersion(ios))
	// Cobra adds `completion` when it executes; adding it now lets
	// refuseUnknown cover it like every other group.
	root.InitDefaultCompletionCmd()
	refuseUnknown(root)
	return root
}

// Main runs sshdoctor with args and returns the process exit code.
func Main(ios *IOStreams, args []string) int {
	root := NewRootCmd(ios)
	root.SetArgs(args)
	return report(ios, root.Execute())
}

// report prints err, if any, as one line on stderr after one "sshdoctor: "
// and returns the exit code it maps to.
func report(ios *IOStreams, err error) int {
	var ee *ExitError
	var ue *UsageError
	var busy *guest.BusyError
	var changed *guest.ChangedError
	var partial *guest.PartialError
	var unknown *UnknownCommandError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &busy), errors.As(err, &changed), errors.As(err, &partial):
		// Refused before anything changed: a problem to act on, not a bug.
		fmt.Fprintf(ios.Err, "sshdoctor: %s\n", errorLine(err))
		return ExitProblem
	case errors.As(err, &unknown):
		fmt.Fprintf(ios.Err, "sshdoctor: %s\n", errorLine(err))
		if len(unknown.Suggestions) > 0 {
			fmt.Fprintf(ios.Err, "\nDid you mean this?\n\t%s\n", strings.Join(unknown.Suggestions, "\n\t"))
		}
		return ExitUsage
	case errors.As(err, &ue), isCobraUsage(err):
		fmt.Fprintf(ios.Err, "sshdoctor: %s\n", errorLine(err))
		return ExitUsage
	default:
		fmt.Fprintf(ios.Err, "sshdoctor: internal error: %s\n", errorLine(err))
		return ExitInternal
	}
}

// errorLine is err as the one line Main prints after its own
// "sshdoctor: ": the first line, without a prefix of its own (an error
// that already starts with "sshdoctor: " would otherwise show it twice).
func errorLine(err error) string {
	s := oneLine(err.Error())
	for {
		rest, ok := strings.CutPrefix(s, "sshdoctor: ")
		if !ok {
			return s
		}
		s = strings.TrimSpace(rest)
	}
}

// isCobraUsage recognises cobra's own argument errors, which are plain
// errors: unknown commands and wrong argument counts.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
