package probe

import (
	"bytes"
	"errors"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// runSession opens one session and runs the --exec command in it, or
// `true` when none was given (what `ssh host true` asks).
func runSession(client *ssh.Client, conn net.Conn, o Options) *SessionResult {
	start := time.Now()
	res := &SessionResult{Command: o.Exec}
	if o.Exec == "" {
		res.Command, res.Default = DefaultSessionCommand, true
	}
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
	// The marker line, printed by the user's shell just before the
	// command, shows that the command asked for is what ran: with a
	// ForceCommand, a command= key option or a restricted shell, the
	// server runs something else and the marker never comes.
	err = sess.Run("printf '%s\\n' " + execMarker + "; " + res.Command)
	out := stdout.Bytes()
	if i := bytes.Index(out, []byte(execMarker+"\n")); i >= 0 {
		// Whatever a shell profile printed before it stays.
		stdout = *bytes.NewBuffer(append(append([]byte(nil), out[:i]...), out[i+len(execMarker)+1:]...))
	} else {
		res.NotRun = true
	}
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

// DefaultSessionCommand is what the session runs when no --exec command
// was given: the question is whether a session opens and ends well.
const DefaultSessionCommand = "true"

// execMarker is the line printed before the --exec command.
const execMarker = "sshdoctor-exec-start-7f3a"
