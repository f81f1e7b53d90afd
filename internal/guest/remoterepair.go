package guest

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// remoteRepairLib is the POSIX sh that makes Plan's changes on a VM
// sshdoctor is not installed on: its functions, to which
// RemoteRepairScript appends the actions.
//
//go:embed remoterepair.sh
var remoteRepairLib string

// RemoteRepairScript renders the actions Plan chose (from FactsFromRemote's
// facts, with RepairOptions.Remote) as one POSIX sh script for a cloud's
// run-command, which runs it as root. It keeps Apply's transaction: one
// run at a time, one backup set (restorable with `sshdoctor guest
// restore`), each line edit refused if the line no longer reads as the
// facts said, sshd -t, a restart through the service manager and a wait
// until sshd listens on its ports (port when sshd -T names none), and a
// rollback of everything if any step fails. Skipped actions are left out;
// an action without an Op (one only this machine can run) or with a value
// that cannot be put into the script safely is an error. Its output is
// read by ParseRemoteRepair.
func RemoteRepairScript(acts []Action, port int) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("port %d is out of range", port)
	}
	var body strings.Builder
	restart, reboot, n := false, false, 0
	for i, a := range acts {
		if a.Skipped != "" {
			continue
		}
		if a.Op == nil {
			return "", fmt.Errorf("action %d (%s) has no Op: it can be made only by sshdoctor on the VM", i, a.Description)
		}
		line, err := renderOp(a.Op)
		if err != nil {
			return "", fmt.Errorf("action %d (%s): %w", i, a.Description, err)
		}
		fmt.Fprintf(&body, "sd_act %d %s\n", i, line)
		restart = restart || a.Op.Restart
		reboot = reboot || a.Op.Kind == OpFstabNofail
		n++
	}
	if reboot {
		// As Apply: the boot is stuck before services; the next boot
		// starts sshd on the repaired configuration.
		restart = false
	}
	if n == 0 {
		return remoteRepairLib + "say \"R${T}sdrepair1\"\nsay \"S${T}norestart\"\nsay \"E${T}end\"\n", nil
	}
	r := 0
	if restart {
		r = 1
	}
	return fmt.Sprintf("%sPORT=%d\nRESTART=%d\nsd_begin\n%ssd_end\n", remoteRepairLib, port, r, body.String()), nil
}

// RemoteRestoreScript renders the undo of an earlier RemoteRepairScript
// run: every path of its backup set dir (the B line of its report) put
// back — in a directory a user controls only while it is still what that
// run left — then sshd -t, a restart and a wait until sshd listens
// (on port when sshd -T names none). ParseRemoteRepair reads its report
// with no actions; RolledBack is set and Error says what failed.
func RemoteRestoreScript(dir string, port int) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("port %d is out of range", port)
	}
	if !backupSetRE().MatchString(dir) {
		return "", fmt.Errorf("%q is not a backup set of sshdoctor's remote repair (/var/backups/sshdoctor/STAMP-remote)", dir)
	}
	return fmt.Sprintf("%sPORT=%d\nsd_restore %s\n", remoteRepairLib, port, shQuote(dir)), nil
}

// backupSetRE is the name begin_set gives a remote backup set.
var backupSetRE = lazyRE(`^/var/backups/sshdoctor/[0-9]{8}T[0-9]{6}Z-remote(-[0-9]+)?$`)

// renderOp is the sd_act arguments that make op.
func renderOp(op *Op) (string, error) {
	args := []string{}
	arg := func(vs ...string) error {
		for _, v := range vs {
			if err := scriptValue(v); err != nil {
				return err
			}
			args = append(args, shQuote(v))
		}
		return nil
	}
	paths := func(ps ...string) error {
		for _, p := range ps {
			if err := scriptPath(p); err != nil {
				return err
			}
		}
		return arg(ps...)
	}
	// homePaths passes the user's home and paths inside it (none may
	// leave it).
	homePaths := func() error {
		if err := paths(op.Home); err != nil {
			return err
		}
		for _, p := range op.Paths {
			if p != op.Home && !strings.HasPrefix(p, op.Home+"/") {
				return fmt.Errorf("%s is outside %s's home %s", p, op.User, op.Home)
			}
		}
		return paths(op.Paths...)
	}
	user := func() error {
		if !remoteUserName().MatchString(op.User) {
			return fmt.Errorf("%q is not a valid user name", op.User)
		}
		return arg(op.User)
	}
	edits := func(min, max int) error {
		if len(op.Edits) < min || len(op.Edits) > max {
			return fmt.Errorf("%s needs %d to %d line edits, has %d", op.Kind, min, max, len(op.Edits))
		}
		for _, e := range op.Edits {
			if e.Line < 0 || e.Line == 0 && op.Kind != OpInsertLine || e.Line > 0 && e.Expect == "" {
				return fmt.Errorf("line edit %s:%d: no line to check (the facts did not give its text)", e.Path, e.Line)
			}
			if err := paths(e.Path); err != nil {
				return err
			}
			if err := arg(strconv.Itoa(e.Line), e.Expect, e.Text); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch op.Kind {
	case OpDisableLine, OpMaxStartupsDefaults, OpFstabNofail:
		args = append(args, "sd_edits", "0")
		err = edits(0, 8)
	case OpReplaceLine, OpInsertLine:
		args = append(args, "sd_edits", "1")
		err = edits(1, 1)
	case OpDisableLoopbackListen:
		args = append(args, "sd_loopback")
		if err = edits(1, 1); err == nil {
			// the script's arguments: FILE LINE EXPECT PREFIX
			args = append(args[:len(args)-1], shQuote(disabledText(whyLoopback, "")))
		}
	case OpDisableListenAddrs:
		args = append(args, "sd_listen_disable")
		if err = edits(1, 1); err == nil {
			args = append(args[:len(args)-1], shQuote(disabledText(whyListenAbsent, "")))
			for _, h := range op.Paths {
				if _, perr := netip.ParseAddr(h); perr != nil {
					return "", fmt.Errorf("listen address %q is not an IP address", h)
				}
			}
			err = arg(op.Paths...)
		}
	case OpAllowUser:
		args = append(args, "sd_allow_user")
		if err = edits(1, 1); err == nil {
			args = args[:len(args)-1]
			err = user()
		}
	case OpKeygenHostkeys:
		args = append(args, "sd_keygen")
	case OpHostkeyMode:
		args = append(args, "sd_hostkey_mode")
		err = paths(op.Path)
	case OpUseraddSystem:
		args = append(args, "sd_useradd_system")
		err = user()
	case OpMkdir:
		if op.Mode == 0 || op.Mode > 0o7777 {
			return "", fmt.Errorf("mkdir: mode %o", op.Mode)
		}
		args = append(args, "sd_mkdir")
		if err = paths(op.Path); err == nil {
			err = arg(fmt.Sprintf("%o", op.Mode))
		}
	case OpBinaryMode:
		if op.Mode != 0o755 {
			return "", fmt.Errorf("binary-mode: mode %o", op.Mode)
		}
		args = append(args, "sd_binary_mode")
		err = paths(op.Path)
	case OpRemoveFile:
		args = append(args, "sd_remove")
		err = paths(op.Path)
	case OpStartSSHD:
		args = append(args, "true")
	case OpResetFailed:
		if !unitName().MatchString(op.Unit) {
			return "", fmt.Errorf("%q is not a systemd unit name", op.Unit)
		}
		args = append(args, "sd_reset_failed")
		err = arg(op.Unit)
	case OpNftDeleteRule:
		r := op.Rule
		if r == nil || !nftName().MatchString(r.Family) || !nftName().MatchString(r.Table) || !nftName().MatchString(r.Chain) || r.Handle <= 0 {
			return "", fmt.Errorf("nftables rule %+v cannot be named safely", r)
		}
		args = append(args, "sd_nft_delete")
		err = arg(r.Family, r.Table, r.Chain, strconv.Itoa(r.Handle), r.Text)
	case OpFirewallAllow:
		r := op.Rule
		if r == nil || !nftName().MatchString(r.Family) || !nftName().MatchString(r.Table) || !nftName().MatchString(r.Chain) || !nftName().MatchString(r.Frontend) || r.Port < 1 || r.Port > 65535 {
			return "", fmt.Errorf("firewall chain %+v cannot be named safely", r)
		}
		args = append(args, "sd_fw_allow")
		err = arg(r.Frontend, r.Family, r.Table, r.Chain, strconv.Itoa(r.Port))
	case OpUseraddWithHome:
		args = append(args, "sd_useradd")
		if err = user(); err == nil {
			if err = arg(strconv.Itoa(max(op.UID, 0))); err == nil {
				err = paths(op.Home)
			}
		}
	case OpSetShell:
		args = append(args, "sd_set_shell")
		err = user()
	case OpUsermodUnlock:
		args = append(args, "sd_account", "usermod", "-U", "--")
		err = user()
	case OpChageUnexpire:
		args = append(args, "sd_account", "chage", "-E", "-1", "--")
		err = user()
	case OpChageLastday:
		args = append(args, "sd_chage_today")
		err = user()
	case OpFixModes:
		args = append(args, "sd_fix_modes")
		if err = user(); err == nil {
			err = arg(strconv.Itoa(op.UID))
		}
		if err == nil {
			err = homePaths()
		}
	case OpUserAccess:
		args = append(args, "sd_user_access")
		if err = user(); err == nil {
			err = arg(strconv.Itoa(op.UID), strconv.Itoa(op.GID))
		}
		if err == nil {
			err = homePaths()
		}
	case OpRestorecon:
		args = append(args, "sd_restorecon")
		err = paths(op.Paths...)
	case OpAuthorizeKey:
		if op.Path == "" {
			args = append(args, "sd_refuse")
			err = arg(fmt.Sprintf("sshd reads no authorized keys file for %s (no such user, or AuthorizedKeysFile none): nothing to write the key to", op.User))
			break
		}
		args = append(args, "sd_authorize_key")
		if err = user(); err == nil {
			err = arg(strconv.Itoa(op.UID), strconv.Itoa(op.GID))
		}
		if err == nil {
			err = paths(op.Home, op.Path)
		}
		for _, k := range op.Keys {
			if err == nil {
				err = authorizedLine(k)
			}
		}
		if err == nil && len(op.Keys) == 0 {
			err = errors.New("no key to authorize")
		}
		if err == nil {
			err = arg(op.Keys...)
		}
	default:
		return "", fmt.Errorf("unknown op kind %q", op.Kind)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", op.Kind, err)
	}
	return strings.Join(args, " "), nil
}

var (
	unitName = lazyRE(`^[A-Za-z0-9:_.@-]{1,128}$`)
	nftName  = lazyRE(`^[A-Za-z0-9_.@-]{1,64}$`)
)

// shQuote single-quotes s for sh: inside single quotes nothing is
// special but the quote itself, which becomes: close the quotes, a
// backslash-escaped quote, open them again.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scriptValue refuses what cannot be one line of a file, or one argument,
// in the script: a newline would end the line an edit writes (and the
// report's), a NUL cannot be in a shell word.
func scriptValue(s string) error {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("%q holds a control character", s)
		}
	}
	if len(s) > 4096 {
		return fmt.Errorf("a value of %d bytes is too long", len(s))
	}
	return nil
}

// scriptPath refuses a path the script could not handle as written: not
// absolute and clean, or with characters the backup manifest (JSON
// written by awk) would have to escape.
func scriptPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" || strings.ContainsAny(p, `"\`) {
		return fmt.Errorf("path %q is not a clean absolute path the script can use", p)
	}
	return scriptValue(p)
}

// authorizedLine checks a key line to authorize: one key, "TYPE BASE64".
func authorizedLine(line string) error {
	f := strings.Fields(line)
	if len(f) != 2 {
		return fmt.Errorf("key %q is not one \"TYPE BASE64\" line", line)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		return fmt.Errorf("key %q: %w", line, err)
	}
	return nil
}

// ErrRemoteRepairIncomplete means the repair's report has no end: run-
// command cut it or the script was killed. The VM may be partly changed.
var ErrRemoteRepairIncomplete = errors.New("the remote repair's report is incomplete (run-command cut it off, or the script was killed): the VM may be partly changed; check it again, and restore the backup set if needed")

// ParseRemoteRepair reads RemoteRepairScript's report for acts (the same
// slice the script was rendered from) into a Result, as Apply returns it:
// Error names the first failed action (its Description, then why) or the
// validation or restart that failed; RolledBack says the backup set was
// put back. Another run holding the VM's lock is a *BusyError (nothing
// was changed); a report without its end is ErrRemoteRepairIncomplete.
func ParseRemoteRepair(stdout string, acts []Action) (*Result, error) {
	res := &Result{Actions: acts}
	for _, a := range acts {
		if a.Skipped == "" && a.Op != nil && a.Op.Kind == OpFstabNofail {
			res.RebootRequired = true
		}
	}
	var errs, partial []string
	header, end := false, false
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		get := func(i int) string {
			if i < len(fs) {
				return fs[i]
			}
			return ""
		}
		switch fs[0] {
		case "R":
			header = get(1) == "sdrepair1"
		case "B":
			res.Backup = get(1)
		case "A":
			i, err := strconv.Atoi(get(1))
			if err != nil || i < 0 || i >= len(acts) {
				return nil, fmt.Errorf("the remote repair reports action %q, but %d were sent: was the report made for other actions?", get(1), len(acts))
			}
			if get(2) == "fail" {
				errs = append(errs, acts[i].Description+": "+get(3))
			}
		case "S":
			switch get(1) {
			case "busy":
				pid, _ := strconv.Atoi(get(3))
				return nil, &BusyError{Lock: get(2) + " on the VM", PID: pid}
			case "error":
				errs = append(errs, get(2))
			case "restarted":
				res.Restarted = true
			case "rolledback":
				res.RolledBack = true
				if get(2) != "" {
					errs = append(errs, get(2))
				}
			}
		case "X":
			partial = append(partial, get(1))
		case "E":
			end = true
		}
	}
	switch {
	case !header && !end:
		return nil, errors.New("the output is not sshdoctor's remote repair report (did the script run?)")
	case !header:
		return nil, fmt.Errorf("the report's beginning was cut off by run-command's output limit: %w", ErrRemoteRepairIncomplete)
	case !end:
		if res.Backup != "" {
			return nil, fmt.Errorf("%w (backup set %s)", ErrRemoteRepairIncomplete, res.Backup)
		}
		return nil, ErrRemoteRepairIncomplete
	}
	res.Error = strings.Join(errs, "; ")
	if len(partial) > 0 {
		res.Error += "; rollback: not everything was restored: " + strings.Join(partial, "; ")
	}
	return res, nil
}
