package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
)

// azureAction builds a verb that asks, acts on the VM, then re-checks SSH.
func azureAction(o *AzureOptions, vmFlags azureVMFlags, run azureRunner, use, short, question string, f func(p *azure.Provider, ctx context.Context, vm string) error, done string) *cobra.Command {
	c := &cobra.Command{
		Use: use + " -g RG -n VM", Short: short, Args: cobra.NoArgs,
		RunE: run(nil, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			if err := confirm(o, fmt.Sprintf(question, o.ResourceGroup+"/"+o.VM)); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Err, "%s %s/%s …\n", use, o.ResourceGroup, o.VM)
			if err := f(p, ctx, o.VM); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "%s/%s: %s\n", o.ResourceGroup, o.VM, done)
			recheckSSH(ctx, o, p)
			return nil
		}),
	}
	vmFlags(c)
	recheckFlags(c, o)
	c.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	return c
}

// newCmdAzureStart builds `sshdoctor azure start`.
func newCmdAzureStart(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	return azureAction(o, vmFlags, run, "start", "Start a stopped or deallocated VM", "Start VM %s?", (*azure.Provider).Start, "started")
}

// newCmdAzureRestart builds `sshdoctor azure restart`.
func newCmdAzureRestart(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	return azureAction(o, vmFlags, run, "restart", "Restart the VM (the guest reboots)", "Restart VM %s? The guest reboots and open sessions end.", (*azure.Provider).Restart, "restarted")
}

// newCmdAzureRedeploy builds `sshdoctor azure redeploy`.
func newCmdAzureRedeploy(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	redeploy := &cobra.Command{
		Use:   "redeploy -g RG -n VM --yes",
		Short: "Move the VM to a new Azure host (destructive: temporary disk wiped, dynamic IP changes)",
		Args:  cobra.NoArgs,
		RunE: run(func() error {
			fmt.Fprintf(o.IO.Err, "Redeploy moves %s/%s to a new host: the VM restarts, everything on the temporary disk (/dev/sdb, /mnt) is LOST, and a dynamic public or private IP address CHANGES. The OS and data disks are kept.\n", o.ResourceGroup, o.VM)
			if !o.Yes {
				return usagef("redeploy is destructive: pass --yes to confirm; nothing was changed")
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			if err := p.Redeploy(ctx, o.VM); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "%s/%s: redeployed. Its address may have changed: sshdoctor azure check -g %s -n %s shows the new one.\n", o.ResourceGroup, o.VM, o.ResourceGroup, o.VM)
			recheckSSH(ctx, o, p)
			return nil
		}),
	}
	vmFlags(redeploy)
	recheckFlags(redeploy, o)
	redeploy.Flags().BoolVar(&o.Yes, "yes", false, "required (it never asks): confirm that the temporary disk is lost and a dynamic IP changes; without it nothing changes and it exits 2")

	return redeploy
}

func recheckFlags(c *cobra.Command, o *AzureOptions) {
	c.Flags().BoolVar(&o.NoRecheck, "no-recheck", false, "do not try SSH on the VM's public address afterwards")
	c.Flags().IntVarP(&o.Port, "port", "p", 22, "sshd's port (evaluated in the NSGs, and tried by the re-check)")
	c.Flags().DurationVar(&o.RecheckWait, "recheck-wait", defaultRecheckWait, "how long the re-check waits for sshd to answer (a booting VM needs a while)")
}

// sshDial opens the re-check's TCP connection; tests make sure it only
// ever goes to loopback.
var sshDial = func(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// recheckSSH proves the action from where the user sits: it connects to
// the VM's public address and waits for sshd's banner, as the seed says
// ("try to connect again after each step"). It reports and never fails
// the action; without a public address it says how to check instead.
func recheckSSH(ctx context.Context, o *AzureOptions, p *azure.Provider) {
	if o.NoRecheck {
		return
	}
	w := o.IO.Out
	vm, err := p.GetVM(ctx, o.VM)
	switch {
	case err != nil:
		fmt.Fprintf(w, "Re-check skipped: %v\nNext: sshdoctor azure check -g %s -n %s\n", oneLine(err.Error()), o.ResourceGroup, o.VM)
		return
	case vm.PublicIP == "":
		fmt.Fprintf(w, "Re-check: %s has no public IP; from inside its network: sshdoctor check USER@%s\n", o.VM, vm.PrivateIP)
		return
	}
	addr := net.JoinHostPort(vm.PublicIP, strconv.Itoa(o.Port))
	wait := o.RecheckWait
	if wait <= 0 {
		wait = defaultRecheckWait
	}
	deadline := time.Now().Add(wait)
	var last error
	for {
		banner, err := sshBanner(ctx, addr)
		if err == nil {
			fmt.Fprintf(w, "Re-check: SSH answers on %s (%s).\nNext: sshdoctor check USER@%s -p %d\n", addr, banner, vm.PublicIP, o.Port)
			return
		}
		last = err
		if time.Now().Add(recheckInterval).After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(recheckInterval):
		}
	}
	fmt.Fprintf(w, "Re-check: no SSH answer on %s within %s (%v).\nNext: sshdoctor azure check -g %s -n %s, then sshdoctor check USER@%s\n", addr, wait, last, o.ResourceGroup, o.VM, vm.PublicIP)
}

// sshBanner connects and reads sshd's identification line.
func sshBanner(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, bannerTimeout)
	defer cancel()
	c, err := sshDial(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	line, err := bufio.NewReader(io.LimitReader(c, 512)).ReadString('\n')
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "SSH-") {
		if err == nil {
			err = fmt.Errorf("the server said %.60q, not an SSH banner", line)
		}
		return "", err
	}
	return line, nil
}
