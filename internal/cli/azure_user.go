package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/azure"
	"golang.org/x/crypto/ssh"
)

// newCmdAzureResetUser builds `sshdoctor azure reset-user`.
func newCmdAzureResetUser(o *AzureOptions, vmFlags azureVMFlags, run azureRunner) *cobra.Command {
	var password, key string
	resetUser := &cobra.Command{
		Use:   "reset-user -g RG -n VM --user U [--password-stdin] [--ssh-key-file F]",
		Short: "Set a user's password and/or add an SSH key; creates a sudo user if missing (VMAccessForLinux)",
		Long: `Runs the VMAccessForLinux extension as az vm user update does. The password
(read from standard input, never from the command line) and the key travel
only in the extension's protected settings, which Azure encrypts.`,
		Args: cobra.NoArgs,
		RunE: run(jsonNeedsYes(o, "reset-user", func() (err error) {
			password, key, err = resetUserInputs(o)
			return err
		}), withActionDoc("reset-user", func(ctx context.Context, o *AzureOptions, p *azure.Provider, d *azureActionDoc) error {
			d.Username = o.Username
			if err := confirm(o, fmt.Sprintf("Reset user %s on VM %s/%s?", o.Username, o.ResourceGroup, o.VM)); err != nil {
				return err
			}
			if err := p.ResetUserPassword(ctx, o.VM, o.Username, password, key); err != nil {
				return err
			}
			d.Done, d.PasswordSet, d.KeyAdded = "user reset", password != "", key != ""
			fmt.Fprintf(o.textOut(), "%s/%s: user %s reset.\n", o.ResourceGroup, o.VM, o.Username)
			d.Recheck = recheckSSH(ctx, o, p)
			return nil
		})),
	}
	vmFlags(resetUser)
	recheckFlags(resetUser, o)
	userFlag(resetUser.Flags(), &o.Username, "the user to reset or create (required)", "username")
	resetUser.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	resetUser.Flags().StringVar(&o.SSHKey, "ssh-key", "", "an OpenSSH public key (one line) to add")
	resetUser.Flags().StringVar(&o.SSHKeyFile, "ssh-key-file", "", "file holding the OpenSSH public key to add")
	resetUser.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	actionOutputFlag(resetUser, o)

	return resetUser
}

// resetUserInputs validates reset-user's user name, password and key.
func resetUserInputs(o *AzureOptions) (password, key string, err error) {
	if !validUserName(o.Username) {
		return "", "", usagef("--user %q is not a valid user name", o.Username)
	}
	if o.PasswordStdin {
		line, err := bufio.NewReader(o.IO.In).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", "", usagef("--password-stdin: no password on standard input (%v)", err)
		}
		// The answer to the confirmation follows the password line, so
		// scripted use needs --yes.
		if !o.Yes {
			return "", "", usagef("--password-stdin needs --yes: standard input holds the password, not an answer")
		}
	}
	key = o.SSHKey
	if o.SSHKeyFile != "" {
		path, err := expandPath(o.SSHKeyFile)
		if err != nil {
			return "", "", usagef("--ssh-key-file: %v", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", "", usagef("--ssh-key-file: %v", err)
		}
		key = strings.TrimSpace(string(data))
	}
	if key != "" {
		if strings.Contains(key, "PRIVATE KEY") {
			return "", "", usagef("that is a private key: give the public half (.pub)")
		}
		if err := azure.CheckVMAccessKey(key); err != nil {
			return "", "", usagef("--ssh-key: %v", err)
		}
		if !strings.HasPrefix(key, "-----BEGIN CERTIFICATE-----") && !strings.HasPrefix(key, "---- BEGIN SSH2 PUBLIC KEY ----") {
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err != nil {
				return "", "", usagef("not one OpenSSH public key: %.40q", key)
			}
		}
	}
	if password == "" && key == "" {
		return "", "", usagef("reset-user needs --password-stdin, --ssh-key or --ssh-key-file")
	}
	return password, key, nil
}
