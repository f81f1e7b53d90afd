package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// JumpSettings resolves the ProxyJump host's own client settings; the CLI
// sets it (it needs the user's config), tests may replace it.
var JumpSettings = func(ctx context.Context, jump string) (*sshconfig.Settings, error) {
	user, host, port, _, err := sshconfig.ParseJump(jump)
	if err != nil {
		return nil, err
	}
	return sshconfig.Resolve(ctx, sshconfig.Query{Host: host, User: user, Port: port})
}

// dialViaJump connects through the ProxyJump chain ("a,b,c": a is dialled
// directly, b through a, c through b), each hop with its own client
// settings and the same keys, then opens a direct-tcpip channel from the
// last hop to the target: the TCP layer is then seen from the last jump
// host, as with ssh -J.
func dialViaJump(ctx context.Context, o Options, r *Report) (net.Conn, func()) {
	start := time.Now()
	j := &JumpResult{Host: o.Settings.ProxyJump}
	r.Jump = j
	var clients []*ssh.Client
	closeAll := func() {
		for i := len(clients) - 1; i >= 0; i-- {
			clients[i].Close()
		}
	}
	fail := func(err error) (net.Conn, func()) {
		closeAll()
		j.Error, j.Duration = err.Error(), since(start)
		return nil, nil
	}
	hops := strings.Split(o.Settings.ProxyJump, ",")
	for i, hop := range hops {
		hop = strings.TrimSpace(hop)
		js, err := JumpSettings(ctx, hop)
		if err != nil {
			return fail(err)
		}
		// The chain is this ProxyJump; a hop's own proxy settings do
		// not apply inside it (as ssh -J).
		js.ProxyJump, js.ProxyCommand = "", ""
		jo := o
		jo.Settings, jo.Exec, jo.NoAuth = js, "", false
		jr := &Report{}
		_, signers := loadIdentities(jo)
		label := hop
		if len(hops) > 1 {
			label = fmt.Sprintf("%s (hop %d of %d)", hop, i+1, len(hops))
		}
		var conn net.Conn
		addr := net.JoinHostPort(js.HostName, strconv.Itoa(js.Port))
		if i == 0 {
			addrs := resolve(ctx, jo, jr)
			if len(addrs) == 0 {
				return fail(errorf("resolve jump host %s: %s", label, jr.Resolve.Error))
			}
			if conn = dialTCP(ctx, jo, jr, addrs); conn == nil {
				last := jr.TCP.Attempts[len(jr.TCP.Attempts)-1]
				return fail(errorf("connect to jump host %s at %s: %s", label, last.Address, last.Error))
			}
		} else {
			c, err := clients[i-1].DialContext(ctx, "tcp", addr)
			if err != nil {
				return fail(errorf("connect to jump host %s through %s: %v", label, strings.TrimSpace(hops[i-1]), err))
			}
			conn = c
		}
		kh := newKnownHosts(js)
		hk := &HostKeyResult{Strict: js.StrictHostKeyChecking}
		drv := &authDriver{opts: jo, keys: signers, ids: jr.Identities, hostKey: hk}
		cfg := &ssh.ClientConfig{
			User:            js.User,
			HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error { return kh.check(hk, key, remote) },
			AuthCallback:    drv.next,
			Timeout:         jo.Timeout,
		}
		_ = conn.SetDeadline(time.Now().Add(o.Timeout))
		c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
		if err != nil {
			conn.Close()
			return fail(errorf("ssh to jump host %s@%s: %v", js.User, label, err))
		}
		_ = conn.SetDeadline(time.Time{})
		clients = append(clients, ssh.NewClient(c, chans, reqs))
	}
	j.Duration = since(start)

	target := net.JoinHostPort(o.Settings.HostName, strconv.Itoa(o.Settings.Port))
	t := &TCPResult{}
	r.TCP = t
	tcpStart := time.Now()
	tc, err := clients[len(clients)-1].DialContext(ctx, "tcp", target)
	att := TCPAttempt{Address: target, Duration: since(tcpStart)}
	if err != nil {
		att.Outcome, att.Error = classifyChannelError(err), err.Error()
		t.Attempts = append(t.Attempts, att)
		closeAll()
		return nil, nil
	}
	att.Outcome = TCPConnected
	t.Attempts, t.Connected = append(t.Attempts, att), target
	return tc, closeAll
}

// classifyChannelError maps the jump host's answer to a direct-tcpip request
// (OpenSSH passes the connect(2) error text) onto TCP outcomes.
func classifyChannelError(err error) TCPOutcome {
	var oc *ssh.OpenChannelError
	if !errors.As(err, &oc) {
		return TCPError
	}
	switch oc.Message {
	case "Connection refused":
		return TCPRefused
	case "Connection timed out":
		return TCPTimeout
	case "No route to host", "Network is unreachable":
		return TCPUnreachable
	}
	return TCPError
}
