package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// GuestUserOptions are the inputs of `sshdoctor guest user set|remove`.
type GuestUserOptions struct {
	IO              *IOStreams
	Name            string
	PasswordStdin   bool
	Keys            []string // --ssh-key values
	KeyFiles        []string // --ssh-key-file values
	RemovePriorKeys bool
	Sudo, NoSudo    bool
	Expiration      string
	Yes, DryRun     bool
	Output          string
}

// maxPassword bounds what --password-stdin reads.
const maxPassword = 4096

// NewCmdGuestUser builds `sshdoctor guest user set|remove`.
func NewCmdGuestUser(ios *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create or update a login account (keys, password, sudo, expiry), or remove one",
		Long: `Run inside the VM as root, like the cloud's "reset password / SSH key" extension.
Every run takes the guest lock, saves every file it changes in one backup set
under /var/backups/sshdoctor/<time>/ (undo: sshdoctor guest restore) and, if a
step fails, puts everything back. A run with nothing to change makes no backup
set. Like guest repair, it changes nothing without --yes (--dry-run shows the
plan). Bad input exits 2 and changes nothing.`,
	}
	cmd.AddCommand(newCmdGuestUserSet(ios), newCmdGuestUserRemove(ios))
	return cmd
}

func newCmdGuestUserSet(ios *IOStreams) *cobra.Command {
	o := &GuestUserOptions{IO: ios}
	c := &cobra.Command{
		Use:   "set USER",
		Short: "Create USER if missing, unlock it, and set its password, keys, sudo and expiry",
		Long: `Makes USER a working login account:
  - creates it when missing (useradd -m -s <useradd's default shell>; a home left
    behind by userdel is kept, with its old uid when that is free);
  - unlocks a locked account (a key-only account gets the password field "*":
    no password, not locked);
  - --password-stdin: the first line of standard input becomes the password,
    through chpasswd's standard input: never an argument, never printed, never
    in JSON output or a backup set (which holds /etc/shadow's hashes only);
  - --ssh-key / --ssh-key-file: the keys are added, once, to the first
    AuthorizedKeysFile sshd reads for USER (sshd -T, %h %u %% expanded, relative
    to USER's home from /etc/passwd); ~/.ssh becomes 0700 and the file 0600,
    owned by USER; symbolic links there are refused, never followed.
    --remove-prior-keys makes them the file's only keys. Accepted: OpenSSH
    one-line keys (rsa, ecdsa, ed25519, sk-*; options and comment kept; a
    certificate stands for its key), RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----",
    PEM "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY" (PKCS#1) and X.509 "CERTIFICATE"
    (its public key). Private keys are refused, in every format.
  - --sudo writes /etc/sudoers.d/90-sshdoctor-USER (a dot in USER becomes "+",
    as sudo skips file names with dots): "USER ALL=(ALL) NOPASSWD:ALL" for an
    account without a password, "USER ALL=(ALL) ALL" (sudo asks for USER's
    password) when it has one. The file is checked with visudo -cf before it is
    put in place (an atomic rename); no other sudoers file is touched.
    --no-sudo removes that file only.
  - --expiration YYYY-MM-DD sets the account expiry (chage -E); "never" removes it.
root is refused: it is managed with the distro's tools; for root access use a
sudo user. A --ssh-key-file must be a regular file of at most 1 MiB.`,
		Example: `  printf '%s\n' "$PASSWORD" | sshdoctor guest user set alice --password-stdin --sudo --yes
  sshdoctor guest user set alice --ssh-key-file /tmp/alice.pub --remove-prior-keys --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return guestUserSetRun(c.Context(), o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	f.StringArrayVar(&o.Keys, "ssh-key", nil, "a public key to authorize (repeatable; any accepted format)")
	f.StringArrayVar(&o.KeyFiles, "ssh-key-file", nil, "a file of public keys to authorize (repeatable)")
	f.BoolVar(&o.RemovePriorKeys, "remove-prior-keys", false, "make the given keys the only ones in the key file")
	f.BoolVar(&o.Sudo, "sudo", false, "grant sudo through /etc/sudoers.d/90-sshdoctor-USER")
	f.BoolVar(&o.NoSudo, "no-sudo", false, "remove /etc/sudoers.d/90-sshdoctor-USER (only that file)")
	f.StringVar(&o.Expiration, "expiration", "", "account expiry date YYYY-MM-DD, or never")
	guestUserCommonFlags(c, o)
	return c
}

func newCmdGuestUserRemove(ios *IOStreams) *cobra.Command {
	o := &GuestUserOptions{IO: ios}
	c := &cobra.Command{
		Use:   "remove USER",
		Short: "Delete USER's account (the home is kept) and its sshdoctor sudoers drop-in",
		Long: `Deletes the account with userdel WITHOUT -r: the home directory, its keys and
mail stay on disk (delete them yourself once you are sure). Removes USER's own
sudoers drop-in /etc/sudoers.d/90-sshdoctor-USER and nothing else in sudoers:
other files that name USER are reported, never edited ("removes the user's
sudoers entry only"). Refuses root and system accounts (uid below UID_MIN or
above UID_MAX of /etc/login.defs; 1000..60000 by default). A user that does
not exist is not an error: there is nothing to change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			return guestUserRemoveRun(c.Context(), o)
		},
	}
	guestUserCommonFlags(c, o)
	return c
}

func guestUserCommonFlags(c *cobra.Command, o *GuestUserOptions) {
	c.Flags().BoolVar(&o.Yes, "yes", false, "apply the change (it never asks: without --yes or --dry-run it changes nothing and exits 2)")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "show the plan, change nothing")
	c.Flags().StringVar(&o.Output, "output", "text", "text or json")
}

// guestUserCheck validates what every user command shares.
func guestUserCheck(o *GuestUserOptions) error {
	if os.Geteuid() != 0 {
		return usagef("guest user must run as root on the VM")
	}
	if !validUserName(o.Name) {
		return usagef("%q is not a valid user name (lower-case letters, digits, _ . -; not starting with - or a digit; at most 32)", o.Name)
	}
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json, not %q", o.Output)
	}
	return nil
}

func guestUserSetRun(ctx context.Context, o *GuestUserOptions) error {
	if err := guestUserCheck(o); err != nil {
		return err
	}
	if o.Name == "root" {
		return usagef("guest user set root is refused: root is managed with the distro's tools; for root access use a sudo user (guest user set NAME --sudo)")
	}
	spec := guest.UserSpec{Name: o.Name, ReplaceKeys: o.RemovePriorKeys, Command: "sshdoctor guest user set " + o.Name}
	if o.Sudo && o.NoSudo {
		return usagef("--sudo and --no-sudo contradict each other")
	}
	if o.Sudo || o.NoSudo {
		v := o.Sudo
		spec.Sudo = &v
	}
	if o.Expiration != "" {
		if err := guest.ParseExpiration(o.Expiration); err != nil {
			return usagef("--expiration: %v", err)
		}
		spec.Expiration = o.Expiration
	}
	for _, k := range o.Keys {
		kl, err := guest.ParseKeyLines([]byte(k))
		if err != nil {
			return usagef("--ssh-key: %v", err)
		}
		spec.Keys = append(spec.Keys, kl...)
	}
	for _, file := range o.KeyFiles {
		data, err := readInput("--ssh-key-file", file, nil, maxKeyInput)
		if err != nil {
			return &UsageError{err}
		}
		kl, err := guest.ParseKeyLines(data)
		if err != nil {
			return usagef("--ssh-key-file %s: %v", file, err)
		}
		spec.Keys = append(spec.Keys, kl...)
	}
	if o.RemovePriorKeys && len(spec.Keys) == 0 {
		return usagef("--remove-prior-keys needs the keys to keep (--ssh-key or --ssh-key-file)")
	}
	if o.PasswordStdin {
		pw, err := readPassword(o.IO.In)
		if err != nil {
			return &UsageError{err}
		}
		defer clear(pw)
		spec.Password = pw
	}
	if !o.Yes && !o.DryRun {
		return usagef("guest user set changes the VM: pass --yes to apply, or --dry-run to see the plan")
	}
	return guestUserApply(o, "set", func() (*guest.UserPlan, error) { return guest.PlanUserSet(ctxOr(ctx), spec) })
}

func guestUserRemoveRun(ctx context.Context, o *GuestUserOptions) error {
	if err := guestUserCheck(o); err != nil {
		return err
	}
	if o.Name == "root" {
		return usagef("guest user remove root is refused: root is never removed")
	}
	if !o.Yes && !o.DryRun {
		return usagef("guest user remove changes the VM: pass --yes to apply, or --dry-run to see the plan")
	}
	return guestUserApply(o, "remove", func() (*guest.UserPlan, error) {
		return guest.PlanUserRemove(ctxOr(ctx), o.Name, "sshdoctor guest user remove "+o.Name)
	})
}

func ctxOr(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// readPassword reads one line: the password, without its line end. It
// must not be empty; a second line is refused (chpasswd reads lines).
func readPassword(in io.Reader) ([]byte, error) {
	if in == nil {
		return nil, errors.New("--password-stdin: no standard input")
	}
	data, err := io.ReadAll(io.LimitReader(in, maxPassword+2))
	if err != nil {
		return nil, fmt.Errorf("--password-stdin: %v", err)
	}
	pw := bytes.TrimSuffix(data, []byte("\n"))
	pw = bytes.TrimSuffix(pw, []byte("\r"))
	switch {
	case len(pw) == 0:
		clear(data)
		return nil, errors.New("--password-stdin: the password is empty")
	case len(pw) > maxPassword:
		clear(data)
		return nil, fmt.Errorf("--password-stdin: the password is longer than %d bytes", maxPassword)
	case bytes.ContainsAny(pw, "\n\r\x00"):
		clear(data)
		return nil, errors.New("--password-stdin: give one line only (the password may not contain a line break or NUL)")
	}
	return pw, nil
}

// guestUserApply plans under the guest lock, prints and applies.
func guestUserApply(o *GuestUserOptions, verb string, plan func() (*guest.UserPlan, error)) error {
	if !o.DryRun {
		unlock, err := guest.Lock("/")
		if err != nil {
			return err
		}
		defer unlock()
	}
	p, err := plan()
	if err != nil {
		if errors.Is(err, guest.ErrRefused) {
			return usagef("guest user %s %s: %v", verb, o.Name, err)
		}
		return err
	}
	var res *guest.UserResult
	if o.DryRun {
		res = &guest.UserResult{User: p.User, Changes: p.Changes(), Notes: p.Notes}
	} else {
		res = p.Apply(context.Background())
	}
	if o.Output == "json" {
		doc := struct {
			Schema  string `json:"schema"`
			Command string `json:"command"`
			DryRun  bool   `json:"dry_run"`
			*guest.UserResult
		}{"sshdoctor.guest.user/v1", verb, o.DryRun, res}
		if err := writeJSONDoc(o.IO, doc); err != nil {
			return err
		}
	} else {
		printUserResult(o.IO.Out, o.Name, res, o.DryRun)
	}
	if res.Error != "" {
		msg := res.Error
		if res.RolledBack {
			msg += "; rolled back from " + res.Backup
		}
		fmt.Fprintf(o.IO.Err, "sshdoctor: guest user %s %s failed: %s\n", verb, o.Name, strings.Join(strings.Fields(msg), " "))
		return &ExitError{Code: ExitProblem}
	}
	return nil
}

// printUserResult writes a user command's plan and outcome as text.
func printUserResult(w io.Writer, name string, res *guest.UserResult, dryRun bool) {
	if len(res.Changes) == 0 {
		fmt.Fprintf(w, "Nothing to change for %s.\n", name)
	} else {
		fmt.Fprintf(w, "Plan for %s:\n", name)
		for _, c := range res.Changes {
			fmt.Fprintf(w, "  + %s\n", c)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	switch {
	case dryRun:
		fmt.Fprintln(w, "(dry run: nothing changed)")
	case res.Error != "":
		fmt.Fprintf(w, "FAILED: %s\n", res.Error)
		if res.RolledBack {
			fmt.Fprintf(w, "Everything was rolled back from %s.\n", res.Backup)
		}
	case res.Backup != "":
		fmt.Fprintf(w, "Done. Backup: %s (undo: sshdoctor guest restore %s)\n", res.Backup, res.Backup)
	}
}
