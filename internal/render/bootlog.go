package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/bootlog"
)

type bootlogJSONDoc struct {
	Schema    string `json:"schema"`
	ExitCode  int    `json:"exit_code"`
	RootCause string `json:"root_cause,omitempty"`
	*bootlog.Report
}

// BootlogJSON writes the report as one indented JSON document.
func BootlogJSON(w io.Writer, r *bootlog.Report) error {
	doc := bootlogJSONDoc{Schema: bootlog.Schema, ExitCode: r.ExitCode(), Report: r}
	if r.RootCause != nil {
		doc.RootCause = r.RootCause.ID
	}
	if r.Findings == nil {
		r.Findings = []bootlog.Finding{}
	}
	if r.NextSteps == nil {
		r.NextSteps = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// BootlogText writes the verdict first, then the last boot's progress, each finding
// with its evidence, effect and fix, and the next steps. color adds ANSI
// colours (for a terminal).
func BootlogText(w io.Writer, r *bootlog.Report, color bool) error {
	s := Style{Color: color}
	var b strings.Builder
	mark := s.Paint(Bold+Green, "✓")
	if !r.Healthy {
		mark = s.Paint(Bold+Red, "✗")
	}
	fmt.Fprintf(&b, "%s %s\n", mark, r.Verdict)
	lb := r.LastBoot
	if r.Lines > 0 {
		fmt.Fprintf(&b, "  %s\n", s.Paint(Dim, fmt.Sprintf("%d lines, %s; the last boot is lines %d-%d (starts at %s)",
			r.Lines, bootPlural(r.Boots, "boot"), lb.StartLine, lb.EndLine, bootStartedBy(lb))))
		fmt.Fprintf(&b, "  %s\n", s.Paint(Dim, bootProgress(lb)))
		if r.Excerpt {
			fmt.Fprintf(&b, "  %s\n", s.Paint(Dim, "coverage: "+r.Coverage))
		}
	}
	if r.TruncatedLines > 0 {
		fmt.Fprintf(&b, "  %s\n", s.Paint(Dim, fmt.Sprintf("%s longer than %d KiB analysed in part", bootPlural(r.TruncatedLines, "line"), bootlog.MaxLine>>10)))
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s %s  %s\n", s.Severity(f.Severity), s.Paint(Bold, f.ID), f.Summary)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "    %s\n", s.Paint(Dim, e))
		}
		if f.MoreLines > 0 {
			fmt.Fprintf(&b, "    %s\n", s.Paint(Dim, fmt.Sprintf("… and %s more", bootPlural(f.MoreLines, "line"))))
		}
		if f.CausedBy != "" {
			fmt.Fprintf(&b, "    caused by: %s (a consequence, not the root cause)\n", f.CausedBy)
		}
		if f.ID != bootlog.IDOK {
			fmt.Fprintf(&b, "    effect: %s\n", f.Effect)
			fmt.Fprintf(&b, "    fix:    %s\n", f.Remediation)
		}
	}
	if len(r.NextSteps) > 0 {
		b.WriteString("\nNext steps:\n")
		for i, n := range r.NextSteps {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func bootStartedBy(lb bootlog.Boot) string {
	switch lb.StartedBy {
	case "kernel":
		if lb.Kernel != "" {
			return "the kernel banner, Linux " + lb.Kernel
		}
		return "the kernel banner"
	case "boot_loader":
		return "firmware/boot-loader output"
	}
	return "the beginning of the log"
}

func bootProgress(lb bootlog.Boot) string {
	at := func(ok bool, line int) string {
		if !ok {
			return "no"
		}
		return fmt.Sprintf("line %d", line)
	}
	sshd := strings.ReplaceAll(lb.SSHD, "_", " ")
	if lb.SSHD == "not_seen" {
		sshd = "not seen in the log"
	}
	if lb.SSHDListeningLine > 0 && lb.SSHD == "running" {
		sshd = fmt.Sprintf("listening (line %d)", lb.SSHDListeningLine)
	} else if lb.SSHDStartedLine > 0 && lb.SSHD == "running" {
		sshd = fmt.Sprintf("started (line %d)", lb.SSHDStartedLine)
	}
	return fmt.Sprintf("multi-user: %s · login prompt: %s · sshd: %s",
		at(lb.ReachedMultiUser, lb.MultiUserLine), at(lb.LoginPrompt, lb.LoginPromptLine), sshd)
}

func bootPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
