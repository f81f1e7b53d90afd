package guest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// VMAccess is the VMAccessForLinux extension's settings contract
// (public settings and protected settings merged). Strict where VMAccess is
// sloppy: booleans must be JSON booleans, keys are spelled exactly (lower
// case) and given once, a key may not appear in both files, a password only
// in the protected settings, ssh_key holds exactly one key, root is never
// the account, and conflicting requests are refused.
type VMAccess struct {
	ResetSSH                 *bool   `json:"reset_ssh,omitempty"`
	RestoreBackupSSH         *bool   `json:"restore_backup_ssh,omitempty"`
	Username                 *string `json:"username,omitempty"`
	Password                 *string `json:"password,omitempty"`
	SSHKey                   *string `json:"ssh_key,omitempty"`
	RemovePriorKeys          *bool   `json:"remove_prior_keys,omitempty"`
	RemoveUser               *string `json:"remove_user,omitempty"`
	Expiration               *string `json:"expiration,omitempty"`
	EnablePasswordlessAccess *bool   `json:"enable_passwordless_access,omitempty"`
	CheckDisk                *bool   `json:"check_disk,omitempty"`
	RepairDisk               *bool   `json:"repair_disk,omitempty"`
	DiskName                 *string `json:"disk_name,omitempty"`
}

// vmAccessKeys are the settings keys, exactly as VMAccess spells them.
var vmAccessKeys = []string{"reset_ssh", "restore_backup_ssh", "username", "password", "ssh_key", "remove_prior_keys", "remove_user", "expiration", "enable_passwordless_access", "check_disk", "repair_disk", "disk_name"}

// ParseVMAccess reads and validates the settings (and optional protected
// settings). Any error means nothing may be changed.
func ParseVMAccess(settings, protected []byte) (*VMAccess, error) {
	pub, pubKeys, err := decodeStrict("settings", settings)
	if err != nil {
		return nil, err
	}
	if pubKeys["password"] {
		// Azure keeps public settings in clear in the VM model, readable
		// by anyone who may read the VM.
		return nil, errors.New("settings: password is in the public settings, which Azure stores in clear in the VM model: put it in the protected settings")
	}
	v := pub
	if len(bytes.TrimSpace(protected)) > 0 {
		prot, protKeys, err := decodeStrict("protected settings", protected)
		if err != nil {
			return nil, err
		}
		for k := range protKeys {
			if pubKeys[k] {
				return nil, fmt.Errorf("%q is in both the settings and the protected settings: give it once", k)
			}
		}
		merge(v, prot)
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	if v.SSHKey != nil {
		k := strings.TrimSpace(*v.SSHKey)
		v.SSHKey = &k
	}
	return v, nil
}

// decodeStrict decodes one settings object. encoding/json alone would
// match "USERNAME" to username and let a repeated key silently win, so
// the top-level keys are walked first: each must be one of vmAccessKeys,
// spelled exactly, and appear once.
func decodeStrict(what string, data []byte) (*VMAccess, map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a JSON object: %v", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("%s: not a JSON object", what)
	}
	keys := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not a JSON object: %v", what, err)
		}
		k, _ := tok.(string)
		if !slices.Contains(vmAccessKeys, k) {
			return nil, nil, fmt.Errorf("%s: unknown key %q (known, in lower case: %s)", what, k, strings.Join(vmAccessKeys, ", "))
		}
		if keys[k] {
			return nil, nil, fmt.Errorf("%s: key %q appears twice: give it once", what, k)
		}
		keys[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, fmt.Errorf("%s: not a JSON object: %v", what, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%s: not a JSON object: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%s: not a JSON object: data after top-level value", what)
	}
	// Every key is now exact and single, so encoding/json's
	// case-insensitive matching has nothing left to match loosely.
	v := &VMAccess{}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Type.String() == "bool":
			return nil, nil, fmt.Errorf("%s: %q must be a JSON boolean (true or false), not a %s: VMAccess would treat the string \"false\" as true", what, te.Field, te.Value)
		case errors.As(err, &te):
			return nil, nil, fmt.Errorf("%s: %q must be a JSON %s, not a %s", what, te.Field, te.Type, te.Value)
		}
		return nil, nil, fmt.Errorf("%s: %v", what, err)
	}
	return v, keys, nil
}

func merge(dst, src *VMAccess) {
	if src.ResetSSH != nil {
		dst.ResetSSH = src.ResetSSH
	}
	if src.RestoreBackupSSH != nil {
		dst.RestoreBackupSSH = src.RestoreBackupSSH
	}
	if src.Username != nil {
		dst.Username = src.Username
	}
	if src.Password != nil {
		dst.Password = src.Password
	}
	if src.SSHKey != nil {
		dst.SSHKey = src.SSHKey
	}
	if src.RemovePriorKeys != nil {
		dst.RemovePriorKeys = src.RemovePriorKeys
	}
	if src.RemoveUser != nil {
		dst.RemoveUser = src.RemoveUser
	}
	if src.Expiration != nil {
		dst.Expiration = src.Expiration
	}
	if src.EnablePasswordlessAccess != nil {
		dst.EnablePasswordlessAccess = src.EnablePasswordlessAccess
	}
	if src.CheckDisk != nil {
		dst.CheckDisk = src.CheckDisk
	}
	if src.RepairDisk != nil {
		dst.RepairDisk = src.RepairDisk
	}
	if src.DiskName != nil {
		dst.DiskName = src.DiskName
	}
}

// rootRefused is why username root is refused, here and by `guest user set`.
const rootRefused = "username root is refused: root is managed with the distro's tools; for root access use a sudo user"

func isTrue(b *bool) bool { return b != nil && *b }

func (v *VMAccess) validate() error {
	switch {
	case isTrue(v.CheckDisk) || isTrue(v.RepairDisk) || v.DiskName != nil:
		return errors.New("check_disk, repair_disk and disk_name are not done from inside the guest: fsck needs the disk unmounted (attach it to a rescue VM)")
	case v.RemoveUser != nil && (isTrue(v.ResetSSH) || v.Password != nil || v.SSHKey != nil || v.Username != nil):
		return errors.New("remove_user cannot be combined with reset_ssh, username, password or ssh_key: send them separately")
	case isTrue(v.ResetSSH) && isTrue(v.RestoreBackupSSH):
		return errors.New("reset_ssh and restore_backup_ssh contradict each other")
	case (v.Password != nil || v.SSHKey != nil || v.Expiration != nil || v.RemovePriorKeys != nil || v.EnablePasswordlessAccess != nil) && v.Username == nil:
		return errors.New("password, ssh_key, expiration, remove_prior_keys and enable_passwordless_access need a username")
	case v.Password != nil && *v.Password == "":
		return errors.New("password is empty")
	case v.Username != nil && *v.Username == "":
		return errors.New("username is empty")
	case v.RemoveUser != nil && *v.RemoveUser == "":
		return errors.New("remove_user is empty")
	case v.Username != nil && *v.Username == "root":
		return errors.New(rootRefused)
	case v.RemoveUser != nil && *v.RemoveUser == "root":
		return errors.New("remove_user root is refused: root is never removed")
	}
	if v.SSHKey != nil {
		if _, err := ParseOneKey(*v.SSHKey); err != nil {
			return fmt.Errorf("ssh_key: %v", err)
		}
	}
	if v.Expiration != nil {
		if _, err := time.Parse("2006-01-02", *v.Expiration); err != nil {
			return fmt.Errorf("expiration %q is not a date YYYY-MM-DD", *v.Expiration)
		}
	}
	if v.ResetSSH == nil && v.RestoreBackupSSH == nil && v.Username == nil && v.RemoveUser == nil {
		return errors.New("the settings ask for nothing (give reset_ssh, restore_backup_ssh, username or remove_user)")
	}
	return nil
}
