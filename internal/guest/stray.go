package guest

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// Keys put next to authorized_keys but not in a file sshd reads — a
// misspelt name (authorized_key, authorised_keys, authorized_keys.txt), or
// the .pub copied into ~/.ssh and never appended — are the user's meant
// key. StrayKey records one; a file whose name says "authorized" is taken
// as meant for login (repair authorizes its keys), a .pub only as a hint.
type StrayKey struct {
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint"`
	Key         string `json:"key"` // "TYPE BASE64"
	Meant       bool   `json:"meant,omitempty"`
}

// maxStrayFiles bounds the ~/.ssh entries read.
const maxStrayFiles = 32

// strayName says whether a file name in ~/.ssh may hold keys meant for
// login (meant), or a public key (.pub) copied there.
func strayName(name string) (consider, meant bool) {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "authori"):
		return true, true
	case strings.HasSuffix(l, ".pub"):
		return true, false
	}
	return false, false
}

// strayKeys reads the user's ~/.ssh for keys outside the files sshd reads:
// regular files of the user's (no link followed), at most 64 KiB each.
func strayKeys(u UserFacts) []StrayKey {
	if u.Home == "" {
		return nil
	}
	dir := filepath.Join(u.Home, ".ssh")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []StrayKey
	for i, e := range ents {
		if i >= maxStrayFiles {
			break
		}
		p := filepath.Join(dir, e.Name())
		consider, meant := strayName(e.Name())
		if !consider || !e.Type().IsRegular() || slices.ContainsFunc(u.KeyFiles, func(k KeyFile) bool { return k.Path == p }) {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() || int(st.Sys().(*syscall.Stat_t).Uid) != u.UID {
			f.Close()
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(f, 64<<10))
		f.Close()
		out = append(out, strayFrom(p, data, meant)...)
	}
	return out
}

// strayFrom reads the one-line keys of a stray file's content.
func strayFrom(path string, data []byte, meant bool) []StrayKey {
	var out []StrayKey
	for _, l := range strings.Split(string(data), "\n") {
		k, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(l)))
		if err != nil || len(opts) > 0 {
			continue // a line with options is never re-created without them
		}
		out = append(out, StrayKey{Path: path, Fingerprint: ssh.FingerprintSHA256(k), Key: keyText(k), Meant: meant})
	}
	return out
}
