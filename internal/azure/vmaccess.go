package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// The VMAccessForLinux extension, as `az vm user reset-ssh` and
// `az vm user update` drive it.
const (
	VMAccessPublisher = "Microsoft.OSTCExtensions"
	VMAccessType      = "VMAccessForLinux"
	VMAccessVersion   = "1.5"
	// vmAccessName is the az CLI's instance name, used when the VM has no
	// VMAccessForLinux instance yet: Azure refuses a second instance of
	// one extension type under another name.
	vmAccessName = "enablevmaccess"
)

// VMAccessResetNote says what VMAccessForLinux's reset_ssh really does
// (VMAccess/vmaccess.py, _reset_sshd_config and _open_ssh_port): it is
// not the image's default configuration.
const VMAccessResetNote = `VMAccess replaces /etc/ssh/sshd_config with its own template for the distribution — not the image's default: Port 22, PasswordAuthentication yes, no Include of sshd_config.d (drop-ins stop applying) — deletes iptables DROP/REJECT rules for port 22, and restarts sshd. The old file is kept on the VM as /etc/ssh/sshd_config_<UTC time>.`

// ResetSSH replaces sshd's configuration with VMAccess's template and
// restarts sshd (the portal's "Reset configuration only", `az vm user
// reset-ssh`); see VMAccessResetNote.
func (p *Provider) ResetSSH(ctx context.Context, vm string) error {
	return p.vmAccess(ctx, vm, "reset the SSH configuration", map[string]any{"reset_ssh": true})
}

// RestoreSSHBackup asks VMAccess to put back the sshd_config it saved
// before its last reset (restore_backup_ssh).
func (p *Provider) RestoreSSHBackup(ctx context.Context, vm string) error {
	return p.vmAccess(ctx, vm, "restore the SSH configuration backup", map[string]any{"restore_backup_ssh": true})
}

// CheckVMAccessKey refuses, before anything is sent, a key VMAccess would
// not install: its handler appends a line as it is only when it starts
// with ssh-rsa (ssh-ed25519 in current versions); anything else it feeds
// to `openssl x509` as a PEM certificate, which fails (or converts an
// RFC 4716 block with ssh-keygen -i).
func CheckVMAccessKey(key string) error {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return errors.New("no SSH public key")
	case strings.HasPrefix(key, "-----BEGIN CERTIFICATE-----"), strings.HasPrefix(key, "---- BEGIN SSH2 PUBLIC KEY ----"):
		return nil
	case strings.Contains(key, "PRIVATE KEY"):
		return errors.New("that is a private key: give the public half (.pub)")
	case strings.Count(key, "\n") > 0:
		return errors.New("give exactly one public key (one line)")
	}
	typ, _, _ := strings.Cut(key, " ")
	switch typ {
	case "ssh-rsa", "ssh-ed25519":
		return nil
	case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-dss",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com":
		return fmt.Errorf("VMAccess installs only ssh-rsa and ssh-ed25519 keys, not %s: use an Ed25519 key (ssh-keygen -t ed25519), or authorize this one through the guest repair (sshdoctor fix, or sshdoctor guest repair --user U --ssh-key FILE on the VM)", typ)
	}
	if strings.Contains(typ, "-cert-v01@openssh.com") {
		return fmt.Errorf("%s is a certificate, not a public key: VMAccess cannot install it; give the key itself, or trust its CA on the VM (TrustedUserCAKeys)", typ)
	}
	return fmt.Errorf("VMAccess writes a key line as it is only when it starts with ssh-rsa or ssh-ed25519; this one starts with %.40q (key options such as from= or command=?): give the bare key, and add options on the VM afterwards", typ)
}

// ResetUser adds an SSH public key to a user's authorized keys, creating
// the user (with sudo rights) when it does not exist, or unlocking it
// (`az vm user update --ssh-key-value`).
func (p *Provider) ResetUser(ctx context.Context, vm, username, sshKey string) error {
	if strings.TrimSpace(sshKey) == "" {
		return errors.New("reset user: no SSH public key")
	}
	return p.ResetUserPassword(ctx, vm, username, "", sshKey)
}

// ResetUserPassword sets a user's password and/or adds an SSH public key,
// creating the user (with sudo rights) when it does not exist (`az vm user
// update`). Both travel in the protected settings only, which Azure
// encrypts and never returns.
func (p *Provider) ResetUserPassword(ctx context.Context, vm, username, password, sshKey string) error {
	if username == "" {
		return errors.New("reset user: no user name")
	}
	if password == "" && sshKey == "" {
		return errors.New("reset user: give a password, an SSH public key, or both")
	}
	if sshKey != "" {
		if err := CheckVMAccessKey(sshKey); err != nil {
			return fmt.Errorf("reset user: %w", err)
		}
	}
	protected := map[string]any{"username": username}
	if password != "" {
		protected["password"] = password
	}
	if sshKey != "" {
		protected["ssh_key"] = strings.TrimSpace(sshKey)
	}
	return p.vmAccess(ctx, vm, "reset user "+username, protected)
}

// vmAccess runs VMAccessForLinux with empty public settings — as the az
// CLI does, every instruction, secret or not, is a protected setting.
func (p *Provider) vmAccess(ctx context.Context, name, what string, protected map[string]any) error {
	vm, err := p.vm(ctx, name)
	if err != nil {
		return err
	}
	if err := guestReady(vm, "VMAccess"); err != nil {
		return err
	}
	ext := armcompute.VirtualMachineExtension{
		Location: vm.Location,
		Properties: &armcompute.VirtualMachineExtensionProperties{
			Publisher: to.Ptr(VMAccessPublisher), Type: to.Ptr(VMAccessType), TypeHandlerVersion: to.Ptr(VMAccessVersion),
			AutoUpgradeMinorVersion: to.Ptr(true),
			// A new tag makes the agent run the extension again even when
			// the settings are the same as last time (the handler exits
			// at once when no new sequence number arrives).
			ForceUpdateTag:    to.Ptr(time.Now().UTC().Format(time.RFC3339Nano)),
			Settings:          map[string]any{},
			ProtectedSettings: protected,
		},
	}
	instance := vmAccessInstance(vm)
	op := what + " on VM " + name + " (VMAccessForLinux)"
	poller, err := p.exts.BeginCreateOrUpdate(ctx, p.ResourceGroup, name, instance, ext, nil)
	if _, err = await(ctx, p, poller, err); err != nil {
		return fail(err, op, actExtWrite, p.vmID(name))
	}
	return p.extensionStatus(ctx, name, instance, op)
}

// ErrExtensionFailed: the extension ran and reported failure.
var ErrExtensionFailed = errors.New("the extension reported failure")

// extensionStatus reads the extension's instance view: what the handler
// itself reported, which the PUT's success does not say.
func (p *Provider) extensionStatus(ctx context.Context, vm, instance, op string) error {
	r, err := p.exts.Get(ctx, p.ResourceGroup, vm, instance, &armcompute.VirtualMachineExtensionsClientGetOptions{Expand: to.Ptr("instanceView")})
	if err != nil {
		return fail(err, op+": read its status", actVMRead, p.vmID(vm))
	}
	if r.Properties == nil || r.Properties.InstanceView == nil {
		return fmt.Errorf("%s: Azure accepted it but reports no status from the extension yet; check with `az vm extension show -g %s --vm-name %s -n %s --instance-view`", op, p.ResourceGroup, vm, instance)
	}
	iv := r.Properties.InstanceView
	for _, s := range append(append([]*armcompute.InstanceViewStatus{}, iv.Statuses...), iv.Substatuses...) {
		if s == nil {
			continue
		}
		code := strings.ToLower(deref(s.Code))
		if deref(s.Level) == armcompute.StatusLevelTypesError || strings.Contains(code, "failed") || strings.Contains(code, "/error") {
			msg := strings.TrimSpace(deref(s.Message))
			if msg == "" {
				msg = deref(s.DisplayStatus)
			}
			return fmt.Errorf("%s: %w: %s", op, ErrExtensionFailed, firstLine(msg))
		}
	}
	return nil
}

// vmAccessInstance is the name of the VM's VMAccessForLinux instance.
func vmAccessInstance(vm *armcompute.VirtualMachine) string {
	for _, r := range vm.Resources {
		if r != nil && r.Properties != nil && deref(r.Properties.Type) == VMAccessType && deref(r.Properties.Publisher) == VMAccessPublisher {
			return deref(r.Name)
		}
	}
	for _, e := range instanceView(vm).Extensions {
		if e != nil && strings.EqualFold(deref(e.Type), VMAccessPublisher+"."+VMAccessType) {
			return deref(e.Name)
		}
	}
	return vmAccessName
}
