package sshconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// supported are the keywords that end up in Settings.
var supported = setOf(`hostname port user identityfile certificatefile identitiesonly identityagent
	proxyjump proxycommand addressfamily userknownhostsfile globalknownhostsfile stricthostkeychecking
	hostkeyalias hostkeyalgorithms kexalgorithms ciphers macs
	pubkeyacceptedalgorithms connecttimeout connectionattempts batchmode
	canonicalizehostname canonicaldomains canonicalizemaxdots canonicalizefallbacklocal checkhostip knownhostscommand`)

// errUnknown marks a keyword that does not affect Settings.
var errUnknown = errors.New("unknown keyword")

// builder collects values with ssh's "first obtained value wins" rule. Values
// that depend on others (tokens, defaults) are kept raw until finish.
type builder struct {
	s                Settings
	seen             map[string]bool
	ids              []string          // raw IdentityFile values
	certs            []string          // raw CertificateFile values
	userKH, globalKH []string          // raw; nil = default
	algs             map[string]string // raw algorithm lists by keyword
	home, local      string
}

func newBuilder(alias string) *builder {
	return &builder{
		s:     Settings{Alias: alias},
		seen:  map[string]bool{},
		algs:  map[string]string{},
		home:  homeDir(),
		local: localUser(),
	}
}

// apply validates one keyword (always, as ssh does even in blocks that do
// not match) and records it if active and not obtained before.
func (b *builder) apply(key string, args []string, active bool) error {
	if key == "pubkeyacceptedkeytypes" { // the pre-8.5 name
		key = "pubkeyacceptedalgorithms"
	}
	if !supported[key] {
		return errUnknown
	}
	multi := key == "userknownhostsfile" || key == "globalknownhostsfile" || key == "proxycommand" || key == "canonicaldomains" || key == "knownhostscommand"
	if len(args) == 0 {
		return fmt.Errorf("%s needs a value", key)
	}
	if len(args) > 1 && !multi {
		return fmt.Errorf("%s takes one value, got %d", key, len(args))
	}
	arg := args[0]
	set := active && !b.seen[key]
	var err error
	switch key {
	case "hostname":
		assign(set, &b.s.HostName, arg)
	case "user":
		assign(set, &b.s.User, arg)
	case "identityagent":
		assign(set, &b.s.IdentityAgent, arg)
	case "hostkeyalias":
		assign(set, &b.s.HostKeyAlias, strings.ToLower(arg))
	case "proxyjump":
		if arg != "none" {
			for _, hop := range strings.Split(arg, ",") {
				if _, _, _, _, err = ParseJump(hop); err != nil {
					break
				}
			}
		}
		assign(set, &b.s.ProxyJump, arg)
	case "addressfamily":
		switch arg = strings.ToLower(arg); arg {
		case "any", "inet", "inet6":
		default:
			err = fmt.Errorf("addressfamily %q: want any, inet or inet6", arg)
		}
		assign(set, &b.s.AddressFamily, arg)
	case "proxycommand":
		// The rest of the line, as ssh takes it.
		assign(set, &b.s.ProxyCommand, strings.Join(args, " "))
	case "knownhostscommand":
		v := strings.Join(args, " ")
		if v == "none" {
			v = ""
		}
		if terr := checkTokens(v, "%CdfHhIiKkLlnprtu"); terr != nil {
			err = usagef("KnownHostsCommand: %v (ssh refuses it when it runs the command)", terr)
		}
		assign(set, &b.s.KnownHostsCommand, v)
	case "checkhostip":
		var v bool
		v, err = parseFlag(arg)
		assign(set, &b.s.CheckHostIP, v)
	case "port":
		var p int
		p, err = parsePort(arg)
		assign(set, &b.s.Port, p)
	case "identityfile": // accumulates instead of first-wins
		if active && !slices.Contains(b.ids, arg) {
			b.ids = append(b.ids, arg)
		}
	case "certificatefile": // accumulates too
		if active && !slices.Contains(b.certs, arg) {
			b.certs = append(b.certs, arg)
		}
	case "identitiesonly", "batchmode":
		dst := &b.s.IdentitiesOnly
		if key == "batchmode" {
			dst = &b.s.BatchMode
		}
		var v bool
		v, err = parseFlag(arg)
		assign(set, dst, v)
	case "stricthostkeychecking":
		var v string
		v, err = parseStrict(arg)
		assign(set, &b.s.StrictHostKeyChecking, v)
	case "connecttimeout":
		var d time.Duration
		d, err = parseTime(arg)
		assign(set, &b.s.ConnectTimeout, d)
	case "connectionattempts":
		var n int
		if n, err = strconv.Atoi(arg); err == nil && (n < 1 || n > 100) {
			err = fmt.Errorf("connectionattempts %d: want 1-100", n)
		}
		assign(set, &b.s.ConnectionAttempts, n)
	case "canonicalizehostname":
		var v string
		switch strings.ToLower(arg) {
		case "yes", "true":
			v = "yes"
		case "no", "false":
			v = "no"
		case "always":
			v = "always"
		default:
			err = fmt.Errorf("canonicalizehostname %q: want yes, no or always", arg)
		}
		assign(set, &b.s.CanonicalizeHostname, v)
	case "canonicaldomains":
		if len(args) == 1 && strings.EqualFold(arg, "none") {
			args = nil
		}
		assign(set, &b.s.CanonicalDomains, args)
	case "canonicalizemaxdots":
		var n int
		if n, err = strconv.Atoi(arg); err == nil && n < 0 {
			err = fmt.Errorf("canonicalizemaxdots %d is negative", n)
		}
		assign(set, &b.s.CanonicalizeMaxDots, n)
		b.seen["canonicalizemaxdots-set"] = b.seen["canonicalizemaxdots-set"] || set
	case "canonicalizefallbacklocal":
		var v bool
		v, err = parseFlag(arg)
		assign(set, &b.s.CanonicalizeFallbackLocal, v)
		b.seen["canonicalizefallbacklocal-set"] = b.seen["canonicalizefallbacklocal-set"] || set
	case "userknownhostsfile":
		assign(set, &b.userKH, args)
	case "globalknownhostsfile":
		assign(set, &b.globalKH, args)
	default: // algorithm lists; modifiers are applied in finish
		if set {
			b.algs[key] = arg
		}
	}
	if err != nil {
		return err
	}
	if active {
		b.seen[key] = true
	}
	return nil
}

// assign stores v unless the keyword is inactive or already obtained. On a
// parse error v is the zero value, but apply then returns the error anyway.
func assign[T any](set bool, dst *T, v T) {
	if set {
		*dst = v
	}
}

func parseFlag(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}

func parseStrict(s string) (string, error) {
	switch v := strings.ToLower(s); v {
	case "yes", "true":
		return "yes", nil
	case "no", "false", "off":
		return "no", nil
	case "ask", "accept-new":
		return v, nil
	}
	return "", fmt.Errorf("%q is not yes, no, ask or accept-new", s)
}

// timeRE is ssh's time format: seconds, or a sequence such as "1m30s" with
// units s, m, h, d, w (either case).
var timeRE = regexp.MustCompile(`^(?i)(\d+[smhdw]?)+$`)

// parseTime parses a ConnectTimeout value; "none" is how ssh -G prints no
// timeout.
func parseTime(s string) (time.Duration, error) {
	if s == "none" {
		return 0, nil
	}
	if !timeRE.MatchString(s) {
		return 0, fmt.Errorf("%q is not a time such as 30 or 1m30s", s)
	}
	units := map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute,
		"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	var total time.Duration
	for _, m := range regexp.MustCompile(`(\d+)([a-z]?)`).FindAllStringSubmatch(strings.ToLower(s), -1) {
		n, _ := strconv.Atoi(m[1]) // digits only, checked by timeRE
		total += time.Duration(n) * units[m[2]]
	}
	return total, nil
}

// finish fills in defaults and expands tokens the way ssh does once all
// configuration has been read.
func (b *builder) finish(source string) *Settings {
	s := b.s
	s.Source = source
	if s.HostName == "" {
		s.HostName = s.Alias
	}
	s.HostName = strings.ToLower(expandTokens(s.HostName, map[byte]string{'h': s.Alias}))
	if s.User == "" {
		s.User = b.local
	}
	if s.Port == 0 {
		s.Port = 22
	}
	if s.StrictHostKeyChecking == "" {
		s.StrictHostKeyChecking = "ask"
	}
	if s.ProxyJump == "none" {
		s.ProxyJump = ""
	}
	if s.CanonicalizeHostname == "" {
		s.CanonicalizeHostname = "no"
	}
	if !b.seen["canonicalizemaxdots-set"] {
		s.CanonicalizeMaxDots = 1
	}
	if !b.seen["canonicalizefallbacklocal-set"] {
		s.CanonicalizeFallbackLocal = true
	}
	if s.ProxyCommand == "none" {
		s.ProxyCommand = ""
	}
	tokens := pathTokens(&s, b.home, b.local)
	paths := func(raw []string, defaults ...string) []string {
		if raw == nil {
			raw = defaults
		}
		out := []string{}
		for _, p := range raw {
			if p != "none" { // "none" disables the file
				out = append(out, b.expandPath(p, tokens))
			}
		}
		return out
	}
	s.IdentityFiles = paths(b.ids, "~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk",
		"~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa")
	s.CertificateFiles = paths(b.certs)
	s.UserKnownHostsFiles = paths(b.userKH, "~/.ssh/known_hosts", "~/.ssh/known_hosts2")
	s.GlobalKnownHostsFiles = paths(b.globalKH, "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
	switch a := s.IdentityAgent; {
	case a == "SSH_AUTH_SOCK" || a == "$SSH_AUTH_SOCK":
		s.IdentityAgent = ""
	case strings.HasPrefix(a, "$"):
		// ssh reads the socket path from the named variable; keep the
		// name if it is unset so the problem stays visible.
		if v := os.Getenv(a[1:]); v != "" {
			s.IdentityAgent = v
		}
	case a != "" && a != "none":
		s.IdentityAgent = b.expandPath(a, tokens)
	}
	d := OpenSSHDefaults
	s.HostKeyAlgorithms = assemble(d.HostKeyAlgorithms, b.algs["hostkeyalgorithms"])
	s.KexAlgorithms = assemble(d.KexAlgorithms, b.algs["kexalgorithms"])
	s.Ciphers = assemble(d.Ciphers, b.algs["ciphers"])
	s.MACs = assemble(d.MACs, b.algs["macs"])
	s.PubkeyAcceptedAlgorithms = assemble(d.PubkeyAcceptedAlgorithms, b.algs["pubkeyacceptedalgorithms"])
	return &s
}

func (b *builder) expandPath(p string, tokens map[byte]string) string {
	p = expandTokens(expandTilde(p, b.home), tokens)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// assemble applies an OpenSSH algorithm list to the default: "+" appends,
// "-" removes names matching the patterns, "^" moves to the front, and a
// plain list replaces the default.
func assemble(def []string, spec string) []string {
	if spec == "" {
		return slices.Clone(def)
	}
	items := slices.DeleteFunc(strings.Split(spec[1:], ","), func(s string) bool { return s == "" })
	appendNew := func(out, add []string) []string {
		for _, a := range add {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		return out
	}
	switch spec[0] {
	case '+':
		return appendNew(slices.Clone(def), items)
	case '-':
		return slices.DeleteFunc(slices.Clone(def), func(a string) bool { return matchPatterns(a, items) })
	case '^':
		return appendNew(appendNew(nil, items), def)
	}
	return slices.DeleteFunc(strings.Split(spec, ","), func(s string) bool { return s == "" })
}

// checkTokens refuses %-tokens outside allowed, as ssh does when it
// expands the value.
func checkTokens(v, allowed string) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 == len(v) {
			return fmt.Errorf("%q ends with a lone %%", v)
		}
		i++
		if !strings.ContainsRune(allowed, rune(v[i])) {
			return fmt.Errorf("unknown token %%%c in %q", v[i], v)
		}
	}
	return nil
}
