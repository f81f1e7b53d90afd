package cli

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/probe"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sourceAddr is the client's address as the VM sees it: --source-ip, else
// the local address of the check's connection, else the address the
// kernel would send from (a UDP "connect" sends nothing).
func sourceAddr(o *FixOptions, r *probe.Report) (netip.Addr, error) {
	if o.SourceIP != "" {
		return netip.ParseAddr(o.SourceIP)
	}
	if r.TCP != nil && r.TCP.Local != "" {
		if ap, err := netip.ParseAddrPort(r.TCP.Local); err == nil {
			return ap.Addr().Unmap(), nil
		}
	}
	host := r.Target.HostName
	if r.Resolve != nil && len(r.Resolve.Addresses) > 0 {
		host = r.Resolve.Addresses[0]
	}
	conn, err := net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(r.Target.Port)))
	if err != nil {
		return netip.Addr{}, nil // unknown: NSG steps will ask for --source-ip
	}
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, nil
	}
	a := ap.Addr().Unmap()
	if o.Provider == "azure" && (a.IsPrivate() || a.IsLoopback()) {
		// Behind NAT: Azure sees another address. Unknown, so the plan
		// asks for --source-ip rather than opening the wrong one.
		return netip.Addr{}, nil
	}
	return a, nil
}

// clientKeys are the public keys the client offers: each identity file's
// .pub (or the unencrypted key itself), then the agent's keys.
func clientKeys(r *probe.Report, agentSock string) []ssh.PublicKey {
	var keys []ssh.PublicKey
	seen := map[string]bool{}
	addKey := func(k ssh.PublicKey) {
		if k != nil && !seen[string(k.Marshal())] {
			seen[string(k.Marshal())] = true
			keys = append(keys, k)
		}
	}
	for _, id := range r.Identities {
		if id.Source != "file" || id.Path == "" || id.Problem == "missing" {
			continue
		}
		if data, err := os.ReadFile(id.Path + ".pub"); err == nil {
			if k, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
				addKey(k)
				continue
			}
		}
		if data, err := os.ReadFile(id.Path); err == nil {
			if s, err := ssh.ParsePrivateKey(data); err == nil {
				addKey(s.PublicKey())
			}
		}
	}
	if agentSock != "" {
		if conn, err := net.DialTimeout("unix", agentSock, 2*time.Second); err == nil {
			defer conn.Close()
			if list, err := agent.NewClient(conn).List(); err == nil {
				for _, k := range list {
					if pk, err := ssh.ParsePublicKey(k.Marshal()); err == nil {
						addKey(pk)
					}
				}
			}
		}
	}
	return keys
}
