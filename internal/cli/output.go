package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

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

// userFlag binds the login user the way every command names it: -l/--user,
// as ssh (-l) and az (--user) users type it. aliases (e.g. --login,
// --username) keep older spellings working, hidden.
func userFlag(f *pflag.FlagSet, p *string, usage string, aliases ...string) {
	f.StringVarP(p, "user", "l", "", usage)
	for _, a := range aliases {
		f.StringVar(p, a, "", usage)
		_ = f.MarkHidden(a)
	}
}
