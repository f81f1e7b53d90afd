package guest

import (
	"encoding/json"
	"strings"
	"testing"
)

// testKeyLine is a valid Ed25519 public key line.
const testKeyLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv3N6c2ncR8eF0ly2zY1s9X8bC3bF6Yk0h6nA3v2mQx alice@laptop"

// TestParseVMAccessRefusesLooseInput: each case was accepted before the
// settings were decoded strictly (issue 10).
func TestParseVMAccessRefusesLooseInput(t *testing.T) {
	const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM9RgjZ+Y7B7027mIa736dyw7Ly1qbvtJmxuJlLAKGIL bob"
	key := func(k string) string {
		b, _ := json.Marshal(map[string]string{"ssh_key": k})
		return string(b)
	}
	for _, c := range []struct {
		name, settings, protected, err string
	}{
		{"upper-case key beside lower-case", `{"USERNAME": "x", "username": "y"}`, "", `unknown key "USERNAME"`},
		{"mixed-case boolean key", `{"Reset_SSH": true, "reset_ssh": false}`, "", `unknown key "Reset_SSH"`},
		{"upper-case protected key", `{"username": "bob"}`, `{"Password": "pw"}`, `protected settings: unknown key "Password"`},
		{"duplicate key", `{"reset_ssh": false, "reset_ssh": true}`, "", `key "reset_ssh" appears twice`},
		{"duplicate protected key", `{"username": "bob"}`, `{"password": "a", "password": "b"}`, `key "password" appears twice`},
		{"password in public settings", `{"username": "bob", "password": "pw"}`, "", "put it in the protected settings"},
		{"password in public, key in protected", `{"username": "bob", "password": "pw"}`, key(testKeyLine), "put it in the protected settings"},
		{"username root", `{"username": "root"}`, key(testKeyLine), "username root is refused"},
		{"username root alone", `{"username": "root", "expiration": "2099-01-01"}`, "", "username root is refused"},
		{"remove_user root", `{"remove_user": "root"}`, "", "remove_user root is refused"},
		{"two keys on two lines", `{"username": "bob"}`, key(testKeyLine + "\n" + other), "line break"},
		{"two keys split by CR", `{"username": "bob"}`, key(testKeyLine + "\r" + other), "line break"},
		{"two keys split by CRLF", `{"username": "bob"}`, key(testKeyLine + "\r\n" + other), "line break"},
		{"NUL in the key", `{"username": "bob"}`, key(testKeyLine + "\x00" + other), "NUL"},
		{"key options", `{"username": "bob"}`, key(`command="/bin/sh -c 'id'" ` + testKeyLine), "options"},
		{"restrict option", `{"username": "bob"}`, key("restrict " + testKeyLine), "options"},
		{"malformed key", `{"username": "bob", "ssh_key": "ssh-ed25519 AAAA"}`, "", "ssh_key: line 1"},
		{"two RFC 4716 blocks", `{"username": "bob"}`, key(rfc4716(t, testKeyLine) + rfc4716(t, other)), "2 keys: give exactly one"},
		{"block then a line", `{"username": "bob"}`, key(rfc4716(t, testKeyLine) + other), "2 keys: give exactly one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseVMAccess([]byte(c.settings), []byte(c.protected))
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestParseVMAccessSSHKeyAccepted(t *testing.T) {
	for _, c := range []struct{ name, key string }{
		{"plain", testKeyLine},
		{"trailing newline", testKeyLine + "\n"},
		{"surrounding CRLF and blanks", "\r\n  " + testKeyLine + " \r\n"},
		{"one RFC 4716 block", rfc4716(t, testKeyLine)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"ssh_key": c.key})
			v, err := ParseVMAccess([]byte(`{"username": "bob"}`), b)
			if err != nil {
				t.Fatal(err)
			}
			if got := *v.SSHKey; got != strings.TrimSpace(c.key) {
				t.Fatalf("ssh_key %q, want it trimmed", got)
			}
		})
	}
}

// rfc4716 turns an OpenSSH key line into an RFC 4716 block.
func rfc4716(t *testing.T, line string) string {
	t.Helper()
	k, err := ParseOneKey(line)
	if err != nil {
		t.Fatal(err)
	}
	return encodeRFC4716(k.Key, "k") + "\n"
}

func TestParseVMAccess(t *testing.T) {
	for _, c := range []struct {
		name, settings, protected, err string
	}{
		{"reset", `{"reset_ssh": true}`, "", ""},
		{"user with key in protected", `{"username": "bob"}`, `{"ssh_key": "` + testKeyLine + `", "password": "pw"}`, ""},
		{"string false is refused", `{"reset_ssh": "false"}`, "", "must be a JSON boolean"},
		{"unknown key named", `{"reset_ssh": true, "rest_ssh": true}`, "", `unknown key "rest_ssh"`},
		{"remove_user with reset", `{"remove_user": "bob", "reset_ssh": true}`, "", "cannot be combined"},
		{"remove_user with password", `{"remove_user": "bob"}`, `{"password": "x"}`, "cannot be combined"},
		{"password without user", `{}`, `{"password": "x"}`, "need a username"},
		{"key in both files", `{"username": "bob", "expiration": "2099-01-01"}`, `{"expiration": "2099-01-02"}`, "in both"},
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
