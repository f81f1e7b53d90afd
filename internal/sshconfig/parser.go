package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH; it stops Include loops.
const maxIncludeDepth = 16

// systemConfig is read after the user's file unless -F is given.
const systemConfig = "/etc/ssh/ssh_config"

// otherKeywords are valid ssh_config keywords that do not affect Settings.
// They are accepted in -o so that options valid for ssh are not rejected.
var otherKeywords = setOf(`addkeystoagent bindaddress bindinterface canonicaldomains
	canonicalizefallbacklocal canonicalizehostname canonicalizemaxdots
	canonicalizepermittedcnames casignaturealgorithms certificatefile
	challengeresponseauthentication channeltimeout checkhostip clearallforwardings
	compression controlmaster controlpath controlpersist dynamicforward
	enableescapecommandline enablesshkeysign escapechar exitonforwardfailure fingerprinthash
	forkafterauthentication forwardagent forwardx11 forwardx11timeout forwardx11trusted
	gatewayports gssapiauthentication gssapiclientidentity gssapidelegatecredentials
	gssapikeyexchange gssapikexalgorithms gssapirenewalforcesrekey gssapiserveridentity
	gssapitrustdns hashknownhosts hostbasedacceptedalgorithms hostbasedauthentication
	hostbasedkeytypes ipqos kbdinteractiveauthentication kbdinteractivedevices
	knownhostscommand localcommand localforward loglevel logverbose
	nohostauthenticationforlocalhost numberofpasswordprompts obscurekeystroketiming
	passwordauthentication permitlocalcommand permitremoteopen pkcs11provider
	preferredauthentications proxyusefdpass pubkeyauthentication rekeylimit
	remotecommand remoteforward requesttty requiredrsasize revokedhostkeys
	securitykeyprovider sendenv serveralivecountmax serveraliveinterval sessiontype setenv
	stdinnull streamlocalbindmask streamlocalbindunlink syslogfacility tag tcpkeepalive
	tunnel tunneldevice updatehostkeys verifyhostkeydns visualhostkey xauthlocation`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// resolveBuiltin reads the configuration like ssh: command-line values
// first, so that they win under first-obtained-value-wins, then the files.
func resolveBuiltin(q Query) (*Settings, error) {
	b := newBuilder(q.Host)
	port := ""
	if q.Port != 0 {
		port = strconv.Itoa(q.Port)
	}
	for _, f := range [][3]string{{"-l", "user", q.User}, {"-p", "port", port}, {"-J", "proxyjump", q.ProxyJump}} {
		if f[2] == "" {
			continue
		}
		if err := b.apply(f[1], []string{f[2]}, true); err != nil {
			return nil, usagef("bad %s value %q: %v", f[0], f[2], err)
		}
	}
	for _, o := range q.Options {
		key, args, err := splitLine(o)
		switch {
		case err != nil:
			return nil, usagef("bad -o %q: %v", o, err)
		case key == "":
			return nil, usagef("empty -o option; use -o Key=Value")
		case key == "host" || key == "match" || key == "include":
			return nil, usagef("bad -o %q: %s is not allowed on the command line", o, key)
		}
		err = b.apply(key, args, true)
		if err == errUnknown && !otherKeywords[key] {
			return nil, usagef("unknown option %q in -o %q; see ssh_config(5) for valid keywords", key, o)
		}
		if err != nil && err != errUnknown {
			return nil, usagef("bad -o %q: %v", o, err)
		}
	}

	files := []string{filepath.Join(b.home, ".ssh", "config"), systemConfig}
	if q.ConfigFile == "none" {
		files = nil
	} else if q.ConfigFile != "" {
		files = []string{q.ConfigFile}
	}
	for i, f := range files {
		err := b.readFile(f, q.ConfigFile == "" && i == 1, 0, true, false)
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			return nil, err
		case err != nil && q.ConfigFile != "":
			return nil, usagef("cannot read config file given with -F: %v", err)
		}
		// An unreadable default file is skipped, as ssh does.
	}
	return b.finish(sourceBuiltin), nil
}

// readFile processes one config file. active is the match state inherited
// from an enclosing Include; never forces every Host/Match in the file to
// fail, because the Include itself was in a non-matching block. The error is
// the plain read error if the file itself cannot be read, else *UsageError.
func (b *builder) readFile(path string, sys bool, depth int, active, never bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for n, line := range strings.Split(string(data), "\n") {
		key, args, err := splitLine(line)
		if err == nil {
			switch key {
			case "":
			case "host":
				if len(args) == 0 {
					err = errors.New("a Host line needs at least one pattern")
				}
				active = !never && matchPatterns(b.s.Alias, args)
			case "match":
				var m bool
				m, err = b.match(args)
				active = !never && m
			case "include":
				err = b.include(args, sys, depth, active, never)
			default:
				if err = b.apply(key, args, active); err == errUnknown {
					err = nil // files may use keywords of any ssh version
				}
			}
		}
		var ue *UsageError
		if errors.As(err, &ue) {
			return err
		} else if err != nil {
			return usagef("%s line %d: %v", path, n+1, err)
		}
	}
	return nil
}

// include reads the files matching each glob. Relative paths are relative
// to ~/.ssh for user files and /etc/ssh for the system file, as in ssh.
func (b *builder) include(args []string, sys bool, depth int, active, never bool) error {
	if len(args) == 0 {
		return errors.New("an Include line needs a file name")
	}
	if depth+1 >= maxIncludeDepth {
		return errors.New("include files nested too deeply (an Include loop?)")
	}
	for _, a := range args {
		a = includePattern(a, b.home, sys)
		matches, err := filepath.Glob(a)
		if err != nil {
			return fmt.Errorf("bad Include pattern %q: %v", a, err)
		}
		for _, m := range matches {
			err := b.readFile(m, sys, depth+1, active, never || !active)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// includePattern is an Include argument as an absolute glob: "~"
// expanded, relative paths relative to ~/.ssh for user files and /etc/ssh
// for the system file, as in ssh.
func includePattern(a, home string, sys bool) string {
	a = expandTilde(a, home)
	if filepath.IsAbs(a) {
		return a
	}
	dir := filepath.Join(home, ".ssh")
	if sys {
		dir = filepath.Dir(systemConfig)
	}
	return filepath.Join(dir, a)
}

// match evaluates a Match line. Criteria sshdoctor cannot evaluate (exec
// would run arbitrary commands; canonical, final, localnetwork, tagged need
// ssh's internal state) make the block not match, so the built-in parser
// may miss settings that ssh -G would show.
func (b *builder) match(args []string) (bool, error) {
	if len(args) == 0 {
		return false, errors.New("a Match line needs criteria")
	}
	host := b.s.Alias
	if b.s.HostName != "" {
		host = expandTokens(b.s.HostName, map[byte]string{'h': b.s.Alias})
	}
	ruser := b.s.User
	if ruser == "" {
		ruser = b.local
	}
	result := true
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		neg := strings.HasPrefix(crit, "!")
		var subject string
		switch strings.TrimPrefix(crit, "!") {
		case "all":
			result = result && !neg
			continue
		case "host":
			subject = host
		case "originalhost":
			subject = b.s.Alias
		case "user":
			subject = ruser
		case "localuser":
			subject = b.local
		default:
			return false, nil
		}
		if i++; i == len(args) {
			return false, fmt.Errorf("match criterion %q needs an argument", crit)
		}
		pats := strings.Split(strings.ToLower(args[i]), ",")
		if matchPatterns(strings.ToLower(subject), pats) == neg {
			result = false
		}
	}
	return result, nil
}

// matchPatterns reports whether s matches one of the patterns and none of
// the negated ("!pattern") ones.
func matchPatterns(s string, pats []string) bool {
	matched := false
	for _, p := range pats {
		neg := strings.HasPrefix(p, "!")
		if WildMatch(s, strings.TrimPrefix(p, "!")) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// WildMatch implements ssh's patterns (sshd's match_pattern too): only '*' and '?' are special.
func WildMatch(s, p string) bool {
	for ; p != ""; p = p[1:] {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if WildMatch(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s = s[1:]
	}
	return s == ""
}

// splitLine splits one config line like ssh: the keyword (lower-cased) ends
// at whitespace or '=', arguments may be quoted with " or ', a backslash
// escapes a quote, backslash or blank, and an unquoted '#' starting an
// argument begins a comment.
func splitLine(line string) (key string, args []string, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil, nil
	}
	key = strings.ToLower(line[:i])
	rest := strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")

	var cur strings.Builder
	var quote byte
	inArg := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		escaped := c == '\\' && i+1 < len(rest) && strings.IndexByte(`\"' `+"\t", rest[i+1]) >= 0
		switch {
		case escaped:
			i++
			cur.WriteByte(rest[i])
			inArg = true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '#' && !inArg:
			return key, args, nil
		case c == '"' || c == '\'':
			quote, inArg = c, true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quote != 0 {
		return "", nil, errors.New("unterminated quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return key, args, nil
}
