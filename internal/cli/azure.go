package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/azure"
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
  sshdoctor azure reset-user -g web-rg -n web1 --user azureuser --ssh-key-file ~/.ssh/id_ed25519.pub`,
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

	cmd.AddCommand(newCmdAzureCheck(o, vmFlags, run), newCmdAzureStart(o, vmFlags, run), newCmdAzureRestart(o, vmFlags, run),
		newCmdAzureRedeploy(o, vmFlags, run), newCmdAzureResetSSH(o, vmFlags, run), newCmdAzureResetUser(o, vmFlags, run),
		newCmdAzureNSG(o, vmFlags, run), newCmdAzureGuestCheck(o, vmFlags, run))
	return cmd
}

// azureVMFlags adds the flags that name the VM and where it lives.
type azureVMFlags = func(*cobra.Command)

// azureFunc is one azure verb's work, after sign-in.
type azureFunc = func(ctx context.Context, o *AzureOptions, p *azure.Provider) error

// azureRunner validates the flags (the common ones, then the verb's own),
// signs in and runs the verb.
type azureRunner = func(validate func() error, f azureFunc) func(*cobra.Command, []string) error

// Timeouts of the azure verbs.
const (
	bannerTimeout      = 5 * time.Second // one re-check attempt: connect and read sshd's banner
	recheckInterval    = 3 * time.Second // between re-check attempts
	defaultRecheckWait = 2 * time.Minute // how long the re-check waits for a booting VM
	runCommandTimeout  = 5 * time.Minute // guest-check's run-command, queue included
)

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
