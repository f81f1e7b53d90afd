package guest

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// SSHDLog is the tail of sshd's log: its recent refusals and errors.
type SSHDLog struct {
	Source string   `json:"source"` // /var/log/auth.log, /var/log/secure or journalctl
	Lines  []string `json:"lines"`  // oldest first, at most logKeep
}

const (
	logTail = 256 << 10 // bytes read from the end of a log file
	logKeep = 10        // refusal lines kept
)

// refusals are sshd's messages that say why a login or a connection was
// refused.
var refusals = []string{
	"Authentication refused", "not allowed because", "Invalid user", "invalid user",
	"maximum authentication attempts exceeded", "Too many authentication failures",
	"Connection closed by authenticating user", "Failed password", "Failed publickey",
	"User account has expired", "Your password has expired", "refused connect from",
	"Unable to negotiate", "no hostkey alg", "Could not load host key", "Bad protocol version",
	"Bad ownership or modes", "Disconnecting", "error:", "fatal:",
}

// sshdLog reads the tail of the syslog auth file, or else sshd's journal.
func sshdLog(ctx context.Context, root string) *SSHDLog {
	for _, file := range []string{"/var/log/auth.log", "/var/log/secure"} {
		if data, err := readTail(root+file, logTail); err == nil {
			return &SSHDLog{Source: file, Lines: sshdRefusals(string(data), true)}
		}
	}
	bin, err := exec.LookPath("journalctl")
	if err != nil || root != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-u", "ssh", "-u", "sshd", "-n", "200", "--no-pager", "-o", "short-iso").Output()
	if err != nil {
		return nil
	}
	return &SSHDLog{Source: "journalctl -u ssh -u sshd", Lines: sshdRefusals(string(out), false)}
}

// readTail returns at most n bytes from the end of file, from the first
// whole line on.
func readTail(file string, n int64) ([]byte, error) {
	fd, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	data, err := io.ReadAll(io.NewSectionReader(fd, off, st.Size()-off))
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if i := strings.IndexByte(string(data), '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, nil
}

// sshdRefusals keeps the last logKeep refusal lines; from a syslog file
// only sshd's own (sshd[PID]:, sshd-session[PID]: in OpenSSH ≥ 9.8).
func sshdRefusals(text string, syslog bool) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || syslog && !fromSSHD(l) {
			continue
		}
		for _, r := range refusals {
			if strings.Contains(l, r) {
				out = append(out, l)
				break
			}
		}
	}
	if len(out) > logKeep {
		out = out[len(out)-logKeep:]
	}
	return out
}

func fromSSHD(l string) bool {
	for _, p := range []string{" sshd[", " sshd:", " sshd-session[", " sshd-auth["} {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}
