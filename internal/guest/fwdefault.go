package guest

import (
	"strconv"
	"strings"
)

// defaultDeny finds the input chains of `nft -a list ruleset` that drop
// what no rule accepted — `policy drop`, or a final catch-all drop/reject
// (firewalld's) — in a table where no rule accepts TCP to sshd's ports
// (`tcp dport 22 accept`, a set or range holding it, or an unconditional
// accept). ufw, firewalld and iptables-nft all show here; iptables-legacy
// rules do not. A rule accepting the port for some sources only counts as
// an accept: whether it covers the client is not known here.
func defaultDeny(out string, ports []int) []FirewallRule {
	type key struct{ family, table string }
	accepts, ufw := map[key]bool{}, map[key]bool{}
	var cands []FirewallRule
	var family, table, chain string
	input := false
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		f := strings.Fields(t)
		switch {
		case len(f) >= 3 && f[0] == "table":
			family, table, chain, input = f[1], f[2], "", false
		case len(f) >= 2 && (f[0] == "set" || f[0] == "map") && strings.HasSuffix(t, "{"):
			chain, input = "", false
		case len(f) >= 2 && f[0] == "chain":
			chain, input = f[1], false
			if frontend(family, table, chain) == "ufw" {
				ufw[key{family, table}] = true // ufw's INPUT is iptables-nft's
			}
		case chain == "":
		case strings.HasPrefix(t, "type filter hook input"):
			input = true
			if strings.Contains(t, "policy drop") {
				cands = append(cands, FirewallRule{Family: family, Table: table, Chain: chain, Text: strings.TrimSuffix(t, ";"), Action: "policy drop", Frontend: frontend(family, table, chain)})
			}
		default:
			body, handle := splitHandle(t)
			words := verdictWords(body)
			switch {
			case len(words) == 0:
			case words[len(words)-1] == "accept":
				if strings.Contains(body, "tcp dport") && mentionsPort(body, ports) || len(words) == 1 {
					accepts[key{family, table}] = true
				}
			case input && (words[0] == "drop" || words[0] == "reject") && len(words) == 1:
				cands = append(cands, FirewallRule{Family: family, Table: table, Chain: chain, Handle: handle, Text: body, Action: words[0], Frontend: frontend(family, table, chain)})
			}
		}
	}
	var out2 []FirewallRule
	for _, c := range cands {
		if !accepts[key{c.Family, c.Table}] {
			if ufw[key{c.Family, c.Table}] {
				c.Frontend = "ufw"
			}
			out2 = append(out2, c)
		}
	}
	return out2
}

// splitHandle cuts nft -a's "# handle N" off a rule.
func splitHandle(t string) (string, int) {
	i := strings.Index(t, "# handle ")
	if i < 0 {
		return t, 0
	}
	h, _ := strconv.Atoi(strings.TrimSpace(t[i+len("# handle "):]))
	return strings.TrimSpace(t[:i]), h
}

// verdictWords is a rule without its statements that match nothing
// (counter, log, comment, a reject's "with …"): what is left of a
// catch-all is its verdict alone.
func verdictWords(body string) []string {
	f := strings.Fields(body)
	var out []string
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "counter":
			if i+4 < len(f) && f[i+1] == "packets" && f[i+3] == "bytes" {
				i += 4
			}
			continue
		case "log":
			for i+1 < len(f) && (f[i+1] == "prefix" || f[i+1] == "level" || f[i+1] == "flags") {
				i += 2
			}
			continue
		case "comment":
			i++ // a quoted word; longer comments are rare in input chains
			continue
		case "with":
			if len(out) > 0 && out[len(out)-1] == "reject" {
				i = len(f)
				continue
			}
		}
		out = append(out, f[i])
	}
	return out
}
