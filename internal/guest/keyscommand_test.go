package guest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// TestKeysCommand runs AuthorizedKeysCommand as sshd would: the keys it
// prints count (and match a given key), one that needs the offered key is
// "unknown", and one sshd would refuse to run provides nothing.
func TestKeysCommand(t *testing.T) {
	sshdtest.NeedRoot(t)
	ks := genKeys(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ks[0].pub)))
	dir := t.TempDir()
	prog := filepath.Join(dir, "keys")
	script := "#!/bin/sh\n[ \"$1\" = alice ] && [ \"$2\" = /home/alice ] && echo '" + line + "'\necho 'garbage'\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	u := UserFacts{Name: "alice", UID: 4242, Home: "/home/alice", Exists: true}
	kf := runKeysCommand(context.Background(), prog+" %u %h", "root", u)
	if !kf.Found || len(kf.Keys) != 1 || kf.Bad != 1 || !kf.Command {
		t.Fatalf("keys from the command: %+v", kf)
	}
	u.KeyFiles = []KeyFile{kf}
	if !hasAnyKey(u, []string{ssh.FingerprintSHA256(ks[0].pub)}) || hasAnyKey(u, []string{ssh.FingerprintSHA256(ks[1].pub)}) {
		t.Fatal("the command's key is not matched (or another key is)")
	}
	if kf := runKeysCommand(context.Background(), prog+" %u %k", "root", u); !kf.Found || kf.NotRead == "" {
		t.Fatalf("a command needing the offered key: %+v", kf)
	}
	if err := os.Chmod(prog, 0o775); err != nil {
		t.Fatal(err)
	}
	if kf := runKeysCommand(context.Background(), prog+" %u", "root", u); kf.Found || len(kf.Keys) != 0 {
		t.Fatalf("a group-writable command sshd would refuse: %+v", kf)
	}
	if kf := runKeysCommand(context.Background(), prog+" %u", "no-such-user-x", u); kf.Found {
		t.Fatalf("a missing AuthorizedKeysCommandUser: %+v", kf)
	}
}
