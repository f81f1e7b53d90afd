package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/azure"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/fix"
	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/probe"
	"github.com/sshdoctor/sshdoctor/internal/render"
)

// FixOptions are the inputs of `sshdoctor fix`.
type FixOptions struct {
	Check CheckOptions

	Provider      string
	VM            string
	ResourceGroup string
	Subscription  string
	SourceIP      string
	Yes           bool
	DryRun        bool
	AllowRedeploy bool
	SeedOrder     bool
	AllowPassword bool
	AllowSSHRSA   bool
	Journal       string
	Undo          string
	MaxSteps      int

	// NewProvider builds the control plane (tests replace it).
	NewProvider func(ctx context.Context, o *FixOptions) (cloud.Provider, error)
}

// NewCmdFix builds `sshdoctor fix`.
func NewCmdFix(ios *IOStreams, runF func(*FixOptions) error) *cobra.Command {
	o := &FixOptions{Check: CheckOptions{IO: ios}, NewProvider: fixProvider}
	cmd := &cobra.Command{
		Use:   "fix --provider lab|azure --vm VM [flags] [user@]host[:port]",
		Short: "Find why SSH to a VM fails and fix it step by step, connecting again after each",
		Long: `Fix runs the troubleshooting guide's loop for you. It checks SSH from this
machine with your own config, key and port; if that fails it gathers every
vantage point at once — the control plane (power, agent, health), the serial
log, the NSGs and routes for your address, and the guest itself through
run-command, judging *your* key for *your* user — and plans the smallest
steps that address the causes, least invasive first:

  start the VM · allow your address (only) in the NSG · remove a route that
  drops replies · repair the guest (sshd config, host keys, firewall, account,
  key, modes) · reset the SSH config · reset your key · restart · redeploy

After each step it connects again and stops as soon as SSH works. A step
that made things worse is undone. Every step is written to a journal (JSON,
0600); 'sshdoctor fix --undo JOURNAL' reverts what can be reverted.

It never weakens security to get you in: no password login, ssh-rsa (SHA-1)
or root login unless you pass the --allow flag for it; no NSG rule wider
than your address; no redeploy without --allow-redeploy. On a terminal it
asks before each step that changes an account or restarts the VM; --yes
answers yes; --dry-run only prints the plan.

The host defaults to the VM's public address (lab: its address). In the
lab, run fix from the client namespace ('sshdoctor lab fix VM' does that).

Exit status: 0 SSH works, 1 still failing (the report says why and what to
do by hand), 2 bad usage, 3 internal error.`,
		Example: `  sshdoctor fix --provider azure -g web-rg --vm web1 azureuser@20.51.7.9
  sshdoctor fix --provider azure -g web-rg --vm web1 --dry-run
  sshdoctor lab fix web1 -- --yes          # the lab: from its client namespace
  sshdoctor fix --undo ~/.local/state/sshdoctor/fix-web1-20261202T101500Z.json --provider lab --vm web1`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("fix takes at most one target, [user@]host[:port] (see 'sshdoctor fix --help')")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Check.Target = args[0]
			}
			if err := validateFix(o); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return fixRun(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Provider, "provider", "", "control plane: lab or azure (required)")
	f.StringVar(&o.VM, "vm", "", "the VM's name (required)")
	f.StringVarP(&o.ResourceGroup, "resource-group", "g", "", "azure: the VM's resource group")
	f.StringVar(&o.Subscription, "subscription", "", "azure: subscription ID (default $AZURE_SUBSCRIPTION_ID)")
	f.StringVar(&o.SourceIP, "source-ip", "", "your address as the VM sees it (default: the address this machine connects from); NSG steps allow only this address")
	f.BoolVarP(&o.Yes, "yes", "y", false, "take every step without asking")
	f.BoolVar(&o.DryRun, "dry-run", false, "diagnose and print the plan; change nothing")
	f.BoolVar(&o.AllowRedeploy, "allow-redeploy", false, "allow the redeploy step (temporary disk wiped, dynamic IP may change)")
	f.BoolVar(&o.SeedOrder, "seed-order", false, "take the troubleshooting guide's fixed order instead of the evidence's (benchmark baseline)")
	_ = f.MarkHidden("seed-order")
	f.BoolVar(&o.AllowPassword, "allow-password-auth", false, "allow re-enabling PasswordAuthentication when a drop-in turned it off")
	f.BoolVar(&o.AllowSSHRSA, "allow-ssh-rsa", false, "allow accepting ssh-rsa (SHA-1) signatures again for an old client")
	f.StringVar(&o.Journal, "journal", "", "journal file (default ~/.local/state/sshdoctor/fix-VM-TIME.json)")
	f.StringVar(&o.Undo, "undo", "", "revert the steps recorded in this journal, newest first, and exit")
	f.IntVar(&o.MaxSteps, "max-steps", 8, "stop after this many steps")
	c := &o.Check
	f.IntVarP(&c.Port, "port", "p", 0, "sshd's port (default: from ssh config, else 22)")
	userFlag(f, &c.User, "user to log in as, as ssh -l (default: from ssh config)", "login")
	f.StringArrayVarP(&c.Identities, "identity", "i", nil, "private key file to offer (repeatable), as ssh -i")
	f.StringVarP(&c.ConfigFile, "config", "F", os.Getenv("SSHDOCTOR_SSH_CONFIG"), "ssh client config file (default $SSHDOCTOR_SSH_CONFIG, else ~/.ssh/config)")
	f.StringArrayVarP(&c.Options, "option", "o", nil, "ssh option Key=Value (repeatable)")
	f.StringVarP(&c.ProxyJump, "jump", "J", "", "connect through this jump host, [user@]host[:port], as ssh -J")
	f.BoolVarP(&c.IPv4, "ipv4", "4", false, "use IPv4 addresses only, as ssh -4")
	f.BoolVarP(&c.IPv6, "ipv6", "6", false, "use IPv6 addresses only, as ssh -6")
	c.Timeout = probe.DefaultPhaseTimeout
	f.Var((*secondsOrDuration)(&c.Timeout), "timeout", "limit for each phase of every check: seconds (5) or a duration (2s)")
	f.StringVar(&c.Exec, "exec", "", "also run this command in a session: SSH works only when it runs")
	f.BoolVar(&c.PasswordStdin, "password-stdin", false, "read your password from the first line of standard input, for a password login")
	f.StringVar(&c.Output, "output", "text", "output format: text or json")
	f.BoolVar(&c.NoColor, "no-color", false, "no colours even on a terminal")
	f.StringVar(&c.SSHPath, "ssh", "", "ssh binary used to read the client config (ssh -G); \"-\" uses the built-in parser")
	return cmd
}

func validateFix(o *FixOptions) error {
	switch {
	case o.Provider != "lab" && o.Provider != "azure":
		return usagef("--provider must be lab or azure (see 'sshdoctor fix --help')")
	case o.VM == "":
		return usagef("fix needs --vm VM")
	case o.Check.Output != "text" && o.Check.Output != "json":
		return usagef("--output must be text or json, not %q", o.Check.Output)
	case o.MaxSteps < 1 || o.MaxSteps > 50:
		return usagef("--max-steps must be 1-50")
	case o.Check.Timeout <= 0:
		return usagef("--timeout must be positive")
	case o.Undo != "" && o.DryRun:
		return usagef("--undo and --dry-run do not go together")
	case o.Check.IPv4 && o.Check.IPv6:
		return usagef("-4 and -6 exclude each other")
	}
	switch {
	case o.Check.IPv4:
		o.Check.Options = append(o.Check.Options, "AddressFamily=inet")
	case o.Check.IPv6:
		o.Check.Options = append(o.Check.Options, "AddressFamily=inet6")
	}
	if o.Provider == "azure" {
		// The subscription as az finds it: --subscription (ID or name),
		// AZURE_SUBSCRIPTION_ID, az's default.
		if o.ResourceGroup == "" {
			return usagef("--provider azure needs -g RESOURCE_GROUP")
		}
		s, err := azure.ResolveSignIn(azure.SignInInput{Subscription: o.Subscription, ResourceGroup: o.ResourceGroup, VM: o.VM})
		if err != nil {
			return &UsageError{err}
		}
		o.Subscription = s.Subscription
	}
	if o.SourceIP != "" {
		if _, err := netip.ParseAddr(o.SourceIP); err != nil {
			return usagef("--source-ip %q is not an IP address", o.SourceIP)
		}
	}
	return nil
}

// fixProvider builds the control plane for --provider.
func fixProvider(ctx context.Context, o *FixOptions) (cloud.Provider, error) {
	switch o.Provider {
	case "lab":
		if err := lab.CheckRoot(); err != nil {
			return nil, &UsageError{err}
		}
		if _, err := lab.Load(lab.Dir()); err != nil {
			return nil, &UsageError{err}
		}
		return &lab.Provider{}, nil
	case "azure":
		s, err := azure.ResolveSignIn(azure.SignInInput{Subscription: o.Subscription, ResourceGroup: o.ResourceGroup, VM: o.VM})
		if err != nil {
			return nil, &UsageError{err}
		}
		return newAzureProvider(ctx, &AzureOptions{IO: o.Check.IO, SignIn: s, Subscription: s.Subscription, ResourceGroup: s.ResourceGroup, VM: s.VM})
	}
	return nil, usagef("unknown provider %q", o.Provider)
}

func fixRun(ctx context.Context, o *FixOptions) error {
	ios := o.Check.IO
	var undo *fix.Report
	if o.Undo != "" {
		// The journal is input: refused before anything is contacted.
		r, err := fix.ReadJournal(o.Undo)
		if err != nil {
			return &UsageError{err}
		}
		if r.VM != o.VM || r.Provider != o.Provider {
			return usagef("the journal is for %s VM %s, not %s VM %s", r.Provider, r.VM, o.Provider, o.VM)
		}
		undo = r
	}
	p, err := o.NewProvider(ctx, o)
	if err != nil {
		return err
	}
	if undo != nil {
		return fixUndo(ctx, o, p, undo)
	}
	vm, err := p.GetVM(ctx, o.VM)
	if err != nil {
		if errors.Is(err, cloud.ErrNotFound) {
			return usagef("no VM %q: %s", o.VM, oneLine(err.Error()))
		}
		return err
	}
	if o.Check.Target == "" {
		addr := vm.PublicIP
		if addr == "" {
			addr = vm.PrivateIP
		}
		if addr == "" {
			return usagef("VM %s has no address to connect to: name the host ([user@]host)", o.VM)
		}
		o.Check.Target = addr
	}
	c, err := newChecker(ctx, &o.Check)
	if err != nil {
		return err
	}
	start := time.Now()
	progress := func(msg string) {
		if o.Check.Output == "text" {
			fmt.Fprintf(ios.Err, "[%5.1fs] %s\n", time.Since(start).Seconds(), msg)
		}
	}
	// The first check tells the user, port and keys the loop works for.
	first, firstVerdict := c.run(ctx)
	used := false
	check := func(ctx context.Context) (*probe.Report, *diagnose.Verdict) {
		if !used {
			used = true
			return first, firstVerdict
		}
		return c.run(ctx)
	}
	src, err := sourceAddr(o, first)
	if err != nil {
		return err
	}
	journal := o.Journal
	if journal == "" {
		journal = defaultJournal(o.VM)
	}
	fo := fix.Options{
		Provider: p, VM: o.VM, User: first.Target.User, Port: first.Target.Port,
		Keys: clientKeys(first, c.po.AgentSocket), Source: src, Check: check,
		DryRun: o.DryRun, AllowRedeploy: o.AllowRedeploy, SeedOrder: o.SeedOrder, AllowPasswordAuth: o.AllowPassword, AllowSSHRSA: o.AllowSSHRSA,
		Progress: progress, MaxSteps: o.MaxSteps,
	}
	if !o.DryRun {
		fo.Journal = func(r *fix.Report) error { return fix.WriteJournal(journal, r) }
	}
	if !o.Yes && !o.DryRun {
		if !ios.OutTTY || !isTerminal(ios.In) {
			fo.Confirm = func(s fix.Step) (bool, error) {
				return false, usagef("step %q needs consent: run on a terminal, or pass --yes (or --dry-run to see the plan); nothing more was changed", s.Change)
			}
		} else {
			in := bufio.NewReader(ios.In)
			fo.Confirm = func(s fix.Step) (bool, error) {
				fmt.Fprintf(ios.Err, "\n%s\n  why:  %s\n  risk: %s; undo: %s\nTake this step? [y/N] ", s.Change, s.Why, s.Risk, s.UndoText)
				line, _ := in.ReadString('\n')
				a := strings.ToLower(strings.TrimSpace(line))
				return a == "y" || a == "yes", nil
			}
		}
	}
	report, runErr := fix.Run(ctx, fo)
	if report == nil {
		return runErr
	}
	if o.Check.Output == "json" {
		err = render.FixJSON(ios.Out, report, journalIf(journal, report, o.DryRun))
	} else {
		color := ios.OutTTY && !o.Check.NoColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
		err = render.FixText(ios.Out, report, journalIf(journal, report, o.DryRun), render.Style{Color: color})
	}
	if err != nil {
		return err
	}
	var ue *UsageError
	if errors.As(runErr, &ue) {
		return runErr
	}
	if runErr != nil && !errors.Is(runErr, fix.ErrNotFixed) {
		return runErr
	}
	if runErr != nil {
		return &ExitError{Code: ExitProblem}
	}
	return nil
}

func journalIf(path string, r *fix.Report, dry bool) string {
	if dry || len(r.Journal) == 0 {
		return ""
	}
	return path
}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func defaultJournal(vm string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "sshdoctor", fmt.Sprintf("fix-%s-%s.json", vm, time.Now().UTC().Format("20060102T150405Z")))
}

func fixUndo(ctx context.Context, o *FixOptions, p cloud.Provider, r *fix.Report) error {
	ios := o.Check.IO
	results, err := fix.UndoJournal(ctx, p, r)
	for _, res := range results {
		line := fmt.Sprintf("%-15s %s", res.Result, res.Step)
		if res.Error != "" {
			line += " — " + res.Error
		}
		fmt.Fprintln(ios.Out, line)
	}
	if len(results) == 0 {
		fmt.Fprintln(ios.Out, "nothing to undo: the journal records no applied step")
	}
	if errors.Is(err, fix.ErrUndoIncomplete) {
		return &ExitError{Code: ExitProblem}
	}
	return err
}
