// Package guest diagnoses and repairs SSH from inside the VM: sshd, its
// configuration, accounts, keys, permissions, firewall and the other local
// reasons a login fails. Gather (facts.go) is read-only; judge (judge.go)
// turns facts into findings; repair (repair.go) plans the smallest change
// for each finding and applies it with a backup, validation, a verified
// sshd restart and automatic rollback.
package guest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options select what to check.
type Options struct {
	Users []string // users to check; empty = every user with a login shell and a home
	Port  int      // the port clients and firewalls expect sshd on (default 22)
	SSHD  string   // sshd binary (default /usr/sbin/sshd)
	// From is the client address Match blocks are evaluated for (sshd -T
	// -C addr=); invalid: a documentation address standing for "a client
	// on the Internet".
	From netip.Addr
	// NoStartTest: never start sshd by hand to see why it does not run.
	NoStartTest bool
}

// matchAddr is the addr= of sshd -T -C: the client's, else a
// documentation address (RFC 5737) standing for any Internet client.
func matchAddr(from netip.Addr) string {
	if from.IsValid() {
		return from.Unmap().String()
	}
	return "203.0.113.10"
}

// connSpec is sshd -T -C's connection for user's login from the client:
// user, host, addr, and the VM's side (laddr: its first address that is
// not loopback, lport: the SSH port) so Match LocalAddress and LocalPort
// blocks are evaluated as for a real connection.
func connSpec(user string, from netip.Addr, f *Facts) string {
	spec := fmt.Sprintf("user=%s,host=client,addr=%s,lport=%d", user, matchAddr(from), cmp.Or(f.Port, 22))
	if la := localAddr(f.LocalAddrs); la != "" {
		spec += ",laddr=" + la
	}
	return spec
}

// localAddr is the first address that is not loopback, IPv4 first.
func localAddr(addrs []string) string {
	var v6 string
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		if ip.Is4() {
			return a
		}
		if v6 == "" {
			v6 = a
		}
	}
	return v6
}

// Origin is where a configuration value was set.
type Origin struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Value string `json:"value"`
	Text  string `json:"text"` // the whole line
	// Match is the Match line of the block the directive is in ("" at
	// top level).
	Match string `json:"match,omitempty"`
}

// Listener is a listening TCP socket.
type Listener struct {
	Addr    string `json:"addr"`
	Port    int    `json:"port"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
}

// UserFacts are one account's SSH-relevant state.
type UserFacts struct {
	// Chroot: the ChrootDirectory components sshd refuses (not root's,
	// group/world writable, missing), when one is set for the user.
	Chroot          []PathMode `json:"chroot,omitempty"`
	Name            string     `json:"name"`
	Exists          bool       `json:"exists"`
	UID, GID        int        `json:"-"`
	Home            string     `json:"home,omitempty"`
	Shell           string     `json:"shell,omitempty"`
	ShellOK         bool       `json:"shell_ok"`
	Locked          bool       `json:"locked"`
	HasPassword     bool       `json:"has_password"`
	AccountExpired  bool       `json:"account_expired"`
	PasswordExpired bool       `json:"password_expired"`
	KeyFiles        []KeyFile  `json:"key_files"`
	BadModes        []PathMode `json:"bad_modes,omitempty"` // StrictModes violations, outermost first
	// Unreadable: components on the way to a key file the user cannot
	// pass (sshd opens the file as the user), outermost first.
	Unreadable   []PathMode `json:"unreadable,omitempty"`
	HomeOwnerUID int        `json:"home_owner_uid"`
	AllowedBy    string     `json:"denied_by,omitempty"` // the Allow/Deny directive that refuses the user
	Groups       []string   `json:"groups,omitempty"`    // primary and supplementary group names
	// Stray: keys in ~/.ssh files sshd does not read (a misspelt
	// authorized_keys, a copied .pub).
	Stray     []StrayKey        `json:"stray,omitempty"`
	Effective map[string]string `json:"-"`
}

// KeyFile is an authorized_keys file as sshd would read it for a user.
type KeyFile struct {
	Path  string   `json:"path"`
	Found bool     `json:"found"`
	Keys  []string `json:"keys"` // key types, one per valid line
	Bad   int      `json:"bad_lines"`
	// Symlink: Path, or a directory on its way inside the home, is a
	// symbolic link (sshd follows it; sshdoctor's repairs never write
	// through it). LinkTarget is the link's text (readlink), or the real
	// path when a directory is the link.
	Symlink    bool   `json:"symlink,omitempty"`
	LinkTarget string `json:"link_target,omitempty"`
	// NotRead says why the file's content was not read (Keys and Bad stay
	// empty): through a link sshdoctor reads only a regular file of the
	// user's own inside the home, so as not to report on /etc/shadow.
	NotRead string `json:"not_read,omitempty"`
	// Command: the keys come from AuthorizedKeysCommand (Path names it),
	// run as sshd would; not a file to repair.
	Command bool `json:"command,omitempty"`
	// Options are the lines that carry options (from=, expiry-time=, …).
	Options []KeyOptions `json:"options,omitempty"`
	// Defects are the lines sshd skips that hold a key all the same (a
	// byte-order mark, UTF-16, a wrapped key, a PEM block) or a private key.
	Defects []KeyDefect `json:"defects,omitempty"`
	// remote: read on another machine (FactsFromRemote): Path is not on
	// this one; fingerprints (SHA256) match given keys, nil when the VM
	// has no ssh-keygen (then no key can be matched).
	remote       bool
	fingerprints []string
}

// PathMode is a path whose owner or mode StrictModes refuses.
type PathMode struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Reason string `json:"reason"`
}

// FirewallRule is a guest firewall rule that blocks sshd's port.
type FirewallRule struct {
	Table, Chain string
	Family       string
	Handle       int
	Text         string
	Action       string // drop or reject
	// Sources the rule is restricted to (`ip saddr ADDR`, `@set`): it
	// bans those, not every client.
	Sources []string `json:",omitempty"`
	// Banned: the addresses, with @sets expanded to their elements.
	Banned []string `json:",omitempty"`
	// Frontend owning the rule: ufw, firewalld, iptables, fail2ban,
	// sshguard or nftables.
	Frontend string
}

// Facts is what gather saw.
type Facts struct {
	SSHDPath    string `json:"sshd_path"`
	SSHDPresent bool   `json:"sshd_present"`
	// SSHDNotExecutable: the binary is there but has no execute bit (a
	// chmod -R, a broken package): nothing can start it.
	SSHDNotExecutable bool                `json:"sshd_not_executable,omitempty"`
	SSHDVersion       string              `json:"sshd_version"`
	SSHDPIDs          []int               `json:"sshd_pids"`
	ConfigOK          bool                `json:"config_ok"`
	ConfigError       string              `json:"config_error,omitempty"`
	ConfigErrorAt     *Origin             `json:"config_error_at,omitempty"`
	Effective         map[string][]string `json:"effective"` // sshd -T
	Origins           map[string]Origin   `json:"origins"`   // keyword → first setting (provenance)
	Listeners         []Listener          `json:"listeners"`
	PrivsepDir        bool                `json:"privsep_dir"`
	// From is the client address the facts were gathered for (--from);
	// invalid: unknown, "any client on the Internet".
	From netip.Addr `json:"from,omitzero"`
	// Routes are the IPv4 routes that are up (/proc/net/route);
	// RoutesKnown says they were read; IPv6Default: an IPv6 default route.
	Routes      []Route `json:"routes,omitempty"`
	RoutesKnown bool    `json:"routes_known,omitempty"`
	IPv6Default bool    `json:"ipv6_default,omitempty"`
	// PAMAccess are the enforcing pam_access lines of sshd's account
	// stack; AccessRules the rule lines of the files they read.
	PAMAccess   []Origin `json:"pam_access,omitempty"`
	AccessRules []Origin `json:"access_rules,omitempty"`
	// StartTest: sshd started once by hand because -t passed and no sshd
	// listened (nil: not needed, or not possible).
	StartTest *StartTest `json:"start_test,omitempty"`
	// PrivsepPath is sshd's privilege-separation directory when it is
	// missing (sshd names it: /run/sshd on Debian, /var/empty/sshd or
	// /usr/share/empty.sshd on RHEL and Fedora).
	PrivsepPath string   `json:"privsep_path,omitempty"`
	PrivsepUser bool     `json:"privsep_user"`
	HostKeys    []string `json:"host_keys"` // readable host key files
	// MatchOrigins: per keyword, the directives inside Match blocks, in
	// the order sshd reads them.
	MatchOrigins map[string][]Origin `json:"match_origins,omitempty"`
	// ListenParsed: every top-level ListenAddress value in the files (what
	// sshd -T would say, for when sshd -t fails).
	ListenParsed []string `json:"listen_parsed,omitempty"`
	// LocalAddrs are the VM's interface addresses (ListenAddress is
	// judged against them); empty: unknown.
	LocalAddrs []string `json:"local_addrs,omitempty"`
	// BadHostKeys are readable host key files that do not parse as a
	// private key (sshd cannot use them).
	BadHostKeys []string       `json:"bad_host_keys,omitempty"`
	Users       []UserFacts    `json:"users"`
	Firewall    []FirewallRule `json:"firewall"` // rules blocking every client
	// FirewallDefaultDeny: input chains that drop by default (policy drop,
	// a catch-all drop/reject) with no rule accepting sshd's port.
	FirewallDefaultDeny []FirewallRule `json:"firewall_default_deny,omitempty"`
	SourceBans          []FirewallRule `json:"source_bans"` // rules blocking some sources
	Fail2ban            *Fail2banJail  `json:"fail2ban,omitempty"`
	HostsDeny           []Origin       `json:"hosts_deny"`
	HostsAllow          []Origin       `json:"hosts_allow,omitempty"` // sshd/ALL lines of /etc/hosts.allow
	// Libwrap: sshd is linked with TCP wrappers (only then do the files count).
	Libwrap    bool          `json:"libwrap,omitempty"`
	Nologin    bool          `json:"nologin"`
	Preauth    int           `json:"unauthenticated_connections"`
	ServiceMgr string        `json:"service_manager"`
	Fstab      []Origin      `json:"fstab_missing_devices"` // entries whose device is absent (no nofail)
	Disks      []DiskSpace   `json:"disks"`                 // file systems sshd writes to
	SSHDPID    int           `json:"sshd_listener_pid,omitempty"`
	SSHDSince  time.Time     `json:"sshd_since,omitzero"` // when the listening sshd started
	Units      []UnitState   `json:"systemd_units,omitempty"`
	SELinux    bool          `json:"selinux_enforcing"`
	Labels     []Label       `json:"selinux_labels,omitempty"` // read when SELinux enforces
	Log        *SSHDLog      `json:"sshd_log,omitempty"`
	Port       int           `json:"expected_port"`
	Duration   time.Duration `json:"-"`
}

func (o *Options) defaults() {
	if o.Port == 0 {
		o.Port = 22
	}
	if o.SSHD == "" {
		o.SSHD = "/usr/sbin/sshd"
	}
}

// Gather collects the facts. It changes nothing.
func Gather(ctx context.Context, o Options) *Facts {
	o.defaults()
	start := time.Now()
	f := &Facts{SSHDPath: o.SSHD, Port: o.Port, Origins: map[string]Origin{}, From: o.From}
	var sshdMode os.FileMode
	sshdMode, _, _, f.SSHDPresent = fileStat(o.SSHD)
	f.SSHDNotExecutable = f.SSHDPresent && sshdMode.IsRegular() && sshdMode.Perm()&0o111 == 0
	if out, err := exec.CommandContext(ctx, o.SSHD, "-V").CombinedOutput(); err == nil || len(out) > 0 {
		f.SSHDVersion = strings.TrimSpace(strings.SplitN(string(out), ",", 2)[0])
	}
	f.SSHDPIDs = processesNamed("sshd")
	f.Listeners = listeners()
	if out, err := exec.CommandContext(ctx, o.SSHD, "-t").CombinedOutput(); err != nil {
		f.ConfigError = strings.TrimSpace(string(out))
		f.ConfigErrorAt = errorOrigin(f.ConfigError)
	} else {
		f.ConfigOK = true
		f.Effective = sshdT(ctx, o.SSHD, "")
	}
	f.MatchOrigins = map[string][]Origin{}
	parseConfigMatch("/etc/ssh/sshd_config", f.Origins, f.MatchOrigins, &f.ListenParsed, 0)
	f.PrivsepDir, f.PrivsepPath = privsepDir(f.ConfigOK, f.ConfigError, slices.ContainsFunc(privsepDirs, func(d string) bool {
		st, err := os.Stat(d)
		return err == nil && st.IsDir()
	}))
	f.PrivsepUser = userExists("sshd")
	keys := f.Effective["hostkey"]
	if keys == nil {
		// sshd -t failed, so sshd -T cannot say: use sshd's defaults.
		for _, t := range []string{"rsa", "ecdsa", "ed25519"} {
			keys = append(keys, "/etc/ssh/ssh_host_"+t+"_key")
		}
		if o, ok := f.Origins["hostkey"]; ok {
			keys = []string{o.Value}
		}
	}
	for _, k := range keys {
		if fd, err := os.Open(k); err == nil {
			fd.Close()
			f.HostKeys = append(f.HostKeys, k)
			if !hostKeyParses(k) {
				f.BadHostKeys = append(f.BadHostKeys, k)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				f.LocalAddrs = append(f.LocalAddrs, p.Addr().Unmap().String())
			}
		}
	}
	f.Routes, f.IPv6Default, f.RoutesKnown = readRoutes()
	f.PAMAccess = pamAccessModules(readFileLimited)
	for _, m := range f.PAMAccess {
		for _, r := range accessRules(accessFiles(m), readFileLimited) {
			if !slices.Contains(f.AccessRules, r) {
				f.AccessRules = append(f.AccessRules, r)
			}
		}
	}
	if f.ConfigOK && !slices.ContainsFunc(f.Listeners, func(l Listener) bool { return l.Command == "sshd" }) && len(f.SSHDPIDs) == 0 && !o.NoStartTest {
		f.StartTest = testStart(ctx, o.SSHD)
		f.Listeners = listeners() // what the test may have shown is gone again
	}
	f.Users = gatherUsers(ctx, o, f)
	f.Firewall, f.SourceBans, f.FirewallDefaultDeny = firewallBlocks(ctx, f.sshdPorts(o.Port))
	f.Fail2ban = fail2banStatus(ctx)
	f.HostsAllow, f.HostsDeny = hostsFiles()
	if bin, err := os.ReadFile(o.SSHD); err == nil {
		f.Libwrap = bytes.Contains(bin, []byte("libwrap.so"))
	}
	_, err := os.Stat("/etc/nologin")
	f.Nologin = err == nil
	f.Preauth = preauthConnections(f.sshdPorts(o.Port))
	f.ServiceMgr = serviceManager()
	f.Fstab = fstabMissing()
	f.Disks = diskSpaceWithin(diskPaths, 300*time.Millisecond)
	f.Log = sshdLog(ctx, "")
	if f.SELinux = selinuxEnforcing("/"); f.SELinux {
		f.Labels = sshLabels("/", f.Users, lgetxattrLabel)
	}
	for _, l := range f.Listeners {
		if l.Command == "sshd" && l.PID > 0 {
			f.SSHDPID = l.PID
			f.SSHDSince, _ = processStart("/proc", l.PID)
			break
		}
	}
	if f.ServiceMgr == "systemd" {
		f.Units = sshdUnits(ctx)
	}
	f.Duration = time.Since(start)
	return f
}

// sshdPorts are the ports sshd is configured for (or the expected one).
func (f *Facts) sshdPorts(def int) []int {
	var ports []int
	// sshd -T prints every listen socket as listenaddress HOST:PORT, the
	// port of a "ListenAddress host:port" line included: that is where
	// sshd listens, whatever Port says.
	for _, la := range f.Effective["listenaddress"] {
		if _, port, ok := splitListen(la); ok {
			if n, err := strconv.Atoi(port); err == nil && !slices.Contains(ports, n) {
				ports = append(ports, n)
			}
		}
	}
	if len(ports) > 0 {
		return ports
	}
	for _, p := range f.Effective["port"] {
		if n, err := strconv.Atoi(p); err == nil {
			ports = append(ports, n)
		}
	}
	if len(ports) == 0 {
		ports = []int{def}
	}
	return ports
}

// splitListen splits a ListenAddress value into host and port, when it
// names one: "0.0.0.0:2222", "[::]:2222", "host:2222" ("::1" has none).
func splitListen(v string) (host, port string, ok bool) {
	v = strings.Fields(v + " ")[0] // "addr rdomain x"
	if strings.HasPrefix(v, "[") {
		if i := strings.Index(v, "]:"); i > 0 {
			return v[1:i], v[i+2:], true
		}
		return strings.Trim(v, "[]"), "", false
	}
	if strings.Count(v, ":") == 1 {
		h, p, _ := strings.Cut(v, ":")
		return h, p, true
	}
	return v, "", false
}

// sshdT runs sshd -T (optionally with -C for one user's Match result).
func sshdT(ctx context.Context, sshd, conn string) map[string][]string {
	args := []string{"-T"}
	if conn != "" {
		args = append(args, "-C", conn)
	}
	out, err := exec.CommandContext(ctx, sshd, args...).Output()
	if err != nil {
		return nil
	}
	m := map[string][]string{}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(l, " ")
		if ok {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// errorOrigin extracts "FILE line N:" from sshd -t's message.
func errorOrigin(msg string) *Origin {
	for _, l := range strings.Split(msg, "\n") {
		file, rest, ok := strings.Cut(l, " line ")
		if !ok || !strings.HasPrefix(file, "/") {
			continue
		}
		num, _, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil {
			continue
		}
		o := &Origin{File: file, Line: n}
		if data, err := os.ReadFile(file); err == nil {
			lines := strings.Split(string(data), "\n")
			if n-1 < len(lines) {
				o.Text = lines[n-1]
			}
		}
		return o
	}
	return nil
}

// parseConfigMatch records, for every keyword outside Match blocks, the
// first line that sets it, following Include (sshd's first-value-wins
// order), and, per keyword, every directive inside a Match block in file
// order (matchOrigins, when not nil).
func parseConfigMatch(path string, origins map[string]Origin, matchOrigins map[string][]Origin, listens *[]string, depth int) {
	if depth > 8 {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	inMatch, match := false, ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, val := splitKV(t)
		lk := strings.ToLower(key)
		switch {
		case lk == "include":
			for _, pat := range strings.Fields(val) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join("/etc/ssh", pat)
				}
				files, _ := filepath.Glob(pat)
				slices.Sort(files)
				for _, f := range files {
					parseConfigMatch(f, origins, matchOrigins, listens, depth+1)
				}
			}
		case lk == "match":
			inMatch, match = true, t
		case inMatch:
			if matchOrigins != nil {
				matchOrigins[lk] = append(matchOrigins[lk], Origin{File: path, Line: i + 1, Value: val, Text: line, Match: match})
			}
		default:
			if lk == "listenaddress" && listens != nil {
				*listens = append(*listens, val)
			}
			if _, seen := origins[lk]; !seen {
				origins[lk] = Origin{File: path, Line: i + 1, Value: val, Text: line}
			}
		}
	}
}

func splitKV(t string) (string, string) {
	i := strings.IndexAny(t, " \t=")
	if i < 0 {
		return t, ""
	}
	return t[:i], strings.TrimSpace(strings.TrimLeft(t[i:], " \t="))
}

func processesNamed(name string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listeners parses /proc/net/tcp{,6} for LISTEN sockets and maps each
// socket inode to the process holding it.
func listeners() []Listener {
	inodes := socketOwners()
	var out []Listener
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, fields := range procNetTCP(file) {
			if fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			addr, port := decodeAddr(fields[1])
			l := Listener{Addr: addr, Port: port}
			if pid, ok := inodes[fields[9]]; ok {
				l.PID = pid
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				l.Command = strings.TrimSpace(string(comm))
			}
			out = append(out, l)
		}
	}
	return out
}

// preauthConnections counts established connections to sshd's ports:
// connections sshd has not yet authenticated count against MaxStartups.
func preauthConnections(ports []int) int {
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, fields := range procNetTCP(file) {
			if fields[3] != "01" { // ESTABLISHED
				continue
			}
			if _, port := decodeAddr(fields[1]); slices.Contains(ports, port) {
				n++
			}
		}
	}
	return n
}

func procNetTCP(file string) [][]string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Scan() // header
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 10 {
			rows = append(rows, f)
		}
	}
	return rows
}

// decodeAddr decodes /proc/net/tcp's little-endian hex "ADDR:PORT".
func decodeAddr(s string) (string, int) {
	h, p, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(p, 16, 16)
	b := make([]byte, len(h)/2)
	for i := range b {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	var ip []byte
	for i := 0; i+4 <= len(b); i += 4 { // each 32-bit word is little-endian
		ip = append(ip, b[i+3], b[i+2], b[i+1], b[i])
	}
	switch len(ip) {
	case 4:
		return fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], ip[2], ip[3]), int(port)
	case 16:
		if bytes.Equal(ip[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) {
			return fmt.Sprintf("%d.%d.%d.%d", ip[12], ip[13], ip[14], ip[15]), int(port)
		}
		var parts []string
		for i := 0; i < 16; i += 2 {
			parts = append(parts, strconv.FormatUint(uint64(ip[i])<<8|uint64(ip[i+1]), 16))
		}
		s := strings.Join(parts, ":")
		switch s {
		case "0:0:0:0:0:0:0:0":
			s = "::"
		case "0:0:0:0:0:0:0:1":
			s = "::1"
		}
		return s, int(port)
	}
	return h, int(port)
}

func socketOwners() map[string]int {
	owners := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				owners[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = pid
			}
		}
	}
	return owners
}

func serviceManager() string {
	if _, err := os.Stat("/run/lab-ready"); err == nil {
		return "lab"
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return "systemd"
	}
	if _, err := exec.LookPath("service"); err == nil {
		return "sysvinit"
	}
	return "none"
}

func userExists(name string) bool {
	_, ok := passwdEntry(name)
	return ok
}

// passwdEntry returns the fields of name's /etc/passwd line.
func passwdEntry(name string) ([]string, bool) {
	return colonEntry("/etc/passwd", name, 7)
}

func colonEntry(file, name string, n int) ([]string, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= n && f[0] == name {
			return f, true
		}
	}
	return nil, false
}

func fileStat(path string) (mode os.FileMode, uid, gid int, ok bool) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, 0, false
	}
	sys := st.Sys().(*syscall.Stat_t)
	return st.Mode(), int(sys.Uid), int(sys.Gid), true
}

// fstabMissing returns /etc/fstab entries whose device does not exist and
// that lack nofail/noauto: at the next boot systemd waits for them, fails
// local-fs.target and stops in emergency mode, with no sshd.
func fstabMissing() []Origin {
	data, err := os.ReadFile("/etc/fstab")
	if err != nil {
		return nil
	}
	var out []Origin
	for i, l := range strings.Split(string(data), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 4 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if strings.Contains(","+fs[3]+",", ",nofail,") || strings.Contains(","+fs[3]+",", ",noauto,") {
			continue
		}
		dev := fs[0]
		switch {
		case strings.HasPrefix(dev, "UUID="):
			dev = "/dev/disk/by-uuid/" + strings.TrimPrefix(dev, "UUID=")
		case strings.HasPrefix(dev, "LABEL="):
			dev = "/dev/disk/by-label/" + strings.TrimPrefix(dev, "LABEL=")
		case strings.HasPrefix(dev, "PARTUUID="):
			dev = "/dev/disk/by-partuuid/" + strings.TrimPrefix(dev, "PARTUUID=")
		case !strings.HasPrefix(dev, "/dev/"):
			continue // tmpfs, proc, network file systems
		}
		if _, err := os.Stat(dev); err != nil {
			out = append(out, Origin{File: "/etc/fstab", Line: i + 1, Value: fs[0], Text: l})
		}
	}
	return out
}

// hostKeyParses: the file holds a private key (an encrypted one counts:
// its format is sound). Read through a descriptor that follows no link,
// at most 64 KiB.
func hostKeyParses(path string) bool {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return true // not ours to judge: unreadable is another finding
	}
	defer fd.Close()
	if st, err := fd.Stat(); err != nil || !st.Mode().IsRegular() {
		return true
	}
	data, err := io.ReadAll(io.LimitReader(fd, 64<<10))
	if err != nil {
		return true
	}
	_, err = ssh.ParseRawPrivateKey(data)
	var pm *ssh.PassphraseMissingError
	return err == nil || errors.As(err, &pm)
}
