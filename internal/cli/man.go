package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newCmdGenMan builds the hidden `sshdoctor gen-man DIR`: one man page per
// command (sshdoctor.1, sshdoctor-check.1, …), for `make install`.
func newCmdGenMan(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write sshdoctor's man pages (section 1) into DIR",
		Hidden: true,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("gen-man needs the directory to write the pages into (see '%s --help')", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := c.Root()
			// The pages document the commands, not this generator or
			// cobra's `help`.
			root.DisableAutoGenTag = true
			// Cobra adds --version when it runs the root; this run is
			// gen-man's.
			root.InitDefaultVersionFlag()
			header := &doc.GenManHeader{Section: "1", Source: "sshdoctor " + readBuildInfo().Version, Manual: "sshdoctor manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			fmt.Fprintf(ios.Err, "man pages written to %s\n", args[0])
			return nil
		},
	}
}
