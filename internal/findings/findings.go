// Package findings is sshdoctor's shared vocabulary: every problem any
// vantage point (client, cloud control plane, guest, boot log) can report is
// a Finding whose ID is registered in the catalogue here. IDs are stable API:
// scripts match on them, so an ID is never renamed or reused once released.
package findings

import (
	"fmt"
	"slices"
	"sort"
)

// Severity says how much a finding matters for reaching the VM over SSH.
type Severity string

// Severities, from blocking to informative.
const (
	// Error: SSH cannot work until this is fixed.
	Error Severity = "error"
	// Warning: SSH works (or may work) but something is wrong or risky.
	Warning Severity = "warning"
	// Info: worth knowing, nothing to fix.
	Info Severity = "info"
)

// Layer names where along the path to a shell a finding was made. Client
// layers are in connection order, so the first failing one is the root cause.
type Layer string

// Client-side layers, in the order a connection passes them.
const (
	LayerConfig  Layer = "config"
	LayerResolve Layer = "resolve"
	LayerJump    Layer = "jump"
	LayerTCP     Layer = "tcp"
	LayerBanner  Layer = "banner"
	LayerKex     Layer = "kex"
	LayerHostKey Layer = "hostkey"
	LayerAuth    Layer = "auth"
	LayerSession Layer = "session"
	LayerClient  Layer = "client"
)

// ClientLayers lists the client layers in connection order.
var ClientLayers = []Layer{LayerConfig, LayerResolve, LayerJump, LayerTCP, LayerBanner, LayerKex, LayerHostKey, LayerAuth, LayerSession}

// Def is a catalogue entry: what an ID means in general.
type Def struct {
	ID       string   `json:"id"`
	Layer    Layer    `json:"layer"`
	Severity Severity `json:"severity"`
	// Title is a one-line description of the condition.
	Title string `json:"title"`
	// Remedy is the generic remediation; a Finding carries the specific one.
	Remedy string `json:"remediation"`
}

// Finding is one judged problem with the evidence that shows it.
type Finding struct {
	ID       string   `json:"id"`
	Layer    Layer    `json:"layer"`
	Severity Severity `json:"severity"`
	// Summary says what is wrong for this target, in one line.
	Summary string `json:"summary"`
	// Evidence lists what was observed, verbatim where possible.
	Evidence []string `json:"evidence,omitempty"`
	// Remediation says what to do next, with the exact command where one exists.
	Remediation string `json:"remediation"`
}

var catalogue = map[string]Def{}

// Register adds definitions to the catalogue. It panics on a duplicate ID:
// two subsystems claiming one ID is a programming error.
func Register(defs ...Def) {
	for _, d := range defs {
		if _, dup := catalogue[d.ID]; dup {
			panic("findings: duplicate ID " + d.ID)
		}
		catalogue[d.ID] = d
	}
}

// Lookup returns the definition of id.
func Lookup(id string) (Def, bool) {
	d, ok := catalogue[id]
	return d, ok
}

// All returns every registered definition sorted by layer order, then ID.
func All() []Def {
	defs := make([]Def, 0, len(catalogue))
	for _, d := range catalogue {
		defs = append(defs, d)
	}
	order := func(l Layer) int {
		if i := slices.Index(ClientLayers, l); i >= 0 {
			return i
		}
		return len(ClientLayers)
	}
	sort.Slice(defs, func(i, j int) bool {
		if oi, oj := order(defs[i].Layer), order(defs[j].Layer); oi != oj {
			return oi < oj
		}
		if defs[i].Layer != defs[j].Layer {
			return defs[i].Layer < defs[j].Layer
		}
		return defs[i].ID < defs[j].ID
	})
	return defs
}

// New builds a Finding for a registered id. It panics on an unknown id so a
// typo fails every test that reaches it instead of shipping an unlisted ID.
func New(id, summary, remediation string, evidence ...string) Finding {
	d, ok := catalogue[id]
	if !ok {
		panic(fmt.Sprintf("findings: unregistered ID %q", id))
	}
	if remediation == "" {
		remediation = d.Remedy
	}
	return Finding{ID: id, Layer: d.Layer, Severity: d.Severity, Summary: summary, Evidence: evidence, Remediation: remediation}
}
