package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// This file decides, before anything is contacted, what `sshdoctor azure`
// signs in to — the way the az CLI does: which subscription (flag,
// AZURE_SUBSCRIPTION_ID, az's default), which cloud (named, or a custom
// cloud file as `az cloud register` takes it), which tenant (az's profile,
// else the one ARM names for the subscription), and which VM (--ids).

// Profile is the part of the az CLI's azureProfile.json sshdoctor reads:
// the subscriptions `az login` found.
type Profile struct {
	Path          string                `json:"-"`
	Subscriptions []ProfileSubscription `json:"subscriptions"`
}

// ProfileSubscription is one subscription az knows.
type ProfileSubscription struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	TenantID        string `json:"tenantId"`
	EnvironmentName string `json:"environmentName"` // az's cloud name: AzureCloud, AzureUSGovernment, …
	IsDefault       bool   `json:"isDefault"`       // what `az account set` chose
}

// ProfilePath is where az keeps its profile: $AZURE_CONFIG_DIR, else
// ~/.azure. Empty when neither is known.
func ProfilePath(getenv func(string) string) string {
	dir := getenv("AZURE_CONFIG_DIR")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".azure")
	}
	return filepath.Join(dir, "azureProfile.json")
}

// LoadProfile reads az's profile at path. A missing file is no profile
// (nil, nil): az was never used here.
func LoadProfile(path string) (*Profile, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (az login rewrites it; or set AZURE_CONFIG_DIR to another directory)", path, err)
	}
	p.Path = path
	return p, nil
}

// ParseProfile decodes azureProfile.json. az writes it with a UTF-8 byte
// order mark, which encoding/json does not accept, so it is dropped.
func ParseProfile(data []byte) (*Profile, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not az's profile JSON: %v", err)
	}
	return &p, nil
}

// Default is the subscription az uses without --subscription; nil when
// there is none.
func (p *Profile) Default() *ProfileSubscription {
	if p == nil {
		return nil
	}
	for i := range p.Subscriptions {
		if p.Subscriptions[i].IsDefault {
			return &p.Subscriptions[i]
		}
	}
	return nil
}

// Lookup finds a subscription by ID or by name, case-insensitively, as az
// does for --subscription. nil, nil when none matches; an error when a
// name is shared by several subscriptions.
func (p *Profile) Lookup(idOrName string) (*ProfileSubscription, error) {
	if p == nil {
		return nil, nil
	}
	for i := range p.Subscriptions {
		if strings.EqualFold(p.Subscriptions[i].ID, idOrName) {
			return &p.Subscriptions[i], nil
		}
	}
	var found *ProfileSubscription
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		if !strings.EqualFold(s.Name, idOrName) {
			continue
		}
		if found != nil && !strings.EqualFold(found.ID, s.ID) {
			return nil, fmt.Errorf("several subscriptions are named %q (%s, %s): pass the ID", idOrName, found.ID, s.ID)
		}
		found = s
	}
	return found, nil
}

// Cloud is where ARM and its token authority are.
type Cloud struct {
	Name string
	// File is the cloud file a custom cloud was read from; empty for a
	// named cloud.
	File string
	// Config holds the authority host and ARM's endpoint and token
	// audience, as the SDK's clients and credentials take them.
	Config azcloud.Configuration
	// ADFS: the authority is Active Directory Federation Services (Azure
	// Stack Hub disconnected), whose tenant is always "adfs" and which has
	// no instance discovery.
	ADFS bool
}

// ARM is the cloud's Resource Manager service configuration.
func (c Cloud) ARM() azcloud.ServiceConfiguration { return c.Config.Services[azcloud.ResourceManager] }

// Scope is the token scope for ARM: its audience + "/.default", exactly as
// the SDK's ARM pipeline asks for it.
func (c Cloud) Scope() string { return c.ARM().Audience + "/.default" }

// namedClouds are the clouds `az cloud list` knows by name.
var namedClouds = map[string]azcloud.Configuration{
	"AzureCloud":        azcloud.AzurePublic,
	"AzureUSGovernment": azcloud.AzureGovernment,
	"AzureChinaCloud":   azcloud.AzureChina,
}

// CloudNames lists the named clouds for messages.
const CloudNames = "AzureCloud, AzureUSGovernment or AzureChinaCloud"

// NamedCloud returns one of az's built-in clouds by name
// (case-insensitively).
func NamedCloud(name string) (Cloud, bool) {
	for n, c := range namedClouds {
		if strings.EqualFold(n, name) {
			return Cloud{Name: n, Config: copyConfig(c)}, true
		}
	}
	return Cloud{}, false
}

// copyConfig copies c so that nothing changes the SDK's shared
// configurations.
func copyConfig(c azcloud.Configuration) azcloud.Configuration {
	out := azcloud.Configuration{ActiveDirectoryAuthorityHost: c.ActiveDirectoryAuthorityHost, Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{}}
	for k, v := range c.Services {
		out.Services[k] = v
	}
	return out
}

// cloudFile is the JSON `az cloud register --cloud-config @FILE` takes and
// `az cloud show` prints: only the endpoints sshdoctor needs are read.
type cloudFile struct {
	Name      string `json:"name"`
	Endpoints struct {
		ResourceManager           string `json:"resourceManager"`
		ActiveDirectory           string `json:"activeDirectory"`
		ActiveDirectoryResourceID string `json:"activeDirectoryResourceId"`
		Management                string `json:"management"`
	} `json:"endpoints"`
}

// ParseCloudConfig reads a custom cloud in az's cloud-config JSON.
// endpoints.resourceManager is required; the token audience is
// endpoints.activeDirectoryResourceId (else endpoints.management, else the
// ARM endpoint), and the authority endpoints.activeDirectory (else
// AZURE_AUTHORITY_HOST or Azure's public authority, applied by
// ResolveSignIn). An authority ending in /adfs is Azure Stack Hub's ADFS.
func ParseCloudConfig(data []byte) (Cloud, error) {
	var f cloudFile
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	if err := dec.Decode(&f); err != nil {
		return Cloud{}, fmt.Errorf("not a cloud configuration (JSON like `az cloud show` prints): %v", err)
	}
	e := f.Endpoints
	if e.ResourceManager == "" {
		return Cloud{}, errors.New(`no "endpoints": {"resourceManager": …} (the ARM endpoint, as in az cloud show)`)
	}
	arm, err := httpsURL("endpoints.resourceManager", e.ResourceManager)
	if err != nil {
		return Cloud{}, err
	}
	audience := e.ActiveDirectoryResourceID
	if audience == "" {
		audience = e.Management
	}
	if audience == "" {
		audience = arm
	}
	if _, err := url.Parse(audience); err != nil || strings.ContainsAny(audience, " \t\n") {
		return Cloud{}, fmt.Errorf("endpoints.activeDirectoryResourceId %q is not a URI", audience)
	}
	c := Cloud{Name: f.Name, Config: azcloud.Configuration{Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
		azcloud.ResourceManager: {Endpoint: strings.TrimRight(arm, "/"), Audience: audience},
	}}}
	if c.Name == "" {
		c.Name = "custom cloud"
	}
	if e.ActiveDirectory != "" {
		host, err := httpsURL("endpoints.activeDirectory", e.ActiveDirectory)
		if err != nil {
			return Cloud{}, err
		}
		c.Config.ActiveDirectoryAuthorityHost, c.ADFS = authorityHost(host)
	}
	return c, nil
}

// authorityHost splits an ADFS authority (https://adfs.example/adfs) into
// the host the SDK wants and whether it is ADFS, as az does.
func authorityHost(u string) (string, bool) {
	trimmed := strings.TrimRight(u, "/")
	if strings.HasSuffix(strings.ToLower(trimmed), "/adfs") {
		return trimmed[:len(trimmed)-len("adfs")], true
	}
	return trimmed + "/", false
}

func httpsURL(what, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%s must be an https:// URL, not %q", what, s)
	}
	return s, nil
}

// LoadCloud resolves --cloud: a name (AzureCloud, AzureUSGovernment,
// AzureChinaCloud) or a cloud-config file (FILE.json, or @FILE.json as az
// writes it).
func LoadCloud(nameOrFile string) (Cloud, error) {
	if c, ok := NamedCloud(nameOrFile); ok {
		return c, nil
	}
	path := strings.TrimPrefix(nameOrFile, "@")
	looksLikeFile := path != nameOrFile || strings.ContainsRune(path, filepath.Separator) || strings.HasSuffix(strings.ToLower(path), ".json")
	data, err := os.ReadFile(path)
	if err != nil {
		if !looksLikeFile && errors.Is(err, os.ErrNotExist) {
			return Cloud{}, fmt.Errorf("unknown cloud %q: use %s, or a cloud file FILE.json (az cloud show -n NAME > FILE.json)", nameOrFile, CloudNames)
		}
		return Cloud{}, fmt.Errorf("cloud file: %v", err)
	}
	c, err := ParseCloudConfig(data)
	if err != nil {
		return Cloud{}, fmt.Errorf("cloud file %s: %v", path, err)
	}
	c.File = path
	return c, nil
}

// SignInInput is what the user said: flags, and the environment.
type SignInInput struct {
	Subscription  string // --subscription: an ID, or a name from az's profile
	IDs           string // --ids: a VM's resource ID
	ResourceGroup string // -g
	VM            string // -n
	Cloud         string // --cloud: a name or a cloud file
	// Getenv reads the environment (nil: os.Getenv): AZURE_SUBSCRIPTION_ID,
	// SSHDOCTOR_AZURE_CLOUD, AZURE_AUTHORITY_HOST, AZURE_CONFIG_DIR, HOME.
	Getenv func(string) string
}

// SignIn is what sshdoctor signs in to and which VM it is about.
type SignIn struct {
	Subscription  string
	ResourceGroup string
	VM            string
	// Tenant owns the subscription; empty until DiscoverTenant when az's
	// profile does not name it.
	Tenant string
	Cloud  Cloud
	// From says where the subscription came from, for messages.
	From string
}

// ResolveSignIn decides subscription, VM, cloud and (when az's profile
// knows it) tenant from the flags, the environment and az's profile. It
// reads local files only; every error is bad input.
func ResolveSignIn(in SignInInput) (*SignIn, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	s := &SignIn{ResourceGroup: in.ResourceGroup, VM: in.VM}
	var idSub string
	if in.IDs != "" {
		if in.ResourceGroup != "" || in.VM != "" {
			return nil, errors.New("--ids names the VM: do not pass -g or -n with it")
		}
		id, err := ParseVMID(in.IDs)
		if err != nil {
			return nil, err
		}
		idSub, s.ResourceGroup, s.VM = id.SubscriptionID, id.ResourceGroupName, id.Name
	}

	profile, err := LoadProfile(ProfilePath(getenv))
	if err != nil {
		return nil, err
	}
	var entry *ProfileSubscription
	switch {
	case in.Subscription != "":
		entry, err = profile.Lookup(in.Subscription)
		if err != nil {
			return nil, fmt.Errorf("--subscription: %v", err)
		}
		s.Subscription, s.From = in.Subscription, "--subscription"
		if entry != nil {
			s.Subscription = entry.ID
		} else if !isGUID(in.Subscription) {
			where := "az has no profile here"
			if profile != nil {
				where = "no subscription of that name in " + profile.Path
			}
			return nil, fmt.Errorf("--subscription %q is not a subscription ID, and %s (az account list -o table)", in.Subscription, where)
		}
		if idSub != "" && !strings.EqualFold(idSub, s.Subscription) {
			return nil, fmt.Errorf("--subscription %s differs from the subscription in --ids (%s): pass one", s.Subscription, idSub)
		}
	case idSub != "":
		s.Subscription, s.From = idSub, "--ids"
	case getenv("AZURE_SUBSCRIPTION_ID") != "":
		s.Subscription, s.From = getenv("AZURE_SUBSCRIPTION_ID"), "AZURE_SUBSCRIPTION_ID"
		if !isGUID(s.Subscription) {
			return nil, fmt.Errorf("AZURE_SUBSCRIPTION_ID=%q is not a subscription ID", s.Subscription)
		}
	default:
		entry = profile.Default()
		if entry == nil {
			return nil, errors.New("no subscription: pass --subscription or --ids, set AZURE_SUBSCRIPTION_ID, or choose one with az account set")
		}
		s.Subscription, s.From = entry.ID, "az's default subscription ("+profile.Path+")"
	}
	if entry == nil {
		entry, _ = profile.Lookup(s.Subscription)
	}
	if entry != nil && entry.TenantID != "" {
		if !validTenant(entry.TenantID) {
			return nil, fmt.Errorf("%s: tenantId %q of subscription %s is not a tenant ID", profile.Path, entry.TenantID, entry.ID)
		}
		s.Tenant = entry.TenantID
	}

	cloudArg, cloudFrom := in.Cloud, "--cloud"
	if cloudArg == "" {
		cloudArg, cloudFrom = getenv("SSHDOCTOR_AZURE_CLOUD"), "SSHDOCTOR_AZURE_CLOUD"
	}
	switch {
	case cloudArg != "":
		if s.Cloud, err = LoadCloud(cloudArg); err != nil {
			return nil, fmt.Errorf("%s: %v", cloudFrom, err)
		}
	case entry != nil && entry.EnvironmentName != "":
		c, ok := NamedCloud(entry.EnvironmentName)
		if !ok {
			return nil, fmt.Errorf("subscription %s is in az's cloud %q: pass its endpoints with --cloud FILE.json (az cloud show -n %s > FILE.json)", s.Subscription, entry.EnvironmentName, entry.EnvironmentName)
		}
		s.Cloud = c
	default:
		s.Cloud, _ = NamedCloud("AzureCloud")
	}
	// AZURE_AUTHORITY_HOST (azidentity's variable) replaces a named
	// cloud's authority and fills in a cloud file's missing one; a cloud
	// file's endpoints.activeDirectory is specific and wins.
	host := getenv("AZURE_AUTHORITY_HOST")
	if host != "" && (s.Cloud.File == "" || s.Cloud.Config.ActiveDirectoryAuthorityHost == "") {
		if _, err := httpsURL("AZURE_AUTHORITY_HOST", host); err != nil {
			return nil, err
		}
		s.Cloud.Config.ActiveDirectoryAuthorityHost, s.Cloud.ADFS = authorityHost(host)
	}
	if s.Cloud.Config.ActiveDirectoryAuthorityHost == "" {
		s.Cloud.Config.ActiveDirectoryAuthorityHost = azcloud.AzurePublic.ActiveDirectoryAuthorityHost
	}
	if s.Cloud.ADFS {
		s.Tenant = "adfs"
	}
	return s, nil
}

// VMID is a parsed virtual machine resource ID.
type VMID struct {
	SubscriptionID, ResourceGroupName, Name string
}

// ParseVMID parses --ids: the full resource ID of a virtual machine, as
// az vm show --query id prints it.
func ParseVMID(id string) (VMID, error) {
	r, err := arm.ParseResourceID(strings.TrimSpace(id))
	if err != nil {
		return VMID{}, fmt.Errorf("--ids %q is not a resource ID (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM): %v", id, err)
	}
	if !strings.EqualFold(r.ResourceType.String(), "Microsoft.Compute/virtualMachines") || r.SubscriptionID == "" || r.ResourceGroupName == "" {
		return VMID{}, fmt.Errorf("--ids %q is a %s, not a virtual machine (Microsoft.Compute/virtualMachines)", id, r.ResourceType)
	}
	if !isGUID(r.SubscriptionID) {
		return VMID{}, fmt.Errorf("--ids: %q is not a subscription ID", r.SubscriptionID)
	}
	return VMID{SubscriptionID: r.SubscriptionID, ResourceGroupName: r.ResourceGroupName, Name: r.Name}, nil
}

// tenantDiscoveryTimeout bounds the one unauthenticated ARM request that
// names the subscription's tenant; ARM answers it at once when reachable.
const tenantDiscoveryTimeout = 15 * time.Second

// DiscoverTenant asks ARM which tenant owns s.Subscription when az's
// profile did not say, as az and Azure PowerShell do: an unauthenticated
// GET of the subscription is answered 401 with the tenant's authority in
// WWW-Authenticate. It leaves s.Tenant empty (the credential's own tenant
// then applies) when ARM does not answer that way, and fails only when ARM
// says the subscription does not exist.
func (s *SignIn) DiscoverTenant(ctx context.Context, client *http.Client) error {
	if s.Tenant != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, tenantDiscoveryTimeout)
	defer cancel()
	u := s.Cloud.ARM().Endpoint + "/subscriptions/" + url.PathEscape(s.Subscription) + "?api-version=2022-12-01"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, h := range resp.Header.Values("WWW-Authenticate") {
			if t, err := TenantFromChallenge(h); err == nil {
				s.Tenant = t
				return nil
			}
		}
	case http.StatusNotFound:
		return fmt.Errorf("subscription %s does not exist in %s (az account list -o table; --cloud for another cloud)", s.Subscription, s.Cloud.Name)
	}
	return nil
}

// TenantFromChallenge reads the tenant from ARM's WWW-Authenticate
// challenge: Bearer authorization_uri="https://login.windows.net/TENANT",
// error="invalid_token", … (Azure Stack's ADFS: …/adfs).
func TenantFromChallenge(header string) (string, error) {
	params, ok := bearerParams(header)
	if !ok {
		return "", fmt.Errorf("not a Bearer challenge: %q", header)
	}
	raw := params["authorization_uri"]
	if raw == "" {
		raw = params["authorization"]
	}
	if raw == "" {
		return "", fmt.Errorf("no authorization_uri in %q", header)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("authorization_uri %q is not a URL", raw)
	}
	tenant, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if !validTenant(tenant) {
		return "", fmt.Errorf("authorization_uri %q names no tenant", raw)
	}
	return tenant, nil
}

// bearerParams finds the Bearer challenge in a WWW-Authenticate value
// (RFC 9110 §11.6.1: challenges, each a scheme followed by comma-separated
// name=value parameters, values tokens or quoted strings) and returns its
// parameters with lower-case names.
func bearerParams(h string) (map[string]string, bool) {
	var params map[string]string
	inBearer := false
	for _, it := range challengeItems(h) {
		switch {
		case it.scheme != "" && params != nil:
			return params, true // the Bearer challenge ended
		case it.scheme != "":
			inBearer = strings.EqualFold(it.scheme, "Bearer")
			if inBearer {
				params = map[string]string{}
			}
		case inBearer:
			params[strings.ToLower(it.name)] = it.value
		}
	}
	return params, params != nil
}

// challengeItem is a scheme, or one name=value parameter.
type challengeItem struct{ scheme, name, value string }

// challengeItems splits a WWW-Authenticate value into schemes and
// parameters.
func challengeItems(h string) []challengeItem {
	var items []challengeItem
	i := 0
	space := func() {
		for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
			i++
		}
	}
	token := func() string {
		start := i
		for i < len(h) && !strings.ContainsRune(" \t,=\"", rune(h[i])) {
			i++
		}
		return h[start:i]
	}
	for i < len(h) {
		space()
		if i < len(h) && (h[i] == ',' || h[i] == '=' || h[i] == '"') {
			i++
			continue
		}
		word := token()
		space()
		if i >= len(h) || h[i] != '=' {
			if word != "" {
				items = append(items, challengeItem{scheme: word})
			}
			continue
		}
		i++ // '='
		space()
		var v strings.Builder
		if i < len(h) && h[i] == '"' {
			for i++; i < len(h) && h[i] != '"'; i++ {
				if h[i] == '\\' && i+1 < len(h) {
					i++
				}
				v.WriteByte(h[i])
			}
			i++ // closing quote
		} else {
			v.WriteString(token())
		}
		items = append(items, challengeItem{name: word, value: v.String()})
	}
	return items
}

// microsoftAuthorities are the hosts of Microsoft Entra ID's clouds, the
// ones MSAL trusts. For any other authority MSAL's instance discovery
// would ask login.microsoftonline.com about it: wrong for a private or
// disconnected cloud (Azure Stack Hub), so it is turned off there.
var microsoftAuthorities = map[string]bool{
	"login.microsoftonline.com": true, "login.microsoft.com": true, "login.windows.net": true, "sts.windows.net": true,
	"login.microsoftonline.us": true, "login-us.microsoftonline.com": true, "login.usgovcloudapi.net": true,
	"login.chinacloudapi.cn": true, "login.partner.microsoftonline.cn": true,
}

// InstanceDiscovery reports whether MSAL may validate the authority with
// Microsoft's instance discovery: only for Microsoft's own authorities.
func (c Cloud) InstanceDiscovery() bool {
	u, err := url.Parse(c.Config.ActiveDirectoryAuthorityHost)
	return err == nil && !c.ADFS && microsoftAuthorities[strings.ToLower(u.Hostname())]
}

// CredentialOptions are DefaultAzureCredential's options for s: the
// cloud's authority, the subscription's tenant (also allowed for the
// environment's client secret or certificate, whose AZURE_TENANT_ID may
// name another), and no instance discovery outside Microsoft's clouds.
func (s *SignIn) CredentialOptions() *azidentity.DefaultAzureCredentialOptions {
	o := &azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: s.Cloud.Config},
		TenantID:                 s.Tenant,
		DisableInstanceDiscovery: !s.Cloud.InstanceDiscovery(),
	}
	if s.Tenant != "" {
		o.AdditionallyAllowedTenants = []string{s.Tenant}
	}
	return o
}

// ClientOptions are the ARM clients' options for s: the cloud's endpoint
// and token audience.
func (s *SignIn) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: s.Cloud.Config}}
}

// Credential is DefaultAzureCredential for s. Every token is asked for in
// s.Tenant, so that ARM never answers InvalidAuthenticationTokenTenant
// because the environment or az defaulted to another tenant.
func (s *SignIn) Credential() (azcore.TokenCredential, error) {
	cred, err := azidentity.NewDefaultAzureCredential(s.CredentialOptions())
	if err != nil {
		return nil, err
	}
	if s.Tenant == "" {
		return cred, nil
	}
	return tenantCredential{cred, s.Tenant}, nil
}

// tenantCredential asks cred for tokens in tenant unless the caller names
// one (ARM's tenant challenge does).
type tenantCredential struct {
	cred   azcore.TokenCredential
	tenant string
}

func (c tenantCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if o.TenantID == "" {
		o.TenantID = c.tenant
	}
	return c.cred.GetToken(ctx, o)
}

// validTenant is azidentity's rule for tenant IDs: letters, digits, '.'
// and '-' (a GUID, a domain name, or "adfs").
func validTenant(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// isGUID reports whether s has a GUID's shape (8-4-4-4-12 hex digits), as
// subscription IDs do.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}
