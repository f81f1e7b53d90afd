package guest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Apply is sshdoctor's one transaction engine: guest repair, reset-ssh,
// user set/remove and apply (VMAccess) all make their changes through it.
// It opens one backup set, runs the actions in order (each saves what it
// changes before changing it, through descriptors: see safefs), validates
// sshd's configuration with sshd -t when an action touched it, restarts
// sshd through the service manager and waits until it listens on every
// configured port. If anything fails, the whole set is rolled back (and
// sshd restarted on its old configuration); on success the set is sealed:
// the identity of everything the run left is recorded, so a later
// `guest restore` can refuse paths someone replaced since. A plan without
// actions, or a dry run, changes nothing and makes no backup set. Ctrl-C
// or SIGTERM (or ctx ending) stops it between steps and rolls the set back
// (ErrInterrupted); once sshd is being restarted it runs to its end. The
// caller holds Lock.
func Apply(ctx context.Context, f *Facts, acts []Action, o RepairOptions) *Result {
	res := &Result{Actions: acts}
	var todo []Action
	restart := false
	for _, a := range acts {
		if a.Skipped == "" {
			todo = append(todo, a)
			restart = restart || a.sshd
			if a.For == "guest.fstab_missing_device" {
				res.RebootRequired = true
			}
		}
	}
	if res.RebootRequired {
		// The boot stopped before services: sshd cannot be restarted now;
		// everything is checked again at the next boot.
		restart = false
	}
	if len(todo) == 0 || o.DryRun {
		return res
	}
	stopped, release := holdInterrupts(ctx)
	defer release()
	b, err := NewBackup("/", o.Command)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Backup = b.Dir()
	fail := func(cause error) *Result {
		res.Interrupted = stopped()
		if res.Interrupted && !res.Restarted {
			// A step the signal ended (Ctrl-C reaches the programs it
			// runs too) fails for that reason, whatever it says.
			cause = ErrInterrupted
		}
		res.Error = cause.Error()
		if err := rollback("/", b.Dir()); err != nil {
			res.Error += "; rollback: " + err.Error()
		}
		res.RolledBack = true
		if restart {
			_ = restartSSHD(f.ServiceMgr)
		}
		return res
	}
	for _, a := range todo {
		if stopped() {
			return fail(ErrInterrupted)
		}
		if a.do == nil {
			continue
		}
		if err := a.do(b); err != nil {
			return fail(fmt.Errorf("%s: %w", a.Description, err))
		}
	}
	// The last stop before the commit. A signal during sshd -t (which it
	// reaches too) still rolls back; sshd's restart is out of the
	// terminal's reach (runDetached), and from it on the transaction runs
	// to its end.
	if stopped() {
		return fail(ErrInterrupted)
	}
	if restart {
		if out, err := exec.CommandContext(ctx, f.SSHDPath, "-t").CombinedOutput(); err != nil {
			return fail(fmt.Errorf("the repaired configuration fails sshd -t: %s", strings.TrimSpace(string(out))))
		}
		if err := restartSSHD(f.ServiceMgr); err != nil {
			return fail(err)
		}
		res.Restarted = true
		if err := waitListening(ctx, f.SSHDPath, sshdRestartLimit); err != nil {
			return fail(err)
		}
	}
	res.Interrupted = stopped()
	if err := b.Seal(); err != nil {
		res.Error = "record the backup set: " + err.Error()
	}
	return res
}

// sshdRestartLimit is how long a restarted sshd may take to listen again:
// sshd binds within milliseconds; a slow VM under load gets seconds.
const sshdRestartLimit = 5 * time.Second
