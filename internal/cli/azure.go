package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/azure"
	"github.com/sshdoctor/sshdoctor/internal/cloudcheck"
	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
)

// AzureSchema names the JSON document of `sshdoctor azure check`.
const AzureSchema = "sshdoctor.azure.check/v1"

// AzureOptions are the inputs of `sshdoctor azure …`.
type AzureOptions struct {
	IO *IOStreams

	Subscription  string
	ResourceGroup string
	VM            string
	SourceIP      string
	Port          int
	Output        string
	Yes           bool
	// reset-user
	Username      string
	PasswordStdin bool
	SSHKey        string
	SSHKeyFile    string

	// reset-ssh: VMAccess skips the guest repair; RestoreBackup asks
	// VMAccess for the sshd_config it saved.
	VMAccess, RestoreBackup bool

	// NetworkWatcher cross-checks check's NSG and route verdicts with
	// Network Watcher.
	NetworkWatcher bool
	// NoRecheck skips the SSH answer check after an action.
	NoRecheck bool
	// RecheckWait is how long the re-check waits for sshd to answer
	// (a VM that was just started or restarted needs its boot).
	RecheckWait time.Duration

	// IDs is --ids: the VM's resource ID, instead of -g, -n and
	// --subscription.
	IDs string
	// Cloud is --cloud: a cloud's name or a cloud file.
	Cloud string
	// SignIn is what run resolved from the flags, the environment and
	// az's profile before anything is contacted.
	SignIn *azure.SignIn

	// NewProvider signs in and builds the Azure client.
	NewProvider func(ctx context.Context, o *AzureOptions) (*azure.Provider, error)
}

// NewCmdAzure builds `sshdoctor azure` and its subcommands.
func NewCmdAzure(ios *IOStreams) *cobra.Command { return newCmdAzure(ios, newAzureProvider) }

// newAzureProvider signs in; tests replace it with one over the SDK's
// fakes (internal/azure/azurefake).
var newAzureProvider = azureProvider

// newCmdAzure takes the provider constructor, which tests replace with
// one over the SDK's fakes.
func newCmdAzure(ios *IOStreams, newProvider func(context.Context, *AzureOptions) (*azure.Provider, error)) *cobra.Command {
	o := &AzureOptions{IO: ios, NewProvider: newProvider, Port: 22}
	cmd := &cobra.Command{
		Use:   "azure",
		Short: "Diagnose and fix an Azure VM from the control plane: power, health, boot log, NSGs, routes",
		Long: `Ask Azure Resource Manager what stops SSH to a VM — power and provisioning
state, VM agent, Resource Health, boot diagnostics, public IP, the effective
NSGs for your connection and the route the replies take — and act on it:
start, restart, redeploy, reset sshd's configuration or a user's credentials
(VMAccessForLinux), open the NSG for your address.

Signs in like the az CLI (DefaultAzureCredential: environment, workload or
managed identity, az login), to the subscription from --subscription (an ID
or a name az knows), --ids, AZURE_SUBSCRIPTION_ID, or az's default
subscription (az account set), in the tenant az's profile names for it (else
the one ARM names). The cloud is --cloud, SSHDOCTOR_AZURE_CLOUD, the cloud az
used for the subscription, or AzureCloud: AzureUSGovernment and
AzureChinaCloud by name, any other (Azure Stack Hub) as a JSON file of its
endpoints, as az cloud show prints it and az cloud register reads it:

  {"name": "AzureStackUser", "endpoints": {
     "resourceManager": "https://management.local.azurestack.external/",
     "activeDirectory": "https://adfs.local.azurestack.external/adfs",
     "activeDirectoryResourceId": "https://management.adfs.azurestack.external/…"}}

An activeDirectory ending in /adfs signs in with ADFS (tenant "adfs").
AZURE_AUTHORITY_HOST replaces a named cloud's authority. Bad input is one
line and exit status 2, with nothing contacted. See docs/azure.md.

Examples:
  sshdoctor azure check --ids /subscriptions/SUB/resourceGroups/web-rg/providers/Microsoft.Compute/virtualMachines/web1
  sshdoctor azure check -g web-rg -n web1 --subscription "Contoso Prod"
  sshdoctor azure check -g gov-rg -n web1 --cloud AzureUSGovernment
  az cloud show -n AzureStackUser > stack.json
  sshdoctor azure check -g web-rg -n web1 --cloud stack.json`,
		Example: `  sshdoctor azure check -g web-rg -n web1 --source-ip 198.51.100.7
  sshdoctor azure nsg allow-ssh -g web-rg -n web1 --source-ip 198.51.100.7
  sshdoctor azure restart -g web-rg -n web1
  sshdoctor azure reset-user -g web-rg -n web1 --username azureuser --ssh-key-file ~/.ssh/id_ed25519.pub`,
	}
	vmFlags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringVarP(&o.ResourceGroup, "resource-group", "g", "", "the VM's resource group (required)")
		f.StringVarP(&o.VM, "name", "n", "", "the VM's name (required)")
		f.StringVar(&o.Subscription, "subscription", "", "subscription ID or name (default $AZURE_SUBSCRIPTION_ID, else az's default: az account show)")
		f.StringVar(&o.IDs, "ids", "", "the VM's resource ID instead of -g and -n (az vm show -g RG -n VM --query id -o tsv)")
		f.StringVar(&o.Cloud, "cloud", "", "AzureCloud, AzureUSGovernment, AzureChinaCloud, or a cloud file FILE.json as az cloud show prints it (default $SSHDOCTOR_AZURE_CLOUD, else az's cloud for the subscription, else AzureCloud)")
	}
	// run validates the flags (common ones, then the command's own with
	// validate, when not nil) before signing in, then runs f.
	run := func(validate func() error, f func(ctx context.Context, o *AzureOptions, p *azure.Provider) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			s, err := azure.ResolveSignIn(azure.SignInInput{Subscription: o.Subscription, IDs: o.IDs, ResourceGroup: o.ResourceGroup, VM: o.VM, Cloud: o.Cloud})
			if err != nil {
				return &UsageError{err}
			}
			o.SignIn, o.Subscription, o.ResourceGroup, o.VM = s, s.Subscription, s.ResourceGroup, s.VM
			switch {
			case o.ResourceGroup == "" || o.VM == "":
				return usagef("%s needs -g RESOURCE_GROUP and -n VM, or --ids VM_RESOURCE_ID", c.CommandPath())
			case o.Port < 1 || o.Port > 65535:
				return usagef("--port %d is out of range 1-65535", o.Port)
			}
			if validate != nil {
				if err := validate(); err != nil {
					return err
				}
			}
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			p, err := o.NewProvider(ctx, o)
			if err != nil {
				return err
			}
			return azureFailure(o, f(ctx, o, p))
		}
	}

	check := &cobra.Command{
		Use:   "check -g RG -n VM",
		Short: "Find what on Azure's side stops SSH to the VM (read-only)",
		Long: `Reads the VM (power, provisioning, agent), Resource Health, the boot-diagnostics
serial log, NIC and public IP, evaluates the effective NSGs for TCP from
--source-ip to the VM's private address on --port, and finds the effective
route the replies take. Changes nothing. --network-watcher also asks the
region's Network Watcher (IP flow verify, next hop) the same questions and
reports any disagreement (cloud.watcher_disagrees).

--source-ip auto (the default) evaluates an arbitrary Internet address
(203.0.113.1, a documentation address), so it answers "is SSH open to the
Internet?"; when only some sources are allowed it lists them. Azure cannot
tell sshdoctor your public address and sshdoctor asks no third party: pass
--source-ip with your address to check yours.

Exit status: 0 nothing blocks SSH, 1 a problem was found, 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: run(func() error {
			if o.Output != "text" && o.Output != "json" {
				return usagef("--output must be text or json, not %q", o.Output)
			}
			if _, _, err := cloudcheck.ParseSource(o.SourceIP); err != nil {
				return &UsageError{err}
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			r := azure.Check(ctx, p, o.VM, o.SourceIP, o.Port)
			if o.NetworkWatcher {
				p.CrossCheckNetworkWatcher(ctx, r)
			}
			return printAzureCheck(o, r)
		}),
	}
	vmFlags(check)
	check.Flags().StringVar(&o.SourceIP, "source-ip", "auto", "your public IP address as Azure sees it, or auto (an arbitrary Internet address)")
	check.Flags().IntVarP(&o.Port, "port", "p", 22, "sshd's port")
	check.Flags().StringVar(&o.Output, "output", "text", "output format: text or json")
	check.Flags().BoolVar(&o.NetworkWatcher, "network-watcher", false, "also ask the region's Network Watcher (IP flow verify, next hop) and compare; slower: two long-running calls")

	action := func(use, short, question string, f func(p *azure.Provider, ctx context.Context, vm string) error, done string) *cobra.Command {
		c := &cobra.Command{
			Use: use + " -g RG -n VM", Short: short, Args: cobra.NoArgs,
			RunE: run(nil, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
				if err := confirm(o, fmt.Sprintf(question, o.ResourceGroup+"/"+o.VM)); err != nil {
					return err
				}
				fmt.Fprintf(o.IO.Err, "%s %s/%s …\n", use, o.ResourceGroup, o.VM)
				if err := f(p, ctx, o.VM); err != nil {
					return err
				}
				fmt.Fprintf(o.IO.Out, "%s/%s: %s\n", o.ResourceGroup, o.VM, done)
				recheckSSH(ctx, o, p)
				return nil
			}),
		}
		vmFlags(c)
		recheckFlags(c, o)
		c.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
		return c
	}
	start := action("start", "Start a stopped or deallocated VM", "Start VM %s?", (*azure.Provider).Start, "started")
	restart := action("restart", "Restart the VM (the guest reboots)", "Restart VM %s? The guest reboots and open sessions end.", (*azure.Provider).Restart, "restarted")
	resetSSH := newCmdAzureResetSSH(o, vmFlags, run)

	redeploy := &cobra.Command{
		Use:   "redeploy -g RG -n VM --yes",
		Short: "Move the VM to a new Azure host (destructive: temporary disk wiped, dynamic IP changes)",
		Args:  cobra.NoArgs,
		RunE: run(func() error {
			fmt.Fprintf(o.IO.Err, "Redeploy moves %s/%s to a new host: the VM restarts, everything on the temporary disk (/dev/sdb, /mnt) is LOST, and a dynamic public or private IP address CHANGES. The OS and data disks are kept.\n", o.ResourceGroup, o.VM)
			if !o.Yes {
				return usagef("redeploy is destructive: pass --yes to confirm; nothing was changed")
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			if err := p.Redeploy(ctx, o.VM); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "%s/%s: redeployed. Its address may have changed: sshdoctor azure check -g %s -n %s shows the new one.\n", o.ResourceGroup, o.VM, o.ResourceGroup, o.VM)
			recheckSSH(ctx, o, p)
			return nil
		}),
	}
	vmFlags(redeploy)
	recheckFlags(redeploy, o)
	redeploy.Flags().BoolVar(&o.Yes, "yes", false, "confirm: the temporary disk is lost and a dynamic IP changes")

	var password, key string
	resetUser := &cobra.Command{
		Use:   "reset-user -g RG -n VM --username U [--password-stdin] [--ssh-key-file F]",
		Short: "Set a user's password and/or add an SSH key; creates a sudo user if missing (VMAccessForLinux)",
		Long: `Runs the VMAccessForLinux extension as az vm user update does. The password
(read from standard input, never from the command line) and the key travel
only in the extension's protected settings, which Azure encrypts.`,
		Args: cobra.NoArgs,
		RunE: run(func() (err error) {
			password, key, err = resetUserInputs(o)
			return err
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			if err := confirm(o, fmt.Sprintf("Reset user %s on VM %s/%s?", o.Username, o.ResourceGroup, o.VM)); err != nil {
				return err
			}
			if err := p.ResetUserPassword(ctx, o.VM, o.Username, password, key); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "%s/%s: user %s reset.\n", o.ResourceGroup, o.VM, o.Username)
			recheckSSH(ctx, o, p)
			return nil
		}),
	}
	vmFlags(resetUser)
	recheckFlags(resetUser, o)
	resetUser.Flags().StringVar(&o.Username, "username", "", "the user to reset or create (required)")
	resetUser.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	resetUser.Flags().StringVar(&o.SSHKey, "ssh-key", "", "an OpenSSH public key (one line) to add")
	resetUser.Flags().StringVar(&o.SSHKeyFile, "ssh-key-file", "", "file holding the OpenSSH public key to add")
	resetUser.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")

	nsg := &cobra.Command{Use: "nsg", Short: "Change the VM's network security groups"}
	allow := &cobra.Command{
		Use:   "allow-ssh -g RG -n VM --source-ip IP",
		Short: "Add the narrowest NSG rule(s) that let --source-ip reach sshd's port",
		Long: `Evaluates the VM's NSGs for TCP from --source-ip to --port and, where a rule
denies it, adds an Allow rule for exactly that source address and port, at a
priority that beats the deciding deny rule — in the subnet NSG, the NIC NSG,
or both. Shows the rules (and the equivalent az commands) first.`,
		Args: cobra.NoArgs,
		RunE: run(func() error {
			if _, auto, err := cloudcheck.ParseSource(o.SourceIP); err != nil || auto {
				return usagef("allow-ssh needs --source-ip with your public IP address (not auto): sshdoctor opens the NSG to one address only")
			}
			return nil
		}, allowSSH),
	}
	vmFlags(allow)
	recheckFlags(allow, o)
	allow.Flags().StringVar(&o.SourceIP, "source-ip", "", "the address to allow: your public IP as Azure sees it (required)")
	allow.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	nsg.AddCommand(allow)

	var guestUsers []string
	gout := &GuestOptions{IO: ios, Output: "text"}
	guestCheck := &cobra.Command{
		Use:   "guest-check -g RG -n VM [--user U]...",
		Short: "Run guest check inside the VM through run-command, with nothing installed on the VM",
		Long: `Sends a read-only POSIX sh script through Azure's run-command (RunShellScript,
as root, through the VM agent: no SSH, nothing installed; its output comes
back only if the VM can reach Azure over HTTPS, port 443). The script gathers what ` + "`sshdoctor guest check`" + ` looks at — sshd
running and listening, its configuration (sshd -t, sshd -T, per-user Match
results), host keys, /run/sshd, accounts (lock, expiry, shell), authorized
keys and StrictModes permissions, the nftables rules on the port, hosts.deny,
/etc/nologin, disk space — and prints them compressed (run-command keeps 4096
bytes). It never prints a password hash or a key. sshdoctor judges the facts
here with the same code as guest check. Not seen this way: MaxStartups
floods and fstab entries (run guest check on the VM for those).

Needs the VM running with a ready agent; run-command takes 20-60 s.
Exit status: 0 nothing inside the guest stops SSH, 1 a problem was found,
2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: run(func() error {
			if gout.Output != "text" && gout.Output != "json" {
				return usagef("--output must be text or json, not %q", gout.Output)
			}
			for _, u := range guestUsers {
				if !validUserName(u) {
					return usagef("%q is not a valid user name", u)
				}
			}
			return nil
		}, func(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
			return azureGuestCheck(ctx, o, p, guestUsers, gout)
		}),
	}
	vmFlags(guestCheck)
	guestCheck.Flags().StringArrayVar(&guestUsers, "user", nil, "check this user (repeatable; default: every login user with keys or a password)")
	guestCheck.Flags().IntVarP(&o.Port, "port", "p", 22, "the port clients expect sshd on")
	guestCheck.Flags().StringVar(&gout.Output, "output", "text", "text or json")

	cmd.AddCommand(check, start, restart, redeploy, resetSSH, resetUser, nsg, guestCheck)
	return cmd
}

func recheckFlags(c *cobra.Command, o *AzureOptions) {
	c.Flags().BoolVar(&o.NoRecheck, "no-recheck", false, "do not try SSH on the VM's public address afterwards")
	c.Flags().IntVarP(&o.Port, "port", "p", 22, "sshd's port (evaluated in the NSGs, and tried by the re-check)")
	c.Flags().DurationVar(&o.RecheckWait, "recheck-wait", 2*time.Minute, "how long the re-check waits for sshd to answer (a booting VM needs a while)")
}

// sshDial opens the re-check's TCP connection; tests make sure it only
// ever goes to loopback.
var sshDial = func(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// recheckSSH proves the action from where the user sits: it connects to
// the VM's public address and waits for sshd's banner, as the seed says
// ("try to connect again after each step"). It reports and never fails
// the action; without a public address it says how to check instead.
func recheckSSH(ctx context.Context, o *AzureOptions, p *azure.Provider) {
	if o.NoRecheck {
		return
	}
	w := o.IO.Out
	vm, err := p.GetVM(ctx, o.VM)
	switch {
	case err != nil:
		fmt.Fprintf(w, "Re-check skipped: %v\nNext: sshdoctor azure check -g %s -n %s\n", oneLine(err.Error()), o.ResourceGroup, o.VM)
		return
	case vm.PublicIP == "":
		fmt.Fprintf(w, "Re-check: %s has no public IP; from inside its network: sshdoctor check USER@%s\n", o.VM, vm.PrivateIP)
		return
	}
	addr := net.JoinHostPort(vm.PublicIP, strconv.Itoa(o.Port))
	wait := o.RecheckWait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	deadline := time.Now().Add(wait)
	var last error
	for {
		banner, err := sshBanner(ctx, addr)
		if err == nil {
			fmt.Fprintf(w, "Re-check: SSH answers on %s (%s).\nNext: sshdoctor check USER@%s -p %d\n", addr, banner, vm.PublicIP, o.Port)
			return
		}
		last = err
		if time.Now().Add(3 * time.Second).After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
	fmt.Fprintf(w, "Re-check: no SSH answer on %s within %s (%v).\nNext: sshdoctor azure check -g %s -n %s, then sshdoctor check USER@%s\n", addr, wait, last, o.ResourceGroup, o.VM, vm.PublicIP)
}

// sshBanner connects and reads sshd's identification line.
func sshBanner(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := sshDial(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	line, err := bufio.NewReader(io.LimitReader(c, 512)).ReadString('\n')
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "SSH-") {
		if err == nil {
			err = fmt.Errorf("the server said %.60q, not an SSH banner", line)
		}
		return "", err
	}
	return line, nil
}

// azureGuestCheck runs guest.RemoteScript through run-command and judges
// its facts as guest check does.
func azureGuestCheck(ctx context.Context, o *AzureOptions, p *azure.Provider, users []string, gout *GuestOptions) error {
	script, err := guest.RemoteScript(users, o.Port)
	if err != nil {
		return &UsageError{err}
	}
	fmt.Fprintf(o.IO.Err, "running the guest check script on %s/%s through run-command (20-60 s) …\n", o.ResourceGroup, o.VM)
	res, err := p.RunCommand(ctx, o.VM, script, 5*time.Minute)
	if err != nil {
		if errors.Is(err, azure.ErrAgentNotReady) {
			fmt.Fprintf(o.IO.Err, "sshdoctor: %v\nrun-command needs a running VM with a ready agent: sshdoctor azure check -g %s -n %s\n", err, o.ResourceGroup, o.VM)
			return &ExitError{Code: ExitProblem}
		}
		return err
	}
	facts, err := guest.FactsFromRemote([]byte(res.Stdout), o.Port)
	if err != nil {
		fmt.Fprintf(o.IO.Err, "sshdoctor: the guest check script on %s/%s: %v (exit %d; stderr: %s)\n", o.ResourceGroup, o.VM, err, res.ExitCode, oneLine(res.Stderr))
		return &ExitError{Code: ExitProblem}
	}
	gout.Port = o.Port
	return printGuest(gout, guest.Judge(facts, guest.JudgeOptions{}), nil)
}

// azureProvider signs in with DefaultAzureCredential, in the
// subscription's tenant and cloud, and checks the sign-in once, so that
// "not logged in" is one clear line, not a finding per call.
func azureProvider(ctx context.Context, o *AzureOptions) (*azure.Provider, error) {
	s := o.SignIn
	if s == nil {
		return nil, errors.New("azure: sign-in not resolved")
	}
	if err := s.DiscoverTenant(ctx, http.DefaultClient); err != nil {
		return nil, &UsageError{err}
	}
	cred, err := s.Credential()
	if err != nil {
		return nil, usagef("Azure sign-in: %s", oneLine(err.Error()))
	}
	// EnableCAE as ARM's pipeline asks, so that this token is the one the
	// calls reuse (azidentity caches CAE tokens apart).
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.Cloud.Scope()}, EnableCAE: true}); err != nil {
		login := "az login"
		if s.Tenant != "" {
			login += " --tenant " + s.Tenant
		}
		return nil, usagef("cannot sign in to Azure (%s, subscription %s): run `%s` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or use a managed identity); %s", s.Cloud.Name, s.Subscription, login, oneLine(err.Error()))
	}
	p, err := azure.New(s.Subscription, s.ResourceGroup, cred, s.ClientOptions())
	if err != nil {
		return nil, err
	}
	if o.IO != nil {
		p.Progress = func(msg string) { fmt.Fprintln(o.IO.Err, msg) }
	}
	return p, nil
}

// azureFailure reports a refused or failed Azure call as a diagnosed
// problem (exit 1) with what to do, not as an internal error.
func azureFailure(o *AzureOptions, err error) error {
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Status == 0 {
		return err
	}
	fmt.Fprintf(o.IO.Err, "sshdoctor: %s\n", ae)
	switch {
	case ae.Forbidden():
		fmt.Fprintf(o.IO.Err, "You need %s on %s (or sign in as another identity: az login).\n", ae.Action, ae.Resource)
	case ae.NotFound():
		fmt.Fprintf(o.IO.Err, "Check the names: az vm list -g %s -o table; az account show.\n", o.ResourceGroup)
	}
	return &ExitError{Code: ExitProblem}
}

// confirm asks on stderr and reads the answer from stdin, unless --yes.
func confirm(o *AzureOptions, question string) error {
	if o.Yes {
		return nil
	}
	fmt.Fprintf(o.IO.Err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(o.IO.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return usagef("not confirmed; nothing was changed (pass --yes to skip the question)")
}

// resetUserInputs validates reset-user's user name, password and key.
func resetUserInputs(o *AzureOptions) (password, key string, err error) {
	if !validUserName(o.Username) {
		return "", "", usagef("--username %q is not a valid user name", o.Username)
	}
	if o.PasswordStdin {
		line, err := bufio.NewReader(o.IO.In).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", "", usagef("--password-stdin: no password on standard input (%v)", err)
		}
		// The answer to the confirmation follows the password line, so
		// scripted use needs --yes.
		if !o.Yes {
			return "", "", usagef("--password-stdin needs --yes: standard input holds the password, not an answer")
		}
	}
	key = o.SSHKey
	if o.SSHKeyFile != "" {
		path, err := expandPath(o.SSHKeyFile)
		if err != nil {
			return "", "", usagef("--ssh-key-file: %v", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", "", usagef("--ssh-key-file: %v", err)
		}
		key = strings.TrimSpace(string(data))
	}
	if key != "" {
		if strings.Contains(key, "PRIVATE KEY") {
			return "", "", usagef("that is a private key: give the public half (.pub)")
		}
		if err := azure.CheckVMAccessKey(key); err != nil {
			return "", "", usagef("--ssh-key: %v", err)
		}
		if !strings.HasPrefix(key, "-----BEGIN CERTIFICATE-----") && !strings.HasPrefix(key, "---- BEGIN SSH2 PUBLIC KEY ----") {
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err != nil {
				return "", "", usagef("not one OpenSSH public key: %.40q", key)
			}
		}
	}
	if password == "" && key == "" {
		return "", "", usagef("reset-user needs --password-stdin, --ssh-key or --ssh-key-file")
	}
	return password, key, nil
}

func allowSSH(ctx context.Context, o *AzureOptions, p *azure.Provider) error {
	r := azure.EvaluateSSH(ctx, p, o.VM, o.SourceIP, o.Port)
	if len(r.Problems) > 0 {
		if pr := r.Report.Problems[0]; pr.Err != nil {
			return pr.Err
		}
		return errors.New(r.Problems[0].Message)
	}
	if r.Verdict == nil {
		return fmt.Errorf("the NSGs of %s/%s could not be evaluated", o.ResourceGroup, o.VM)
	}
	if r.Verdict.Allowed {
		fmt.Fprintf(o.IO.Out, "%s is already allowed (%s); nothing to do.\n", r.Flow, r.Verdict)
		return nil
	}
	if r.JITRule != "" {
		// A standing allow rule above just-in-time access's deny would
		// defeat it: access is requested, for a while, instead.
		fmt.Fprintf(o.IO.Out, "%s is denied by %s, Microsoft Defender for Cloud's just-in-time VM access: sshdoctor adds no permanent rule above it.\n", r.Flow, r.JITRule)
		fmt.Fprintf(o.IO.Out, "Request access for %s to port %d (3 hours): the VM's Connect page in the portal, `Start-AzJitNetworkAccessPolicy` in PowerShell, or:\n  %s\n",
			o.SourceIP, o.Port, p.JITRequestCommand(o.VM, r.VM.Location, o.SourceIP, o.Port))
		return &ExitError{Code: ExitProblem}
	}
	if len(r.Verdict.Uncertain) > 0 {
		return fmt.Errorf("the NSGs' verdict for %s is uncertain (%s): sshdoctor adds no rule it cannot show to be needed; check in the portal or with Network Watcher's IP flow verify", r.Flow, r.Verdict)
	}
	if len(r.Suggestions) == 0 {
		return fmt.Errorf("%s is %s, and no free priority beats that rule: delete or renumber it first", r.Flow, r.Verdict)
	}
	fmt.Fprintf(o.IO.Out, "%s is %s. To allow it:\n", r.Flow, r.Verdict)
	for _, s := range r.Suggestions {
		if s.Renumber != nil {
			fmt.Fprintf(o.IO.Out, "  ~ %s NSG %s: %s moves from priority %d to %d (every other flow is judged as before)\n", s.Level, s.NSG, s.Renumber.Name, s.Renumber.Priority-1, s.Renumber.Priority)
		}
		fmt.Fprintf(o.IO.Out, "  + %s NSG %s: %s, priority %d, %s TCP from %s to port %s\n    (%s)\n", s.Level, s.NSG, s.Rule.Name, s.Rule.Priority, s.Rule.Access,
			strings.Join(s.Rule.SourceAddressPrefixes, ","), strings.Join(s.Rule.DestinationPortRanges, ","), azure.RuleCreateCommand(s, o.ResourceGroup))
	}
	if err := confirm(o, "Add these rules?"); err != nil {
		return err
	}
	for _, s := range r.Suggestions {
		if s.Renumber != nil {
			if err := p.SetNSGRule(ctx, s.NSGID, *s.Renumber); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.Out, "moved %s to priority %d in %s\n", s.Renumber.Name, s.Renumber.Priority, s.NSG)
		}
		if err := p.SetNSGRule(ctx, s.NSGID, s.Rule); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.Out, "added %s to %s\n", s.Rule.Name, s.NSG)
	}
	after := azure.EvaluateSSH(ctx, p, o.VM, o.SourceIP, o.Port)
	if after.Verdict != nil && after.Verdict.Allowed {
		fmt.Fprintf(o.IO.Out, "Now %s.\n", after.Verdict)
	} else {
		fmt.Fprintln(o.IO.Out, "Azure does not show the new rules in effect yet; run `sshdoctor azure check` again in a minute.")
	}
	recheckSSH(ctx, o, p)
	return nil
}

var statusMark = map[cloudcheck.Status]string{cloudcheck.StatusOK: "✓", cloudcheck.StatusFail: "✗", cloudcheck.StatusWarn: "!", cloudcheck.StatusSkip: "-"}

func printAzureCheck(o *AzureOptions, r *azure.Report) error {
	t := r.Target
	header := fmt.Sprintf("sshdoctor azure check %s/%s, TCP %d from %s  (subscription %s)", t.ResourceGroup, t.VM, t.Port, sourceText(t.Target), t.Subscription)
	return printCloudCheck(o.IO, o.Output, header, r.Report, func(code int) any {
		return struct {
			Schema   string `json:"schema"`
			ExitCode int    `json:"exit_code"`
			*azure.Report
		}{AzureSchema, code, r}
	})
}

// sourceText names the check's client for its header.
func sourceText(t cloudcheck.Target) string {
	if t.SourceAuto {
		return "the Internet (" + t.SourceIP + ", --source-ip auto)"
	}
	return t.SourceIP
}

// printCloudCheck prints a cloud check (azure check, lab check): the JSON
// document doc makes for the exit code, or the text under header. Exit 1
// when the check is not OK.
func printCloudCheck(ios *IOStreams, output, header string, r *cloudcheck.Report, doc func(code int) any) error {
	code := ExitOK
	if !r.OK {
		code = ExitProblem
	}
	var err error
	if output == "json" {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(doc(code))
	} else {
		err = cloudCheckText(ios.Out, header, r)
	}
	if err != nil {
		return err
	}
	if code != ExitOK {
		return &ExitError{Code: code}
	}
	return nil
}

// cloudCheckText writes one line per step, then the first error finding
// with its evidence and fix, then the others.
func cloudCheckText(w io.Writer, header string, r *cloudcheck.Report) error {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, " %s %-8s %s\n", statusMark[s.Status], s.Name, s.Summary)
	}
	var root *findings.Finding
	for i, f := range r.Findings {
		if f.Severity == findings.Error {
			root = &r.Findings[i]
			break
		}
	}
	b.WriteString("\n")
	switch {
	case root == nil && len(r.Unknown) > 0:
		fmt.Fprintf(&b, "Diagnosis: unknown. %s shows nothing that stops SSH in what could be evaluated, but not everything could be:\n", cloudcheck.Title(r.Target.Provider))
		for _, u := range r.Unknown {
			fmt.Fprintf(&b, "  ? %s\n", u)
		}
	case root == nil:
		fmt.Fprintf(&b, "Diagnosis: %s shows nothing that stops SSH.\n", cloudcheck.Title(r.Target.Provider))
	default:
		fmt.Fprintf(&b, "Diagnosis: %s\n  [%s]\n", root.Summary, root.ID)
		for _, e := range root.Evidence {
			fmt.Fprintf(&b, "  · %s\n", e)
		}
		fmt.Fprintf(&b, "Fix: %s\n", root.Remediation)
	}
	var others []findings.Finding
	for _, f := range r.Findings {
		if root == nil || f.ID != root.ID {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		b.WriteString("\nAlso found:\n")
		for _, f := range others {
			mark := map[findings.Severity]string{findings.Error: "✗", findings.Warning: "!", findings.Info: "i"}[f.Severity]
			fmt.Fprintf(&b, "  %s %s [%s]\n    → %s\n", mark, f.Summary, f.ID, f.Remediation)
		}
	}
	_, err := fmt.Fprint(w, b.String())
	return err
}
