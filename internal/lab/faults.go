package lab

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
)

// Fault is one way to break a lab VM, as users break real ones.
type Fault struct {
	Name        string
	Description string
	// Expect is the finding `sshdoctor check lab-VM` reports as root cause.
	Expect string
	// Check adjusts the client's check for this fault (user, extra flags).
	Check CheckSpec
	// Guest is the finding `sshdoctor guest check` reports inside the VM
	// ("" for faults outside the guest, or seen only from the client).
	Guest string
	// GuestArgs are the flags guest check/repair need ({key} = the lab
	// user's public key), e.g. the user to recreate, or a policy opt-in.
	GuestArgs []string
	// RepairArgs are policy opt-ins only `guest repair` takes.
	RepairArgs []string
	// Decision: the cause is a restriction someone set on purpose (a
	// from= or expiry-time= on the key's line), or a repair only the
	// network's owner can choose (a lost default route): guest check
	// names it, and repair — and fix — leave it alone and say what to do.
	Decision bool
	// NewHostKeys: the repair generates new host keys, so the client must
	// verify and record them before SSH works again.
	NewHostKeys bool
	// guest faults change the VM's disk; heal restores its snapshot.
	guest bool
	apply func(s *State, v *VMState) error
}

// CheckSpec says how the client should check a broken VM.
type CheckSpec struct {
	User     string   // "" = the lab's default user
	Args     []string // extra flags for sshdoctor check
	Password bool     // authenticate with the lab password (--password-stdin), no key
	Exec     string   // --exec command, for faults only a session shows
	// LegacyRSA: offer only the lab's RSA key, signed with ssh-rsa (SHA-1).
	LegacyRSA bool
	// Timeout, when set, is the per-phase timeout the check needs.
	Timeout time.Duration
}

// CheckArgs are the `sshdoctor check` arguments (before the target) and
// the target that test fault f as a user would meet it.
func (s *State) CheckArgs(v *VMState, f *Fault) (args []string, target string) {
	c := CheckSpec{}
	if f != nil {
		c = f.Check
	}
	args = append(args, c.Args...)
	if c.Exec != "" {
		args = append(args, "--exec", c.Exec)
	}
	if c.Password {
		args = append(args, "--password-stdin", "-o", "PubkeyAuthentication=no")
	}
	if c.Timeout > 0 {
		args = append(args, "--timeout", c.Timeout.String())
	}
	if c.LegacyRSA {
		args = append(args, "-i", s.LegacyRSAKey(), "-o", "PubkeyAcceptedAlgorithms=ssh-rsa")
	}
	target = "lab-" + v.Name
	if c.User != "" {
		target = c.User + "@" + target
	}
	return args, target
}

// guestScript returns a fault that runs a shell script inside the VM.
func guestScript(script string) func(s *State, v *VMState) error {
	return func(s *State, v *VMState) error {
		err := s.mustExec(v, "set -e\n"+script)
		settle()
		return err
	}
}

// sshdConf appends sshd_config lines (before any Match) and restarts sshd.
func sshdConf(lines string) func(s *State, v *VMState) error {
	return guestScript(fmt.Sprintf("sed -i '1i %s' /etc/ssh/sshd_config\nservice ssh restart", strings.ReplaceAll(lines, "\n", "\\n")))
}

func nicRule(mutate func(r *cloud.SecurityRule)) func(s *State, v *VMState) error {
	return func(s *State, v *VMState) error {
		n := defaultNICNSG()
		mutate(&n.Rules[0])
		v.NSG = n
		return s.applyNetwork()
	}
}

const u = DefaultUser

// Faults is the catalogue, in layer order (cloud, network, guest, account).
var Faults = []Fault{
	{Name: "vm-stopped", Description: "The VM is stopped (deallocated).", Expect: "tcp.timeout",
		apply: func(s *State, v *VMState) error { return s.Stop(v) }},
	{Name: "nsg-deny-ssh", Description: "The NIC NSG has an explicit Deny for TCP/22 at priority 100, above the SSH allow rule.", Expect: "tcp.timeout",
		apply: func(s *State, v *VMState) error {
			n := defaultNICNSG()
			n.Rules = append([]cloud.SecurityRule{{Name: "DenySSH", Priority: 100, Direction: cloud.Inbound, Access: cloud.Deny, Protocol: "Tcp",
				SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}}, n.Rules...)
			v.NSG = n
			return s.applyNetwork()
		}},
	{Name: "nsg-no-allow", Description: "The NIC NSG has only Azure's default rules: DenyAllInBound drops SSH from the internet.", Expect: "tcp.timeout",
		apply: func(s *State, v *VMState) error { v.NSG = &cloud.NSG{Name: NICNSGID(v.Name)}; return s.applyNetwork() }},
	{Name: "nsg-subnet-deny", Description: "The subnet NSG denies TCP/22 while the NIC NSG allows it (both must allow).", Expect: "tcp.timeout",
		apply: func(s *State, v *VMState) error {
			s.SubnetNSG = &cloud.NSG{Name: "subnet-nsg", Rules: []cloud.SecurityRule{{Name: "DenySSHSubnet", Priority: 200, Direction: cloud.Inbound, Access: cloud.Deny, Protocol: "Tcp",
				SourceAddressPrefixes: []string{"*"}, SourcePortRanges: []string{"*"}, DestinationAddressPrefixes: []string{"*"}, DestinationPortRanges: []string{"22"}}}}
			return s.applyNetwork()
		}},
	{Name: "nsg-wrong-port", Description: "The NSG allow rule opens TCP/2222 instead of sshd's port 22.", Expect: "tcp.timeout",
		apply: nicRule(func(r *cloud.SecurityRule) { r.DestinationPortRanges = []string{"2222"} })},
	{Name: "nsg-wrong-source", Description: "The NSG allow rule admits only 192.0.2.0/24, not the client's address.", Expect: "tcp.timeout",
		apply: nicRule(func(r *cloud.SecurityRule) { r.SourceAddressPrefixes = []string{"192.0.2.0/24"} })},
	{Name: "route-blackhole", Description: "A user-defined route sends the client's network to next hop None: replies are dropped.", Expect: "tcp.timeout",
		apply: func(s *State, v *VMState) error {
			s.Routes = []cloud.Route{{Name: "to-clients", AddressPrefix: clientCIDR, NextHopType: cloud.NextHopNone, Source: "User"}}
			return s.applyNetwork()
		}},

	{Name: "guest-firewall-drop", Guest: "guest.firewall_blocks", Description: "nftables inside the VM drops TCP/22.", Expect: "tcp.timeout", guest: true,
		apply: guestScript("nft add table inet guestfw\nnft add chain inet guestfw input '{ type filter hook input priority 10; }'\nnft add rule inet guestfw input tcp dport 22 drop")},
	{Name: "guest-firewall-policy-drop", Guest: "guest.firewall_default_deny", Description: "A guest firewall was switched on with policy drop and rules for the web ports only (the `ufw enable` lock-out): nothing accepts TCP/22.", Expect: "tcp.timeout", guest: true,
		apply: guestScript("nft add table inet lockdown\nnft add chain inet lockdown input '{ type filter hook input priority 0; policy drop; }'\nnft add rule inet lockdown input ct state established,related accept\nnft add rule inet lockdown input iif lo accept\nnft add rule inet lockdown input tcp dport '{ 80, 443 }' accept")},
	{Name: "guest-firewall-reject", Guest: "guest.firewall_blocks", Description: "nftables inside the VM rejects TCP/22 with a TCP reset.", Expect: "tcp.refused", guest: true,
		apply: guestScript("nft add table inet guestfw\nnft add chain inet guestfw input '{ type filter hook input priority 10; }'\nnft add rule inet guestfw input tcp dport 22 reject with tcp reset")},
	{Name: "sshd-stopped", Guest: "guest.sshd_not_running", Description: "sshd is stopped (`service ssh stop`).", Expect: "tcp.refused", guest: true,
		apply: guestScript("service ssh stop")},
	{Name: "sshd-wrong-port", Guest: "guest.sshd_wrong_port", Description: "sshd listens on port 2222 instead of 22.", Expect: "tcp.refused", guest: true,
		apply: sshdConf("Port 2222")},
	{Name: "sshd-listen-port-in-address", Guest: "guest.sshd_wrong_port", Description: "A drop-in sets ListenAddress 0.0.0.0:2222: the port in the address overrides Port 22, so sshd listens on 2222 only.", Expect: "tcp.refused", guest: true,
		apply: guestScript("echo 'ListenAddress 0.0.0.0:2222' > /etc/ssh/sshd_config.d/10-listen.conf\nservice ssh restart")},
	{Name: "sshd-listen-localhost", Guest: "guest.sshd_loopback_only", Description: "sshd listens on 127.0.0.1 only.", Expect: "tcp.refused", guest: true,
		apply: sshdConf("ListenAddress 127.0.0.1")},
	{Name: "sshd-listen-old-ip", Guest: "guest.listen_address_absent", Description: "sshd_config pins ListenAddress to 198.51.100.99, an address the VM no longer has (a static IP that changed): sshd cannot bind and exits.", Expect: "tcp.refused", guest: true,
		apply: guestScript("sed -i '1i ListenAddress 198.51.100.99' /etc/ssh/sshd_config\nservice ssh restart")},
	{Name: "guest-no-default-route", Guest: "guest.no_default_route", Decision: true, Description: "The VM lost its default route (a DHCP client that died, a static configuration without a gateway): it answers no client outside its subnet.", Expect: "tcp.timeout", guest: true,
		apply: guestScript("ip route del default")},
	{Name: "kex-legacy-only", Guest: "guest.crypto_no_common", Decision: true, Description: "A drop-in kept for an old appliance sets KexAlgorithms diffie-hellman-group14-sha1 only: current clients share no key exchange with sshd.", Expect: "kex.no_common_kex", guest: true,
		apply: guestScript("echo 'KexAlgorithms diffie-hellman-group14-sha1' > /etc/ssh/sshd_config.d/10-legacy.conf\nservice ssh restart")},
	{Name: "sshd-ipv6-only", Guest: "guest.sshd_ipv6_only", Description: "A drop-in sets AddressFamily inet6 (an IPv6 migration): sshd's sockets are IPv6-only and IPv4 clients are refused.", Expect: "tcp.refused", guest: true,
		apply: guestScript("echo 'AddressFamily inet6' > /etc/ssh/sshd_config.d/10-af.conf\nservice ssh restart")},
	{Name: "port-taken", Guest: "guest.port_taken", Decision: true, Description: "Another program (a stray debug listener) holds TCP/22 on every address: sshd cannot bind, and clients reach a silent program.", Expect: "ssh.banner_timeout", guest: true,
		apply: guestScript("service ssh stop\nsetsid perl -MIO::Socket::IP -e 'my $s = IO::Socket::IP->new(LocalHost => \"::\", LocalPort => 22, Listen => 5, ReuseAddr => 1, V6Only => 0) or die; sleep 86400' </dev/null >/dev/null 2>&1 &\nsleep 0.5\nservice ssh start || true")},
	{Name: "match-user-pubkey-off", Guest: "guest.pubkey_disabled", Description: "A Match User block at the end of sshd_config turns PubkeyAuthentication off for the user only (a hardening snippet meant for another account).", Expect: "auth.password_required", guest: true,
		apply: guestScript("printf '\\nMatch User " + u + "\\n\\tPubkeyAuthentication no\\n' >> /etc/ssh/sshd_config\nservice ssh restart")},
	{Name: "sshd-config-syntax", Guest: "guest.sshd_config_invalid", Description: "sshd_config has a syntax error; sshd fails to start after a restart.", Expect: "tcp.refused", guest: true,
		apply: sshdConf("PermitRootLogin maybe")},
	{Name: "sshd-dropin-override", Guest: "guest.pubkey_disabled", Description: "A drop-in sshd_config.d/50-cloud-init.conf turns PubkeyAuthentication off.", Expect: "auth.password_required", guest: true,
		apply: guestScript("echo 'PubkeyAuthentication no' > /etc/ssh/sshd_config.d/50-cloud-init.conf\nservice ssh restart")},
	{Name: "hostkeys-missing", Guest: "guest.hostkeys_missing", Description: "The host keys were deleted; sshd refuses to start.", Expect: "tcp.refused", guest: true, NewHostKeys: true,
		apply: guestScript("rm -f /etc/ssh/ssh_host_*\nservice ssh restart")},
	{Name: "hostkey-perms-open", Guest: "guest.hostkey_perms", Description: "The host keys' private files are mode 0644 (a restored backup, a careless chmod): sshd ignores keys others can read and refuses to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("chmod 644 /etc/ssh/ssh_host_*_key\nservice ssh restart")},
	{Name: "hostkey-corrupt", Guest: "guest.hostkey_invalid", Description: "The host keys' private files are truncated to an empty PEM armour (a half-copied image): sshd cannot load any and refuses to start.", Expect: "tcp.refused", guest: true, NewHostKeys: true,
		apply: guestScript("for k in /etc/ssh/ssh_host_*_key; do printf '%s\\n' '-----BEGIN OPENSSH PRIVATE KEY-----' 'AAAA' '-----END OPENSSH PRIVATE KEY-----' > \"$k\"; done\nservice ssh restart")},
	{Name: "privsep-user-missing", Guest: "guest.privsep_user_missing", Description: "sshd's privilege-separation user sshd was deleted (a user clean-up script): sshd refuses to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("userdel sshd\nservice ssh restart")},
	{Name: "hostkey-changed", Description: "The VM was rebuilt with new host keys (known_hosts has the old ones).", Expect: "hostkey.changed", guest: true,
		apply: guestScript("rm -f /etc/ssh/ssh_host_*\nssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key\nssh-keygen -q -t ecdsa -N '' -f /etc/ssh/ssh_host_ecdsa_key\nservice ssh restart")},
	{Name: "privsep-dir-missing", Guest: "guest.privsep_dir_missing", Description: "sshd's privilege-separation directory /run/sshd is missing; sshd fails to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("rm -rf /run/sshd\nservice ssh restart")},
	{Name: "privsep-dir-perms", Guest: "guest.privsep_dir_unsafe", Description: "sshd's privilege-separation directory /run/sshd is world-writable (a careless chmod -R): sshd refuses to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("chmod 777 /run/sshd\nservice ssh restart")},
	{Name: "authmethods-unsatisfiable", Guest: "guest.auth_methods_unsatisfiable", Decision: true, Description: "A drop-in requires a second factor (AuthenticationMethods publickey,keyboard-interactive) while KbdInteractiveAuthentication is off: sshd refuses to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("echo 'AuthenticationMethods publickey,keyboard-interactive' > /etc/ssh/sshd_config.d/50-mfa.conf\nservice ssh restart")},
	{Name: "authmethods-user-no-password", Guest: "guest.auth_methods_unsatisfiable", GuestArgs: []string{"--user", u}, Decision: true, Description: "A Match LocalPort 22 block requires key and password (AuthenticationMethods publickey,password), but the user is key-only (no password): the key is accepted and the login can never complete.", Expect: "auth.partial_success", guest: true,
		apply: guestScript("usermod -p '*' " + u + "\nprintf '\\nMatch LocalPort 22\\n\\tAuthenticationMethods publickey,password\\n' >> /etc/ssh/sshd_config\nservice ssh restart")},
	{Name: "keys-command-no-user", Guest: "guest.keys_command_user_missing", Description: "A drop-in for directory keys sets AuthorizedKeysCommand without AuthorizedKeysCommandUser: sshd refuses to start.", Expect: "tcp.refused", guest: true,
		apply: guestScript("echo 'AuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys %u' > /etc/ssh/sshd_config.d/60-sss.conf\nservice ssh restart")},
	{Name: "authorized-keys-bom", Guest: "guest.authorized_keys_malformed", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "authorized_keys was saved by a Windows editor with a byte-order mark: sshd cannot read the key on its first line.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("f=/home/" + u + "/.ssh/authorized_keys\n{ printf '\\357\\273\\277'; cat \"$f\"; } > /tmp/ak\ncat /tmp/ak > \"$f\"")},
	{Name: "authorized-keys-utf16", Guest: "guest.authorized_keys_malformed", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "authorized_keys was written as UTF-16 (PowerShell's > or Out-File): sshd reads no key in it.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("f=/home/" + u + "/.ssh/authorized_keys\niconv -f UTF-8 -t UTF-16 \"$f\" > /tmp/ak\ncat /tmp/ak > \"$f\"")},
	{Name: "authorized-keys-wrapped", Guest: "guest.authorized_keys_malformed", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "The key was pasted into authorized_keys from a terminal that wrapped it at 64 columns: sshd reads each piece alone.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("f=/home/" + u + "/.ssh/authorized_keys\nfold -w 64 \"$f\" > /tmp/ak\ncat /tmp/ak > \"$f\"")},
	{Name: "authorized-keys-private-key", Guest: "guest.no_authorized_keys", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "A private key was pasted into authorized_keys instead of the .pub: sshd reads no key, and the private key sits on the VM.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("rm -f /tmp/k /tmp/k.pub\nssh-keygen -q -t ed25519 -N '' -f /tmp/k\ncat /tmp/k > /home/" + u + "/.ssh/authorized_keys\nrm -f /tmp/k /tmp/k.pub")},
	{Name: "authorized-keys-misnamed", Guest: "guest.keys_misplaced", Description: "The key file was saved as ~/.ssh/authorized_key (no s): sshd reads only authorized_keys and authorized_keys2.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("mv /home/" + u + "/.ssh/authorized_keys /home/" + u + "/.ssh/authorized_key")},
	{Name: "authorized-keys-missing", Guest: "guest.no_authorized_keys", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "The user's ~/.ssh/authorized_keys is gone.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("rm -f /home/" + u + "/.ssh/authorized_keys")},
	{Name: "authorized-keys-wrong-key", Guest: "guest.key_not_authorized", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Description: "authorized_keys holds a different key than the user's.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("rm -f /tmp/k /tmp/k.pub\nssh-keygen -q -t ed25519 -N '' -f /tmp/k\ncat /tmp/k.pub > /home/" + u + "/.ssh/authorized_keys")},
	{Name: "authorized-keys-from-restricted", Guest: "guest.key_restricted", GuestArgs: []string{"--user", u, "--ssh-key", "{key}", "--from", "203.0.113.10"}, Decision: true, Description: "The user's key line carries from=\"10.99.0.0/16\" (an office network): sshd refuses the key from anywhere else.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("sed -i 's/^/from=\"10.99.0.0\\/16\" /' /home/" + u + "/.ssh/authorized_keys")},
	{Name: "authorized-keys-expired", Guest: "guest.key_restricted", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Decision: true, Description: "The user's key line carries expiry-time=\"20200101\": sshd refuses the expired key.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("sed -i 's/^/expiry-time=\"20200101\" /' /home/" + u + "/.ssh/authorized_keys")},
	{Name: "authorized-keys-cert-authority", Guest: "guest.key_restricted", GuestArgs: []string{"--user", u, "--ssh-key", "{key}"}, Decision: true, Description: "The user's key line carries cert-authority (copied from a CA setup): sshd trusts certificates that key signed, not the key itself.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("sed -i 's/^/cert-authority /' /home/" + u + "/.ssh/authorized_keys")},
	{Name: "pubkey-algos-restricted", Guest: "guest.key_type_refused", GuestArgs: []string{"--user", u}, Decision: true, Description: "A hardening drop-in sets PubkeyAcceptedAlgorithms ecdsa-sha2-nistp256 only: the user's ed25519 key is refused.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("echo 'PubkeyAcceptedAlgorithms ecdsa-sha2-nistp256' > /etc/ssh/sshd_config.d/00-algorithms.conf\nservice ssh restart")},
	{Name: "chroot-unsafe", Guest: "guest.chroot_unsafe", GuestArgs: []string{"--user", u}, Decision: true, Check: CheckSpec{Exec: "true"}, Description: "A Match User block chroots the user into /srv/jail, which the user owns: sshd refuses the chroot and closes every session after authentication.", Expect: "session.refused", guest: true,
		apply: guestScript("mkdir -p /srv/jail\nchown " + u + " /srv/jail\nprintf '\\nMatch User " + u + "\\n\\tChrootDirectory /srv/jail\\n' >> /etc/ssh/sshd_config\nservice ssh restart")},
	{Name: "ssh-dir-unreadable", Guest: "guest.keys_unreadable", Description: "~/.ssh is mode 000 (a `chmod -R go-rwx` gone wrong): root reads the keys, but sshd opens them as the user, who cannot enter the directory.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chmod 000 /home/" + u + "/.ssh")},
	{Name: "authorized-keys-root-only", Guest: "guest.keys_unreadable", Description: "authorized_keys was written by root (sudo tee) and is root's, mode 0600: StrictModes allows a root-owned file, but the user, whom sshd reads it as, cannot.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chown root:root /home/" + u + "/.ssh/authorized_keys\nchmod 600 /home/" + u + "/.ssh/authorized_keys")},
	{Name: "home-root-private", Guest: "guest.keys_unreadable", Description: "The home directory is root's with mode 0700 (restored from a backup as root): the user cannot enter it, so sshd finds no key.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chown root:root /home/" + u + "\nchmod 700 /home/" + u)},
	{Name: "home-perms", Guest: "guest.strict_modes", Description: "The home directory is writable by a shared group (users); StrictModes makes sshd ignore the keys. (Debian tolerates group-write only for the user's private group.)", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chgrp users /home/" + u + "\nchmod 775 /home/" + u)},
	{Name: "ssh-dir-perms", Guest: "guest.strict_modes", Description: "~/.ssh is world-writable; StrictModes makes sshd ignore the keys.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chmod 777 /home/" + u + "/.ssh")},
	{Name: "authorized-keys-owner", Guest: "guest.strict_modes", Description: "authorized_keys belongs to another user; StrictModes makes sshd ignore it.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("chown nobody /home/" + u + "/.ssh/authorized_keys")},
	{Name: "user-missing", Guest: "guest.user_missing", GuestArgs: []string{"--user", u}, Description: "The user account was deleted (home kept).", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("userdel " + u)},
	{Name: "user-nologin-shell", Guest: "guest.user_shell", RepairArgs: []string{"--user", u}, Description: "The user's shell is /usr/sbin/nologin.", Expect: "session.nologin", guest: true,
		Check: CheckSpec{Exec: "true"}, apply: guestScript("usermod -s /usr/sbin/nologin " + u)},
	{Name: "user-locked", Guest: "guest.user_locked", RepairArgs: []string{"--user", u}, Description: "The account is locked (`usermod -L`).", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("usermod -L " + u)},
	{Name: "user-expired", Guest: "guest.user_expired", RepairArgs: []string{"--user", u}, Description: "The account expired (`usermod -e 1970-01-02`).", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("usermod -e 1 " + u)},
	{Name: "password-expired", Guest: "guest.password_expired", RepairArgs: []string{"--user", u}, Description: "The user's password has expired; sshd demands a change at password login.", Expect: "session.password_expired", guest: true,
		Check: CheckSpec{Exec: "true", Password: true}, apply: guestScript("chage -d 0 " + u)},
	{Name: "password-auth-disabled", Guest: "guest.password_auth_disabled", RepairArgs: []string{"--password-auth"}, Description: "A password user, but a cloud-init drop-in sets PasswordAuthentication no.", Expect: "auth.password_not_allowed", guest: true,
		Check: CheckSpec{Password: true},
		apply: guestScript("echo 'PasswordAuthentication no' > /etc/ssh/sshd_config.d/50-cloud-init.conf\nservice ssh restart")},
	{Name: "pam-access-denied", Guest: "guest.pam_access_denied", GuestArgs: []string{"--user", u, "--from", "203.0.113.10"}, Decision: true, Description: "pam_access is turned on in /etc/pam.d/sshd (with UsePAM yes, as on stock Debian and RHEL images; lab VMs otherwise run without PAM) and access.conf admits the user from the office network only: sshd accepts the key, then PAM's account check refuses the login.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("echo 'UsePAM yes' > /etc/ssh/sshd_config.d/01-pam.conf\nsed -i 's/^# *account *required *pam_access.so/account  required     pam_access.so/' /etc/pam.d/sshd\necho '- : " + u + " : ALL EXCEPT 10.99.0.0/16' >> /etc/security/access.conf\nservice ssh restart")},
	{Name: "maxauthtries-zero", Guest: "guest.max_auth_tries", Description: "A hardening script set MaxAuthTries 0 (meaning \"no limit\" to its author): sshd drops every client at its first authentication attempt.", Expect: "auth.too_many_failures", guest: true,
		apply: guestScript("echo 'MaxAuthTries 0' > /etc/ssh/sshd_config.d/10-tries.conf\nservice ssh restart")},
	{Name: "allowusers-from-office", Guest: "guest.user_denied", GuestArgs: []string{"--user", u, "--from", "203.0.113.10"}, Decision: true, Description: "AllowUsers " + u + "@10.99.0.0/16 lets the user in from the office network only: sshd refuses the user from anywhere else.", Expect: "auth.publickey_rejected", guest: true,
		apply: guestScript("echo 'AllowUsers " + u + "@10.99.0.0/16' > /etc/ssh/sshd_config.d/10-allow.conf\nservice ssh restart")},
	{Name: "allowusers-excludes", Guest: "guest.user_denied", GuestArgs: []string{"--user", u}, Description: "AllowUsers names only another user.", Expect: "auth.publickey_rejected", guest: true,
		apply: sshdConf("AllowUsers someoneelse")},
	{Name: "denyusers", Guest: "guest.user_denied", GuestArgs: []string{"--user", u}, Description: "DenyUsers names the user.", Expect: "auth.publickey_rejected", guest: true,
		apply: sshdConf("DenyUsers " + u)},
	{Name: "permitrootlogin-no", Guest: "guest.user_denied", GuestArgs: []string{"--user", "root"}, Description: "root has the key, but PermitRootLogin no.", Expect: "auth.publickey_rejected", guest: true,
		Check: CheckSpec{User: "root"},
		apply: guestScript("install -d -m 700 /root/.ssh\ncp /home/" + u + "/.ssh/authorized_keys /root/.ssh/authorized_keys\nsed -i '1i PermitRootLogin no' /etc/ssh/sshd_config\nservice ssh restart")},
	{Name: "pubkey-rsa-sha1-disabled", Guest: "guest.rsa_sha1_refused", RepairArgs: []string{"--allow-ssh-rsa"}, Description: "The user's RSA key is signed with ssh-rsa (SHA-1) by an old client; the server (OpenSSH ≥ 8.8) refuses ssh-rsa.", Expect: "auth.publickey_rejected", guest: true,
		Check: CheckSpec{LegacyRSA: true}, apply: rsaSHA1Fault},
	{Name: "hosts-allow-office-only", Guest: "guest.hosts_deny", GuestArgs: []string{"--from", "203.0.113.10"}, Decision: true, Description: "TCP wrappers admit sshd clients from the office network only (hosts.allow sshd: 10.99.0.0/16, hosts.deny sshd: ALL): everyone else is cut off before the banner.", Expect: "ssh.closed_before_banner", guest: true,
		Check: CheckSpec{Timeout: 8 * time.Second}, apply: guestScript("echo 'sshd: 10.99.0.0/16' >> /etc/hosts.allow\necho 'sshd: ALL' >> /etc/hosts.deny")},
	{Name: "hosts-deny", Guest: "guest.hosts_deny", Description: "/etc/hosts.deny bans sshd for everyone (TCP wrappers close the connection after a 5 s pause).", Expect: "ssh.closed_before_banner", guest: true,
		Check: CheckSpec{Timeout: 8 * time.Second}, apply: guestScript("echo 'sshd: ALL' >> /etc/hosts.deny")},
	{Name: "maxstartups-full", Guest: "guest.maxstartups_exhausted", Description: "MaxStartups 1 and a flood holding the only unauthenticated slot: sshd drops new connections before the banner.", Expect: "ssh.closed_before_banner", guest: true,
		apply: func(s *State, v *VMState) error {
			if err := sshdConf("MaxStartups 1\nLoginGraceTime 0")(s, v); err != nil {
				return err
			}
			// The "flood": one connection that never authenticates.
			return guestScript("setsid bash -c 'exec 3<>/dev/tcp/127.0.0.1/22; sleep 3600' </dev/null >/dev/null 2>&1 &\nsleep 0.3")(s, v)
		}},
	{Name: "nologin-file", Guest: "guest.nologin_file", Description: "/etc/nologin exists: sshd ends every non-root session with its text.", Expect: "session.nologin_file", guest: true,
		Check: CheckSpec{Exec: "true"}, apply: guestScript("echo 'System maintenance: logins are disabled.' > /etc/nologin")},
	{Name: "boot-fstab-error", Guest: "guest.fstab_missing_device", Description: "An fstab entry for a missing disk sends boot to emergency mode; sshd never starts (see the serial log).", Expect: "tcp.refused", guest: true,
		apply: func(s *State, v *VMState) error {
			if err := os.WriteFile(filepath.Join(s.vmDir(v.Name), "boot-fault"), []byte("fstab"), 0o644); err != nil {
				return err
			}
			if err := s.mustExec(v, "echo 'UUID=3f0a9c2e-0000-4000-8000-000000000001 /datadisk ext4 defaults 0 2' >> /etc/fstab"); err != nil {
				return err
			}
			return s.Restart(v, "")
		}},
}

// rsaSHA1Fault gives the client an RSA key that an old client signs with
// ssh-rsa only, authorizes it, and makes the server's policy explicit.
func rsaSHA1Fault(s *State, v *VMState) error {
	path := filepath.Join(s.clientDir(), "id_rsa_legacy")
	if _, err := os.Stat(path); err != nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		block, err := ssh.MarshalPrivateKey(key, "legacy")
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
		pub, _ := ssh.NewPublicKey(&key.PublicKey)
		if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return err
	}
	return guestScript(fmt.Sprintf("printf '%%s\\n' '%s' >> /home/%s/.ssh/authorized_keys\nsed -i '1i PubkeyAcceptedAlgorithms -ssh-rsa' /etc/ssh/sshd_config\nservice ssh restart", strings.TrimSpace(string(pub)), u))(s, v)
}

// RefreshKnownHosts records the VMs' current host keys on the client, as a
// user does after verifying a new key on the console.
func (s *State) RefreshKnownHosts() error { return s.writeKnownHosts() }

// LegacyRSAKey is the client key the pubkey-rsa-sha1-disabled fault uses.
func (s *State) LegacyRSAKey() string { return filepath.Join(s.clientDir(), "id_rsa_legacy") }

// FaultByName finds a fault in the catalogue.
func FaultByName(name string) (*Fault, error) {
	for i := range Faults {
		if Faults[i].Name == name {
			return &Faults[i], nil
		}
	}
	var names []string
	for _, f := range Faults {
		names = append(names, f.Name)
	}
	return nil, fmt.Errorf("no fault %q (see `sshdoctor lab faults`: %s)", name, strings.Join(names, ", "))
}

// undo is what heal restores: the network as it was before the first
// fault, and the VM's disk from its snapshot.
type undo struct {
	NSG       *cloud.NSG    `json:"nsg"`
	SubnetNSG *cloud.NSG    `json:"subnet_nsg"`
	Routes    []cloud.Route `json:"routes"`
	Disk      bool          `json:"disk"` // a snapshot exists in vms/NAME/snapshot
}

// diskDirs are the VM's writable disk: what a snapshot holds.
var diskDirs = []string{"etc.upper", "srv.upper", "opt.upper", "varlib.upper", "home", "root"}

// overlays are the machine's directories a VM sees through an overlay:
// the host's files below, the VM's changes in NAME.upper (its disk).
var overlays = []struct{ dir, name string }{{"/etc", "etc"}, {"/srv", "srv"}, {"/opt", "opt"}, {"/var/lib", "varlib"}}

// Break injects a fault into a VM and records how to undo it.
func (s *State) Break(v *VMState, f *Fault) error {
	if slices.Contains(v.Faults, f.Name) {
		return fmt.Errorf("%s already has fault %s (run `sshdoctor lab heal %s`)", v.Name, f.Name, v.Name)
	}
	if v.Power != cloud.PowerRunning {
		return fmt.Errorf("%s is %s; start it before injecting %s", v.Name, v.Power, f.Name)
	}
	if v.Undo == nil {
		v.Undo = &undo{NSG: cloneNSG(v.NSG), SubnetNSG: cloneNSG(s.SubnetNSG), Routes: slices.Clone(s.Routes)}
	}
	if f.guest && !v.Undo.Disk {
		if err := s.snapshot(v); err != nil {
			return err
		}
		v.Undo.Disk = true
	}
	v.Faults = append(v.Faults, f.Name)
	if err := s.Save(); err != nil {
		return err
	}
	if err := f.apply(s, v); err != nil {
		return fmt.Errorf("inject %s into %s: %w", f.Name, v.Name, err)
	}
	return s.Save()
}

// Heal undoes every fault injected into v.
func (s *State) Heal(v *VMState, self string) error {
	if v.Undo == nil {
		return nil
	}
	if v.Undo.Disk {
		s.kill(v)
		if err := s.restore(v); err != nil {
			return err
		}
		// Tables a fault added inside the VM's network namespace outlive
		// its processes (the lab's own tables live in the router), and
		// so does a route it removed.
		s.flushGuestFirewall(v)
		_ = run("ip", "-n", s.nsVM(v), "route", "replace", "default", "via", routerVMIP)
	}
	v.NSG, s.SubnetNSG, s.Routes = v.Undo.NSG, v.Undo.SubnetNSG, v.Undo.Routes
	v.Faults, v.Undo = nil, nil
	if v.Power != cloud.PowerRunning || !v.alive() {
		if err := s.Start(v, self); err != nil { // Start applies the network
			return err
		}
	} else if err := s.applyNetwork(); err != nil {
		return err
	}
	return s.Save()
}

func cloneNSG(n *cloud.NSG) *cloud.NSG {
	if n == nil {
		return nil
	}
	c := *n
	c.Rules = slices.Clone(n.Rules)
	return &c
}

// snapshot copies the VM's disk (cp -a keeps owners, modes and overlay
// whiteouts).
func (s *State) snapshot(v *VMState) error {
	d := s.vmDir(v.Name)
	snap := filepath.Join(d, "snapshot")
	_ = os.RemoveAll(snap)
	if err := os.MkdirAll(snap, 0o700); err != nil {
		return err
	}
	for _, dir := range diskDirs {
		if out, err := cpA(filepath.Join(d, dir), snap+"/"); err != nil {
			return fmt.Errorf("snapshot %s: %v: %s", v.Name, err, out)
		}
	}
	return nil
}

// restore puts the snapshot back; the VM must be stopped (overlay upper
// directories must not change under a mounted overlay).
func (s *State) restore(v *VMState) error {
	d := s.vmDir(v.Name)
	snap := filepath.Join(d, "snapshot")
	for _, dir := range diskDirs {
		if err := os.RemoveAll(filepath.Join(d, dir)); err != nil {
			return err
		}
		if out, err := cpA(filepath.Join(snap, dir), d+"/"); err != nil {
			return fmt.Errorf("restore %s: %v: %s", v.Name, err, out)
		}
	}
	for _, o := range overlays {
		_ = os.RemoveAll(filepath.Join(d, o.name+".work"))
		_ = os.MkdirAll(filepath.Join(d, o.name+".work"), 0o755)
	}
	_ = os.Remove(filepath.Join(d, "boot-fault"))
	return os.RemoveAll(snap)
}

// cpA copies with cp -a, in its own process group (see ownGroup).
func cpA(src, dst string) ([]byte, error) {
	cmd := exec.Command("cp", "-a", src, dst)
	cmd.SysProcAttr = ownGroup()
	return cmd.CombinedOutput()
}

func (s *State) flushGuestFirewall(v *VMState) {
	out, err := output(nil, "ip", "netns", "exec", s.nsVM(v), "nft", "list", "tables")
	if err != nil {
		return
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "table" {
			_ = run("ip", "netns", "exec", s.nsVM(v), "nft", "delete", "table", f[1], f[2])
		}
	}
}
