package guest

import (
	"strings"
	"testing"
)

func TestParseVMAccess(t *testing.T) {
	for _, c := range []struct {
		name, settings, protected, err string
	}{
		{"reset", `{"reset_ssh": true}`, "", ""},
		{"user with key in protected", `{"username": "bob"}`, `{"ssh_key": "ssh-ed25519 AAAA", "password": "pw"}`, ""},
		{"string false is refused", `{"reset_ssh": "false"}`, "", "must be a JSON boolean"},
		{"unknown key named", `{"reset_ssh": true, "rest_ssh": true}`, "", `unknown key "rest_ssh"`},
		{"remove_user with reset", `{"remove_user": "bob", "reset_ssh": true}`, "", "cannot be combined"},
		{"remove_user with password", `{"remove_user": "bob"}`, `{"password": "x"}`, "cannot be combined"},
		{"password without user", `{}`, `{"password": "x"}`, "need a username"},
		{"key in both files", `{"username": "bob", "password": "a"}`, `{"password": "b"}`, "in both"},
		{"empty password", `{"username": "bob"}`, `{"password": ""}`, "password is empty"},
		{"bad date", `{"username": "bob", "expiration": "2026-13-40"}`, "", "not a date"},
		{"disk repair refused", `{"check_disk": true}`, "", "rescue VM"},
		{"nothing asked", `{"reset_ssh": false}`, "", ""},
		{"empty object", `{}`, "", "ask for nothing"},
		{"not JSON", `reset_ssh=true`, "", "not a JSON object"},
		{"trailing data", `{"reset_ssh": true} {}`, "", "after top-level value"},
		{"reset and restore", `{"reset_ssh": true, "restore_backup_ssh": true}`, "", "contradict"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseVMAccess([]byte(c.settings), []byte(c.protected))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
		})
	}
}

func TestParseVMAccessNeverEchoesPassword(t *testing.T) {
	_, err := ParseVMAccess([]byte(`{"username": "bob", "password": "S3cret-pw", "bogus": 1}`), nil)
	if err == nil || strings.Contains(err.Error(), "S3cret-pw") {
		t.Fatalf("error %v must exist and must not contain the password", err)
	}
}
