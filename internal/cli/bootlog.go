package cli

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/bootlog"
	"github.com/sshdoctor/sshdoctor/internal/render"
)

// BootlogOptions are the inputs of `sshdoctor bootlog analyze`.
type BootlogOptions struct {
	IO      *IOStreams
	File    string // "-" reads standard input
	Output  string
	NoColor bool
}

// NewCmdBootlog is `sshdoctor bootlog`, with its `analyze` subcommand.
func NewCmdBootlog(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootlog",
		Short: "Read a VM's serial console log and say why it did not come up for SSH",
	}
	cmd.AddCommand(newCmdBootlogAnalyze(ios))
	return cmd
}

func newCmdBootlogAnalyze(ios *IOStreams) *cobra.Command {
	o := &BootlogOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "analyze FILE|-",
		Short: "Diagnose the last boot in a serial console log",
		Long: `Analyze reads a serial console log (Azure boot diagnostics, ` + "`az vm boot-diagnostics get-boot-log`" + `,
` + "`sshdoctor lab serial-log`" + `, or any console capture; "-" reads standard input), finds the
last boot in it, and reports what stopped that boot from bringing up SSH: kernel
panics, initramfs and root-device failures, fstab and emergency mode, file-system
corruption, full disks, sshd failing or never starting, the network, cloud-init,
SELinux, OOM kills and GRUB. Each finding names the log lines that show it, its
effect on SSH and the fix. A boot that came up is reported as such: then look at
the network path or sshd's configuration.

Colour codes and carriage returns as consoles emit them are handled; the log is
read once, in a stream, whatever its size. The signatures are listed in
docs/bootlog.md.

Exit status: 0 the last boot is healthy, 1 a problem was found, 2 bad usage
(e.g. the file cannot be opened), 3 internal error.`,
		Example: `  az vm boot-diagnostics get-boot-log -g RG -n VM | sshdoctor bootlog analyze -
  sshdoctor lab serial-log web1 | sshdoctor bootlog analyze -
  sshdoctor bootlog analyze --output json console.log`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("bootlog analyze needs exactly one FILE, or - for standard input (see 'sshdoctor bootlog analyze --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			if o.Output != "text" && o.Output != "json" {
				return usagef("--output must be text or json, not %q", o.Output)
			}
			return bootlogRun(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Output, "output", "text", "output format: text or json")
	f.BoolVar(&o.NoColor, "no-color", false, "no colours even on a terminal (NO_COLOR is honoured too)")
	return cmd
}

func bootlogRun(o *BootlogOptions) error {
	var in io.Reader = o.IO.In
	if o.File != "-" {
		f, err := os.Open(o.File)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return usagef("cannot read %s: %v", o.File, pe.Err)
			}
			return usagef("cannot read %s: %v", o.File, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return usagef("cannot read %s: it is a directory", o.File)
		}
		in = f
	}
	report, err := bootlog.Analyze(in)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		err = render.BootlogJSON(o.IO.Out, report)
	} else {
		color := o.IO.OutTTY && !o.NoColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
		err = render.BootlogText(o.IO.Out, report, color)
	}
	if err != nil {
		return err
	}
	if code := report.ExitCode(); code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}
