package cli

import (
	"bufio"
	"context"
	"errors"
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
		RunE: run(jsonNeedsYes(o, use, nil), withActionDoc(use, func(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error {
			if err := confirm(o, fmt.Sprintf(question, o.ResourceGroup+"/"+o.VM)); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Err, "%s %s/%s …\n", use, o.ResourceGroup, o.VM)
			if err := f(p, ctx, o.VM); err != nil {
				return err
			}
			d.Done = done
			fmt.Fprintf(o.textOut(), "%s/%s: %s\n", o.ResourceGroup, o.VM, done)
			d.Recheck = recheckSSH(ctx, o, p)
			return nil
		})),
	}
	vmFlags(c)
	recheckFlags(c, o)
	c.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	actionOutputFlag(c, o)
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
		}, withActionDoc("redeploy", func(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error {
			if err := p.Redeploy(ctx, o.VM); err != nil {
				return err
			}
			d.Done = "redeployed"
			fmt.Fprintf(o.textOut(), "%s/%s: redeployed. Its address may have changed: sshdoctor azure check -g %s -n %s shows the new one.\n", o.ResourceGroup, o.VM, o.ResourceGroup, o.VM)
			d.Recheck = recheckSSH(ctx, o, p)
			return nil
		})),
	}
	vmFlags(redeploy)
	recheckFlags(redeploy, o)
	redeploy.Flags().BoolVar(&o.Yes, "yes", false, "required (it never asks): confirm that the temporary disk is lost and a dynamic IP changes; without it nothing changes and it exits 2")
	actionOutputFlag(redeploy, o)

	return redeploy
}

// azureActionDoc is the JSON document of an azure verb that changes the
// VM (schema sshdoctor.azure.VERB/v1): what was asked, what was done and
// the re-check. The verb's own facts are in the fields it fills.
type azureActionDoc struct {
	Schema        string `json:"schema"`
	ExitCode      int    `json:"exit_code"`
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resource_group"`
	VM            string `json:"vm"`
	Action        string `json:"action"`         // the verb: start, restart, redeploy, reset-user, reset-ssh, allow-ssh
	Done          string `json:"done,omitempty"` // what was done ("" = nothing changed)
	// Error is why the action failed (exit 1); the same line is on stderr.
	Error string `json:"error,omitempty"`

	// reset-user
	Username    string `json:"username,omitempty"`
	PasswordSet bool   `json:"password_set,omitempty"`
	KeyAdded    bool   `json:"key_added,omitempty"`

	// reset-ssh
	Method string           `json:"method,omitempty"` // guest-repair, vmaccess-reset, vmaccess-restore
	Guest  *guestRepairJSON `json:"guest,omitempty"`

	// nsg allow-ssh
	AllowSSH *allowSSHJSON `json:"allow_ssh,omitempty"`

	// Recheck is the SSH answer check after the action (absent with
	// --no-recheck, or when nothing was done).
	Recheck *recheck `json:"recheck,omitempty"`
}

// azureActionSchema names the document of azure verb path ("start",
// "nsg allow-ssh").
func azureActionSchema(path string) string {
	return "sshdoctor.azure." + strings.ReplaceAll(path, " ", ".") + "/v1"
}

// actionOutputFlag adds --output to an azure verb that changes the VM.
func actionOutputFlag(c *cobra.Command, o *AzureOptions) {
	outputFlag(c, &o.Output)
	c.Flags().Lookup("output").Usage = "output format: text or json (json never asks: it needs --yes, else it exits 2 and changes nothing)"
}

// textOut is where an azure verb prints its text result: stdout, or
// nowhere with --output json, where the document replaces it.
func (o *AzureOptions) textOut() io.Writer {
	if o.Output == "json" {
		return io.Discard
	}
	return o.IO.Out
}

// jsonNeedsYes refuses, before sign-in, a verb that asks for
// confirmation when --output json has no --yes: a script reading the
// document cannot answer a question. Then it runs validate, if any.
func jsonNeedsYes(o *AzureOptions, verb string, validate func() error) func() error {
	return func() error {
		if o.Output == "json" && !o.Yes {
			return usagef("%s --output json needs --yes (it would ask for confirmation); nothing was changed", verb)
		}
		if validate != nil {
			return validate()
		}
		return nil
	}
}

// withActionDoc runs an azure verb that fills an action document and,
// with --output json, prints the document at the end: on success and on a
// problem (exit 1), not on bad usage (exit 2) or an internal error.
func withActionDoc(path string, f func(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error) azureFunc {
	return func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
		d := &azureActionDoc{Schema: azureActionSchema(path), Subscription: o.Subscription, ResourceGroup: o.ResourceGroup, VM: o.VM, Action: path[strings.LastIndex(path, " ")+1:]}
		err := f(ctx, o, p, d)
		if o.Output != "json" {
			return err
		}
		code, ok := actionExitCode(err)
		if !ok {
			return err
		}
		d.ExitCode = code
		var ee *ExitError
		if err != nil && !errors.As(err, &ee) {
			d.Error = oneLine(err.Error())
		}
		if werr := writeJSONDoc(o.IO, d); werr != nil {
			return werr
		}
		return err
	}
}

// actionExitCode is the exit status err leads to, when it is one a
// document reports (0, or 1: a problem Azure answered); ok is false for
// bad usage and internal errors, which print no document.
func actionExitCode(err error) (code int, ok bool) {
	var ee *ExitError
	var ae *azure.Error
	switch {
	case err == nil:
		return ExitOK, true
	case errors.As(err, &ee):
		return ee.Code, ee.Code == ExitProblem
	case errors.As(err, &ae) && ae.Status != 0:
		return ExitProblem, true
	}
	return 0, false
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

// recheck is what the re-check after an action saw.
type recheck struct {
	// Outcome: answered (sshd's banner was read), no_answer (nothing
	// within the wait), no_public_ip (check from inside the VM's
	// network), skipped (the VM could not be read) or interrupted.
	Outcome   string        `json:"outcome"`
	Address   string        `json:"address,omitempty"`    // the public address:port tried
	PrivateIP string        `json:"private_ip,omitempty"` // with no_public_ip
	Answered  bool          `json:"answered"`
	Banner    string        `json:"banner,omitempty"` // sshd's identification line
	Error     string        `json:"error,omitempty"`  // why not answered (the last attempt's error) or skipped
	WaitMS    int64         `json:"wait_ms,omitempty"`
	Next      string        `json:"next,omitempty"` // the command to run next
	wait      time.Duration // WaitMS, as text prints it
	vm        string        // the VM's name, for the text
}

// recheckSSH proves the action from where the user sits: it connects to
// the VM's public address and waits for sshd's banner, as the seed says
// ("try to connect again after each step"). It reports and never fails
// the action; without a public address it says how to check instead.
// It prints the result in text mode and returns it (nil with
// --no-recheck).
func recheckSSH(ctx context.Context, o *AzureOptions, p *azure.Provider) *recheck {
	if o.NoRecheck {
		return nil
	}
	r := probeRecheck(ctx, o, p)
	r.printText(o.textOut())
	return r
}

func probeRecheck(ctx context.Context, o *AzureOptions, p *azure.Provider) *recheck {
	vm, err := p.GetVM(ctx, o.VM)
	switch {
	case err != nil:
		return &recheck{Outcome: "skipped", Error: oneLine(err.Error()), Next: fmt.Sprintf("sshdoctor azure check -g %s -n %s", o.ResourceGroup, o.VM)}
	case vm.PublicIP == "":
		return &recheck{Outcome: "no_public_ip", PrivateIP: vm.PrivateIP, Next: "sshdoctor check USER@" + vm.PrivateIP, vm: o.VM}
	}
	addr := net.JoinHostPort(vm.PublicIP, strconv.Itoa(o.Port))
	wait := o.RecheckWait
	if wait <= 0 {
		wait = defaultRecheckWait
	}
	r := &recheck{Address: addr, WaitMS: wait.Milliseconds(), wait: wait}
	deadline := time.Now().Add(wait)
	var last error
	for {
		banner, err := sshBanner(ctx, addr)
		if err == nil {
			r.Outcome, r.Answered, r.Banner = "answered", true, banner
			r.Next = fmt.Sprintf("sshdoctor check USER@%s -p %d", vm.PublicIP, o.Port)
			return r
		}
		last = err
		if time.Now().Add(recheckInterval).After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			r.Outcome, r.Error = "interrupted", ctx.Err().Error()
			return r
		case <-time.After(recheckInterval):
		}
	}
	r.Outcome, r.Error = "no_answer", last.Error()
	r.Next = fmt.Sprintf("sshdoctor azure check -g %s -n %s, then sshdoctor check USER@%s", o.ResourceGroup, o.VM, vm.PublicIP)
	return r
}

// printText writes the re-check as text mode shows it.
func (r *recheck) printText(w io.Writer) {
	switch r.Outcome {
	case "skipped":
		fmt.Fprintf(w, "Re-check skipped: %s\nNext: %s\n", r.Error, r.Next)
	case "no_public_ip":
		fmt.Fprintf(w, "Re-check: %s has no public IP; from inside its network: %s\n", r.vm, r.Next)
	case "answered":
		fmt.Fprintf(w, "Re-check: SSH answers on %s (%s).\nNext: %s\n", r.Address, r.Banner, r.Next)
	case "no_answer":
		fmt.Fprintf(w, "Re-check: no SSH answer on %s within %s (%s).\nNext: %s\n", r.Address, r.wait, r.Error, r.Next)
	}
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
