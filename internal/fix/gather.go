package fix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// gather reads every vantage point the loop needs: the cloud check (VM,
// health, serial log verdict, NSGs and routes for the client's address),
// then, when the VM runs and its agent answers, the guest's facts through
// run-command, judged for the client's user and keys.
func gather(ctx context.Context, o *Options, cur *Outcome) *gathered {
	g := &gathered{}
	co := cloudcheck.Options{Source: o.Source, Port: o.Port}
	if !o.Source.IsValid() {
		// Unknown client address: judge the NSGs for any Internet
		// address, so a deny is still named (and never opened blindly).
		co.Source, co.SourceAuto = cloudcheck.InternetProbe, true
	}
	g.cloud = cloudcheck.Check(ctx, o.Provider, o.VM, co)
	vm := g.cloud.VM
	switch {
	case vm == nil:
		g.guestErr = errors.New("the VM could not be read")
		return g
	case vm.PowerState != cloud.PowerRunning:
		g.guestErr = fmt.Errorf("%w (%s)", cloud.ErrNotRunning, vm.PowerState)
		return g
	case !vm.AgentReady:
		g.guestErr = fmt.Errorf("%w (%s)", cloud.ErrAgentNotReady, vm.AgentStatus)
		return g
	}
	var users []string
	if o.User != "" {
		users = []string{o.User}
	}
	script, err := guest.RemoteScriptFor(users, o.Port, o.Source)
	if err != nil {
		g.guestErr = err
		return g
	}
	res, err := runBusy(ctx, o, script, 2*time.Minute)
	if err != nil {
		g.guestErr = err
		return g
	}
	facts, err := guest.FactsFromRemote([]byte(res.Stdout), o.Port)
	if err != nil {
		g.guestErr = fmt.Errorf("guest facts: %w", err)
		return g
	}
	g.facts = facts
	g.problems = guest.Judge(facts, guest.JudgeOptions{Keys: o.Keys, From: o.Source})
	ro := guest.RepairOptions{Keys: firstKey(o.Keys), PasswordAuth: o.AllowPasswordAuth, AllowSSHRSA: o.AllowSSHRSA, Command: "sshdoctor fix", Remote: true}
	if o.User != "" && o.User != "root" {
		// The account the client logs in as may have its policy changed
		// (lock, expiry, shell, Allow/Deny, keys) — never root's: letting
		// root in is a decision fix does not take.
		ro.Users = []string{o.User}
	}
	g.acts = guest.Plan(facts, g.problems, ro)
	if cur.RootCause != nil && cur.RootCause.Layer == findings.LayerHostKey {
		g.hostKeys = hostKeys(ctx, o)
	}
	return g
}

// hostKeyScript prints the fingerprint of every host key sshd is
// configured with ("256 SHA256:… comment (ED25519)").
const hostKeyScript = `for f in $(/usr/sbin/sshd -T 2>/dev/null | awk '$1 == "hostkey" {print $2 ".pub"}'); do [ -f "$f" ] && ssh-keygen -E sha256 -lf "$f"; done`

// hostKeys reads the VM's host key fingerprints through run-command, as
// "ED25519 SHA256:…"; nil when they cannot be read.
func hostKeys(ctx context.Context, o *Options) []string {
	res, err := runBusy(ctx, o, hostKeyScript, time.Minute)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(res.Stdout, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[1], "SHA256:") {
			out = append(out, strings.Trim(f[len(f)-1], "()")+" "+f[1])
		}
	}
	return out
}

// runBusy runs a command, waiting while another run-command holds the VM
// (Azure answers 409; the lab emulates it) up to a minute.
func runBusy(ctx context.Context, o *Options, script string, timeout time.Duration) (*cloud.RunResult, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := o.Provider.RunCommand(ctx, o.VM, script, timeout)
		if !errors.Is(err, cloud.ErrBusy) || time.Now().After(deadline) {
			return res, err
		}
		o.progress("another run-command is running on %s; waiting", o.VM)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

func firstKey(keys []ssh.PublicKey) []ssh.PublicKey {
	if len(keys) == 0 {
		return nil
	}
	return keys[:1]
}

func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// cause is the root cause in one sentence: the deepest evidence first
// (cloud, then guest), else the client's own diagnosis.
func cause(cur *Outcome, g *gathered) string {
	d := g.diagnosis()
	if len(d) > 0 {
		s := d[0].Summary
		if len(d) > 1 {
			s += fmt.Sprintf(" (and %d more cause", len(d)-1)
			if len(d) > 2 {
				s += "s"
			}
			s += ")"
		}
		return s
	}
	if cur.RootCause != nil {
		return cur.RootCause.Summary
	}
	return cur.Diagnosis
}

// nextSteps are what the user does by hand when fix cannot go on.
func nextSteps(g *gathered, plan []Step, o *Options) []string {
	var out []string
	for _, s := range plan {
		if s.Manual {
			line := s.Change
			if s.Command != "" {
				line += " — " + s.Command
			}
			out = append(out, line)
		}
	}
	if g.facts == nil && g.guestErr != nil {
		out = append(out, "the guest could not be examined ("+firstLine(g.guestErr.Error())+"): use the serial console and run `sshdoctor guest check` there")
	}
	return out
}
