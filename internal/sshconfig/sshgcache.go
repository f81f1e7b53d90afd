package sshconfig

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The ssh -G cache.
//
// `ssh -G` is a second process that costs about as much as ssh's own
// start-up, so a check against a closed port took twice as long as ssh.
// Its answer depends only on its inputs: the ssh binary, the arguments,
// the environment, the user and the configuration files it reads. The
// cache keeps the answer under a hash of the inputs and, with it, the
// identity of every file it read (device, inode, size, mtime, ctime —
// ctime cannot be set back) and of every directory an Include glob
// lists. Any change to any of them is a miss, and ssh -G runs again.
//
// Inputs that are not files make the answer uncacheable: `Match exec`
// (runs a command), `Match localnetwork` (the interfaces),
// `Match canonical`/`final` and CanonicalizeHostname (DNS), and Include
// paths with tokens or globs in their directories. SSHDOCTOR_CACHE=off
// turns the cache off.
//
// Entries live in $XDG_CACHE_HOME/sshdoctor/ssh-G (else ~/.cache/…), are
// read only from a directory and files owned by the effective user and
// writable by nobody else, never through a symbolic link.

const (
	cacheVersion    = 1
	cacheMaxEntries = 512 // pruned to half when exceeded
)

// fileID is what identifies one state of a file; Absent files count too
// (creating one changes the answer).
type fileID struct {
	Path   string `json:"path"`
	Absent bool   `json:"absent,omitempty"`
	Dev    uint64 `json:"dev,omitempty"`
	Ino    uint64 `json:"ino,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Mtime  int64  `json:"mtime,omitempty"`
	Ctime  int64  `json:"ctime,omitempty"`
}

type cacheEntry struct {
	Version int      `json:"version"`
	Deps    []fileID `json:"deps"`
	Output  string   `json:"output"`
}

func statID(path string) fileID {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{Path: path, Absent: true}
	}
	return fileID{Path: path, Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// cacheDir is the directory of entries, or "" when the cache is off.
func cacheDir() string {
	switch strings.ToLower(os.Getenv("SSHDOCTOR_CACHE")) {
	case "off", "0", "no", "false":
		return ""
	}
	base, err := os.UserCacheDir()
	if err != nil || !filepath.IsAbs(base) {
		return ""
	}
	return filepath.Join(base, "sshdoctor", "ssh-G")
}

// cacheKey hashes everything ssh -G's answer depends on besides files.
func cacheKey(sshPath string, args []string) string {
	h := sha256.New()
	wd, _ := os.Getwd()
	env := os.Environ()
	slices.Sort(env)
	parts := append([]string{"v" + strconv.Itoa(cacheVersion), sshPath, wd,
		strconv.Itoa(os.Getuid()), strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getgid())}, args...)
	parts = append(parts, "\x00env")
	parts = append(parts, env...)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// optionsCacheable: no -o option makes ssh -G's answer depend on more
// than files (CanonicalizeHostname resolves names).
func optionsCacheable(opts []string) bool {
	for _, o := range opts {
		if key, args, err := splitLine(o); err != nil || key == "canonicalizehostname" && (len(args) == 0 || !strings.EqualFold(args[0], "no")) {
			return false
		}
	}
	return true
}

// configDeps lists the files ssh -G reads for q (the ssh binary, the
// password database, the config files and their Includes) and whether the
// files allow its answer to be cached. It reads them: it runs only on a
// miss, before ssh -G does.
func configDeps(sshPath string, q Query) ([]fileID, bool) {
	w := depWalker{home: homeDir(), seen: map[string]bool{}, ok: true}
	w.add(statID(sshPath))
	w.add(statID("/etc/passwd"))
	switch q.ConfigFile {
	case "none":
	case "":
		// ssh reads ~/.ssh/config from the password database's home;
		// $HOME may differ (sudo): both are dependencies.
		homes := []string{w.home}
		if u, err := user.Current(); err == nil && u.HomeDir != w.home {
			homes = append(homes, u.HomeDir)
		}
		for _, h := range homes {
			w.home = h
			w.file(filepath.Join(h, ".ssh", "config"), false, 0)
		}
		w.file(systemConfig, true, 0)
	default:
		p := q.ConfigFile
		if !filepath.IsAbs(p) {
			wd, err := os.Getwd()
			if err != nil {
				return nil, false
			}
			p = filepath.Join(wd, p)
		}
		w.file(p, false, 0)
	}
	return w.deps, w.ok
}

type depWalker struct {
	home string
	deps []fileID
	seen map[string]bool
	ok   bool
}

func (w *depWalker) add(id fileID) {
	if !w.seen[id.Path] {
		w.seen[id.Path] = true
		w.deps = append(w.deps, id)
	}
}

func (w *depWalker) file(path string, sys bool, depth int) {
	if !w.ok || depth >= maxIncludeDepth {
		w.ok = false
		return
	}
	w.add(statID(path))
	data, err := os.ReadFile(path)
	if err != nil {
		return // absent or unreadable: its identity is recorded
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, args, err := splitLine(line)
		if err != nil {
			w.ok = false // ssh -G fails on it; nothing to cache
			return
		}
		switch key {
		case "match":
			for _, a := range args {
				switch strings.ToLower(a) {
				case "exec", "!exec", "localnetwork", "!localnetwork", "canonical", "!canonical", "final", "!final":
					w.ok = false
					return
				}
			}
		case "canonicalizehostname":
			if len(args) == 0 || !strings.EqualFold(args[0], "no") {
				w.ok = false
				return
			}
		case "include":
			for _, a := range args {
				if strings.ContainsAny(a, "%$") {
					w.ok = false
					return
				}
				a = includePattern(a, w.home, sys)
				dir := filepath.Dir(a)
				if strings.ContainsAny(dir, "*?[") {
					w.ok = false
					return
				}
				w.add(statID(dir)) // a file added or removed changes it
				matches, err := filepath.Glob(a)
				if err != nil {
					w.ok = false
					return
				}
				for _, m := range matches {
					w.file(m, sys, depth+1)
					if !w.ok {
						return
					}
				}
			}
		}
	}
}

// cacheGet returns ssh -G's cached output for key when every file it
// depended on is as it was: each is stat'ed again, none is read (a file
// changed, or added to an Include directory, changes its identity or its
// directory's).
func cacheGet(dir, key string) (string, bool) {
	if dir == "" || !safeDir(dir) {
		return "", false
	}
	fd, err := unix.Open(filepath.Join(dir, key+".json"), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	f := os.NewFile(uintptr(fd), key)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 || st.Size > 1<<20 {
		return "", false
	}
	var e cacheEntry
	if json.NewDecoder(f).Decode(&e) != nil || e.Version != cacheVersion || len(e.Deps) == 0 {
		return "", false
	}
	for _, d := range e.Deps {
		if statID(d.Path) != d {
			return "", false
		}
	}
	return e.Output, true
}

// cachePut stores output; failures are silent (the cache is an
// optimisation, never a reason to fail a check).
func cachePut(dir, key string, deps []fileID, output string) {
	if dir == "" {
		return
	}
	// The nearest existing directory must be safe before anything is
	// created below it: MkdirAll follows links.
	existing := dir
	for {
		if _, err := os.Lstat(existing); err == nil || existing == filepath.Dir(existing) {
			break
		}
		existing = filepath.Dir(existing)
	}
	if !safeDir(existing) {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil || !safeDir(dir) {
		return
	}
	b, err := json.Marshal(cacheEntry{Version: cacheVersion, Deps: deps, Output: output})
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(dir, key+".json")) != nil {
		os.Remove(tmp.Name())
		return
	}
	prune(dir)
}

// safeDir: dir and every directory above it are real directories (no
// link) that only the effective user or root can change (a sticky
// directory, like /tmp, counts as safe for what is below it). Otherwise
// someone else could swap a path component between the check and the
// write, and sshdoctor — perhaps as root — would write where they chose.
func safeDir(dir string) bool {
	uid := uint32(os.Geteuid())
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if unix.Lstat(d, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return false
		}
		if st.Uid != uid && st.Uid != 0 {
			return false
		}
		if st.Mode&0o022 != 0 && (st.Mode&unix.S_ISVTX == 0 || d == filepath.Clean(dir)) {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

// prune keeps the newest half when the cache holds too many entries.
func prune(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) <= cacheMaxEntries {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".json") {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(b.mod, a.mod) })
	for _, a := range all[min(len(all), cacheMaxEntries/2):] {
		if err := os.Remove(filepath.Join(dir, a.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}
