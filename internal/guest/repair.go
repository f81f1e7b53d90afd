package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/sshdoctor/sshdoctor/internal/safefs"
)

// RepairOptions choose what repair may do beyond the safe defaults.
type RepairOptions struct {
	DryRun bool
	// Keys to authorize for users without a usable key (--ssh-key).
	Keys []ssh.PublicKey
	// PasswordAuth allows re-enabling PasswordAuthentication.
	PasswordAuth bool
	// AllowSSHRSA allows ssh-rsa (SHA-1) signatures again.
	AllowSSHRSA bool
	// Users are the accounts the caller named (--user): only for them does
	// repair change account policy (see policyFindings).
	Users   []string
	Command string // for the backup manifest
	// Remote: the facts are another machine's (FactsFromRemote), repaired
	// through RemoteRepairScript. Plan then looks nothing up on this
	// machine (the default login shell, whether restorecon is installed):
	// the VM decides when the script runs.
	Remote bool
}

// policyFindings are decisions an admin may have taken on purpose: a
// locked, expired or nologin account, an Allow/Deny list, a deleted
// account, which keys let a user in. Repair changes them only for a user
// the caller named; for others it says how to opt in.
var policyFindings = map[string]bool{
	"guest.user_locked": true, "guest.user_expired": true, "guest.password_expired": true,
	"guest.user_shell": true, "guest.user_denied": true, "guest.user_missing": true,
	"guest.no_authorized_keys": true, "guest.key_not_authorized": true,
}

// OptInCommand is the repair command line that opts in to changing user's
// account policy.
func OptInCommand(user string, o RepairOptions) string {
	cmd := "sshdoctor guest repair --user " + user
	if len(o.Keys) > 0 {
		cmd += " --ssh-key '" + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(o.Keys[0]))) + "'"
	}
	return cmd + " --yes"
}

// Action is one planned change.
type Action struct {
	For         string `json:"for"` // the finding ID it addresses
	User        string `json:"user,omitempty"`
	Description string `json:"description"`
	// Skipped says why a finding gets no action (needs a flag, say).
	Skipped string `json:"skipped,omitempty"`
	// Op is the change as data, for an executor other than this process
	// (RemoteRepairScript); nil for a skipped action and for the actions
	// of reset-ssh, user set/remove and apply, which run only here.
	Op   *Op  `json:"op,omitempty"`
	sshd bool // sshd must be restarted afterwards
	do   func(b *Backup) error
}

// Op kinds. Each is one of Plan's changes, made the same way by the local
// closure and by RemoteRepairScript's sh.
//
//	kind                     fields                       change
//	disable-line             Edits                        comment the line out: "# sshdoctor: disabled (why): LINE"
//	replace-line             Edits                        the line becomes "TEXT # sshdoctor: was: LINE"; sshd -t
//	insert-line              Edits (Line 0)               Text before the first line; sshd -t
//	disable-loopback-listen  Edits (the first one)        disable every loopback ListenAddress line of the file
//	allow-user               Edits (Text ""), User        AllowUsers/AllowGroups gain the user (its primary group,
//	                                                      as the VM says), DenyUsers/DenyGroups lose it (the line
//	                                                      is disabled when nothing is left), PermitRootLogin
//	                                                      becomes prohibit-password; sshd -t
//	maxstartups-defaults     Edits                        disable MaxStartups and LoginGraceTime 0
//	fstab-nofail             Edits                        the entry's options gain nofail (fields TAB-joined)
//	keygen-hostkeys          -                            ssh-keygen -A
//	mkdir                    Path, Mode                   create the directory (root's)
//	remove-file              Path                         remove it
//	start-sshd               -                            nothing: the restart that follows starts sshd
//	reset-failed             Unit                         systemctl reset-failed UNIT
//	nft-delete-rule          Rule                         nft delete rule FAMILY TABLE CHAIN handle N
//	useradd-with-home        User, UID, Home              useradd -M -d HOME -s <default shell> -U [-u UID];
//	                                                      usermod -p '*' (no password, not locked)
//	set-shell                User                         usermod -s <the VM's default shell>
//	usermod-unlock           User                         usermod -U
//	chage-unexpire           User                         chage -E -1
//	chage-lastday            User                         chage -d <the VM's today>
//	fix-modes                User, UID, Home, Paths       owner: the user's unless root's; mode: no group/world
//	                                                      write, a directory inside the home 0700
//	restorecon               Paths                        restorecon -R
//	hostkey-mode             Path                         a host key's private file: owner root, mode 0600
//	disable-listen-addrs     Edits (1), Paths (hosts)     disable every ListenAddress line of the edit's file
//	                                                      naming one of the hosts
//	firewall-allow           Rule (Family, Table, Chain,  accept TCP to Port: ufw allow, firewall-cmd
//	                         Frontend, Port)              --permanent --add-port + --reload, else nft insert
//	useradd-system           User                         useradd --system, no home, nologin shell (sshd's
//	                                                      privilege-separation user)
//	authorize-key            User, UID, GID, Home, Path,  add the keys missing from the key file Path (~/.ssh
//	                         Keys                         0700, the file 0600, the user's; outside the home the
//	                                                      owner is kept); Path "" = no file to write: refused
//
// Every line edit carries the line's text as the facts saw it (Expect):
// an executor refuses the action if the line now reads otherwise (the VM
// changed since). Choices only the VM can make (its default shell, a
// user's primary group, a path's current owner and mode) are left to it.
const (
	OpDisableLine           = "disable-line"
	OpReplaceLine           = "replace-line"
	OpInsertLine            = "insert-line"
	OpDisableLoopbackListen = "disable-loopback-listen"
	OpAllowUser             = "allow-user"
	OpMaxStartupsDefaults   = "maxstartups-defaults"
	OpFstabNofail           = "fstab-nofail"
	OpKeygenHostkeys        = "keygen-hostkeys"
	OpMkdir                 = "mkdir"
	OpRemoveFile            = "remove-file"
	OpStartSSHD             = "start-sshd"
	OpResetFailed           = "reset-failed"
	OpNftDeleteRule         = "nft-delete-rule"
	OpUseraddWithHome       = "useradd-with-home"
	OpSetShell              = "set-shell"
	OpUsermodUnlock         = "usermod-unlock"
	OpChageUnexpire         = "chage-unexpire"
	OpChageLastday          = "chage-lastday"
	OpFixModes              = "fix-modes"
	OpRestorecon            = "restorecon"
	OpAuthorizeKey          = "authorize-key"
	OpHostkeyMode           = "hostkey-mode"
	OpUseraddSystem         = "useradd-system"
	OpFirewallAllow         = "firewall-allow"
	OpDisableListenAddrs    = "disable-listen-addrs"
	OpUserAccess            = "user-access"
	OpBinaryMode            = "binary-mode"
)

// Op is an Action as data (see the kinds above).
type Op struct {
	Kind  string     `json:"kind"`
	Edits []LineEdit `json:"edits,omitempty"`
	Path  string     `json:"path,omitempty"`
	Mode  uint32     `json:"mode,omitempty"`
	User  string     `json:"user,omitempty"`
	// UID and GID are the user's (fix-modes, authorize-key), or the
	// owner of the home an account is recreated with (useradd-with-home;
	// 0: useradd picks).
	UID   int      `json:"uid,omitempty"`
	GID   int      `json:"gid,omitempty"`
	Home  string   `json:"home,omitempty"`
	Paths []string `json:"paths,omitempty"`
	Keys  []string `json:"keys,omitempty"` // authorized_keys lines ("TYPE BASE64")
	Unit  string   `json:"unit,omitempty"`
	Rule  *NftRule `json:"rule,omitempty"`
	// Restart: sshd's configuration must pass sshd -t and sshd be
	// restarted (and listen again) after the plan's changes.
	Restart bool `json:"restart,omitempty"`
}

// LineEdit changes one line of a file.
type LineEdit struct {
	Path   string `json:"path"`
	Line   int    `json:"line"`             // 1-based; 0: insert before the first line
	Expect string `json:"expect,omitempty"` // the line as the facts saw it
	Text   string `json:"text,omitempty"`   // what it becomes
}

// NftRule names one nftables rule, with its text to check it is still
// the rule the facts saw.
type NftRule struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Handle int    `json:"handle"`
	Text   string `json:"text"`
	// Frontend owns the chain (ufw, firewalld, iptables, nftables):
	// firewall-allow goes through it.
	Frontend string `json:"frontend,omitempty"`
	// Port to allow (firewall-allow).
	Port int `json:"port,omitempty"`
}

// Result of a repair run.
type Result struct {
	Actions   []Action `json:"actions"`
	Backup    string   `json:"backup,omitempty"`
	Restarted bool     `json:"sshd_restarted"`
	// RebootRequired: the changes take effect at the next boot (the
	// current boot is stuck before sshd, e.g. in emergency mode).
	RebootRequired bool `json:"reboot_required"`
	RolledBack     bool `json:"rolled_back"`
	// Interrupted: Ctrl-C or SIGTERM came during the transaction. With
	// RolledBack, nothing stayed changed; without, the signal came after
	// sshd was restarted, and the repair was finished.
	Interrupted bool      `json:"interrupted,omitempty"`
	Error       string    `json:"error,omitempty"`
	Remaining   []Problem `json:"remaining"`
}

const sshdConfig = "/etc/ssh/sshd_config"

// Plan maps problems to actions. It changes nothing.
func Plan(f *Facts, ps []Problem, o RepairOptions) []Action {
	var acts []Action
	add := func(p Problem, desc string, restart bool, op *Op, do func(b *Backup) error) {
		op.Restart = restart
		acts = append(acts, Action{For: p.ID, User: p.User, Description: desc, Op: op, sshd: restart, do: do})
	}
	skip := func(p Problem, why string) {
		acts = append(acts, Action{For: p.ID, User: p.User, Skipped: why})
	}
	for _, p := range ps {
		p := p
		if policyFindings[p.ID] && p.User != "" && !slices.Contains(o.Users, p.User) {
			skip(p, fmt.Sprintf("an admin may have set this on purpose; to change %s's account, name it: %s", p.User, OptInCommand(p.User, o)))
			continue
		}
		switch p.ID {
		case "guest.hostkeys_missing":
			add(p, "generate missing host keys (ssh-keygen -A)", true, &Op{Kind: OpKeygenHostkeys}, keygenHostkeys)
		case "guest.hostkey_perms":
			for _, pm := range p.Paths {
				k := pm.Path
				add(p, fmt.Sprintf("make host key %s private (owner root, mode 0600; was %s)", k, pm.Mode), true, &Op{Kind: OpHostkeyMode, Path: k}, func(b *Backup) error {
					if err := b.Save(k); err != nil {
						return err
					}
					return privateHostKey(k)
				})
			}
		case "guest.hostkey_invalid":
			for _, pm := range p.Paths {
				k := pm.Path
				add(p, fmt.Sprintf("move aside the unparseable host key %s (kept in the backup set)", k), false, &Op{Kind: OpRemoveFile, Path: k}, func(b *Backup) error {
					if err := b.Save(k); err != nil {
						return err
					}
					return os.Remove(k)
				})
			}
			add(p, "generate the missing host keys (ssh-keygen -A): clients will see a new host key", true, &Op{Kind: OpKeygenHostkeys}, keygenHostkeys)
		case "guest.privsep_user_missing":
			if !remoteUserName().MatchString(p.User) {
				skip(p, fmt.Sprintf("%q is not a user name sshdoctor creates", p.User))
				continue
			}
			u := p.User
			add(p, fmt.Sprintf("create the system user %s (no home, no login shell) for sshd's privilege separation", u), true, &Op{Kind: OpUseraddSystem, User: u}, func(b *Backup) error {
				if err := saveAccounts(b); err != nil {
					return err
				}
				return run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", nologinShell(), "--", u)
			})
		case "guest.privsep_dir_missing":
			dir := "/run/sshd"
			if len(p.Paths) > 0 && p.Paths[0].Path != "" {
				dir = p.Paths[0].Path
			}
			if !slices.Contains(privsepDirs, dir) {
				skip(p, dir+" is not a privilege-separation directory sshdoctor knows: create it by hand (install -d -m 755 -o root "+dir+")")
				continue
			}
			add(p, fmt.Sprintf("create %s (0755, root)", dir), true, &Op{Kind: OpMkdir, Path: dir, Mode: 0o755}, func(b *Backup) error {
				if err := b.Save(dir); err != nil {
					return err
				}
				return rootDir(dir, 0o755)
			})
		case "guest.sshd_config_invalid":
			if p.Origin == nil {
				skip(p, "sshd -t names no line to disable; fix the configuration by hand or run `sshdoctor guest reset-ssh`")
				continue
			}
			add(p, fmt.Sprintf("disable the invalid line %s: %q", at(p.Origin), strings.TrimSpace(p.Origin.Text)), true, disableOp(*p.Origin, whyInvalid), disableLine(*p.Origin, whyInvalid))
		case "guest.sshd_unit_failed":
			unit := "ssh.service"
			if p.Unit != "" {
				unit = p.Unit
			}
			add(p, "clear systemd's failed state of "+unit+" (systemctl reset-failed), then restart it", true, &Op{Kind: OpResetFailed, Unit: unit}, func(b *Backup) error {
				return run("systemctl", "reset-failed", unit)
			})
		case "guest.sshd_not_running":
			add(p, "start sshd through the service manager ("+orDash(f.ServiceMgr)+")", true, &Op{Kind: OpStartSSHD}, nil)
		case "guest.sshd_wrong_port":
			if p.Origin == nil {
				skip(p, "no Port line found to change")
				continue
			}
			text := fmt.Sprintf("Port %d", f.Port)
			if k, v := splitKV(strings.TrimSpace(p.Origin.Text)); strings.EqualFold(k, "ListenAddress") {
				host, _, _ := splitListen(v)
				if strings.Contains(host, ":") {
					host = "[" + host + "]"
				}
				text = fmt.Sprintf("ListenAddress %s:%d", host, f.Port)
			}
			add(p, fmt.Sprintf("set %q at %s (was %q)", text, at(p.Origin), strings.TrimSpace(p.Origin.Text)), true, replaceOp(*p.Origin, text), replaceLine(*p.Origin, text))
		case "guest.listen_address_absent":
			if p.Origin == nil {
				skip(p, "no ListenAddress line found")
				continue
			}
			hosts := slices.Clone(p.Hosts)
			op := &Op{Kind: OpDisableListenAddrs, Edits: []LineEdit{disableEdit(*p.Origin, whyListenAbsent)}, Paths: hosts}
			add(p, fmt.Sprintf("disable the ListenAddress lines in %s naming %s (not addresses of this VM)", p.Origin.File, strings.Join(hosts, ", ")), true, op, func(b *Backup) error {
				return editFile(b, p.Origin.File, func(lines []string) []string {
					for i, l := range lines {
						k, v := splitKV(strings.TrimSpace(l))
						if strings.EqualFold(k, "ListenAddress") && slices.Contains(hosts, listenHost(v)) {
							lines[i] = disabledText(whyListenAbsent, l)
						}
					}
					return lines
				}, true)
			})
		case "guest.sshd_ipv6_only":
			if p.Origin == nil {
				skip(p, "no AddressFamily inet6 line found: check ListenAddress and AddressFamily by hand")
				continue
			}
			add(p, fmt.Sprintf("disable %s: %q (sshd then listens over IPv4 and IPv6)", at(p.Origin), p.Origin.textOr()), true, disableOp(*p.Origin, whyIPv6Only), disableLine(*p.Origin, whyIPv6Only))
		case "guest.sshd_loopback_only":
			if p.Origin == nil {
				skip(p, "no ListenAddress line found")
				continue
			}
			op := &Op{Kind: OpDisableLoopbackListen, Edits: []LineEdit{disableEdit(*p.Origin, whyLoopback)}}
			add(p, "disable loopback-only ListenAddress lines in "+p.Origin.File, true, op, func(b *Backup) error {
				return editFile(b, p.Origin.File, func(lines []string) []string {
					for i, l := range lines {
						k, v := splitKV(strings.TrimSpace(l))
						if strings.EqualFold(k, "ListenAddress") && isLoopback(v) {
							lines[i] = disabledText(whyLoopback, l)
						}
					}
					return lines
				}, true)
			})
		case "guest.firewall_blocks":
			r := p.Rule
			op := &Op{Kind: OpNftDeleteRule, Rule: &NftRule{Family: r.Family, Table: r.Table, Chain: r.Chain, Handle: r.Handle, Text: r.Text}}
			add(p, fmt.Sprintf("delete nftables rule %s %s %s handle %d: %s", r.Family, r.Table, r.Chain, r.Handle, r.Text), false, op, func(b *Backup) error {
				if out, err := exec.Command("nft", "list", "ruleset").Output(); err == nil {
					_ = os.WriteFile(filepath.Join(b.Dir(), "nft-ruleset.before"), out, 0o600)
				}
				return run("nft", "delete", "rule", r.Family, r.Table, r.Chain, "handle", fmt.Sprint(r.Handle))
			})
		case "guest.firewall_default_deny":
			r := p.Rule
			port := f.Port
			op := &Op{Kind: OpFirewallAllow, Rule: &NftRule{Family: r.Family, Table: r.Table, Chain: r.Chain, Frontend: r.Frontend, Port: port}}
			add(p, fmt.Sprintf("allow TCP/%d through the %s firewall (%s %s %s drops by default)", port, r.Frontend, r.Family, r.Table, r.Chain), false, op, func(b *Backup) error {
				if out, err := exec.Command("nft", "list", "ruleset").Output(); err == nil {
					_ = os.WriteFile(filepath.Join(b.Dir(), "nft-ruleset.before"), out, 0o600)
				}
				ps := strconv.Itoa(port)
				switch r.Frontend {
				case "ufw":
					return run("ufw", "allow", ps+"/tcp")
				case "firewalld":
					if err := run("firewall-cmd", "--permanent", "--add-port="+ps+"/tcp"); err != nil {
						return err
					}
					return run("firewall-cmd", "--reload")
				}
				return run("nft", "insert", "rule", r.Family, r.Table, r.Chain, "tcp", "dport", ps, "accept", "comment", `"sshdoctor"`)
			})
		case "guest.key_type_refused":
			skip(p, "the accepted key types are an admin's choice: give the user a key of an accepted type (`ssh-keygen -t ed25519`), or add its type to PubkeyAcceptedAlgorithms at "+orDash(at(p.Origin)))
		case "guest.chroot_unsafe":
			skip(p, "chroot directories are an admin's layout: make each component root's and not group/world writable ("+p.Evidence[0]+"), with a writable directory for the user inside")
		case "guest.port_taken":
			skip(p, "which program should own the port is a decision: stop it (`ss -ltnp 'sport = :22'` shows it), then restart sshd")
		case "guest.authorized_keys_malformed", "guest.keys_misplaced":
			var keys []ssh.PublicKey
			for _, k := range p.Keys {
				if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
					keys = append(keys, pk)
				}
			}
			if len(keys) == 0 {
				skip(p, "no broken line holds a key sshdoctor can write again without losing the line's options: rewrite it as one line by hand (`ssh-keygen -i -f KEY.pub` converts RFC 4716 and PEM keys)")
				continue
			}
			what := fmt.Sprintf("authorize again, one OpenSSH line each, the %d key(s) %s's unreadable lines hold (those lines stay; sshd skips them)", len(keys), p.User)
			if p.ID == "guest.keys_misplaced" {
				what = fmt.Sprintf("authorize for %s the %d key(s) of the file sshd does not read (it stays as it is)", p.User, len(keys))
			}
			add(p, what, false, authorizeOp(f, p.User, keys), authorizeKeys(f, p.User, keys))
		case "guest.private_key_in_authorized_keys":
			skip(p, "a pasted private key is the user's to replace: delete it from the file, make a new key pair (this one was copied here), and authorize its public half (`ssh-keygen -y -f KEY` prints it)")
		case "guest.no_default_route":
			skip(p, "which gateway is right is the network's: renew the DHCP lease (`dhclient -v IFACE`, `networkctl reconfigure IFACE`, `netplan apply`) or add it (`ip route add default via GATEWAY`; on Azure the gateway is the subnet's first address, x.x.x.1); fix the static configuration that lost it")
		case "guest.crypto_no_common":
			skip(p, "which clients to serve is a decision: add a current algorithm to the list at "+orDash(at(p.Origin))+" (e.g. KexAlgorithms curve25519-sha256,…, Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,…, MACs hmac-sha2-256-etm@openssh.com,…), keeping what old clients need, then `sshd -t` and restart")
		case "guest.sshd_not_executable":
			bin := p.Paths[0].Path
			if !slices.Contains([]string{"/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"}, bin) {
				skip(p, bin+" is not where sshdoctor knows sshd lives: `chmod 755 "+bin+"` by hand, then start sshd")
				continue
			}
			add(p, "make "+bin+" executable again (root's, mode 0755)", true, &Op{Kind: OpBinaryMode, Path: bin, Mode: 0o755}, func(b *Backup) error {
				if err := b.Save(bin); err != nil {
					return err
				}
				return rootFileMode(bin, 0o755)
			})
		case "guest.pam_access_denied":
			skip(p, "pam_access rules are an admin's policy: if this login should be allowed, add a + rule for it above "+orDash(at(p.Origin))+" (access.conf(5): first match wins)")
		case "guest.max_auth_tries":
			if p.Origin == nil {
				skip(p, "no MaxAuthTries line found: set MaxAuthTries 6 (the default) by hand")
				continue
			}
			const text = "MaxAuthTries 6"
			add(p, fmt.Sprintf("set %q at %s (was %q; sshd's default)", text, at(p.Origin), p.Origin.textOr()), true, replaceOp(*p.Origin, text), replaceLine(*p.Origin, text))
		case "guest.max_auth_tries_low":
			skip(p, "a low MaxAuthTries is a hardening choice: offer the right key first (`ssh -o IdentitiesOnly=yes -i KEY`)")
		case "guest.session_forced":
			skip(p, "a ForceCommand is an admin's decision (an SFTP-only or no-shell account): if this user should get a shell, scope it with a Match block that leaves the user out, at "+orDash(at(p.Origin)))
		case "guest.sessions_disabled":
			skip(p, "MaxSessions 0 keeps a host for forwarding only, on purpose: remove it at "+orDash(at(p.Origin))+" if shells should work")
		case "guest.auth_methods_unsatisfiable":
			if strings.Contains(p.Summary, "has no password") {
				skip(p, fmt.Sprintf("AuthenticationMethods is a deliberate policy (several factors) and asks %s for a password: set one (`passwd %s`), or change the list at %s; sshdoctor never drops a factor", p.User, p.User, orDash(at(p.Origin))))
				continue
			}
			skip(p, "AuthenticationMethods is a deliberate policy (several factors): turn on the method it names (at "+orDash(at(p.Origin))+"), or change the list; sshdoctor never drops a factor")
		case "guest.keys_command_user_missing":
			const text = "AuthorizedKeysCommandUser nobody"
			line := text
			if strings.Contains(p.Summary, "AuthorizedPrincipalsCommand") {
				line = "AuthorizedPrincipalsCommandUser nobody"
			}
			op := &Op{Kind: OpInsertLine, Edits: []LineEdit{{Path: sshdConfig, Text: line}}}
			add(p, fmt.Sprintf("run the command as nobody, the least privileged user (%s at the top of %s)", line, sshdConfig), true, op, func(b *Backup) error {
				return editFile(b, sshdConfig, func(lines []string) []string {
					return append([]string{line}, lines...)
				}, true)
			})
		case "guest.privsep_dir_unsafe":
			dir := p.Paths[0].Path
			if !slices.Contains(privsepDirs, dir) {
				skip(p, dir+" is not a privilege-separation directory sshdoctor knows: make it root's and not group/world writable (chown root: "+dir+"; chmod 755 "+dir+")")
				continue
			}
			add(p, fmt.Sprintf("make %s root's and 0755 (sshd's privilege-separation directory)", dir), true, &Op{Kind: OpMkdir, Path: dir, Mode: 0o755}, func(b *Backup) error {
				if err := b.Save(dir); err != nil {
					return err
				}
				return rootDir(dir, 0o755)
			})
		case "guest.key_restricted":
			skip(p, "the key's line restricts it on purpose ("+strings.Join(p.Evidence, "; ")+"): widen or remove the option on that line if this login should be allowed")
		case "guest.ssh_source_banned":
			skip(p, "a ban of some sources is policy (fail2ban, sshguard, an nft set): unban a legitimate client as the remediation says")
		case "guest.hosts_deny":
			if p.Origin == nil {
				skip(p, "no hosts.deny line found")
				continue
			}
			if len(f.HostsAllow) > 0 {
				skip(p, fmt.Sprintf("/etc/hosts.allow admits some clients for sshd: an allowlist is a decision; add this client there (%s) if it should get in", f.HostsAllow[0].Text))
				continue
			}
			add(p, fmt.Sprintf("disable %s: %q", at(p.Origin), strings.TrimSpace(p.Origin.Text)), false, disableOp(*p.Origin, whyHostsDeny), disableLineNoValidate(*p.Origin))
		case "guest.maxstartups_exhausted":
			op := &Op{Kind: OpMaxStartupsDefaults}
			for _, key := range []string{"maxstartups", "logingracetime"} {
				if o, ok := f.Origins[key]; ok && (key == "maxstartups" || o.Value == "0") {
					op.Edits = append(op.Edits, disableEdit(o, whyStarved))
				}
			}
			add(p, "restore the MaxStartups and LoginGraceTime defaults, then restart sshd", true, op, func(b *Backup) error {
				for _, key := range []string{"maxstartups", "logingracetime"} {
					if o, ok := f.Origins[key]; ok && (key == "maxstartups" || o.Value == "0") {
						if err := disableLine(o, whyStarved)(b); err != nil {
							return err
						}
					}
				}
				return nil
			})
		case "guest.fstab_missing_device":
			op := &Op{Kind: OpFstabNofail, Edits: []LineEdit{{Path: "/etc/fstab", Line: p.Origin.Line, Expect: p.Origin.Text, Text: nofail(p.Origin.Text)}}}
			add(p, fmt.Sprintf("add nofail to %s (%s); reboot afterwards", at(p.Origin), p.Origin.Value), false, op, func(b *Backup) error {
				return editFile(b, "/etc/fstab", func(lines []string) []string {
					if i := p.Origin.Line - 1; i < len(lines) {
						lines[i] = nofail(lines[i])
					}
					return lines
				}, false)
			})
		case "guest.nologin_file":
			add(p, "remove /etc/nologin", false, &Op{Kind: OpRemoveFile, Path: "/etc/nologin"}, func(b *Backup) error {
				if err := b.Save("/etc/nologin"); err != nil {
					return err
				}
				return os.Remove("/etc/nologin")
			})
		case "guest.pubkey_disabled":
			if p.Origin == nil {
				skip(p, "no PubkeyAuthentication line found to disable")
				continue
			}
			add(p, fmt.Sprintf("disable %s: %q", at(p.Origin), p.Origin.textOr()), true, disableOp(*p.Origin, whyPubkey), disableLine(*p.Origin, whyPubkey))
		case "guest.user_missing":
			uid := -1
			if u, ok := factsUser(f, p.User); ok {
				uid = u.HomeOwnerUID
			}
			if uid < 0 {
				skip(p, "no home directory to recreate the account from; use `sshdoctor guest user set "+p.User+"`")
				continue
			}
			op := &Op{Kind: OpUseraddWithHome, User: p.User, UID: uid, Home: "/home/" + p.User}
			add(p, fmt.Sprintf("recreate user %s with its existing home /home/%s (uid %d)", p.User, p.User, uid), true, op, accounts(func() error {
				args := []string{"-M", "-d", "/home/" + p.User, "-s", defaultShell(), "-U"}
				if uid > 0 && !uidUsed(uid) {
					args = append(args, "-u", fmt.Sprint(uid))
				}
				if err := run("useradd", append(args, "--", p.User)...); err != nil {
					return err
				}
				// useradd leaves "!" (locked, no password); "*" means no
				// password but not locked, so key logins work.
				return run("usermod", "-p", "*", "--", p.User)
			}))
		case "guest.user_shell":
			shell := "the VM's default login shell"
			if !o.Remote {
				shell = "the login shell " + defaultShell()
			}
			add(p, fmt.Sprintf("give %s %s", p.User, shell), false, &Op{Kind: OpSetShell, User: p.User}, accounts(func() error { return run("usermod", "-s", defaultShell(), "--", p.User) }))
		case "guest.user_locked":
			add(p, "unlock "+p.User, false, &Op{Kind: OpUsermodUnlock, User: p.User}, accounts(func() error { return run("usermod", "-U", "--", p.User) }))
		case "guest.user_expired":
			add(p, "remove the account expiry of "+p.User, false, &Op{Kind: OpChageUnexpire, User: p.User}, accounts(func() error { return run("chage", "-E", "-1", "--", p.User) }))
		case "guest.password_expired":
			add(p, "lift the password expiry of "+p.User+" (chage -d today)", false, &Op{Kind: OpChageLastday, User: p.User}, accounts(func() error {
				return run("chage", "-d", time.Now().Format("2006-01-02"), "--", p.User)
			}))
		case "guest.strict_modes":
			u, _ := factsUser(f, p.User)
			op := &Op{Kind: OpFixModes, User: p.User, UID: u.UID, Home: u.Home}
			for _, pm := range p.Paths {
				op.Paths = append(op.Paths, pm.Path)
			}
			add(p, "fix owner and modes StrictModes refuses for "+p.User, false, op, fixModes(f, p))
		case "guest.keys_unreadable":
			u, _ := factsUser(f, p.User)
			home := filepath.Clean(u.Home)
			var in, out []string
			for _, pm := range p.Paths {
				switch {
				case pm.Path == home && u.Effective["chrootdirectory"] != "" && u.Effective["chrootdirectory"] != "none":
					out = append(out, pm.Path+" (a chroot: root's on purpose)")
				case pm.Path == home || strings.HasPrefix(pm.Path, home+"/"):
					in = append(in, pm.Path)
				default:
					out = append(out, pm.Path)
				}
			}
			if len(in) == 0 {
				skip(p, fmt.Sprintf("%s cannot pass %s, outside its home: let it through by hand (chmod o+x DIR)", p.User, strings.Join(out, ", ")))
				continue
			}
			if len(out) > 0 {
				skip(p, fmt.Sprintf("%s also cannot pass %s: not changed (outside the home, or root's on purpose)", p.User, strings.Join(out, ", ")))
			}
			op := &Op{Kind: OpUserAccess, User: p.User, UID: u.UID, GID: u.GID, Home: home, Paths: in}
			add(p, fmt.Sprintf("give %s back to %s (owner, and u+rwx on directories, u+rw on the file)", strings.Join(in, ", "), p.User), false, op, userAccess(f, p.User, in))
		case "guest.selinux_context":
			restorecon := "restorecon"
			if !o.Remote {
				path, err := exec.LookPath("restorecon")
				if err != nil {
					skip(p, "restorecon is not installed (policycoreutils): run `chcon -R -t ssh_home_t` on the paths")
					continue
				}
				restorecon = path
			}
			var paths []string
			for _, pm := range p.Paths {
				paths = append(paths, pm.Path)
			}
			add(p, "restore the SELinux labels of "+strings.Join(paths, " ")+" (restorecon -R)", false, &Op{Kind: OpRestorecon, Paths: paths}, func(b *Backup) error {
				return run(restorecon, append([]string{"-R", "--"}, paths...)...)
			})
		case "guest.no_authorized_keys", "guest.key_not_authorized":
			if len(o.Keys) == 0 {
				skip(p, "give the user's public key with --ssh-key or --ssh-key-file")
				continue
			}
			add(p, fmt.Sprintf("authorize %d key(s) for %s", len(o.Keys), p.User), false, authorizeOp(f, p.User, o.Keys), authorizeKeys(f, p.User, o.Keys))
		case "guest.user_denied":
			if u, ok := factsUser(f, p.User); ok {
				if scoped := append(hostScoped(u.Effective["allowusers"], p.User), hostScoped(u.Effective["denyusers"], p.User)...); len(scoped) > 0 {
					skip(p, fmt.Sprintf("%s is let in or kept out by address on purpose (%s at %s): connect from an address it admits, or change that entry", p.User, strings.Join(scoped, " "), orDash(at(p.Origin))))
					continue
				}
			}
			if p.Origin == nil {
				skip(p, "the refusing directive was not found in the configuration files")
				continue
			}
			if m := strings.Fields(strings.ToLower(p.Origin.Match)); slices.Contains(m, "address") || slices.Contains(m, "host") || slices.Contains(m, "localaddress") || slices.Contains(m, "localport") {
				skip(p, fmt.Sprintf("%s is refused only for connections matching %q (at %s): a restriction by address is a decision; change that block if this login should be allowed", p.User, p.Origin.Match, at(p.Origin)))
				continue
			}
			op := &Op{Kind: OpAllowUser, User: p.User, Edits: []LineEdit{{Path: p.Origin.File, Line: p.Origin.Line, Expect: p.Origin.Text}}}
			add(p, fmt.Sprintf("let %s in at %s (was %q)", p.User, at(p.Origin), strings.TrimSpace(p.Origin.Text)), true, op, allowUser(*p.Origin, p.User))
		case "guest.password_auth_disabled":
			if !o.PasswordAuth || p.Origin == nil {
				skip(p, "re-enabling passwords is a policy choice: pass --password-auth")
				continue
			}
			add(p, fmt.Sprintf("disable %s: %q", at(p.Origin), p.Origin.textOr()), true, disableOp(*p.Origin, whyPassword), disableLine(*p.Origin, whyPassword))
		case "guest.rsa_sha1_refused":
			if !o.AllowSSHRSA {
				skip(p, "ssh-rsa (SHA-1) is refused on purpose; pass --allow-ssh-rsa to accept it")
				continue
			}
			const text = "PubkeyAcceptedAlgorithms +ssh-rsa"
			op := &Op{Kind: OpInsertLine, Edits: []LineEdit{{Path: sshdConfig, Text: text}}}
			if p.Origin != nil {
				op = replaceOp(*p.Origin, text)
			}
			add(p, "accept ssh-rsa signatures again (PubkeyAcceptedAlgorithms +ssh-rsa)", true, op, func(b *Backup) error {
				if p.Origin != nil {
					return replaceLine(*p.Origin, text)(b)
				}
				return editFile(b, sshdConfig, func(lines []string) []string {
					return append([]string{text}, lines...)
				}, true)
			})
		}
	}
	return acts
}

// Why a line was disabled, in the comment left in front of it.
const (
	whyInvalid      = "sshd -t rejected it"
	whyLoopback     = "sshd listened on loopback only"
	whyIPv6Only     = "sshd listened over IPv6 only"
	whyListenAbsent = "this VM does not have that address"
	whyHostsDeny    = "it refused sshd connections"
	whyStarved      = "it starved new connections"
	whyPubkey       = "it turned public-key login off"
	whyPassword     = "it turned password login off (--password-auth)"
)

// disabledText is line commented out by a repair, saying why.
func disabledText(why, line string) string {
	return "# sshdoctor: disabled (" + why + "): " + line
}

// replacedText is text set in place of line, which it names.
func replacedText(text, line string) string {
	return text + " # sshdoctor: was: " + strings.TrimSpace(line)
}

// nofail adds nofail to an fstab entry's options (fields joined by tabs).
func nofail(line string) string {
	fs := strings.Fields(line)
	if len(fs) < 4 {
		return line
	}
	fs[3] += ",nofail"
	return strings.Join(fs, "\t")
}

func disableEdit(o Origin, why string) LineEdit {
	return LineEdit{Path: o.File, Line: o.Line, Expect: o.Text, Text: disabledText(why, o.Text)}
}

func disableOp(o Origin, why string) *Op {
	return &Op{Kind: OpDisableLine, Edits: []LineEdit{disableEdit(o, why)}}
}

func replaceOp(o Origin, text string) *Op {
	return &Op{Kind: OpReplaceLine, Edits: []LineEdit{{Path: o.File, Line: o.Line, Expect: o.Text, Text: replacedText(text, o.Text)}}}
}

// authorizeOp is authorizeKeys as data: the key file is the first one
// sshd reads for the user, as the facts say (Path "" when there is none
// to write: the executor refuses, as authorizeKeys does).
func authorizeOp(f *Facts, user string, keys []ssh.PublicKey) *Op {
	op := &Op{Kind: OpAuthorizeKey, User: user}
	for _, k := range keys {
		op.Keys = append(op.Keys, strings.TrimSpace(KeyLine{Key: k}.Line()))
	}
	u, ok := factsUser(f, user)
	if !ok || !u.Exists {
		return op
	}
	op.UID, op.GID, op.Home = u.UID, u.GID, filepath.Clean(u.Home)
	if len(u.KeyFiles) > 0 && !u.KeyFiles[0].Command {
		op.Path = u.KeyFiles[0].Path
	}
	return op
}

// rootFileMode makes a root-owned regular file's mode mode, through a
// descriptor opened without following a link (its directory is root's).
func rootFileMode(path string, mode os.FileMode) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 {
		return fmt.Errorf("%s is not a regular file of root's: not touching it", path)
	}
	return unix.Fchmod(fd, uint32(mode.Perm()))
}

// rootDir makes dir a directory of root's with mode: created when
// missing, else changed through a descriptor opened without following a
// link (its parent, /run or /var, is root's).
func rootDir(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, 0, 0); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

func factsUser(f *Facts, name string) (UserFacts, bool) {
	for _, u := range f.Users {
		if u.Name == name {
			return u, true
		}
	}
	return UserFacts{}, false
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runDetached is run in a process group of its own, out of reach of the
// terminal's Ctrl-C: a restart of sshd, once begun, is never cut short.
func runDetached(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func saveAll(b *Backup, paths ...string) error {
	for _, p := range paths {
		if err := b.Save(p); err != nil {
			return err
		}
	}
	return nil
}

// accounts backs up the account databases before a shadow-utils command.
func accounts(do func() error) func(b *Backup) error {
	return func(b *Backup) error {
		if err := saveAll(b, "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"); err != nil {
			return err
		}
		return do()
	}
}

// editFile rewrites a file line by line, atomically, keeping owner and
// mode. For sshd configuration files (validate) the candidate must pass
// sshd -t: the main file is tested as a candidate before it is installed
// (sshd -t -f); a drop-in is installed, tested, and put back at once if it
// fails — sshd reads it only when restarted, so neither takes effect
// invalid.
func editFile(b *Backup, path string, edit func([]string) []string, validate bool) error {
	data, err := readNoFollow(path)
	if err != nil {
		return err
	}
	if err := b.Save(path); err != nil {
		return err
	}
	lines := edit(strings.Split(string(data), "\n"))
	out := []byte(strings.Join(lines, "\n"))
	if validate && path == sshdConfig {
		cand := filepath.Join(filepath.Dir(path), ".sshd_config"+safefs.TempMarker+"candidate")
		if err := WriteFileAtomic(cand, out, 0o600, 0, 0); err != nil {
			return err
		}
		defer os.Remove(cand)
		if msg, err := exec.Command("/usr/sbin/sshd", "-t", "-f", cand).CombinedOutput(); err != nil {
			return fmt.Errorf("candidate %s fails sshd -t: %s", path, strings.TrimSpace(string(msg)))
		}
	}
	if err := WriteFileAtomic(path, out, 0, -1, -1); err != nil {
		return err
	}
	if validate && path != sshdConfig {
		if msg, err := exec.Command("/usr/sbin/sshd", "-t").CombinedOutput(); err != nil {
			_ = WriteFileAtomic(path, data, 0, -1, -1)
			return fmt.Errorf("edited %s fails sshd -t (put back): %s", path, strings.TrimSpace(string(msg)))
		}
	}
	return nil
}

func disableLine(o Origin, why string) func(b *Backup) error {
	return func(b *Backup) error {
		return editFile(b, o.File, func(lines []string) []string {
			if o.Line-1 < len(lines) {
				lines[o.Line-1] = disabledText(why, lines[o.Line-1])
			}
			return lines
		}, false)
	}
}

func disableLineNoValidate(o Origin) func(b *Backup) error {
	return disableLine(o, whyHostsDeny)
}

func replaceLine(o Origin, text string) func(b *Backup) error {
	return func(b *Backup) error {
		return editFile(b, o.File, func(lines []string) []string {
			if o.Line-1 < len(lines) {
				lines[o.Line-1] = replacedText(text, lines[o.Line-1])
			}
			return lines
		}, true)
	}
}

// allowUser edits the directive that refuses user so it no longer does:
// AllowUsers gains the user, DenyUsers loses it, PermitRootLogin becomes
// prohibit-password (keys only).
func allowUser(o Origin, user string) func(b *Backup) error {
	return func(b *Backup) error {
		key, val := splitKV(strings.TrimSpace(o.Text))
		var text string
		switch strings.ToLower(key) {
		case "allowusers", "allowgroups":
			text = key + " " + val + " " + user
			if strings.EqualFold(key, "allowgroups") {
				text = key + " " + val + " " + primaryGroup(user)
			}
		case "denyusers", "denygroups":
			var keep []string
			for _, w := range strings.Fields(val) {
				if w != user && w != primaryGroup(user) {
					keep = append(keep, w)
				}
			}
			if len(keep) == 0 {
				return disableLine(o, "it refused "+user)(b)
			}
			text = key + " " + strings.Join(keep, " ")
		case "permitrootlogin":
			text = "PermitRootLogin prohibit-password"
		default:
			return fmt.Errorf("cannot edit %q", o.Text)
		}
		return replaceLine(o, text)(b)
	}
}

func primaryGroup(user string) string {
	pw, ok := passwdEntry(user)
	if !ok {
		return user
	}
	data, _ := os.ReadFile("/etc/group")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); len(f) >= 3 && f[2] == pw[3] {
			return f[0]
		}
	}
	return user
}

// fixModes makes every path StrictModes refused acceptable, each through
// one descriptor (safefs: no link or mount point a user planted is
// followed): the owner becomes the user unless it is root; group and world
// write go; a directory inside the home on the key file's way (~/.ssh)
// becomes 0700, as ssh-keygen makes it.
func fixModes(f *Facts, p Problem) func(b *Backup) error {
	return func(b *Backup) error {
		var u UserFacts
		for _, x := range f.Users {
			if x.Name == p.User {
				u = x
			}
		}
		if !u.Exists {
			return fmt.Errorf("user %s does not exist", p.User)
		}
		fs, err := safefs.OpenRoot("/")
		if err != nil {
			return err
		}
		defer fs.Close()
		home := filepath.Clean(u.Home)
		for _, pm := range p.Paths {
			err := fixOpen(b, fs, pm.Path, u.UID, func(info safefs.Info) (bool, os.FileMode, int, int) {
				uid := info.UID
				if info.UID != 0 && info.UID != u.UID {
					uid = u.UID
				}
				mode := info.Perm() &^ 0o022
				if info.IsDir() && strings.HasPrefix(pm.Path, home+"/") {
					mode = 0o700
				}
				return info.IsDir(), mode, uid, info.GID
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// userAccess makes paths (inside the user's home) the user's and lets the
// user pass them: directories u+rwx, files u+rw; group and other write
// dropped as StrictModes wants. Through descriptors that follow no link.
func userAccess(f *Facts, user string, paths []string) func(b *Backup) error {
	return func(b *Backup) error {
		u, ok := factsUser(f, user)
		if !ok || !u.Exists {
			return fmt.Errorf("user %s does not exist", user)
		}
		fs, err := safefs.OpenRoot("/")
		if err != nil {
			return err
		}
		defer fs.Close()
		for _, p := range paths {
			err := fixOpen(b, fs, p, u.UID, func(info safefs.Info) (bool, os.FileMode, int, int) {
				uid, gid := info.UID, info.GID
				if uid != u.UID {
					uid, gid = u.UID, u.GID
				}
				mode := info.Perm() &^ 0o022
				if info.IsDir() {
					mode |= 0o700
				} else {
					mode |= 0o600
				}
				return info.IsDir(), mode, uid, gid
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// authorizeKeys adds keys missing from the user's first authorized keys
// file, as `guest user set --ssh-key` does (planKeys: ~/.ssh 0700, the
// file 0600, owned by the user, through descriptors).
func authorizeKeys(f *Facts, user string, keys []ssh.PublicKey) func(b *Backup) error {
	return func(b *Backup) error {
		var u UserFacts
		for _, x := range f.Users {
			if x.Name == user {
				u = x
			}
		}
		if !u.Exists {
			return fmt.Errorf("user %s does not exist", user)
		}
		lines := make([]KeyLine, len(keys))
		for i, k := range keys {
			lines[i] = KeyLine{Key: k}
		}
		kp, err := planKeys(u, lines, false)
		if err != nil {
			return err
		}
		return kp.apply(b)
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func uidUsed(uid int) bool {
	data, _ := os.ReadFile("/etc/passwd")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); len(f) >= 3 && f[2] == fmt.Sprint(uid) {
			return true
		}
	}
	return false
}

func defaultShell() string {
	if data, err := os.ReadFile("/etc/default/useradd"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "SHELL="); ok && shellOK(v) {
				return v
			}
		}
	}
	for _, sh := range []string{"/bin/bash", "/bin/sh"} {
		if shellOK(sh) {
			return sh
		}
	}
	return "/bin/sh"
}

func isLoopback(v string) bool {
	host := listenHost(v)
	return strings.HasPrefix(host, "127.") || host == "::1" || host == "localhost"
}

// listenHost is the host of a ListenAddress value ("10.0.0.4:22",
// "[::1]:22", "10.0.0.4 rdomain x").
func listenHost(v string) string {
	host := strings.Fields(v + " ")[0]
	if strings.HasPrefix(host, "[") {
		host, _, _ = strings.Cut(host[1:], "]")
		return host
	}
	if h, _, ok := strings.Cut(host, ":"); ok && strings.Count(host, ":") == 1 {
		host = h
	}
	return host
}

// restartSSHD restarts (or starts) sshd through the service manager.
func restartSSHD(mgr string) error {
	switch mgr {
	case "systemd":
		if err := runDetached("systemctl", "restart", "ssh"); err != nil {
			return runDetached("systemctl", "restart", "sshd")
		}
		return nil
	case "lab", "sysvinit":
		return runDetached("service", "ssh", "restart")
	}
	return errors.New("no service manager found to restart sshd")
}

// waitListening waits until sshd listens on every port its configuration
// names.
func waitListening(ctx context.Context, sshd string, limit time.Duration) error {
	want := sshdT(ctx, sshd, "")["port"]
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ok := len(want) > 0
		ls := listeners()
		for _, p := range want {
			if !slices.ContainsFunc(ls, func(l Listener) bool { return l.Command == "sshd" && fmt.Sprint(l.Port) == p }) {
				ok = false
			}
		}
		if ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sshd is not listening on port %v %s after the restart", want, limit)
}

// privateHostKey makes a host key file root's and 0600, through a
// descriptor that followed no link (/etc/ssh is root's; a link there is
// refused, not followed).
func privateHostKey(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := unix.Fchown(fd, 0, -1); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return unix.Fchmod(fd, 0o600)
}

// nologinShell is the system's nologin, else /bin/false.
func nologinShell() string {
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() {
			return s
		}
	}
	return "/bin/false"
}

// keygenHostkeys backs up the default host keys and runs ssh-keygen -A,
// which generates those that are missing.
func keygenHostkeys(b *Backup) error {
	for _, t := range []string{"rsa", "ecdsa", "ed25519"} {
		k := "/etc/ssh/ssh_host_" + t + "_key"
		if err := saveAll(b, k, k+".pub"); err != nil {
			return err
		}
	}
	return run("ssh-keygen", "-A")
}
