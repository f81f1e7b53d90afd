package guest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// sshd's start-up failures, from its own messages (OpenSSH 7.4-9.9:
// sshd.c, authfile.c's sshkey_perm_ok, servconf.c). Each becomes its own
// finding; what none of them explains and names no configuration line is
// guest.sshd_start_failed with sshd's words, never a syntax error "at -".
var (
	// authfile.c: "Permissions 0%3.3o for '%s' are too open."
	reTooOpen = lazyRE(`Permissions (0[0-7]+) for '([^']+)' are too open`)
	// sshd.c: "Unable to load host key \"%s\": %s" (8.x+), "Unable to load host key: %s" (older)
	reLoadKey = lazyRE(`Unable to load host key(?:: | ")([^"\s]+)"?(?:: (.*))?`)
	// sshd.c: "Privilege separation user %s does not exist"
	rePrivsepUser = lazyRE(`Privilege separation user (\S+) does not exist`)
	// sshd.c (9.8+): "%s does not exist or is not executable" (sshd-session, sshd-auth)
	reBinary = lazyRE(`(/\S+) does not exist or is not executable`)
	// sshd.c load_server_config: "%s: %s" with strerror
	reConfigOpen = lazyRE(`(?m)^(?:sshd: )?(/\S*sshd_config\S*): (No such file or directory|Permission denied)`)
	// sshd.c: "AuthenticationMethods cannot be satisfied by enabled authentication methods"
	reAuthMethods = lazyRE(`AuthenticationMethods cannot be satisfied by enabled authentication methods`)
	// sshd.c: "AuthorizedKeysCommand set without AuthorizedKeysCommandUser" (and Principals)
	reCommandUser = lazyRE(`Authorized(Keys|Principals)Command set without Authorized(?:Keys|Principals)CommandUser`)
	// sshd.c: "Missing privilege separation directory: %s"
	rePrivsepDirMissing = lazyRE(`Missing privilege separation directory: (/\S+)`)
	// sshd.c: "%s must be owned by root and not group or world-writable."
	rePrivsepDirUnsafe = lazyRE(`(/\S+) must be owned by root and not group or world-writable`)
)

// privsepDirs are the privilege-separation directories OpenSSH builds use
// (_PATH_PRIVSEP_CHROOT_DIR): Debian and Ubuntu, RHEL, Fedora, SUSE.
var privsepDirs = []string{"/run/sshd", "/var/run/sshd", "/var/empty/sshd", "/var/empty", "/usr/share/empty.sshd"}

// privsepDir says whether sshd's privilege-separation directory is there,
// and which one is missing: sshd -t checks it and names it. When sshd -t
// stopped before that check (another error), any of the known directories
// existing counts as present: never a guess that /run/sshd is the one.
func privsepDir(configOK bool, configError string, anyKnown bool) (bool, string) {
	if m := rePrivsepDirMissing().FindStringSubmatch(configError); m != nil {
		return false, m[1]
	}
	if configOK || anyKnown {
		return true, ""
	}
	return false, "/run/sshd"
}

// startupProblems explains why sshd -t failed, from its output and the
// host key files as sshd would read them. ok is false when nothing here
// explains it (the caller then falls back to the configuration line).
func startupProblems(f *Facts) (ps []Problem, ok bool) {
	out := f.ConfigError
	nf := func(id, summary string, ev ...string) Problem {
		return Problem{Finding: findings.New(id, summary, "", ev...)}
	}
	var open []string
	for _, m := range reTooOpen().FindAllStringSubmatch(out, -1) {
		if !slices.Contains(open, m[2]) {
			open = append(open, m[2])
			p := nf("guest.hostkey_perms", fmt.Sprintf("Host key %s is mode %s, readable by others: sshd ignores it.", m[2], m[1]), m[0])
			p.Paths = []PathMode{{Path: m[2], Mode: m[1]}}
			ps = append(ps, p)
		}
	}
	bad := slices.Clone(f.BadHostKeys)
	for _, m := range reLoadKey().FindAllStringSubmatch(out, -1) {
		if reason := strings.ToLower(m[2]); !slices.Contains(open, m[1]) && !slices.Contains(bad, m[1]) &&
			(strings.Contains(reason, "invalid format") || strings.Contains(reason, "libcrypto") || strings.Contains(reason, "unsupported") || strings.Contains(reason, "incorrect passphrase")) {
			bad = append(bad, m[1])
		}
	}
	for _, k := range bad {
		if slices.Contains(open, k) {
			continue
		}
		p := nf("guest.hostkey_invalid", fmt.Sprintf("Host key %s cannot be parsed as a private key: sshd cannot use it.", k), firstLineOf(out))
		p.Paths = []PathMode{{Path: k}}
		ps = append(ps, p)
	}
	if m := rePrivsepUser().FindStringSubmatch(out); m != nil {
		p := nf("guest.privsep_user_missing", fmt.Sprintf("sshd's privilege-separation user %s does not exist: sshd refuses to start.", m[1]), m[0])
		p.User = m[1]
		ps = append(ps, p)
	}
	if m := reBinary().FindStringSubmatch(out); m != nil {
		ps = append(ps, nf("guest.sshd_binary_missing", fmt.Sprintf("%s does not exist or is not executable: sshd cannot serve connections.", m[1]), m[0]))
	}
	if m := reAuthMethods().FindString(out); m != "" {
		o := originOf(f, "authenticationmethods")
		p := nf("guest.auth_methods_unsatisfiable", fmt.Sprintf("AuthenticationMethods %s (at %s) needs a method that is turned off: sshd refuses to start.", orDash(o.valueOr()), orDash(at(o))), m)
		p.Origin = o
		ps = append(ps, p)
	}
	if m := reCommandUser().FindStringSubmatch(out); m != nil {
		key := "authorized" + strings.ToLower(m[1]) + "command"
		o := originOf(f, key)
		p := nf("guest.keys_command_user_missing", fmt.Sprintf("Authorized%sCommand (at %s) is set without Authorized%sCommandUser: sshd refuses to start.", m[1], orDash(at(o)), m[1]), m[0])
		p.Origin = o
		ps = append(ps, p)
	}
	if m := rePrivsepDirMissing().FindStringSubmatch(out); m != nil {
		p := nf("guest.privsep_dir_missing", fmt.Sprintf("sshd's privilege-separation directory %s is missing: sshd refuses to start.", m[1]), m[0])
		p.Paths = []PathMode{{Path: m[1]}}
		ps = append(ps, p)
	}
	if m := rePrivsepDirUnsafe().FindStringSubmatch(out); m != nil {
		p := nf("guest.privsep_dir_unsafe", fmt.Sprintf("sshd's privilege-separation directory %s is not root's or is writable by others: sshd refuses to start.", m[1]), m[0])
		p.Paths = []PathMode{{Path: m[1]}}
		ps = append(ps, p)
	}
	if m := reConfigOpen().FindStringSubmatch(out); m != nil {
		ps = append(ps, nf("guest.sshd_config_unreadable", fmt.Sprintf("sshd cannot read %s (%s).", m[1], strings.ToLower(m[2])), m[0]))
	}
	return ps, len(ps) > 0
}

// firstLineOf is sshd's first line that is not a banner of @ signs.
func firstLineOf(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "@") {
			return l
		}
	}
	return strings.TrimSpace(out)
}
