// Package sshconfig works out the settings the user's OpenSSH client would
// use to connect to a host: the effective values after ~/.ssh/config (or -F),
// command-line flags and -o options.
//
// sshdoctor diagnoses the connection ssh would really make, not one with
// textbook defaults, so Resolve asks the installed client (`ssh -G`) whenever
// it can: only ssh itself knows every keyword, Match criterion and
// distribution patch. A built-in ssh_config(5) parser covering the settings
// sshdoctor cares about is the fallback when no ssh binary is available.
package sshconfig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Query is what the user asked for on the command line.
type Query struct {
	Host       string   // alias or host name as typed (no user, no port)
	User       string   // -l or user@ part; "" = not given
	Port       int      // -p or :port; 0 = not given
	ConfigFile string   // -F; "" = default (~/.ssh/config and /etc/ssh/ssh_config)
	ProxyJump  string   // -J; "" = not given
	Options    []string // -o values exactly as typed, "Key=Value" or "Key Value"
	SSHPath    string   // ssh binary for `ssh -G`; "" = look up "ssh" in PATH; "-" = never use ssh, force the built-in parser
	// LookupHost resolves names for the built-in parser's
	// CanonicalizeHostname; nil = the system resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Settings are the effective client settings for one host.
type Settings struct {
	Alias          string   // Query.Host
	HostName       string   // after HostName substitution (%h tokens expanded), lower case as ssh uses it
	User           string   // effective user (default: current user's name)
	Port           int      // default 22
	IdentityFiles  []string // in order, "~" and tokens expanded, absolute paths; "none" entries dropped
	IdentitiesOnly bool
	IdentityAgent  string // "" = use SSH_AUTH_SOCK; "none" = no agent; else path
	ProxyJump      string // "" when not set ("none" is normalised to "")
	// CertificateFiles are the CertificateFile values, expanded like
	// IdentityFiles. When there are any, ssh does not look for KEY-cert.pub.
	CertificateFiles []string
	// ProxyCommand is the command ssh would run instead of connecting
	// (raw: %h %p %r %n %% not yet expanded); "" when not set or "none".
	ProxyCommand string
	// AddressFamily is "any", "inet" (-4) or "inet6" (-6); "" = any.
	AddressFamily string
	// ConnectionAttempts: connect tries, a second apart (ssh's; 0 = 1).
	ConnectionAttempts       int
	UserKnownHostsFiles      []string // expanded, absolute; empty for "none"
	GlobalKnownHostsFiles    []string // expanded, absolute; empty for "none"
	StrictHostKeyChecking    string   // "yes", "no", "ask" or "accept-new"
	HostKeyAlias             string   // lower case, as ssh uses it
	HostKeyAlgorithms        []string
	KexAlgorithms            []string
	Ciphers                  []string
	MACs                     []string
	PubkeyAcceptedAlgorithms []string
	ConnectTimeout           time.Duration // 0 = none
	BatchMode                bool
	// CheckHostIP: ssh also looks the server's address up in known_hosts
	// and refuses (strict) or warns about a different key there.
	CheckHostIP bool
	// KnownHostsCommand prints more known_hosts lines (raw: tokens not
	// expanded); "" when not set.
	KnownHostsCommand string
	// CanonicalizeHostname is "no", "yes" or "always"; CanonicalDomains,
	// CanonicalizeMaxDots (default 1) and CanonicalizeFallbackLocal
	// (default yes) go with it. ssh -G has applied them to HostName
	// already; with the built-in parser Resolve applies them as ssh does.
	CanonicalizeHostname      string
	CanonicalDomains          []string
	CanonicalizeMaxDots       int
	CanonicalizeFallbackLocal bool
	// CanonicalFrom is the name as typed when canonicalisation changed
	// HostName.
	CanonicalFrom string
	Source        string // "ssh -G" or "built-in parser"
	Cached        bool   // ssh -G's answer came from the cache (see sshgcache.go)
}

const (
	sourceSSH     = "ssh -G"
	sourceBuiltin = "built-in parser"
)

// UsageError reports input the user must fix (bad -o option, unknown key,
// bad value, host starting with '-', unreadable -F file). Callers map it to
// exit code 2.
type UsageError struct{ Msg string }

// Error returns the one-line message saying what to fix.
func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) *UsageError {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// Resolve returns the effective settings for q. It runs `ssh -G` when an ssh
// binary is available (see Query.SSHPath) and uses the built-in parser
// otherwise. Errors caused by the user's input are *UsageError. An explicit
// SSHPath that cannot be run is an error, not a reason to fall back, because
// the user asked for that binary.
func Resolve(ctx context.Context, q Query) (*Settings, error) {
	if q.Host == "" {
		return nil, usagef("no host given")
	}
	// ssh would parse a leading '-' as an option, and "--" is not a safe
	// separator for every ssh build, so such names are refused outright.
	if strings.HasPrefix(q.Host, "-") {
		return nil, usagef("host %q must not start with '-'", q.Host)
	}
	if q.Port < 0 || q.Port > 65535 {
		return nil, usagef("port %d is out of range 1-65535", q.Port)
	}
	sshPath := q.SSHPath
	if sshPath == "" {
		sshPath = "-"
		if p, err := exec.LookPath("ssh"); err == nil {
			sshPath = p
		}
	}
	if sshPath != "-" {
		// ssh -G applies CanonicalizeHostname itself (and fails as ssh
		// does when no name resolves and there is no fallback).
		return resolveSSH(ctx, sshPath, q)
	}
	s, err := resolveBuiltin(q)
	if err != nil {
		return nil, err
	}
	lookup := q.LookupHost
	if lookup == nil {
		lookup = defaultLookup
	}
	if err := canonicalize(ctx, s, lookup); err != nil {
		return nil, err
	}
	return s, nil
}

// homeDir prefers $HOME, like most tools the user runs, and falls back to
// the password database.
func homeDir() string {
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

// localUser is the name ssh defaults the remote user to.
func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// expandTokens replaces ssh_config(5) %-tokens; unknown tokens are kept
// verbatim so the result still shows what the user wrote.
func expandTokens(s string, tokens map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
		} else if v, ok := tokens[s[i]]; ok {
			b.WriteString(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// expandTilde handles "~", "~/path" and "~user/path" as ssh does.
func expandTilde(s, home string) string {
	if !strings.HasPrefix(s, "~") {
		return s
	}
	name, rest, _ := strings.Cut(s[1:], "/")
	if name == "" {
		return filepath.Join(home, rest)
	}
	if u, err := user.Lookup(name); err == nil {
		return filepath.Join(u.HomeDir, rest)
	}
	return s
}

// pathTokens are the tokens ssh expands in IdentityFile, known hosts files
// and IdentityAgent (%l, %L, %C and the like are left as written).
func pathTokens(s *Settings, home, local string) map[byte]string {
	return map[byte]string{
		'd': home,
		'u': local,
		'h': s.HostName,
		'r': s.User,
		'p': strconv.Itoa(s.Port),
		'n': s.Alias,
		'i': strconv.Itoa(os.Getuid()),
	}
}
