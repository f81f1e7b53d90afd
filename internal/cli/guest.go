package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
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
