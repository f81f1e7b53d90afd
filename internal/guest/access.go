package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// sshd opens a user's authorized keys files as that user
// (auth2-pubkeyfile.c: temporarily_use_uid before auth_openkeyfile), so
// a file root can read but the user cannot — root-owned and 0600, a
// ~/.ssh of mode 000, a home of root's with mode 0700 — holds no key for
// sshd, silently ("Could not open user 'U' authorized keys …: Permission
// denied" at the debug level only). Access is judged from the mode bits
// with the user's uid, primary and supplementary groups, as the kernel
// does; ACLs are not read (a rare grant through one is not seen).

// pathStat is one component of a path, as lstat sees it.
type pathStat struct {
	path     string
	mode     uint32 // permission bits
	uid, gid int
	dir      bool
}

// inaccessible returns the components on the way to a key file that uid
// (with gids) cannot pass — search on each directory, read on the file —
// outermost first. comps run from the file up to "/".
func inaccessible(comps []pathStat, uid int, gids []int) []PathMode {
	if uid == 0 {
		return nil
	}
	var out []PathMode
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		bits := c.mode & 0o7
		switch {
		case c.uid == uid:
			bits = c.mode >> 6 & 0o7
		case slices.Contains(gids, c.gid):
			bits = c.mode >> 3 & 0o7
		}
		need, what := uint32(0o1), "cannot enter it"
		if !c.dir {
			need, what = 0o4, "cannot read it"
		}
		if bits&need == 0 {
			out = append(out, PathMode{Path: c.path, Mode: fmt.Sprintf("%04o", c.mode), UID: c.uid, GID: c.gid, Reason: what})
		}
	}
	return out
}

// keyFileAccess stats file and its parents up to "/" without following a
// final link (a link is judged elsewhere) and says what the user cannot
// pass.
func keyFileAccess(file string, u UserFacts, gids []int) []PathMode {
	var comps []pathStat
	for p := filepath.Clean(file); ; p = filepath.Dir(p) {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&os.ModeSymlink != 0 {
			return nil // a link or a race: no verdict
		}
		sys := st.Sys().(*syscall.Stat_t)
		comps = append(comps, pathStat{path: p, mode: uint32(st.Mode().Perm()), uid: int(sys.Uid), gid: int(sys.Gid), dir: st.IsDir()})
		if p == "/" {
			break
		}
	}
	return inaccessible(comps, u.UID, gids)
}

// userGIDs is the user's primary group and the groups /etc/group lists it in.
func userGIDs(u UserFacts) []int {
	gids := []int{u.GID}
	data, _ := os.ReadFile("/etc/group")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 4 || !slices.Contains(strings.Split(f[3], ","), u.Name) {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && !slices.Contains(gids, g) {
			gids = append(gids, g)
		}
	}
	return gids
}

// appendNewPaths appends the entries of add whose path is not in to yet.
func appendNewPaths(to, add []PathMode) []PathMode {
	for _, a := range add {
		if !slices.ContainsFunc(to, func(x PathMode) bool { return x.Path == a.Path }) {
			to = append(to, a)
		}
	}
	return to
}

// unreadableFile says whether the user cannot read file: it, or a
// directory on its way, is in u.Unreadable.
func unreadableFile(u UserFacts, file string) *PathMode {
	for i, p := range u.Unreadable {
		if p.Path == file || keyFileWithin(file, p.Path) {
			return &u.Unreadable[i]
		}
	}
	return nil
}
