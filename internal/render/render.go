// Package render prints verdicts for people (text, coloured on a terminal)
// and for programs (JSON with a stable schema, see docs/json.md). It never
// probes; it only formats what it is given.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// CheckSchema names the JSON schema of `sshdoctor check`; it changes only
// when a field is removed or changes meaning.
const CheckSchema = "sshdoctor.check/v1"

// CheckJSON is the document `sshdoctor check --output json` prints.
type CheckJSON struct {
	Schema       string                 `json:"schema"`
	Works        bool                   `json:"works"`
	ExitCode     int                    `json:"exit_code"`
	Diagnosis    string                 `json:"diagnosis"`
	RootCause    string                 `json:"root_cause,omitempty"`
	NextSteps    []string               `json:"next_steps"`
	Target       probe.Target           `json:"target"`
	Layers       []diagnose.LayerStatus `json:"layers"`
	Findings     []findings.Finding     `json:"findings"`
	Observations *probe.Report          `json:"observations"`
}

// JSON writes the check as one indented JSON document.
func JSON(w io.Writer, r *probe.Report, v *diagnose.Verdict, exitCode int) error {
	doc := CheckJSON{
		Schema: CheckSchema, Works: v.Works, ExitCode: exitCode, Diagnosis: v.Diagnosis,
		NextSteps: v.NextSteps, Target: r.Target, Layers: v.Layers, Findings: v.Findings, Observations: r,
	}
	if doc.NextSteps == nil {
		doc.NextSteps = []string{}
	}
	if v.RootCause != nil {
		doc.RootCause = v.RootCause.ID
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// Style decides colours; the zero value prints plain text.
type Style struct{ Color bool }

// ANSI codes for Style.Paint (combine with +, e.g. Bold+Red).
const (
	Green  = "\x1b[32m"
	Red    = "\x1b[31m"
	Yellow = "\x1b[33m"
	Dim    = "\x1b[2m"
	Bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// Paint wraps text in the ANSI code when the style has colour.
func (s Style) Paint(code, text string) string {
	if !s.Color {
		return text
	}
	return code + text + reset
}

// Severity is a finding severity's mark: ✗ error, ! warning, ✓ info.
func (s Style) Severity(sev findings.Severity) string {
	switch sev {
	case findings.Error:
		return s.Paint(Red, "✗")
	case findings.Warning:
		return s.Paint(Yellow, "!")
	}
	return s.Paint(Green, "✓")
}

func (s Style) mark(st diagnose.Status) string {
	switch st {
	case diagnose.OK:
		return s.Paint(Green, "✓")
	case diagnose.Fail:
		return s.Paint(Red, "✗")
	case diagnose.Warn:
		return s.Paint(Yellow, "!")
	}
	return s.Paint(Dim, "-")
}

// Text writes one line per layer, then the diagnosis and the next steps.
func Text(w io.Writer, r *probe.Report, v *diagnose.Verdict, s Style) error {
	var b strings.Builder
	user := r.Target.User
	// user@[::1]:22 for an IPv6 address, as ssh users write it.
	fmt.Fprintf(&b, "%s %s@%s", s.Paint(Bold, "sshdoctor check"), user, net.JoinHostPort(strings.Trim(r.Target.HostName, "[]"), strconv.Itoa(r.Target.Port)))
	if r.Target.ProxyJump == "" && r.Target.ProxyCommand != "" {
		fmt.Fprintf(&b, " via ProxyCommand")
	}
	if r.Target.ProxyJump != "" {
		fmt.Fprintf(&b, " via %s", r.Target.ProxyJump)
	}
	fmt.Fprintf(&b, "  (config: %s)\n", r.Target.ConfigSource)
	for _, l := range v.Layers {
		dur := ""
		if l.Duration > 0 {
			dur = s.Paint(Dim, "  "+fmtDuration(time.Duration(l.Duration)))
		}
		fmt.Fprintf(&b, " %s %-8s %s%s\n", s.mark(l.Status), l.Layer, l.Summary, dur)
	}
	b.WriteString("\n")
	label := s.Paint(Bold+Red, "Diagnosis:")
	if v.Works {
		label = s.Paint(Bold+Green, "Diagnosis:")
	}
	fmt.Fprintf(&b, "%s %s\n", label, v.Diagnosis)
	if v.RootCause != nil {
		fmt.Fprintf(&b, "  %s\n", s.Paint(Dim, "["+v.RootCause.ID+"]"))
		for _, e := range v.RootCause.Evidence {
			fmt.Fprintf(&b, "  %s %s\n", s.Paint(Dim, "·"), e)
		}
	}
	var others []findings.Finding
	for _, f := range v.Findings {
		if v.RootCause == nil || f.ID != v.RootCause.ID {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		b.WriteString("\nAlso found:\n")
		for _, f := range others {
			fmt.Fprintf(&b, "  %s %s %s\n", severityMark(s, f.Severity), f.Summary, s.Paint(Dim, "["+f.ID+"]"))
		}
	}
	if lines := clientFileLines(r); len(lines) > 0 {
		b.WriteString("\nYour keys and files:\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s %s\n", s.Paint(Yellow, "!"), l)
		}
	}
	if len(v.NextSteps) > 0 {
		b.WriteString("\nNext steps:\n")
		for i, n := range v.NextSteps {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func severityMark(s Style, sev findings.Severity) string {
	switch sev {
	case findings.Error:
		return s.Paint(Red, "✗")
	case findings.Warning:
		return s.Paint(Yellow, "!")
	}
	return s.Paint(Dim, "i")
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return d.Round(10 * time.Millisecond).String()
}

// identityProblems words probe.Identity.Problem for people.
var identityProblems = map[string]string{
	"too_open":       "readable by others: ssh refuses to use it (chmod 600)",
	"encrypted":      "protected by a passphrase and not in an agent: not offered (ssh-add it)",
	"unreadable":     "cannot be read",
	"missing":        "does not exist",
	"filtered":       "its type is not in PubkeyAcceptedAlgorithms: not offered",
	"unreachable":    "the agent cannot be reached",
	"no_private_key": "a certificate without its private key: not offered",
	"not_user_cert":  "not a user certificate: not offered",
}

// clientFileLines are what the JSON report knows about the client's own
// keys and known_hosts that the layers do not show: a key that could not
// be offered, a known_hosts that could not be read.
func clientFileLines(r *probe.Report) []string {
	var out []string
	for _, id := range r.Identities {
		if id.Problem == "" {
			continue
		}
		what, ok := identityProblems[id.Problem]
		if !ok {
			what = id.Problem
		}
		name := id.Path
		if name == "" {
			name = id.Source
		}
		line := name + ": " + what
		if id.Mode != "" {
			line += " (mode " + id.Mode + ")"
		}
		if id.Detail != "" && id.Problem != "too_open" {
			line += " — " + id.Detail
		}
		out = append(out, line)
	}
	if r.HostKey != nil && r.HostKey.Error != "" {
		out = append(out, "known_hosts: "+r.HostKey.Error)
	}
	return out
}
