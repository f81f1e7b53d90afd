package probe

import (
	"context"
	"errors"
	"net"
	"strconv"
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

// dialViaJump connects to the jump host with the same keys and known_hosts
// rules, then opens a direct-tcpip channel to the target: the TCP layer is
// then seen from the jump host, as with ssh -J.
func dialViaJump(ctx context.Context, o Options, r *Report) (net.Conn, func()) {
	start := time.Now()
	j := &JumpResult{Host: o.Settings.ProxyJump}
	r.Jump = j
	fail := func(err error) (net.Conn, func()) {
		j.Error, j.Duration = err.Error(), since(start)
		return nil, nil
	}
	js, err := JumpSettings(ctx, o.Settings.ProxyJump)
	if err != nil {
		return fail(err)
	}
	js.ProxyJump = ""
	jo := o
	jo.Settings, jo.Exec, jo.NoAuth = js, "", false
	jr := &Report{}
	_, signers := loadIdentities(jo)
	addrs := resolve(ctx, jo, jr)
	if len(addrs) == 0 {
		return fail(errorf("resolve jump host %s: %s", js.HostName, jr.Resolve.Error))
	}
	conn := dialTCP(ctx, jo, jr, addrs)
	if conn == nil {
		last := jr.TCP.Attempts[len(jr.TCP.Attempts)-1]
		return fail(errorf("connect to jump host %s: %s", last.Address, last.Error))
	}
	kh := newKnownHosts(js)
	hk := &HostKeyResult{Strict: js.StrictHostKeyChecking}
	drv := &authDriver{opts: jo, keys: signers, ids: jr.Identities, hostKey: hk}
	cfg := &ssh.ClientConfig{
		User:            js.User,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error { return kh.check(hk, key) },
		AuthCallback:    drv.next,
		Timeout:         jo.Timeout,
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, net.JoinHostPort(js.HostName, strconv.Itoa(js.Port)), cfg)
	if err != nil {
		conn.Close()
		return fail(errorf("ssh to jump host %s@%s: %v", js.User, js.HostName, err))
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	j.Duration = since(start)

	target := net.JoinHostPort(o.Settings.HostName, strconv.Itoa(o.Settings.Port))
	t := &TCPResult{}
	r.TCP = t
	tcpStart := time.Now()
	tc, err := client.DialContext(ctx, "tcp", target)
	att := TCPAttempt{Address: target, Duration: since(tcpStart)}
	if err != nil {
		att.Outcome, att.Error = classifyChannelError(err), err.Error()
		t.Attempts = append(t.Attempts, att)
		client.Close()
		return nil, nil
	}
	att.Outcome = TCPConnected
	t.Attempts, t.Connected = append(t.Attempts, att), target
	return tc, func() { client.Close() }
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
