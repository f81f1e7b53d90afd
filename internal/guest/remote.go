package guest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// remoteScript gathers guest facts with POSIX sh and the base system's
// tools, for VMs sshdoctor is not installed on (cloud run-command).
//
//go:embed remote.sh
var remoteScript string

// RemoteScript is the script `azure guest-check` sends through run-command:
// read-only, printing the facts Judge needs (never a password hash or a
// key), compressed to fit run-command's 4096-byte output window.
func RemoteScript(users []string, port int) (string, error) {
	return RemoteScriptFor(users, port, netip.Addr{})
}

// RemoteScriptFor is RemoteScript judging Match blocks for the client
// address from (sshd -T -C addr=); invalid: any Internet client.
func RemoteScriptFor(users []string, port int, from netip.Addr) (string, error) {
	for _, u := range users {
		if !remoteUserName().MatchString(u) {
			return "", fmt.Errorf("%q is not a valid user name", u)
		}
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("port %d is out of range", port)
	}
	given := 0
	if from.IsValid() {
		given = 1
	}
	head := fmt.Sprintf("USERS=%q\nPORT=%d\nFROM=%s\nFROMGIVEN=%d\n", strings.Join(users, " "), port, matchAddr(from), given)
	return strings.Replace(remoteScript, "PATH=/usr/sbin", head+"PATH=/usr/sbin", 1), nil
}

// remoteUserName is what may be put into the script: useradd's default
// NAME_REGEX, nothing the shell would interpret.
var remoteUserName = lazyRE(`^[a-z_][a-z0-9_.-]{0,31}$`)

// maxRemoteFacts bounds the decompressed facts.
const maxRemoteFacts = 1 << 20

// ErrRemoteTruncated means run-command cut the script's output: the VM
// printed more than it keeps.
var ErrRemoteTruncated = errors.New("the facts were cut off by run-command's output limit (4096 bytes): check fewer users with --user")

// FactsFromRemote builds Facts from RemoteScript's output, so that Judge —
// the same code as `sshdoctor guest check` — analyses a VM sshdoctor is
// not installed on. port is the port clients expect sshd on.
func FactsFromRemote(out []byte, port int) (*Facts, error) {
	text, err := decodeRemote(out)
	if err != nil {
		return nil, err
	}
	f := &Facts{SSHDPath: "/usr/sbin/sshd", Port: port, Origins: map[string]Origin{}, SSHDPresent: true}
	users := map[string]*UserFacts{}
	var order []string
	user := func(name string) *UserFacts {
		if u, ok := users[name]; ok {
			return u
		}
		users[name] = &UserFacts{Name: name, HomeOwnerUID: -1}
		order = append(order, name)
		return users[name]
	}
	groups := map[string][]string{}
	private := map[string]bool{}
	type stat struct {
		path     string
		mode     int64
		uid, gid int
		ok       bool
	}
	stats := map[string][]stat{}
	var ruleset []string
	var hostsDeny, hostsAllow []string
	seen := map[string]bool{}
	diskDev := map[string]int{}
	keyLines := map[string][]numberedLine{}
	var routeLines []string
	access := map[string][]pathStat{} // user NUL file → components
	accessBad := map[string]bool{}
	gids := map[string][]int{}
	privsepKnown := false
	keyUTF16 := map[string]bool{}
	auto := false // the script chose the users: filter them as gatherUsers does
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	header, end := false, false
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		get := func(i int) string {
			if i < len(fs) {
				return fs[i]
			}
			return ""
		}
		switch fs[0] {
		case "F":
			header = get(1) == "sdfacts1"
		case "from": // the client address the script judged for, when given
			if a, err := netip.ParseAddr(get(1)); err == nil && get(2) == "1" {
				f.From = a
			}
		case "E":
			end = true
		case "bin":
			f.SSHDPresent = get(1) == "1"
			f.SSHDNotExecutable = f.SSHDPresent && get(2) == "0"
		case "v":
			f.SSHDVersion = strings.TrimSpace(strings.SplitN(get(1), ",", 2)[0])
		case "pid":
			if n, err := strconv.Atoi(get(1)); err == nil {
				f.SSHDPIDs = append(f.SSHDPIDs, n)
			}
		case "t":
			f.ConfigOK = get(1) == "0"
			if !f.ConfigOK {
				f.ConfigError = strings.TrimSpace(strings.ReplaceAll(get(2), "\x1f", "\n"))
				if o := errorOrigin(f.ConfigError); o != nil {
					o.Text = "" // errorOrigin reads this machine's file, not the VM's
					f.ConfigErrorAt = o
				}
			}
		case "te":
			if n, err := strconv.Atoi(get(2)); err == nil {
				f.ConfigErrorAt = &Origin{File: get(1), Line: n, Text: rest(sc.Text(), 3)}
			}
		case "o":
			n, err := strconv.Atoi(get(2))
			text := rest(sc.Text(), 3)
			k, v := splitKV(strings.TrimSpace(text))
			if strings.EqualFold(k, "listenaddress") {
				f.ListenParsed = append(f.ListenParsed, v)
			}
			if _, seen := f.Origins[strings.ToLower(k)]; err == nil && !seen {
				f.Origins[strings.ToLower(k)] = Origin{File: get(1), Line: n, Value: v, Text: text}
			}
		case "om":
			n, err := strconv.Atoi(get(2))
			text := rest(sc.Text(), 4)
			k, v := splitKV(strings.TrimSpace(text))
			if err == nil {
				if f.MatchOrigins == nil {
					f.MatchOrigins = map[string][]Origin{}
				}
				lk := strings.ToLower(k)
				f.MatchOrigins[lk] = append(f.MatchOrigins[lk], Origin{File: get(1), Line: n, Value: v, Text: text, Match: get(3)})
			}
		case "fs":
			text := rest(sc.Text(), 2)
			if n, err := strconv.Atoi(get(1)); err == nil && len(strings.Fields(text)) > 0 {
				f.Fstab = append(f.Fstab, Origin{File: "/etc/fstab", Line: n, Value: strings.Fields(text)[0], Text: text})
			}
		case "pre":
			f.Preauth, _ = strconv.Atoi(get(1))
		case "T":
			k, v := splitKV(get(1))
			if f.Effective == nil {
				f.Effective = map[string][]string{}
			}
			f.Effective[k] = append(f.Effective[k], v)
		case "L":
			p, _ := strconv.Atoi(get(1))
			addr, _ := decodeAddr(get(2) + ":0000")
			l := Listener{Addr: addr, Port: p}
			switch get(3) {
			case "1":
				l.Command = "sshd"
			case "2":
				l.Command = "systemd" // socket activation
			}
			f.Listeners = append(f.Listeners, l)
		case "privsep":
			privsepKnown = get(1) == "1"
		case "privuser":
			f.PrivsepUser = get(1) == "1"
		case "sa": // a component on the way to a key file (user, file, path, mode, uid, gid, type)
			mode, err1 := strconv.ParseUint(get(4), 8, 32)
			uid, err2 := strconv.Atoi(get(5))
			gid, err3 := strconv.Atoi(get(6))
			k := get(1) + "\x00" + get(2)
			if err1 != nil || err2 != nil || err3 != nil || get(7) == "symbolic link" {
				accessBad[k] = true // a link or a race: no verdict for this file
				break
			}
			access[k] = append(access[k], pathStat{path: get(3), mode: uint32(mode), uid: uid, gid: gid, dir: get(7) == "directory"})
		case "stt": // a test start of sshd: still running (1) or not
			f.StartTest = &StartTest{Running: get(1) == "1"}
		case "sto": // a line the test start printed
			if f.StartTest != nil {
				f.StartTest.Output = strings.TrimSpace(f.StartTest.Output + "\n" + strings.Join(fs[1:], " "))
			}
		case "pa": // a PAM line of sshd's stack naming pam_access (file, line, text)
			if n, err := strconv.Atoi(get(2)); err == nil && enforcingAccess(get(3)) {
				f.PAMAccess = append(f.PAMAccess, Origin{File: get(1), Line: n, Text: get(3)})
			}
		case "ac": // a rule line of an access.conf (file, line, text)
			if n, err := strconv.Atoi(get(2)); err == nil {
				f.AccessRules = append(f.AccessRules, Origin{File: get(1), Line: n, Text: get(3)})
			}
		case "sk": // a key in a ~/.ssh file sshd does not read (user, file, key)
			_, meant := strayName(filepath.Base(get(2)))
			u := user(get(1))
			u.Stray = append(u.Stray, strayFrom(get(2), []byte(get(3)), meant)...)
		case "rt": // a line of /proc/net/route
			routeLines = append(routeLines, strings.Join(fs[1:], "\t"))
		case "r6": // a line of /proc/net/ipv6_route for ::/0
			f.IPv6Default = f.IPv6Default || ipv6Default(strings.Join(fs[1:], "\t"))
		case "kl": // a key file line sshd would skip (user, file, number, text)
			n, _ := strconv.Atoi(get(3))
			k := get(1) + "\x00" + get(2)
			keyLines[k] = append(keyLines[k], numberedLine{N: n, Text: strings.Join(fs[min(4, len(fs)):], "\t")})
		case "ku": // the key file is UTF-16 (the kl lines are decoded)
			keyUTF16[get(1)+"\x00"+get(2)] = true
		case "ko":
			u := user(get(1))
			n, _ := strconv.Atoi(get(3))
			if ko, ok := remoteKeyOptions(get(2), n, get(4), get(5)); ok && len(u.KeyFiles) > 0 {
				kf := &u.KeyFiles[len(u.KeyFiles)-1]
				kf.Options = append(kf.Options, ko)
			}
		case "ch":
			u := user(get(1))
			if get(3) == "missing" {
				u.Chroot = append(u.Chroot, PathMode{Path: get(2), Reason: "missing"})
			} else if mode, err := strconv.ParseUint(get(3), 8, 32); err == nil {
				uid, _ := strconv.Atoi(get(4))
				if pm, ok := chrootComponent(get(2), uint32(mode), uid); !ok {
					u.Chroot = append(u.Chroot, pm)
				}
			}
		case "la":
			if a, err := netip.ParseAddr(get(1)); err == nil {
				f.LocalAddrs = append(f.LocalAddrs, a.Unmap().String())
			}
		case "hkbad":
			if !slices.Contains(f.BadHostKeys, get(1)) {
				f.BadHostKeys = append(f.BadHostKeys, get(1))
			}
		case "hk":
			if !seen[get(1)] {
				seen[get(1)] = true
				f.HostKeys = append(f.HostKeys, get(1))
			}
		case "df":
			var n [5]uint64
			ok := get(2) != ""
			for i := range n {
				v, err := strconv.ParseUint(get(3+i), 10, 64)
				n[i], ok = v, ok && err == nil
			}
			if !ok {
				continue
			}
			if i, dup := diskDev[get(2)]; dup {
				f.Disks[i].Paths = append(f.Disks[i].Paths, get(1))
				continue
			}
			diskDev[get(2)] = len(f.Disks)
			f.Disks = append(f.Disks, DiskSpace{Paths: []string{get(1)}, TotalBytes: n[0] * n[2], FreeBytes: n[1] * n[2], TotalInodes: n[3], FreeInodes: n[4]})
		case "nologin":
			f.Nologin = true
		case "auto":
			auto = true
		case "hd":
			hostsDeny = append(hostsDeny, strings.TrimPrefix(sc.Text(), "hd\t"))
		case "ha":
			hostsAllow = append(hostsAllow, strings.TrimPrefix(sc.Text(), "ha\t"))
		case "lw": // sshd is linked with libwrap
			f.Libwrap = true
		case "fw": // nft indents with tabs: the rest of the line is the text
			ruleset = append(ruleset, strings.TrimPrefix(sc.Text(), "fw\t"))
		case "mgr":
			f.ServiceMgr = get(1)
		case "u":
			u := user(get(1))
			u.Exists = get(2) == "1"
			if !u.Exists {
				if n, err := strconv.Atoi(get(3)); err == nil {
					u.HomeOwnerUID = n
				}
				continue
			}
			u.UID, _ = strconv.Atoi(get(3))
			u.GID, _ = strconv.Atoi(get(4))
			u.Home, u.Shell = get(5), get(6)
			u.ShellOK = get(7) == "1"
			u.Locked, u.HasPassword = get(8) == "1", get(9) == "1"
			u.AccountExpired, u.PasswordExpired = get(10) == "1", get(11) == "1"
		case "ug":
			groups[get(1)] = strings.FieldsFunc(get(2), func(r rune) bool { return r == ',' })
			private[get(1)] = get(3) == "1"
			for _, g := range strings.Split(get(4), ",") {
				if n, err := strconv.Atoi(g); err == nil {
					gids[get(1)] = append(gids[get(1)], n)
				}
			}
		case "uT":
			u := user(get(1))
			if u.Effective == nil {
				u.Effective = map[string]string{}
			}
			k, v := splitKV(get(2))
			if cur, ok := u.Effective[k]; ok {
				v = cur + " " + v
			}
			u.Effective[k] = v
		case "kf":
			u := user(get(1))
			kf := KeyFile{Path: get(2), Found: get(3) == "1"}
			for _, t := range strings.Split(get(4), ",") {
				if t != "" {
					kf.Keys = append(kf.Keys, t)
				}
			}
			kf.Bad, _ = strconv.Atoi(get(5))
			kf.remote = true
			if fp := get(6); fp != "-" && kf.Found {
				kf.fingerprints = []string{}
				for _, f := range strings.Split(fp, ",") {
					if f != "" {
						kf.fingerprints = append(kf.fingerprints, f)
					}
				}
			}
			u.KeyFiles = append(u.KeyFiles, kf)
		case "st":
			s := stat{path: get(2)}
			var err1, err2, err3 error
			s.mode, err1 = strconv.ParseInt(get(3), 8, 32)
			s.uid, err2 = strconv.Atoi(get(4))
			s.gid, err3 = strconv.Atoi(get(5))
			s.ok = err1 == nil && err2 == nil && err3 == nil
			stats[get(1)] = append(stats[get(1)], s)
		}
	}
	switch {
	case !header:
		return nil, errors.New("the output is not sshdoctor's remote facts (did the script run?)")
	case !end:
		return nil, ErrRemoteTruncated
	}
	f.PrivsepDir, f.PrivsepPath = privsepDir(f.ConfigOK, f.ConfigError, privsepKnown)
	if len(routeLines) > 0 {
		f.Routes, f.RoutesKnown = parseProcRoute(strings.Join(routeLines, "\n")), true
	}
	for _, u := range users {
		for i := range u.KeyFiles {
			k := u.Name + "\x00" + u.KeyFiles[i].Path
			if len(keyLines[k]) > 0 {
				u.KeyFiles[i].Defects = keyDefects(keyLines[k], keyUTF16[k])
			}
			if len(access[k]) > 0 && !accessBad[k] {
				g := gids[u.Name]
				if len(g) == 0 {
					g = []int{u.GID}
				}
				u.Unreadable = appendNewPaths(u.Unreadable, inaccessible(access[k], u.UID, g))
			}
		}
	}
	f.Firewall, f.SourceBans = parseRuleset(strings.Join(ruleset, "\n"), f.sshdPorts(port))
	f.FirewallDefaultDeny = defaultDeny(strings.Join(ruleset, "\n"), f.sshdPorts(port))
	f.HostsDeny = tcpdLines("/etc/hosts.deny", hostsDeny, true)
	f.HostsAllow = tcpdLines("/etc/hosts.allow", hostsAllow, true)
	for _, name := range order {
		u := users[name]
		u.Groups = groups[name]
		if u.Exists && f.ConfigOK {
			u.AllowedBy = deniedByGroups(*u, groups[name], f.From)
		}
		// StrictModes: the script stat'ed each key file and its parents.
		for _, s := range stats[name] {
			if !s.ok {
				continue
			}
			if reason := strictModeReason(int(s.mode), s.uid, s.gid, *u, private[name]); reason != "" {
				// outermost first, as strictModes reports them
				u.BadModes = append([]PathMode{{Path: s.path, Mode: fmt.Sprintf("%04o", s.mode), UID: s.uid, GID: s.gid, Reason: reason}}, u.BadModes...)
			}
		}
		if auto && !loginAccount(*u) {
			continue
		}
		f.Users = append(f.Users, *u)
	}
	return f, nil
}

// decodeRemote undoes the script's gzip+base64 ("SDGZ:" prefix); plain
// output passes through.
func decodeRemote(out []byte) (string, error) {
	i := bytes.Index(out, []byte("SDGZ:"))
	if i < 0 {
		// run-command keeps the end of the output: a cut leaves base64
		// without its prefix.
		if t := bytes.TrimSpace(out); len(t) > 0 && len(bytes.Trim(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")) == 0 {
			return "", ErrRemoteTruncated
		}
		return string(out), nil
	}
	b64 := bytes.TrimSpace(out[i+len("SDGZ:"):])
	if j := bytes.IndexAny(b64, " \r\n"); j >= 0 {
		b64 = b64[:j]
	}
	raw, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return "", fmt.Errorf("the facts are not valid base64 (%v): %w", err, ErrRemoteTruncated)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "", ErrRemoteTruncated
	}
	if err != nil {
		return "", fmt.Errorf("the facts are not gzip data: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxRemoteFacts))
	if err != nil {
		return "", fmt.Errorf("the facts are cut short (%v): %w", err, ErrRemoteTruncated)
	}
	return string(data), nil
}

// rest is line from its nth TAB-separated field on: the text of a file's
// line, which may hold TABs itself.
func rest(line string, n int) string {
	for range n {
		_, line, _ = strings.Cut(line, "\t")
	}
	return line
}

// strictModeReason is why sshd's StrictModes refuses a path with this
// mode and owner for u ("" = it does not): an owner other than u or root,
// or group/world write (group write is fine for u's private group, as
// Debian's sshd allows).
func strictModeReason(mode, uid, gid int, u UserFacts, privateGroup bool) string {
	switch {
	case uid != 0 && uid != u.UID:
		return fmt.Sprintf("owned by uid %d, not %s or root", uid, u.Name)
	case mode&0o002 != 0:
		return "writable by everyone"
	case mode&0o020 != 0 && !(privateGroup && gid == u.GID):
		return "writable by a shared group"
	}
	return ""
}

// deniedByGroups is sshd's allowed_user() for u with its groups: the
// AllowUsers/DenyUsers/AllowGroups/DenyGroups (or PermitRootLogin no)
// directive that refuses u, "" when u is allowed.
func deniedByGroups(u UserFacts, groups []string, from netip.Addr) string {
	e := u.Effective
	switch {
	case e["denyusers"] != "" && usersListMatches(e["denyusers"], u.Name, from) == matchYes:
		return "DenyUsers"
	case e["allowusers"] != "" && usersListMatches(e["allowusers"], u.Name, from) == matchNo:
		return "AllowUsers"
	case e["denygroups"] != "" && groupsMatch(e["denygroups"], groups):
		return "DenyGroups"
	case e["allowgroups"] != "" && !groupsMatch(e["allowgroups"], groups):
		return "AllowGroups"
	case u.Name == "root" && e["permitrootlogin"] == "no":
		return "PermitRootLogin"
	}
	return ""
}
