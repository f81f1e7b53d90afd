package guest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/safefs"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

const mallory = 54321 // owns the test home; no account is needed

// backupWorld is a test root with a user's home whose ~/.ssh a run made
// 0700 (from 0777) and recorded in a sealed backup set.
func backupWorld(t *testing.T) (root, set string) {
	t.Helper()
	sshdtest.NeedRoot(t)
	root = t.TempDir()
	os.Chmod(root, 0o755)
	ssh := filepath.Join(root, "home", "m", ".ssh")
	if err := os.MkdirAll(ssh, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(ssh), ssh} {
		os.Chmod(d, 0o777)
		os.Chown(d, mallory, mallory)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "shadow"), []byte("root:x\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := NewBackup(root, "test")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := safefs.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := fixPath(b, fs, "/home/m/.ssh", true, 0o700, mallory, mallory); err != nil {
		t.Fatal(err)
	}
	if err := b.Save("/home/m/.ssh/authorized_keys"); err != nil {
		t.Fatal(err)
	}
	d, err := fs.OpenDir("/home/m/.ssh")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("authorized_keys", []byte("ssh-ed25519 AAAA\n"), 0o600, mallory, mallory); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	return root, b.Dir()
}

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

// TestRestoreRefusesPlantedLinks is the attack: after a repair
// recorded ~/.ssh, the user replaces it with a link (to /etc/shadow, to
// another directory) or with another directory; restore restores nothing
// and names the path.
func TestRestoreRefusesPlantedLinks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(root, ssh string) error
	}{
		{"link-to-shadow", func(root, ssh string) error {
			os.RemoveAll(ssh)
			return os.Symlink(filepath.Join(root, "etc", "shadow"), ssh)
		}},
		{"link-to-etc", func(root, ssh string) error {
			os.RemoveAll(ssh)
			return os.Symlink(filepath.Join(root, "etc"), ssh)
		}},
		{"another-directory", func(root, ssh string) error {
			os.RemoveAll(ssh)
			if err := os.Mkdir(ssh, 0o777); err != nil {
				return err
			}
			return os.Chown(ssh, mallory, mallory)
		}},
		{"key-file-link", func(root, ssh string) error {
			os.Remove(filepath.Join(ssh, "authorized_keys"))
			return os.Symlink(filepath.Join(root, "etc", "shadow"), filepath.Join(ssh, "authorized_keys"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, set := backupWorld(t)
			ssh := filepath.Join(root, "home", "m", ".ssh")
			if err := tc.plant(root, ssh); err != nil {
				t.Fatal(err)
			}
			shadow := filepath.Join(root, "etc", "shadow")
			err := Restore(root, set)
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, "/home/m/.ssh") {
				t.Fatalf("restore: %v", err)
			}
			if m := modeOf(t, shadow); m.Perm() != 0o640 {
				t.Fatalf("shadow's mode became %v", m)
			}
			if data, _ := os.ReadFile(shadow); string(data) != "root:x\n" {
				t.Fatalf("shadow was written: %q", data)
			}
			if es, _ := os.ReadDir(filepath.Join(root, "etc")); len(es) != 1 {
				t.Fatalf("/etc got new entries: %v", es)
			}
		})
	}
}

// TestRestoreUnchanged: when nobody touched the paths, restore puts the
// modes back and removes what the run created.
func TestRestoreUnchanged(t *testing.T) {
	root, set := backupWorld(t)
	ssh := filepath.Join(root, "home", "m", ".ssh")
	if m := modeOf(t, ssh); m.Perm() != 0o700 {
		t.Fatalf("the run left %v", m)
	}
	if err := Restore(root, set); err != nil {
		t.Fatal(err)
	}
	if m := modeOf(t, ssh); m.Perm() != 0o777 {
		t.Fatalf("restored mode %v", m)
	}
	if _, err := os.Lstat(filepath.Join(ssh, "authorized_keys")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the created key file is still there: %v", err)
	}
}

// TestLockSweepsTemps: a run killed between creating its temporary file
// and renaming it leaves the file; the next run's lock removes it, and
// leaves a user's look-alike file alone.
func TestLockSweepsTemps(t *testing.T) {
	sshdtest.NeedRoot(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	etcSSH := filepath.Join(root, "etc", "ssh")
	if err := os.MkdirAll(etcSSH, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(etcSSH, ".sshd_config"+safefs.TempMarker+"0a1b2c3d4e5f")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(root, "home", "m", ".ssh")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("m:x:54321:54321::/home/m:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	userTemp := filepath.Join(home, ".authorized_keys"+safefs.TempMarker+"ffffffabcdef")
	rootTemp := filepath.Join(home, ".authorized_keys"+safefs.TempMarker+"000000000000")
	lookAlike := filepath.Join(home, ".notes"+safefs.TempMarker+"mine")
	halfSet := filepath.Join(root, BackupDir, ".20260101T000001.000000000Z"+safefs.TempMarker+"set")
	if err := os.MkdirAll(halfSet, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{userTemp, rootTemp, lookAlike} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(userTemp, mallory, mallory)
	os.Chown(lookAlike, mallory, mallory)
	set := filepath.Join(root, BackupDir, "20260101T000000.000000000Z")
	if err := os.MkdirAll(set, 0o700); err != nil {
		t.Fatal(err)
	}
	manifestTemp := filepath.Join(set, ".manifest.json"+safefs.TempMarker+"123456abcdef")
	if err := os.WriteFile(manifestTemp, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	unlock, err := Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for p, want := range map[string]bool{stale: false, rootTemp: false, manifestTemp: false, userTemp: false, halfSet: false, lookAlike: true} {
		if _, err := os.Lstat(p); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", p, err == nil, want)
		}
	}
	// A second run while the first holds the lock is refused, and says who.
	_, err = Lock(root)
	var be *BusyError
	if !errors.As(err, &be) || be.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
}
