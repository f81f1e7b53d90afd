package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// GuestApplyOptions are the inputs of `sshdoctor guest apply`.
type GuestApplyOptions struct {
	IO                *IOStreams
	Settings          string // file or "-"
	ProtectedSettings string // file or "-"
	Port              int
	DryRun            bool
	Output            string
}

// NewCmdGuestApply builds `sshdoctor guest apply`.
func NewCmdGuestApply(ios *IOStreams) *cobra.Command {
	o := &GuestApplyOptions{IO: ios}
	c := &cobra.Command{
		Use:   "apply --settings FILE [--protected-settings FILE]",
		Short: "Carry out VMAccessForLinux settings (reset_ssh, username/password/ssh_key, remove_user, …)",
		Long: `Reads the JSON settings of Azure's VMAccessForLinux extension — what
"az vm user update / reset-ssh / delete" send — and carries them out inside the
VM with the same safety as the other guest commands. Run as root on the VM.

Keys, exactly as written here (lower case, each once; settings and protected
settings are merged; a key may be in one only; password in the protected
settings only, as Azure keeps the public settings in clear in the VM model):
  reset_ssh: true              sshd_config back to the distro default (as guest reset-ssh)
  restore_backup_ssh: true     put back /etc/ssh from the newest backup set holding
                               sshd_config (the state before the last reset or repair)
  username                     create the account if missing, unlock it; with
    password                     its new password (through chpasswd's standard input)
    ssh_key                      one public key: an OpenSSH line without options, or
                                 one RFC 4716 or PEM block
    remove_prior_keys: true      make ssh_key the only key
    expiration: "YYYY-MM-DD"     account expiry
    enable_passwordless_access   sudo without a password
  remove_user                  delete the account (the home is kept)
As VMAccess does, username is granted sudo through its own drop-in
/etc/sudoers.d/90-sshdoctor-USER (NOPASSWD when the account has no password or
enable_passwordless_access is true), validated with visudo -cf first.

Stricter than VMAccess: booleans must be JSON booleans (the string "false" is
an error, not true), unknown, mis-cased or repeated keys are errors naming
them, username or remove_user root is refused (root is managed with the
distro's tools; for root access use a sudo user), remove_user with
reset_ssh/username/password/ssh_key is refused, check_disk/repair_disk are
refused (fsck needs the disk unmounted: use a rescue VM). Everything is
planned before anything changes: any error exits 2 and changes nothing. If a
part fails while it is applied, every part is put back (sshd restarted on its
old configuration). A second run with the same settings changes nothing.

A settings file must be a regular file of at most 64 KiB.

The settings file is the request: there is no --yes; --dry-run shows the plan.`,
		Example: `  echo '{"reset_ssh": true}' > s.json && sshdoctor guest apply --settings s.json
  sshdoctor guest apply --settings '{}' --protected-settings secret.json   # secrets only
  sshdoctor guest apply --settings s.json --dry-run --output json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return guestApplyRun(c.Context(), o) },
	}
	f := c.Flags()
	f.StringVar(&o.Settings, "settings", "", "public settings: a JSON file, - for standard input, or inline JSON starting with {")
	f.StringVar(&o.ProtectedSettings, "protected-settings", "", "protected settings (secrets): a JSON file or - (never inline: it would show in the process list)")
	f.IntVar(&o.Port, "port", 22, "the port clients and firewalls expect sshd on (reset_ssh opens it in the guest firewall)")
	f.BoolVar(&o.DryRun, "dry-run", false, "show the plan, change nothing")
	f.StringVar(&o.Output, "output", "text", "text or json")
	return c
}

// readSettings reads one settings source; inline JSON is allowed for the
// public settings only.
func readSettings(flag, src string, in io.Reader, inline bool) ([]byte, error) {
	switch {
	case src == "-" && in == nil:
		return nil, fmt.Errorf("%s -: no standard input", flag)
	case src != "-" && inline && strings.HasPrefix(strings.TrimSpace(src), "{"):
		if len(src) > maxSettings {
			return nil, fmt.Errorf("%s: larger than %d bytes", flag, maxSettings)
		}
		return []byte(src), nil
	}
	return readInput(flag, src, in, maxSettings)
}

func guestApplyRun(ctx context.Context, o *GuestApplyOptions) error {
	if os.Geteuid() != 0 {
		return usagef("guest apply must run as root on the VM")
	}
	if o.Output != "text" && o.Output != "json" {
		return usagef("--output must be text or json, not %q", o.Output)
	}
	if o.Port < 1 || o.Port > 65535 {
		return usagef("--port %d is out of range", o.Port)
	}
	if o.Settings == "" && o.ProtectedSettings == "" {
		return usagef("give --settings FILE (and --protected-settings FILE for secrets)")
	}
	if o.Settings == "-" && o.ProtectedSettings == "-" {
		return usagef("only one of --settings and --protected-settings can read standard input")
	}
	pub := []byte("{}")
	if o.Settings != "" {
		data, err := readSettings("--settings", o.Settings, o.IO.In, true)
		if err != nil {
			return &UsageError{err}
		}
		pub = data
	}
	var prot []byte
	if o.ProtectedSettings != "" {
		data, err := readSettings("--protected-settings", o.ProtectedSettings, o.IO.In, false)
		if err != nil {
			return &UsageError{err}
		}
		defer clear(data)
		prot = data
	}
	v, err := guest.ParseVMAccess(pub, prot)
	if err != nil {
		return &UsageError{err}
	}
	if v.Username != nil && !validUserName(*v.Username) {
		return usagef("username %q is not a valid user name (lower-case letters, digits, _ . -; not starting with - or a digit; at most 32)", *v.Username)
	}
	if v.RemoveUser != nil && !validUserName(*v.RemoveUser) {
		return usagef("remove_user %q is not a valid user name", *v.RemoveUser)
	}
	if v.Password != nil && strings.ContainsAny(*v.Password, "\n\r\x00") {
		return usagef("password may not contain a line break or NUL")
	}
	ctx = ctxOr(ctx)
	if !o.DryRun {
		unlock, err := guest.Lock("/")
		if err != nil {
			return err
		}
		defer unlock()
	}
	res, err := guest.ApplyVMAccess(ctx, v, guest.ApplyOptions{DryRun: o.DryRun, Port: o.Port})
	if err != nil {
		if errors.Is(err, guest.ErrRefused) {
			return usagef("guest apply: %v", err)
		}
		return err
	}
	if o.Output == "json" {
		doc := struct {
			Schema string `json:"schema"`
			DryRun bool   `json:"dry_run"`
			*guest.ApplyResult
		}{"sshdoctor.guest.apply/v1", o.DryRun, res}
		if err := writeJSONDoc(o.IO, doc); err != nil {
			return err
		}
	} else {
		w := o.IO.Out
		fmt.Fprintf(w, "VMAccess settings: %s\n", strings.Join(res.Requested, ", "))
		if res.SSH != nil {
			if len(res.SSH.Actions) == 0 {
				fmt.Fprintln(w, "\nSSH configuration: nothing to change.")
			} else {
				printRepair(w, res.SSH, o.DryRun)
			}
		}
		for _, u := range []*guest.UserResult{res.User, res.RemoveUser} {
			if u != nil {
				fmt.Fprintln(w)
				printUserResult(w, u.User, u, o.DryRun)
			}
		}
		if res.RolledBack && res.Error != "" {
			fmt.Fprintf(w, "\nFAILED, everything put back: %s\n", res.Error)
		}
	}
	if res.Error != "" {
		fmt.Fprintf(o.IO.Err, "sshdoctor: guest apply failed: %s\n", strings.Join(strings.Fields(res.Error), " "))
		return &ExitError{Code: ExitProblem}
	}
	return nil
}
