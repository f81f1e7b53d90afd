package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ApplyOptions are the inputs of ApplyVMAccess besides the settings.
type ApplyOptions struct {
	DryRun bool
	Port   int // the port clients and firewalls expect sshd on (reset_ssh)
}

// ApplyResult is the outcome of `guest apply` (JSON: sshdoctor.guest.apply/v1).
// It never holds the password.
type ApplyResult struct {
	// Requested lists the operations the settings asked for, in the order
	// they run: reset_ssh | restore_backup_ssh, user, remove_user.
	Requested []string `json:"requested"`
	// SSH is the reset_ssh / restore_backup_ssh part (nil when not asked).
	SSH *Result `json:"ssh,omitempty"`
	// User is the username/password/ssh_key/... part.
	User *UserResult `json:"user,omitempty"`
	// RemoveUser is the remove_user part.
	RemoveUser *UserResult `json:"remove_user,omitempty"`
	// RolledBack: a later part failed and every earlier part was put back.
	RolledBack bool   `json:"rolled_back"`
	Error      string `json:"error,omitempty"`
}

// sshBackupSet is the newest backup set holding sshd_config: what
// restore_backup_ssh puts back.
func sshBackupSet(root string) (string, *Manifest, error) {
	sets, err := Sets(root)
	if err != nil {
		return "", nil, err
	}
	for i := len(sets) - 1; i >= 0; i-- {
		m, err := readManifest(sets[i])
		if err != nil {
			continue
		}
		for _, e := range m.Entries {
			if e.Path == sshdConfig && e.Existed {
				return sets[i], m, nil
			}
		}
	}
	return "", nil, refusef("restore_backup_ssh: no backup set under %s holds %s (nothing to restore)", filepath.Join(root, BackupDir), sshdConfig)
}

func readManifest(set string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(set, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// sshPath is a path restore_backup_ssh puts back: sshd's configuration,
// drop-ins and host keys. A backup set's other files (accounts, sudoers,
// firewall) are left alone.
func sshPath(p string) bool { return p == "/etc/ssh" || strings.HasPrefix(p, "/etc/ssh/") }

// restoreSSHAction puts back the SSH files of set: each is saved into the
// run's own backup set first, so the restore can be undone too.
func restoreSSHAction(set string, m *Manifest) Action {
	var paths []string
	for _, e := range m.Entries {
		if sshPath(e.Path) {
			paths = append(paths, e.Path)
		}
	}
	return Action{For: "restore-backup-ssh", sshd: true,
		Description: fmt.Sprintf("restore %s from backup set %s (%d path(s) under /etc/ssh)", strings.Join(paths, ", "), set, len(paths)),
		do: func(b *Backup) error {
			for _, p := range paths {
				if err := b.Save(p); err != nil {
					return err
				}
			}
			return RestoreOnly("/", set, sshPath)
		}}
}

// ApplyVMAccess carries out VMAccessForLinux settings (already validated by
// ParseVMAccess) as one transaction, in VMAccess's order: the SSH
// configuration (reset_ssh or restore_backup_ssh), then the user
// (username with password, ssh_key, remove_prior_keys, expiration,
// enable_passwordless_access), then remove_user.
//
// Everything is planned before anything changes: a refusal (a system
// account, no backup set, sudo missing, …) returns an ErrRefused error and
// nothing is changed. If a part fails while applying, it rolls itself back
// and every earlier part is put back too (sshd restarted on its old
// configuration), so the VM ends as it was.
//
// As VMAccess does, a username is granted sudo through its own drop-in:
// "ALL=(ALL) ALL" when the account has a password, NOPASSWD when it has
// none or enable_passwordless_access is true. The caller holds Lock("/")
// unless DryRun.
func ApplyVMAccess(ctx context.Context, v *VMAccess, o ApplyOptions) (*ApplyResult, error) {
	res := &ApplyResult{Requested: []string{}}
	port := o.Port
	if port == 0 {
		port = 22
	}
	// The SSH part needs sshd's facts only; the user parts gather their
	// own account: name one user so Gather does not walk every account.
	facts := Gather(ctx, Options{Port: port, Users: []string{"root"}})

	// 1. Plan every part; refusals come out here, before any change.
	var sshActs []Action
	sshAsked := isTrue(v.ResetSSH) || isTrue(v.RestoreBackupSSH)
	switch {
	case isTrue(v.ResetSSH):
		res.Requested = append(res.Requested, "reset_ssh")
		if v.Username != nil {
			sshActs = ResetSSHFor(facts, *v.Username) // let the user being repaired through Allow/Deny
		} else {
			sshActs = ResetSSH(facts)
		}
	case isTrue(v.RestoreBackupSSH):
		res.Requested = append(res.Requested, "restore_backup_ssh")
		set, m, err := sshBackupSet("/")
		if err != nil {
			return nil, err
		}
		sshActs = []Action{restoreSSHAction(set, m)}
	}
	var spec *UserSpec
	if v.Username != nil {
		res.Requested = append(res.Requested, "user")
		s := UserSpec{Name: *v.Username, ReplaceKeys: isTrue(v.RemovePriorKeys), SudoNoPassword: isTrue(v.EnablePasswordlessAccess),
			Command: "sshdoctor guest apply (username " + *v.Username + ")"}
		if *v.Username != "root" {
			yes := true
			s.Sudo = &yes
		}
		if v.Password != nil {
			s.Password = []byte(*v.Password)
		}
		if v.SSHKey != nil {
			keys, err := ParseKeyLines([]byte(*v.SSHKey))
			if err != nil {
				return nil, refusef("ssh_key: %v", err)
			}
			s.Keys = keys
		}
		if v.RemovePriorKeys != nil && *v.RemovePriorKeys && len(s.Keys) == 0 {
			return nil, refusef("remove_prior_keys needs ssh_key: the keys to keep")
		}
		if v.Expiration != nil {
			s.Expiration = *v.Expiration
		}
		spec = &s
	}
	if v.RemoveUser != nil {
		res.Requested = append(res.Requested, "remove_user")
	}
	planUser := func() (*UserPlan, error) { return PlanUserSet(ctx, *spec) }
	planRemove := func() (*UserPlan, error) {
		return PlanUserRemove(ctx, *v.RemoveUser, "sshdoctor guest apply (remove_user "+*v.RemoveUser+")")
	}
	var userPlan, removePlan *UserPlan
	var err error
	if spec != nil {
		if userPlan, err = planUser(); err != nil {
			return nil, err
		}
	}
	if v.RemoveUser != nil {
		if removePlan, err = planRemove(); err != nil {
			return nil, err
		}
	}
	ropts := RepairOptions{DryRun: o.DryRun, Command: "sshdoctor guest apply (" + strings.Join(res.Requested, ", ") + ")"}
	if o.DryRun {
		if sshAsked {
			res.SSH = Apply(ctx, facts, sshActs, ropts)
		}
		if userPlan != nil {
			res.User = &UserResult{User: userPlan.User, Changes: userPlan.Changes(), Notes: userPlan.Notes}
		}
		if removePlan != nil {
			res.RemoveUser = &UserResult{User: removePlan.User, Changes: removePlan.Changes(), Notes: removePlan.Notes}
		}
		return res, nil
	}

	// 2. One transaction for every part: one backup set; if any part
	// fails, everything is rolled back (sshd restarted on its old
	// configuration). The user parts are planned again inside it: the
	// SSH part may have changed which key file sshd reads.
	acts := slices.Clone(sshActs)
	sshChanges := slices.ContainsFunc(sshActs, func(a Action) bool { return a.Skipped == "" })
	type part struct {
		what     string
		plan     func() (*UserPlan, error)
		planned  *UserPlan
		out      **UserResult
		executed *UserPlan
	}
	var parts []*part
	if userPlan != nil {
		parts = append(parts, &part{what: "username " + userPlan.User, plan: planUser, planned: userPlan, out: &res.User})
	}
	if removePlan != nil {
		parts = append(parts, &part{what: "remove_user " + removePlan.User, plan: planRemove, planned: removePlan, out: &res.RemoveUser})
	}
	for _, pt := range parts {
		// A part with nothing to change is no action (no backup set)
		// unless the SSH part changes something its plan depends on.
		if len(pt.planned.Steps) == 0 && !sshChanges {
			continue
		}
		acts = append(acts, Action{For: "user", Description: pt.what, do: func(b *Backup) error {
			p, err := pt.plan()
			if err != nil {
				return err
			}
			pt.executed = p
			for _, a := range p.actions() {
				if err := a.do(b); err != nil {
					return fmt.Errorf("%s: %w", a.Description, err)
				}
			}
			return nil
		}})
	}
	r := Apply(ctx, facts, acts, ropts)
	res.Error, res.RolledBack = r.Error, r.RolledBack
	if sshAsked {
		ssh := *r
		ssh.Actions = r.Actions[:len(sshActs)]
		res.SSH = &ssh
	}
	for _, pt := range parts {
		if pt.executed != nil {
			*pt.out = pt.executed.result(r)
		} else {
			*pt.out = &UserResult{User: pt.planned.User, Changes: []string{}, Notes: pt.planned.Notes, Applied: r.Error == ""}
		}
	}
	return res, nil
}
