package guest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Label is a path's SELinux context, read because SELinux enforces.
type Label struct {
	User    string `json:"user"`
	Path    string `json:"path"`
	Context string `json:"context"` // e.g. unconfined_u:object_r:ssh_home_t:s0
	Type    string `json:"type"`    // the context's type: ssh_home_t
}

// labelReader reads a path's security.selinux attribute (injectable: this
// cannot be enforced in the lab or on the test machine).
type labelReader func(path string) (string, error)

// lgetxattrLabel reads the label without following a symlink.
func lgetxattrLabel(path string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, "security.selinux", buf)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(buf[:n], "\x00")), nil
}

// selinuxEnforcing: /sys/fs/selinux/enforce under root reads "1".
func selinuxEnforcing(root string) bool {
	data, err := os.ReadFile(filepath.Join(root, "/sys/fs/selinux/enforce"))
	return err == nil && strings.TrimSpace(string(data)) == "1"
}

// sshLabels reads the labels of each user's ~/.ssh and of the authorized
// keys files in the home (sshd_t may read only ssh_home_t there). root
// prefixes every path (a test's directory; "/" on a VM).
func sshLabels(root string, users []UserFacts, read labelReader) []Label {
	var out []Label
	for _, u := range users {
		if !u.Exists || u.Home == "" {
			continue
		}
		paths := []string{filepath.Join(u.Home, ".ssh")}
		for _, kf := range u.KeyFiles {
			if kf.Found && strings.HasPrefix(kf.Path, u.Home+"/") && kf.Path != paths[0] {
				paths = append(paths, kf.Path)
			}
		}
		for _, p := range paths {
			ctx, err := read(filepath.Join(root, p))
			if err != nil {
				continue
			}
			l := Label{User: u.Name, Path: p, Context: ctx}
			if f := strings.Split(ctx, ":"); len(f) >= 3 {
				l.Type = f[2]
			}
			out = append(out, l)
		}
	}
	return out
}
