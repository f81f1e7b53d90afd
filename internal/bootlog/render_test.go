package bootlog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/sshdoctor/sshdoctor/internal/bootlog"
	"github.com/sshdoctor/sshdoctor/internal/render"
	"strings"
	"testing"
)

func TestTextOutput(t *testing.T) {
	log := bootlog.LabBoot(false) + bootlog.LabBoot(true)
	r := bootlog.AnalyzeT(t, log)
	var b bytes.Buffer
	if err := render.BootlogText(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "✗ "+r.Verdict) || !strings.Contains(lines[0], "timed out waiting for device") {
		t.Fatalf("the verdict must come first:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Fatal("colour codes without colour")
	}
	// Each finding, with its evidence, effect and fix, then the next steps.
	fstab := strings.Index(out, "✗ boot.fstab")
	emerg := strings.Index(out, "✗ boot.emergency_mode")
	steps := strings.Index(out, "Next steps:\n  1. ")
	if fstab < 0 || emerg < fstab || steps < emerg {
		t.Fatalf("order of sections:\n%s", out)
	}
	for _, e := range bootlog.Find(r, bootlog.IDFstab).Evidence {
		if !strings.Contains(out, "    "+e+"\n") {
			t.Errorf("evidence %q missing", e)
		}
	}
	if !strings.Contains(out, "    effect: "+bootlog.Effects[bootlog.IDFstab]) || !strings.Contains(out, "    fix:    "+bootlog.Find(r, bootlog.IDFstab).Remediation) {
		t.Errorf("effect or fix missing:\n%s", out)
	}
	if !strings.Contains(lines[1], "2 boots") || !strings.Contains(lines[1], fmt.Sprintf("lines %d-%d", strings.Count(bootlog.LabBoot(false), "\n")+1, r.Lines)) || !strings.Contains(lines[2], "sshd: not seen") {
		t.Errorf("summary lines:\n%s", out)
	}

	b.Reset()
	_ = render.BootlogText(&b, r, true)
	if !strings.Contains(b.String(), render.Style{Color: true}.Paint(render.Red, "✗")) {
		t.Errorf("no colour with colour on")
	}

	b.Reset()
	_ = render.BootlogText(&b, bootlog.AnalyzeT(t, bootlog.LabBoot(true)+bootlog.LabBoot(false)), false)
	if !strings.HasPrefix(b.String(), "✓ The last boot came up") || strings.Contains(b.String(), "effect:") {
		t.Errorf("healthy output:\n%s", b.String())
	}
}

func TestJSONOutput(t *testing.T) {
	log := bootlog.LabBoot(false) + bootlog.LabBoot(true)
	r := bootlog.AnalyzeT(t, log)
	var b bytes.Buffer
	if err := render.BootlogJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema    string `json:"schema"`
		ExitCode  int    `json:"exit_code"`
		RootCause string `json:"root_cause"`
		Healthy   bool   `json:"healthy"`
		Verdict   string `json:"verdict"`
		Boots     int    `json:"boots"`
		Lines     int    `json:"lines"`
		LastBoot  struct {
			StartLine int    `json:"start_line"`
			StartedBy string `json:"started_by"`
			SSHD      string `json:"sshd"`
		} `json:"last_boot"`
		Findings []struct {
			ID        string   `json:"id"`
			Layer     string   `json:"layer"`
			Severity  string   `json:"severity"`
			Evidence  []string `json:"evidence"`
			Lines     []int    `json:"lines"`
			Line      int      `json:"line"`
			Effect    string   `json:"effect"`
			Signature string   `json:"signature"`
		} `json:"findings"`
		NextSteps []string `json:"next_steps"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != bootlog.Schema || doc.ExitCode != 1 || doc.RootCause != bootlog.IDFstab || doc.Healthy || doc.Boots != 2 ||
		doc.LastBoot.StartLine != strings.Count(bootlog.LabBoot(false), "\n")+1 || doc.LastBoot.StartedBy != "kernel" || doc.LastBoot.SSHD != "not_seen" {
		t.Fatalf("%+v", doc)
	}
	f := doc.Findings[0]
	if f.ID != bootlog.IDFstab || f.Layer != "boot" || f.Severity != "error" || len(f.Lines) != 5 || len(f.Evidence) != 5 ||
		f.Line != bootlog.LineOf(t, log, "Timed out waiting") || f.Effect == "" || f.Signature != "device_timeout" || len(doc.NextSteps) == 0 {
		t.Fatalf("%+v", f)
	}
	// Healthy: exit 0, no root cause.
	b.Reset()
	_ = render.BootlogJSON(&b, bootlog.AnalyzeT(t, bootlog.LabBoot(false)))
	if !strings.Contains(b.String(), `"exit_code": 0`) || strings.Contains(b.String(), "root_cause") {
		t.Fatalf("%s", b.String())
	}
}
