package guest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// resetMark prefixes every line reset-ssh disables in place, so an admin
// sees what was turned off and why, and the line can be turned back on.
const resetMark = "# sshdoctor reset-ssh: "

// ResetSSH is ResetSSHFor with no user to let through.
func ResetSSH(f *Facts) []Action { return ResetSSHFor(f, "") }

// ResetSSHFor plans the seed's "reset SSH configuration" without giving
// up the admin's security: sshd_config becomes the distro default (keeping
// its Include), but every hardening setting of the old effective
// configuration the default would weaken is carried into it, with the old
// file's AllowUsers/DenyUsers/AllowGroups/DenyGroups and Match blocks;
// in the drop-ins only the directives that break SSH are disabled (a
// drop-in left with nothing active, or that sshd -t rejects on its own, is
// moved into the backup set); missing host keys are generated, the
// privilege separation directory created, guest firewall rules on sshd's
// port removed. Apply then restarts sshd, verifies it and rolls back on
// failure.
//
// user is the account being repaired ("" for none): Allow/Deny directives
// are policy and stay, but are edited to let user through. Without a user,
// Allow/Deny directives that admit no account with a login shell at all
// are treated as breakage and disabled.
func ResetSSHFor(f *Facts, user string) []Action {
	family := Family()
	def := DefaultConfigs[family]
	var acts []Action

	tmp, err := os.MkdirTemp("", "sshdoctor-reset-*")
	if err == nil {
		defer os.RemoveAll(tmp)
	}
	hostKey := ""
	if err == nil && exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(tmp, "hostkey")).Run() == nil {
		hostKey = filepath.Join(tmp, "hostkey")
	}
	sshd := f.SSHDPath
	if sshd == "" {
		sshd = "/usr/sbin/sshd"
	}

	var drops []*dropIn
	if strings.Contains(def, "Include /etc/ssh/sshd_config.d/") {
		paths, _ := filepath.Glob("/etc/ssh/sshd_config.d/*.conf")
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				drops = append(drops, &dropIn{path: p, remove: "unreadable"})
				continue
			}
			d := &dropIn{path: p, orig: string(data)}
			d.lines, d.changes = disableBreaking(strings.Split(d.orig, "\n"))
			drops = append(drops, d)
		}
	}
	def = withoutSubsystems(def, drops)
	oldMain, _ := os.ReadFile(sshdConfig)
	access, match := splitMain(string(oldMain))

	// Allow/Deny: the carried lines of the old sshd_config come first (they
	// go before the Include), then the drop-ins' in sshd's reading order.
	refs := []lineRefs{{lines: &access}}
	for _, d := range drops {
		if d.remove == "" {
			refs = append(refs, lineRefs{lines: &d.lines, changes: &d.changes})
		}
	}
	if user != "" {
		letThrough(refs, user, accountGroups(user))
	} else if !anyLoginAdmitted(refs) {
		disableAccess(refs)
	}

	for _, d := range drops {
		if d.remove != "" {
			continue
		}
		switch {
		case len(d.changes) > 0 && !hasActive(d.lines):
			d.remove = "it held only lines that break SSH: " + strings.Join(d.changes, "; ")
		case rejectedAlone(sshd, strings.Join(d.lines, "\n"), hostKey):
			d.remove = "sshd -t rejects it"
		}
	}

	// Compare the old effective configuration with the candidate's and
	// carry what the candidate would weaken.
	old := impliedByMethods(oldEffective(f, sshd, hostKey))
	var carried []string
	var notes []string
	newEff := candidateEffective(sshd, tmp, resetMain(def, access, match), drops, hostKey)
	client := clientProposal()
	weakened := Weakened(old, newEff)
	for _, k := range hardeningKeys {
		lk := strings.ToLower(k)
		o := old[lk]
		// Without the candidate's sshd -T every hardening value is kept.
		if len(o) == 0 || (newEff != nil && !slices.Contains(weakened, lk)) {
			continue
		}
		if why := notCarried(lk, o, client[lk]); why != "" {
			if why != "-" {
				notes = append(notes, why)
			}
			continue
		}
		carried = append(carried, k+" "+strings.Join(o, " "))
	}
	// Where the users' keys come from is kept too when it does not break
	// logins: it may be the only source of someone's key.
	for _, k := range []string{"AuthorizedKeysFile", "AuthorizedKeysCommand", "AuthorizedKeysCommandUser"} {
		lk := strings.ToLower(k)
		o := strings.Join(old[lk], " ")
		if o == "" || o == "none" || breaking(k, o) || (newEff != nil && strings.Join(newEff[lk], " ") == o) {
			continue
		}
		if lk == "authorizedkeyscommanduser" && breaking("AuthorizedKeysCommand", strings.Join(old["authorizedkeyscommand"], " ")) {
			continue
		}
		carried = append(carried, k+" "+o)
	}
	main := resetMain(def, append(access, carried...), match)
	if string(oldMain) != main {
		desc := fmt.Sprintf("replace %s with the %s default", sshdConfig, family)
		if len(access)+len(carried) > 0 {
			desc += fmt.Sprintf(", keeping from the old configuration: %s", strings.Join(append(slices.Clone(access), carried...), "; "))
		}
		if len(match) > 0 {
			desc += "; and its Match blocks"
		}
		acts = append(acts, Action{For: "reset-ssh", Description: desc, sshd: true,
			do: func(b *Backup) error {
				if err := b.Save(sshdConfig); err != nil {
					return err
				}
				// Validated as a whole (with the drop-ins that stay) by Apply's
				// sshd -t before sshd restarts; a failure rolls everything back.
				return WriteFileAtomic(sshdConfig, []byte(main), 0o644, 0, 0)
			}})
	}
	for _, d := range drops {
		d := d
		switch {
		case d.remove != "":
			acts = append(acts, Action{For: "reset-ssh", Description: fmt.Sprintf("move drop-in %s into the backup set (%s)", d.path, d.remove), sshd: true,
				do: func(b *Backup) error {
					if err := b.Save(d.path); err != nil {
						return err
					}
					return os.Remove(d.path)
				}})
		case len(d.changes) > 0:
			acts = append(acts, Action{For: "reset-ssh", Description: fmt.Sprintf("in drop-in %s: %s", d.path, strings.Join(d.changes, "; ")), sshd: true,
				do: func(b *Backup) error {
					// Apply's sshd -t validates the whole configuration.
					return editFile(b, d.path, func([]string) []string { return d.lines }, false)
				}})
		}
	}
	for _, n := range notes {
		acts = append(acts, Action{For: "reset-ssh", Skipped: n})
	}
	if len(f.HostKeys) == 0 || missingDefaultHostKey() {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.hostkeys_missing")}}, RepairOptions{})...)
	}
	if !f.PrivsepDir {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.privsep_dir_missing"), Paths: []PathMode{{Path: f.PrivsepPath}}}}, RepairOptions{})...)
	}
	for i := range f.Firewall {
		acts = append(acts, Plan(f, []Problem{{Finding: findingFor("guest.firewall_blocks"), Rule: &f.Firewall[i]}}, RepairOptions{})...)
	}
	if len(f.SSHDPIDs) == 0 && !slices.ContainsFunc(acts, func(a Action) bool { return a.Skipped == "" }) {
		// Nothing to reset, but sshd is down: the reset still restarts it.
		acts = append(acts, Action{For: "reset-ssh", Description: "start sshd (the configuration is already the default)", sshd: true})
	}
	return acts
}

// withoutSubsystems drops the default's Subsystem lines for subsystems a
// kept drop-in defines: sshd refuses a subsystem defined twice.
func withoutSubsystems(def string, drops []*dropIn) string {
	defined := map[string]bool{}
	for _, d := range drops {
		for _, l := range d.lines {
			if k, v := splitKV(strings.TrimSpace(l)); strings.EqualFold(k, "subsystem") {
				defined[strings.Fields(v + " ")[0]] = true
			}
		}
	}
	var out []string
	for _, l := range strings.Split(def, "\n") {
		if k, v := splitKV(l); strings.EqualFold(k, "subsystem") && defined[strings.Fields(v + " ")[0]] {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// dropIn is one sshd_config.d file as the reset would leave it.
type dropIn struct {
	path    string
	orig    string
	lines   []string // after the edits
	changes []string // what was disabled or edited, for the plan
	remove  string   // why it is moved aside ("" = it stays)
}

// breaking says whether a directive stops logins, so a reset disables it.
// Everything else (hardening included: PermitRootLogin no) stays.
func breaking(key, val string) bool {
	v := strings.ToLower(strings.Fields(val + " ")[0])
	switch strings.ToLower(key) {
	case "port", "listenaddress", "maxstartups", "authenticationmethods":
		return true
	case "authorizedkeysfile":
		// Extra key sources (NixOS's /etc/ssh/authorized_keys.d/%u) are
		// the admin's; a list without the users' own file breaks logins.
		return !slices.ContainsFunc(strings.Fields(val), func(f string) bool {
			return f == ".ssh/authorized_keys" || f == "%h/.ssh/authorized_keys"
		})
	case "authorizedkeyscommand":
		// A command sshd can run may be the only source of the users'
		// keys (Fedora CoreOS's ssh-key-dir, SSSD): it stays.
		return v != "none" && !safeCommand(strings.Fields(val + " ")[0])
	case "authorizedkeyscommanduser":
		return !userExists(strings.Fields(val + " ")[0])
	case "pubkeyauthentication":
		return v != "yes"
	case "logingracetime":
		s, ok := seconds(v)
		return ok && s == 0
	case "maxauthtries":
		n, err := strconv.Atoi(v)
		return err == nil && n < 3
	case "permitrootlogin":
		return !slices.Contains([]string{"no", "prohibit-password", "without-password", "forced-commands-only"}, v)
	}
	return false
}

// safeCommand says whether sshd would run path as an AuthorizedKeysCommand:
// an absolute path to an executable file that root owns and no one else
// can write.
func safeCommand(path string) bool {
	mode, uid, _, ok := fileStat(path)
	return ok && filepath.IsAbs(path) && mode.IsRegular() && mode&0o111 != 0 && mode&0o022 == 0 && uid == 0
}

// disableBreaking comments out the breaking directives of a configuration
// file (inside Match blocks too); it returns the new lines and what it
// disabled.
func disableBreaking(lines []string) ([]string, []string) {
	out := slices.Clone(lines)
	var changes []string
	for i, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if k, v := splitKV(t); breaking(k, v) {
			out[i] = resetMark + "disabled (it breaks SSH): " + l
			changes = append(changes, fmt.Sprintf("disable line %d %q", i+1, t))
		}
	}
	return out, changes
}

// splitMain returns what a reset keeps of the old sshd_config besides its
// effective hardening: the Allow/Deny lines outside Match blocks, and the
// Match blocks (from the first Match to the end) with their breaking lines
// disabled.
func splitMain(text string) (access, match []string) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, _ := splitKV(t)
		if strings.EqualFold(k, "match") {
			match, _ = disableBreaking(lines[i:])
			for len(match) > 0 && strings.TrimSpace(match[len(match)-1]) == "" {
				match = match[:len(match)-1]
			}
			return access, match
		}
		if accessKeys[strings.ToLower(k)] {
			access = append(access, t)
		}
	}
	return access, nil
}

var accessKeys = map[string]bool{"allowusers": true, "denyusers": true, "allowgroups": true, "denygroups": true}

// resetMain is the distro default with the kept lines before its Include
// (sshd takes the first value of a keyword; without an Include, after the
// header comment) and the old Match blocks at the end.
func resetMain(def string, kept, match []string) string {
	lines := strings.Split(strings.TrimSuffix(def, "\n"), "\n")
	at := 1
	for i, l := range lines {
		if strings.HasPrefix(l, "Include ") {
			at = i
			break
		}
	}
	out := slices.Clone(lines[:at])
	if len(kept) > 0 {
		out = append(out, "# Kept from the configuration before the reset (sshd takes the first value of a keyword):")
		out = append(out, kept...)
	}
	out = append(out, lines[at:]...)
	if len(match) > 0 {
		out = append(out, "# Match blocks of the configuration before the reset:")
		out = append(out, match...)
	}
	return strings.Join(out, "\n") + "\n"
}

// lineRefs is a file's lines the Allow/Deny edits may change in place.
type lineRefs struct {
	lines   *[]string
	changes *[]string // nil: the carried lines of sshd_config
}

func (r lineRefs) note(s string) {
	if r.changes != nil {
		*r.changes = append(*r.changes, s)
	}
}

// accessLines calls fn for every active Allow/Deny line.
func accessLines(refs []lineRefs, fn func(r lineRefs, i int, key, val string)) {
	for _, r := range refs {
		for i, l := range *r.lines {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if k, v := splitKV(t); accessKeys[strings.ToLower(k)] {
				fn(r, i, k, v)
			}
		}
	}
}

func matchesAny(list []string, names []string) bool {
	for _, pat := range list {
		pat, _, _ = strings.Cut(pat, "@") // user@host: the user part
		for _, n := range names {
			if ok, _ := filepath.Match(pat, n); ok {
				return true
			}
		}
	}
	return false
}

// letThrough edits the Allow/Deny lines so they admit user (groups[0] is
// the primary group): DenyUsers/DenyGroups lose the entries that match,
// the first AllowUsers gains user and the first AllowGroups the primary
// group when none admits them.
func letThrough(refs []lineRefs, user string, groups []string) {
	var allowU, allowG []func(string)
	admittedU, admittedG := false, false
	accessLines(refs, func(r lineRefs, i int, key, val string) {
		l := (*r.lines)[i]
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		// sshd ends a line's arguments at a word starting with '#'.
		words := strings.Fields(val)
		if i := slices.IndexFunc(words, func(w string) bool { return strings.HasPrefix(w, "#") }); i >= 0 {
			words = words[:i]
		}
		val = strings.Join(words, " ")
		names := []string{user}
		lk := strings.ToLower(key)
		if strings.HasSuffix(lk, "groups") {
			names = groups
		}
		switch lk {
		case "denyusers", "denygroups":
			var keep []string
			for _, w := range words {
				if !matchesAny([]string{w}, names) {
					keep = append(keep, w)
				}
			}
			if len(keep) == len(words) {
				return
			}
			if len(keep) == 0 {
				(*r.lines)[i] = resetMark + "disabled (it refused " + user + "): " + l
			} else {
				(*r.lines)[i] = indent + key + " " + strings.Join(keep, " ") + " " + resetMark + "was: " + strings.TrimSpace(l)
			}
			r.note(fmt.Sprintf("let %s through %s at line %d", user, key, i+1))
		case "allowusers", "allowgroups":
			admitted := matchesAny(words, names)
			add := func(name string) {
				(*r.lines)[i] = indent + key + " " + val + " " + name
				r.note(fmt.Sprintf("add %s to %s at line %d", name, key, i+1))
			}
			if lk == "allowusers" {
				admittedU = admittedU || admitted
				allowU = append(allowU, add)
			} else {
				admittedG = admittedG || admitted
				allowG = append(allowG, add)
			}
		}
	})
	if len(allowU) > 0 && !admittedU {
		allowU[0](user)
	}
	if len(allowG) > 0 && !admittedG {
		allowG[0](groups[0])
	}
}

// accountGroups are user's groups, the primary one first (the user's name
// when the account does not exist yet: useradd -U makes that group).
func accountGroups(user string) []string {
	groups := []string{primaryGroup(user)}
	if pw, ok := passwdEntry(user); ok {
		for _, g := range userGroups(UserFacts{Name: user, GID: atoi(pw[3])}) {
			if g != groups[0] {
				groups = append(groups, g)
			}
		}
	}
	return groups
}

// anyLoginAdmitted says whether the Allow/Deny lines admit at least one
// account with a login shell (root or a uid ≥ 1000).
func anyLoginAdmitted(refs []lineRefs) bool {
	e := map[string]string{}
	accessLines(refs, func(_ lineRefs, _ int, key, val string) {
		lk := strings.ToLower(key)
		e[lk] = strings.TrimSpace(e[lk] + " " + val)
	})
	if len(e) == 0 {
		return true
	}
	data, _ := os.ReadFile("/etc/passwd")
	for _, l := range strings.Split(string(data), "\n") {
		pw := strings.Split(l, ":")
		if len(pw) < 7 || (pw[2] != "0" && atoi(pw[2]) < 1000) || !shellOK(pw[6]) {
			continue
		}
		u := UserFacts{Name: pw[0], GID: atoi(pw[3]), Effective: e}
		if deniedByGroups(u, userGroups(u), netip.Addr{}) == "" {
			return true
		}
	}
	return false
}

// disableAccess drops every Allow/Deny line: they lock every login out.
func disableAccess(refs []lineRefs) {
	accessLines(refs, func(r lineRefs, i int, key, _ string) {
		if r.changes == nil {
			*r.lines = nil // the carried lines: not carried
			return
		}
		(*r.lines)[i] = resetMark + "disabled (it admits no account with a login shell): " + (*r.lines)[i]
		r.note(fmt.Sprintf("disable %s at line %d (it admits no account with a login shell)", key, i+1))
	})
}

func hasActive(lines []string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		t := strings.TrimSpace(l)
		return t != "" && !strings.HasPrefix(t, "#")
	})
}

// rejectedAlone says whether sshd -t rejects a drop-in's text on its own.
func rejectedAlone(sshd, text, hostKey string) bool {
	tmp, err := os.CreateTemp("", "sshdoctor-dropin-*.conf")
	if err != nil {
		return false
	}
	defer os.Remove(tmp.Name())
	tmp.WriteString(text + "\n")
	tmp.Close()
	args := []string{"-t", "-f", tmp.Name()}
	if hostKey != "" {
		args = append(args, "-h", hostKey)
	}
	out, err := exec.Command(sshd, args...).CombinedOutput()
	return err != nil && strings.Contains(string(out), tmp.Name())
}

// candidateEffective is sshd -T of the configuration the reset would
// leave: main as sshd_config, its Include pointed at copies of the kept
// drop-ins in dir, and a temporary host key (the real ones may be
// missing). nil when sshd cannot tell.
func candidateEffective(sshd, dir, main string, drops []*dropIn, hostKey string) map[string][]string {
	if dir == "" || hostKey == "" {
		return nil
	}
	dd := filepath.Join(dir, "sshd_config.d")
	if err := os.MkdirAll(dd, 0o700); err != nil {
		return nil
	}
	for _, d := range drops {
		if d.remove == "" {
			if err := os.WriteFile(filepath.Join(dd, filepath.Base(d.path)), []byte(strings.Join(d.lines, "\n")), 0o600); err != nil {
				return nil
			}
		}
	}
	cand := filepath.Join(dir, "sshd_config")
	main = strings.ReplaceAll(main, "Include /etc/ssh/sshd_config.d/*.conf", "Include "+dd+"/*.conf")
	if err := os.WriteFile(cand, []byte(main), 0o600); err != nil {
		return nil
	}
	out, err := exec.Command(sshd, "-T", "-f", cand, "-h", hostKey).Output()
	if err != nil {
		return nil
	}
	return parseSSHDT(string(out))
}

func parseSSHDT(out string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// oldEffective is sshd -T of the configuration before the reset or, when
// sshd rejected it, sshd's built-in defaults (sshd -T -f /dev/null) with
// the first value of each keyword as parsed, in sshd -T's spelling.
func oldEffective(f *Facts, sshd, hostKey string) map[string][]string {
	if f.ConfigOK && len(f.Effective) > 0 {
		return f.Effective
	}
	m := map[string][]string{}
	if hostKey != "" {
		if out, err := exec.Command(sshd, "-T", "-f", "/dev/null", "-h", hostKey).Output(); err == nil {
			m = parseSSHDT(string(out))
		}
	}
	origins := map[string]Origin{}
	for k, o := range f.Origins {
		origins[k] = o
	}
	for alias, k := range map[string]string{"challengeresponseauthentication": "kbdinteractiveauthentication", "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms"} {
		if o, ok := origins[alias]; ok {
			if _, set := origins[k]; !set {
				origins[k] = o
			}
		}
	}
	for k, o := range origins {
		v, _, _ := strings.Cut(o.Value, " #")
		v = strings.TrimSpace(v)
		switch k {
		case "revokedkeys", "trustedusercakeys", "authorizedprincipalsfile":
		case "logingracetime":
			if n, ok := seconds(strings.ToLower(v)); ok {
				v = strconv.Itoa(n)
			}
		default:
			v = strings.ToLower(v)
		}
		m[k] = []string{v}
	}
	return m
}

// clientProposal is the VM's own ssh client's default algorithm lists
// (ssh -G without any ssh_config), keyed like sshd -T; nil without ssh.
func clientProposal() map[string][]string {
	out, err := exec.Command("ssh", "-F", "/dev/null", "-G", "localhost").Output()
	if err != nil {
		return nil
	}
	return parseSSHDT(string(out))
}

// notCarried says why an old hardening value is not carried: "-" when the
// value itself breaks SSH (MaxAuthTries below 3, LoginGraceTime 0), a
// note when an algorithm list shares nothing with the default client
// proposal, "" to carry it.
func notCarried(key string, old, client []string) string {
	switch key {
	case "maxauthtries":
		if n, err := strconv.Atoi(old[0]); err != nil || n < 3 {
			return "-"
		}
	case "logingracetime":
		if s, ok := seconds(old[0]); !ok || s == 0 {
			return "-"
		}
	}
	if !algorithmKeys[key] || client == nil {
		return ""
	}
	list := strings.Split(old[0], ",")
	if strings.ContainsAny(old[0][:1], "+-^") {
		return "-" // relative to a default sshd could not resolve
	}
	for _, a := range strings.Split(client[0], ",") {
		if slices.Contains(list, a) {
			return ""
		}
	}
	return fmt.Sprintf("%s %s of the old configuration is not kept: it shares no algorithm with this VM's default ssh client proposal, so typical clients could not connect; the distro default applies", key, old[0])
}

func missingDefaultHostKey() bool {
	for _, t := range []string{"ecdsa", "ed25519"} {
		if _, err := os.Stat("/etc/ssh/ssh_host_" + t + "_key"); err != nil {
			return true
		}
	}
	return false
}

// hardeningKeys are the settings a reset must never weaken, as sshd_config
// spells them; sshd -T prints them in lower case.
var hardeningKeys = []string{
	"PasswordAuthentication", "KbdInteractiveAuthentication", "PermitEmptyPasswords", "HostbasedAuthentication",
	"PermitUserEnvironment", "X11Forwarding", "AllowAgentForwarding", "PermitTunnel", "GatewayPorts",
	"AllowStreamLocalForwarding", "AllowTcpForwarding", "DisableForwarding", "PermitRootLogin",
	"Ciphers", "MACs", "KexAlgorithms", "HostKeyAlgorithms", "PubkeyAcceptedAlgorithms", "CASignatureAlgorithms",
	"MaxAuthTries", "LoginGraceTime", "MaxSessions", "StrictModes", "IgnoreRhosts", "RequiredRSASize",
	"RevokedKeys", "TrustedUserCAKeys", "AuthorizedPrincipalsFile",
}

var algorithmKeys = map[string]bool{"ciphers": true, "macs": true, "kexalgorithms": true, "hostkeyalgorithms": true,
	"pubkeyacceptedalgorithms": true, "casignaturealgorithms": true}

// HardeningKeys are the sshd -T keywords Weakened compares.
func HardeningKeys() []string {
	out := make([]string, len(hardeningKeys))
	for i, k := range hardeningKeys {
		out[i] = strings.ToLower(k)
	}
	return out
}

// Weakened lists the hardening keywords on which the effective
// configuration newEff (sshd -T output, keyword → values) is weaker than
// old. An AuthenticationMethods without "password" (or
// "keyboard-interactive") counts as PasswordAuthentication (or
// KbdInteractiveAuthentication) no: passwords were refused even if that
// keyword said yes.
func Weakened(old, newEff map[string][]string) []string {
	old, newEff = impliedByMethods(old), impliedByMethods(newEff)
	var out []string
	for _, k := range HardeningKeys() {
		if Weaker(k, old[k], newEff[k]) {
			out = append(out, k)
		}
	}
	return out
}

func impliedByMethods(m map[string][]string) map[string][]string {
	am := strings.ToLower(strings.Join(m["authenticationmethods"], " "))
	if am == "" || am == "any" {
		return m
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	for method, key := range map[string]string{"password": "passwordauthentication", "keyboard-interactive": "kbdinteractiveauthentication"} {
		allowed := false
		for _, list := range strings.Fields(am) {
			for _, x := range strings.Split(list, ",") {
				allowed = allowed || x == method || strings.HasPrefix(x, method+":")
			}
		}
		if !allowed {
			out[key] = []string{"no"}
		}
	}
	return out
}

// Weaker says whether newVals of the sshd -T keyword key is weaker
// (lets more in) than oldVals. Unknown values, and a side without a
// value, are never weaker.
func Weaker(key string, oldVals, newVals []string) bool {
	if len(oldVals) == 0 || len(newVals) == 0 {
		return false
	}
	o := strings.ToLower(strings.Join(oldVals, " "))
	n := strings.ToLower(strings.Join(newVals, " "))
	ranked := func(ranks map[string]int) bool {
		ro, okO := ranks[o]
		rn, okN := ranks[n]
		// Equal ranks but different values (local vs remote forwarding)
		// allow something the old value did not.
		return okO && okN && (rn > ro || (rn == ro && n != o))
	}
	switch key {
	case "passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication", "permitemptypasswords",
		"hostbasedauthentication", "permituserenvironment", "x11forwarding", "allowagentforwarding":
		return o == "no" && n != "no"
	case "permittunnel":
		return ranked(map[string]int{"no": 0, "point-to-point": 1, "ethernet": 1, "yes": 2})
	case "gatewayports":
		ro, rn := map[string]int{"no": 0, "clientspecified": 1, "yes": 2}[o], map[string]int{"no": 0, "clientspecified": 1, "yes": 2}[n]
		return rn > ro
	case "allowtcpforwarding", "allowstreamlocalforwarding":
		return ranked(map[string]int{"no": 0, "local": 1, "remote": 1, "yes": 2, "all": 2})
	case "disableforwarding":
		return o == "yes" && n != "yes"
	case "permitrootlogin":
		ranks := map[string]int{"no": 0, "forced-commands-only": 1, "prohibit-password": 2, "without-password": 2, "yes": 3}
		ro, okO := ranks[o]
		rn, okN := ranks[n]
		return okO && okN && rn > ro
	case "strictmodes":
		return o == "yes" && n == "no"
	case "ignorerhosts":
		ranks := map[string]int{"no": 0, "shosts-only": 1, "yes": 2}
		ro, okO := ranks[o]
		rn, okN := ranks[n]
		return okO && okN && rn < ro
	case "maxauthtries", "maxsessions":
		no, errO := strconv.Atoi(o)
		nn, errN := strconv.Atoi(n)
		return errO == nil && errN == nil && nn > no
	case "requiredrsasize":
		no, errO := strconv.Atoi(o)
		nn, errN := strconv.Atoi(n)
		return errO == nil && errN == nil && nn < no
	case "logingracetime":
		so, okO := seconds(o)
		sn, okN := seconds(n)
		return okO && okN && so != 0 && (sn == 0 || sn > so)
	case "ciphers", "macs", "kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedalgorithms", "casignaturealgorithms":
		if strings.ContainsAny(o[:1]+n[:1], "+-^") {
			return false // relative to a default only sshd knows
		}
		olds := strings.Split(o, ",")
		for _, a := range strings.Split(n, ",") {
			if !slices.Contains(olds, a) {
				return true
			}
		}
		return false
	case "revokedkeys", "trustedusercakeys", "authorizedprincipalsfile":
		return o != "none" && n != o
	}
	return false
}

// seconds parses an sshd time value: a number of seconds or
// number+unit groups (s, m, h, d, w), as "90", "1m30s", "2h".
func seconds(v string) (int, bool) {
	units := map[byte]int{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
	total, num, digits := 0, 0, false
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20
		switch {
		case v[i] >= '0' && v[i] <= '9':
			num, digits = num*10+int(v[i]-'0'), true
		case units[c] > 0 && digits:
			total, num, digits = total+num*units[c], 0, false
		default:
			return 0, false
		}
	}
	if digits {
		total += num
	}
	return total, v != ""
}
