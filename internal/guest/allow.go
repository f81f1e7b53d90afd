package guest

import (
	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
	"net/netip"
	"path"
	"strings"
)

// How sshd's allowed_user() (auth.c) matches AllowUsers/DenyUsers and
// AllowGroups/DenyGroups: each entry a pattern (match.c: `*` and `?`), a
// user entry optionally USER@HOST with HOST matched as match_host_and_ip
// does (CIDR, wildcards on the address, `!` negation). With UseDNS no
// (the default) sshd's "host" is the address itself.

type tri int

const (
	matchNo tri = iota
	matchYes
	matchUnknown // depends on the client's address, which was not given
)

// wildMatch is match.c's match_pattern: `*` any run, `?` one character
// (the same patterns as ssh_config's, sshconfig.WildMatch).
func wildMatch(pat, s string) bool { return sshconfig.WildMatch(s, pat) }

// patternList is match_pattern_list: comma-separated patterns, `!`
// negating; a negated match wins.
func patternList(list, s string) bool {
	got := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if wildMatch(strings.TrimPrefix(p, "!"), s) {
			if neg {
				return false
			}
			got = true
		}
	}
	return got
}

// hostMatch is match_host_and_ip for a client at a (its host name taken
// to be the address): known is false when the list names host names,
// which this side cannot resolve as sshd might.
func hostMatch(list string, a netip.Addr) (match, known bool) {
	ip := a.Unmap().String()
	admitted, names := false, false
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var m bool
		switch {
		case strings.Contains(p, "/"):
			pf, err := netip.ParsePrefix(p)
			m = err == nil && pf.Contains(a.Unmap())
		case strings.Trim(p, "0123456789.:*?abcdefABCDEF") == "" && strings.ContainsAny(p, ".:"):
			m, _ = path.Match(strings.ToLower(p), ip)
		default:
			names = true
			continue
		}
		if m && neg {
			return false, true
		}
		admitted = admitted || m
	}
	if admitted {
		return true, true
	}
	return false, !names
}

// usersListMatches says whether an AllowUsers/DenyUsers list (entries
// separated by spaces, as sshd -T prints them) matches user from the
// client at from (invalid: unknown).
func usersListMatches(list, user string, from netip.Addr) tri {
	res := matchNo
	for _, pat := range strings.Fields(list) {
		up, hp, hasHost := strings.Cut(pat, "@")
		if !wildMatch(up, user) {
			continue
		}
		if !hasHost {
			return matchYes
		}
		if !from.IsValid() {
			res = matchUnknown
			continue
		}
		switch m, known := hostMatch(hp, from); {
		case m:
			return matchYes
		case !known:
			res = matchUnknown
		}
	}
	return res
}

// groupsMatch says whether an AllowGroups/DenyGroups list matches any of
// the user's groups (ga_match_pattern_list).
func groupsMatch(list string, groups []string) bool {
	for _, pat := range strings.Fields(list) {
		for _, g := range groups {
			if patternList(pat, g) {
				return true
			}
		}
	}
	return false
}

// hostScoped is the entries of an AllowUsers/DenyUsers list that name
// user from some hosts only (USER@HOST): a restriction by address,
// which is someone's decision.
func hostScoped(list, user string) []string {
	var out []string
	for _, pat := range strings.Fields(list) {
		if up, _, ok := strings.Cut(pat, "@"); ok && wildMatch(up, user) {
			out = append(out, pat)
		}
	}
	return out
}

// triOf is a list match's verdict: a match, else unknown when some entry
// could not be judged, else no match.
func triOf(match, unknown bool) tri {
	switch {
	case match:
		return matchYes
	case unknown:
		return matchUnknown
	}
	return matchNo
}
