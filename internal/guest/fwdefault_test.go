package guest

import (
	"testing"
)

// TestDefaultDeny: rulesets as `nft -a list ruleset` prints them for ufw
// (iptables-nft), firewalld and plain nftables, with and without an accept
// for sshd's port.
func TestDefaultDeny(t *testing.T) {
	ufw := func(allow string) string {
		return `table ip filter { # handle 1
	chain INPUT { # handle 1
		type filter hook input priority filter; policy drop;
		counter packets 10 bytes 600 jump ufw-before-input # handle 5
		counter packets 0 bytes 0 jump ufw-user-input # handle 7
	}
	chain ufw-before-input { # handle 2
		iifname "lo" counter packets 0 bytes 0 accept # handle 10
		ct state related,established counter packets 5 bytes 300 accept # handle 11
	}
	chain ufw-user-input { # handle 3
` + allow + `
	}
}`
	}
	firewalld := func(allow string) string {
		return `table inet firewalld { # handle 9
	chain filter_INPUT { # handle 1
		type filter hook input priority filter + 10; policy accept;
		ct state { established, related } accept # handle 2
		iifname "lo" accept # handle 3
		jump filter_INPUT_ZONES # handle 4
		reject with icmpx admin-prohibited # handle 5
	}
	chain filter_IN_public_allow { # handle 6
` + allow + `
	}
}`
	}
	plain := `table inet lockdown { # handle 3
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		ct state established,related accept # handle 2
		iif "lo" accept # handle 3
		tcp dport 80 accept # handle 4
	}
}`
	cases := []struct {
		name, ruleset string
		want          string // frontend of the one finding, "" = none
		action        string
	}{
		{"ufw without ssh", ufw(`		tcp dport 80 counter packets 0 bytes 0 accept # handle 20`), "ufw", "policy drop"},
		{"ufw with ssh", ufw(`		tcp dport 22 counter packets 0 bytes 0 accept # handle 20`), "", ""},
		{"ufw with a port range", ufw(`		tcp dport 20-30 accept # handle 20`), "", ""},
		{"firewalld without ssh", firewalld(`		tcp dport 443 accept # handle 7`), "firewalld", "reject"},
		{"firewalld with ssh", firewalld(`		tcp dport { 22, 443 } accept # handle 7`), "", ""},
		{"plain nft lockdown", plain, "nftables", "policy drop"},
		{"an input chain that accepts by default", `table inet f { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy accept;
		ct state invalid drop # handle 2
	}
}`, "", ""},
		{"an unconditional accept", `table inet f { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		counter packets 1 bytes 2 accept # handle 2
	}
}`, "", ""},
		{"policy drop on output only", `table inet f { # handle 1
	chain output { # handle 1
		type filter hook output priority filter; policy drop;
	}
}`, "", ""},
	}
	for _, c := range cases {
		got := defaultDeny(c.ruleset, []int{22})
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: false alarm %+v", c.name, got)
		case c.want != "" && (len(got) != 1 || got[0].Frontend != c.want || got[0].Action != c.action):
			t.Errorf("%s: got %+v, want one %s %s", c.name, got, c.want, c.action)
		}
	}
}
