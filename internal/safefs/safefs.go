// Package safefs does root's file work on paths other users may control
// (their home, ~/.ssh, authorized_keys) without being tricked into acting on
// something else, such as /etc/shadow.
//
// Every path is walked component by component from a descriptor of the
// root, each step with openat2(2). A symbolic link or a mount point is
// crossed only inside a directory that only root can change (owned by root,
// not group- or world-writable), and a link is followed only when root owns
// it; anywhere else (a user's home, /tmp) both are refused, and ".." is
// never taken. What is found is acted on through its descriptor — fstat,
// fchmod, fchown, writes into a directory descriptor, renameat, unlinkat —
// never by path again, so a name swapped after the check changes nothing.
package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the root-owned links one path may follow (as the kernel's
// own limit of 40).
const maxLinks = 40

// LinkError says a path holds a link or a mount point where safefs does not
// cross one.
type LinkError struct {
	Path string // the component, as an absolute path
	Kind string // "symbolic link" or "mount point"
	Dir  string // the directory someone other than root controls
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a %s inside %s, which someone other than root can change: not following it", e.Path, e.Kind, e.Dir)
}

// ErrLink matches every *LinkError (errors.Is).
var ErrLink = errors.New("link refused")

// Is makes errors.Is(err, ErrLink) true.
func (e *LinkError) Is(target error) bool { return target == ErrLink }

// Info is what fstat says of an open object.
type Info struct {
	Dev, Ino uint64
	Mode     uint32 // st_mode: type and permission bits
	UID, GID int
	Nlink    uint64
	Size     int64
}

func infoOf(st *unix.Stat_t) Info {
	return Info{Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, UID: int(st.Uid), GID: int(st.Gid), Nlink: uint64(st.Nlink), Size: st.Size}
}

// Perm is the permission bits (without setuid, setgid, sticky).
func (i Info) Perm() os.FileMode { return os.FileMode(i.Mode & 0o777) }

// IsDir reports a directory.
func (i Info) IsDir() bool { return i.Mode&unix.S_IFMT == unix.S_IFDIR }

// IsRegular reports a regular file.
func (i Info) IsRegular() bool { return i.Mode&unix.S_IFMT == unix.S_IFREG }

// IsLink reports a symbolic link.
func (i Info) IsLink() bool { return i.Mode&unix.S_IFMT == unix.S_IFLNK }

// Type names the file type.
func (i Info) Type() string {
	switch i.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "device"
	}
	return "unknown"
}

// SameObject reports whether two Infos describe the same inode.
func (i Info) SameObject(o Info) bool {
	return i.Dev == o.Dev && i.Ino == o.Ino && i.Mode&unix.S_IFMT == o.Mode&unix.S_IFMT
}

// trusted says only root can change the directory's entries.
func (i Info) trusted() bool { return i.UID == 0 && i.Mode&0o022 == 0 }

// Dir is an open directory.
type Dir struct {
	fd   int
	path string // for messages; never used to act
	info Info
}

// Path is the directory's path as it was resolved.
func (d *Dir) Path() string { return d.path }

// Info is the directory's fstat.
func (d *Dir) Info() Info { return d.info }

// Trusted says only root can change the directory's entries.
func (d *Dir) Trusted() bool { return d.info.trusted() }

// Close releases the descriptor.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

// openat2 opens name (one component) beneath d: never through a link;
// never across a mount point unless d is trusted.
func (d *Dir) openat2(name string, flags int) (int, error) {
	resolve := uint64(unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS)
	if !d.Trusted() {
		resolve |= unix.RESOLVE_NO_XDEV
	}
	for {
		fd, err := unix.Openat2(d.fd, name, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW), Resolve: resolve})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.ENOSYS {
			return d.openatFallback(name, flags)
		}
		if err == unix.EXDEV {
			return -1, &LinkError{Path: d.join(name), Kind: "mount point", Dir: d.path}
		}
		return fd, err
	}
}

// openatFallback is openat2 for kernels before 5.6: O_NOFOLLOW, and a
// different st_dev for a mount crossing (bind mounts of the same file
// system are not seen there).
func (d *Dir) openatFallback(name string, flags int) (int, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if !d.Trusted() && st.Dev != d.info.Dev {
		unix.Close(fd)
		return -1, &LinkError{Path: d.join(name), Kind: "mount point", Dir: d.path}
	}
	return fd, nil
}

// OpenRoot opens the directory every path is resolved beneath ("/" on a
// live system, a test root otherwise). The root itself may be reached
// through links (it is the caller's choice).
func OpenRoot(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: abs, Err: err}
	}
	d := &Dir{fd: fd, path: "/"}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	d.info = infoOf(&st)
	return d, nil
}

// components splits an absolute path into its names; ".." is refused.
func components(path string) ([]string, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%s: not an absolute path", path)
	}
	var out []string
	for _, c := range strings.Split(path, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("%s: \"..\" is not followed", path)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// OpenDir opens the directory at path, resolved beneath root (which stays
// open and is the caller's).
func (root *Dir) OpenDir(path string) (*Dir, error) {
	comps, err := components(path)
	if err != nil {
		return nil, err
	}
	links := 0
	return root.walk(root.dup(), comps, &links)
}

func (root *Dir) dup() *Dir {
	fd, err := unix.FcntlInt(uintptr(root.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return &Dir{fd: fd, path: root.path, info: root.info}
}

// walk opens comps one by one from cur (which it consumes).
func (root *Dir) walk(cur *Dir, comps []string, links *int) (*Dir, error) {
	if cur.fd < 0 {
		return nil, errors.New("safefs: cannot duplicate the root descriptor")
	}
	for i := 0; i < len(comps); i++ {
		name := comps[i]
		fd, err := cur.openat2(name, unix.O_RDONLY|unix.O_DIRECTORY)
		if err == unix.ENOTDIR {
			// O_DIRECTORY on a link says ENOTDIR: a link or not a directory.
			if st, serr := cur.Lstat(name); serr == nil && (st.IsLink() || st.IsDir() && !cur.Trusted()) {
				err = unix.ELOOP
			}
		}
		if err == unix.ELOOP {
			target, lerr := cur.trustedLink(name, links)
			if lerr != nil {
				cur.Close()
				if lerr == errNotLink {
					return nil, &os.PathError{Op: "open", Path: cur.join(name), Err: err}
				}
				return nil, lerr
			}
			rest := append(target.comps, comps[i+1:]...)
			if target.abs {
				cur.Close()
				return root.walk(root.dup(), rest, links)
			}
			return root.walk(cur, rest, links)
		}
		if err != nil {
			cur.Close()
			var le *LinkError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &os.PathError{Op: "open", Path: cur.join(name), Err: err}
		}
		next := &Dir{fd: fd, path: cur.join(name)}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			cur.Close()
			return nil, err
		}
		next.info = infoOf(&st)
		cur.Close()
		cur = next
	}
	return cur, nil
}

type linkTarget struct {
	abs   bool
	comps []string
}

var errNotLink = errors.New("not a link")

// trustedLink reads the link name in d when safefs may follow it: d is
// trusted and root owns the link.
func (d *Dir) trustedLink(name string, links *int) (linkTarget, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return linkTarget{}, &os.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK && d.Trusted() {
		return linkTarget{}, errNotLink
	}
	// In an untrusted directory a name that was a link a moment ago is
	// being swapped: refused either way.
	if !d.Trusted() || st.Uid != 0 {
		return linkTarget{}, &LinkError{Path: d.join(name), Kind: "symbolic link", Dir: d.path}
	}
	if *links++; *links > maxLinks {
		return linkTarget{}, &os.PathError{Op: "open", Path: d.join(name), Err: unix.ELOOP}
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(d.fd, name, buf)
	if err != nil {
		return linkTarget{}, &os.PathError{Op: "readlink", Path: d.join(name), Err: err}
	}
	t := string(buf[:n])
	abs := strings.HasPrefix(t, "/")
	var comps []string
	for _, c := range strings.Split(t, "/") {
		switch c {
		case "", ".":
		case "..":
			// A root-owned relative link with "..": resolved lexically
			// against the directory's resolved path, from the root.
			full := filepath.Clean(filepath.Join(d.path, t))
			cs, err := components(full)
			return linkTarget{abs: true, comps: cs}, err
		default:
			comps = append(comps, c)
		}
	}
	return linkTarget{abs: abs, comps: comps}, nil
}

// Split opens path's parent directory and returns it with path's last
// name (the caller closes the Dir).
func (root *Dir) Split(path string) (*Dir, string, error) {
	dir, name := filepath.Split(filepath.Clean(path))
	if name == "" || name == "/" {
		return nil, "", fmt.Errorf("%s: no file name", path)
	}
	d, err := root.OpenDir(dir)
	if err != nil {
		return nil, "", err
	}
	return d, name, nil
}

// File is an open file or directory (not a link).
type File struct {
	*os.File
	Info Info
	Path string
}

// Lstat reports name in d without following it (a link is reported as a
// link); os.ErrNotExist when it is absent.
func (d *Dir) Lstat(name string) (Info, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Info{}, &os.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	return infoOf(&st), nil
}

// Open opens name in d for reading (and fchmod/fchown): never a link, never
// across a mount point inside an untrusted directory; a FIFO does not
// block (O_NONBLOCK). A root-owned link in a trusted directory is
// followed (through the root it was opened beneath).
func (root *Dir) Open(path string) (*File, error) { return root.open(path, new(int)) }

func (root *Dir) open(path string, links *int) (*File, error) {
	d, name, err := root.Split(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.openFile(root, name, links)
}

// OpenFile opens name in d (see Open); root resolves a trusted link.
func (d *Dir) OpenFile(root *Dir, name string) (*File, error) {
	return d.openFile(root, name, new(int))
}

func (d *Dir) openFile(root *Dir, name string, links *int) (*File, error) {
	fd, err := d.openat2(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err == unix.ELOOP {
		target, lerr := d.trustedLink(name, links)
		if lerr != nil {
			if lerr == errNotLink {
				return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
			}
			return nil, lerr
		}
		p := "/" + strings.Join(target.comps, "/")
		if !target.abs {
			p = filepath.Join(d.path, p)
		}
		return root.open(p, links)
	}
	if err != nil {
		var le *LinkError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &File{File: os.NewFile(uintptr(fd), d.join(name)), Info: infoOf(&st), Path: d.join(name)}, nil
}

// ReadFile reads a regular file, at most limit bytes (larger is an error).
func (root *Dir) ReadFile(path string, limit int64) ([]byte, Info, error) {
	f, err := root.Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer f.Close()
	data, err := f.ReadAll(limit)
	return data, f.Info, err
}

// ReadAll reads the open regular file, at most limit bytes.
func (f *File) ReadAll(limit int64) ([]byte, error) {
	if !f.Info.IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file", f.Path, f.Info.Type())
	}
	data, err := io.ReadAll(io.LimitReader(f.File, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Path, limit)
	}
	return data, nil
}

// Chmod sets the permission bits through the descriptor.
func (f *File) Chmod(mode os.FileMode) error {
	if err := unix.Fchmod(int(f.Fd()), uint32(mode.Perm())); err != nil {
		return &os.PathError{Op: "fchmod", Path: f.Path, Err: err}
	}
	f.Info.Mode = f.Info.Mode&^0o7777 | uint32(mode.Perm())
	return nil
}

// Chown sets owner and group through the descriptor (-1 keeps one).
func (f *File) Chown(uid, gid int) error {
	if err := unix.Fchown(int(f.Fd()), uid, gid); err != nil {
		return &os.PathError{Op: "fchown", Path: f.Path, Err: err}
	}
	if uid >= 0 {
		f.Info.UID = uid
	}
	if gid >= 0 {
		f.Info.GID = gid
	}
	return nil
}

// AsDir turns an open directory into a Dir (the File stays the caller's).
func (f *File) AsDir() (*Dir, error) {
	if !f.Info.IsDir() {
		return nil, fmt.Errorf("%s is a %s, not a directory", f.Path, f.Info.Type())
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Dir{fd: fd, path: f.Path, info: f.Info}, nil
}

// Mkdir creates the directory name in d with mode and owner, set through
// its own descriptor (the umask does not apply); it must not exist yet.
func (d *Dir) Mkdir(name string, mode os.FileMode, uid, gid int) (*Dir, error) {
	if err := unix.Mkdirat(d.fd, name, 0o700); err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: d.join(name), Err: err}
	}
	fd, err := d.openat2(name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	nd := &Dir{fd: fd, path: d.join(name)}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		nd.Close()
		return nil, err
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		nd.Close()
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		nd.Close()
		return nil, err
	}
	nd.info = infoOf(&st)
	return nd, nil
}

// TempMarker is in the name of every temporary file safefs creates
// (".NAME.sshdoctor-RANDOM"), so a run that was killed can be cleaned up.
const TempMarker = ".sshdoctor-"

// IsTemp reports whether a directory entry name is one of safefs's
// temporary files.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, TempMarker)
	if !strings.HasPrefix(name, ".") || i < 0 {
		return false
	}
	switch suffix := name[i+len(TempMarker):]; suffix {
	case "candidate", "set":
		return true
	default:
		_, err := hex.DecodeString(suffix)
		return len(suffix) == 12 && err == nil
	}
}

// WriteFile replaces name in d with data, atomically: a temporary file in
// the same directory (O_EXCL, never through a link), mode and owner set
// on its descriptor, fsync, renameat over name, fsync of the directory.
// mode 0 and uid/gid < 0 keep the existing file's; a file that exists
// but is not regular (a link, a directory) is refused. The existing
// file's SELinux label is kept.
func (d *Dir) WriteFile(name string, data []byte, mode os.FileMode, uid, gid int) error {
	var label []byte
	cur, err := d.Lstat(name)
	switch {
	case err == nil && !cur.IsRegular():
		return fmt.Errorf("%s is a %s, not a regular file: not replacing it", d.join(name), cur.Type())
	case err == nil:
		if mode == 0 {
			mode = cur.Perm()
		}
		if uid < 0 {
			uid = cur.UID
		}
		if gid < 0 {
			gid = cur.GID
		}
		label = d.label(name)
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if mode == 0 {
		mode = 0o644
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + name + TempMarker + hex.EncodeToString(rnd[:])
	if len(tmp) > 255 {
		tmp = "." + TempMarker + hex.EncodeToString(rnd[:])
	}
	fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: d.join(tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(tmp))
	done := false
	defer func() {
		if !done {
			_ = unix.Unlinkat(d.fd, tmp, 0)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = unix.Fchmod(fd, uint32(mode.Perm()))
	}
	if err == nil && (uid >= 0 || gid >= 0) {
		err = unix.Fchown(fd, uid, gid)
	}
	if err == nil && len(label) > 0 {
		_ = unix.Fsetxattr(fd, "security.selinux", label, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", d.join(name), err)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, name); err != nil {
		return &os.PathError{Op: "rename", Path: d.join(name), Err: err}
	}
	done = true
	_ = unix.Fsync(d.fd)
	return nil
}

// label reads name's SELinux label through a descriptor ("" without one).
func (d *Dir) label(name string) []byte {
	fd, err := d.openat2(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	n, err := unix.Fgetxattr(fd, "security.selinux", buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}

// Remove deletes name from d (an empty directory too) if it is still the
// object want describes (nil: whatever it is, if it is not a directory
// with entries). Absent is not an error.
func (d *Dir) Remove(name string, want *Info) error {
	cur, err := d.Lstat(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if want != nil && !cur.SameObject(*want) {
		return fmt.Errorf("%s is no longer the %s sshdoctor left there (now a %s, inode %d): not removing it", d.join(name), want.Type(), cur.Type(), cur.Ino)
	}
	flags := 0
	if cur.IsDir() {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(d.fd, name, flags); err != nil {
		return &os.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	_ = unix.Fsync(d.fd)
	return nil
}

// Entries lists d's entry names.
func (d *Dir) Entries() ([]string, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	return f.Readdirnames(-1)
}

// Sync flushes the directory.
func (d *Dir) Sync() error { return unix.Fsync(d.fd) }

// Rename renames old to new inside d (both single names).
func (d *Dir) Rename(oldName, newName string) error {
	if err := unix.Renameat(d.fd, oldName, d.fd, newName); err != nil {
		return &os.PathError{Op: "rename", Path: d.join(oldName), Err: err}
	}
	return unix.Fsync(d.fd)
}

// RemoveAll deletes name from d with everything under it, through
// descriptors: links inside are removed, never followed; a mount point
// inside an untrusted directory is not entered (an error).
func (d *Dir) RemoveAll(name string) error {
	cur, err := d.Lstat(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.IsDir() {
		fd, err := d.openat2(name, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		sub := &Dir{fd: fd, path: d.join(name), info: cur}
		names, err := sub.Entries()
		if err == nil {
			for _, n := range names {
				if err = sub.RemoveAll(n); err != nil {
					break
				}
			}
		}
		sub.Close()
		if err != nil {
			return err
		}
	}
	return d.Remove(name, &cur)
}
