package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/safefs"
)

// BackupDir is where repairs keep their backup sets, one per run.
const BackupDir = "/var/backups/sshdoctor"

// Manifest describes one backup set (manifest.json in the set).
type Manifest struct {
	Created time.Time     `json:"created"`
	Command string        `json:"command"`
	Entries []BackupEntry `json:"entries"`
}

// BackupEntry is one saved path.
type BackupEntry struct {
	Path    string `json:"path"`   // original absolute path (inside Root)
	Stored  string `json:"stored"` // file name inside the set; "" when the path did not exist
	Existed bool   `json:"existed"`
	Mode    uint32 `json:"mode"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	// Before is the object that was there when it was saved.
	Before *Identity `json:"before,omitempty"`
	// After is the object the run left there (nil: none); Sealed says it
	// was recorded (a run killed halfway leaves it unsealed).
	After  *Identity `json:"after,omitempty"`
	Sealed bool      `json:"sealed"`
	// UserControlled: the path's directory is one someone other than root
	// can change (a home, ~/.ssh). Restore then acts only when the path
	// is still the object the run left (or found) there.
	UserControlled bool `json:"user_controlled"`
}

// Identity says which object a path named: device, inode, type, owner.
type Identity struct {
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Type string `json:"type"`
	UID  int    `json:"uid"`
}

func identityOf(i safefs.Info) *Identity {
	return &Identity{Dev: i.Dev, Ino: i.Ino, Type: i.Type(), UID: i.UID}
}

func (a *Identity) same(b *Identity) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func (a *Identity) String() string {
	if a == nil {
		return "nothing"
	}
	return fmt.Sprintf("a %s of uid %d (inode %d)", a.Type, a.UID, a.Ino)
}

// maxBackupFile bounds a file saved into a backup set: a user's
// authorized_keys of gigabytes is not copied into /var.
const maxBackupFile = 64 << 20

// Backup is an open backup set. Every path is saved at most once, before
// its first change, so restoring a set returns the state before the run.
// Paths are read through descriptors (internal/safefs): a link or a mount
// point where a user could have planted one is refused, not followed.
type Backup struct {
	root string
	fs   *safefs.Dir
	dir  string
	m    Manifest
	seen map[string]bool
}

// NewBackup creates a backup set under root's BackupDir.
func NewBackup(root, command string) (*Backup, error) {
	fs, err := safefs.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	dir := filepath.Join(root, BackupDir, stamp)
	// The set appears under its name only with its manifest in it: it is
	// made as a hidden temporary directory first (a run killed before
	// that leaves only a temporary the next run removes).
	tmp := filepath.Join(root, BackupDir, "."+stamp+safefs.TempMarker+"set")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		fs.Close()
		return nil, fmt.Errorf("create backup set %s: %w", dir, err)
	}
	b := &Backup{root: root, fs: fs, dir: tmp, m: Manifest{Created: time.Now().UTC(), Command: command}, seen: map[string]bool{}}
	if err := b.save(); err != nil {
		fs.Close()
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		fs.Close()
		return nil, fmt.Errorf("create backup set %s: %w", dir, err)
	}
	b.dir = dir
	return b, nil
}

// Dir is the backup set's directory.
func (b *Backup) Dir() string { return b.dir }

// Save records path's current content (or absence) before it is changed.
func (b *Backup) Save(path string) error {
	if b.seen[path] {
		return nil
	}
	f, err := b.fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return b.record(path, nil)
	}
	if err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}
	defer f.Close()
	return b.SaveOpen(path, f)
}

// SaveOpen records an object the caller has open (and will change through
// that descriptor), so what is saved is what is changed.
func (b *Backup) SaveOpen(path string, f *safefs.File) error {
	if b.seen[path] {
		return nil
	}
	return b.record(path, f)
}

func (b *Backup) record(path string, f *safefs.File) error {
	e := BackupEntry{Path: path, UserControlled: b.userControlled(path)}
	if f != nil {
		e.Existed = true
		e.Mode = uint32(f.Info.Perm())
		e.UID, e.GID = f.Info.UID, f.Info.GID
		e.Before = identityOf(f.Info)
		switch {
		case f.Info.IsRegular():
			data, err := f.ReadAll(maxBackupFile)
			if err != nil {
				return fmt.Errorf("back up %s: %w", path, err)
			}
			e.Stored = fmt.Sprintf("%03d-%s", len(b.m.Entries), filepath.Base(path))
			if err := os.WriteFile(filepath.Join(b.dir, e.Stored), data, 0o600); err != nil {
				return fmt.Errorf("back up %s: %w", path, err)
			}
		case f.Info.IsDir():
		default:
			return fmt.Errorf("back up %s: a %s, not a file or directory: not touching it", path, f.Info.Type())
		}
	}
	b.seen[path] = true
	b.m.Entries = append(b.m.Entries, e)
	return b.save()
}

// userControlled says whether someone other than root can change the
// entries of path's directory (or of any directory on the way).
func (b *Backup) userControlled(path string) bool {
	d, _, err := b.fs.Split(path)
	if err != nil {
		return true
	}
	defer d.Close()
	return !d.Trusted()
}

// current is what path names now, without following it (nil: nothing).
func current(fs *safefs.Dir, path string) (*Identity, error) {
	d, name, err := fs.Split(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	i, err := d.Lstat(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return identityOf(i), nil
}

// Note records what a change through safefs left at path, right after
// it: a rollback then puts back exactly that object, or nothing if a user
// has replaced it since.
func (b *Backup) Note(path string) error {
	for i := range b.m.Entries {
		if e := &b.m.Entries[i]; e.Path == path {
			id, err := current(b.fs, path)
			if err != nil {
				return err
			}
			e.After, e.Sealed = id, true
			return b.save()
		}
	}
	return fmt.Errorf("%s was changed without being backed up first", path)
}

// Seal records what the run left at every saved path, for a later
// restore to check that nobody has replaced it since.
func (b *Backup) Seal() error {
	for i := range b.m.Entries {
		e := &b.m.Entries[i]
		id, err := current(b.fs, e.Path)
		if err != nil {
			continue // unreachable now (a link): left unsealed, so restore refuses it
		}
		e.After, e.Sealed = id, true
	}
	return b.save()
}

func (b *Backup) save() error {
	data, err := json.MarshalIndent(b.m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(b.dir, "manifest.json"), data, 0o600, -1, -1)
}

// ChangedError says a path is no longer what a backup set expects: restore
// changed nothing.
type ChangedError struct {
	Path       string
	Want, Have *Identity
	Err        error // when the path could not be looked at safely
}

func (e *ChangedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s cannot be restored safely: %v; nothing was restored", e.Path, e.Err)
	}
	return fmt.Sprintf("%s has changed since the backup (sshdoctor left %s there, it is now %s): nothing was restored; restore by hand if that is intended", e.Path, e.Want, e.Have)
}

// Restore puts every entry of the set back: contents, owners and modes;
// paths that did not exist before are removed. It first checks that every
// path someone other than root controls is still the object the run left
// there (identity: device, inode, type, owner) and that no component is a
// link or mount point a user could have planted; otherwise it restores
// nothing and names the path (*ChangedError).
func Restore(root, setDir string) error { return RestoreOnly(root, setDir, nil) }

// RestoreOnly is Restore for the entries whose path keep accepts (nil:
// every entry).
func RestoreOnly(root, setDir string, keep func(path string) bool) error {
	return restore(root, setDir, keep, true)
}

// rollback restores a set the current run made, at once: every action is
// done through descriptors, without the identity check (the run's own
// changes are not sealed yet).
func rollback(root, setDir string) error { return restore(root, setDir, nil, false) }

func restore(root, setDir string, keep func(path string) bool, verify bool) error {
	m, err := readManifest(setDir)
	if err != nil {
		return fmt.Errorf("backup set %s: %w", setDir, err)
	}
	fs, err := safefs.OpenRoot(root)
	if err != nil {
		return err
	}
	defer fs.Close()
	var todo []BackupEntry
	for i := len(m.Entries) - 1; i >= 0; i-- {
		if keep == nil || keep(m.Entries[i].Path) {
			todo = append(todo, m.Entries[i])
		}
	}
	if verify {
		for _, e := range todo {
			if err := unchanged(fs, e); err != nil {
				return err
			}
		}
	}
	var errs []error
	for _, e := range todo {
		if !verify {
			// A rollback puts back what it safely can and names the rest.
			if err := unchanged(fs, e); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := restoreEntry(fs, setDir, e); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", e.Path, err))
		}
	}
	if len(errs) > 0 {
		return &PartialError{Err: errors.Join(errs...)}
	}
	return nil
}

// PartialError says a restore put back what it safely could and names the
// paths it could not (a path replaced or made a link while it ran).
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return "not everything was restored: " + e.Err.Error() }

func (e *PartialError) Unwrap() error { return e.Err }

// unchanged checks that e's path may be restored: it can be reached
// without a link or mount point a user planted, and, in a user-controlled
// directory, it is still the object the run left (sealed) or found (not
// sealed: a run killed before it changed the path).
func unchanged(fs *safefs.Dir, e BackupEntry) error {
	have, err := current(fs, e.Path)
	if err != nil {
		return &ChangedError{Path: e.Path, Err: err}
	}
	if !e.UserControlled {
		return nil
	}
	want := e.Before
	if e.Sealed {
		want = e.After
	}
	if !have.same(want) {
		return &ChangedError{Path: e.Path, Want: want, Have: have}
	}
	return nil
}

func restoreEntry(fs *safefs.Dir, setDir string, e BackupEntry) error {
	d, name, err := fs.Split(e.Path)
	if err != nil {
		if !e.Existed && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer d.Close()
	switch {
	case !e.Existed:
		return d.RemoveAll(name)
	case e.Stored != "":
		content, err := os.ReadFile(filepath.Join(setDir, e.Stored))
		if err != nil {
			return err
		}
		return d.WriteFile(name, content, os.FileMode(e.Mode), e.UID, e.GID)
	default: // a directory: owner and mode only
		f, err := d.OpenFile(fs, name)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the directory is gone: not recreating it")
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if !f.Info.IsDir() {
			return fmt.Errorf("now a %s, not the directory that was saved", f.Info.Type())
		}
		if err := f.Chown(e.UID, e.GID); err != nil {
			return err
		}
		return f.Chmod(os.FileMode(e.Mode))
	}
}

// Sets lists the backup sets under root, newest last.
func Sets(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, BackupDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(root, BackupDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// WriteFileAtomic replaces path with data so a reader (or a crash) only
// ever sees the old or the new file: a temporary file in the same
// directory, fsync, rename, fsync of the directory — all through
// descriptors (safefs), so a link a user planted on the way is refused.
// uid/gid < 0 and mode 0 mean "as the existing file" (0644, root's, for a
// new one).
func WriteFileAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	fs, err := safefs.OpenRoot("/")
	if err != nil {
		return err
	}
	defer fs.Close()
	d, name, err := fs.Split(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteFile(name, data, mode, uid, gid)
}

// BusyError says another sshdoctor guest run holds the lock: nothing was
// changed; try again when it ends.
type BusyError struct {
	Lock string
	PID  int // the holder, when it wrote its pid
}

func (e *BusyError) Error() string {
	who := "another sshdoctor guest run"
	if e.PID > 0 {
		who += fmt.Sprintf(" (pid %d)", e.PID)
	}
	return who + " holds " + e.Lock + ": nothing was changed; try again when it ends"
}

// Lock takes the one-run-at-a-time lock (/run/sshdoctor-guest.lock); it
// fails at once (*BusyError) if another run holds it. Holding it, it
// removes the temporary files a run killed halfway left behind (see
// sweepTemps).
func Lock(root string) (func(), error) {
	path := filepath.Join(root, "run", "sshdoctor-guest.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := 0
		if data, rerr := io.ReadAll(io.LimitReader(f, 32)); rerr == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		f.Close()
		return nil, &BusyError{Lock: path, PID: pid}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	sweepTemps(root)
	return func() { f.Close() }, nil
}

// tempDirs are where sshdoctor writes temporary files besides the users'
// key file directories.
var tempDirs = []string{"/etc", "/etc/ssh", "/etc/ssh/sshd_config.d", SudoersDir, "/etc/default", "/etc/security", BackupDir}

// sweepTemps removes what a killed run left: root-owned regular files
// whose names carry safefs.TempMarker, in the directories sshdoctor writes
// to and in every account's ~/.ssh. Only a run holding the lock calls it,
// so no live run's file is taken.
func sweepTemps(root string) {
	fs, err := safefs.OpenRoot(root)
	if err != nil {
		return
	}
	defer fs.Close()
	dirs := slices.Clone(tempDirs)
	if data, _, err := fs.ReadFile("/etc/passwd", 16<<20); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Split(l, ":"); len(f) >= 7 && strings.HasPrefix(f[5], "/") && f[5] != "/" {
				dirs = append(dirs, filepath.Join(f[5], ".ssh"))
			}
		}
	}
	if sets, err := Sets(root); err == nil {
		for _, set := range sets {
			dirs = append(dirs, strings.TrimPrefix(set, strings.TrimSuffix(root, "/")))
		}
	}
	for _, dir := range dirs {
		d, err := fs.OpenDir(dir)
		if err != nil {
			continue
		}
		names, _ := d.Entries()
		for _, n := range names {
			if !safefs.IsTemp(n) {
				continue
			}
			// A key file's temporary already belongs to its user when a
			// kill stops the run before the rename: the name pattern, not
			// the owner, says it is sshdoctor's. Removed through the
			// directory's descriptor, never followed.
			i, err := d.Lstat(n)
			switch {
			case err != nil:
			case i.IsRegular():
				_ = d.Remove(n, &i)
			case i.IsDir() && i.UID == 0 && strings.HasSuffix(n, safefs.TempMarker+"set"):
				_ = d.RemoveAll(n)
			}
		}
		d.Close()
	}
}
