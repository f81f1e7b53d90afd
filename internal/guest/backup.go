package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
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
}

// Backup is an open backup set. Every path is saved at most once, before
// its first change, so restoring a set returns the state before the run.
type Backup struct {
	root string
	dir  string
	m    Manifest
	seen map[string]bool
}

// NewBackup creates a backup set under root's BackupDir.
func NewBackup(root, command string) (*Backup, error) {
	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	dir := filepath.Join(root, BackupDir, stamp)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup set %s: %w", dir, err)
	}
	b := &Backup{root: root, dir: dir, m: Manifest{Created: time.Now().UTC(), Command: command}, seen: map[string]bool{}}
	return b, b.save()
}

// Dir is the backup set's directory.
func (b *Backup) Dir() string { return b.dir }

// Save records path's current content (or absence) before it is changed.
func (b *Backup) Save(path string) error {
	if b.seen[path] {
		return nil
	}
	full := filepath.Join(b.root, path)
	e := BackupEntry{Path: path}
	st, err := os.Lstat(full)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("back up %s: %w", path, err)
	default:
		e.Existed = true
		e.Mode = uint32(st.Mode().Perm())
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			e.UID, e.GID = int(sys.Uid), int(sys.Gid)
		}
		if st.Mode().IsRegular() {
			e.Stored = fmt.Sprintf("%03d-%s", len(b.m.Entries), filepath.Base(path))
			if err := copyFile(full, filepath.Join(b.dir, e.Stored), 0o600); err != nil {
				return fmt.Errorf("back up %s: %w", path, err)
			}
		}
	}
	b.seen[path] = true
	b.m.Entries = append(b.m.Entries, e)
	return b.save()
}

func (b *Backup) save() error {
	data, err := json.MarshalIndent(b.m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(b.dir, "manifest.json"), data, 0o600, -1, -1)
}

// Restore puts every entry of the set back: contents, owners and modes;
// paths that did not exist before are removed.
func Restore(root, setDir string) error { return RestoreOnly(root, setDir, nil) }

// RestoreOnly is Restore for the entries whose path keep accepts (nil:
// every entry).
func RestoreOnly(root, setDir string, keep func(path string) bool) error {
	data, err := os.ReadFile(filepath.Join(setDir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("read backup manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("backup manifest %s is corrupt: %w", setDir, err)
	}
	var errs []error
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := m.Entries[i]
		if keep != nil && !keep(e.Path) {
			continue
		}
		full := filepath.Join(root, e.Path)
		switch {
		case !e.Existed:
			if err := os.RemoveAll(full); err != nil {
				errs = append(errs, err)
			}
		case e.Stored != "":
			content, err := os.ReadFile(filepath.Join(setDir, e.Stored))
			if err == nil {
				err = WriteFileAtomic(full, content, os.FileMode(e.Mode), e.UID, e.GID)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("restore %s: %w", e.Path, err))
			}
		default: // a directory: owner and mode only
			if err := os.Chmod(full, os.FileMode(e.Mode)); err != nil {
				errs = append(errs, err)
			}
			if err := os.Lchown(full, e.UID, e.GID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
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
		if e.IsDir() {
			out = append(out, filepath.Join(root, BackupDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// WriteFileAtomic replaces path with data so a reader (or a crash) only
// ever sees the old or the new file: temp file in the same directory,
// fsync, rename, fsync of the directory. Owner and mode are kept from the
// existing file; uid/gid < 0 and mode 0 mean "as the existing file".
func WriteFileAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	if st, err := os.Stat(path); err == nil {
		if mode == 0 {
			mode = st.Mode().Perm()
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			if uid < 0 {
				uid = int(sys.Uid)
			}
			if gid < 0 {
				gid = int(sys.Gid)
			}
		}
	}
	if mode == 0 {
		mode = 0o644
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".sshdoctor-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	copySELinuxLabel(path, tmp)
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// copySELinuxLabel keeps the file's security context across the rename
// (on systems without SELinux the attribute is simply absent).
func copySELinuxLabel(from, to string) {
	buf := make([]byte, 256)
	n, err := syscall.Getxattr(from, "security.selinux", buf)
	if err != nil || n <= 0 {
		return
	}
	_ = syscall.Setxattr(to, "security.selinux", buf[:n], 0)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Lock takes the one-run-at-a-time lock (/run/sshdoctor-guest.lock); it
// fails at once if another run holds it.
func Lock(root string) (func(), error) {
	path := filepath.Join(root, "run", "sshdoctor-guest.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another sshdoctor guest run holds %s", path)
	}
	return func() { f.Close() }, nil
}
