package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// The differential test: for each pair of a server set-up and a client
// set-up, the real `ssh -o BatchMode=yes … true` and `sshdoctor check` run
// against the same real sshd with the same options, and check's verdict
// ("SSH works", exit 0) must be ssh's outcome (exit 0). A disagreement is a
// failure unless the case documents it as deliberate.

// diffEnv is one case's world: the server, the client's key and files.
type diffEnv struct {
	t      *testing.T
	srv    *sshdtest.Server
	key    sshdtest.Key // the authorized key, offered with -i unless noKey
	dir    string
	kh     string // UserKnownHostsFile, holding the server's keys
	user   string
	opts   []string // -o options for both clients
	args   []string // further flags for both (before the target)
	env    []string // extra environment for both
	noKey  bool     // offer no -i
	target string   // host; default 127.0.0.1
	config string   // -F for both; default "none"
}

type diffCase struct {
	name string
	// Server side.
	config       []string // sshd_config lines
	users        []sshdtest.User
	hostKeyTypes []string
	// Client side.
	user string   // login user; default root
	opts []string // -o options
	// setup changes files or the environment after the server started.
	setup func(e *diffEnv)
	// works is what ssh is expected to do here; the test fails if ssh
	// does not, so that every row is the case it claims to be.
	works bool
	// finding: an ID check must report when it fails (optional).
	finding string
	// deliberate: why check's verdict may differ from ssh's (empty: it
	// must agree).
	deliberate string
}

func diffUsers() []sshdtest.User {
	return []sshdtest.User{
		{Name: "sdd-false", UID: 61001, Shell: "/bin/false"},
		{Name: "sdd-nologin", UID: 61002, Shell: "/usr/sbin/nologin"},
		{Name: "sdd-sh", UID: 61003, Shell: "/bin/sh", Home: "/"},
		{Name: "sdd-pwexpired", UID: 61004, Shell: "/bin/sh", Home: "/", Password: "old-secret", PasswordChanged: "0"},
		{Name: "sdd-expired", UID: 61005, Shell: "/bin/sh", Home: "/", Expires: "1"},
	}
}

func writeMode(t *testing.T, path, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

// authorize rewrites authorized_keys with the key behind options.
func (e *diffEnv) authorize(options string) {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.key.Public)))
	if options != "" {
		line = options + " " + line
	}
	writeMode(e.t, filepath.Join(e.srv.Dir, "authorized_keys"), line+"\n", 0o644)
}

func (e *diffEnv) knownHostsLine(marker string, keys ...ssh.PublicKey) string {
	var b strings.Builder
	for _, k := range keys {
		if marker != "" {
			b.WriteString(marker + " ")
		}
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, k) + "\n")
	}
	return b.String()
}

func diffCases() []diffCase {
	otherKey := func(e *diffEnv) ssh.PublicKey { return sshdtest.NewKey(e.t, "ed25519", "").Public }
	return []diffCase{
		// --- the baseline
		{name: "healthy", works: true},
		{name: "healthy, RSA host key only", hostKeyTypes: []string{"rsa"}, works: true},
		{name: "healthy, ECDSA and ed25519 host keys, only ECDSA known", hostKeyTypes: []string{"ed25519", "ecdsa"},
			setup: func(e *diffEnv) { writeMode(e.t, e.kh, e.knownHostsLine("", e.srv.HostKeys[1]), 0o644) }, works: true},
		{name: "a login banner", config: []string{"Banner /etc/issue.net"}, works: true},

		// --- authentication refused by the server
		{name: "key not authorized", setup: func(e *diffEnv) { writeMode(e.t, filepath.Join(e.srv.Dir, "authorized_keys"), "", 0o644) },
			finding: "auth.publickey_rejected"},
		{name: "PubkeyAuthentication no", config: []string{"PubkeyAuthentication no"}},
		{name: "AuthenticationMethods publickey,password (a second factor BatchMode cannot give)", config: []string{"AuthenticationMethods publickey,password", "PasswordAuthentication yes"}},
		{name: "PermitRootLogin no", config: []string{"PermitRootLogin no"}},
		{name: "PermitRootLogin forced-commands-only, key without command=", config: []string{"PermitRootLogin forced-commands-only"}},
		{name: "PermitRootLogin forced-commands-only, key with command=\"true\"", config: []string{"PermitRootLogin forced-commands-only"},
			setup: func(e *diffEnv) { e.authorize(`command="true"`) }, works: true},
		{name: "DenyUsers root", config: []string{"DenyUsers root"}},
		{name: "AllowUsers someone else", config: []string{"AllowUsers nobody"}},
		{name: "server PubkeyAcceptedAlgorithms without the key's type", config: []string{"PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256"}},
		{name: "key option from= another address", setup: func(e *diffEnv) { e.authorize(`from="10.9.9.9"`) }},
		{name: "key option expiry-time in the past", setup: func(e *diffEnv) { e.authorize(`expiry-time="20000101"`) }},
		{name: "key option restrict", setup: func(e *diffEnv) { e.authorize("restrict") }, works: true},

		// --- a session refused or failing after authentication
		{name: "shell /bin/false", users: diffUsers(), user: "sdd-false", finding: "session.forced_command"},
		{name: "shell nologin", users: diffUsers(), user: "sdd-nologin", finding: "session.nologin"},
		{name: "a user with a working shell", users: diffUsers(), user: "sdd-sh", works: true},
		{name: "password expired (sshd without PAM still runs a command: only a shell must change it)", users: diffUsers(), user: "sdd-pwexpired", works: true},
		{name: "account expired", users: diffUsers(), user: "sdd-expired"},
		{name: "ForceCommand /bin/true", config: []string{"ForceCommand /bin/true"}, works: true},
		{name: "ForceCommand /bin/false", config: []string{"ForceCommand /bin/false"}, finding: "session.forced_command"},
		{name: "ForceCommand echo (prints, exits 0)", config: []string{"ForceCommand echo maintenance"}, works: true},
		{name: "key option command=\"false\"", setup: func(e *diffEnv) { e.authorize(`command="false"`) }, finding: "session.forced_command"},
		{name: "key option command=\"true\"", setup: func(e *diffEnv) { e.authorize(`command="true"`) }, works: true},
		{name: "MaxSessions 0", config: []string{"MaxSessions 0"}, finding: "session.refused"},
		{name: "ChrootDirectory that does not exist", config: []string{"ChrootDirectory /nonexistent-sshdoctor"}},
		{name: "ChrootDirectory with no shell in it", config: []string{"ChrootDirectory /run/sshd"}},

		// --- key exchange and algorithms
		{name: "client HostKeyAlgorithms the server lacks", opts: []string{"HostKeyAlgorithms=ecdsa-sha2-nistp256"}},
		{name: "client Ciphers the server lacks", config: []string{"Ciphers aes256-gcm@openssh.com"}, opts: []string{"Ciphers=aes128-ctr"}},
		{name: "client KexAlgorithms the server lacks", config: []string{"KexAlgorithms curve25519-sha256"}, opts: []string{"KexAlgorithms=diffie-hellman-group14-sha256"}},
		{name: "client MACs the server lacks (non-AEAD cipher)", config: []string{"Ciphers aes128-ctr", "MACs hmac-sha2-512"}, opts: []string{"MACs=hmac-sha2-256"}},
		{name: "a common cipher named by both", config: []string{"Ciphers aes128-ctr,aes256-ctr"}, opts: []string{"Ciphers=aes256-ctr"}, works: true},
		{name: "client PubkeyAcceptedAlgorithms without the key's type", opts: []string{"PubkeyAcceptedAlgorithms=rsa-sha2-512"}},

		// --- host keys and known_hosts
		{name: "unknown host, StrictHostKeyChecking yes", setup: func(e *diffEnv) { writeMode(e.t, e.kh, "", 0o644) },
			opts: []string{"StrictHostKeyChecking=yes"}, finding: "hostkey.strict_unknown"},
		{name: "unknown host, accept-new", setup: func(e *diffEnv) { writeMode(e.t, e.kh, "", 0o644) },
			opts: []string{"StrictHostKeyChecking=accept-new"}, works: true},
		{name: "changed host key", setup: func(e *diffEnv) { writeMode(e.t, e.kh, e.knownHostsLine("", otherKey(e)), 0o644) },
			finding: "hostkey.changed"},
		{name: "changed host key, StrictHostKeyChecking no (ssh still logs in with a key)",
			setup: func(e *diffEnv) { writeMode(e.t, e.kh, e.knownHostsLine("", otherKey(e)), 0o644) },
			opts:  []string{"StrictHostKeyChecking=no"}, works: true, finding: "hostkey.changed",
			deliberate: "ssh logs in (it only disables password and keyboard-interactive auth); check will not call a connection whose host key changed working: it may be a man-in-the-middle"},
		{name: "host key @revoked", setup: func(e *diffEnv) { writeMode(e.t, e.kh, e.knownHostsLine("@revoked", e.srv.HostKeys[0]), 0o644) }},
		{name: "known under a HostKeyAlias", setup: func(e *diffEnv) {
			writeMode(e.t, e.kh, knownhosts.Line([]string{"myalias"}, e.srv.HostKeys[0])+"\n", 0o644)
		}, opts: []string{"HostKeyAlias=myalias"}, works: true},
		{name: "HostKeyAlias not in known_hosts (the address is)", opts: []string{"HostKeyAlias=otheralias", "StrictHostKeyChecking=yes"}, finding: "hostkey.strict_unknown"},
		{name: "hashed known_hosts entry", setup: func(e *diffEnv) {
			writeMode(e.t, e.kh, knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(e.srv.Addr))}, e.srv.HostKeys[0])+"\n", 0o644)
		}, works: true},
		{name: "wildcard known_hosts pattern", setup: func(e *diffEnv) {
			writeMode(e.t, e.kh, knownhosts.Line([]string{"*"}, e.srv.HostKeys[0])+"\n", 0o644)
		}, works: true},
		{name: "key in the second UserKnownHostsFile", setup: func(e *diffEnv) {
			first := filepath.Join(e.dir, "kh-empty")
			writeMode(e.t, first, "", 0o644)
			e.opts = append(e.opts, "UserKnownHostsFile="+first+" "+e.kh)
		}, works: true},
		{name: "key only in GlobalKnownHostsFile", setup: func(e *diffEnv) {
			global := filepath.Join(e.dir, "global_known_hosts")
			writeMode(e.t, global, e.knownHostsLine("", e.srv.HostKeys...), 0o644)
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "GlobalKnownHostsFile="+global)
		}, works: true},

		// --- CheckHostIP: the address's entry is checked too
		// ssh turns CheckHostIP off for a loopback address, so on
		// 127.0.0.1 both log in (probe's TestCheckHostIP covers a mismatch).
		{name: "CheckHostIP on loopback, the address has another key, strict", setup: func(e *diffEnv) {
			e.target = "localhost"
			writeMode(e.t, e.kh, knownhosts.Line([]string{fmt.Sprintf("[localhost]:%d", e.srv.Port)}, e.srv.HostKeys[0])+"\n"+
				knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, otherKey(e))+"\n", 0o644)
		}, opts: []string{"CheckHostIP=yes", "StrictHostKeyChecking=yes"}, works: true},
		{name: "CheckHostIP, the address has another key, not strict", setup: func(e *diffEnv) {
			e.target = "localhost"
			writeMode(e.t, e.kh, knownhosts.Line([]string{fmt.Sprintf("[localhost]:%d", e.srv.Port)}, e.srv.HostKeys[0])+"\n"+
				knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, otherKey(e))+"\n", 0o644)
		}, opts: []string{"CheckHostIP=yes", "StrictHostKeyChecking=no"}, works: true},
		{name: "CheckHostIP off (the default): the address's other key is not looked at", setup: func(e *diffEnv) {
			e.target = "localhost"
			writeMode(e.t, e.kh, knownhosts.Line([]string{fmt.Sprintf("[localhost]:%d", e.srv.Port)}, e.srv.HostKeys[0])+"\n"+
				knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr)}, otherKey(e))+"\n", 0o644)
		}, opts: []string{"StrictHostKeyChecking=yes"}, works: true},

		// --- KnownHostsCommand: more known_hosts lines from a command
		{name: "KnownHostsCommand prints the key (known_hosts empty, strict)", setup: func(e *diffEnv) {
			src := filepath.Join(e.dir, "kh-from-command")
			writeMode(e.t, src, e.knownHostsLine("", e.srv.HostKeys...), 0o644)
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "KnownHostsCommand=/bin/cat "+src)
		}, opts: []string{"StrictHostKeyChecking=yes"}, works: true},
		{name: "KnownHostsCommand with the key's tokens %t %K", setup: func(e *diffEnv) {
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "KnownHostsCommand=/bin/echo "+knownhosts.Normalize(e.srv.Addr)+" %t %K")
		}, opts: []string{"StrictHostKeyChecking=yes"}, works: true},
		{name: "KnownHostsCommand with a token ssh does not know", setup: func(e *diffEnv) {
			e.opts = append(e.opts, "KnownHostsCommand=/bin/echo %Z")
		}},
		{name: "KnownHostsCommand not an absolute path (ssh does not run it)", setup: func(e *diffEnv) {
			src := filepath.Join(e.dir, "kh-from-command")
			writeMode(e.t, src, e.knownHostsLine("", e.srv.HostKeys...), 0o644)
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "KnownHostsCommand=cat "+src)
		}, opts: []string{"StrictHostKeyChecking=yes"}, finding: "hostkey.strict_unknown"},
		{name: "KnownHostsCommand prints another key", setup: func(e *diffEnv) {
			src := filepath.Join(e.dir, "kh-from-command")
			writeMode(e.t, src, e.knownHostsLine("", otherKey(e)), 0o644)
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "KnownHostsCommand=/bin/cat "+src)
		}, finding: "hostkey.changed"},
		{name: "KnownHostsCommand fails (strict: the key stays unknown)", setup: func(e *diffEnv) {
			writeMode(e.t, e.kh, "", 0o644)
			e.opts = append(e.opts, "KnownHostsCommand=/bin/false")
		}, opts: []string{"StrictHostKeyChecking=yes"}, finding: "hostkey.strict_unknown"},

		// --- client identities
		{name: "identity file readable by others", setup: func(e *diffEnv) {
			if err := os.Chmod(e.key.Path, 0o644); err != nil {
				e.t.Fatal(err)
			}
		}},
		{name: "identity file missing", setup: func(e *diffEnv) { e.key.Path = filepath.Join(e.dir, "no-such-key") }},
		{name: "passphrase-protected key, no agent (BatchMode)", setup: func(e *diffEnv) {
			k := sshdtest.NewKey(e.t, "ed25519", "secret")
			e.key = k
			e.authorize("")
		}},
		{name: "the key in an agent, no -i", setup: func(e *diffEnv) {
			e.env = append(e.env, "SSH_AUTH_SOCK="+agentWith(e))
			e.noKey = true
		}, works: true},
		{name: "the key in an agent, IdentityAgent none", setup: func(e *diffEnv) {
			e.env = append(e.env, "SSH_AUTH_SOCK="+agentWith(e))
			e.noKey = true
			e.opts = append(e.opts, "IdentityAgent=none")
		}},
		{name: "user nobody (a nologin shell; the key file is every user's)", user: "nobody", finding: "session.nologin"},

		// --- transport
		{name: "nothing listens on the port", setup: func(e *diffEnv) { e.args = append(e.args, "-p", fmt.Sprint(sshdtest.FreePort(e.t))) },
			finding: "tcp.refused"},
		{name: "through a ProxyJump (the same server)", setup: func(e *diffEnv) {
			// ssh runs the jump hop as `ssh -W` with the config file but
			// not the -o options: the settings go in a config file.
			e.config = filepath.Join(e.dir, "ssh_config")
			writeMode(e.t, e.config, fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  IdentityFile %s\n  IdentitiesOnly yes\n  BatchMode yes\n", e.kh, e.key.Path), 0o644)
			// ssh refuses a jump to the very host name it goes to: the
			// hop is "localhost", the target 127.0.0.1.
			hop := fmt.Sprintf("[localhost]:%d", e.srv.Port)
			f, err := os.OpenFile(e.kh, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintln(f, knownhosts.Line([]string{hop}, e.srv.HostKeys[0]))
			f.Close()
			e.args = append(e.args, "-J", fmt.Sprintf("root@localhost:%d", e.srv.Port))
		}, works: true},
	}
}

// agentWith starts an agent holding the case's key.
func agentWith(e *diffEnv) string {
	b, err := os.ReadFile(e.key.Path)
	if err != nil {
		e.t.Fatal(err)
	}
	priv, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return sshdtest.StartAgent(e.t, priv)
}

func TestDifferentialAgainstSSH(t *testing.T) {
	sshdtest.NeedRoot(t)
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("ssh not found: %v", err)
	}
	cases := diffCases()
	if len(cases) < 40 {
		t.Fatalf("%d cases; the table must hold at least 40", len(cases))
	}
	agreed, deliberate := 0, 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			// A directory without the test name's parentheses: ssh passes
			// -F to a ProxyJump's shell command unquoted.
			dir, err := os.MkdirTemp("", "sshdoctor-diff-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			e := &diffEnv{t: t, dir: dir, user: "root", target: "127.0.0.1", config: "none"}
			e.key = sshdtest.NewKey(t, "ed25519", "")
			e.srv = sshdtest.Start(t, sshdtest.Options{Config: c.config, Users: c.users, HostKeyTypes: c.hostKeyTypes,
				AuthorizedKeys: []ssh.PublicKey{e.key.Public}})
			e.kh = filepath.Join(e.dir, "known_hosts")
			writeMode(t, e.kh, e.knownHostsLine("", e.srv.HostKeys...), 0o644)
			if c.user != "" {
				e.user = c.user
			}
			e.opts = append(e.opts, c.opts...)
			if c.setup != nil {
				c.setup(e)
			}
			// The case's options first: ssh takes the first value.
			common := []string{"-F", e.config}
			for _, o := range e.opts {
				common = append(common, "-o", o)
			}
			common = append(common, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UserKnownHostsFile="+e.kh)
			if !e.noKey {
				common = append(common, "-o", "IdentitiesOnly=yes", "-i", e.key.Path)
			}
			common = append(common, e.args...)
			if !hasArg(e.args, "-p") {
				common = append(common, "-p", fmt.Sprint(e.srv.Port))
			}
			dest := e.user + "@" + e.target
			for _, kv := range e.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}

			// ssh first, on a copy of known_hosts, so that accept-new
			// starts from the same file for both.
			khCopy := append([]byte(nil), mustRead(t, e.kh)...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, sshBin, append(append(append([]string{}, common...), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", dest), "true")...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			sshCode := 0
			switch {
			case errors.As(err, &ee):
				sshCode = ee.ExitCode()
			case err != nil:
				t.Fatalf("ssh: %v", err)
			}
			sshWorks := sshCode == 0
			if sshWorks != c.works {
				t.Fatalf("the case is not what it claims: ssh %q exit %d (works=%v, want %v)\n%s\nsshd log:\n%s", cmd.Args, sshCode, sshWorks, c.works, out, e.srv.Log())
			}
			writeMode(t, e.kh, string(khCopy), 0o644)

			r := run(t, "", append(append([]string{"check", "--output", "json", "--timeout", "5"}, common...), dest)...)
			checkWorks := r.code == ExitOK
			switch {
			case checkWorks == sshWorks:
				agreed++
			case c.deliberate != "":
				deliberate++
				t.Logf("deliberate disagreement: %s", c.deliberate)
				return
			default:
				t.Fatalf("check says works=%v (exit %d, root cause %q), ssh exit %d:\nssh: %s\ncheck: %s\nstderr: %s",
					checkWorks, r.code, r.doc.RootCause, sshCode, strings.TrimSpace(string(out)), r.stdout, r.stderr)
			}
			if !checkWorks && c.finding != "" && !hasFinding(r, c.finding) {
				t.Errorf("no %s finding; root cause %q, findings %+v", c.finding, r.doc.RootCause, r.doc.Findings)
			}
			if r.code == ExitUsage {
				// Refused before connecting, as ssh refuses the option:
				// one line that names it.
				if !strings.Contains(r.stderr, "KnownHostsCommand") && !strings.Contains(r.stderr, "option") && !strings.Contains(r.stderr, "config") {
					t.Errorf("usage error does not name the option: %s", r.stderr)
				}
				return
			}
			if !checkWorks && r.doc.RootCause == "" {
				t.Errorf("check failed with no root cause:\n%s", r.stdout)
			}
		})
	}
	t.Logf("%d cases: %d agree with ssh, %d deliberate disagreements", len(cases), agreed, deliberate)
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
