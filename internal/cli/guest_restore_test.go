package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// guest restore works on the real / only: its document is tested through
// its builder, its flag without running it.
func TestGuestRestoreOutputFlag(t *testing.T) {
	root := NewRootCmd(&IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	c, _, err := root.Find([]string{"guest", "restore"})
	if err != nil || c.Name() != "restore" {
		t.Fatalf("find guest restore: %v", err)
	}
	if err := c.Flags().Set("output", "bogus"); err != nil {
		t.Fatal(err)
	}
	var ue *UsageError
	if c.PreRunE == nil || !errors.As(c.PreRunE(c, nil), &ue) {
		t.Fatal("guest restore --output bogus is not a usage error before it runs")
	}
}

func TestGuestRestoreDoc(t *testing.T) {
	set := filepath.Join(t.TempDir(), "20261201T120000Z")
	if err := os.Mkdir(set, 0o700); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := guest.Manifest{Created: created, Command: "sshdoctor guest repair --yes", Entries: []guest.BackupEntry{
		{Path: "/etc/ssh/sshd_config", Stored: "0", Existed: true, Mode: 0o644},
		{Path: "/etc/ssh/sshd_config.d/50-sshdoctor.conf", Existed: false},
	}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(set, "manifest.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readBackupManifest(set)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := guestRestoreDoc(set, got, nil)
	if !ok || d.Schema != "sshdoctor.guest.restore/v1" || d.ExitCode != ExitOK || d.Outcome != "restored" || d.Set != set || !d.Created.Equal(created) || d.Command != m.Command || d.Next == "" {
		t.Fatalf("doc %+v", d)
	}
	want := []guestRestoreEntry{{"/etc/ssh/sshd_config", "restore"}, {"/etc/ssh/sshd_config.d/50-sshdoctor.conf", "remove"}}
	if len(d.Entries) != 2 || d.Entries[0] != want[0] || d.Entries[1] != want[1] {
		t.Fatalf("entries %+v", d.Entries)
	}
	// Refused (a path changed since the backup) and partial: exit 1.
	for outcome, err := range map[string]error{
		"changed": &guest.ChangedError{Path: "/home/a/.ssh/authorized_keys", Err: errors.New("a symlink")},
		"partial": &guest.PartialError{Err: errors.New("restore /etc/ssh/sshd_config: busy")},
	} {
		d, ok := guestRestoreDoc(set, got, err)
		if !ok || d.ExitCode != ExitProblem || d.Outcome != outcome || d.Error == "" || d.Next != "" {
			t.Errorf("%s: %+v", outcome, d)
		}
	}
	// Anything else is not this document's to report.
	if _, ok := guestRestoreDoc(set, got, errors.New("disk on fire")); ok {
		t.Error("an internal error got a document")
	}
	if _, err := readBackupManifest(t.TempDir()); err == nil {
		t.Error("a directory without manifest.json read as a backup set")
	}
}
