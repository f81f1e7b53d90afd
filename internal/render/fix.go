package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/fix"
)

// FixJSONDoc is what `sshdoctor fix --output json` prints: the report
// (plan, journal, outcome) and where the journal was written.
type FixJSONDoc struct {
	*fix.Report
	JournalFile string `json:"journal_file,omitempty"`
}

// FixJSON writes the fix report as one JSON document (docs/json.md).
func FixJSON(w io.Writer, r *fix.Report, journal string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(FixJSONDoc{Report: r, JournalFile: journal})
}

// FixText tells the story: the cause, the steps taken and their effect,
// and the final check as proof (or what to do by hand).
func FixText(w io.Writer, r *fix.Report, journal string, s Style) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	target := r.VM + " (" + r.Provider + ")"
	if r.Before != nil && r.Before.Works && len(r.Journal) == 0 {
		p("%s SSH to %s works; nothing to fix.\n", s.Paint(Green, "✓"), target)
		_, err := io.WriteString(w, b.String())
		return err
	}
	p("%s %s\n", s.Paint(Bold, "Problem:"), oneLineOf(r.Before))
	p("%s %s\n", s.Paint(Bold, "Cause:  "), r.Cause)
	if len(r.Diagnosis) > 1 {
		for _, f := range r.Diagnosis {
			p("  %s %s  %s\n", s.Severity(f.Severity), f.ID, f.Summary)
		}
	}
	if len(r.Journal) == 0 && len(r.Plan) > 0 {
		p("\n%s\n", s.Paint(Bold, "Plan:"))
		for i, st := range r.Plan {
			mark := fmt.Sprintf("%d.", i+1)
			if st.Manual {
				mark = s.Paint(Yellow, "!")
			}
			p("  %s %s\n", mark, st.Change)
			p("     why: %s; risk: %s", st.Why, orDash(st.Risk))
			if st.UndoText != "" {
				p("; undo: %s", st.UndoText)
			}
			p("\n")
		}
	}
	if len(r.Journal) > 0 {
		p("\n%s\n", s.Paint(Bold, "Steps:"))
		for i, e := range r.Journal {
			var mark string
			switch {
			case e.Result == "declined":
				mark = s.Paint(Dim, "-")
			case e.Effect == "fixed":
				mark = s.Paint(Green, "✓")
			case e.Result == "failed" || e.Effect == "worse":
				mark = s.Paint(Red, "✗")
			default:
				mark = s.Paint(Yellow, "→")
			}
			p("  %s %d. %s  %s\n", mark, i+1, e.Step.Change, s.Paint(Dim, "("+e.Duration.Round(100*time.Millisecond).String()+")"))
			p("       why: %s\n", e.Step.Why)
			switch {
			case e.Result == "declined":
				p("       declined\n")
			case e.Error != "":
				p("       %s\n", s.Paint(Red, "error: "+e.Error))
			}
			if e.Recheck != nil {
				p("       then: %s%s\n", oneLineOf(e.Recheck), effectNote(e))
			}
		}
	}
	p("\n")
	switch {
	case r.Fixed:
		p("%s SSH works now (%s, %d step(s), %s).\n", s.Paint(Green, "✓"), target, applied(r), r.Elapsed.Round(100*time.Millisecond))
		if r.After != nil {
			p("  proof: %s\n", oneLineOf(r.After))
		}
	case r.Before != nil && r.Before.Works:
		p("%s SSH works.\n", s.Paint(Green, "✓"))
	default:
		if len(r.Journal) > 0 {
			p("%s SSH still fails: %s\n", s.Paint(Red, "✗"), oneLineOf(r.After))
		} else if len(r.Plan) > 0 && !allManualSteps(r) {
			p("Dry run: nothing was changed. Run again without --dry-run to take these steps.\n")
		}
		if len(r.Next) > 0 {
			p("%s\n", s.Paint(Bold, "Next, by hand:"))
			for _, n := range r.Next {
				p("  - %s\n", n)
			}
		}
	}
	if journal != "" {
		p("Journal: %s (undo: sshdoctor fix --provider %s --vm %s --undo %s)\n", journal, r.Provider, r.VM, journal)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func allManualSteps(r *fix.Report) bool {
	for _, s := range r.Plan {
		if !s.Manual {
			return false
		}
	}
	return true
}

func applied(r *fix.Report) int {
	n := 0
	for _, e := range r.Journal {
		if e.Result == "applied" {
			n++
		}
	}
	return n
}

func effectNote(e fix.Entry) string {
	switch {
	case e.Undone:
		return " — made things worse, undone"
	case e.Effect == "same":
		return " — no change"
	case e.Effect == "better":
		return " — progress"
	}
	return ""
}

func oneLineOf(o *fix.Outcome) string {
	if o == nil {
		return "-"
	}
	if o.Works {
		if strings.HasPrefix(o.Diagnosis, "SSH works") {
			return o.Diagnosis
		}
		return "SSH works: " + o.Diagnosis
	}
	if o.RootCause != nil {
		return o.RootCause.ID + ": " + o.RootCause.Summary
	}
	return o.Diagnosis
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
