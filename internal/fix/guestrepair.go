package fix

import (
	"context"
	"fmt"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// GuestPlan is the guest judge's view of a VM read through run-command:
// what is wrong and the repairs that address it (none that change an
// account's policy, unless Options.User names the account).
type GuestPlan struct {
	Facts    *guest.Facts
	Problems []guest.Problem
	Actions  []guest.Action
}

// Repairs are the actions that will run (not skipped).
func (g *GuestPlan) Repairs() []guest.Action {
	var out []guest.Action
	for _, a := range g.Actions {
		if a.Skipped == "" {
			out = append(out, a)
		}
	}
	return out
}

// PlanGuestRepair reads the guest through run-command and plans its
// repairs, changing nothing: the smallest repair for what the guest
// judge finds, where a VMAccess reset would replace the whole sshd
// configuration. Only o.Provider, VM, User, Port, Keys, Source and the
// Allow* options are used.
func PlanGuestRepair(ctx context.Context, o Options) (*GuestPlan, error) {
	var users []string
	if o.User != "" {
		users = []string{o.User}
	}
	script, err := guest.RemoteScriptFor(users, o.Port, o.Source)
	if err != nil {
		return nil, err
	}
	res, err := runBusy(ctx, &o, script, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	facts, err := guest.FactsFromRemote([]byte(res.Stdout), o.Port)
	if err != nil {
		return nil, fmt.Errorf("guest facts: %w", err)
	}
	g := &GuestPlan{Facts: facts, Problems: guest.Judge(facts, guest.JudgeOptions{Keys: o.Keys, From: o.Source})}
	ro := guest.RepairOptions{Keys: firstKey(o.Keys), PasswordAuth: o.AllowPasswordAuth, AllowSSHRSA: o.AllowSSHRSA, Command: "sshdoctor azure reset-ssh", Remote: true}
	if o.User != "" && o.User != "root" {
		ro.Users = []string{o.User}
	}
	g.Actions = guest.Plan(facts, g.Problems, ro)
	return g, nil
}

// ApplyGuestRepair runs the plan's repairs as one transaction through
// run-command (backed up, validated with sshd -t, rolled back when sshd
// does not come back). The Undo restores the backup set.
func ApplyGuestRepair(ctx context.Context, o Options, g *GuestPlan) (*Undo, error) {
	return guestRepair(ctx, &o, g.Repairs())
}
