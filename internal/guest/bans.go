package guest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Fail2banJail is fail2ban's sshd jail as `fail2ban-client status sshd`
// reports it.
type Fail2banJail struct {
	Jail   string   `json:"jail"`
	Banned []string `json:"banned"`
}

// fail2banStatus asks fail2ban for its sshd jail (nil when fail2ban is
// not installed or not running).
func fail2banStatus(ctx context.Context) *Fail2banJail {
	bin, err := exec.LookPath("fail2ban-client")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "status", "sshd").Output()
	if err != nil {
		return nil
	}
	return parseFail2ban(string(out))
}

func parseFail2ban(out string) *Fail2banJail {
	j := &Fail2banJail{Jail: "sshd"}
	for _, l := range strings.Split(out, "\n") {
		if _, list, ok := strings.Cut(l, "Banned IP list:"); ok {
			j.Banned = strings.Fields(list)
		}
	}
	return j
}

// banRemedy says how to lift a ban without opening the port to everyone.
func banRemedy(r *FirewallRule, port int) string {
	addr := "ADDR"
	if len(r.Banned) > 0 {
		addr = r.Banned[0]
	}
	switch r.Frontend {
	case "fail2ban":
		return fmt.Sprintf("If a legitimate client is banned: `fail2ban-client set sshd unbanip %s` (and add it to ignoreip in /etc/fail2ban/jail.local). Do not delete the rule.", addr)
	case "sshguard":
		return fmt.Sprintf("If a legitimate client is banned: remove it from sshguard's set (`nft delete element %s %s attackers { %s }`) and whitelist it (/etc/sshguard/whitelist).", r.Family, r.Table, addr)
	}
	for _, s := range r.Sources {
		if name, ok := strings.CutPrefix(s, "@"); ok {
			return fmt.Sprintf("If a legitimate client is in the set: `nft delete element %s %s %s { %s }`. The rule bans only those sources; do not delete it.", r.Family, r.Table, name, addr)
		}
	}
	return fmt.Sprintf("If %s must reach sshd (port %d), delete that rule (`nft delete rule %s %s %s handle %d`) where it is made persistent too.", addr, port, r.Family, r.Table, r.Chain, r.Handle)
}

// blockRemedy says how to open sshd's port with the frontend that owns
// the rule, so it does not come back at its next reload.
func blockRemedy(r *FirewallRule, port int) string {
	del := fmt.Sprintf("`sshdoctor guest repair` deletes it now (`nft delete rule %s %s %s handle %d`)", r.Family, r.Table, r.Chain, r.Handle)
	switch r.Frontend {
	case "ufw":
		return fmt.Sprintf("ufw owns the rule: `ufw allow %d/tcp` (or `ufw delete deny %d/tcp`); %s, but ufw restores it at its next reload.", port, port, del)
	case "firewalld":
		svc := "--add-service=ssh"
		if port != 22 {
			svc = fmt.Sprintf("--add-port=%d/tcp", port)
		}
		return fmt.Sprintf("firewalld owns the rule: `firewall-cmd %s --permanent && firewall-cmd --reload`; %s, but firewalld restores it at its next reload.", svc, del)
	case "iptables":
		return fmt.Sprintf("An iptables rule (iptables-nft): %s; remove it from the saved rules too (/etc/iptables/rules.v4 or /etc/sysconfig/iptables) so it does not return at boot.", del)
	}
	return fmt.Sprintf("%s; remove it from /etc/nftables.conf (or whatever loads it) so it does not return at boot.", del)
}

// unbannedByRules: the jail's bans no nftables rule shows (fail2ban on
// iptables-legacy or another backend).
func unbannedByRules(j *Fail2banJail, bans []FirewallRule) []string {
	var out []string
	for _, ip := range j.Banned {
		if !slices.ContainsFunc(bans, func(r FirewallRule) bool { return slices.Contains(r.Banned, ip) }) {
			out = append(out, ip)
		}
	}
	return out
}
