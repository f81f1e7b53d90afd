package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// completeLabArgs gives every lab verb whose usage names a VM or a FAULT
// argument ("break VM FAULT", "nsg add VM") shell completion for it: the
// VMs of the lab in use and the fault catalogue. The usage line is the
// single statement of which argument is which.
func completeLabArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		completeLabArgs(sub)
	}
	words := strings.Fields(c.Use)
	if c.ValidArgsFunction != nil || len(words) < 2 || !slices.Contains(words[1:], "VM") && !slices.Contains(words[1:], "FAULT") {
		return
	}
	c.ValidArgsFunction = func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if 1+len(args) >= len(words) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		switch words[1+len(args)] {
		case "VM":
			// Reading the state needs no lock; without it (no lab, no
			// permission) there is nothing to offer.
			s, err := lab.Load(lab.Dir())
			if err != nil {
				break
			}
			for _, v := range s.VMs {
				if strings.HasPrefix(v.Name, toComplete) {
					out = append(out, cobra.CompletionWithDesc(v.Name, string(v.Power)))
				}
			}
		case "FAULT":
			for _, f := range lab.Faults {
				if strings.HasPrefix(f.Name, toComplete) {
					out = append(out, cobra.CompletionWithDesc(f.Name, f.Description))
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
