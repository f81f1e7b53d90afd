package diagnose

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

func TestNXDOMAINIsRootCause(t *testing.T) {
	r := &probe.Report{Target: probe.Target{HostName: "vm.example.invalid", Port: 22},
		Resolve: &probe.ResolveResult{NotFound: true, Error: "lookup vm.example.invalid: no such host"}}
	v := Judge(r, Options{})
	if v.Works || v.RootCause == nil || v.RootCause.ID != "dns.no_such_host" || len(v.Layers) != 1 || v.Layers[0].Status != Fail {
		t.Fatalf("verdict %+v", v)
	}
}

func kexReport(server *probe.KexInit, client probe.AlgorithmLists) *probe.Report {
	return &probe.Report{Target: probe.Target{HostName: "h", Port: 22},
		Kex: &probe.KexResult{Server: server, Client: client, ServerClosed: true, Error: "EOF"}}
}

var modernClient = probe.AlgorithmLists{
	Kex: []string{"curve25519-sha256"}, HostKey: []string{"ssh-ed25519"},
	Ciphers: []string{"chacha20-poly1305@openssh.com", "aes128-ctr"}, MACs: []string{"hmac-sha2-256"},
}

func server(cipher, mac string) *probe.KexInit {
	return &probe.KexInit{
		Kex: []string{"curve25519-sha256", "kex-strict-s-v00@openssh.com"}, HostKey: []string{"ssh-ed25519"},
		CiphersClientToServer: []string{cipher}, CiphersServerToClient: []string{cipher},
		MACsClientToServer: []string{mac}, MACsServerToClient: []string{mac},
		CompClientToServer: []string{"none"}, CompServerToClient: []string{"none"},
	}
}

func TestMACMismatchIgnoredForAEADCipher(t *testing.T) {
	// chacha20-poly1305 carries its own MAC: an unknown MAC list does not matter.
	v := Judge(kexReport(server("chacha20-poly1305@openssh.com", "hmac-md5"), modernClient), Options{})
	if v.RootCause == nil || v.RootCause.ID != "kex.server_rejected" {
		t.Fatalf("root cause %+v, want kex.server_rejected", v.RootCause)
	}
	v = Judge(kexReport(server("aes128-ctr", "hmac-md5"), modernClient), Options{})
	if v.RootCause == nil || v.RootCause.ID != "kex.no_common_mac" {
		t.Fatalf("root cause %+v, want kex.no_common_mac", v.RootCause)
	}
	if !strings.Contains(v.RootCause.Remediation, "-o MACs=+hmac-md5") {
		t.Errorf("remediation %q", v.RootCause.Remediation)
	}
}

func TestFixNamesOnlyWhatTheClientSupports(t *testing.T) {
	s := server("aes128-ctr", "hmac-sha2-256")
	s.HostKey = []string{"ssh-foo", "ssh-dss"}
	v := Judge(kexReport(s, modernClient), Options{ClientSupports: func(kind string) []string {
		if kind != "key" {
			t.Errorf("asked for %q", kind)
		}
		return []string{"ssh-ed25519", "ssh-dss"}
	}})
	if v.RootCause.ID != "kex.no_common_hostkey" || !strings.Contains(v.RootCause.Remediation, "-o HostKeyAlgorithms=+ssh-dss") {
		t.Fatalf("%+v", v.RootCause)
	}
}

// findings.New panics on an unregistered ID only when that path runs; this
// catches a typo in any path of the judge, run or not.
func TestEveryEmittedIDIsRegistered(t *testing.T) {
	re := regexp.MustCompile(`findings\.New\("([a-z_.]+)"`)
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			n++
			if _, ok := findings.Lookup(string(m[1])); !ok {
				t.Errorf("%s emits unregistered finding %s", f, m[1])
			}
		}
	}
	if n < 30 {
		t.Fatalf("found only %d findings.New calls; the pattern is broken", n)
	}
}
