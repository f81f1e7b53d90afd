package sshconfig

import (
	"errors"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		bad        bool
	}{
		{in: "example.com", host: "example.com"},
		{in: "alice@example.com", user: "alice", host: "example.com"},
		{in: "alice@example.com:2222", user: "alice", host: "example.com", port: 2222},
		{in: "a@b@example.com", user: "a@b", host: "example.com"},
		{in: "web", host: "web"},
		{in: "::1", host: "::1"},
		{in: "2001:db8::1", host: "2001:db8::1"},
		{in: "fe80::1%eth0", host: "fe80::1%eth0"},
		{in: "[2001:db8::1]:2222", host: "2001:db8::1", port: 2222},
		{in: "bob@[::1]:22", user: "bob", host: "::1", port: 22},
		{in: "[::1]", host: "::1"},
		{in: "ssh://example.com", host: "example.com"},
		{in: "ssh://carol@example.com:2200", user: "carol", host: "example.com", port: 2200},
		{in: "ssh://[::1]:2200/", host: "::1", port: 2200},
		{in: "", bad: true},
		{in: "alice@", bad: true},
		{in: "@host", bad: true},
		{in: ":22", bad: true},
		{in: "host:", bad: true},
		{in: "host:0", bad: true},
		{in: "host:70000", bad: true},
		{in: "host:ssh", bad: true},
		{in: "host:-1", bad: true},
		{in: "-oProxyCommand=evil", bad: true},
		{in: "alice@-host", bad: true},
		{in: "[::1", bad: true},
		{in: "[]:22", bad: true},
		{in: "[::1]22", bad: true},
		{in: "[::1]:", bad: true},
		{in: "ssh://host/path", bad: true},
		{in: "two words", bad: true},
	}
	for _, tt := range tests {
		user, host, port, err := ParseTarget(tt.in)
		if tt.bad {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("ParseTarget(%q) error = %v, want *UsageError", tt.in, err)
			}
			continue
		}
		if err != nil || user != tt.user || host != tt.host || port != tt.port {
			t.Errorf("ParseTarget(%q) = %q, %q, %d, %v; want %q, %q, %d", tt.in, user, host, port, err, tt.user, tt.host, tt.port)
		}
	}
}

func TestParseJump(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		more, bad  bool
	}{
		{in: "bastion", host: "bastion"},
		{in: "bob@bastion:2022", user: "bob", host: "bastion", port: 2022},
		{in: "bob@bastion:2022,inner", user: "bob", host: "bastion", port: 2022, more: true},
		{in: "[2001:db8::2]:22,a,b", host: "2001:db8::2", port: 22, more: true},
		{in: "ssh://u@h:3", user: "u", host: "h", port: 3},
		{in: "", bad: true},
		{in: ",bastion", bad: true},
		{in: "bastion:99999", bad: true},
		{in: "-J", bad: true},
	}
	for _, tt := range tests {
		user, host, port, more, err := ParseJump(tt.in)
		if tt.bad {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("ParseJump(%q) error = %v, want *UsageError", tt.in, err)
			}
			continue
		}
		if err != nil || user != tt.user || host != tt.host || port != tt.port || more != tt.more {
			t.Errorf("ParseJump(%q) = %q, %q, %d, %v, %v; want %q, %q, %d, %v",
				tt.in, user, host, port, more, err, tt.user, tt.host, tt.port, tt.more)
		}
	}
}
