package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExpandProxyCommand expands a ProxyCommand's tokens as ssh does for it:
// %h the host name (after HostName), %p the port, %r the remote user, %n
// the host as typed, %% a percent sign. An unknown token is an error.
func ExpandProxyCommand(cmd, host string, port int, user, original string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' {
			b.WriteByte(cmd[i])
			continue
		}
		if i+1 == len(cmd) {
			return "", errors.New("ProxyCommand ends with a lone %")
		}
		i++
		switch cmd[i] {
		case 'h':
			b.WriteString(host)
		case 'p':
			b.WriteString(strconv.Itoa(port))
		case 'r':
			b.WriteString(user)
		case 'n':
			b.WriteString(original)
		case '%':
			b.WriteByte('%')
		default:
			return "", errors.New("ProxyCommand has an unknown token %" + string(cmd[i]))
		}
	}
	return b.String(), nil
}

// cmdConn is SSH over a ProxyCommand's stdin and stdout: the pipes are
// the connection, with deadlines (pipes are pollable files).
type cmdConn struct {
	cmd    *exec.Cmd
	in     *os.File // the command's stdin, written by us
	out    *os.File // its stdout, read by us
	stderr *tailBuffer
	start  time.Time
	done   chan struct{}
	once   sync.Once
	// early: the command had ended before we closed the connection.
	early bool
}

func (c *cmdConn) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *cmdConn) Write(p []byte) (int, error) { return c.in.Write(p) }
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		select {
		case <-c.done:
			c.early = true
		default:
		}
		c.in.Close()
		c.out.Close()
		select {
		case <-c.done:
		case <-time.After(time.Second):
			// ssh, too, kills its ProxyCommand when it is done with it;
			// one that ignores SIGTERM gets SIGKILL.
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(time.Second):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
	})
	return nil
}
func (c *cmdConn) LocalAddr() net.Addr  { return proxyAddr("local") }
func (c *cmdConn) RemoteAddr() net.Addr { return proxyAddr(strings.Join(c.cmd.Args[2:], " ")) }
func (c *cmdConn) SetDeadline(t time.Time) error {
	return errors.Join(c.out.SetReadDeadline(t), c.in.SetWriteDeadline(t))
}
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return c.out.SetReadDeadline(t) }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return c.in.SetWriteDeadline(t) }

type proxyAddr string

func (proxyAddr) Network() string  { return "proxycommand" }
func (a proxyAddr) String() string { return string(a) }

// finish closes the connection, waits for the command and records how it
// ended.
func (c *cmdConn) finish(res *ProxyResult) {
	c.Close()
	res.Duration = since(c.start)
	res.Stderr = strings.TrimSpace(c.stderr.String())
	res.Exited = c.early
	if st := c.cmd.ProcessState; st != nil {
		// A non-zero status is its own failure, whenever it came.
		res.ExitCode = st.ExitCode()
		res.Exited = res.Exited || res.ExitCode > 0
	}
}

// dialViaCommand starts the ProxyCommand as ssh does (/bin/sh -c "exec
// COMMAND") and speaks SSH over its stdin and stdout; the TCP layer is the
// command's business and is not observed.
func dialViaCommand(ctx context.Context, o Options, r *Report) *cmdConn {
	s := o.Settings
	start := time.Now()
	res := &ProxyResult{}
	r.Proxy = res
	cmdline, err := ExpandProxyCommand(s.ProxyCommand, s.HostName, s.Port, s.User, s.Alias)
	if err != nil {
		res.Error = err.Error()
		return nil
	}
	res.Command = cmdline
	inR, inW, err := os.Pipe()
	if err != nil {
		res.Error = err.Error()
		return nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		res.Error = err.Error()
		return nil
	}
	cmd := exec.Command("/bin/sh", "-c", "exec "+cmdline)
	// Children that keep stderr open must not hold the check.
	cmd.WaitDelay = 2 * time.Second
	tail := &tailBuffer{max: 2048}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, tail
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		res.Error, res.Duration = err.Error(), since(start)
		return nil
	}
	inR.Close()
	outW.Close()
	c := &cmdConn{cmd: cmd, in: inW, out: outR, stderr: tail, start: start, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	go func() {
		// The check's context ends the command too.
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		case <-c.done:
		}
	}()
	return c
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
