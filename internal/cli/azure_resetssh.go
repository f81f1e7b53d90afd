package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/fix"
)

// resetSSHLong teaches what reset-ssh does, in the order it does it.
const resetSSHLong = `Repairs sshd's configuration on the VM, smallest change first:

 1. With the VM agent ready, reads the guest through run-command and runs the
    guest judge's own repairs for what it finds (the line that breaks sshd,
    a drop-in that turns keys off, host key modes…) as one transaction:
    backed up, checked with sshd -t, rolled back if sshd does not come back.
 2. Only when that finds nothing to repair, or run-command cannot answer
    (its output needs the VM to reach Azure over HTTPS, port 443), it offers
    VMAccessForLinux's reset_ssh. ` + azure.VMAccessResetNote + `
    --restore-backup asks VMAccess to put that file back.

--vmaccess skips step 1. Every change is shown and confirmed first (--yes).`

func newCmdAzureResetSSH(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	c := &cobra.Command{
		Use:   "reset-ssh -g RG -n VM [--vmaccess | --restore-backup]",
		Short: "Repair sshd's configuration: the guest repair through run-command, else VMAccess's reset_ssh",
		Long:  resetSSHLong,
		Example: `  sshdoctor azure reset-ssh -g web-rg -n web1
  sshdoctor azure reset-ssh -g web-rg -n web1 --vmaccess --yes
  sshdoctor azure reset-ssh -g web-rg -n web1 --restore-backup`,
		Args: cobra.NoArgs,
		RunE: run(jsonNeedsYes(o, "reset-ssh", func() error {
			if o.VMAccess && o.RestoreBackup {
				return usagef("--vmaccess and --restore-backup are two different actions: give one")
			}
			return nil
		}), withActionDoc("reset-ssh", resetSSHRun)),
	}
	vmFlags(c)
	recheckFlags(c, o)
	c.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	c.Flags().BoolVar(&o.VMAccess, "vmaccess", false, "use VMAccessForLinux's reset_ssh (its own sshd_config template) without trying the guest repair first")
	c.Flags().BoolVar(&o.RestoreBackup, "restore-backup", false, "put back the sshd_config VMAccess saved before its last reset (restore_backup_ssh)")
	actionOutputFlag(c, o)
	return c
}

// guestRepairJSON is the guest repair reset-ssh ran (or found nothing
// for) through run-command.
type guestRepairJSON struct {
	Problems  []guestProblemJSON `json:"problems"`             // what the guest judge found
	Repairs   []string           `json:"repairs"`              // the repairs, one transaction ([] = nothing to repair)
	Applied   bool               `json:"applied"`              // the transaction was applied
	BackupDir string             `json:"backup_dir,omitempty"` // the backup on the VM
}

// guestProblemJSON is one of the guest judge's findings.
type guestProblemJSON struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

func resetSSHRun(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error {
	target := o.ResourceGroup + "/" + o.VM
	w := o.textOut()
	if o.RestoreBackup {
		d.Method = "vmaccess-restore"
		if err := confirm(o, fmt.Sprintf("Put back, on VM %s, the sshd_config VMAccess saved before its last reset (VMAccess restore_backup_ssh)?", target)); err != nil {
			return err
		}
		if err := p.RestoreSSHBackup(ctx, o.VM); err != nil {
			return err
		}
		d.Done = "VMAccess restored the saved sshd_config"
		fmt.Fprintf(w, "%s: %s.\n", target, d.Done)
		d.Recheck = recheckSSH(ctx, o, p)
		return nil
	}
	if !o.VMAccess {
		done, err := resetSSHGuest(ctx, o, p, d)
		if done || err != nil {
			return err
		}
	}
	d.Method = "vmaccess-reset"
	fmt.Fprintf(o.IO.Err, "%s\n", azure.VMAccessResetNote)
	if err := confirm(o, fmt.Sprintf("Run VMAccess reset_ssh on VM %s?", target)); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Err, "reset-ssh %s (VMAccess) …\n", target)
	if err := p.ResetSSH(ctx, o.VM); err != nil {
		return err
	}
	d.Done = fmt.Sprintf("sshd_config replaced by VMAccess's template; sshd listens on port 22. To go back: sshdoctor azure reset-ssh -g %s -n %s --restore-backup", o.ResourceGroup, o.VM)
	fmt.Fprintf(w, "%s: %s\n", target, d.Done)
	// VMAccess's template says Port 22, whatever --port was.
	o.Port = 22
	d.Recheck = recheckSSH(ctx, o, p)
	return nil
}

// resetSSHGuest tries the guest judge's repairs through run-command.
// done: it repaired (or the user declined); otherwise VMAccess is next.
func resetSSHGuest(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) (done bool, err error) {
	target := o.ResourceGroup + "/" + o.VM
	w := o.textOut()
	fmt.Fprintf(o.IO.Err, "reading the guest of %s through run-command (20-60 s) …\n", target)
	fo := fix.Options{Provider: p, VM: o.VM, Port: o.Port, Progress: func(msg string) { fmt.Fprintln(o.IO.Err, msg) }}
	plan, err := fix.PlanGuestRepair(ctx, fo)
	switch {
	case errors.Is(err, cloud.ErrNotRunning), errors.Is(err, cloud.ErrAgentNotReady), errors.Is(err, cloud.ErrUnsupported):
		// VMAccess needs the same running VM and ready agent.
		return true, err
	case err != nil:
		fmt.Fprintf(o.IO.Err, "The guest could not be read through run-command: %s\n", oneLine(err.Error()))
		return false, nil
	}
	repairs := plan.Repairs()
	g := &guestRepairJSON{Problems: []guestProblemJSON{}, Repairs: []string{}}
	for _, pr := range plan.Problems {
		g.Problems = append(g.Problems, guestProblemJSON{ID: pr.ID, Summary: pr.Summary})
	}
	for _, a := range repairs {
		g.Repairs = append(g.Repairs, a.Description)
	}
	d.Guest = g
	if len(repairs) == 0 {
		fmt.Fprintln(w, "The guest judge finds nothing in sshd's configuration that it can repair.")
		for _, pr := range plan.Problems {
			fmt.Fprintf(w, "  - %s [%s]\n", pr.Summary, pr.ID)
		}
		return false, nil
	}
	d.Method = "guest-repair"
	fmt.Fprintf(w, "The guest judge found, on %s:\n", target)
	for _, pr := range plan.Problems {
		fmt.Fprintf(w, "  ✗ %s [%s]\n", pr.Summary, pr.ID)
	}
	fmt.Fprintln(w, "Repairs (one transaction: backed up, checked with sshd -t, rolled back if sshd does not come back):")
	for _, a := range repairs {
		fmt.Fprintf(w, "  + %s\n", a.Description)
	}
	if err := confirm(o, fmt.Sprintf("Apply these repairs on VM %s through run-command?", target)); err != nil {
		return true, err
	}
	undo, err := fix.ApplyGuestRepair(ctx, fo, plan)
	if err != nil {
		return true, fmt.Errorf("guest repair on %s: %w (VMAccess's reset is still possible: sshdoctor azure reset-ssh -g %s -n %s --vmaccess)", target, err, o.ResourceGroup, o.VM)
	}
	g.Applied, d.Done = true, "repaired through run-command"
	fmt.Fprintf(w, "%s: %s.\n", target, d.Done)
	if undo != nil && undo.BackupDir != "" {
		g.BackupDir = undo.BackupDir
		fmt.Fprintf(w, "Backup on the VM: %s\n", undo.BackupDir)
	}
	d.Recheck = recheckSSH(ctx, o, p)
	return true, nil
}
