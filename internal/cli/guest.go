package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// GuestOptions are the inputs of `sshdoctor guest check|repair`.
type GuestOptions struct {
	IO           *IOStreams
	Users        []string
	Port         int
	Output       string
	Keys         []string // --ssh-key values (one-line public keys)
	KeyFiles     []string
	Yes, DryRun  bool
	PasswordAuth bool
	AllowSSHRSA  bool
	From         string   // --from: the client's address
	Fingerprints []string // --key-fingerprint values
	// planOnly: repair ran without --yes or --dry-run, so it only plans.
	planOnly bool
}

// NewCmdGuest builds `sshdoctor guest`.
func NewCmdGuest(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guest",
		Short: "Diagnose and safely repair SSH from inside the VM (run as root on the VM)",
		Long: `Run inside the VM — serial console, cloud run-command, rescue shell — as root.
"guest check" reads; "guest repair" plans the smallest fix for each problem,
backs every file up under /var/backups/sshdoctor/<time>/, validates sshd
configuration before it takes effect, restarts sshd through the service
manager and rolls everything back if sshd does not come back.`,
	}
	o := &GuestOptions{IO: ios}
	flags := func(c *cobra.Command) {
		c.Flags().StringArrayVarP(&o.Users, "user", "l", nil, "check this user (repeatable; default: every regular account, UID_MIN and up, with an authorized key or a usable password); repair changes an account's policy (lock, expiry, shell, Allow/Deny, keys) only for users named here")
		c.Flags().IntVar(&o.Port, "port", 22, "the port clients and firewalls expect sshd on")
		c.Flags().StringVar(&o.Output, "output", "text", "text or json")
		c.Flags().StringArrayVar(&o.Keys, "ssh-key", nil, "a public key (one line) the users must be able to log in with (repeatable)")
		c.Flags().StringArrayVar(&o.KeyFiles, "ssh-key-file", nil, "file with public keys the users must be able to log in with")
		c.Flags().StringArrayVar(&o.Fingerprints, "key-fingerprint", nil, "the SHA256 fingerprint of a key the users must be able to log in with, when you do not have the public key at hand (`ssh-add -l`, `ssh -v` print it; repeatable)")
		c.Flags().StringVar(&o.From, "from", "", "the client's address: Match Address blocks and from= key options are judged for it (default: any Internet client)")
	}
	check := &cobra.Command{
		Use: "check", Short: "Find what inside the VM stops SSH (read-only)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return guestRun(c.Context(), o, false) },
	}
	flags(check)
	repair := &cobra.Command{
		Use: "repair", Short: "Fix what guest check finds: backed up, validated, verified, rolled back on failure", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return guestRun(c.Context(), o, true) },
	}
	flags(repair)
	repair.Flags().BoolVar(&o.Yes, "yes", false, "apply the repairs (it never asks: without --yes or --dry-run it changes nothing and exits 2)")
	repair.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the plan, change nothing")
	repair.Flags().BoolVar(&o.PasswordAuth, "password-auth", false, "also re-enable PasswordAuthentication where it was turned off")
	repair.Flags().BoolVar(&o.AllowSSHRSA, "allow-ssh-rsa", false, "also accept ssh-rsa (SHA-1) signatures again")
	var restoreOut string
	restore := &cobra.Command{
		Use: "restore [BACKUP]", Short: "Put a backup set back (default: the newest)", Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return usagef("guest restore must run as root")
			}
			unlock, err := guest.Lock("/")
			if err != nil {
				return err
			}
			defer unlock()
			sets, err := guest.Sets("/")
			if err != nil {
				return err
			}
			set := ""
			if len(args) == 1 {
				set = args[0]
			} else if len(sets) > 0 {
				set = sets[len(sets)-1]
			}
			if set == "" {
				return usagef("no backup set under %s", guest.BackupDir)
			}
			if _, err := os.Stat(set + "/manifest.json"); err != nil {
				return usagef("%s is not a backup set (no manifest.json)", set)
			}
			if restoreOut == "json" {
				return guestRestoreJSONRun(ios, set)
			}
			if err := guest.Restore("/", set); err != nil {
				return fmt.Errorf("restore %s: %w", set, err)
			}
			fmt.Fprintf(ios.Out, "restored %s; restart sshd to use the restored configuration\n", set)
			return nil
		},
	}
	outputFlag(restore, &restoreOut)
	var resetUser string
	reset := &cobra.Command{
		Use:   "reset-ssh",
		Short: "Reset sshd to the distro's default configuration (the portal's \"Reset configuration only\")",
		Long: `Replaces sshd_config with the distribution's packaged default (Debian/Ubuntu,
RHEL family, SUSE or generic), keeping its Include of sshd_config.d where the
distro has one. The admin's security stays: every hardening setting of the old
configuration the default would weaken (PasswordAuthentication no, ciphers,
forwarding, PermitRootLogin no, …) is carried into the new sshd_config with the
old AllowUsers/DenyUsers/AllowGroups/DenyGroups and Match blocks; in the
drop-ins only the lines that break SSH (Port, ListenAddress, PubkeyAuthentication
no, MaxStartups, …) are commented out. --user lets that account through the
Allow/Deny directives. Missing host keys are generated; /run/sshd is created;
guest firewall rules on sshd's port are removed. sshd is validated, restarted
and verified; on failure everything is rolled back.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return usagef("guest reset-ssh must run as root on the VM")
			}
			if !o.Yes && !o.DryRun {
				return usagef("guest reset-ssh changes the VM: pass --yes to apply, or --dry-run to see the plan")
			}
			unlock, err := guest.Lock("/")
			if err != nil {
				return err
			}
			defer unlock()
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			facts := guest.Gather(ctx, guest.Options{Port: o.Port})
			ropts := guest.RepairOptions{DryRun: o.DryRun, Command: "sshdoctor guest reset-ssh"}
			res := guest.Apply(ctx, facts, guest.ResetSSHFor(facts, resetUser), ropts)
			if !o.DryRun {
				res.Remaining = guest.Judge(guest.Gather(ctx, guest.Options{Port: o.Port}), guest.JudgeOptions{})
			}
			return printGuest(o, nil, nil, res)
		},
	}
	reset.Flags().BoolVar(&o.Yes, "yes", false, "apply the reset (it never asks: without --yes or --dry-run it changes nothing and exits 2)")
	reset.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the plan, change nothing")
	reset.Flags().IntVar(&o.Port, "port", 22, "the port clients and firewalls expect sshd on")
	reset.Flags().StringVar(&o.Output, "output", "text", "text or json")
	reset.Flags().StringVarP(&resetUser, "user", "l", "", "the account being repaired: let it through AllowUsers/AllowGroups/DenyUsers/DenyGroups")
	cmd.AddCommand(check, repair, restore, reset, NewCmdGuestUser(ios), NewCmdGuestApply(ios))
	return cmd
}

func parseKeys(o *GuestOptions) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	var inputs [][]byte
	for _, k := range o.Keys {
		inputs = append(inputs, []byte(k))
	}
	for _, f := range o.KeyFiles {
		data, err := readInput("--ssh-key-file", f, nil, maxKeyInput)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, data)
	}
	for _, in := range inputs {
		ks, err := guest.ParsePublicKeys(in)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

func guestRun(ctx context.Context, o *GuestOptions, repair bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if os.Geteuid() != 0 {
		return usagef("guest check and guest repair must run as root on the VM (they read /etc/shadow and sshd's configuration)")
	}
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json, not %q", o.Output)
	}
	if o.Port < 1 || o.Port > 65535 {
		return usagef("--port %d is out of range", o.Port)
	}
	for _, u := range o.Users {
		if !validUserName(u) {
			return usagef("%q is not a valid user name", u)
		}
	}
	keys, err := parseKeys(o)
	if err != nil {
		return &UsageError{err}
	}
	for _, fp := range o.Fingerprints {
		if !validFingerprint(fp) {
			return usagef("--key-fingerprint %q is not a SHA256 key fingerprint (SHA256: and 43 base64 characters, as `ssh-keygen -lf KEY` prints)", fp)
		}
	}
	if repair && !o.Yes && !o.DryRun {
		// Without --yes, repair shows its plan and changes nothing: the
		// command as printed in a remedy is always safe to paste.
		o.DryRun, o.planOnly = true, true
	}
	var from netip.Addr
	if o.From != "" {
		a, err := netip.ParseAddr(o.From)
		if err != nil || a.Zone() != "" {
			return usagef("--from %q is not an IP address", o.From)
		}
		from = a.Unmap()
	}
	gopts := guest.Options{Users: o.Users, Port: o.Port, From: from}
	facts := guest.Gather(ctx, gopts)
	jopts := guest.JudgeOptions{Keys: keys, From: from, Fingerprints: o.Fingerprints}
	problems := guest.Judge(facts, jopts)
	accounts := &guestAccounts{Users: facts.Users, Named: len(o.Users) > 0}
	if !repair {
		return printGuest(o, accounts, problems, nil)
	}
	unlock, err := guest.Lock("/")
	if err != nil {
		return err
	}
	defer unlock()
	ropts := guest.RepairOptions{DryRun: o.DryRun, Keys: keys, PasswordAuth: o.PasswordAuth, AllowSSHRSA: o.AllowSSHRSA, Users: o.Users, Command: "sshdoctor guest repair"}
	res := guest.Apply(ctx, facts, guest.Plan(facts, problems, ropts), ropts)
	if !o.DryRun {
		after := guest.Gather(ctx, gopts)
		res.Remaining = guest.Judge(after, jopts)
	}
	return printGuest(o, accounts, problems, res)
}

// validFingerprint is OpenSSH's SHA256 fingerprint: "SHA256:" and the
// unpadded base64 of 32 bytes.
func validFingerprint(fp string) bool {
	b64, ok := strings.CutPrefix(fp, "SHA256:")
	if !ok || len(b64) != 43 {
		return false
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	return err == nil && len(raw) == 32
}

// validUserName accepts what useradd accepts by default (NAME_REGEX).
func validUserName(u string) bool {
	if u == "" || len(u) > 32 || u[0] == '-' || strings.Contains(u, "..") {
		return false
	}
	for i, r := range u {
		ok := r >= 'a' && r <= 'z' || r == '_' || (i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.')) || (i == len(u)-1 && r == '$')
		if !ok {
			return false
		}
	}
	return true
}

func blocking(ps []guest.Problem) bool {
	for _, p := range ps {
		if p.Severity == findings.Error {
			return true
		}
	}
	return false
}

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
