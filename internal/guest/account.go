package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/safefs"
)

// ErrRefused marks a user request sshdoctor will not carry out (a system
// account, a name useradd would refuse, sudo missing, …): nothing changed.
var ErrRefused = errors.New("refused")

// refusal is an error that is ErrRefused without saying so in its text.
type refusal struct{ msg string }

func (r refusal) Error() string        { return r.msg }
func (r refusal) Is(target error) bool { return target == ErrRefused }

func refusef(format string, a ...any) error {
	return refusal{fmt.Sprintf(format, a...)}
}

// SudoersDir holds sshdoctor's sudoers drop-ins.
const SudoersDir = "/etc/sudoers.d"

// SudoersFile is the drop-in that grants user sudo:
// /etc/sudoers.d/90-sshdoctor-USER. sudo skips drop-ins whose names
// contain a dot, so a dot in the user name becomes "+" (which no valid
// user name contains, so the mapping stays one to one).
func SudoersFile(user string) string {
	return filepath.Join(SudoersDir, "90-sshdoctor-"+strings.ReplaceAll(user, ".", "+"))
}

// sudoersEntry is the drop-in's content. A user with a password types it
// for sudo; a key-only user has no password to type, so the entry is
// NOPASSWD (as cloud images provision their admin user).
func sudoersEntry(user string, password bool) string {
	rule := user + " ALL=(ALL) NOPASSWD:ALL"
	if password {
		rule = user + " ALL=(ALL) ALL"
	}
	return "# Written by `sshdoctor guest user set " + user + " --sudo`; `--no-sudo` removes this file.\n" + rule + "\n"
}

// UserSpec is what `guest user set` makes true for one account.
type UserSpec struct {
	Name string
	// Password, when non-nil, becomes the account's password. It goes to
	// chpasswd on its standard input only: never in an argument list, a
	// message, the plan or a backup set (which hold /etc/shadow's hashes).
	Password []byte
	// Keys to authorize in the first AuthorizedKeysFile sshd reads for the
	// user; a key already there is left as it is.
	Keys []KeyLine
	// ReplaceKeys makes Keys the file's only keys (--remove-prior-keys).
	ReplaceKeys bool
	// Sudo: nil leaves sudo alone; true installs SudoersFile (validated
	// with visudo -cf before it is put in place); false removes that file
	// only.
	Sudo *bool
	// Expiration: "" leaves the account expiry alone, "never" removes it,
	// YYYY-MM-DD sets it (chage -E).
	Expiration string
	// SudoNoPassword makes the sudo grant NOPASSWD even when the account
	// has a password (VMAccess's enable_passwordless_access).
	SudoNoPassword bool
	Command        string // for the backup manifest
}

// UserStep is one planned change.
type UserStep struct {
	Description string
	do          func(b *Backup, s *UserStep) error
}

// UserPlan is what a user command will change, in order.
type UserPlan struct {
	User    string
	Steps   []*UserStep
	Notes   []string
	command string
}

// UserResult is the outcome of a user command (JSON: sshdoctor.guest.user/v1).
type UserResult struct {
	User       string   `json:"user"`
	Changes    []string `json:"changes"`
	Notes      []string `json:"notes,omitempty"`
	Applied    bool     `json:"applied"`
	Backup     string   `json:"backup,omitempty"`
	RolledBack bool     `json:"rolled_back"`
	Error      string   `json:"error,omitempty"`
}

func (p *UserPlan) add(desc string, do func(b *Backup, s *UserStep) error) {
	p.Steps = append(p.Steps, &UserStep{Description: desc, do: do})
}

// Changes lists the planned changes.
func (p *UserPlan) Changes() []string {
	out := []string{}
	for _, s := range p.Steps {
		out = append(out, s.Description)
	}
	return out
}

// actions turns the plan's steps into the transaction engine's actions.
func (p *UserPlan) actions() []Action {
	acts := make([]Action, 0, len(p.Steps))
	for _, s := range p.Steps {
		acts = append(acts, Action{For: "user", User: p.User, Description: s.Description, do: func(b *Backup) error { return s.do(b, s) }})
	}
	return acts
}

// Apply carries the plan out through the one transaction engine (Apply):
// one backup set, every file saved before its first change; if a step
// fails, the set is restored. A plan without steps changes nothing and
// makes no backup set. The caller holds Lock("/").
func (p *UserPlan) Apply(ctx context.Context) *UserResult {
	r := Apply(ctx, nil, p.actions(), RepairOptions{Command: p.command})
	return p.result(r)
}

func (p *UserPlan) result(r *Result) *UserResult {
	return &UserResult{User: p.User, Notes: p.Notes, Applied: true, Changes: p.Changes(), Backup: r.Backup, RolledBack: r.RolledBack, Error: r.Error}
}

// accountFiles are every file useradd, usermod, chpasswd, chage and userdel
// may write under /etc (the "-" files are shadow-utils' own copies).
var accountFiles = []string{
	"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/subuid", "/etc/subgid",
	"/etc/passwd-", "/etc/shadow-", "/etc/group-", "/etc/gshadow-", "/etc/subuid-", "/etc/subgid-",
}

func saveAccounts(b *Backup) error { return saveAll(b, accountFiles...) }

// loginDefs reads a numeric setting from /etc/login.defs.
func loginDefs(key string, def int) int {
	data, err := os.ReadFile("/etc/login.defs")
	if err != nil {
		return def
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
	}
	return def
}

// systemAccount says why an existing account is not a login account sshdoctor
// manages ("" = it is one): uid outside UID_MIN..UID_MAX of /etc/login.defs.
func systemAccount(name string, uid int) string {
	lo, hi := loginDefs("UID_MIN", 1000), loginDefs("UID_MAX", 60000)
	if uid < lo || uid > hi {
		return fmt.Sprintf("%s is a system account (uid %d, outside UID_MIN %d..UID_MAX %d of /etc/login.defs)", name, uid, lo, hi)
	}
	return ""
}

// userFacts gathers one account as guest check does (sshd -T with the
// account's connection, the AuthorizedKeysFile it names).
func userFacts(ctx context.Context, name string) (UserFacts, bool) {
	o := Options{}
	o.defaults()
	f := &Facts{SSHDPath: o.SSHD}
	f.ConfigOK = exec.CommandContext(ctx, o.SSHD, "-t").Run() == nil
	return gatherUser(ctx, o, f, name), f.ConfigOK
}

// newHome is where useradd -m puts a new user's home (useradd -D's HOME).
func newHome(name string) string {
	base := "/home"
	if out, err := exec.Command("useradd", "-D").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "HOME="); ok && strings.HasPrefix(v, "/") {
				base = v
			}
		}
	}
	return filepath.Join(base, name)
}

// expiryDays turns "never" or YYYY-MM-DD into shadow's days since the
// epoch (-1 = never), as chage -E stores it.
func expiryDays(s string) (int, error) {
	if s == "never" {
		return -1, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil || t.Year() < 1970 {
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD (or never)", s)
	}
	return int(t.Unix() / 86400), nil
}

// ParseExpiration checks an --expiration value: "never" or a valid
// YYYY-MM-DD date.
func ParseExpiration(s string) error {
	_, err := expiryDays(s)
	return err
}

// hasHash reports whether a shadow password field (without "!") is a
// password hash, not "", "*" or another marker.
func hasHash(h string) bool {
	return strings.HasPrefix(h, "$") || (len(h) == 13 && !strings.ContainsAny(h, "*!"))
}

// passwordMatches checks pw against a crypt(3) hash with the system's
// libcrypt (through perl, which every Debian-like system has); both go on
// standard input, never in an argument list. Unknown = false.
func passwordMatches(hash string, pw []byte) bool {
	if !hasHash(hash) {
		return false
	}
	cmd := exec.Command("perl", "-e", `chomp(my $h = <STDIN>); local $/; my $p = <STDIN>; exit(defined($p) && crypt($p, $h) eq $h ? 0 : 1)`)
	in := append([]byte(hash+"\n"), pw...)
	defer clear(in)
	cmd.Stdin = bytes.NewReader(in)
	return cmd.Run() == nil
}

// PlanUserSet plans `guest user set`. It changes nothing; an error (a
// refusal: ErrRefused) means nothing will be done.
func PlanUserSet(ctx context.Context, s UserSpec) (*UserPlan, error) {
	p := &UserPlan{User: s.Name, command: s.Command}
	name := s.Name
	pw, exists := passwdEntry(name)
	if exists && atoi(pw[2]) != 0 {
		if why := systemAccount(name, atoi(pw[2])); why != "" {
			return nil, refusef("%s: sshdoctor manages login accounts only", why)
		}
	}
	if !exists {
		if _, ok := colonEntry("/etc/group", name, 4); ok {
			return nil, refusef("a group named %s exists but no user: useradd would refuse to create the user", name)
		}
	}
	if s.Sudo != nil && name == "root" {
		return nil, refusef("root needs no sudoers entry")
	}
	if s.Sudo != nil && *s.Sudo {
		if err := sudoReady(); err != nil {
			return nil, err
		}
	}
	if s.Expiration != "" {
		if _, err := expiryDays(s.Expiration); err != nil {
			return nil, refusef("--expiration: %v", err)
		}
	}

	var u UserFacts
	hash, expire := "!", "" // what useradd gives a new account
	if exists {
		var configOK bool
		u, configOK = userFacts(ctx, name)
		if !configOK {
			p.Notes = append(p.Notes, "sshd -t fails: the key file is sshd's default .ssh/authorized_keys (fix sshd with `sshdoctor guest repair`)")
		}
		if sh, ok := colonEntry("/etc/shadow", name, 9); ok {
			hash, expire = sh[1], sh[7]
		} else {
			hash = "*"
		}
	} else {
		home := newHome(name)
		shell := defaultShell()
		args := []string{"-m", "-s", shell}
		desc := fmt.Sprintf("create user %s (useradd -m -s %s; home %s)", name, shell, home)
		st, err := os.Lstat(home)
		homeExists := err == nil
		if homeExists {
			if !st.IsDir() {
				return nil, refusef("%s exists and is not a directory: cannot be %s's home", home, name)
			}
			// A home left behind by userdel: keep it and, when its old
			// uid is free, give the account that uid back so the files
			// (and StrictModes) stay the user's.
			args = []string{"-M", "-d", home, "-s", shell}
			desc = fmt.Sprintf("create user %s (useradd -M -d %s -s %s: the existing home is kept", name, home, shell)
			switch uid := int(st.Sys().(*syscall.Stat_t).Uid); {
			case uid != 0 && systemAccount(name, uid) == "" && !uidUsed(uid):
				args = append(args, "-u", strconv.Itoa(uid))
				desc += fmt.Sprintf(", with its owner's uid %d", uid)
			case uid != 0:
				p.Notes = append(p.Notes, fmt.Sprintf("%s belongs to uid %d, another account: sshd's StrictModes ignores keys under it until it is %s's (chown)", home, uid, name))
			}
			desc += ")"
		}
		p.add(desc, func(b *Backup, _ *UserStep) error {
			if err := saveAccounts(b); err != nil {
				return err
			}
			if !homeExists {
				if err := b.Save(home); err != nil { // rollback removes the new home
					return err
				}
			}
			return run("useradd", append(args, "--", name)...)
		})
	}

	// Password and lock state.
	locked := strings.HasPrefix(hash, "!")
	bare := strings.TrimLeft(hash, "!")
	hasPassword := hasHash(bare)
	switch {
	case s.Password != nil && hasHash(bare) && passwordMatches(bare, s.Password):
		if locked {
			p.add("unlock "+name+" (usermod -U; the password is already the one given)", func(b *Backup, _ *UserStep) error {
				if err := saveAccounts(b); err != nil {
					return err
				}
				return run("usermod", "-U", "--", name)
			})
		}
	case s.Password != nil:
		desc := "set the password of " + name + " (chpasswd, from standard input)"
		if locked && exists {
			desc += "; this also unlocks the account"
		}
		pass := s.Password
		p.add(desc, func(b *Backup, _ *UserStep) error {
			if err := saveAccounts(b); err != nil {
				return err
			}
			return chpasswd(name, pass)
		})
		hasPassword = true
	case locked && hasPassword:
		p.add("unlock "+name+" (usermod -U)", func(b *Backup, _ *UserStep) error {
			if err := saveAccounts(b); err != nil {
				return err
			}
			return run("usermod", "-U", "--", name)
		})
	case locked:
		what := "unlock " + name
		if !exists {
			what = "let " + name + " log in"
		}
		p.add(what+" with keys: no password, not locked (usermod -p '*')", func(b *Backup, _ *UserStep) error {
			if err := saveAccounts(b); err != nil {
				return err
			}
			return run("usermod", "-p", "*", "--", name)
		})
	}

	// Account expiry.
	if s.Expiration != "" {
		want, _ := expiryDays(s.Expiration)
		cur := -1
		if n, err := strconv.Atoi(expire); err == nil {
			cur = n
		}
		if cur != want {
			arg, desc := s.Expiration, "set the account expiry of "+name+" to "+s.Expiration+" (chage -E)"
			if want < 0 {
				arg, desc = "-1", "remove the account expiry of "+name+" (chage -E -1)"
			}
			p.add(desc, func(b *Backup, _ *UserStep) error {
				if err := saveAccounts(b); err != nil {
					return err
				}
				return run("chage", "-E", arg, "--", name)
			})
		}
	} else if exists && u.AccountExpired {
		p.Notes = append(p.Notes, name+"'s account has expired: sshd refuses it; pass --expiration never (or a date) to change that")
	}

	// Keys.
	if len(s.Keys) > 0 {
		if exists {
			kp, err := planKeys(u, s.Keys, s.ReplaceKeys)
			if err != nil {
				return nil, err
			}
			if kp.change {
				p.add(kp.describe(len(s.Keys), s.ReplaceKeys), func(b *Backup, _ *UserStep) error { return kp.apply(b) })
			}
			for _, bm := range u.BadModes {
				if bm.Path != kp.file && bm.Path != filepath.Dir(kp.file) {
					p.Notes = append(p.Notes, fmt.Sprintf("%s (%s, mode %s): sshd's StrictModes ignores the keys; `sshdoctor guest repair` fixes it", bm.Path, bm.Reason, bm.Mode))
				}
			}
		} else {
			keys, replace := s.Keys, s.ReplaceKeys
			p.add(fmt.Sprintf("authorize %d key(s) for %s in the AuthorizedKeysFile sshd reads (~/.ssh 0700, file 0600, owned by %s)", len(keys), name, name), func(b *Backup, st *UserStep) error {
				u, _ := userFacts(ctx, name)
				if !u.Exists {
					return fmt.Errorf("user %s does not exist", name)
				}
				kp, err := planKeys(u, keys, replace)
				if err != nil {
					return err
				}
				st.Description = kp.describe(len(keys), replace)
				return kp.apply(b)
			})
		}
	}

	// Sudo.
	if s.Sudo != nil {
		file := SudoersFile(name)
		cur, curErr := readNoFollow(file)
		if *s.Sudo {
			want := sudoersEntry(name, hasPassword && !s.SudoNoPassword)
			if curErr != nil || string(cur) != want || !ownedBy(file, 0o440, 0, 0) {
				rule := strings.Split(strings.TrimSpace(want), "\n")[1]
				p.add(fmt.Sprintf("grant %s sudo: %s with %q (checked with visudo -cf before it is put in place)", name, file, rule), func(b *Backup, _ *UserStep) error {
					return installSudoers(b, file, want)
				})
			}
		} else if _, err := os.Lstat(file); err == nil {
			p.add(fmt.Sprintf("remove %s's sudoers drop-in %s (no other sudoers entry is touched)", name, file), func(b *Backup, _ *UserStep) error {
				return removeSudoers(b, file)
			})
		}
		if !*s.Sudo {
			for _, o := range otherSudoers(name) {
				p.Notes = append(p.Notes, fmt.Sprintf("%s line %d still names %s (left alone: only sshdoctor's drop-in is removed)", o.File, o.Line, name))
			}
		}
	}
	return p, nil
}

// PlanUserRemove plans `guest user remove`: userdel (the home directory is
// kept) and the removal of the user's sshdoctor sudoers drop-in. System
// accounts and root are refused. Removing a user that does not exist
// changes nothing.
func PlanUserRemove(ctx context.Context, name, command string) (*UserPlan, error) {
	p := &UserPlan{User: name, command: command}
	if name == "root" {
		return nil, refusef("root is never removed")
	}
	pw, exists := passwdEntry(name)
	if exists {
		if why := systemAccount(name, atoi(pw[2])); why != "" {
			return nil, refusef("%s: only login accounts are removed", why)
		}
		home := pw[5]
		p.add(fmt.Sprintf("delete the account %s (userdel; the home %s is kept)", name, home), func(b *Backup, _ *UserStep) error {
			if err := saveAccounts(b); err != nil {
				return err
			}
			return run("userdel", "--", name)
		})
	} else {
		p.Notes = append(p.Notes, "user "+name+" does not exist")
	}
	file := SudoersFile(name)
	if _, err := os.Lstat(file); err == nil {
		p.add(fmt.Sprintf("remove %s's sudoers drop-in %s (no other sudoers entry is touched)", name, file), func(b *Backup, _ *UserStep) error {
			return removeSudoers(b, file)
		})
	}
	for _, o := range otherSudoers(name) {
		p.Notes = append(p.Notes, fmt.Sprintf("%s line %d still names %s (left alone)", o.File, o.Line, name))
	}
	return p, nil
}

// chpasswd sets name's password, the password on chpasswd's standard input.
func chpasswd(name string, pw []byte) error {
	line := append(append([]byte(name+":"), pw...), '\n')
	defer clear(line)
	cmd := exec.Command("chpasswd")
	cmd.Stdin = bytes.NewReader(line)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(strings.ReplaceAll(string(out), string(pw), "***"))
		return fmt.Errorf("chpasswd: %v: %s", err, msg)
	}
	return nil
}

// keyPlan is the authorized keys file change for one user.
type keyPlan struct {
	file     string
	home     string
	dirs     []string // directories to create, outermost first
	fixDir   string   // ~/.ssh (or the key file's directory inside the home) to make 0700, the user's
	content  []byte
	uid, gid int // the user's, for what is created in the home
	// The key file's mode and owner: in the home 0600 and the user's; a
	// file outside the home (AuthorizedKeysFile /etc/ssh/keys/%u) keeps
	// its owner (root, often on purpose: users cannot edit it), loses
	// group and world write; a new one there is root's, 0644.
	mode             os.FileMode
	fileUID, fileGID int
	added            int
	change           bool
}

func (k *keyPlan) describe(n int, replace bool) string {
	how := fmt.Sprintf("%04o, owned by uid %d", k.mode, k.fileUID)
	if k.fileUID == k.uid {
		how = fmt.Sprintf("%04o, owned by the user", k.mode)
	}
	if k.fixDir != "" {
		how = filepath.Base(k.fixDir) + " 0700, " + how
	}
	if replace {
		return fmt.Sprintf("replace the keys in %s with the %d key(s) given (%s)", k.file, n, how)
	}
	if k.added == 0 {
		return fmt.Sprintf("fix owner and modes of %s (the key(s) are already there; %s)", k.file, how)
	}
	return fmt.Sprintf("authorize %d key(s) in %s (%s)", k.added, k.file, how)
}

// planKeys works out the new content of the first key file sshd reads for
// u, and which owner and mode fixes it needs. Symbolic links are never
// followed: a user could point one at /etc/shadow.
func planKeys(u UserFacts, keys []KeyLine, replace bool) (*keyPlan, error) {
	if len(u.KeyFiles) == 0 || u.KeyFiles[0].Command {
		return nil, refusef("sshd reads no authorized keys file for %s (AuthorizedKeysFile none): its keys come from AuthorizedKeysCommand, if any", u.Name)
	}
	home := filepath.Clean(u.Home)
	k := &keyPlan{file: u.KeyFiles[0].Path, home: home, uid: u.UID, gid: u.GID}
	inHome := strings.HasPrefix(k.file, home+"/")
	dir := filepath.Dir(k.file)
	// Inside the home no directory on the way may be a symbolic link (the
	// user could point one anywhere); missing directories are created.
	if inHome {
		for d := dir; d != home && strings.HasPrefix(d, home+"/"); d = filepath.Dir(d) {
			if st, err := os.Lstat(d); err == nil && st.Mode()&os.ModeSymlink != 0 {
				return nil, refusef("%s is a symbolic link: not following it (remove it or fix it by hand)", d)
			}
		}
		if st, err := os.Lstat(k.file); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return nil, refusef("%s is a symbolic link: not following it (remove it or fix it by hand)", k.file)
		}
	}
	var missing []string
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append([]string{d}, missing...)
	}
	k.dirs = missing
	if inHome && dir != home {
		k.fixDir = dir
	}
	old, err := readNoFollow(k.file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, refusef("%s: %v", k.file, err)
	}
	var out strings.Builder
	seen := map[string]bool{}
	if replace {
		for _, key := range keys {
			if b := string(key.Key.Marshal()); !seen[b] {
				seen[b] = true
				out.WriteString(key.Line())
				k.added++
			}
		}
	} else {
		for _, b := range authorizedBlobs(old) {
			seen[b] = true
		}
		out.Write(old)
		if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
			out.WriteString("\n")
		}
		for _, key := range keys {
			if b := string(key.Key.Marshal()); !seen[b] {
				seen[b] = true
				out.WriteString(key.Line())
				k.added++
			}
		}
	}
	k.content = []byte(out.String())
	k.mode, k.fileUID, k.fileGID = 0o600, k.uid, k.gid
	if !inHome {
		k.mode, k.fileUID, k.fileGID = 0o644, 0, 0
		if st, err := os.Lstat(k.file); err == nil {
			sys := st.Sys().(*syscall.Stat_t)
			k.mode, k.fileUID, k.fileGID = st.Mode().Perm()&^0o022, int(sys.Uid), int(sys.Gid)
			if k.fileUID != 0 && k.fileUID != k.uid {
				k.fileUID = k.uid // StrictModes accepts root or the user only
			}
		}
	}
	k.change = len(missing) > 0 || !bytes.Equal(k.content, old) || !ownedBy(k.file, k.mode, k.fileUID, k.fileGID) ||
		(k.fixDir != "" && !ownedBy(k.fixDir, 0o700, k.uid, k.gid))
	return k, nil
}

func (k *keyPlan) apply(b *Backup) error {
	fs, err := safefs.OpenRoot("/")
	if err != nil {
		return err
	}
	defer fs.Close()
	for _, d := range k.dirs {
		if err := b.Save(d); err != nil { // rollback removes what is created
			return err
		}
		// Inside the home: the user's (the home itself as useradd makes
		// it, ~/.ssh 0700); outside: a root-owned system directory.
		mode, uid, gid := os.FileMode(0o755), 0, 0
		if d == k.home || strings.HasPrefix(d, k.home+"/") {
			uid, gid = k.uid, k.gid
		}
		if d == k.fixDir {
			mode = 0o700
		}
		parent, name, err := fs.Split(d)
		if err != nil {
			return err
		}
		nd, err := parent.Mkdir(name, mode, uid, gid)
		parent.Close()
		if err != nil {
			return err
		}
		nd.Close()
		if err := b.Note(d); err != nil {
			return err
		}
	}
	if k.fixDir != "" {
		if err := fixPath(b, fs, k.fixDir, true, 0o700, k.uid, k.gid); err != nil {
			return err
		}
	}
	if err := b.Save(k.file); err != nil {
		return err
	}
	d, name, err := fs.Split(k.file)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.WriteFile(name, k.content, k.mode, k.fileUID, k.fileGID); err != nil {
		return err
	}
	return b.Note(k.file)
}

// maxKeyFile bounds an authorized keys file sshdoctor reads to edit.
const maxKeyFile = 16 << 20

// readNoFollow reads a regular file through descriptors (safefs): a link
// or mount point a user could have planted is refused, not followed.
func readNoFollow(path string) ([]byte, error) {
	fs, err := safefs.OpenRoot("/")
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	data, _, err := fs.ReadFile(path, maxKeyFile)
	return data, err
}

// fixPath gives path mode and (uid ≥ 0) owner uid:gid through one
// descriptor, saved into b first: it must be a directory (dir) or a
// regular file, and a file with other hard links that uid does not own is
// refused — the change would reach the other name (say /etc/shadow on a
// system without protected_hardlinks).
func fixPath(b *Backup, fs *safefs.Dir, path string, dir bool, mode os.FileMode, uid, gid int) error {
	return fixOpen(b, fs, path, uid, func(safefs.Info) (bool, os.FileMode, int, int) { return dir, mode, uid, gid })
}

// fixOpen is fixPath on behalf of user, with what path must become decided
// by want from the opened object itself (never from an earlier look at the
// name, which a user could have swapped since): whether it must be a
// directory, its mode and owner. A hard-linked file is changed only when
// user owns it.
func fixOpen(b *Backup, fs *safefs.Dir, path string, user int, want func(safefs.Info) (dir bool, mode os.FileMode, uid, gid int)) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dir, mode, uid, gid := want(f.Info)
	switch {
	case dir && !f.Info.IsDir():
		return fmt.Errorf("%s is a %s, not a directory: fix it by hand", path, f.Info.Type())
	case !dir && !f.Info.IsRegular():
		return fmt.Errorf("%s is a %s, not a regular file: fix it by hand", path, f.Info.Type())
	case !dir && f.Info.Nlink > 1 && f.Info.UID != user:
		return fmt.Errorf("%s has %d hard links and belongs to uid %d: changing it would change the other names too; fix it by hand", path, f.Info.Nlink, f.Info.UID)
	}
	if err := b.SaveOpen(path, f); err != nil {
		return err
	}
	if uid >= 0 && (f.Info.UID != uid || f.Info.GID != gid) {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	if f.Info.Perm() != mode.Perm() || f.Info.Mode&0o7000 != 0 {
		if err := f.Chmod(mode); err != nil {
			return err
		}
	}
	return b.Note(path)
}

// ownedBy reports whether path (not followed) has exactly mode, uid and gid.
func ownedBy(path string, mode os.FileMode, uid, gid int) bool {
	st, err := os.Lstat(path)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && st.Mode().Perm() == mode && int(sys.Uid) == uid && int(sys.Gid) == gid
}

// authorizedBlobs returns the wire form of every key in an authorized_keys
// file's content.
func authorizedBlobs(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if k, err := parseOpenSSHLine(l, 0); err == nil {
			out = append(out, string(k.Key.Marshal()))
		}
	}
	return out
}

// sudoReady checks that a drop-in can take effect and be validated.
func sudoReady() error {
	if _, err := exec.LookPath("visudo"); err != nil {
		return refusef("--sudo: sudo is not installed (no visudo to validate %s with)", SudoersDir)
	}
	data, err := os.ReadFile("/etc/sudoers")
	if err != nil {
		return refusef("--sudo: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && (f[0] == "#includedir" || f[0] == "@includedir") && filepath.Clean(f[1]) == SudoersDir {
			return nil
		}
	}
	return refusef("--sudo: /etc/sudoers does not include %s (@includedir %s): a drop-in would have no effect", SudoersDir, SudoersDir)
}

// installSudoers writes the drop-in as a candidate that sudo ignores (its
// name has a dot), checks it with visudo -cf, and renames it into place;
// if the whole configuration passed visudo -c before but not after, the
// change is undone.
func installSudoers(b *Backup, file, content string) error {
	if err := b.Save(file); err != nil {
		return err
	}
	fs, err := safefs.OpenRoot("/")
	if err != nil {
		return err
	}
	defer fs.Close()
	d, err := fs.OpenDir(SudoersDir)
	if errors.Is(err, os.ErrNotExist) {
		if err := b.Save(SudoersDir); err != nil {
			return err
		}
		etc, err := fs.OpenDir(filepath.Dir(SudoersDir))
		if err != nil {
			return err
		}
		d, err = etc.Mkdir(filepath.Base(SudoersDir), 0o755, 0, 0)
		etc.Close()
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	defer d.Close()
	before := exec.Command("visudo", "-c", "-q").Run() == nil
	cand := "." + filepath.Base(file) + safefs.TempMarker + "candidate"
	if err := d.WriteFile(cand, []byte(content), 0o440, 0, 0); err != nil {
		return err
	}
	defer d.Remove(cand, nil) // gone after the rename
	if out, err := exec.Command("visudo", "-c", "-q", "-f", filepath.Join(SudoersDir, cand)).CombinedOutput(); err != nil {
		return fmt.Errorf("visudo -cf rejects the candidate: %s", strings.TrimSpace(string(out)))
	}
	if err := d.Rename(cand, filepath.Base(file)); err != nil {
		return err
	}
	if before {
		if out, err := exec.Command("visudo", "-c", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("visudo -c fails with the new drop-in: %s", strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func removeSudoers(b *Backup, file string) error {
	if err := b.Save(file); err != nil {
		return err
	}
	fs, err := safefs.OpenRoot("/")
	if err != nil {
		return err
	}
	defer fs.Close()
	d, name, err := fs.Split(file)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Remove(name, nil)
}

// otherSudoers finds sudoers lines outside sshdoctor's drop-in whose first
// word is user (they are reported, never edited).
func otherSudoers(user string) []Origin {
	files := []string{"/etc/sudoers"}
	if es, err := os.ReadDir(SudoersDir); err == nil {
		for _, e := range es {
			n := e.Name()
			if !strings.Contains(n, ".") && !strings.HasSuffix(n, "~") && filepath.Join(SudoersDir, n) != SudoersFile(user) {
				files = append(files, filepath.Join(SudoersDir, n))
			}
		}
	}
	var out []Origin
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for i, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == user {
				out = append(out, Origin{File: file, Line: i + 1, Text: l})
			}
		}
	}
	return out
}
