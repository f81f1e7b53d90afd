package guest

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// Problem is a finding with what a repair needs to address it.
type Problem struct {
	findings.Finding
	User   string        `json:"user,omitempty"`
	Origin *Origin       `json:"origin,omitempty"`
	Rule   *FirewallRule `json:"-"`
	Unit   string        `json:"unit,omitempty"` // the systemd unit
	Paths  []PathMode    `json:"-"`
	// Hosts: the listen addresses the VM does not have.
	Hosts []string `json:"hosts,omitempty"`
	// Keys: the keys ("TYPE BASE64") broken authorized_keys lines hold,
	// which a repair can write again as one line each.
	Keys []string `json:"keys,omitempty"`
}

// JudgeOptions add what only the user knows.
type JudgeOptions struct {
	// Keys the users must be able to log in with (--ssh-key).
	Keys []ssh.PublicKey
	// From is the client's address (--from): from= options and Match
	// Address are judged for it; invalid: unknown.
	From netip.Addr
	// Now is the time expiry-time= options are judged at (zero: now).
	Now time.Time
	// Fingerprints (SHA256:…) stand for keys the users must be able to
	// log in with when only the fingerprint is known (ssh -v, ssh-add -l).
	Fingerprints []string
}

// wanted is the SHA256 fingerprints of the keys the login must work with.
func (o JudgeOptions) wanted() []string {
	var out []string
	for _, k := range o.Keys {
		out = append(out, ssh.FingerprintSHA256(k))
	}
	for _, fp := range o.Fingerprints {
		if !slices.Contains(out, fp) {
			out = append(out, fp)
		}
	}
	return out
}

func at(o *Origin) string {
	if o == nil || o.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", o.File, o.Line)
}

func originOf(f *Facts, key string) *Origin {
	if o, ok := f.Origins[key]; ok {
		return &o
	}
	return nil
}

// Judge turns facts into problems, the root cause first.
func Judge(f *Facts, o JudgeOptions) []Problem {
	var ps []Problem
	add := func(p Problem) { ps = append(ps, p) }
	nf := func(id, summary string, ev ...string) findings.Finding { return findings.New(id, summary, "", ev...) }

	if !f.SSHDPresent {
		add(Problem{Finding: nf("guest.sshd_missing", f.SSHDPath+" does not exist.")})
		return ps
	}
	if f.SSHDNotExecutable {
		p := Problem{Finding: nf("guest.sshd_not_executable", f.SSHDPath+" has no execute permission: nothing can start sshd.")}
		p.Paths = []PathMode{{Path: f.SSHDPath}}
		add(p)
		return ps
	}
	for _, d := range f.Disks {
		bytes, inodes := d.Full()
		if !bytes && !inodes {
			continue
		}
		what := "no space"
		switch {
		case bytes && inodes:
			what = "no space and no inodes"
		case inodes:
			what = "no inodes"
		}
		add(Problem{Finding: nf("guest.disk_full", fmt.Sprintf("%s has %s left: %s.", d.mountLabel(), what, d.effect()), d.describe())})
	}
	startup, explained := startupProblems(f)
	if !f.ConfigOK {
		ps = append(ps, startup...)
	}
	if len(f.HostKeys) == 0 {
		add(Problem{Finding: nf("guest.hostkeys_missing", "No host key can be read; sshd will not start.", f.ConfigError)})
	}
	if !f.PrivsepDir && !rePrivsepDirMissing().MatchString(f.ConfigError) { // else said by startupProblems
		p := Problem{Finding: nf("guest.privsep_dir_missing", orDash(f.PrivsepPath)+" is missing; sshd will not start.", f.ConfigError)}
		p.Paths = []PathMode{{Path: f.PrivsepPath}}
		add(p)
	}
	switch {
	case f.ConfigOK || len(ps) > 0:
	case f.ConfigErrorAt != nil:
		add(Problem{Finding: nf("guest.sshd_config_invalid", fmt.Sprintf("sshd -t fails at %s.", at(f.ConfigErrorAt)), f.ConfigError), Origin: f.ConfigErrorAt})
	case !explained:
		add(Problem{Finding: nf("guest.sshd_start_failed", fmt.Sprintf("sshd -t fails: %s", firstLineOf(f.ConfigError)), f.ConfigError)})
	}
	for _, u := range f.Units {
		ev := []string{fmt.Sprintf("systemctl show %s: ActiveState=%s SubState=%s Result=%s NRestarts=%d ActiveEnterTimestamp=%s", u.Unit, u.ActiveState, u.SubState, u.Result, u.NRestarts, orDash(u.ActiveEnter))}
		switch {
		case u.ActiveState == "failed":
			add(Problem{Finding: findings.New("guest.sshd_unit_failed", fmt.Sprintf("systemd gave up on %s (failed: %s, after %d automatic restart(s)): sshd stays down.", u.Unit, u.Result, u.NRestarts),
				fmt.Sprintf("See why it failed (`journalctl -u %s -n 50`, sshd's log below), fix it, then `systemctl reset-failed %s && systemctl restart %s` (`sshdoctor guest repair` does).", u.Unit, u.Unit, u.Unit), ev...), Unit: u.Unit})
		case u.NRestarts >= crashLoopRestarts:
			if !f.SSHDSince.IsZero() {
				ev = append(ev, fmt.Sprintf("the listening sshd (pid %d) started %s", f.SSHDPID, f.SSHDSince.UTC().Format(time.RFC3339)))
			}
			add(Problem{Finding: nf("guest.sshd_crash_loop", fmt.Sprintf("systemd restarted %s %d times (now %s/%s): sshd keeps dying, dropping connections and refusing new ones while it restarts.", u.Unit, u.NRestarts, u.ActiveState, u.SubState), ev...)})
		}
	}
	ports := f.sshdPorts(f.Port)
	var onPort, anyWild, sshdListens bool
	for _, l := range f.Listeners {
		if l.Command != "sshd" {
			continue
		}
		sshdListens = true
		if l.Port == f.Port {
			onPort = true
			if l.Addr != "127.0.0.1" && l.Addr != "::1" {
				anyWild = true
			}
		}
	}
	portTaken := false
	for _, l := range f.Listeners {
		if l.Port != f.Port || l.Command == "sshd" || l.Command == "systemd" || l.Addr == "127.0.0.1" || l.Addr == "::1" {
			continue
		}
		if l.Command == "" && slices.ContainsFunc(f.Listeners, func(x Listener) bool { return x.Command == "sshd" }) {
			continue // the owner is unknown (remote) and sshd listens: it may be sshd's
		}
		portTaken = true
		who := "another process"
		if l.Command != "" {
			who = l.Command
			if l.PID > 0 {
				who += fmt.Sprintf(" (pid %d)", l.PID)
			}
		}
		add(Problem{Finding: nf("guest.port_taken", fmt.Sprintf("TCP/%d on %s is held by %s, not sshd: clients reach it instead.", f.Port, l.Addr, who),
			fmt.Sprintf("listener %s:%d owned by %s", l.Addr, l.Port, who))})
		break
	}
	if absent := f.absentListenHosts(); len(absent) > 0 {
		o := originOf(f, "listenaddress")
		add(Problem{Finding: nf("guest.listen_address_absent", fmt.Sprintf("sshd is told to listen only on %s (ListenAddress at %s), which this VM does not have: sshd cannot bind.", strings.Join(absent, ", "), orDash(at(o))),
			"listenaddress "+strings.Join(f.Effective["listenaddress"], ", "), "this VM's addresses: "+strings.Join(f.LocalAddrs, ", ")), Origin: o, Hosts: absent})
	}
	switch {
	case !sshdListens && f.ConfigOK && (len(f.absentListenHosts()) > 0 || portTaken):
		// sshd is down because of that: one cause, not two
	case !sshdListens && f.ConfigOK && f.StartTest != nil && !f.StartTest.Running && f.StartTest.Output != "":
		// sshd -t passes, but sshd dies at start: its own words say why
		tf := *f
		tf.ConfigError = f.StartTest.Output
		why := "a test start of sshd (sshd -D -e) said: " + firstLineOf(f.StartTest.Output)
		if sp, ok := startupProblems(&tf); ok {
			for _, p := range sp {
				p.Evidence = append(p.Evidence, why)
				add(p)
			}
		} else {
			add(Problem{Finding: nf("guest.sshd_start_failed", fmt.Sprintf("sshd -t passes, but sshd exits at start: %s", firstLineOf(f.StartTest.Output)), f.StartTest.Output)})
		}
	case !sshdListens && f.ConfigOK:
		var ev []string
		if f.StartTest != nil && f.StartTest.Running {
			ev = append(ev, "sshd starts and stays up when started by hand (a test start with sshd -D -e, stopped again): sshd itself is fine; the service manager did not start it or it was stopped")
		}
		add(Problem{Finding: nf("guest.sshd_not_running", fmt.Sprintf("No sshd listens (service manager: %s).", f.ServiceMgr), ev...)})
	case sshdListens && !onPort && !slices.Contains(ports, f.Port):
		o := originOf(f, "port")
		if la := originOf(f, "listenaddress"); la != nil {
			if _, port, ok := splitListen(la.Value); ok && port != strconv.Itoa(f.Port) {
				o = la // a ListenAddress host:port overrides Port
			}
		}
		add(Problem{Finding: nf("guest.sshd_wrong_port", fmt.Sprintf("sshd listens on port %v, not %d (set at %s).", ports, f.Port, orDash(at(o)))), Origin: o})
	case onPort && !anyWild:
		o := originOf(f, "listenaddress")
		add(Problem{Finding: nf("guest.sshd_loopback_only", fmt.Sprintf("sshd listens on port %d on loopback only (ListenAddress at %s).", f.Port, orDash(at(o)))), Origin: o})
	case onPort && f.ipv6Only() && localAddr(f.LocalAddrs) != "" && !strings.Contains(localAddr(f.LocalAddrs), ":"):
		// sshd sets IPV6_V6ONLY on its IPv6 sockets: an IPv4 client is refused
		o := originOf(f, "addressfamily")
		p := Problem{Finding: nf("guest.sshd_ipv6_only", fmt.Sprintf("sshd listens on port %d over IPv6 only (AddressFamily %s at %s): IPv4 clients, %s among them, are refused.", f.Port, orDash(o.valueOr()), orDash(at(o)), localAddr(f.LocalAddrs)))}
		if o != nil && strings.EqualFold(o.Value, "inet6") {
			p.Origin = o
		}
		add(p)
	}
	if f.noRouteTo(o.From) && localAddr(f.LocalAddrs) != "" {
		var nets, ev []string
		for _, r := range f.Routes {
			nets = append(nets, r.Dst.String())
			ev = append(ev, fmt.Sprintf("route %s dev %s", r.Dst, r.Dev))
		}
		add(Problem{Finding: nf("guest.no_default_route", fmt.Sprintf("This VM has no default route: it cannot answer a client at %s, outside %s.", matchAddr(o.From), orDash(strings.Join(nets, ", "))), ev...)})
	}
	if g := f.Effective["maxauthtries"]; len(g) > 0 {
		judgeMaxAuthTries(f, g[0], "", func(id, summary string, ev ...string) *Problem {
			ps = append(ps, Problem{Finding: findings.New(id, summary, "", ev...)})
			return &ps[len(ps)-1]
		})
	}
	if bad := noCommonAlgorithms(f.Effective); len(bad) > 0 {
		key, _, _ := strings.Cut(bad[0], " ")
		o := originOf(f, key)
		p := Problem{Finding: nf("guest.crypto_no_common", fmt.Sprintf("sshd's %s (at %s) shares no algorithm with current SSH clients: they cannot negotiate.", bad[0], orDash(at(o))), bad...), Origin: o}
		add(p)
	}
	for i := range f.Firewall {
		r := &f.Firewall[i]
		add(Problem{Finding: findings.New("guest.firewall_blocks", fmt.Sprintf("%s rule in nftables %s %s chain %s %ss TCP to sshd's port for every client.", r.Frontend, r.Family, r.Table, r.Chain, r.Action), blockRemedy(r, f.Port), r.Text), Rule: r})
	}
	for i := range f.FirewallDefaultDeny {
		r := &f.FirewallDefaultDeny[i]
		what := "drops by default (policy drop)"
		if r.Action != "policy drop" {
			what = "ends with a catch-all " + r.Action
		}
		add(Problem{Finding: findings.New("guest.firewall_default_deny", fmt.Sprintf("%s chain %s %s %s %s, and no rule accepts TCP to sshd's port %d.", r.Frontend, r.Family, r.Table, r.Chain, what, f.Port),
			allowRemedy(r, f.Port), r.Text), Rule: r})
	}
	for i := range f.SourceBans {
		r := &f.SourceBans[i]
		who := strings.Join(r.Sources, ", ")
		if len(r.Banned) > 0 {
			who += ": " + strings.Join(firstN(r.Banned, 10), ", ")
			if len(r.Banned) > 10 {
				who += fmt.Sprintf(" and %d more", len(r.Banned)-10)
			}
		} else if strings.HasPrefix(who, "@") {
			who += " (empty now)"
		}
		add(Problem{Finding: findings.New("guest.ssh_source_banned", fmt.Sprintf("%s rule in nftables %s %s chain %s %ss sshd's port for some sources only (%s).", r.Frontend, r.Family, r.Table, r.Chain, r.Action, who), banRemedy(r, f.Port), r.Text), Rule: r})
	}
	if f.Fail2ban != nil {
		if ips := unbannedByRules(f.Fail2ban, f.SourceBans); len(ips) > 0 {
			r := &FirewallRule{Frontend: "fail2ban", Banned: ips}
			add(Problem{Finding: findings.New("guest.ssh_source_banned", fmt.Sprintf("fail2ban's sshd jail bans %d address(es): %s.", len(ips), strings.Join(firstN(ips, 10), ", ")), banRemedy(r, f.Port), "fail2ban-client status sshd")})
		}
	}
	if f.Libwrap {
		if h, _ := tcpdDenies(f.HostsAllow, f.HostsDeny, o.From); h != nil {
			add(Problem{Finding: nf("guest.hosts_deny", fmt.Sprintf("%s:%d refuses sshd connections from %s: %q.", h.File, h.Line, matchAddr(o.From), strings.TrimSpace(h.Text))), Origin: h})
		}
	}
	if ms := maxStartups(f.Effective); ms > 0 && f.Preauth >= ms {
		o := originOf(f, "maxstartups")
		add(Problem{Finding: nf("guest.maxstartups_exhausted", fmt.Sprintf("%d unauthenticated connection(s) hold all %d MaxStartups slots (set at %s).", f.Preauth, ms, orDash(at(o)))), Origin: o})
	}
	for _, e := range f.Fstab {
		e := e
		add(Problem{Finding: nf("guest.fstab_missing_device", fmt.Sprintf("%s mounts %s, which does not exist: boot stops in emergency mode without sshd.", at(&e), e.Value), strings.TrimSpace(e.Text)), Origin: &e})
	}
	if f.Nologin {
		add(Problem{Finding: nf("guest.nologin_file", "/etc/nologin exists: sshd refuses every user but root.")})
	}
	if f.ConfigOK && len(f.Effective["pubkeyauthentication"]) > 0 && f.Effective["pubkeyauthentication"][0] == "no" {
		o := originOf(f, "pubkeyauthentication")
		add(Problem{Finding: nf("guest.pubkey_disabled", fmt.Sprintf("PubkeyAuthentication no (set at %s).", orDash(at(o))), o.textOr()), Origin: o})
	}
	for _, u := range f.Users {
		for _, p := range judgeUser(f, u, o) {
			// one Match block can refuse several users: one problem
			if p.ID == "guest.pubkey_disabled" && p.Origin != nil && slices.ContainsFunc(ps, func(q Problem) bool {
				return q.ID == p.ID && q.Origin != nil && q.Origin.File == p.Origin.File && q.Origin.Line == p.Origin.Line
			}) {
				continue
			}
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		var ev []string
		if !f.SSHDSince.IsZero() {
			ev = append(ev, fmt.Sprintf("sshd (pid %d) listening since %s", f.SSHDPID, f.SSHDSince.UTC().Format(time.RFC3339)))
		}
		// Say what could not be judged rather than imply it was.
		for _, u := range f.Users {
			for _, kf := range u.KeyFiles {
				if kf.Command && kf.NotRead != "" {
					ev = append(ev, fmt.Sprintf("not evaluated: %s's keys from %s (%s)", u.Name, kf.Path, kf.NotRead))
				}
			}
		}
		ev = append(ev, addressDependent(f, o)...)
		add(Problem{Finding: nf("guest.ok", "sshd runs, listens where clients expect, and the checked accounts can log in.", ev...)})
	}
	// sshd's own words come last: evidence for the causes above.
	if f.Log != nil && len(f.Log.Lines) > 0 {
		add(Problem{Finding: nf("guest.sshd_log", fmt.Sprintf("sshd's last %d refusal(s) or error(s) in %s, oldest first.", len(f.Log.Lines), f.Log.Source), f.Log.Lines...)})
	}
	return ps
}

// addressDependent says what was judged for "a client on the Internet"
// but depends on the client's address — Match blocks on Address or Host,
// from= on key lines — when --from did not give it.
func addressDependent(f *Facts, o JudgeOptions) []string {
	if o.From.IsValid() {
		return nil
	}
	var where []string
	for _, orgs := range f.MatchOrigins {
		for _, org := range orgs {
			fs := strings.Fields(strings.ToLower(org.Match))
			if (slices.Contains(fs, "address") || slices.Contains(fs, "host")) && !slices.Contains(where, strings.TrimSpace(org.Match)) {
				where = append(where, strings.TrimSpace(org.Match))
			}
		}
	}
	if _, known := tcpdDenies(f.HostsAllow, f.HostsDeny, netip.Addr{}); f.Libwrap && !known {
		where = append(where, "TCP wrappers (/etc/hosts.allow, /etc/hosts.deny)")
	}
	for _, u := range f.Users {
		if _, _, unknown := judgePAMAccess(f, u, netip.Addr{}); unknown {
			where = append(where, "pam_access rules for "+u.Name)
		}
		for _, key := range []string{"allowusers", "denyusers"} {
			if usersListMatches(u.Effective[key], u.Name, netip.Addr{}) == matchUnknown {
				where = append(where, fmt.Sprintf("%s %s", key, u.Effective[key]))
			}
		}
		for _, kf := range u.KeyFiles {
			for _, ko := range kf.Options {
				if slices.ContainsFunc(ko.Options, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), "from=") }) {
					where = append(where, fmt.Sprintf("from= at %s:%d", ko.Path, ko.Line))
				}
			}
		}
	}
	if len(where) == 0 {
		return nil
	}
	slices.Sort(where)
	return []string{fmt.Sprintf("judged for a client at %s (any Internet client); %s could differ for your address: pass --from ADDR", matchAddr(o.From), strings.Join(firstN(where, 3), "; "))}
}

// ipv6Only says whether every socket sshd itself listens on at the port
// is IPv6 (sshd's own sockets are IPV6_V6ONLY; a socket systemd holds for
// sshd may be dual-stack, so only sshd's count).
func (f *Facts) ipv6Only() bool {
	v6 := false
	for _, l := range f.Listeners {
		if l.Port != f.Port {
			continue
		}
		if l.Command != "sshd" || !strings.Contains(l.Addr, ":") {
			return false
		}
		v6 = true
	}
	return v6
}

// valueOr is the directive's value ("" when there is no origin).
func (o *Origin) valueOr() string {
	if o == nil {
		return ""
	}
	return o.Value
}

func (o *Origin) textOr() string {
	if o == nil {
		return ""
	}
	return strings.TrimSpace(o.Text)
}

func maxStartups(e map[string][]string) int {
	if len(e["maxstartups"]) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(e["maxstartups"][0], ":")
	n, _ := strconv.Atoi(first)
	return n
}

func judgeUser(f *Facts, u UserFacts, o JudgeOptions) []Problem {
	var ps []Problem
	add := func(id, summary string, ev ...string) *Problem {
		ps = append(ps, Problem{Finding: findings.New(id, summary, "", ev...), User: u.Name})
		return &ps[len(ps)-1]
	}
	if !u.Exists {
		ev := []string{"no line for " + u.Name + " in /etc/passwd"}
		if u.HomeOwnerUID >= 0 {
			ev = append(ev, fmt.Sprintf("/home/%s exists, owned by uid %d", u.Name, u.HomeOwnerUID))
		}
		add("guest.user_missing", fmt.Sprintf("User %s does not exist.", u.Name), ev...)
		return ps
	}
	if u.AllowedBy != "" {
		key := strings.ToLower(u.AllowedBy)
		org := originOf(f, key)
		if val := u.Effective[key]; val != "" && (org == nil || !strings.EqualFold(strings.Join(strings.Fields(org.Value), " "), val)) {
			if m := matchOrigin(f, key, val); m != nil {
				org = m // set for this login by a Match block
			}
		}
		where := "set at " + orDash(at(org))
		if m := matchOf(org); m != "" {
			where = fmt.Sprintf("set in %q at %s", m, at(org))
		}
		summary := fmt.Sprintf("%s refuses %s (%s).", u.AllowedBy, u.Name, where)
		if scoped := hostScoped(u.Effective[key], u.Name); len(scoped) > 0 && (key == "allowusers" || key == "denyusers") {
			summary = fmt.Sprintf("%s refuses %s from %s (%s, %s).", u.AllowedBy, u.Name, matchAddr(o.From), strings.Join(scoped, " "), where)
		}
		p := add("guest.user_denied", summary, org.textOr())
		p.Origin = org
	}
	if m, r, _ := judgePAMAccess(f, u, o.From); r != nil {
		p := add("guest.pam_access_denied", fmt.Sprintf("pam_access (%s) refuses %s from %s: %s:%d %q.", at(m), u.Name, matchAddr(o.From), r.File, r.Line, r.Text))
		p.Origin = r
	}
	if u.AccountExpired {
		add("guest.user_expired", fmt.Sprintf("The account %s has expired.", u.Name))
	}
	if u.Locked && f.Effective["usepam"] != nil && f.Effective["usepam"][0] == "no" {
		add("guest.user_locked", fmt.Sprintf("The account %s is locked ('!' in /etc/shadow); without PAM sshd refuses it.", u.Name))
	}
	if !u.ShellOK {
		add("guest.user_shell", fmt.Sprintf("%s's shell %s refuses logins.", u.Name, orDash(u.Shell)))
	}
	if u.PasswordExpired {
		add("guest.password_expired", fmt.Sprintf("%s's password has expired.", u.Name))
	}
	if len(u.BadModes) > 0 {
		var ev []string
		for _, b := range u.BadModes {
			ev = append(ev, fmt.Sprintf("%s %s uid %d: %s", b.Path, b.Mode, b.UID, b.Reason))
		}
		p := add("guest.strict_modes", fmt.Sprintf("StrictModes makes sshd ignore %s's keys: %s.", u.Name, u.BadModes[0].Reason), ev...)
		p.Paths = u.BadModes
	}
	var wrong []PathMode
	var ev []string
	for _, l := range f.Labels {
		if l.User == u.Name && l.Type != "ssh_home_t" {
			wrong = append(wrong, PathMode{Path: l.Path, Reason: l.Context})
			ev = append(ev, l.Path+" "+l.Context)
		}
	}
	if len(wrong) > 0 {
		dir := filepath.Join(u.Home, ".ssh")
		ps = append(ps, Problem{Finding: findings.New("guest.selinux_context", fmt.Sprintf("SELinux enforces and %s is labelled %s, not ssh_home_t: sshd may not read %s's keys.", wrong[0].Path, typeOf(wrong[0].Reason), u.Name),
			fmt.Sprintf("`restorecon -Rv %s` (`sshdoctor guest repair` does); if the label comes back, `semanage fcontext` has a rule for it.", dir), ev...), User: u.Name, Paths: wrong})
	}
	keys := 0
	var types []string
	for _, kf := range u.KeyFiles {
		keys += len(kf.Keys)
		types = append(types, kf.Keys...)
	}
	// Keys from an AuthorizedKeysCommand that needs the offered key
	// cannot be counted here: no "no key" verdict then.
	// Nor can keys read on another machine without their fingerprints.
	unknown := slices.ContainsFunc(u.KeyFiles, func(k KeyFile) bool {
		return k.Command && k.Found && k.NotRead != "" || k.remote && len(k.Keys) > 0 && k.fingerprints == nil
	})
	// sshd opens the key files as the user: keys root can read but the
	// user cannot are no keys to sshd.
	for _, kf := range u.KeyFiles {
		if kf.Command || !kf.Found || len(kf.Keys)+len(kf.Defects) == 0 {
			continue
		}
		if pm := unreadableFile(u, kf.Path); pm != nil {
			var ev []string
			var paths []PathMode
			for _, x := range u.Unreadable {
				if x.Path == kf.Path || keyFileWithin(kf.Path, x.Path) {
					ev = append(ev, fmt.Sprintf("%s mode %s uid %d gid %d: %s cannot %s", x.Path, x.Mode, x.UID, x.GID, u.Name, strings.TrimPrefix(x.Reason, "cannot ")))
					paths = append(paths, x)
				}
			}
			p := add("guest.keys_unreadable", fmt.Sprintf("sshd reads %s's keys as %s, who cannot read %s: %s is mode %s (uid %d) and %s %s.", u.Name, u.Name, kf.Path, pm.Path, pm.Mode, pm.UID, u.Name, pm.Reason), ev...)
			p.Paths = paths
		}
	}
	// Lines sshd skips that hold a key all the same: the key the user
	// meant is there, unreadable.
	var defectKeys []string
	want := o.wanted()
	meantGiven := false
	valid := map[string]bool{} // fingerprints of the keys sshd does read
	for _, kf := range u.KeyFiles {
		for _, fp := range kf.fingerprints {
			valid[fp] = true
		}
	}
	for _, kf := range u.KeyFiles {
		var broken, private []string
		var first KeyDefect
		for _, d := range kf.Defects {
			if d.Key != "" && valid[defectFingerprint(d)] {
				continue // the same key is also on a line sshd reads
			}
			e := fmt.Sprintf("%s line %d %s", kf.Path, d.Line, d.explain())
			if d.Kind == DefectPrivateKey {
				private = append(private, e)
				continue
			}
			if len(broken) == 0 {
				first = d
			}
			broken = append(broken, e)
			if d.Key != "" {
				defectKeys = append(defectKeys, d.Key)
				meantGiven = meantGiven || slices.Contains(want, defectFingerprint(d))
			} else if d.Options {
				broken[len(broken)-1] += " (the line carries options: rewrite it by hand)"
			}
		}
		if len(broken) > 0 {
			p := add("guest.authorized_keys_malformed", fmt.Sprintf("%s's %s: line %d %s; sshd skips it.", u.Name, kf.Path, first.Line, first.explain()), broken...)
			for _, d := range kf.Defects {
				if d.Key != "" && !valid[defectFingerprint(d)] && !slices.Contains(p.Keys, d.Key) {
					p.Keys = append(p.Keys, d.Key)
				}
			}
		}
		if len(private) > 0 {
			add("guest.private_key_in_authorized_keys", fmt.Sprintf("%s's %s holds a private key (line %d), not a public key: sshd reads no key there, and the private key is exposed on this VM.", u.Name, kf.Path, firstDefect(kf, DefectPrivateKey)), private...)
		}
	}
	// Keys beside authorized_keys, in files sshd does not read.
	var misplaced []StrayKey
	var strayEv []string
	for _, sk := range u.Stray {
		if slices.Contains(want, sk.Fingerprint) || len(want) == 0 && sk.Meant {
			if sk.Meant {
				misplaced = append(misplaced, sk)
			} else {
				strayEv = append(strayEv, fmt.Sprintf("the key %s is in %s, a file sshd does not read: append it to authorized_keys", sk.Fingerprint, sk.Path))
			}
		}
	}
	if len(misplaced) > 0 && !hasAnyKey(u, want) && (len(want) > 0 || keys == 0) {
		var kfPaths []string
		for _, kf := range u.KeyFiles {
			kfPaths = append(kfPaths, kf.Path)
		}
		p := add("guest.keys_misplaced", fmt.Sprintf("%s's key is in %s, which sshd does not read (it reads %s).", u.Name, misplaced[0].Path, orDash(strings.Join(kfPaths, ", "))))
		for _, sk := range misplaced {
			p.Evidence = append(p.Evidence, fmt.Sprintf("%s: %s", sk.Path, sk.Fingerprint))
			if !slices.Contains(p.Keys, sk.Key) {
				p.Keys = append(p.Keys, sk.Key)
			}
		}
		meantGiven = true // the cause is said
		defectKeys = append(defectKeys, p.Keys...)
	}
	if keys == 0 && !unknown && len(defectKeys) == 0 {
		var paths []string
		for _, kf := range u.KeyFiles {
			paths = append(paths, kf.Path)
		}
		if len(paths) == 0 {
			o := originOf(f, "authorizedkeysfile")
			add("guest.no_authorized_keys", fmt.Sprintf("sshd reads no authorized keys file for %s (AuthorizedKeysFile %s at %s, and no AuthorizedKeysCommand).", u.Name, orDash(u.Effective["authorizedkeysfile"]), orDash(at(o))))
		} else {
			var ev []string
			for _, kf := range u.KeyFiles {
				switch {
				case kf.Command:
				case !kf.Found:
					ev = append(ev, kf.Path+": does not exist")
				case kf.NotRead != "":
					ev = append(ev, kf.Path+": "+kf.NotRead)
				default:
					ev = append(ev, fmt.Sprintf("%s: no key (%d line(s) sshd cannot read)", kf.Path, kf.Bad))
				}
			}
			add("guest.no_authorized_keys", fmt.Sprintf("%s has no authorized key (%s)%s.", u.Name, strings.Join(paths, ", "), privateKeyNote(u)), append(ev, strayEv...)...)
		}
	}
	if meantGiven && !hasAnyKey(u, want) {
		// the malformed line is the cause: said above
	} else if len(want) > 0 && (keys > 0 || len(defectKeys) > 0) && !unknown && !hasAnyKey(u, want) {
		add("guest.key_not_authorized", fmt.Sprintf("None of the given keys is in %s's authorized keys%s.", u.Name, privateKeyNote(u)), strayEv...)
	} else if why := keysRestricted(u, o); len(why) > 0 {
		add("guest.key_restricted", fmt.Sprintf("%s's authorized keys hold the given key, but only on lines sshd refuses for this login: %s.", u.Name, why[0]), why...)
	}
	// What a Match block turns off for this user (the global value is
	// judged once, above).
	if u.Effective["pubkeyauthentication"] == "no" && !(len(f.Effective["pubkeyauthentication"]) > 0 && f.Effective["pubkeyauthentication"][0] == "no") && keys > 0 {
		o := matchOrigin(f, "pubkeyauthentication", "no")
		p := add("guest.pubkey_disabled", fmt.Sprintf("A Match block turns PubkeyAuthentication off for %s (%s at %s).", u.Name, orDash(matchOf(o)), orDash(at(o))))
		p.Origin = o
	}
	if u.HasPassword && u.Effective["passwordauthentication"] == "no" {
		p := add("guest.password_auth_disabled", fmt.Sprintf("%s has a password but PasswordAuthentication is off (set at %s).", u.Name, orDash(at(originOf(f, "passwordauthentication")))))
		p.Origin = originOf(f, "passwordauthentication")
	}
	if why := unsatisfiedMethods(u, keys, unknown); why != "" && (keys > 0 || unknown || u.HasPassword) {
		org := originOf(f, "authenticationmethods")
		if org == nil || org.Value != u.Effective["authenticationmethods"] {
			if m := matchOrigin(f, "authenticationmethods", u.Effective["authenticationmethods"]); m != nil {
				org = m
			}
		}
		where := "at " + orDash(at(org))
		if m := matchOf(org); m != "" {
			where = fmt.Sprintf("in %q at %s", m, at(org))
		}
		p := add("guest.auth_methods_unsatisfiable", fmt.Sprintf("AuthenticationMethods %s (%s) cannot be completed by %s: %s.", u.Effective["authenticationmethods"], where, u.Name, why))
		p.Origin = org
	}
	judgeSessions(f, u, add)
	if g := f.Effective["maxauthtries"]; len(g) == 0 || g[0] != u.Effective["maxauthtries"] {
		judgeMaxAuthTries(f, u.Effective["maxauthtries"], u.Name, add)
	}
	if refused := refusedKeyTypes(u, types, o.Keys); refused != "" {
		p := add("guest.key_type_refused", fmt.Sprintf("sshd accepts none of %s's key types for this login (%s; PubkeyAcceptedAlgorithms %s).", u.Name, refused, u.Effective["pubkeyacceptedalgorithms"]))
		p.Origin = originOf(f, "pubkeyacceptedalgorithms")
		if p.Origin == nil {
			p.Origin = matchOrigin(f, "pubkeyacceptedalgorithms", u.Effective["pubkeyacceptedalgorithms"])
		}
	} else if slices.Contains(types, ssh.KeyAlgoRSA) && !strings.Contains(","+u.Effective["pubkeyacceptedalgorithms"]+",", ",ssh-rsa,") {
		p := add("guest.rsa_sha1_refused", fmt.Sprintf("%s has RSA keys; sshd refuses ssh-rsa (SHA-1) signatures, so clients older than OpenSSH 7.2 cannot use them.", u.Name))
		p.Origin = originOf(f, "pubkeyacceptedalgorithms")
	}
	if len(u.Chroot) > 0 {
		var ev []string
		for _, c := range u.Chroot {
			ev = append(ev, c.Path+": "+c.Reason)
		}
		p := add("guest.chroot_unsafe", fmt.Sprintf("ChrootDirectory %s for %s: %s is %s; sshd closes the session right after authentication.", u.Effective["chrootdirectory"], u.Name, u.Chroot[0].Path, u.Chroot[0].Reason), ev...)
		p.Paths = u.Chroot
		p.Origin = originOf(f, "chrootdirectory")
		if p.Origin == nil {
			p.Origin = matchOrigin(f, "chrootdirectory", u.Effective["chrootdirectory"])
		}
	}
	judgeKeyLinks(u, &ps)
	return ps
}

// judgeSessions: what lets the user authenticate but open no shell —
// a ForceCommand that is not a shell, MaxSessions 0.
func judgeSessions(f *Facts, u UserFacts, add func(id, summary string, ev ...string) *Problem) {
	where := func(key, val string) *Origin {
		o := originOf(f, key)
		if o == nil || !strings.EqualFold(o.Value, val) {
			if m := matchOrigin(f, key, val); m != nil {
				return m
			}
		}
		return o
	}
	in := func(o *Origin) string {
		if m := matchOf(o); m != "" {
			return fmt.Sprintf("%q at %s", m, at(o))
		}
		return "at " + orDash(at(o))
	}
	if fc := u.Effective["forcecommand"]; fc != "" && fc != "none" {
		what := ""
		switch filepath.Base(strings.Fields(fc)[0]) {
		case "internal-sftp", "sftp-server":
			what = "only SFTP works; ssh prints \"This service allows sftp connections only.\" and closes"
		case "nologin":
			what = "every session prints \"This account is currently not available.\" and closes"
		case "false", "true":
			what = "every session closes at once"
		}
		if what != "" {
			o := where("forcecommand", fc)
			p := add("guest.session_forced", fmt.Sprintf("ForceCommand %s (%s) runs instead of any shell or command %s asks for: %s.", fc, in(o), u.Name, what))
			p.Origin = o
		}
	}
	if u.Effective["maxsessions"] == "0" {
		o := where("maxsessions", "0")
		p := add("guest.sessions_disabled", fmt.Sprintf("MaxSessions 0 (%s): %s can authenticate but open no session; only forwarding (ssh -N, -J) works.", in(o), u.Name))
		p.Origin = o
	}
}

// judgeMaxAuthTries: MaxAuthTries 0 lets no login through; 1 cuts off a
// client that offers any other key before the right one (each key offered
// counts, auth2.c). user is "" for the global value.
func judgeMaxAuthTries(f *Facts, val, user string, add func(id, summary string, ev ...string) *Problem) {
	n, err := strconv.Atoi(val)
	if err != nil || n > 1 { // 2-6 are common hardening values: quiet
		return
	}
	o := originOf(f, "maxauthtries")
	if o == nil || o.Value != val {
		if m := matchOrigin(f, "maxauthtries", val); m != nil {
			o = m
		}
	}
	who := ""
	if user != "" {
		who = " for " + user
	}
	var p *Problem
	if n <= 0 {
		p = add("guest.max_auth_tries", fmt.Sprintf("MaxAuthTries %d%s (at %s): sshd drops every client at its first authentication attempt.", n, who, orDash(at(o))))
	} else {
		p = add("guest.max_auth_tries_low", fmt.Sprintf("MaxAuthTries %d%s (at %s): a client that offers several keys (an agent, ~/.ssh/id_*) is cut off before the right one.", n, who, orDash(at(o))))
	}
	p.Origin = o
	p.User = user
}

// judgeKeyLinks says which of u's key files are symbolic links: as
// evidence on the user's key finding when there is one, else as a
// warning of its own.
func judgeKeyLinks(u UserFacts, ps *[]Problem) {
	var ev []string
	for _, kf := range u.KeyFiles {
		if !kf.Symlink {
			continue
		}
		e := fmt.Sprintf("%s is a symbolic link to %s: sshd follows it, sshdoctor's repairs never write through it", kf.Path, orDash(kf.LinkTarget))
		if kf.NotRead != "" {
			e += "; not read: " + kf.NotRead
		}
		ev = append(ev, e)
	}
	if len(ev) == 0 {
		return
	}
	for _, id := range []string{"guest.no_authorized_keys", "guest.key_not_authorized", "guest.strict_modes"} {
		for i := range *ps {
			if p := &(*ps)[i]; p.ID == id {
				p.Evidence = append(p.Evidence, ev...)
				return
			}
		}
	}
	*ps = append(*ps, Problem{Finding: findings.New("guest.authorized_keys_symlink", fmt.Sprintf("%s's authorized keys file is a symbolic link: sshd follows it, but sshdoctor's repairs never write through it.", u.Name), "", ev...), User: u.Name})
}

// defectFingerprint is the SHA256 fingerprint of the key a defect holds.
func defectFingerprint(d KeyDefect) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(d.Key))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(k)
}

// privateKeyNote says where a private key sits in u's key files, as the
// likely reason the key meant there is missing ("" when none does).
func privateKeyNote(u UserFacts) string {
	for _, kf := range u.KeyFiles {
		if n := firstDefect(kf, DefectPrivateKey); n > 0 {
			return fmt.Sprintf("; %s line %d holds a private key, pasted instead of the .pub", kf.Path, n)
		}
	}
	return ""
}

// firstDefect is the line of kf's first defect of kind.
func firstDefect(kf KeyFile, kind string) int {
	for _, d := range kf.Defects {
		if d.Kind == kind {
			return d.Line
		}
	}
	return 0
}

func hasAnyKey(u UserFacts, want []string) bool {
	for _, kf := range u.KeyFiles {
		if kf.NotRead != "" {
			continue
		}
		for _, fp := range kf.fingerprints {
			if slices.Contains(want, fp) {
				return true
			}
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// findingFor builds a finding from its catalogue title (for planned work
// that has no judged problem behind it, like reset-ssh).
func findingFor(id string) findings.Finding {
	d, _ := findings.Lookup(id)
	return findings.New(id, d.Title, "")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func typeOf(context string) string {
	if f := strings.Split(context, ":"); len(f) >= 3 {
		return f[2]
	}
	return context
}

// allowRemedy: how to let sshd's port through the firewall that owns the
// default-deny chain, persistently.
func allowRemedy(r *FirewallRule, port int) string {
	switch r.Frontend {
	case "ufw":
		return fmt.Sprintf("`ufw allow %d/tcp` (`sshdoctor guest repair` runs it).", port)
	case "firewalld":
		return fmt.Sprintf("`firewall-cmd --permanent --add-port=%d/tcp && firewall-cmd --reload` (`sshdoctor guest repair` runs it).", port)
	}
	return fmt.Sprintf("`nft insert rule %s %s %s tcp dport %d accept` (`sshdoctor guest repair` does; it lasts until the ruleset is reloaded: add the rule to /etc/nftables.conf or the tool that writes it).", r.Family, r.Table, r.Chain, port)
}

// keysRestricted: every line holding a given key carries an option that
// makes sshd refuse it for this login (from= not admitting the client's
// address, an expiry-time passed). Each reason is "FILE:LINE: why"; nil
// when a given key is usable on some line, or the lines cannot be told.
func keysRestricted(u UserFacts, o JudgeOptions) []string {
	want := o.wanted()
	if len(want) == 0 {
		return nil
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	var why []string
	for _, fp := range want {
		plain, restricted := 0, []string(nil)
		for _, kf := range u.KeyFiles {
			if kf.Command || kf.NotRead != "" {
				continue
			}
			plain += count(kf.fingerprints, fp)
			for _, ko := range kf.Options {
				if ko.Fingerprint != fp {
					continue
				}
				plain--
				if r := ko.restriction(o.From, now); r != "" {
					restricted = append(restricted, fmt.Sprintf("%s:%d: %s", ko.Path, ko.Line, r))
				} else {
					return nil // usable on this line
				}
			}
		}
		if plain > 0 {
			return nil
		}
		why = append(why, restricted...)
	}
	return why
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// absentListenHosts: when every address sshd is told to listen on is
// specific and none is an address of this VM (a static IP that changed, a
// copied configuration), those addresses; else nil.
func (f *Facts) absentListenHosts() []string {
	if len(f.LocalAddrs) == 0 {
		return nil
	}
	listen := f.Effective["listenaddress"]
	if !f.ConfigOK {
		// sshd -t fails (another fault): the files say what sshd will
		// be told once that is repaired.
		listen = f.ListenParsed
	}
	if len(listen) == 0 {
		return nil
	}
	var absent []string
	for _, v := range listen {
		h := listenHost(v)
		a, err := netip.ParseAddr(h)
		if err != nil || a.IsUnspecified() || slices.Contains(f.LocalAddrs, a.Unmap().String()) {
			return nil // a wildcard, a name, or an address the VM has: sshd can bind
		}
		if !slices.Contains(absent, h) {
			absent = append(absent, h)
		}
	}
	return absent
}

// matchOrigin is the first directive for key inside a Match block whose
// value is val (sshd -T -C says the value; which block set it is the
// first that sets it in file order, as sshd applies them).
func matchOrigin(f *Facts, key, val string) *Origin {
	for _, o := range f.MatchOrigins[key] {
		if strings.EqualFold(strings.TrimSpace(o.Value), val) {
			return &o
		}
	}
	return nil
}

func matchOf(o *Origin) string {
	if o == nil {
		return ""
	}
	return o.Match
}

// refusedKeyTypes: when sshd's accepted algorithms for this login admit
// none of the keys that matter — the given keys, else every authorized
// key — their types (comma-separated); "" when some key is usable, or
// the accepted list is unknown. An RSA key is usable through rsa-sha2-256
// or -512 as well as ssh-rsa.
func refusedKeyTypes(u UserFacts, authorized []string, given []ssh.PublicKey) string {
	acc := u.Effective["pubkeyacceptedalgorithms"]
	if acc == "" {
		return ""
	}
	accepted := strings.Split(acc, ",")
	types := authorized
	if len(given) > 0 {
		types = nil
		for _, k := range given {
			types = append(types, k.Type())
		}
	}
	if len(types) == 0 {
		return ""
	}
	var refused []string
	for _, t := range types {
		ok := slices.Contains(accepted, t)
		if t == ssh.KeyAlgoRSA {
			ok = ok || slices.Contains(accepted, ssh.KeyAlgoRSASHA256) || slices.Contains(accepted, ssh.KeyAlgoRSASHA512)
		}
		if ok {
			return ""
		}
		if !slices.Contains(refused, t) {
			refused = append(refused, t)
		}
	}
	return strings.Join(refused, ", ")
}
