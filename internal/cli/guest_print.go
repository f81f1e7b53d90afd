package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// guestAccounts are the accounts a guest check judged.
type guestAccounts struct {
	Users []guest.UserFacts
	Named bool // named with --user; else every login account found
}

// names are the accounts' names, never nil (JSON: an array).
func (a *guestAccounts) names() []string {
	out := []string{}
	for _, u := range a.Users {
		out = append(out, u.Name)
	}
	return out
}

// line says which accounts were checked, so a clean result is not read as
// "every account is fine" when the one that fails was not looked at.
func (a *guestAccounts) line() string {
	var names []string
	for _, u := range a.Users {
		n := u.Name
		if !u.Exists {
			n += " (does not exist)"
		}
		names = append(names, n)
	}
	switch {
	case a.Named && len(names) == 1:
		return "Checked account (--user): " + names[0]
	case a.Named:
		return "Checked accounts (--user): " + strings.Join(names, ", ")
	case len(names) == 0:
		return "Checked accounts: none (no regular account has an authorized key or a usable password; --user names one)"
	}
	return "Checked accounts: " + strings.Join(names, ", ") + " (every regular account with an authorized key or a usable password; --user names others)"
}

// printGuest writes a guest check's problems and, for a repair, its plan
// and outcome. accounts is nil for commands that judge no accounts
// (reset-ssh). It returns ExitError 1 when SSH is still blocked: a problem
// found, a repair that failed, or one that left something wrong.
func printGuest(o *GuestOptions, accounts *guestAccounts, problems []guest.Problem, res *guest.Result) error {
	failed := blocking(problems)
	if res != nil {
		failed = res.Error != "" || (res.Remaining != nil && blocking(res.Remaining) && !res.RebootRequired)
	}
	if o.Output == "json" {
		doc := map[string]any{"schema": "sshdoctor.guest/v1", "findings": problems, "repair": res}
		if accounts != nil {
			doc["checked_users"] = accounts.names()
		}
		if err := writeJSONDoc(o.IO, doc); err != nil {
			return err
		}
	} else {
		w := o.IO.Out
		if accounts != nil {
			fmt.Fprintln(w, accounts.line())
		}
		for _, p := range problems {
			mark := map[findings.Severity]string{findings.Error: "✗", findings.Warning: "!", findings.Info: "✓"}[p.Severity]
			if p.Severity == findings.Info && p.ID != "guest.ok" {
				mark = "-" // evidence (sshd's log), not a verdict
			}
			fmt.Fprintf(w, "%s %s [%s]\n", mark, p.Summary, p.ID)
			for _, e := range p.Evidence {
				if strings.TrimSpace(e) != "" {
					fmt.Fprintf(w, "    %s\n", strings.TrimSpace(e))
				}
			}
		}
		if res != nil {
			printRepair(w, res, o.DryRun)
		} else if failed {
			fmt.Fprintf(w, "\nNext: %s   (shows the plan; add --yes to apply it)\n", guestRepairCommand(o))
		}
		if res != nil && o.planOnly {
			fmt.Fprintf(w, "\nNothing was changed. To apply: %s --yes\n", guestRepairCommand(o))
		}
	}
	if res != nil && res.Interrupted {
		// Ctrl-C: rolled back, or finished once sshd was restarting.
		fmt.Fprintln(o.IO.Err, "Interrupted: the repair was rolled back, or finished because sshd was already restarting (see above).")
		return &ExitError{Code: ExitInterrupted}
	}
	if failed {
		return &ExitError{Code: ExitProblem}
	}
	return nil
}

// printRepair writes a repair's plan and outcome as text.
func printRepair(w io.Writer, res *guest.Result, dryRun bool) {
	fmt.Fprintln(w, "\nRepair plan:")
	for _, a := range res.Actions {
		if a.Skipped != "" {
			fmt.Fprintf(w, "  - skip %s: %s\n", a.For, a.Skipped)
		} else {
			fmt.Fprintf(w, "  + %s\n", a.Description)
		}
	}
	switch {
	case dryRun:
		fmt.Fprintln(w, "\n(dry run: nothing changed)")
	case res.Error != "":
		fmt.Fprintf(w, "\nRepair FAILED: %s\n", res.Error)
		if res.RolledBack {
			fmt.Fprintf(w, "Everything was rolled back from %s.\n", res.Backup)
		}
	case res.Backup != "":
		fmt.Fprintf(w, "\nDone. Backup: %s (undo: sshdoctor guest restore %s)\n", res.Backup, res.Backup)
	}
	if res.RebootRequired {
		fmt.Fprintln(w, "Reboot the VM for the repair to take effect (the current boot stopped before sshd).")
	}
	if len(res.Remaining) > 0 && blocking(res.Remaining) {
		if res.RebootRequired {
			// Expected until the reboot, so not a failed repair (exit 0).
			fmt.Fprintln(w, "Until the reboot, guest check still reports:")
		} else {
			fmt.Fprintln(w, "Still wrong:")
		}
		for _, p := range res.Remaining {
			if p.Severity == findings.Error {
				fmt.Fprintf(w, "  ✗ %s [%s]\n", p.Summary, p.ID)
			}
		}
	}
}

// guestRepairCommand is `sshdoctor guest repair` with the flags this run
// was given that change what it judges (users, keys, port, client address).
func guestRepairCommand(o *GuestOptions) string {
	args := []string{"sshdoctor", "guest", "repair"}
	for _, u := range o.Users {
		args = append(args, "--user", u)
	}
	if o.Port != 0 && o.Port != 22 {
		args = append(args, "--port", strconv.Itoa(o.Port))
	}
	for _, k := range o.Keys {
		args = append(args, "--ssh-key", k)
	}
	for _, f := range o.KeyFiles {
		args = append(args, "--ssh-key-file", f)
	}
	for _, fp := range o.Fingerprints {
		args = append(args, "--key-fingerprint", fp)
	}
	if o.From != "" {
		args = append(args, "--from", o.From)
	}
	return shellJoin(args)
}
