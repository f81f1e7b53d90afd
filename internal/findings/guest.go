package findings

// LayerGuest is the in-VM vantage point (`sshdoctor guest`).
const LayerGuest Layer = "guest"

// Guest-side findings: what `sshdoctor guest check` sees inside the VM.
func init() {
	Register(
		Def{"guest.sshd_missing", LayerGuest, Error, "The sshd binary is not installed.", "Install the OpenSSH server package (openssh-server)."},
		Def{"guest.sshd_config_invalid", LayerGuest, Error, "sshd -t rejects the configuration: sshd cannot (re)start.", "`sshdoctor guest repair` disables the offending line; or fix the line sshd names."},
		Def{"guest.disk_full", LayerGuest, Error, "A file system sshd writes to (/, /var, /run, /home, /tmp) has no space or no inodes left.", "Free space: `journalctl --vacuum-size=100M`, `apt-get clean`/`dnf clean all`, remove old logs and core files (`du -xh / | sort -h | tail`), or grow the disk; for inodes, delete many small files (`find / -xdev -type f | cut -d/ -f2-3 | sort | uniq -c | sort -n | tail`)."},
		Def{"guest.hostkeys_missing", LayerGuest, Error, "No readable host key: sshd refuses to start.", "Regenerate host keys with `ssh-keygen -A` (`sshdoctor guest repair` does)."},
		Def{"guest.hostkey_perms", LayerGuest, Error, "A host key's private file is readable by others: sshd ignores it (\"are too open\"), and refuses to start when no key is left.", "`chmod 600 KEY` and owner root (`sshdoctor guest repair` does)."},
		Def{"guest.hostkey_invalid", LayerGuest, Error, "A host key's private file cannot be parsed (truncated, corrupt, wrong format): sshd cannot use it.", "Move it aside and regenerate it (`rm KEY && ssh-keygen -A`; `sshdoctor guest repair` does): clients will see a new host key and must accept it."},
		Def{"guest.privsep_user_missing", LayerGuest, Error, "sshd's privilege-separation user does not exist: sshd refuses to start.", "Create the system user (`useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sshd`; `sshdoctor guest repair` does)."},
		Def{"guest.sshd_binary_missing", LayerGuest, Error, "A program sshd runs for every connection (sshd-session, sshd-auth) is missing or not executable: the package is broken.", "Reinstall the OpenSSH server package (`apt-get install --reinstall openssh-server`, `dnf reinstall openssh-server`)."},
		Def{"guest.sshd_config_unreadable", LayerGuest, Error, "sshd cannot read its configuration file (missing, or no permission).", "Restore sshd_config (`sshdoctor guest reset-ssh --yes` writes the distribution's default, keeping hardening found in drop-ins; or reinstall openssh-server)."},
		Def{"guest.sshd_start_failed", LayerGuest, Error, "sshd -t fails for a reason outside any configuration line: sshd cannot (re)start.", "Read sshd's message in the evidence; `sshd -t` and `journalctl -u ssh -n 50` on the VM."},
		Def{"guest.privsep_dir_missing", LayerGuest, Error, "sshd's privilege-separation directory /run/sshd is missing.", "Create it (`install -d -m 755 /run/sshd`); `sshdoctor guest repair` does."},
		Def{"guest.sshd_not_running", LayerGuest, Error, "sshd is not running.", "Start it through the service manager (`sshdoctor guest repair`)."},
		Def{"guest.sshd_unit_failed", LayerGuest, Error, "systemd gave up on the ssh service (ActiveState failed, e.g. start-limit-hit): sshd stays down.", "Find the cause (`journalctl -u ssh -n 50`), fix it, then `systemctl reset-failed ssh && systemctl restart ssh` (`sshdoctor guest repair`)."},
		Def{"guest.sshd_crash_loop", LayerGuest, Warning, "systemd keeps restarting sshd (NRestarts ≥ 3): it crashes, and connections drop while it restarts.", "Find why sshd dies: `journalctl -u ssh -n 100`, sshd's log lines in this report, `coredumpctl list sshd`; check disk space and memory (OOM kills)."},
		Def{"guest.sshd_wrong_port", LayerGuest, Error, "sshd listens on another port than the one clients and firewalls expect.", "Set Port back in the file that changed it (`sshdoctor guest repair`), or connect with -p and open that port in the NSG."},
		Def{"guest.port_taken", LayerGuest, Error, "Another program listens on sshd's port: sshd cannot bind it, and clients reach that program instead.", "Find it (`ss -ltnp 'sport = :22'`), stop or reconfigure it, then restart sshd; or move sshd to another port and open that one."},
		Def{"guest.listen_address_absent", LayerGuest, Error, "sshd is told to listen only on addresses this VM does not have (a static IP that changed, a configuration copied from another VM): it cannot bind and does not start.", "Remove or correct those ListenAddress lines (`sshdoctor guest repair` disables them, so sshd listens on every address)."},
		Def{"guest.sshd_loopback_only", LayerGuest, Error, "sshd listens on the loopback address only.", "Remove the ListenAddress that restricts it (`sshdoctor guest repair`)."},
		Def{"guest.firewall_blocks", LayerGuest, Error, "The guest firewall drops or rejects sshd's port for every client.", "Delete the rule (`sshdoctor guest repair`), or allow TCP/22 before it with the tool that owns it (`ufw allow 22/tcp`, `firewall-cmd --add-service=ssh --permanent && firewall-cmd --reload`)."},
		Def{"guest.firewall_default_deny", LayerGuest, Error, "The guest firewall drops everything it does not accept (policy drop, or a final catch-all drop/reject), and no rule accepts sshd's port.", "Allow sshd's port with the tool that owns the firewall: `ufw allow 22/tcp`, `firewall-cmd --permanent --add-service=ssh && firewall-cmd --reload`, or an nftables accept rule in /etc/nftables.conf (`sshdoctor guest repair` adds it)."},
		Def{"guest.key_restricted", LayerGuest, Error, "The client's key is authorized only on lines whose options refuse this login (from= not admitting the client's address, expiry-time passed).", "A decision, not a fault: if the login should be allowed, edit that line (widen from=, extend expiry-time) or authorize the key again on its own line; `sshdoctor guest check --from ADDR --ssh-key KEY` shows the line."},
		Def{"guest.ssh_source_banned", LayerGuest, Warning, "A guest firewall rule (fail2ban, sshguard, or `ip saddr ADDR|@set`) drops or rejects sshd's port for some source addresses only.", "If a legitimate client is banned, unban it (`fail2ban-client set sshd unbanip IP`, or remove the address from the nft set); the rule itself stays."},
		Def{"guest.hosts_deny", LayerGuest, Error, "TCP wrappers (/etc/hosts.deny) refuse sshd connections.", "Remove the sshd/ALL entry from /etc/hosts.deny or allow clients in /etc/hosts.allow."},
		Def{"guest.maxstartups_exhausted", LayerGuest, Error, "Unauthenticated connections fill MaxStartups: sshd drops new ones before the banner.", "Restore MaxStartups/LoginGraceTime defaults and find the flood's source."},
		Def{"guest.fstab_missing_device", LayerGuest, Error, "/etc/fstab mounts a device that does not exist, without nofail: the boot stops in emergency mode.", "Add nofail to the entry (`sshdoctor guest repair`), or remove it; then reboot."},
		Def{"guest.nologin_file", LayerGuest, Error, "/etc/nologin exists: only root may log in.", "Remove /etc/nologin (`sshdoctor guest repair`)."},
		Def{"guest.user_missing", LayerGuest, Error, "The user does not exist.", "Create it (`sshdoctor guest repair --user U` recreates an account whose home remains; or `guest user set`)."},
		Def{"guest.user_shell", LayerGuest, Error, "The user's shell refuses logins (nologin/false or missing).", "Give the user a login shell (`usermod -s /bin/bash U`)."},
		Def{"guest.user_locked", LayerGuest, Error, "The account is locked.", "Unlock it (`usermod -U U`)."},
		Def{"guest.user_expired", LayerGuest, Error, "The account has expired.", "Clear the expiry (`chage -E -1 U`)."},
		Def{"guest.password_expired", LayerGuest, Error, "The user's password has expired; logins demand a change.", "Set a new password, or lift the expiry (`chage -d today U`)."},
		Def{"guest.no_authorized_keys", LayerGuest, Error, "The user has no authorized key sshd can read.", "Install the user's public key (`sshdoctor guest repair --user U --ssh-key-file KEY.pub`)."},
		Def{"guest.key_not_authorized", LayerGuest, Error, "The key you gave is not in the user's authorized_keys.", "`sshdoctor guest repair --user U --ssh-key-file KEY.pub` adds it."},
		Def{"guest.strict_modes", LayerGuest, Error, "Owner or permissions of the home, ~/.ssh or authorized_keys make sshd (StrictModes) ignore the keys.", "Fix owner and modes (`sshdoctor guest repair`)."},
		Def{"guest.authorized_keys_symlink", LayerGuest, Warning, "The user's authorized_keys is a symbolic link: sshd follows it, but sshdoctor's repairs never write through it.", "Nothing to do if the link is intended (dotfiles). For `sshdoctor guest repair` or `guest user set` to manage the keys, replace the link with a regular file of the user's own in ~/.ssh."},
		Def{"guest.selinux_context", LayerGuest, Error, "SELinux enforces and ~/.ssh or authorized_keys is not labelled ssh_home_t: sshd cannot read the keys.", "Restore the labels: `restorecon -Rv ~/.ssh` (`sshdoctor guest repair` does)."},
		Def{"guest.user_denied", LayerGuest, Error, "AllowUsers/DenyUsers/AllowGroups/DenyGroups or PermitRootLogin refuse the user.", "Edit the directive in the file that sets it (`sshdoctor guest repair --user U`)."},
		Def{"guest.pubkey_disabled", LayerGuest, Error, "PubkeyAuthentication is off.", "Remove the line that turns it off (`sshdoctor guest repair`)."},
		Def{"guest.password_auth_disabled", LayerGuest, Warning, "The user has a password, but PasswordAuthentication is off.", "Use a key, or `sshdoctor guest repair --password-auth` to allow passwords."},
		Def{"guest.rsa_sha1_refused", LayerGuest, Warning, "The user has RSA keys, and sshd refuses ssh-rsa (SHA-1) signatures: old clients cannot log in.", "Update the client, use an Ed25519 key, or `sshdoctor guest repair --allow-ssh-rsa`."},
		Def{"guest.sshd_log", LayerGuest, Info, "sshd logged refusals or errors recently (auth.log, secure or the journal).", "Read them next to the findings above: they name the user, the source address and sshd's reason."},
		Def{"guest.ok", LayerGuest, Info, "Nothing inside the guest stops SSH.", "If clients still fail, look at the network: run `sshdoctor check` from the client, and the cloud's NSGs and routes."},
	)
}
