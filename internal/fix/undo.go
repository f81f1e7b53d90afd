package fix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/cloud"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// Undo is what reverts one step.
type Undo struct {
	// Kind: "nsg-remove-rule", "guest-restore", "stop".
	Kind      string `json:"kind"`
	VM        string `json:"vm,omitempty"`
	NSGID     string `json:"nsg_id,omitempty"`
	RuleName  string `json:"rule,omitempty"`
	BackupDir string `json:"backup_dir,omitempty"`
	// Restore is a rule fix changed (a deny rule it moved), as it was;
	// set again after RuleName is removed.
	Restore *cloud.SecurityRule `json:"restore,omitempty"`
	// Port is sshd's port, waited for after a guest restore.
	Port int `json:"port,omitempty"`
}

func (u *Undo) apply(ctx context.Context, p cloud.Provider) error {
	switch u.Kind {
	case "nsg-remove-rule":
		if u.RuleName != "" {
			if err := p.RemoveNSGRule(ctx, u.NSGID, u.RuleName); err != nil {
				return err
			}
		}
		if u.Restore != nil {
			return p.SetNSGRule(ctx, u.NSGID, *u.Restore)
		}
		return nil
	case "stop":
		return p.Stop(ctx, u.VM)
	case "guest-restore":
		port := u.Port
		if port == 0 {
			port = 22
		}
		script, err := guest.RemoteRestoreScript(u.BackupDir, port)
		if err != nil {
			return err
		}
		o := &Options{Provider: p, VM: u.VM}
		res, err := runBusy(ctx, o, script, 3*time.Minute)
		if err != nil {
			return err
		}
		out, err := guest.ParseRemoteRepair(res.Stdout, nil)
		if err != nil {
			return fmt.Errorf("restore %s: %w", u.BackupDir, err)
		}
		if out.Error != "" {
			return fmt.Errorf("restore %s: %s", u.BackupDir, out.Error)
		}
		return nil
	}
	return fmt.Errorf("unknown undo %q", u.Kind)
}

// WriteJournal writes the report as the journal: JSON, mode 0600,
// replaced atomically so a reader never sees half a journal.
func WriteJournal(path string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fix-journal-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// maxJournal bounds what ReadJournal reads (a journal of MaxSteps steps is
// a few hundred KiB).
const maxJournal = 16 << 20

// ReadJournal reads a journal WriteJournal wrote.
func ReadJournal(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJournal {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a fix journal", path, maxJournal>>20)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s is not a fix journal: %v", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("%s is not a fix journal (schema %q, want %q)", path, r.Schema, Schema)
	}
	return &r, nil
}

// UndoResult says what --undo did for one entry.
type UndoResult struct {
	Step   string `json:"step"`
	Result string `json:"result"` // undone, not-undoable, already-undone, failed
	Error  string `json:"error,omitempty"`
}

// ErrUndoIncomplete: some step could not be reverted.
var ErrUndoIncomplete = errors.New("some steps could not be undone")

// UndoJournal reverts the applied steps of a journal, newest first, on p
// (which must be the provider and VM the journal names).
func UndoJournal(ctx context.Context, p cloud.Provider, r *Report) ([]UndoResult, error) {
	if p.Kind() != r.Provider {
		return nil, fmt.Errorf("the journal is for provider %s, not %s", r.Provider, p.Kind())
	}
	var out []UndoResult
	var failed bool
	for i := len(r.Journal) - 1; i >= 0; i-- {
		e := r.Journal[i]
		if e.Result != "applied" && e.Result != "failed" {
			continue
		}
		res := UndoResult{Step: e.Step.Change}
		switch {
		case e.Undone:
			res.Result = "already-undone"
		case e.Undo == nil:
			res.Result = "not-undoable"
			res.Error = e.Step.UndoText
			failed = true
		default:
			if e.Undo.VM != "" && e.Undo.VM != r.VM {
				return out, fmt.Errorf("journal entry names VM %s, the journal VM %s", e.Undo.VM, r.VM)
			}
			u := *e.Undo
			if u.VM == "" {
				u.VM = r.VM
			}
			if err := u.apply(ctx, p); err != nil {
				res.Result, res.Error, failed = "failed", err.Error(), true
			} else {
				res.Result = "undone"
			}
		}
		out = append(out, res)
	}
	if failed {
		return out, ErrUndoIncomplete
	}
	return out, nil
}
