package guest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// loginUsers lists accounts with a login shell and a home (uid ≥ UID_MIN).
func loginUsers() []string {
	uidMin := 1000
	if data, err := os.ReadFile("/etc/login.defs"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "UID_MIN" {
				if n, err := strconv.Atoi(f[1]); err == nil {
					uidMin = n
				}
			}
		}
	}
	data, _ := os.ReadFile("/etc/passwd")
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 7 {
			continue
		}
		uid, _ := strconv.Atoi(f[2])
		if uid >= uidMin && uid != 65534 && f[5] != "" && f[5] != "/nonexistent" {
			names = append(names, f[0])
		}
	}
	return names
}

func gatherUsers(ctx context.Context, o Options, f *Facts) []UserFacts {
	var out []UserFacts
	if len(o.Users) > 0 {
		for _, n := range o.Users {
			out = append(out, gatherUser(ctx, o, f, n))
		}
		return out
	}
	// Unasked, check only the accounts people log in to over SSH: those
	// with an authorized key file or a usable password. A locked account
	// without keys is a disabled account, not a problem to repair.
	for _, n := range loginUsers() {
		if u := gatherUser(ctx, o, f, n); loginAccount(u) {
			out = append(out, u)
		}
	}
	return out
}

// loginAccount says whether an account is one people log in to over SSH:
// it has an authorized key file or a usable password.
func loginAccount(u UserFacts) bool {
	hasKeys := slices.ContainsFunc(u.KeyFiles, func(k KeyFile) bool { return k.Found && (!k.Command || len(k.Keys) > 0) })
	return hasKeys || (u.HasPassword && !u.Locked)
}

func gatherUser(ctx context.Context, o Options, f *Facts, name string) UserFacts {
	u := UserFacts{Name: name, HomeOwnerUID: -1}
	pw, ok := passwdEntry(name)
	if !ok {
		// sshd reads keys from the home of an existing user only; a home
		// left behind by userdel is worth knowing for the repair.
		if _, uid, _, ok := fileStat(filepath.Join("/home", name)); ok {
			u.HomeOwnerUID = uid
		}
		return u
	}
	u.Exists = true
	u.UID, _ = strconv.Atoi(pw[2])
	u.GID, _ = strconv.Atoi(pw[3])
	u.Home, u.Shell = pw[5], pw[6]
	u.ShellOK = shellOK(u.Shell)
	if sh, ok := colonEntry("/etc/shadow", name, 9); ok {
		hash := sh[1]
		u.Locked = strings.HasPrefix(hash, "!")
		h := strings.TrimLeft(hash, "!")
		u.HasPassword = strings.HasPrefix(h, "$") || (len(h) == 13 && !strings.ContainsAny(h, "*!"))
		today := int(time.Now().Unix() / 86400)
		if exp, err := strconv.Atoi(sh[7]); err == nil && exp >= 0 && exp <= today {
			u.AccountExpired = true
		}
		if last, err := strconv.Atoi(sh[2]); err == nil {
			if last == 0 {
				u.PasswordExpired = true
			} else if max, err := strconv.Atoi(sh[4]); err == nil && max < 99999 && last+max < today {
				u.PasswordExpired = true
			}
		}
	}
	if f.ConfigOK {
		u.Effective = map[string]string{}
		for k, v := range sshdT(ctx, o.SSHD, connSpec(name, o.From, f)) {
			u.Effective[k] = strings.Join(v, " ")
		}
		u.Groups = userGroups(u)
		u.AllowedBy = deniedBy(u, f)
		if cr := u.Effective["chrootdirectory"]; cr != "" && cr != "none" {
			u.Chroot = unsafeChroot(expandChroot(cr, u))
		}
	}
	akf := ".ssh/authorized_keys .ssh/authorized_keys2"
	if v, ok := u.Effective["authorizedkeysfile"]; ok {
		akf = v
	}
	for _, p := range strings.Fields(akf) {
		if p == "none" {
			continue
		}
		p = expandTokens(p, u)
		if !path.IsAbs(p) {
			p = path.Join(u.Home, p)
		}
		u.KeyFiles = append(u.KeyFiles, readKeyFile(p, u))
	}
	if cmd := u.Effective["authorizedkeyscommand"]; cmd != "" && cmd != "none" {
		u.KeyFiles = append(u.KeyFiles, runKeysCommand(ctx, cmd, u.Effective["authorizedkeyscommanduser"], u))
	}
	u.Stray = strayKeys(u)
	gids := userGIDs(u)
	for _, kf := range u.KeyFiles {
		if kf.Found && kf.NotRead == "" && !kf.Command && !kf.Symlink {
			u.Unreadable = appendNewPaths(u.Unreadable, keyFileAccess(kf.Path, u, gids))
		}
	}
	if u.Effective["strictmodes"] != "no" {
		for _, kf := range u.KeyFiles {
			if kf.Found && kf.NotRead == "" && !kf.Command {
				u.BadModes = append(u.BadModes, strictModes(kf.Path, u)...)
			}
		}
	}
	return u
}

func shellOK(sh string) bool {
	base := filepath.Base(sh)
	if sh == "" || base == "nologin" || base == "false" {
		return false
	}
	st, err := os.Stat(sh)
	return err == nil && st.Mode()&0o111 != 0
}

// expandTokens expands sshd's AuthorizedKeysFile tokens.
func expandTokens(p string, u UserFacts) string {
	r := strings.NewReplacer("%%", "%", "%h", u.Home, "%u", u.Name, "%U", strconv.Itoa(u.UID))
	return r.Replace(p)
}

// maxKeyFileRead bounds what is read of one authorized_keys file (sshd
// reads it line by line; thousands of keys fit in it).
const maxKeyFileRead = 16 << 20

// readKeyFile reads an authorized_keys file as root. Opened with
// O_NONBLOCK and checked on the descriptor, so a FIFO there cannot hang
// the check. Through a symbolic link it reads only a regular file the
// user owns inside the home (checked on the opened descriptor, not the
// path again): anything else would let a user point the link at
// /etc/shadow and have sshdoctor report on its lines.
func readKeyFile(p string, u UserFacts) KeyFile {
	kf := KeyFile{Path: p}
	if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		kf.Symlink = true
		kf.LinkTarget, _ = os.Readlink(p)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return kf
	}
	defer f.Close()
	kf.Found = true
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		kf.NotRead = "not a regular file"
		return kf
	}
	real, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	home, _ := filepath.EvalSymlinks(u.Home)
	if !kf.Symlink && u.Home != "" && keyFileWithin(p, u.Home) && home != "" && real != filepath.Join(home, strings.TrimPrefix(p, u.Home)) {
		kf.Symlink, kf.LinkTarget = true, real // a directory on the way is a link
	}
	if kf.Symlink {
		switch uid := int(st.Sys().(*syscall.Stat_t).Uid); {
		case u.Home == "" || home == "" || real == "" || !keyFileWithin(real, home):
			kf.NotRead = fmt.Sprintf("the link leads outside %s's home", u.Name)
		case uid != u.UID:
			kf.NotRead = fmt.Sprintf("the link leads to a file of uid %d, not %s's", uid, u.Name)
		}
		if kf.NotRead != "" {
			return kf
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileRead))
	if err != nil {
		kf.NotRead = "read failed"
		return kf
	}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			kf.Bad++
			continue
		}
		kf.Keys = append(kf.Keys, key.Type())
		kf.fingerprints = append(kf.fingerprints, ssh.FingerprintSHA256(key))
	}
	kf.Options = keyOptionLines(p, data)
	kf.Defects = keyDefects(keyFileLines(data))
	return kf
}

// keyFileWithin says whether the absolute path p is dir or below it.
func keyFileWithin(p, dir string) bool {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// strictModes walks from the key file up to the home directory as sshd's
// secure_filename() does and reports what it would refuse: an owner other
// than the user or root, or group/world write permission. Debian's sshd
// accepts group write when the group is the user's private group.
func strictModes(file string, u UserFacts) []PathMode {
	var bad []PathMode
	private := privateGroup(u.GID, u) // read /etc/group once per walk
	p := file
	for {
		mode, uid, gid, ok := fileStat(p)
		if !ok {
			break
		}
		reason := strictModeReason(int(mode.Perm()), uid, gid, u, private)
		if reason != "" {
			bad = append([]PathMode{{Path: p, Mode: fmt.Sprintf("%04o", mode.Perm()), UID: uid, GID: gid, Reason: reason}}, bad...)
		}
		if p == u.Home || p == "/" {
			break
		}
		p = filepath.Dir(p)
	}
	return bad
}

func privateGroup(gid int, u UserFacts) bool {
	if gid != u.GID {
		return false
	}
	g, ok := colonEntry("/etc/group", u.Name, 4)
	return ok && g[2] == strconv.Itoa(gid) && (g[3] == "" || g[3] == u.Name)
}

// deniedBy returns the AllowUsers/DenyUsers/AllowGroups/DenyGroups
// directive that refuses u, as sshd's allowed_user() would ("" = allowed).
func deniedBy(u UserFacts, f *Facts) string { return deniedByGroups(u, userGroups(u), f.From) }

func userGroups(u UserFacts) []string {
	var gs []string
	data, _ := os.ReadFile("/etc/group")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 4 {
			continue
		}
		if f[2] == strconv.Itoa(u.GID) || slices.Contains(strings.Split(f[3], ","), u.Name) {
			gs = append(gs, f[0])
		}
	}
	return gs
}

// firewallBlocks finds nftables rules (iptables-nft rules included) that
// drop or reject TCP to sshd's ports: blocks stop every client, bans only
// some sources (a rule restricted by `ip saddr ADDR|@set`, fail2ban's and
// sshguard's rules).
func firewallBlocks(ctx context.Context, ports []int) (blocks, bans, deny []FirewallRule) {
	out, err := exec.CommandContext(ctx, "nft", "-a", "list", "ruleset").Output()
	if err != nil {
		return nil, nil, nil
	}
	blocks, bans = parseRuleset(string(out), ports)
	return blocks, bans, defaultDeny(string(out), ports)
}

// parseRuleset reads `nft -a list ruleset`.
func parseRuleset(out string, ports []int) (blocks, bans []FirewallRule) {
	var family, table, chain, set string
	input, inElements := false, false
	sets := map[string][]string{} // "family table set" → elements
	setKey := func(name string) string { return family + " " + table + " " + name }
	var rules []FirewallRule
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		f := strings.Fields(t)
		switch {
		case inElements:
			sets[setKey(set)] = append(sets[setKey(set)], setElements(t)...)
			inElements = !strings.Contains(t, "}")
		case len(f) >= 3 && f[0] == "table":
			family, table, chain, set = f[1], f[2], "", ""
		case len(f) >= 3 && (f[0] == "set" || f[0] == "map") && f[2] == "{":
			set, chain = f[1], ""
		case set != "" && strings.HasPrefix(t, "elements = {"):
			rest := strings.TrimPrefix(t, "elements = {")
			sets[setKey(set)] = append(sets[setKey(set)], setElements(rest)...)
			inElements = !strings.Contains(rest, "}")
		case len(f) >= 2 && f[0] == "chain":
			chain, set = f[1], ""
			input = inputChain(table, chain)
		case chain != "" && strings.HasPrefix(t, "type filter hook input"):
			input = true
		case chain != "" && input && (strings.Contains(t, " drop") || strings.Contains(t, " reject")):
			sources, restricted := ruleSources(t)
			banChain := banTable(table, chain)
			if !(strings.Contains(t, "tcp dport") && mentionsPort(t, ports)) && !(banChain && restricted) {
				continue
			}
			r := FirewallRule{Family: family, Table: table, Chain: chain, Text: t, Action: "drop", Sources: sources, Frontend: frontend(family, table, chain)}
			if strings.Contains(t, " reject") {
				r.Action = "reject"
			}
			if i := strings.Index(t, "# handle "); i >= 0 {
				r.Handle, _ = strconv.Atoi(strings.TrimSpace(t[i+len("# handle "):]))
				r.Text = strings.TrimSpace(t[:i])
			}
			rules = append(rules, r)
		}
	}
	for _, r := range rules {
		if len(r.Sources) == 0 {
			blocks = append(blocks, r)
			continue
		}
		for _, src := range r.Sources {
			if name, ok := strings.CutPrefix(src, "@"); ok {
				r.Banned = append(r.Banned, sets[r.Family+" "+r.Table+" "+name]...)
			} else {
				r.Banned = append(r.Banned, src)
			}
		}
		bans = append(bans, r)
	}
	return blocks, bans
}

// setElements splits "a, b, c }" into addresses (timeouts and counters of
// dynamic sets dropped).
func setElements(s string) []string {
	s, _, _ = strings.Cut(s, "}")
	var out []string
	for _, e := range strings.Split(s, ",") {
		if f := strings.Fields(e); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// ruleSources returns the source addresses or @sets a rule is restricted
// to. A negated match (`ip saddr != …`) hits everyone else: not restricted.
func ruleSources(rule string) (sources []string, restricted bool) {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] != "saddr" || (i > 0 && f[i-1] != "ip" && f[i-1] != "ip6") {
			continue
		}
		v := f[i+1]
		if v == "!=" {
			return nil, false
		}
		if v == "{" {
			for _, e := range f[i+2:] {
				if e == "}" {
					break
				}
				sources = append(sources, strings.TrimSuffix(e, ","))
			}
			continue
		}
		sources = append(sources, v)
	}
	return sources, len(sources) > 0
}

// inputChain: chains whose rules filter incoming packets even without an
// input hook (the chains ufw, fail2ban and firewalld jump to).
func inputChain(table, chain string) bool {
	lc := strings.ToLower(chain)
	switch {
	case strings.HasPrefix(lc, "ufw-") || strings.HasPrefix(lc, "ufw6-"):
		return strings.HasSuffix(lc, "-input")
	case table == "firewalld":
		return strings.Contains(lc, "_in_") || strings.HasPrefix(lc, "filter_in")
	}
	return banTable(table, chain)
}

// banTable: fail2ban's and sshguard's own tables and chains, whose
// source-restricted rules ban attackers from every port.
func banTable(table, chain string) bool {
	t, c := strings.ToLower(table), strings.ToLower(chain)
	return strings.HasPrefix(t, "f2b") || strings.HasPrefix(c, "f2b-") || strings.Contains(t, "sshguard") || c == "sshguard"
}

// frontend names the tool that owns a rule, when the names say.
func frontend(family, table, chain string) string {
	t, c := strings.ToLower(table), strings.ToLower(chain)
	switch {
	case strings.HasPrefix(t, "f2b") || strings.HasPrefix(c, "f2b-"):
		return "fail2ban"
	case strings.Contains(t, "sshguard") || c == "sshguard":
		return "sshguard"
	case strings.HasPrefix(c, "ufw-") || strings.HasPrefix(c, "ufw6-"):
		return "ufw"
	case t == "firewalld":
		return "firewalld"
	case (family == "ip" || family == "ip6") && t == "filter":
		return "iptables"
	}
	return "nftables"
}

func mentionsPort(rule string, ports []int) bool {
	i := strings.Index(rule, "tcp dport")
	rest := rule[i+len("tcp dport"):]
	for _, p := range ports {
		ps := strconv.Itoa(p)
		for _, tok := range strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ',' || r == '{' || r == '}' }) {
			if tok == ps {
				return true
			}
			if lo, hi, ok := strings.Cut(tok, "-"); ok {
				l, e1 := strconv.Atoi(lo)
				h, e2 := strconv.Atoi(hi)
				if e1 == nil && e2 == nil && l <= p && p <= h {
					return true
				}
			}
		}
	}
	return false
}

// hostsDeny returns hosts.deny lines that refuse sshd for every client,
// unless hosts.allow lets clients in first (TCP wrappers check allow first).
func hostsFiles() (allow, deny []Origin) {
	read := func(file string) []Origin {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil
		}
		return tcpdLines(file, strings.Split(string(data), "\n"), false)
	}
	return read("/etc/hosts.allow"), read("/etc/hosts.deny")
}

// keysCommandLimit bounds an AuthorizedKeysCommand run: sshd waits for it
// on every login, so a healthy one answers in well under a second.
const keysCommandLimit = 5 * time.Second

// runKeysCommand runs AuthorizedKeysCommand for u as sshd would
// (auth2-pubkeyfile.c): only when the program is an absolute path owned by
// root and not writable by group or others, as AuthorizedKeysCommandUser,
// with %u %U %h %% expanded. Arguments that need the offered key (%f %k
// %t %T %C %D %i %s) cannot be known here: the command is then not run and
// the KeyFile says why (NotRead), so no false "no key" is reported.
func runKeysCommand(ctx context.Context, command, runAs string, u UserFacts) KeyFile {
	kf := KeyFile{Path: "AuthorizedKeysCommand " + command, Found: true, Command: true}
	args := strings.Fields(command)
	for _, a := range args[1:] {
		for _, tok := range []string{"%f", "%k", "%t", "%T", "%C", "%D", "%i", "%s"} {
			if strings.Contains(a, tok) {
				kf.NotRead = "it needs the offered key (" + tok + "); sshd runs it at login"
				return kf
			}
		}
	}
	prog := args[0]
	st, err := os.Stat(prog)
	if !filepath.IsAbs(prog) || err != nil || st.Sys().(*syscall.Stat_t).Uid != 0 || st.Mode().Perm()&0o022 != 0 || !st.Mode().IsRegular() {
		kf.Found, kf.NotRead = false, "sshd refuses to run it: not an absolute path to a root-owned file without group/world write"
		return kf
	}
	pw, ok := passwdEntry(runAs)
	if runAs == "" || !ok {
		kf.Found, kf.NotRead = false, "AuthorizedKeysCommandUser "+orDash(runAs)+" does not exist: sshd does not run the command"
		return kf
	}
	r := strings.NewReplacer("%%", "%", "%u", u.Name, "%U", strconv.Itoa(u.UID), "%h", u.Home)
	for i := range args[1:] {
		args[i+1] = r.Replace(args[i+1])
	}
	ctx, cancel := context.WithTimeout(ctx, keysCommandLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(atoi(pw[2])), Gid: uint32(atoi(pw[3]))}}
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: maxKeyFile}
	if err := cmd.Run(); err != nil {
		kf.Found, kf.NotRead = false, fmt.Sprintf("it failed: %v", err)
		return kf
	}
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l)); err == nil {
			kf.Keys = append(kf.Keys, key.Type())
			kf.fingerprints = append(kf.fingerprints, ssh.FingerprintSHA256(key))
		} else {
			kf.Bad++
		}
	}
	return kf
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	if _, err := l.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// expandChroot expands ChrootDirectory's %h, %u and %%.
func expandChroot(p string, u UserFacts) string {
	return strings.NewReplacer("%%", "%", "%h", u.Home, "%u", u.Name).Replace(p)
}

// unsafeChroot: the components of a chroot path sshd's safely_chroot
// refuses — each must exist, be a directory owned by root and not
// writable by group or others (read without following links).
func unsafeChroot(path string) []PathMode {
	var bad []PathMode
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		st, err := os.Lstat(p)
		switch {
		case err != nil:
			bad = append(bad, PathMode{Path: p, Reason: "missing"})
		case st.Mode()&os.ModeSymlink == 0 && !st.IsDir():
			bad = append(bad, PathMode{Path: p, Reason: "not a directory"})
		default:
			if pm, ok := chrootComponent(p, uint32(st.Mode().Perm()), int(st.Sys().(*syscall.Stat_t).Uid)); !ok {
				bad = append(bad, pm)
			}
		}
		if p == "/" || p == "." {
			return bad
		}
	}
}

// chrootComponent judges one component's mode and owner.
func chrootComponent(p string, mode uint32, uid int) (PathMode, bool) {
	pm := PathMode{Path: p, Mode: fmt.Sprintf("%04o", mode), UID: uid}
	switch {
	case uid != 0:
		pm.Reason = fmt.Sprintf("owned by uid %d, not root", uid)
	case mode&0o022 != 0:
		pm.Reason = "writable by group or others"
	default:
		return pm, true
	}
	return pm, false
}
