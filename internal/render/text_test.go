package render

import (
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// The text report shows the client's own key and known_hosts problems the
// JSON carries, even when the layers do not.
func TestTextShowsClientFileProblems(t *testing.T) {
	r := &probe.Report{
		Identities: []probe.Identity{
			{Source: "file", Path: "/home/u/.ssh/id_rsa", Problem: "too_open", Mode: "0644"},
			{Source: "file", Path: "/home/u/.ssh/gone", Problem: "missing", Explicit: true},
			{Source: "file", Path: "/home/u/.ssh/id_ed25519", Type: "ssh-ed25519"},
		},
		HostKey: &probe.HostKeyResult{Error: "knownhosts: /home/u/.ssh/known_hosts:3: illegal base64 data"},
	}
	var b strings.Builder
	if err := Text(&b, r, &diagnose.Verdict{Diagnosis: "x"}, Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Your keys and files:", "/home/u/.ssh/id_rsa: readable by others", "(mode 0644)", "/home/u/.ssh/gone: does not exist", "known_hosts: knownhosts: /home/u/.ssh/known_hosts:3"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing from:\n%s", want, out)
		}
	}
	if strings.Contains(out, "id_ed25519:") {
		t.Errorf("a key without a problem is listed:\n%s", out)
	}
	var clean strings.Builder
	_ = Text(&clean, &probe.Report{}, &diagnose.Verdict{Diagnosis: "x"}, Style{})
	if strings.Contains(clean.String(), "Your keys and files") {
		t.Error("the section is printed with nothing in it")
	}
}
