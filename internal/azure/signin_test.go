package azure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	subA    = "11111111-1111-1111-1111-111111111111"
	subB    = "22222222-2222-2222-2222-222222222222"
	subGov  = "33333333-3333-3333-3333-333333333333"
	subOdd  = "44444444-4444-4444-4444-444444444444"
	tenantA = "aaaaaaaa-0000-0000-0000-000000000001"
	tenantB = "bbbbbbbb-0000-0000-0000-000000000002"
	vmIDA   = "/subscriptions/" + subA + "/resourceGroups/web-rg/providers/Microsoft.Compute/virtualMachines/web1"
)

// profileJSON is azureProfile.json as az writes it: a UTF-8 BOM first.
const profileJSON = "\xef\xbb\xbf" + `{"installationId": "x", "subscriptions": [
 {"id": "` + subA + `", "name": "Contoso Prod", "state": "Enabled", "user": {"name": "a@contoso.com", "type": "user"},
  "isDefault": false, "tenantId": "` + tenantA + `", "environmentName": "AzureCloud", "homeTenantId": "` + tenantA + `"},
 {"id": "` + subB + `", "name": "Contoso Dev", "isDefault": true, "tenantId": "` + tenantB + `", "environmentName": "AzureCloud"},
 {"id": "` + subGov + `", "name": "Gov", "isDefault": false, "tenantId": "` + tenantA + `", "environmentName": "AzureUSGovernment"},
 {"id": "` + subOdd + `", "name": "Stack", "isDefault": false, "tenantId": "adfs", "environmentName": "AzureStackUser"},
 {"id": "55555555-5555-5555-5555-555555555555", "name": "Twin", "tenantId": "` + tenantA + `"},
 {"id": "66666666-6666-6666-6666-666666666666", "name": "twin", "tenantId": "` + tenantA + `"}
]}`

func TestParseProfile(t *testing.T) {
	for _, c := range []struct {
		name, data, wantDefault string
		wantErr                 bool
	}{
		{"az's file with BOM", profileJSON, subB, false},
		{"no BOM", strings.TrimPrefix(profileJSON, "\xef\xbb\xbf"), subB, false},
		{"no default", `{"subscriptions": [{"id": "` + subA + `", "isDefault": false}]}`, "", false},
		{"empty", `{}`, "", false},
		{"not JSON", "\xef\xbb\xbf{subscriptions", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(c.data))
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			got := ""
			if d := p.Default(); d != nil {
				got = d.ID
			}
			if got != c.wantDefault {
				t.Errorf("default %q, want %q", got, c.wantDefault)
			}
		})
	}
}

func TestProfileLookup(t *testing.T) {
	p, err := ParseProfile([]byte(profileJSON))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ q, want, wantErr string }{
		{subA, subA, ""},
		{strings.ToUpper(subA), subA, ""},
		{"Contoso Prod", subA, ""},
		{"contoso dev", subB, ""},
		{"Nope", "", ""},
		{"Twin", "", "several subscriptions"},
	} {
		s, err := p.Lookup(c.q)
		got := ""
		if s != nil {
			got = s.ID
		}
		if got != c.want || (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("Lookup(%q) = %q, %v; want %q, error %q", c.q, got, err, c.want, c.wantErr)
		}
	}
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolveSignIn(t *testing.T) {
	dir := t.TempDir()
	azdir := filepath.Join(dir, "azure")
	if err := os.Mkdir(azdir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, azdir, "azureProfile.json", profileJSON)
	noDefault := filepath.Join(dir, "nodefault")
	if err := os.Mkdir(noDefault, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, noDefault, "azureProfile.json", `{"subscriptions": [{"id": "`+subA+`", "tenantId": "`+tenantA+`"}]}`)
	broken := filepath.Join(dir, "broken")
	if err := os.Mkdir(broken, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, broken, "azureProfile.json", "\xef\xbb\xbf{")

	stack := writeFile(t, dir, "stack.json", `{"name": "AzureStackUser", "endpoints": {
		"resourceManager": "https://management.local.azurestack.external/",
		"activeDirectory": "https://adfs.local.azurestack.external/adfs/",
		"activeDirectoryResourceId": "https://management.adfs.azurestack.external/ab12"}, "suffixes": {"storageEndpoint": "local.azurestack.external"}}`)
	aadStack := writeFile(t, dir, "aadstack.json", `{"endpoints": {"resourceManager": "https://management.region.example/", "activeDirectory": "https://login.microsoftonline.com/", "management": "https://management.region.example/abc"}}`)
	armOnly := writeFile(t, dir, "armonly.json", `{"endpoints": {"resourceManager": "https://arm.example"}}`)
	noARM := writeFile(t, dir, "noarm.json", `{"endpoints": {"activeDirectory": "https://login.example/"}}`)
	httpARM := writeFile(t, dir, "http.json", `{"endpoints": {"resourceManager": "http://arm.example"}}`)
	notJSON := writeFile(t, dir, "bad.json", `{"endpoints": `)

	type want struct {
		sub, rg, vm, tenant, cloud, arm, audience, authority string
		adfs                                                 bool
	}
	public := func(sub, tenant string) want {
		return want{sub: sub, rg: "rg", vm: "vm", tenant: tenant, cloud: "AzureCloud", arm: "https://management.azure.com",
			audience: "https://management.core.windows.net/", authority: "https://login.microsoftonline.com/"}
	}
	for _, c := range []struct {
		name    string
		in      SignInInput
		env     map[string]string
		want    want
		wantErr string
	}{
		{name: "az's default", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, want: public(subB, tenantB)},
		{name: "--subscription ID from the profile", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, want: public(subA, tenantA)},
		{name: "--subscription name", in: SignInInput{Subscription: "Contoso Prod", ResourceGroup: "rg", VM: "vm"}, want: public(subA, tenantA)},
		{name: "--subscription ID az does not know", in: SignInInput{Subscription: "77777777-7777-7777-7777-777777777777", ResourceGroup: "rg", VM: "vm"}, want: public("77777777-7777-7777-7777-777777777777", "")},
		{name: "--subscription unknown name", in: SignInInput{Subscription: "Fabrikam", ResourceGroup: "rg", VM: "vm"}, wantErr: `--subscription "Fabrikam" is not a subscription ID, and no subscription of that name in`},
		{name: "--subscription shared name", in: SignInInput{Subscription: "twin", ResourceGroup: "rg", VM: "vm"}, wantErr: "several subscriptions are named"},
		{name: "AZURE_SUBSCRIPTION_ID before az's default", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_SUBSCRIPTION_ID": subA}, want: public(subA, tenantA)},
		{name: "AZURE_SUBSCRIPTION_ID not an ID", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_SUBSCRIPTION_ID": "Contoso Prod"}, wantErr: "AZURE_SUBSCRIPTION_ID="},
		{name: "no default in the profile", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_CONFIG_DIR": noDefault}, wantErr: "no subscription"},
		{name: "no profile", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_CONFIG_DIR": filepath.Join(dir, "none")}, wantErr: "no subscription"},
		{name: "no profile, a name", in: SignInInput{Subscription: "Contoso Prod", ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_CONFIG_DIR": filepath.Join(dir, "none")}, wantErr: "az has no profile here"},
		{name: "HOME's .azure", in: SignInInput{ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_CONFIG_DIR": "", "HOME": filepath.Join(dir, "none")}, wantErr: "no subscription"},
		{name: "broken profile", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_CONFIG_DIR": broken}, wantErr: "not az's profile JSON"},

		{name: "--ids", in: SignInInput{IDs: vmIDA}, want: want{sub: subA, rg: "web-rg", vm: "web1", tenant: tenantA, cloud: "AzureCloud", arm: "https://management.azure.com", audience: "https://management.core.windows.net/", authority: "https://login.microsoftonline.com/"}},
		{name: "--ids lower case, as az sometimes prints", in: SignInInput{IDs: strings.ToLower(vmIDA)}, want: want{sub: subA, rg: "web-rg", vm: "web1", tenant: tenantA, cloud: "AzureCloud", arm: "https://management.azure.com", audience: "https://management.core.windows.net/", authority: "https://login.microsoftonline.com/"}},
		{name: "--ids with -g", in: SignInInput{IDs: vmIDA, ResourceGroup: "rg"}, wantErr: "do not pass -g or -n"},
		{name: "--ids with -n", in: SignInInput{IDs: vmIDA, VM: "vm"}, wantErr: "do not pass -g or -n"},
		{name: "--ids and the same --subscription", in: SignInInput{IDs: vmIDA, Subscription: "Contoso Prod"}, want: want{sub: subA, rg: "web-rg", vm: "web1", tenant: tenantA, cloud: "AzureCloud", arm: "https://management.azure.com", audience: "https://management.core.windows.net/", authority: "https://login.microsoftonline.com/"}},
		{name: "--ids and another --subscription", in: SignInInput{IDs: vmIDA, Subscription: subB}, wantErr: "differs from the subscription in --ids"},
		{name: "--ids of a NIC", in: SignInInput{IDs: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic"}, wantErr: "not a virtual machine"},
		{name: "--ids of an extension", in: SignInInput{IDs: vmIDA + "/extensions/enablevmaccess"}, wantErr: "not a virtual machine"},
		{name: "--ids of a resource group", in: SignInInput{IDs: "/subscriptions/" + subA + "/resourceGroups/rg"}, wantErr: "not a virtual machine"},
		{name: "--ids garbage", in: SignInInput{IDs: "web1"}, wantErr: "is not a resource ID"},

		{name: "profile's cloud", in: SignInInput{Subscription: "Gov", ResourceGroup: "rg", VM: "vm"}, want: want{sub: subGov, rg: "rg", vm: "vm", tenant: tenantA, cloud: "AzureUSGovernment",
			arm: "https://management.usgovcloudapi.net", audience: "https://management.core.usgovcloudapi.net/", authority: "https://login.microsoftonline.us/"}},
		{name: "--cloud by name", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: "azurechinacloud"}, want: want{sub: subA, rg: "rg", vm: "vm", tenant: tenantA, cloud: "AzureChinaCloud",
			arm: "https://management.chinacloudapi.cn", audience: "https://management.core.chinacloudapi.cn/", authority: "https://login.chinacloudapi.cn/"}},
		{name: "--cloud unknown", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: "AzureGermanCloud"}, wantErr: `--cloud: unknown cloud "AzureGermanCloud"`},
		{name: "profile's custom cloud", in: SignInInput{Subscription: "Stack", ResourceGroup: "rg", VM: "vm"}, wantErr: `in az's cloud "AzureStackUser": pass its endpoints with --cloud FILE.json`},
		{name: "ADFS cloud file", in: SignInInput{Subscription: "Stack", ResourceGroup: "rg", VM: "vm", Cloud: stack}, want: want{sub: subOdd, rg: "rg", vm: "vm", tenant: "adfs", cloud: "AzureStackUser",
			arm: "https://management.local.azurestack.external", audience: "https://management.adfs.azurestack.external/ab12", authority: "https://adfs.local.azurestack.external/", adfs: true}},
		{name: "@file as az writes it", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: "@" + aadStack}, want: want{sub: subA, rg: "rg", vm: "vm", tenant: tenantA, cloud: "custom cloud",
			arm: "https://management.region.example", audience: "https://management.region.example/abc", authority: "https://login.microsoftonline.com/"}},
		{name: "SSHDOCTOR_AZURE_CLOUD, ARM only", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"SSHDOCTOR_AZURE_CLOUD": armOnly}, want: want{sub: subA, rg: "rg", vm: "vm", tenant: tenantA, cloud: "custom cloud",
			arm: "https://arm.example", audience: "https://arm.example", authority: "https://login.microsoftonline.com/"}},
		{name: "--cloud before SSHDOCTOR_AZURE_CLOUD", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: "AzureCloud"}, env: map[string]string{"SSHDOCTOR_AZURE_CLOUD": notJSON}, want: public(subA, tenantA)},
		{name: "cloud file without ARM", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: noARM}, wantErr: `no "endpoints": {"resourceManager"`},
		{name: "cloud file with http ARM", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: httpARM}, wantErr: "endpoints.resourceManager must be an https:// URL"},
		{name: "cloud file not JSON", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"SSHDOCTOR_AZURE_CLOUD": notJSON}, wantErr: "SSHDOCTOR_AZURE_CLOUD: cloud file " + notJSON + ": not a cloud configuration"},
		{name: "cloud file missing", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: filepath.Join(dir, "missing.json")}, wantErr: "--cloud: cloud file: open"},

		{name: "AZURE_AUTHORITY_HOST replaces a named cloud's", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_AUTHORITY_HOST": "https://login.example.net"},
			want: want{sub: subA, rg: "rg", vm: "vm", tenant: tenantA, cloud: "AzureCloud", arm: "https://management.azure.com", audience: "https://management.core.windows.net/", authority: "https://login.example.net/"}},
		{name: "AZURE_AUTHORITY_HOST fills a cloud file's", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: armOnly}, env: map[string]string{"AZURE_AUTHORITY_HOST": "https://adfs.example/adfs"},
			want: want{sub: subA, rg: "rg", vm: "vm", tenant: "adfs", cloud: "custom cloud", arm: "https://arm.example", audience: "https://arm.example", authority: "https://adfs.example/", adfs: true}},
		{name: "a cloud file's authority wins over AZURE_AUTHORITY_HOST", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm", Cloud: aadStack}, env: map[string]string{"AZURE_AUTHORITY_HOST": "https://login.example.net"},
			want: want{sub: subA, rg: "rg", vm: "vm", tenant: tenantA, cloud: "custom cloud", arm: "https://management.region.example", audience: "https://management.region.example/abc", authority: "https://login.microsoftonline.com/"}},
		{name: "AZURE_AUTHORITY_HOST not https", in: SignInInput{Subscription: subA, ResourceGroup: "rg", VM: "vm"}, env: map[string]string{"AZURE_AUTHORITY_HOST": "http://login.example.net"}, wantErr: "AZURE_AUTHORITY_HOST must be an https:// URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"AZURE_CONFIG_DIR": azdir, "HOME": dir}
			for k, v := range c.env {
				env[k] = v
			}
			in := c.in
			in.Getenv = func(k string) string { return env[k] }
			s, err := ResolveSignIn(in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			arm := s.Cloud.ARM()
			got := want{sub: s.Subscription, rg: s.ResourceGroup, vm: s.VM, tenant: s.Tenant, cloud: s.Cloud.Name, arm: arm.Endpoint,
				audience: arm.Audience, authority: s.Cloud.Config.ActiveDirectoryAuthorityHost, adfs: s.Cloud.ADFS}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if o := s.CredentialOptions(); o.TenantID != s.Tenant || s.Cloud.ADFS && !o.DisableInstanceDiscovery || o.Cloud.ActiveDirectoryAuthorityHost != c.want.authority {
				t.Errorf("credential options %+v do not follow the sign-in", o)
			}
		})
	}
}

func TestCloudScope(t *testing.T) {
	for name, want := range map[string]string{
		"AzureCloud":        "https://management.core.windows.net//.default",
		"AzureUSGovernment": "https://management.core.usgovcloudapi.net//.default",
		"AzureChinaCloud":   "https://management.core.chinacloudapi.cn//.default",
	} {
		c, ok := NamedCloud(name)
		if !ok || c.Scope() != want {
			t.Errorf("%s: scope %q, want %q", name, c.Scope(), want)
		}
	}
	// Named clouds are copies: changing one leaves the SDK's alone.
	c, _ := NamedCloud("AzureCloud")
	c.Config.ActiveDirectoryAuthorityHost = "https://changed.example/"
	if again, _ := NamedCloud("AzureCloud"); again.Config.ActiveDirectoryAuthorityHost != "https://login.microsoftonline.com/" {
		t.Errorf("NamedCloud shares its configuration")
	}
}

func TestCloudInstanceDiscovery(t *testing.T) {
	for _, c := range []struct {
		authority  string
		adfs, want bool
	}{
		{"https://login.microsoftonline.com/", false, true},
		{"https://login.microsoftonline.us/", false, true},
		{"https://LOGIN.chinacloudapi.cn/", false, true},
		{"https://login.example.net/", false, false},
		{"https://127.0.0.1:8443/", false, false},
		{"https://adfs.local.azurestack.external/", true, false},
	} {
		cl := Cloud{Config: azcloud.Configuration{ActiveDirectoryAuthorityHost: c.authority}, ADFS: c.adfs}
		if got := cl.InstanceDiscovery(); got != c.want {
			t.Errorf("%s (ADFS %v): instance discovery %v, want %v", c.authority, c.adfs, got, c.want)
		}
		s := &SignIn{Cloud: cl}
		if s.CredentialOptions().DisableInstanceDiscovery == c.want {
			t.Errorf("%s: credential options disagree", c.authority)
		}
	}
}

func TestSignInTenantFromChallenge(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		// ARM's answer, verbatim in shape.
		{`Bearer authorization_uri="https://login.windows.net/` + tenantA + `", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`, tenantA},
		{`Bearer error="invalid_token", authorization_uri="https://login.microsoftonline.us/` + tenantA + `/"`, tenantA},
		{`bearer   authorization_uri = "https://login.chinacloudapi.cn/` + tenantB + `/oauth2/authorize"`, tenantB},
		{`Bearer authorization_uri=https://login.windows.net/` + tenantB + `, error=invalid_token`, tenantB},
		{`Bearer realm="", authorization_uri="https://adfs.local.azurestack.external/adfs", error="invalid_token"`, "adfs"},
		{`Basic realm="x, y", Bearer authorization_uri="https://login.windows.net/contoso.onmicrosoft.com"`, "contoso.onmicrosoft.com"},
		{`PoP nonce="abc", Bearer error_description="say \"hi\", ok", authorization_uri="https://login.windows.net/` + tenantA + `"`, tenantA},
		{`Bearer authorization="https://login.windows.net/` + tenantA + `"`, tenantA},
		{`Bearer error="invalid_token"`, ""},
		{`Basic realm="https://login.windows.net/` + tenantA + `"`, ""},
		{`Bearer authorization_uri="https://login.windows.net/"`, ""},
		{`Bearer authorization_uri="https://login.windows.net/a%20b"`, ""},
		{`Bearer authorization_uri="not a url"`, ""},
		{``, ""},
	} {
		got, err := TenantFromChallenge(c.header)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("TenantFromChallenge(%s) = %q, %v; want %q", c.header, got, err, c.want)
		}
	}
}

func TestSignInDiscoverTenant(t *testing.T) {
	var requests []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"))
		switch strings.TrimPrefix(r.URL.Path, "/subscriptions/") {
		case subA:
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+tenantA+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
			w.WriteHeader(http.StatusUnauthorized)
		case subB:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusUnauthorized) // no challenge
		}
	}))
	defer srv.Close()
	cloud := Cloud{Name: "test", Config: copyConfig(namedClouds["AzureCloud"])}
	svc := cloud.Config.Services["resourceManager"]
	svc.Endpoint = srv.URL
	cloud.Config.Services["resourceManager"] = svc

	for _, c := range []struct {
		sub, known, want, wantErr string
		requests                  int
	}{
		{sub: subA, want: tenantA, requests: 1},
		{sub: subA, known: tenantB, want: tenantB, requests: 0},
		{sub: subB, wantErr: "does not exist in test", requests: 1},
		{sub: subOdd, want: "", requests: 1},
	} {
		requests = nil
		s := &SignIn{Subscription: c.sub, Tenant: c.known, Cloud: cloud}
		err := s.DiscoverTenant(context.Background(), srv.Client())
		if s.Tenant != c.want || (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) || len(requests) != c.requests {
			t.Errorf("%s (known %q): tenant %q, err %v, requests %q; want %q, error %q, %d requests", c.sub, c.known, s.Tenant, err, requests, c.want, c.wantErr, c.requests)
		}
		for _, r := range requests {
			if r != "GET /subscriptions/"+c.sub+"?api-version=2022-12-01 auth=" {
				t.Errorf("request %q, want an unauthenticated GET of the subscription", r)
			}
		}
	}
	// An unreachable ARM leaves the tenant to the credential.
	s := &SignIn{Subscription: subA, Cloud: cloud}
	srv.Close()
	if err := s.DiscoverTenant(context.Background(), srv.Client()); err != nil || s.Tenant != "" {
		t.Errorf("unreachable ARM: tenant %q, err %v", s.Tenant, err)
	}
}

func TestSignInParseVMID(t *testing.T) {
	id, err := ParseVMID(" " + vmIDA + " ")
	if err != nil || id != (VMID{SubscriptionID: subA, ResourceGroupName: "web-rg", Name: "web1"}) {
		t.Errorf("ParseVMID = %+v, %v", id, err)
	}
	for _, bad := range []string{
		"",
		"/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
		"/subscriptions/" + subA + "/providers/Microsoft.Compute/virtualMachines/vm",
	} {
		if _, err := ParseVMID(bad); err == nil {
			t.Errorf("ParseVMID(%q) accepted", bad)
		}
	}
}

// recordingCredential records the token requests it is given.
type recordingCredential struct{ got []policy.TokenRequestOptions }

func (r *recordingCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	r.got = append(r.got, o)
	return azcore.AccessToken{Token: "t"}, nil
}

func TestSignInTenantCredential(t *testing.T) {
	rec := &recordingCredential{}
	c := tenantCredential{rec, tenantA}
	_, _ = c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"s"}})
	_, _ = c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"s"}, TenantID: tenantB})
	if len(rec.got) != 2 || rec.got[0].TenantID != tenantA || rec.got[1].TenantID != tenantB {
		t.Errorf("token requests %+v: want the subscription's tenant unless the caller names one", rec.got)
	}
}
