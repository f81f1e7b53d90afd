package probe

import (
	"bytes"
	"errors"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// runSession opens one session and runs the --exec command in it.
func runSession(client *ssh.Client, conn net.Conn, o Options) *SessionResult {
	start := time.Now()
	res := &SessionResult{Command: o.Exec}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	defer func() { res.Duration = since(start) }()
	sess, err := client.NewSession()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer sess.Close()
	res.Opened = true
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	err = sess.Run(o.Exec)
	res.Stdout, res.Stderr = trimOutput(&stdout), trimOutput(&stderr)
	var ee *ssh.ExitError
	switch {
	case err == nil:
		zero := 0
		res.ExitStatus = &zero
	case errors.As(err, &ee):
		st := ee.ExitStatus()
		res.ExitStatus = &st
	default:
		res.Error = err.Error()
	}
	return res
}
