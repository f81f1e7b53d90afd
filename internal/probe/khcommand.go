package probe

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// KnownHostsCommand (ssh_config(5)): a command whose output is more
// known_hosts lines, read after the files. ssh runs it without a shell,
// its words split and each expanded on its own, once to order the
// host-key algorithms (%I = ORDER, no key yet) and once for the key the
// server presents (%I = HOSTNAME, %K %f %t set).

const (
	khCommandTimeout = 10 * time.Second
	khCommandMaxOut  = 1 << 20
)

// runKnownHostsCommand runs the command for reason and returns a temp file
// holding its output (removed by the caller) or an error that says why
// nothing was read.
func runKnownHostsCommand(s *sshconfig.Settings, lookup, reason string, key ssh.PublicKey) (string, error) {
	words, err := splitWords(s.KnownHostsCommand)
	if err != nil || len(words) == 0 {
		return "", fmt.Errorf("KnownHostsCommand %q: %v", s.KnownHostsCommand, err)
	}
	tokens := khTokens(s, lookup, reason, key)
	for i, w := range words {
		if words[i], err = expandKHTokens(w, tokens); err != nil {
			return "", fmt.Errorf("KnownHostsCommand: %v", err)
		}
	}
	if strings.HasPrefix(words[0], "~/") {
		home, _ := os.UserHomeDir()
		words[0] = filepath.Join(home, words[0][2:])
	}
	if !filepath.IsAbs(words[0]) {
		// ssh runs only a program named by an absolute path.
		return "", fmt.Errorf("KnownHostsCommand %s is not an absolute path: ssh does not run it", words[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), khCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, words[0], words[1:]...)
	var out bytes.Buffer
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = &limitWriter{w: &out, n: khCommandMaxOut}, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("KnownHostsCommand %s exited %d: %s", words[0], ee.ExitCode(), strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("KnownHostsCommand %s: %v", words[0], err)
	}
	f, err := os.CreateTemp("", "sshdoctor-khcmd-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	// ssh skips lines it cannot read; x/crypto's reader refuses the whole
	// file, so only lines that parse are kept.
	var keep bytes.Buffer
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			if _, _, _, _, _, err := ssh.ParseKnownHosts(t); err == nil {
				keep.Write(t)
				keep.WriteByte('\n')
			}
		}
	}
	if _, err := f.Write(keep.Bytes()); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// khTokens are ssh_config(5)'s TOKENS for KnownHostsCommand.
func khTokens(s *sshconfig.Settings, lookup, reason string, key ssh.PublicKey) map[byte]string {
	local, _ := os.Hostname()
	short, _, _ := strings.Cut(local, ".")
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	port := strconv.Itoa(s.Port)
	alias := s.HostKeyAlias
	if alias == "" {
		alias = s.Alias
	}
	sum := sha1.Sum([]byte(local + s.HostName + port + s.User))
	t := map[byte]string{
		'%': "%", 'C': hex.EncodeToString(sum[:]), 'd': home, 'H': lookup, 'h': s.HostName, 'I': reason,
		'i': strconv.Itoa(os.Getuid()), 'k': alias, 'L': short, 'l': local, 'n': s.Alias, 'p': port,
		'r': s.User, 'u': user, 'K': "", 'f': "", 't': "",
	}
	if key != nil {
		t['K'] = base64.StdEncoding.EncodeToString(key.Marshal())
		t['f'] = ssh.FingerprintSHA256(key)
		t['t'] = key.Type()
	}
	return t
}

func expandKHTokens(s string, tokens map[byte]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("a lone % at the end")
		}
		i++
		v, ok := tokens[s[i]]
		if !ok {
			return "", fmt.Errorf("unknown token %%%c", s[i])
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// splitWords splits a command line as ssh's argv_split does: blanks
// separate words, single and double quotes group, a backslash escapes.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote byte
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && quote != '\'':
			i++
			cur.WriteByte(s[i])
			in = true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// withCommandLines rebuilds the callback over the files and the command's
// output for reason (and the key, when known); the output's @ lines join
// the markers.
func (k *knownHosts) withCommandLines(reason string, key ssh.PublicKey) {
	if k.settings == nil || k.settings.KnownHostsCommand == "" {
		return
	}
	k.cmdErr = nil
	tmp, err := runKnownHostsCommand(k.settings, k.name, reason, key)
	if err != nil {
		k.cmdErr = err
		return
	}
	defer os.Remove(tmp)
	files := append(append([]string(nil), k.files...), tmp)
	cb, err := knownhosts.New(files...)
	if err != nil {
		k.cmdErr = fmt.Errorf("KnownHostsCommand output: %v", err)
		return
	}
	k.cb = cb
	k.cmdFile = true
	for _, m := range readMarkers(tmp, k.name) {
		m.entry.File = "KnownHostsCommand"
		k.markers = append(k.markers, m)
	}
}

// checkIP is CheckHostIP: the address the connection reached is looked up
// too, and a different key recorded for it is refused as ssh refuses it
// (StrictHostKeyChecking yes or ask, as BatchMode answers no) or noted.
func (k *knownHosts) checkIP(hk *HostKeyResult, remote net.Addr, key ssh.PublicKey) error {
	if !k.checkHostIP || k.cb == nil || remote == nil {
		return nil
	}
	ta, ok := remote.(*net.TCPAddr)
	if !ok || ta.IP == nil || ta.IP.IsLoopback() {
		// ssh turns CheckHostIP off through a proxy and for a loopback
		// address.
		return nil
	}
	ipName := knownhosts.Normalize(net.JoinHostPort(ta.IP.String(), strconv.Itoa(ta.Port)))
	if ipName == k.name {
		return nil
	}
	err := k.cb(ipName, remoteAddr(ipName), key)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	hk.IPName = ipName
	for _, w := range ke.Want {
		hk.IPMismatch = append(hk.IPMismatch, entry(w))
	}
	if k.strict == "yes" || k.strict == "ask" {
		return &errHostKey{verdict: "ip_mismatch"}
	}
	return nil
}
