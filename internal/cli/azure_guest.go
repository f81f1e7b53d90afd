package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// newCmdAzureGuestCheck builds `sshdoctor azure guest-check`.
func newCmdAzureGuestCheck(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	var guestUsers []string
	gout := &GuestOptions{IO: o.IO, Output: "text"}
	guestCheck := &cobra.Command{
		Use:   "guest-check -g RG -n VM [--user U]...",
		Short: "Run guest check inside the VM through run-command, with nothing installed on the VM",
		Long: `Sends a read-only POSIX sh script through Azure's run-command (RunShellScript,
as root, through the VM agent: no SSH, nothing installed; its output comes
back only if the VM can reach Azure over HTTPS, port 443). The script gathers what ` + "`sshdoctor guest check`" + ` looks at — sshd
running and listening, its configuration (sshd -t, sshd -T, per-user Match
results), host keys, /run/sshd, accounts (lock, expiry, shell), authorized
keys and StrictModes permissions, the nftables rules on the port, hosts.deny,
/etc/nologin, disk space — and prints them compressed (run-command keeps 4096
bytes). It never prints a password hash or a key. sshdoctor judges the facts
here with the same code as guest check. Not seen this way: MaxStartups
floods and fstab entries (run guest check on the VM for those).

Needs the VM running with a ready agent; run-command takes 20-60 s.
Exit status: 0 nothing inside the guest stops SSH, 1 a problem was found,
2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: run(func() error {
			if gout.Output != "text" && gout.Output != "json" {
				return usagef("--output must be text or json, not %q", gout.Output)
			}
			for _, u := range guestUsers {
				if !validUserName(u) {
					return usagef("%q is not a valid user name", u)
				}
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			return azureGuestCheck(ctx, o, p, guestUsers, gout)
		}),
	}
	vmFlags(guestCheck)
	guestCheck.Flags().StringArrayVarP(&guestUsers, "user", "l", nil, "check this user (repeatable; default: every login user with keys or a password)")
	guestCheck.Flags().IntVarP(&o.Port, "port", "p", 22, "the port clients expect sshd on")
	guestCheck.Flags().StringVar(&gout.Output, "output", "text", "text or json")

	return guestCheck
}

// azureGuestCheck runs guest.RemoteScript through run-command and judges
// its facts as guest check does.
func azureGuestCheck(ctx context.Context, o *AzureOptions, p *azure.Provider, users []string, gout *GuestOptions) error {
	script, err := guest.RemoteScript(users, o.Port)
	if err != nil {
		return &UsageError{err}
	}
	fmt.Fprintf(o.IO.Err, "running the guest check script on %s/%s through run-command (20-60 s) …\n", o.ResourceGroup, o.VM)
	res, err := p.RunCommand(ctx, o.VM, script, runCommandTimeout)
	if err != nil {
		if errors.Is(err, azure.ErrAgentNotReady) {
			fmt.Fprintf(o.IO.Err, "sshdoctor: %v\nrun-command needs a running VM with a ready agent: sshdoctor azure check -g %s -n %s\n", err, o.ResourceGroup, o.VM)
			return &ExitError{Code: ExitProblem}
		}
		return err
	}
	facts, err := guest.FactsFromRemote([]byte(res.Stdout), o.Port)
	if err != nil {
		fmt.Fprintf(o.IO.Err, "sshdoctor: the guest check script on %s/%s: %v (exit %d; stderr: %s)\n", o.ResourceGroup, o.VM, err, res.ExitCode, oneLine(res.Stderr))
		return &ExitError{Code: ExitProblem}
	}
	gout.Port = o.Port
	return printGuest(gout, &guestAccounts{Users: facts.Users, Named: len(users) > 0}, guest.Judge(facts, guest.JudgeOptions{}), nil)
}
