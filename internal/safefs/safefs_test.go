package safefs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

const userUID = 54321 // owns the "home" in these tests; no such account is needed

// world is a root (0755, root's) with a user's home and a secret of root's.
type world struct {
	dir, home, secret string
	root              *Dir
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sshdtest.NeedRoot(t)
	w := &world{dir: t.TempDir()}
	if err := os.Chmod(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.home = filepath.Join(w.dir, "home", "u")
	w.secret = filepath.Join(w.dir, "shadow")
	for _, d := range []string{w.home, filepath.Join(w.home, ".ssh")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(w.secret, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.home, ".ssh", "authorized_keys"), []byte("ssh-ed25519 AAAA\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{w.home, filepath.Join(w.home, ".ssh"), filepath.Join(w.home, ".ssh", "authorized_keys")} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, userUID, userUID); err != nil {
			t.Fatal(err)
		}
	}
	root, err := OpenRoot(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	w.root = root
	return w
}

// in maps a path of the world to the path beneath its root.
func (w *world) in(p string) string { return "/" + must(filepath.Rel(w.dir, p)) }

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func (w *world) secretState(t *testing.T) (os.FileMode, string) {
	t.Helper()
	st, err := os.Lstat(w.secret)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(w.secret)
	return st.Mode(), string(data)
}

// TestRaceSwapFileWithLink: the owner of ~/.ssh swaps authorized_keys with
// a link to root's secret as fast as it can (renameat2 RENAME_EXCHANGE)
// while root opens the file and fixes its mode and owner through the
// descriptor, thousands of times: the secret never changes, and both
// outcomes (a file opened, a link refused) occur, so the race did happen.
func TestRaceSwapFileWithLink(t *testing.T) {
	w := newWorld(t)
	ssh := filepath.Join(w.home, ".ssh")
	link := filepath.Join(ssh, "swap")
	if err := os.Symlink(w.secret, link); err != nil {
		t.Fatal(err)
	}
	swapper(t, filepath.Join(ssh, "authorized_keys"), link)

	key := w.in(filepath.Join(ssh, "authorized_keys"))
	opened, refused := 0, 0
	for i := 0; i < 20000; i++ {
		f, err := w.root.Open(key)
		if err != nil {
			if !errors.Is(err, ErrLink) {
				t.Fatalf("open: %v", err)
			}
			refused++
			continue
		}
		opened++
		if f.Info.UID == userUID && f.Info.Nlink == 1 {
			_ = f.Chmod(0o600)
			_ = f.Chmod(0o644)
		}
		f.Close()
	}
	mode, data := w.secretState(t)
	if mode.Perm() != 0o600 || data != "root:$6$secret\n" {
		t.Fatalf("the secret changed: mode %v", mode)
	}
	if opened == 0 || refused == 0 {
		t.Fatalf("the race never happened (opened %d, refused %d)", opened, refused)
	}
	t.Logf("opened %d, refused %d links", opened, refused)
}

// TestRaceSwapDirWithLink: the user swaps ~/.ssh itself with a link to a
// root directory while root writes authorized_keys into it: nothing ever
// lands in root's directory.
func TestRaceSwapDirWithLink(t *testing.T) {
	w := newWorld(t)
	rootSSH := filepath.Join(w.dir, "rootssh")
	if err := os.Mkdir(rootSSH, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(w.home, "swap")
	if err := os.Symlink(rootSSH, link); err != nil {
		t.Fatal(err)
	}
	swapper(t, filepath.Join(w.home, ".ssh"), link)
	for i := 0; i < 5000; i++ {
		d, err := w.root.OpenDir(w.in(filepath.Join(w.home, ".ssh")))
		if err != nil {
			if !errors.Is(err, ErrLink) {
				t.Fatalf("open dir: %v", err)
			}
			continue
		}
		if err := d.WriteFile("authorized_keys", []byte("ssh-ed25519 BBBB\n"), 0o600, userUID, userUID); err != nil {
			t.Fatal(err)
		}
		d.Close()
	}
	if es, _ := os.ReadDir(rootSSH); len(es) != 0 {
		t.Fatalf("root's directory got %d entries", len(es))
	}
}

func TestLinksAndMounts(t *testing.T) {
	w := newWorld(t)
	// A user's link is refused, by name.
	if err := os.Symlink(w.secret, filepath.Join(w.home, "evil")); err != nil {
		t.Fatal(err)
	}
	_, err := w.root.Open(w.in(filepath.Join(w.home, "evil")))
	var le *LinkError
	if !errors.As(err, &le) || le.Kind != "symbolic link" {
		t.Fatalf("user's link: %v", err)
	}
	// A root-owned link in a root-owned directory is followed.
	etc := filepath.Join(w.dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shadow", filepath.Join(etc, "shadow-link")); err != nil {
		t.Fatal(err)
	}
	data, _, err := w.root.ReadFile("/etc/shadow-link", 1<<10)
	if err != nil || string(data) != "root:$6$secret\n" {
		t.Fatalf("root's link: %q %v", data, err)
	}
	// A root-owned link in a user's directory is refused too: the user
	// can rename it there.
	if err := os.Symlink(w.secret, filepath.Join(w.home, ".ssh", "rootlink")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.root.Open(w.in(filepath.Join(w.home, ".ssh", "rootlink"))); !errors.Is(err, ErrLink) {
		t.Fatalf("root's link in a user's dir: %v", err)
	}
	// ".." is never taken; relative paths are refused.
	if _, err := w.root.OpenDir("/home/u/../../etc"); err == nil {
		t.Fatal(`".." was followed`)
	}
	// A FIFO does not block and is not a regular file.
	fifo := filepath.Join(w.home, "fifo")
	if err := unix.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.root.ReadFile(w.in(fifo), 1<<10); err == nil {
		t.Fatal("a FIFO was read as a file")
	}
	// WriteFile refuses to replace a link or a directory.
	d, err := w.root.OpenDir(w.in(filepath.Join(w.home, ".ssh")))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile("rootlink", []byte("x"), 0o600, -1, -1); err == nil {
		t.Fatal("a link was replaced")
	}
	if err := d.WriteFile("authorized_keys", []byte("new\n"), 0, -1, -1); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(w.home, ".ssh", "authorized_keys"))
	if st.Mode().Perm() != 0o777 || st.Sys().(*syscall.Stat_t).Uid != userUID {
		t.Fatalf("owner and mode not kept: %v", st.Mode())
	}
	es, _ := os.ReadDir(filepath.Join(w.home, ".ssh"))
	for _, e := range es {
		if IsTemp(e.Name()) {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

// TestMountPointInUserDir: a bind mount inside a user's home is not
// crossed (run in a private mount namespace, so the host sees nothing).
func TestMountPointInUserDir(t *testing.T) {
	if os.Getenv("SAFEFS_MOUNT_NS") == "" {
		sshdtest.NeedRoot(t)
		cmd := exec.Command("unshare", "-m", "--propagation", "private", os.Args[0], "-test.run", "^TestMountPointInUserDir$", "-test.v")
		cmd.Env = append(os.Environ(), "SAFEFS_MOUNT_NS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	w := newWorld(t)
	target := filepath.Join(w.dir, "sudoers.d")
	if err := os.Mkdir(target, 0o750); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(w.home, "mnt")
	bindMount(t, target, mnt, 0o777)
	_, err := w.root.OpenDir(w.in(mnt))
	var le *LinkError
	if !errors.As(err, &le) || le.Kind != "mount point" {
		t.Fatalf("bind mount in a user's home: %v", err)
	}
	if _, err := w.root.Open(w.in(mnt)); !errors.Is(err, ErrLink) {
		t.Fatalf("bind mount opened as a file: %v", err)
	}
	// In a root-owned directory a mount point is crossed.
	bindMount(t, target, filepath.Join(w.dir, "rootmnt"), 0o755)
	d, err := w.root.OpenDir("/rootmnt")
	if err != nil {
		t.Fatalf("mount in a root directory: %v", err)
	}
	d.Close()
}

// bindMount makes dir (mode) and bind-mounts src on it until the test ends
// (inside the test's private mount namespace).
func bindMount(t *testing.T, src, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
}

// swapper exchanges a and b (renameat2 RENAME_EXCHANGE) in a tight loop
// until the test ends, as a user racing root would.
func swapper(t *testing.T, a, b string) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		}
	}()
	t.Cleanup(func() { stop.Store(true); <-done })
}
