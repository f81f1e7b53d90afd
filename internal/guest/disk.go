package guest

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DiskSpace is one file system sshd writes to, with the paths on it.
type DiskSpace struct {
	Paths       []string `json:"paths"` // the checked paths on this file system, e.g. ["/", "/var"]
	TotalBytes  uint64   `json:"total_bytes"`
	FreeBytes   uint64   `json:"free_bytes"` // available to unprivileged users (f_bavail)
	TotalInodes uint64   `json:"total_inodes"`
	FreeInodes  uint64   `json:"free_inodes"`
}

// diskPaths are where sshd and a login write: /var/log (lastlog, wtmp,
// auth.log), /run (pid file), /tmp (xauth, agent sockets), the homes.
var diskPaths = []string{"/", "/var", "/var/log", "/run", "/home", "/tmp"}

// diskSpaceWithin gives up after limit: a hung network file system (an
// NFS /home) must not hang the check.
func diskSpaceWithin(paths []string, limit time.Duration) []DiskSpace {
	ch := make(chan []DiskSpace, 1)
	go func() { ch <- diskSpace(paths) }()
	select {
	case d := <-ch:
		return d
	case <-time.After(limit):
		return nil
	}
}

// diskSpace statfs()es each path once per file system (st_dev), in order.
func diskSpace(paths []string) []DiskSpace {
	var out []DiskSpace
	byDev := map[uint64]int{}
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			continue
		}
		if i, ok := byDev[st.Dev]; ok {
			out[i].Paths = append(out[i].Paths, p)
			continue
		}
		var fs syscall.Statfs_t
		if err := syscall.Statfs(p, &fs); err != nil {
			continue
		}
		bs := uint64(fs.Bsize)
		if fs.Frsize > 0 {
			bs = uint64(fs.Frsize)
		}
		byDev[st.Dev] = len(out)
		out = append(out, DiskSpace{Paths: []string{p}, TotalBytes: fs.Blocks * bs, FreeBytes: fs.Bavail * bs, TotalInodes: fs.Files, FreeInodes: fs.Ffree})
	}
	return out
}

// Thresholds under which a file system counts as full: the smaller of 1%
// and an absolute floor, so a big disk is full below 10 MiB and a small
// tmpfs only when (nearly) nothing is left.
const (
	fullBytes  = 10 << 20
	fullInodes = 1000
)

// Full says whether d has (almost) no space or no inodes left.
func (d DiskSpace) Full() (bytes, inodes bool) {
	bytes = d.TotalBytes > 0 && d.FreeBytes < min(fullBytes, d.TotalBytes/100+1)
	inodes = d.TotalInodes > 0 && d.FreeInodes < min(fullInodes, d.TotalInodes/100+1)
	return bytes, inodes
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func (d DiskSpace) describe() string {
	return fmt.Sprintf("%v: %s free of %s, %d of %d inodes free", d.Paths, humanBytes(d.FreeBytes), humanBytes(d.TotalBytes), d.FreeInodes, d.TotalInodes)
}

// mountLabel names a file system by its first checked path.
func (d DiskSpace) mountLabel() string {
	if len(d.Paths) == 0 {
		return "?"
	}
	if len(d.Paths) == 1 {
		return d.Paths[0]
	}
	s := d.Paths[0] + " (also"
	for _, p := range d.Paths[1:] {
		s += " " + p
	}
	return s + ")"
}

// effect says what sshd and a login cannot write on this file system.
func (d DiskSpace) effect() string {
	var what []string
	has := func(ps ...string) bool {
		for _, p := range ps {
			if slices.Contains(d.Paths, p) {
				return true
			}
		}
		return false
	}
	if has("/run") {
		what = append(what, "its pid file (/run)")
	}
	if has("/var", "/var/log") {
		what = append(what, "lastlog/wtmp and its log (/var/log)")
	}
	if has("/tmp") {
		what = append(what, "xauth data and agent sockets (/tmp)")
	}
	if has("/home") {
		what = append(what, "files in the users' homes")
	}
	if len(what) == 0 {
		what = append(what, "files it needs")
	}
	if has("/run", "/") {
		return "sshd cannot write " + strings.Join(what, ", ") + ": it may fail to start, and logins fail or hang"
	}
	return "sshd cannot write " + strings.Join(what, ", ") + ": logins fail or hang"
}
