package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// UnknownCommandError is a word where a subcommand was expected that names
// none; it maps to ExitUsage. Main prints it with cobra's suggestions.
type UnknownCommandError struct {
	Name        string   // what was typed
	Parent      string   // the group's command path, "sshdoctor guest"
	Suggestions []string // subcommands close to Name (cobra's SuggestionsFor)
}

func (e *UnknownCommandError) Error() string {
	return fmt.Sprintf("unknown command %q for %q", e.Name, e.Parent)
}

// refuseUnknown makes every command under c that only groups subcommands
// refuse what is not one of them. Cobra checks unknown subcommands only on
// the root and, for any other group, prints the group's help and exits 0 —
// so `sshdoctor guest chek` looked like it worked. A group given no
// subcommand prints its help on stderr and exits 2 (a command was
// expected); the bare root prints its help on stdout and exits 0.
func refuseUnknown(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknown(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			if c.SuggestionsMinimumDistance <= 0 {
				c.SuggestionsMinimumDistance = 2 // cobra's default, set only on the root's path
			}
			return &UnknownCommandError{Name: args[0], Parent: c.CommandPath(), Suggestions: c.SuggestionsFor(args[0])}
		}
		if !c.HasParent() {
			return c.Help()
		}
		c.SetOut(c.ErrOrStderr())
		if err := c.Help(); err != nil {
			return err
		}
		return usagef("no command given for %q (they are listed above)", c.CommandPath())
	}
}
