package guest

import (
	"fmt"
	"strings"
)

// methodSwitch is the sshd_config keyword that turns each
// AuthenticationMethods method on (sshd -T names, lower case).
var methodSwitch = map[string][]string{
	"publickey":            {"pubkeyauthentication"},
	"password":             {"passwordauthentication"},
	"keyboard-interactive": {"kbdinteractiveauthentication", "challengeresponseauthentication"},
	"hostbased":            {"hostbasedauthentication"},
	"gssapi-with-mic":      {"gssapiauthentication"},
}

// unsatisfiedMethods says why none of the effective AuthenticationMethods
// lists can be completed by u (auth2.c's auth2_methods_valid, plus what the
// user has: a password for "password", a key for "publickey"). It returns
// "" when a list can complete, when the setting is "any" or unknown, or when
// a method's switch is unknown (never a guess).
func unsatisfiedMethods(u UserFacts, keys int, keysUnknown bool) string {
	lists := strings.Fields(u.Effective["authenticationmethods"])
	if len(lists) == 0 || lists[0] == "any" {
		return ""
	}
	var first string
	for _, list := range lists {
		why := ""
		// each publickey step needs a key not used before (auth2-pubkey.c
		// refuses a key already used in an earlier step)
		n := 0
		for _, m := range strings.Split(list, ",") {
			if m == "publickey" {
				n++
			}
		}
		if n > 1 && !keysUnknown && keys < n {
			why = fmt.Sprintf("the list asks for %d different keys and %s has %d", n, u.Name, keys)
		}
		for _, m := range strings.Split(list, ",") {
			if why != "" {
				break
			}
			m, _, _ = strings.Cut(m, ":") // keyboard-interactive:pam
			switches, known := methodSwitch[m]
			if !known {
				return ""
			}
			on, seen := false, false
			for _, k := range switches {
				if v, ok := u.Effective[k]; ok {
					seen = true
					on = on || v == "yes"
				}
			}
			switch {
			case !seen:
				return "" // this sshd did not say: do not guess
			case !on:
				why = fmt.Sprintf("%s is off (%s no)", m, switches[0])
			case m == "password" && !u.HasPassword:
				why = fmt.Sprintf("%s has no password", u.Name)
			case m == "publickey" && keys == 0 && !keysUnknown:
				why = fmt.Sprintf("%s has no authorized key", u.Name)
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			return ""
		}
		if first == "" {
			first = list + ": " + why
		}
	}
	return first
}
