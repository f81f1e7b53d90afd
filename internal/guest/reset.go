package guest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Distro families with their packaged sshd_config.
const (
	FamilyDebian  = "debian"
	FamilyRHEL    = "rhel"
	FamilySUSE    = "suse"
	FamilyGeneric = "generic"
)

// DefaultConfigs are the packaged sshd_config of each family, reduced to
// their active lines. Debian/Ubuntu and RHEL 9 ship sshd_config.d drop-ins
// and Include them; SUSE and the generic default do not.
var DefaultConfigs = map[string]string{
	FamilyDebian: `# sshd_config reset by sshdoctor guest reset-ssh (Debian/Ubuntu default)
Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
`,
	FamilyRHEL: `# sshd_config reset by sshdoctor guest reset-ssh (RHEL family default)
Include /etc/ssh/sshd_config.d/*.conf
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
SyslogFacility AUTHPRIV
AuthorizedKeysFile .ssh/authorized_keys
UsePAM yes
X11Forwarding yes
Subsystem sftp /usr/libexec/openssh/sftp-server
`,
	FamilySUSE: `# sshd_config reset by sshdoctor guest reset-ssh (SUSE default)
AuthorizedKeysFile .ssh/authorized_keys
UsePAM yes
X11Forwarding yes
Subsystem sftp /usr/lib/ssh/sftp-server
AcceptEnv LANG LC_CTYPE LC_NUMERIC LC_TIME LC_COLLATE LC_MONETARY LC_MESSAGES
AcceptEnv LC_PAPER LC_NAME LC_ADDRESS LC_TELEPHONE LC_MEASUREMENT
AcceptEnv LC_IDENTIFICATION LC_ALL
`,
	FamilyGeneric: `# sshd_config reset by sshdoctor guest reset-ssh (generic OpenSSH default)
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp internal-sftp
`,
}

// Family reads /etc/os-release (ID, then ID_LIKE) into a distro family.
func Family() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return FamilyGeneric
	}
	var ids []string
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if ok && (k == "ID" || k == "ID_LIKE") {
			ids = append(ids, strings.Fields(strings.Trim(v, `"`))...)
		}
	}
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return FamilyDebian
		case "rhel", "centos", "fedora", "rocky", "almalinux", "ol", "azurelinux", "mariner":
			return FamilyRHEL
		case "suse", "sles", "opensuse", "opensuse-leap":
			return FamilySUSE
		}
	}
	return FamilyGeneric
}

// breakingKeys are drop-in settings that stop logins when set wrongly;
// a drop-in that sets any of them (or fails sshd -t) is moved aside.
var breakingKeys = map[string]bool{
	"port": true, "listenaddress": true, "pubkeyauthentication": true, "allowusers": true,
	"denyusers": true, "allowgroups": true, "denygroups": true, "authorizedkeysfile": true,
	"maxstartups": true, "logingracetime": true, "permitrootlogin": true, "authenticationmethods": true,
}

// ResetSSH plans the seed's "reset SSH configuration": the distro's
// default sshd_config (keeping its Include), drop-ins that would break SSH
// moved into the backup set, missing host keys generated, the privilege
// separation directory created, guest firewall rules on sshd's port
// removed; then Apply restarts sshd, verifies it and rolls back on failure.
func ResetSSH(f *Facts) []Action {
	family := Family()
	var acts []Action
	if cur, err := os.ReadFile(sshdConfig); err != nil || string(cur) != DefaultConfigs[family] {
		acts = append(acts, Action{For: "reset-ssh", Description: fmt.Sprintf("replace %s with the %s default", sshdConfig, family), sshd: true,
			do: func(b *Backup) error {
				if err := b.Save(sshdConfig); err != nil {
					return err
				}
				// Validated as a whole (with the drop-ins that stay) by Apply's
				// sshd -t before sshd restarts; a failure rolls everything back.
				return WriteFileAtomic(sshdConfig, []byte(DefaultConfigs[family]), 0o644, 0, 0)
			}})
	}
	if strings.Contains(DefaultConfigs[family], "Include /etc/ssh/sshd_config.d/") {
		drop, _ := filepath.Glob("/etc/ssh/sshd_config.d/*.conf")
		for _, d := range drop {
			if why := breaksSSH(d); why != "" {
				d := d
				acts = append(acts, Action{For: "reset-ssh", Description: fmt.Sprintf("move drop-in %s into the backup set (%s)", d, why), sshd: true,
					do: func(b *Backup) error {
						if err := b.Save(d); err != nil {
							return err
						}
						return os.Remove(d)
					}})
			}
		}
	}
	if len(f.HostKeys) == 0 || missingDefaultHostKey() {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.hostkeys_missing")}}, RepairOptions{})...)
	}
	if !f.PrivsepDir {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.privsep_dir_missing")}}, RepairOptions{})...)
	}
	for i := range f.Firewall {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.firewall_blocks"), Rule: &f.Firewall[i]}}, RepairOptions{})...)
	}
	if len(acts) == 0 && len(f.SSHDPIDs) == 0 {
		// Nothing to reset, but sshd is down: the reset still restarts it.
		acts = append(acts, Action{For: "reset-ssh", Description: "start sshd (the configuration is already the default)", sshd: true})
	}
	return acts
}

func missingDefaultHostKey() bool {
	for _, t := range []string{"ecdsa", "ed25519"} {
		if _, err := os.Stat("/etc/ssh/ssh_host_" + t + "_key"); err != nil {
			return true
		}
	}
	return false
}

// breaksSSH says why a drop-in must go ("" = keep it).
func breaksSSH(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unreadable"
	}
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, v := splitKV(t)
		lk := strings.ToLower(k)
		if lk == "match" {
			return fmt.Sprintf("line %d: a Match block", i+1)
		}
		if breakingKeys[lk] && !(lk == "pubkeyauthentication" && strings.EqualFold(v, "yes")) {
			return fmt.Sprintf("line %d sets %s", i+1, k)
		}
	}
	// A drop-in sshd cannot parse on its own also goes.
	tmp, err := os.CreateTemp("", "sshdoctor-dropin-*.conf")
	if err != nil {
		return ""
	}
	defer os.Remove(tmp.Name())
	tmp.WriteString(string(data) + "\nHostKey /etc/ssh/ssh_host_ed25519_key\n")
	tmp.Close()
	if out, err := exec.Command("/usr/sbin/sshd", "-t", "-f", tmp.Name()).CombinedOutput(); err != nil && strings.Contains(string(out), tmp.Name()) {
		return "sshd -t rejects it"
	}
	return ""
}
