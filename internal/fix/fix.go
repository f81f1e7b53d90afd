// Package fix runs the seed's troubleshooting loop for the user (SPEC S10):
// check from the client; when SSH fails, gather every vantage point at once
// (control plane, serial log, NSGs and routes for the client's address, the
// guest through run-command, judging the client's own key); plan the
// smallest steps that address the causes; take them one at a time with
// consent; connect again after each, and stop at the first success. A step
// that made things worse is undone. Every step is journaled with its undo.
//
// The engine speaks only to cloud.Provider, so the lab and Azure run the
// same code. It decides; the CLI binds flags and renders.
package fix

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// Schema names the JSON document Run's Report renders to.
const Schema = "sshdoctor.fix/v1"

// Checker is one client check from the user's vantage point.
type Checker func(ctx context.Context) (*probe.Report, *diagnose.Verdict)

// Options are the inputs of a fix run.
type Options struct {
	Provider cloud.Provider
	VM       string
	// User is the account the client logs in as: the only account whose
	// policy (lock, expiry, shell, Allow/Deny, keys) a guest repair may
	// change.
	User string
	Port int
	// Keys are the client's public keys: the guest judges that these can
	// log in, and a repair may authorize the first one for User.
	Keys []ssh.PublicKey
	// Source is the client's address as the VM sees it; NSG steps open
	// the port to this address only. Invalid: unknown (no NSG change).
	Source netip.Addr
	Check  Checker

	DryRun bool
	// AllowRedeploy permits the destructive redeploy step.
	AllowRedeploy bool
	// AllowPasswordAuth / AllowSSHRSA let a guest repair re-enable what
	// an admin may have turned off on purpose.
	AllowPasswordAuth, AllowSSHRSA bool
	// Confirm asks before a disruptive step; nil applies (--yes).
	Confirm func(s Step) (bool, error)
	// Progress reports what is happening while long steps run.
	Progress func(msg string)
	// MaxSteps bounds the loop (default 8).
	MaxSteps int
	// ReadyTimeout bounds the wait for a VM after start/restart (default
	// 3 minutes).
	ReadyTimeout time.Duration
	// Journal, when set, is called after every entry with the report so
	// far (the CLI writes the journal file).
	Journal func(r *Report) error

	// SeedOrder takes the seed guide's fixed order instead of the
	// evidence's (the benchmark's baseline).
	SeedOrder bool

	rebooted bool // the step being taken restarted the VM
}

// Report is the story of a fix run.
type Report struct {
	Schema   string    `json:"schema"`
	Provider string    `json:"provider"`
	VM       string    `json:"vm"`
	User     string    `json:"user,omitempty"`
	Source   string    `json:"source,omitempty"`
	Started  time.Time `json:"started"`
	// Before is the first client check's verdict, After the last one.
	Before *Outcome `json:"before"`
	After  *Outcome `json:"after,omitempty"`
	// Diagnosis: every error finding of the gather, cloud then guest.
	Diagnosis []findings.Finding `json:"diagnosis"`
	// Plan is the first plan; later gathers may add steps (see Journal).
	Plan    []Step  `json:"plan"`
	Journal []Entry `json:"journal"`
	// Fixed: SSH works at the end after at least one step.
	Fixed bool `json:"fixed"`
	// Cause is the root cause in one sentence.
	Cause string `json:"cause"`
	// Next are the manual steps left when SSH still fails.
	Next    []string      `json:"next,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Outcome summarizes one client check.
type Outcome struct {
	Works     bool              `json:"works"`
	RootCause *findings.Finding `json:"root_cause,omitempty"`
	Diagnosis string            `json:"diagnosis"`
	// Layer is the index of the failing layer in connection order (higher
	// is further along); len(ClientLayers) when SSH works.
	Layer int `json:"layer"`
}

// Entry is one journaled step.
type Entry struct {
	Time     time.Time     `json:"time"`
	Step     Step          `json:"step"`
	Result   string        `json:"result"` // applied, failed, declined, undone
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Recheck is the client check after the step.
	Recheck *Outcome `json:"recheck,omitempty"`
	// Effect: "fixed", "better", "same", "worse".
	Effect string `json:"effect,omitempty"`
	Undo   *Undo  `json:"undo,omitempty"`
	Undone bool   `json:"undone,omitempty"`
}

// ErrNotFixed: the loop ended with SSH still failing.
var ErrNotFixed = errors.New("SSH still fails")

func (o *Options) progress(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

// outcome summarizes a verdict.
func outcome(v *diagnose.Verdict) *Outcome {
	out := &Outcome{Works: v.Works, RootCause: v.RootCause, Diagnosis: v.Diagnosis, Layer: len(findings.ClientLayers)}
	if v.RootCause != nil {
		if i := slices.Index(findings.ClientLayers, v.RootCause.Layer); i >= 0 {
			out.Layer = i
		}
	}
	return out
}

// effect compares two checks: further along the connection is better.
func effect(before, after *Outcome) string {
	switch {
	case after.Works:
		return "fixed"
	case after.Layer > before.Layer:
		return "better"
	case after.Layer < before.Layer:
		return "worse"
	case before.RootCause != nil && after.RootCause != nil && before.RootCause.ID != after.RootCause.ID:
		return "better" // same layer, another cause: the first one is gone
	}
	return "same"
}

// Run runs the loop. It returns the report and ErrNotFixed when SSH still
// fails (the report says why and what to do by hand).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Provider == nil || o.Check == nil || o.VM == "" {
		return nil, errors.New("fix: provider, VM and checker are required")
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 8
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 3 * time.Minute
	}
	start := time.Now()
	r := &Report{Schema: Schema, Provider: o.Provider.Kind(), VM: o.VM, User: o.User, Started: start.UTC()}
	if o.Source.IsValid() {
		r.Source = o.Source.String()
	}
	defer func() { r.Elapsed = time.Since(start) }()

	o.progress("checking SSH from this machine")
	_, v := o.Check(ctx)
	cur := outcome(v)
	r.Before = cur
	if cur.Works {
		r.After = cur
		r.Cause = "SSH works; nothing to fix."
		return r, nil
	}
	taken := map[string]bool{}
	for i := 0; i < o.MaxSteps; i++ {
		o.progress("gathering: control plane, serial log, NSGs and routes, guest")
		g := gather(ctx, &o, cur)
		if i == 0 {
			r.Diagnosis = g.diagnosis()
			r.Cause = cause(cur, g)
		}
		plan := planSteps(g, cur, &o, taken)
		if i == 0 {
			r.Plan = plan
		}
		if o.DryRun {
			r.After = cur
			r.Next = nextSteps(g, plan, &o)
			return r, ErrNotFixed
		}
		step, ok := firstRunnable(plan)
		if !ok {
			r.Next = nextSteps(g, plan, &o)
			break
		}
		taken[step.key()] = true
		e := Entry{Time: time.Now().UTC(), Step: step}
		if step.Disruptive && o.Confirm != nil {
			yes, err := o.Confirm(step)
			if err != nil {
				return r, err
			}
			if !yes {
				taken[declined(step.key())] = true
				e.Result = "declined"
				r.Journal = append(r.Journal, e)
				_ = journal(&o, r)
				continue
			}
		}
		o.progress("step %d: %s", len(r.Journal)+1, step.Change)
		t0 := time.Now()
		o.rebooted = step.waitReady
		undo, err := step.run(ctx, &o)
		e.Duration, e.Undo = time.Since(t0), undo
		if err != nil {
			e.Result, e.Error = "failed", err.Error()
		} else {
			e.Result = "applied"
		}
		if step.waitReady {
			o.progress("waiting for %s to be ready (up to %s)", o.VM, o.ReadyTimeout)
			if werr := cloud.WaitReady(ctx, o.Provider, o.VM, o.ReadyTimeout, time.Second, nil); werr != nil && e.Error == "" {
				e.Error = werr.Error()
			}
		}
		o.progress("connecting again")
		_, v = recheck(ctx, &o, o.rebooted)
		after := outcome(v)
		e.Recheck, e.Effect = after, effect(cur, after)
		if e.Effect == "worse" && undo != nil {
			o.progress("the step made things worse (%s): undoing it", rootID(after))
			if uerr := undo.apply(ctx, o.Provider); uerr != nil {
				e.Error = joinErr(e.Error, "undo failed: "+uerr.Error())
			} else {
				e.Undone = true
				_, v = o.Check(ctx)
				after = outcome(v)
			}
		}
		r.Journal = append(r.Journal, e)
		if err := journal(&o, r); err != nil {
			return r, err
		}
		cur = after
		if cur.Works {
			r.After, r.Fixed = cur, true
			return r, nil
		}
	}
	r.After = cur
	if len(r.Next) == 0 {
		r.Next = []string{"Run `sshdoctor check` with -v evidence and `sshdoctor guest check` on the serial console; the journal lists what was tried."}
	}
	return r, ErrNotFixed
}

// recheck connects again; after a boot, sshd may need a few seconds more
// than the agent, so a refused or timed-out connection is retried for up
// to 10 s (then the next gather says why).
func recheck(ctx context.Context, o *Options, booted bool) (*probe.Report, *diagnose.Verdict) {
	rep, v := o.Check(ctx)
	if !booted {
		return rep, v
	}
	deadline := time.Now().Add(min(10*time.Second, o.ReadyTimeout))
	for !v.Works && v.RootCause != nil && v.RootCause.Layer == findings.LayerTCP && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return rep, v
		case <-time.After(2 * time.Second):
		}
		rep, v = o.Check(ctx)
	}
	return rep, v
}

func journal(o *Options, r *Report) error {
	if o.Journal == nil {
		return nil
	}
	return o.Journal(r)
}

func rootID(o *Outcome) string {
	if o.RootCause == nil {
		return "-"
	}
	return o.RootCause.ID
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// gathered is everything known about the VM after one gather.
type gathered struct {
	cloud *cloudcheck.Report
	// guest: nil when the guest could not be reached (GuestErr says why).
	facts    *guest.Facts
	problems []guest.Problem
	acts     []guest.Action
	guestErr error
	// hostKeys: "TYPE SHA256:…" of the VM's host keys, read through
	// run-command (only when the client check fails at the host key).
	hostKeys []string
}

// diagnosis is every error finding, in the order the cause is told: the
// control plane's, then the guest's live view, then the serial log's
// (which tells what happened at boot, staler than a guest that answered).
func (g *gathered) diagnosis() []findings.Finding {
	var out, boot []findings.Finding
	if g.cloud != nil {
		for _, f := range g.cloud.Findings {
			switch {
			case f.Severity != findings.Error:
			case f.Layer == findings.LayerBoot && g.facts != nil:
				boot = append(boot, f)
			default:
				out = append(out, f)
			}
		}
	}
	for _, p := range g.problems {
		if p.Severity == findings.Error {
			out = append(out, p.Finding)
		}
	}
	return append(out, boot...)
}
