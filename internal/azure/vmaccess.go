package azure

import (
	"context"
	"errors"
	"strings"

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

// ResetSSH resets sshd's configuration to the image default and restarts
// sshd (the portal's "Reset configuration only", `az vm user reset-ssh`).
func (p *Provider) ResetSSH(ctx context.Context, vm string) error {
	return p.vmAccess(ctx, vm, "reset the SSH configuration", map[string]any{"reset_ssh": true})
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
			Settings:                map[string]any{},
			ProtectedSettings:       protected,
		},
	}
	poller, err := p.exts.BeginCreateOrUpdate(ctx, p.ResourceGroup, name, vmAccessInstance(vm), ext, nil)
	_, err = await(ctx, p, poller, err)
	return fail(err, what+" on VM "+name+" (VMAccessForLinux)", actExtWrite, p.vmID(name))
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
