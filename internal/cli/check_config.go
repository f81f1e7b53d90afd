package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// optionIs reports whether -o sets key (case-insensitive) to value; the
// first occurrence wins, as in ssh.
func optionIs(opts []string, key, value string) bool {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, _ = strings.Cut(o, " ")
		}
		if strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.EqualFold(strings.TrimSpace(v), value)
		}
	}
	return false
}

// agentSocket applies IdentityAgent: "none" disables the agent, a path or
// $VAR names one, default is SSH_AUTH_SOCK.
func agentSocket(s *sshconfig.Settings) string {
	switch a := s.IdentityAgent; {
	case a == "none":
		return ""
	case a == "" || a == "SSH_AUTH_SOCK" || a == "$SSH_AUTH_SOCK":
		return os.Getenv("SSH_AUTH_SOCK")
	case strings.HasPrefix(a, "$"):
		return os.Getenv(a[1:])
	default:
		p, _ := expandPath(a)
		return p
	}
}

func expandPath(p string) (string, error) {
	if strings.HasPrefix(p, "~/") || p == "~" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return filepath.Abs(p)
}

// sshQuery asks the user's ssh which algorithms it implements (`ssh -Q`),
// so a suggested -o fix names one it will accept. Results are cached.
func sshQuery(ctx context.Context, sshPath string) func(kind string) []string {
	if sshPath == "" {
		sshPath = "ssh"
	}
	cache := map[string][]string{}
	return func(kind string) []string {
		if v, ok := cache[kind]; ok {
			return v
		}
		out, err := exec.CommandContext(ctx, sshPath, "-Q", kind).Output()
		if err != nil {
			cache[kind] = nil
			return nil
		}
		list := strings.Fields(string(out))
		cache[kind] = list
		return list
	}
}
