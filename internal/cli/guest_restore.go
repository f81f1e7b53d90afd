package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// GuestRestoreSchema names the JSON document of `sshdoctor guest restore`.
const GuestRestoreSchema = "sshdoctor.guest.restore/v1"

// guestRestoreJSON is `guest restore --output json`.
type guestRestoreJSON struct {
	Schema   string `json:"schema"`
	ExitCode int    `json:"exit_code"`
	Set      string `json:"set"` // the backup set's directory
	// Outcome: restored (every entry), changed (a path changed since the
	// backup: nothing was restored) or partial (some entries could not be
	// put back).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	// Created and Command say when and by which command the set was made.
	Created time.Time `json:"created"`
	Command string    `json:"command"`
	// Entries are the set's paths: each put back as it was, or removed
	// (it did not exist before the backup).
	Entries []guestRestoreEntry `json:"entries"`
	Next    string              `json:"next,omitempty"`
}

// guestRestoreEntry is one path of the set.
type guestRestoreEntry struct {
	Path   string `json:"path"`
	Action string `json:"action"` // restore or remove
}

// readBackupManifest reads a backup set's manifest.json.
func readBackupManifest(set string) (*guest.Manifest, error) {
	data, err := os.ReadFile(filepath.Join(set, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m guest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", set, err)
	}
	return &m, nil
}

// guestRestoreDoc is the document of restoring set (manifest m), which
// ended with err: nil, or a refusal or partial restore (exit 1). Other
// errors print no document.
func guestRestoreDoc(set string, m *guest.Manifest, err error) (doc guestRestoreJSON, ok bool) {
	doc = guestRestoreJSON{Schema: GuestRestoreSchema, ExitCode: ExitOK, Set: set, Outcome: "restored", Created: m.Created, Command: m.Command, Entries: []guestRestoreEntry{},
		Next: "restart sshd to use the restored configuration"}
	for _, e := range m.Entries {
		a := "restore"
		if !e.Existed {
			a = "remove"
		}
		doc.Entries = append(doc.Entries, guestRestoreEntry{Path: e.Path, Action: a})
	}
	var changed *guest.ChangedError
	var partial *guest.PartialError
	switch {
	case err == nil:
		return doc, true
	case errors.As(err, &changed):
		doc.Outcome = "changed"
	case errors.As(err, &partial):
		doc.Outcome = "partial"
	default:
		return doc, false
	}
	doc.ExitCode, doc.Error, doc.Next = ExitProblem, oneLine(err.Error()), ""
	return doc, true
}

// guestRestoreJSONRun restores set and prints its document.
func guestRestoreJSONRun(ios *IOStreams, set string) error {
	m, err := readBackupManifest(set)
	if err != nil {
		return usagef("%s is not a backup set: %v", set, err)
	}
	rerr := guest.Restore("/", set)
	if rerr != nil {
		rerr = fmt.Errorf("restore %s: %w", set, rerr)
	}
	doc, ok := guestRestoreDoc(set, m, rerr)
	if !ok {
		return rerr
	}
	if err := writeJSONDoc(ios, doc); err != nil {
		return err
	}
	return rerr
}
