package sshconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// resolveSSH asks the ssh client itself via `ssh -G`. Flags come before the
// -o options, as typed by a user running `ssh -p ... -o ...`, so that they
// win over -o just as they do in ssh.
func resolveSSH(ctx context.Context, sshPath string, q Query) (*Settings, error) {
	args := []string{"-G"}
	if q.ConfigFile != "" {
		args = append(args, "-F", q.ConfigFile)
	}
	if q.Port != 0 {
		args = append(args, "-p", strconv.Itoa(q.Port))
	}
	if q.User != "" {
		args = append(args, "-l", q.User)
	}
	if q.ProxyJump != "" {
		args = append(args, "-J", q.ProxyJump)
	}
	for _, o := range q.Options {
		args = append(args, "-o", o)
	}
	args = append(args, q.Host)

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ssh -G: %w", err)
	}
	dir, key := "", ""
	if optionsCacheable(q.Options) {
		dir, key = cacheDir(), cacheKey(sshPath, args)
	}
	out, cached := cacheGet(dir, key)
	if !cached {
		// The files are read only on a miss, and before ssh -G runs, so a
		// change during its run is a miss next time.
		var deps []fileID
		filesOK := false
		if dir != "" {
			deps, filesOK = configDeps(sshPath, q)
		}
		var err error
		if out, err = runSSHG(ctx, sshPath, q.Host, args); err != nil {
			return nil, err
		}
		if filesOK {
			cachePut(dir, key, deps, out)
		}
	}
	s, err := parseSSHG(q.Host, out)
	if err != nil {
		return nil, err
	}
	s.Cached = cached
	return s, nil
}

// runSSHG runs ssh -G and returns what it printed.
func runSSHG(ctx context.Context, sshPath, host string, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, sshPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A "Match exec" command started by ssh may keep the pipes open after
	// ssh is killed on cancellation; don't wait for it forever.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return "", fmt.Errorf("ssh -G: %w", ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		// ssh -G only fails on bad options, config files or host names,
		// all of which the user has to fix.
		if msg := firstMessage(stderr.String()); msg != "" {
			return "", usagef("ssh rejected your options or config: %s", msg)
		}
		return "", fmt.Errorf("%s -G %s: %w", sshPath, host, err)
	}
	if err != nil {
		return "", fmt.Errorf("running %s -G: %w", sshPath, err)
	}

	return stdout.String(), nil
}

// parseSSHG reads ssh -G's output.
func parseSSHG(host, out string) (*Settings, error) {
	b := newBuilder(host)
	for _, line := range strings.Split(out, "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		// ssh -G prints values unquoted: only the known hosts lists are
		// space-separated, everything else is one value (paths may
		// contain spaces).
		vals := []string{val}
		if key == "userknownhostsfile" || key == "globalknownhostsfile" || key == "canonicaldomains" {
			vals = strings.Fields(val)
		}
		err := b.apply(key, vals, true)
		var ue *UsageError
		if errors.As(err, &ue) {
			return nil, err
		}
		if err != nil && err != errUnknown {
			return nil, fmt.Errorf("unexpected ssh -G output %q: %w", line, err)
		}
	}
	return b.finish(sourceSSH), nil
}

// firstMessage returns the first line of ssh's stderr that is about the
// user's input, skipping the tty notice ssh prints even for -G.
func firstMessage(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "Pseudo-terminal will not be allocated") {
			return line
		}
	}
	return ""
}
