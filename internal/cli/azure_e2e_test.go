package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The end-to-end sign-in test runs the real binary against one local
// HTTPS server that is both the token authority (what MSAL asks a
// Microsoft Entra tenant for) and Azure Resource Manager, which answers
// with the Azure REST API specification's recorded examples
// (internal/azure/testdata/arm, provenance in SOURCES.tsv). The binary
// trusts the server through SSL_CERT_FILE, finds it through a custom cloud
// file, and has HTTPS_PROXY pointed at a proxy that refuses everything, so
// that any request that is not to loopback fails and is recorded instead
// of reaching the Internet.

const (
	e2eSub     = "0b1f6471-1bf0-4dda-aec3-111122223333"
	e2eTenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47" // the subscription's
	e2eOther   = "f8cdef31-a31e-4b4a-93e4-5f571e91255a" // AZURE_TENANT_ID's: not the subscription's
	e2eToken   = "e2e-access-token-7f3a"
	e2eClient  = "9a8b7c6d-0000-4000-8000-00000000e2e0"
	e2eSecret  = "e2e-client-secret"
	e2eRG      = "myResourceGroup" // as in the recorded examples
	e2eVM      = "myVM"
	e2eArmData = "../azure/testdata/arm"
)

// armExample is the body of a recorded example's 200 answer.
func armExample(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e2eArmData, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Responses map[string]struct {
			Body map[string]any `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(data, &ex); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	body := ex.Responses["200"].Body
	if body == nil {
		t.Fatalf("%s has no 200 body", name)
	}
	return body
}

// e2eAzure is the local authority + ARM, and what it was asked.
type e2eAzure struct {
	srv *httptest.Server
	mu  sync.Mutex
	// tokenTenants: the tenant of each token request (/TENANT/oauth2/v2.0/token).
	tokenTenants []string
	// tokenForms: each token request's form.
	tokenForms []map[string][]string
	// arm: "METHOD path Authorization" of each authenticated ARM request.
	arm []string
	// discovery: unauthenticated GETs of the subscription (tenant discovery).
	discovery []string
	// serialLog: Authorization headers the serial log was fetched with.
	serialLog []string
	unknown   []string
}

var (
	reTenantConfig = regexp.MustCompile(`^/([^/]+)/v2\.0/\.well-known/openid-configuration$`)
	reToken        = regexp.MustCompile(`^/([^/]+)/oauth2/v2\.0/token$`)
)

func newE2EAzure(t *testing.T) *e2eAzure {
	t.Helper()
	a := &e2eAzure{}
	vm := armExample(t, "VirtualMachine_Get")
	// What GET …/virtualMachines/VM?$expand=instanceView returns: the VM
	// with its instance view (the body of the instanceView example).
	vm["properties"].(map[string]any)["instanceView"] = armExample(t, "VirtualMachine_Get_InstanceView")
	boot := armExample(t, "VirtualMachine_RetrieveBootDiagnosticsData")
	routes := []struct {
		method string
		re     *regexp.Regexp
		body   map[string]any
	}{
		{"GET", regexp.MustCompile(`/providers/microsoft\.compute/virtualmachines/[^/]+$`), vm},
		{"POST", regexp.MustCompile(`/virtualmachines/[^/]+/retrievebootdiagnosticsdata$`), boot},
		{"GET", regexp.MustCompile(`/providers/microsoft\.resourcehealth/availabilitystatuses/current$`), armExample(t, "AvailabilityStatus_GetByResource")},
		{"GET", regexp.MustCompile(`/providers/microsoft\.network/networkinterfaces/[^/]+$`), armExample(t, "NetworkInterfaceGet")},
		{"POST", regexp.MustCompile(`/networkinterfaces/[^/]+/effectivenetworksecuritygroups$`), armExample(t, "NetworkInterfaceEffectiveNSGList")},
		{"POST", regexp.MustCompile(`/networkinterfaces/[^/]+/effectiveroutetable$`), armExample(t, "NetworkInterfaceEffectiveRouteTableList")},
		{"GET", regexp.MustCompile(`/providers/microsoft\.network/publicipaddresses/[^/]+$`), armExample(t, "PublicIpAddressGet")},
		{"GET", regexp.MustCompile(`/providers/microsoft\.network/networksecuritygroups/[^/]+$`), armExample(t, "NetworkSecurityGroupGet")},
		{"GET", regexp.MustCompile(`/providers/microsoft\.network/virtualnetworks/[^/]+/subnets/[^/]+$`), armExample(t, "SubnetGet")},
		{"GET", regexp.MustCompile(`/providers/microsoft\.network/virtualnetworks/[^/]+$`), armExample(t, "VirtualNetworkGet")},
	}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "https://" + r.Host
		a.mu.Lock()
		defer a.mu.Unlock()
		writeJSON := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		}
		path := r.URL.Path
		switch {
		case r.Method == "GET" && reTenantConfig.MatchString(path):
			tenant := reTenantConfig.FindStringSubmatch(path)[1]
			writeJSON(map[string]any{
				"issuer":                 base + "/" + tenant + "/v2.0",
				"authorization_endpoint": base + "/" + tenant + "/oauth2/v2.0/authorize",
				"token_endpoint":         base + "/" + tenant + "/oauth2/v2.0/token",
				"jwks_uri":               base + "/" + tenant + "/discovery/v2.0/keys",
			})
		case r.Method == "POST" && reToken.MatchString(path):
			_ = r.ParseForm()
			a.tokenTenants = append(a.tokenTenants, reToken.FindStringSubmatch(path)[1])
			a.tokenForms = append(a.tokenForms, r.PostForm)
			writeJSON(map[string]any{"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": e2eToken})
		case path == "/storageuri/vm.serialconsole.log":
			a.serialLog = append(a.serialLog, r.Header.Get("Authorization"))
			fmt.Fprint(w, "[    0.000000] Linux version 6.8.0-1015-azure\r\nUbuntu 24.04 LTS myVM ttyS0\r\n\r\nmyVM login: \r\n")
		case strings.HasPrefix(path, "/subscriptions/") && r.Header.Get("Authorization") == "":
			// ARM's answer to an unauthenticated request: the
			// subscription's tenant in the challenge.
			a.discovery = append(a.discovery, r.Method+" "+r.URL.RequestURI())
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+e2eTenant+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(map[string]any{"error": map[string]any{"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}})
		case strings.HasPrefix(path, "/subscriptions/"):
			a.arm = append(a.arm, r.Method+" "+path+" "+r.Header.Get("Authorization"))
			lower := strings.ToLower(path)
			for _, rt := range routes {
				if rt.method == r.Method && rt.re.MatchString(lower) {
					if rt.body == nil {
						break
					}
					data, _ := json.Marshal(rt.body)
					// The recorded SAS URIs point at a placeholder
					// host; serve the serial log here instead.
					data = bytes.ReplaceAll(data, []byte("https://storageuri/"), []byte(base+"/storageuri/"))
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write(data)
					return
				}
			}
			a.unknown = append(a.unknown, r.Method+" "+r.URL.RequestURI())
			w.WriteHeader(http.StatusNotFound)
			writeJSON(map[string]any{"error": map[string]any{"code": "ResourceNotFound", "message": "not recorded in the e2e test"}})
		default:
			a.unknown = append(a.unknown, r.Method+" "+r.URL.RequestURI())
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// e2eEnv is a clean environment for the binary: HOME and AZURE_CONFIG_DIR
// in a temporary directory, the server's CA trusted, a refusing proxy
// for anything not on loopback, and a service principal.
func e2eEnv(t *testing.T, a *e2eAzure, refused *[]string, refusedMu *sync.Mutex) (env []string, home, azdir string) {
	t.Helper()
	home = t.TempDir()
	azdir = filepath.Join(home, ".azure")
	if err := os.Mkdir(azdir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(home, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refusedMu.Lock()
		*refused = append(*refused, r.Method+" "+r.Host)
		refusedMu.Unlock()
		http.Error(w, "the e2e test reaches loopback only", http.StatusForbidden)
	}))
	t.Cleanup(proxy.Close)
	env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AZURE_CONFIG_DIR=" + azdir,
		"SSL_CERT_FILE=" + ca,
		"HTTPS_PROXY=" + proxy.URL, "HTTP_PROXY=" + proxy.URL, "NO_PROXY=",
		"AZURE_TENANT_ID=" + e2eOther,
		"AZURE_CLIENT_ID=" + e2eClient,
		"AZURE_CLIENT_SECRET=" + e2eSecret,
		// Only the environment's service principal: no managed identity
		// probe of 169.254.169.254, no az on the host.
		"AZURE_TOKEN_CREDENTIALS=EnvironmentCredential",
	}
	return env, home, azdir
}

// writeCloudFile writes a custom cloud, as az cloud show prints one,
// whose ARM and authority are the local server.
func writeCloudFile(t *testing.T, dir string, a *e2eAzure) string {
	t.Helper()
	f := filepath.Join(dir, "e2e-cloud.json")
	data := fmt.Sprintf(`{"name": "E2ECloud", "endpoints": {"resourceManager": %q, "activeDirectory": %q, "activeDirectoryResourceId": "https://management.e2e.example/"}, "suffixes": {}}`, a.srv.URL+"/", a.srv.URL)
	if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

type e2eRun struct {
	code           int
	stdout, stderr string
}

func runE2E(t *testing.T, env []string, args ...string) e2eRun {
	t.Helper()
	cmd := exec.Command(binary(t), args...) // netns_test.go builds it once
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := e2eRun{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkE2E asserts what every signed-in check must show: tokens asked for
// in the subscription's tenant only, for ARM's audience, and every ARM
// request carrying that token; the JSON names the VM; nothing left
// loopback.
func checkE2E(t *testing.T, a *e2eAzure, r e2eRun, refused []string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("the binary tried to reach beyond loopback: %q", refused)
	}
	if len(a.unknown) > 0 {
		t.Errorf("requests the test does not serve: %q", a.unknown)
	}
	if len(a.tokenTenants) == 0 {
		t.Fatalf("no token request reached the local authority; stderr: %s", r.stderr)
	}
	for i, tenant := range a.tokenTenants {
		if tenant != e2eTenant {
			t.Errorf("token request %d went to tenant %s, want the subscription's %s", i, tenant, e2eTenant)
		}
		form := a.tokenForms[i]
		// MSAL adds OpenID Connect's own scopes to the one asked for.
		if got := strings.Fields(strings.Join(form["scope"], " ")); len(got) == 0 || got[0] != "https://management.e2e.example//.default" {
			t.Errorf("token scope %q, want the cloud's ARM audience + /.default", got)
		}
		if form["client_id"][0] != e2eClient || form["client_secret"][0] != e2eSecret || form["grant_type"][0] != "client_credentials" {
			t.Errorf("token request form %v", form)
		}
	}
	// One token: the sign-in check asks for it as ARM's pipeline does
	// (CAE), so every call reuses it.
	if len(a.tokenTenants) != 1 {
		t.Errorf("%d token requests, want 1", len(a.tokenTenants))
	}
	if len(a.arm) < 3 {
		t.Errorf("ARM requests %q: want the VM, its NIC, health and more", a.arm)
	}
	for _, req := range a.arm {
		if !strings.HasSuffix(req, " Bearer "+e2eToken) {
			t.Errorf("ARM request without the served token: %q", req)
		}
	}
	for _, auth := range a.serialLog {
		if auth != "" {
			t.Errorf("the serial log (SAS URI) was fetched with Authorization %q", auth)
		}
	}
	var doc struct {
		Schema   string `json:"schema"`
		ExitCode int    `json:"exit_code"`
		Target   struct {
			Subscription  string `json:"subscription"`
			ResourceGroup string `json:"resource_group"`
			VM            string `json:"vm"`
		} `json:"target"`
		VM *struct {
			Name string `json:"name"`
		} `json:"vm"`
		Problems []json.RawMessage `json:"problems"`
		Findings []struct {
			ID string `json:"id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if doc.Schema != AzureSchema || doc.Target.VM != e2eVM || doc.Target.ResourceGroup != e2eRG || doc.Target.Subscription != e2eSub {
		t.Errorf("report names %+v (schema %s), want %s/%s in %s", doc.Target, doc.Schema, e2eRG, e2eVM, e2eSub)
	}
	if doc.VM == nil {
		t.Errorf("the report has no VM: ARM's answer was not read; problems: %s", doc.Problems)
	}
	// The recorded Resource Health example is "Unavailable" (disk
	// problems): a problem found, exit 1.
	var ids []string
	for _, f := range doc.Findings {
		ids = append(ids, f.ID)
	}
	if r.code != ExitProblem || doc.ExitCode != ExitProblem || !strings.Contains(strings.Join(ids, " "), "cloud.health_unavailable") {
		t.Errorf("exit %d (report %d), findings %q; want exit 1 with cloud.health_unavailable; stderr: %s", r.code, doc.ExitCode, ids, r.stderr)
	}
	if len(doc.Problems) > 0 {
		t.Errorf("ARM calls failed: %s", doc.Problems)
	}
}

// TestAzureSignInE2E: the subscription's tenant is not in az's profile, so
// sshdoctor asks ARM (401 challenge) and then signs in there — not in
// AZURE_TENANT_ID's tenant — with the custom cloud from
// SSHDOCTOR_AZURE_CLOUD, and checks the VM named by --ids.
func TestAzureSignInE2E(t *testing.T) {
	a := newE2EAzure(t)
	var refused []string
	var refusedMu sync.Mutex
	env, home, _ := e2eEnv(t, a, &refused, &refusedMu)
	env = append(env, "SSHDOCTOR_AZURE_CLOUD="+writeCloudFile(t, home, a))
	id := "/subscriptions/" + e2eSub + "/resourceGroups/" + e2eRG + "/providers/Microsoft.Compute/virtualMachines/" + e2eVM
	r := runE2E(t, env, "azure", "check", "--ids", id, "--source-ip", "198.51.100.7", "--output", "json")
	refusedMu.Lock()
	defer refusedMu.Unlock()
	checkE2E(t, a, r, refused)
	a.mu.Lock()
	defer a.mu.Unlock()
	if want := "GET /subscriptions/" + e2eSub + "?api-version=2022-12-01"; len(a.discovery) != 1 || a.discovery[0] != want {
		t.Errorf("tenant discovery requests %q, want one %q", a.discovery, want)
	}
}

// TestAzureSignInProfileTenantE2E: az's profile names the subscription's
// tenant, so the token is asked for there at once (no discovery), although
// AZURE_TENANT_ID names another tenant; the subscription is given by its
// name in the profile, and the cloud by --cloud FILE.
func TestAzureSignInProfileTenantE2E(t *testing.T) {
	a := newE2EAzure(t)
	var refused []string
	var refusedMu sync.Mutex
	env, home, azdir := e2eEnv(t, a, &refused, &refusedMu)
	profile := "\xef\xbb\xbf" + `{"installationId": "e2e", "subscriptions": [` +
		`{"id": "` + e2eOther + `", "name": "Other", "isDefault": true, "tenantId": "` + e2eOther + `", "environmentName": "AzureCloud"},` +
		`{"id": "` + e2eSub + `", "name": "E2E Sub", "isDefault": false, "tenantId": "` + e2eTenant + `", "environmentName": "AzureCloud", "state": "Enabled"}]}`
	if err := os.WriteFile(filepath.Join(azdir, "azureProfile.json"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runE2E(t, env, "azure", "check", "-g", e2eRG, "-n", e2eVM, "--subscription", "E2E Sub", "--cloud", writeCloudFile(t, home, a),
		"--source-ip", "198.51.100.7", "--output", "json")
	refusedMu.Lock()
	defer refusedMu.Unlock()
	checkE2E(t, a, r, refused)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.discovery) != 0 {
		t.Errorf("the profile names the tenant, yet sshdoctor asked ARM: %q", a.discovery)
	}
}

// TestAzureSignInBadInputE2E: bad sign-in input is one line, exit 2, and
// nothing is contacted — not the authority, not ARM.
func TestAzureSignInBadInputE2E(t *testing.T) {
	a := newE2EAzure(t)
	var refused []string
	var refusedMu sync.Mutex
	env, home, _ := e2eEnv(t, a, &refused, &refusedMu)
	cloud := writeCloudFile(t, home, a)
	badCloud := filepath.Join(home, "bad.json")
	if err := os.WriteFile(badCloud, []byte(`{"endpoints": {"activeDirectory": "https://login.example/"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	id := "/subscriptions/" + e2eSub + "/resourceGroups/" + e2eRG + "/providers/Microsoft.Compute/virtualMachines/" + e2eVM
	vm := []string{"-g", e2eRG, "-n", e2eVM, "--subscription", e2eSub}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown cloud", append([]string{"azure", "check", "--cloud", "AzureMoon"}, vm...), `unknown cloud "AzureMoon"`},
		{"missing cloud file", append([]string{"azure", "check", "--cloud", filepath.Join(home, "none.json")}, vm...), "cloud file"},
		{"cloud file without ARM", append([]string{"azure", "check", "--cloud", badCloud}, vm...), "resourceManager"},
		{"--ids with -g", []string{"azure", "check", "--cloud", cloud, "--ids", id, "-g", e2eRG}, "do not pass -g or -n"},
		{"--ids not a VM", []string{"azure", "check", "--cloud", cloud, "--ids", "/subscriptions/" + e2eSub + "/resourceGroups/" + e2eRG}, "not a virtual machine"},
		{"--ids another subscription", []string{"azure", "start", "--cloud", cloud, "--ids", id, "--subscription", e2eOther}, "differs from the subscription in --ids"},
		{"subscription name without a profile", []string{"azure", "check", "--cloud", cloud, "-g", e2eRG, "-n", e2eVM, "--subscription", "Prod"}, "not a subscription ID"},
		{"no subscription", []string{"azure", "check", "--cloud", cloud, "-g", e2eRG, "-n", e2eVM}, "no subscription"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runE2E(t, env, c.args...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != ExitUsage || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", r.code, msg, c.want)
			}
		})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tokenTenants)+len(a.arm)+len(a.discovery)+len(a.unknown) > 0 || len(refused) > 0 {
		t.Errorf("bad input contacted something: tokens %q, ARM %q, discovery %q, other %q, refused %q", a.tokenTenants, a.arm, a.discovery, a.unknown, refused)
	}
}

// TestAzureCloudHelp: --help teaches the new flags with examples.
func TestAzureCloudHelp(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(&IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}, []string{"azure", "--help"})
	help := out.String() + errb.String()
	for _, want := range []string{"--ids /subscriptions/", "--cloud AzureUSGovernment", "--cloud stack.json", "az cloud show", "resourceManager", "AZURE_AUTHORITY_HOST", "SSHDOCTOR_AZURE_CLOUD"} {
		if !strings.Contains(help, want) {
			t.Errorf("azure --help lacks %q (exit %d)", want, code)
		}
	}
	out.Reset()
	Main(&IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}, []string{"azure", "check", "--help"})
	for _, want := range []string{"--ids", "--cloud", "AzureUSGovernment", "FILE.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("azure check --help lacks %q", want)
		}
	}
}
