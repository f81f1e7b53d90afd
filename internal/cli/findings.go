package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/render"
)

// FindingSchema names the JSON document of `sshdoctor findings ID --output json`.
const FindingSchema = "sshdoctor.finding/v1"

// FindingsOptions are the inputs of `sshdoctor findings [ID]`.
type FindingsOptions struct {
	IO     *IOStreams
	ID     string // empty: the whole catalogue
	Output string
}

// NewCmdFindings builds `sshdoctor findings`: the catalogue, or one finding.
func NewCmdFindings(ios *IOStreams) *cobra.Command {
	o := &FindingsOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "findings [ID]",
		Short: "List every finding ID sshdoctor can report, or explain one: layer, severity, meaning, remedy",
		Example: `  sshdoctor findings
  sshdoctor findings auth.publickey_rejected
  sshdoctor findings tcp.timeout --output json`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var ids []cobra.Completion
			for _, d := range findings.All() {
				if strings.HasPrefix(d.ID, toComplete) {
					ids = append(ids, cobra.CompletionWithDesc(d.ID, d.Title))
				}
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.ID = args[0]
			}
			return findingsRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Output, "output", "text", "text, json, or (the whole catalogue only) markdown, the source of docs/findings.md")
	return cmd
}

func findingsRun(o *FindingsOptions) error {
	if o.ID == "" {
		switch o.Output {
		case "text", "markdown", "json":
			return render.Catalogue(o.IO.Out, o.Output)
		}
		return usagef("--output must be text, markdown or json, not %q", o.Output)
	}
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json for one finding, not %q", o.Output)
	}
	d, ok := findings.Lookup(o.ID)
	if !ok {
		if near := closeFindingIDs(o.ID); len(near) > 0 {
			return usagef("unknown finding ID %q; did you mean %s? (sshdoctor findings lists them all)", o.ID, strings.Join(near, ", "))
		}
		return usagef("unknown finding ID %q (sshdoctor findings lists them all)", o.ID)
	}
	if o.Output == "json" {
		return writeJSONDoc(o.IO, struct {
			Schema      string            `json:"schema"`
			ID          string            `json:"id"`
			Layer       findings.Layer    `json:"layer"`
			Severity    findings.Severity `json:"severity"`
			Title       string            `json:"title"`
			Remediation string            `json:"remediation"`
		}{FindingSchema, d.ID, d.Layer, d.Severity, d.Title, d.Remedy})
	}
	fmt.Fprintf(o.IO.Out, "%s\n  layer:    %s\n  severity: %s\n  meaning:  %s\n  remedy:   %s\n", d.ID, d.Layer, d.Severity, d.Title, d.Remedy)
	return nil
}

// closeFindingIDs are the catalogue's IDs nearest to id, at most three:
// those id is a prefix of (a truncated ID), then those within a few edits
// (a typo), closest first.
func closeFindingIDs(id string) []string {
	type cand struct {
		id   string
		dist int
	}
	var cs []cand
	limit := max(2, len(id)/4)
	for _, d := range findings.All() {
		switch dist := editDistance(id, d.ID); {
		case strings.HasPrefix(d.ID, id):
			cs = append(cs, cand{d.ID, 0})
		case dist <= limit:
			cs = append(cs, cand{d.ID, dist})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.dist - b.dist })
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].id)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (finding IDs are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
