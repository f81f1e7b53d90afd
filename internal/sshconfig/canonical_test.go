package sshconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	known := map[string]bool{"web.corp.example.": true, "db.lab.example.": true}
	var asked []string
	lookup := func(_ context.Context, h string) ([]string, error) {
		asked = append(asked, h)
		if known[h] {
			return []string{"192.0.2.10"}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, c := range []struct {
		name  string
		s     Settings
		want  string
		fails bool
	}{
		{"first domain that resolves", Settings{HostName: "web", CanonicalizeHostname: "yes", CanonicalDomains: []string{"other.example", "corp.example"}, CanonicalizeMaxDots: 1, CanonicalizeFallbackLocal: true}, "web.corp.example", false},
		{"off", Settings{HostName: "web", CanonicalizeHostname: "no", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1}, "web", false},
		{"too many dots", Settings{HostName: "web.x.y", CanonicalizeHostname: "yes", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1, CanonicalizeFallbackLocal: true}, "web.x.y", false},
		{"an address", Settings{HostName: "10.0.0.4", CanonicalizeHostname: "always", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 5}, "10.0.0.4", false},
		{"yes, through a proxy: not applied", Settings{HostName: "web", ProxyJump: "bastion", CanonicalizeHostname: "yes", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1}, "web", false},
		{"always, through a proxy: applied", Settings{HostName: "web", ProxyJump: "bastion", CanonicalizeHostname: "always", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1}, "web.corp.example", false},
		{"nothing resolves, fallback local", Settings{HostName: "nope", CanonicalizeHostname: "yes", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1, CanonicalizeFallbackLocal: true}, "nope", false},
		{"nothing resolves, no fallback", Settings{HostName: "nope", CanonicalizeHostname: "yes", CanonicalDomains: []string{"corp.example"}, CanonicalizeMaxDots: 1}, "", true},
		{"a trailing dot is already canonical", Settings{HostName: "web.corp.example.", CanonicalizeHostname: "yes", CanonicalDomains: []string{"x"}, CanonicalizeMaxDots: 1}, "web.corp.example", false},
	} {
		s := c.s
		err := canonicalize(context.Background(), &s, lookup)
		var ue *UsageError
		switch {
		case c.fails && !errors.As(err, &ue):
			t.Errorf("%s: error %v, want a UsageError", c.name, err)
		case !c.fails && (err != nil || s.HostName != c.want):
			t.Errorf("%s: HostName %q err %v, want %q", c.name, s.HostName, err, c.want)
		}
	}
}

// The built-in parser reads the Canonical* settings and Resolve applies
// them; ssh -G applies them itself, and fails as ssh does when no name
// resolves and there is no fallback.
func TestResolveCanonicalizes(t *testing.T) {
	ssh := sshBinary(t)
	fakeHome(t)
	lookup := func(_ context.Context, h string) ([]string, error) {
		if h == "web.corp.example." {
			return []string{"192.0.2.10"}, nil
		}
		return nil, errors.New("no such host")
	}
	opts := []string{"CanonicalizeHostname=yes", "CanonicalDomains=nope.invalid corp.example", "CanonicalizeFallbackLocal=no"}
	s, err := Resolve(context.Background(), Query{Host: "web", ConfigFile: "none", SSHPath: "-", LookupHost: lookup, Options: opts})
	if err != nil || s.HostName != "web.corp.example" || s.CanonicalFrom != "web" {
		t.Errorf("built-in: %+v %v", s, err)
	}
	// ssh resolves with the system resolver: it runs in an empty network
	// namespace, where no query leaves the machine and every name fails.
	isolated := filepath.Join(t.TempDir(), "ssh-isolated")
	if err := os.WriteFile(isolated, []byte("#!/bin/sh\nexec unshare -n "+ssh+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var ue *UsageError
	for _, path := range []string{isolated, "-"} {
		_, err := Resolve(context.Background(), Query{Host: "db", ConfigFile: "none", SSHPath: path, LookupHost: lookup,
			Options: []string{"CanonicalizeHostname=yes", "CanonicalDomains=nope.invalid", "CanonicalizeFallbackLocal=no"}})
		if !errors.As(err, &ue) {
			t.Errorf("%s: db resolves nowhere and fallback is off: error %v, want a UsageError", path, err)
		}
		s, err := Resolve(context.Background(), Query{Host: "db", ConfigFile: "none", SSHPath: path, LookupHost: lookup,
			Options: []string{"CanonicalizeHostname=yes", "CanonicalDomains=nope.invalid"}})
		if err != nil || s.HostName != "db" {
			t.Errorf("%s: fallback local: %+v %v", path, s, err)
		}
	}
}
