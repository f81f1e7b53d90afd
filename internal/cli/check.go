package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/diagnose"
	"github.com/sshdoctor/sshdoctor/internal/probe"
	"github.com/sshdoctor/sshdoctor/internal/render"
	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// CheckOptions are the inputs of `sshdoctor check`.
type CheckOptions struct {
	IO *IOStreams

	Target     string
	Port       int
	User       string
	Identities []string
	ConfigFile string
	ProxyJump  string
	Options    []string
	Timeout    time.Duration
	// IPv4, IPv6: ssh's -4 and -6.
	IPv4, IPv6    bool
	PasswordStdin bool
	Exec          string
	NoSession     bool
	// Verbose is -v, repeatable: what each layer sent and received.
	Verbose int
	NoAuth  bool
	Output  string
	NoColor bool
	// SSHPath is the ssh binary for `ssh -G`/`ssh -Q`; "-" forces the
	// built-in config parser.
	SSHPath string
}

// NewCmdCheck binds flags; runF replaces checkRun in tests.
func NewCmdCheck(ios *IOStreams, runF func(*CheckOptions) error) *cobra.Command {
	o := &CheckOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "check [flags] [user@]host[:port]",
		Short: "Diagnose an SSH connection from this machine, layer by layer",
		Long: `Check connects to the host the way ssh would — same ~/.ssh/config, keys, agent
and known_hosts — and reports each layer: resolve, tcp, banner, kex, hostkey,
auth and session. It ends with the root cause and the next step.

"SSH works" means what ` + "`ssh host true`" + ` would show: after logging in, check
opens a session and runs ` + "`true`" + ` (or --exec CMD), so a server that accepts
the key but refuses every session (a nologin shell, an expired password, a
forced command that fails, MaxSessions 0, an unusable chroot) is caught.
--no-session stops after authentication: faster, but blind to those.

Everything happens over one TCP connection, so servers that penalise many
connections (OpenSSH PerSourcePenalties, fail2ban) are not provoked.
No password is ever sent unless you give one with --password-stdin, and never
to a host whose key did not verify. known_hosts is written only with
-o StrictHostKeyChecking=accept-new.

Exit status: 0 SSH works, 1 a problem was diagnosed, 2 bad usage, 3 internal error.`,
		Example: `  sshdoctor check azureuser@20.51.7.9
  sshdoctor check -i ~/.ssh/vm_key -p 2222 web1
  sshdoctor check -J bastion admin@10.0.0.5 --exec 'uptime'
  sshdoctor check -o HostKeyAlgorithms=+ssh-rsa old-router --output json
  printf '%s\n' "$PW" | sshdoctor check --password-stdin user@vm`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("check needs exactly one target, [user@]host[:port] (see 'sshdoctor check --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			if o.Output != "text" && o.Output != "json" {
				return usagef("--output must be text or json, not %q", o.Output)
			}
			if o.Timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			if o.NoSession && o.Exec != "" {
				return usagef("--no-session and --exec exclude each other: --exec runs its command in a session")
			}
			switch {
			case o.IPv4 && o.IPv6:
				return usagef("-4 and -6 exclude each other")
			case o.IPv4:
				o.Options = append(o.Options, "AddressFamily=inet")
			case o.IPv6:
				o.Options = append(o.Options, "AddressFamily=inet6")
			}
			if runF != nil {
				return runF(o)
			}
			return checkRun(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Port, "port", "p", 0, "port to connect to (default: from ssh config, else 22)")
	userFlag(f, &o.User, "user to log in as, as ssh -l (default: from ssh config, else your user name)", "login")
	f.StringArrayVarP(&o.Identities, "identity", "i", nil, "private key file to offer (repeatable), as ssh -i")
	f.StringVarP(&o.ConfigFile, "config", "F", os.Getenv("SSHDOCTOR_SSH_CONFIG"), "ssh client config file (default $SSHDOCTOR_SSH_CONFIG, else ~/.ssh/config); \"none\" for no file")
	f.StringVarP(&o.ProxyJump, "jump", "J", "", "connect through this jump host, [user@]host[:port], as ssh -J")
	f.StringArrayVarP(&o.Options, "option", "o", nil, "ssh option Key=Value (repeatable), e.g. HostKeyAlgorithms=+ssh-rsa, StrictHostKeyChecking=accept-new, ConnectTimeout=5")
	o.Timeout = probe.DefaultPhaseTimeout
	f.Var((*secondsOrDuration)(&o.Timeout), "timeout", "limit for each phase (connect, banner, kex, auth, session): seconds as ssh's ConnectTimeout (5), or a duration (2s, 500ms)")
	f.BoolVarP(&o.IPv4, "ipv4", "4", false, "use IPv4 addresses only, as ssh -4 (AddressFamily inet)")
	f.BoolVarP(&o.IPv6, "ipv6", "6", false, "use IPv6 addresses only, as ssh -6 (AddressFamily inet6)")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read a password from the first line of standard input and try it if the server allows password auth")
	f.StringVar(&o.Exec, "exec", "", "after logging in, run this command in the session (default: true, as ssh host true) and report its result")
	f.CountVarP(&o.Verbose, "verbose", "v", "print what each layer sent and received, as ssh -v (-vv: full algorithm lists and the session's output)")
	f.BoolVar(&o.NoSession, "no-session", false, "stop after authentication: open no session (faster; a server that refuses sessions goes unseen)")
	f.BoolVar(&o.NoAuth, "no-auth", false, "stop after learning which auth methods the server allows; offer no key")
	f.StringVar(&o.Output, "output", "text", "output format: text or json")
	f.BoolVar(&o.NoColor, "no-color", false, "no colours even on a terminal (NO_COLOR is honoured too)")
	f.StringVar(&o.SSHPath, "ssh", "", "ssh binary used to read the client config (ssh -G); \"-\" uses the built-in parser")
	return cmd
}

func checkRun(ctx context.Context, o *CheckOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := newChecker(ctx, o)
	if err != nil {
		return err
	}
	// Ctrl-C ends the check where it is; the report says what was
	// learned until then.
	sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.IO.ErrTTY && o.Verbose == 0 {
		p := startProgress(o.IO.Err)
		c.po.Progress = p.set
		defer p.stop()
	}
	report, verdict := c.run(sctx)
	interrupted := sctx.Err() != nil && ctx.Err() == nil
	if o.Verbose > 0 {
		if err := render.Verbose(o.IO.Err, report, o.Verbose); err != nil {
			return err
		}
	}
	code := ExitOK
	if !verdict.Works {
		code = ExitProblem
	}
	if interrupted {
		fmt.Fprintln(o.IO.Err, "Interrupted: what the check learned before Ctrl-C follows.")
		code = ExitInterrupted
	}
	if o.Output == "json" {
		err = render.JSON(o.IO.Out, report, verdict, code)
	} else {
		color := o.IO.OutTTY && !o.NoColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
		err = render.Text(o.IO.Out, report, verdict, render.Style{Color: color})
	}
	if err != nil {
		return err
	}
	if code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// checker is a client check bound to its resolved settings: `check` runs it
// once, `fix` after every step (the seed's "connect again").
type checker struct {
	po probe.Options
	jo diagnose.Options
}

func (c *checker) run(ctx context.Context) (*probe.Report, *diagnose.Verdict) {
	report := probe.Run(ctx, c.po)
	return report, diagnose.Judge(report, c.jo)
}

// newChecker resolves the ssh client configuration for o (ssh -G), reads
// the password from stdin once, and returns the check to run.
func newChecker(ctx context.Context, o *CheckOptions) (*checker, error) {
	user, host, port, err := sshconfig.ParseTarget(o.Target)
	if err != nil {
		return nil, &UsageError{err}
	}
	if user == "" {
		user = o.User
	}
	if port == 0 {
		port = o.Port
	}
	if port < 0 || port > 65535 {
		return nil, usagef("port %d is out of range 1-65535", port)
	}
	opts := slices.Clone(o.Options)
	var explicit []string
	for _, id := range o.Identities {
		abs, err := expandPath(id)
		if err != nil {
			return nil, usagef("identity %s: %v", id, err)
		}
		explicit = append(explicit, abs)
		opts = append(opts, "IdentityFile="+abs)
	}
	settings, err := sshconfig.Resolve(ctx, sshconfig.Query{
		Host: host, User: user, Port: port, ConfigFile: o.ConfigFile,
		ProxyJump: o.ProxyJump, Options: opts, SSHPath: o.SSHPath,
	})
	if err != nil {
		var ue *sshconfig.UsageError
		if errors.As(err, &ue) {
			return nil, &UsageError{err}
		}
		return nil, err
	}
	var password *string
	if o.PasswordStdin {
		line, err := bufio.NewReader(o.IO.In).ReadString('\n')
		if err != nil && line == "" {
			return nil, usagef("--password-stdin: nothing to read on standard input")
		}
		pw := strings.TrimRight(line, "\r\n")
		password = &pw
	}
	probe.JumpSettings = func(ctx context.Context, jump string) (*sshconfig.Settings, error) {
		ju, jh, jp, _, err := sshconfig.ParseJump(jump)
		if err != nil {
			return nil, err
		}
		return sshconfig.Resolve(ctx, sshconfig.Query{Host: jh, User: ju, Port: jp, ConfigFile: o.ConfigFile, Options: opts, SSHPath: o.SSHPath})
	}
	agent := agentSocket(settings)
	if optionIs(opts, "PubkeyAuthentication", "no") {
		// As ssh -o PubkeyAuthentication=no: offer no key at all.
		settings.IdentityFiles, settings.CertificateFiles, agent = nil, nil, ""
	}
	c := &checker{
		po: probe.Options{
			Input: o.Target, Settings: settings, Explicit: explicit, Password: password,
			Exec: o.Exec, NoSession: o.NoSession, NoAuth: o.NoAuth, Timeout: o.Timeout, AgentSocket: agent,
		},
		jo: diagnose.Options{NoAuth: o.NoAuth, Commands: commandsFor(settings)},
	}
	if settings.Source == "ssh -G" {
		c.jo.ClientSupports = sshQuery(ctx, o.SSHPath)
	}
	return c, nil
}

// secondsOrDuration is --timeout: a bare number is seconds, as ssh's
// ConnectTimeout; anything else is a Go duration (2s, 500ms, 1m).
type secondsOrDuration time.Duration

func (d *secondsOrDuration) String() string { return time.Duration(*d).String() }
func (d *secondsOrDuration) Type() string   { return "seconds|duration" }
func (d *secondsOrDuration) Set(s string) error {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || f > 86400 {
			return fmt.Errorf("%q: want a positive number of seconds", s)
		}
		*d = secondsOrDuration(time.Duration(f * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q: want seconds (5) or a duration (2s, 500ms)", s)
	}
	*d = secondsOrDuration(v)
	return nil
}

// commandsFor is where check runs, for the commands it prints: in the
// lab's client namespace (`lab client` sets SSHDOCTOR_LAB_CLIENT) a target
// lab-VM is that lab VM.
func commandsFor(s *sshconfig.Settings) diagnose.Commands {
	if os.Getenv("SSHDOCTOR_LAB_CLIENT") != "" {
		if vm, ok := strings.CutPrefix(s.Alias, "lab-"); ok && vm != "" {
			return diagnose.Commands{LabVM: vm}
		}
	}
	return diagnose.Commands{}
}
