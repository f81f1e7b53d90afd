package sshconfig

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sshBinary returns the ssh client to test against. Only a CI run insists
// on having one, so that the ssh -G path is never silently untested there.
func sshBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ssh not found in PATH under CI: %v", err)
		}
		t.Skip("ssh not found in PATH")
	}
	return p
}

func TestSSHAgreesWithBuiltin(t *testing.T) {
	ssh := sshBinary(t)
	fakeHome(t) // only affects our own "~" expansion, which both paths share
	cfg := includeConfig(t)
	queries := []Query{
		{Host: "web"},
		{Host: "inc"},
		{Host: "scoped"},
		{Host: "m1"},
		{Host: "other"},
		{Host: "web", User: "bob", Port: 2022},
		{Host: "web", Options: []string{"Port=1234", "User alice", "IdentityFile=/opt/k"}},
		{Host: "web", User: "bob", Options: []string{"CertificateFile=/opt/%r-cert.pub", "CertificateFile=/opt/ca/%h.pub"}},
	}
	for _, q := range queries {
		q.ConfigFile = cfg
		q.SSHPath = ssh
		got, err := Resolve(context.Background(), q)
		if err != nil {
			t.Fatalf("ssh -G %+v: %v", q, err)
		}
		if got.Source != sourceSSH {
			t.Fatalf("Source = %q, want %q", got.Source, sourceSSH)
		}
		want := builtin(t, q)
		if got.HostName != want.HostName || got.Port != want.Port || got.User != want.User ||
			!slices.Equal(got.IdentityFiles, want.IdentityFiles) ||
			!slices.Equal(got.CertificateFiles, want.CertificateFiles) ||
			got.IdentitiesOnly != want.IdentitiesOnly ||
			got.StrictHostKeyChecking != want.StrictHostKeyChecking {
			t.Errorf("%+v:\n ssh -G   %+v\n built-in %+v", q, got, want)
		}
		if q.Host == "web" && !slices.Equal(got.UserKnownHostsFiles, want.UserKnownHostsFiles) {
			t.Errorf("UserKnownHostsFiles: ssh -G %q, built-in %q", got.UserKnownHostsFiles, want.UserKnownHostsFiles)
		}
	}
}

func TestSSHOptions(t *testing.T) {
	ssh := sshBinary(t)
	ctx := context.Background()

	s, err := Resolve(ctx, Query{Host: "h", ConfigFile: "none", SSHPath: ssh,
		Options: []string{"HostKeyAlgorithms=+ssh-rsa", "StrictHostKeyChecking=off", "ConnectTimeout=1m5s"}, ProxyJump: "j@jump:2"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.HostKeyAlgorithms, "ssh-rsa") {
		t.Errorf("HostKeyAlgorithms = %q, want ssh-rsa in it", s.HostKeyAlgorithms)
	}
	if s.StrictHostKeyChecking != "no" || s.ConnectTimeout.Seconds() != 65 || s.ProxyJump != "j@jump:2" {
		t.Errorf("got strict %q timeout %v jump %q", s.StrictHostKeyChecking, s.ConnectTimeout, s.ProxyJump)
	}

	for _, q := range []Query{
		{Options: []string{"Foo=bar"}},
		{Options: []string{"KexAlgorithms=bogus-kex"}},
		{ConfigFile: filepath.Join(t.TempDir(), "missing")},
		{Host: "-oProxyCommand=touch /tmp/x"},
	} {
		if q.Host == "" {
			q.Host = "h"
		}
		if q.ConfigFile == "" {
			q.ConfigFile = "none"
		}
		q.SSHPath = ssh
		_, err := Resolve(ctx, q)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: error = %v, want *UsageError", q, err)
			continue
		}
		if strings.Contains(ue.Msg, "\n") || strings.Contains(ue.Msg, "Pseudo-terminal") {
			t.Errorf("%+v: message %q should be ssh's one relevant line", q, ue.Msg)
		}
	}
	_, err = Resolve(ctx, Query{Host: "h", ConfigFile: "none", SSHPath: ssh, Options: []string{"Foo=bar"}})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foo") {
		t.Errorf("bad -o: %v should name the option", err)
	}
}

func TestSSHNotUsageErrors(t *testing.T) {
	ssh := sshBinary(t)
	var ue *UsageError
	_, err := Resolve(context.Background(), Query{Host: "h", SSHPath: filepath.Join(t.TempDir(), "no-ssh")})
	if err == nil || errors.As(err, &ue) {
		t.Errorf("missing explicit ssh binary: error = %v, want a non-usage error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Resolve(ctx, Query{Host: "h", ConfigFile: "none", SSHPath: ssh})
	if !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
		t.Errorf("cancelled context: error = %v, want context.Canceled", err)
	}
	// With SSHPath "" the ssh in PATH is used.
	if s, err := Resolve(context.Background(), Query{Host: "h", ConfigFile: "none"}); err != nil || s.Source != sourceSSH {
		t.Errorf("default SSHPath: %v, %+v", err, s)
	}
}
