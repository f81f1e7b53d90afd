package cli

import (
	"errors"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// client builds `lab client`.
func (l *labCmds) client() *cobra.Command {
	client := &cobra.Command{
		Use:   "client -- COMMAND...",
		Short: "Run a command in the client namespace (your laptop in the lab)",
		Long: `Runs COMMAND in the lab's client namespace, with SSHDOCTOR_SSH_CONFIG pointing at
the lab's ssh_config, so "sshdoctor check lab-VM" works there. For plain ssh use:
  sshdoctor lab client -- ssh -F ` + (&lab.State{Dir: lab.Dir()}).ClientConfig() + ` lab-VM`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("lab client needs a command: sshdoctor lab client -- CMD")
			}
			return nil
		},
		RunE: l.withLab(false, func(s *lab.State, args []string) error {
			if args[0] == "sshdoctor" {
				if self, err := os.Executable(); err == nil {
					args[0] = self
				}
			}
			return runAttached(l.ios, s.ClientCommand(args...))
		}),
	}
	return client
}

// ssh builds `lab ssh`.
func (l *labCmds) ssh() *cobra.Command {
	sshCmd := &cobra.Command{
		Use: "ssh VM", Short: "Open a shell on a VM over SSH from the client namespace (lab key)", Args: l.exact(1, "a VM name"),
		RunE: l.withVM(false, func(s *lab.State, v *lab.VMState, args []string) error {
			return runAttached(l.ios, s.ClientCommand("ssh", "-F", s.ClientConfig(), "lab-"+v.Name))
		}),
	}
	return sshCmd
}

// fix builds `lab fix`.
func (l *labCmds) fix() *cobra.Command {
	fixCmd := &cobra.Command{
		Use:   "fix VM [-- FIX-FLAGS...]",
		Short: "Run `sshdoctor fix` for a VM from the client namespace (your laptop in the lab)",
		Long: `Runs, in the lab's client namespace,
  sshdoctor fix --provider lab --vm VM FIX-FLAGS... lab-VM
so the loop sees the VM from the client's side (its address, its key) and the
control plane from the lab's. FIX-FLAGS are fix's own (see sshdoctor fix --help).`,
		Example: `  sshdoctor lab break web1 nsg-deny-ssh
  sshdoctor lab fix web1 -- --dry-run
  sshdoctor lab fix web1 -- --yes --output json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 || (c.ArgsLenAtDash() != -1 && c.ArgsLenAtDash() != 1) {
				return usagef("lab fix needs a VM name, then fix's flags after --: sshdoctor lab fix VM -- --dry-run")
			}
			return nil
		},
		RunE: l.withLab(false, func(s *lab.State, args []string) error {
			v, err := l.vmArg(s, args[:1])
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			argv := append(append([]string{self, "fix", "--provider", "lab", "--vm", v.Name}, args[1:]...), "lab-"+v.Name)
			cmd := s.ClientCommand(argv...)
			cmd.Env = append(cmd.Env, "SSHDOCTOR_LAB_DIR="+s.Dir)
			return runAttached(l.ios, cmd)
		}),
	}
	return fixCmd
}

// vmInit builds the hidden `lab vm-init` (a lab VM's init).
func (l *labCmds) vmInit() *cobra.Command {
	initCmd := &cobra.Command{
		Use: "vm-init", Hidden: true, Args: l.exact(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, _ := c.Flags().GetString("dir")
			name, _ := c.Flags().GetString("name")
			return lab.VMInit(dir, name)
		},
	}
	initCmd.Flags().String("dir", "", "")
	initCmd.Flags().String("name", "", "")
	return initCmd
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%", r)
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// runAttached runs cmd with the caller's terminal and passes its exit code on.
func runAttached(ios *IOStreams, cmd *exec.Cmd) error {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ios.In, ios.Out, ios.Err
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	return err
}
