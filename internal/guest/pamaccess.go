package guest

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// pam_access in sshd's account stack refuses logins by user and origin
// (/etc/security/access.conf, access.conf(5)): sshd accepts the key, then
// "Access denied for user U by PAM account configuration" and the
// connection closes. The rules are judged as pam_access reads them: the
// first line whose users and origins both match decides; no match admits.

// pamAccessModules reads sshd's PAM configuration (following @include,
// include and substack, as Debian and RHEL write it) and returns the
// account lines that load pam_access.so, with their accessfile= when set.
func pamAccessModules(read func(string) ([]byte, error)) []Origin {
	var out []Origin
	var walk func(file string, depth int)
	walk = func(file string, depth int) {
		data, err := read(file)
		if err != nil || depth > 4 {
			return
		}
		for i, l := range strings.Split(string(data), "\n") {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			f := strings.Fields(t)
			switch {
			case f[0] == "@include" && len(f) > 1:
				walk(pamPath(f[1]), depth+1)
			case len(f) >= 3 && strings.TrimPrefix(f[0], "-") == "account" && (f[1] == "include" || f[1] == "substack"):
				walk(pamPath(f[2]), depth+1)
			case enforcingAccess(t):
				out = append(out, Origin{File: file, Line: i + 1, Text: t})
			}
		}
	}
	walk("/etc/pam.d/sshd", 0)
	return out
}

// enforcingAccess says whether a PAM line is an account line loading
// pam_access.so whose failure refuses the login.
func enforcingAccess(t string) bool {
	f := strings.Fields(t)
	return len(f) >= 3 && strings.TrimPrefix(f[0], "-") == "account" && pamControlEnforces(f[1:]) && strings.HasSuffix(moduleOf(f[1:]), "pam_access.so")
}

func pamPath(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/etc/pam.d/" + name
}

// pamControlEnforces: a failure of the module refuses the login
// (required, requisite, or a [...] control whose default is bad/die).
func pamControlEnforces(f []string) bool {
	c := f[0]
	if c == "required" || c == "requisite" {
		return true
	}
	if !strings.HasPrefix(c, "[") {
		return false // sufficient, optional
	}
	ctl := strings.Join(f, " ")
	ctl = ctl[:strings.Index(ctl, "]")+1]
	return strings.Contains(ctl, "default=bad") || strings.Contains(ctl, "default=die") || strings.Contains(ctl, "perm_denied=bad") || strings.Contains(ctl, "perm_denied=die")
}

// moduleOf is the module of a PAM line's fields after the type.
func moduleOf(f []string) string {
	if strings.HasPrefix(f[0], "[") {
		for i, x := range f {
			if strings.HasSuffix(x, "]") && i+1 < len(f) {
				return f[i+1]
			}
		}
		return ""
	}
	if len(f) > 1 {
		return f[1]
	}
	return ""
}

// accessFiles are the rule files a pam_access line reads: accessfile=,
// else access.conf and /etc/security/access.d/*.conf.
func accessFiles(module Origin) []string {
	for _, a := range strings.Fields(module.Text) {
		if v, ok := strings.CutPrefix(a, "accessfile="); ok {
			return []string{v}
		}
	}
	files := []string{"/etc/security/access.conf"}
	more, _ := filepath.Glob("/etc/security/access.d/*.conf")
	return append(files, more...)
}

// judgePAMAccess: the first enforcing pam_access line whose rules refuse
// the user from the client; unknown when the verdict needs an origin it
// cannot judge.
func judgePAMAccess(f *Facts, u UserFacts, from netip.Addr) (module, rule *Origin, unknown bool) {
	if len(f.Effective["usepam"]) == 0 || f.Effective["usepam"][0] != "yes" {
		return nil, nil, false
	}
	for i, m := range f.PAMAccess {
		files := []string{}
		explicit := false
		for _, a := range strings.Fields(m.Text) {
			if v, ok := strings.CutPrefix(a, "accessfile="); ok {
				files, explicit = []string{v}, true
			}
		}
		var rules []Origin
		for _, r := range f.AccessRules {
			if explicit && slices.Contains(files, r.File) || !explicit && (r.File == "/etc/security/access.conf" || strings.HasPrefix(r.File, "/etc/security/access.d/")) {
				rules = append(rules, r)
			}
		}
		deny, known := accessDenies(rules, u.Name, u.Groups, from)
		if !known {
			unknown = true
			continue
		}
		if deny != nil {
			return &f.PAMAccess[i], deny, false
		}
	}
	return nil, nil, unknown
}

// accessRules reads the rule lines of files ("+/-:users:origins").
func accessRules(files []string, read func(string) ([]byte, error)) []Origin {
	var out []Origin
	for _, file := range files {
		data, err := read(file)
		if err != nil {
			continue
		}
		for i, l := range strings.Split(string(data), "\n") {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") || strings.Count(t, ":") < 2 {
				continue
			}
			out = append(out, Origin{File: file, Line: i + 1, Text: t})
		}
	}
	return out
}

// accessDenies judges rules for user (in groups) logging in from from
// (invalid: unknown). It returns the rule that refuses the login, or nil;
// known is false when the verdict depends on an origin it cannot judge.
func accessDenies(rules []Origin, user string, groups []string, from netip.Addr) (deny *Origin, known bool) {
	for i, r := range rules {
		perm, rest, _ := strings.Cut(r.Text, ":")
		users, origins, _ := strings.Cut(rest, ":")
		perm = strings.TrimSpace(perm)
		if perm != "+" && perm != "-" {
			continue
		}
		if !accessListMatch(users, func(tok string) (bool, bool) { return accessUserMatch(tok, user, groups), true }) {
			continue
		}
		m := accessOriginsMatch(origins, from)
		switch m {
		case matchUnknown:
			return nil, false
		case matchNo:
			continue
		}
		if perm == "-" {
			return &rules[i], true
		}
		return nil, true
	}
	return nil, true
}

// accessListMatch is pam_access's list_match: whitespace/comma separated
// tokens, "EXCEPT" starting the exceptions.
func accessListMatch(list string, match func(tok string) (bool, bool)) bool {
	toks := strings.FieldsFunc(list, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	i := slices.Index(toks, "EXCEPT")
	head, except := toks, []string(nil)
	if i >= 0 {
		head, except = toks[:i], toks[i+1:]
	}
	hit := false
	for _, t := range head {
		if m, _ := match(t); m {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	if len(except) > 0 {
		return !accessListMatch(strings.Join(except, " "), match)
	}
	return true
}

func accessUserMatch(tok, user string, groups []string) bool {
	switch {
	case tok == "ALL":
		return true
	case strings.HasPrefix(tok, "(") && strings.HasSuffix(tok, ")"):
		return slices.Contains(groups, strings.Trim(tok, "()"))
	case strings.HasPrefix(tok, "@"):
		return false // a netgroup: not judged
	}
	// without nodefgroup a bare name is a user or a group
	return tok == user || slices.Contains(groups, tok)
}

// accessOriginsMatch matches the origins field against the client's
// address (sshd sets PAM_RHOST to it when UseDNS is no, the default).
func accessOriginsMatch(origins string, from netip.Addr) tri {
	unknown := false
	m := accessListMatch(origins, func(tok string) (bool, bool) {
		switch {
		case tok == "ALL":
			return true, true
		case tok == "LOCAL":
			return false, true // a login from the network is never LOCAL
		case !from.IsValid():
			unknown = true
			return false, false
		case strings.Contains(tok, "/"):
			p, err := netip.ParsePrefix(tok)
			return err == nil && p.Contains(from.Unmap()), true
		case strings.HasSuffix(tok, "."): // "192.168.1." prefix
			return strings.HasPrefix(from.Unmap().String(), tok), true
		}
		if a, err := netip.ParseAddr(tok); err == nil {
			return a.Unmap() == from.Unmap(), true
		}
		unknown = true // a host or domain name, a tty: not judged
		return false, false
	})
	return triOf(m, unknown)
}

// readFileLimited reads a small configuration file.
func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	n, _ := f.Read(buf)
	return buf[:n], nil
}
