package probe

import "testing"

func TestExpandProxyCommand(t *testing.T) {
	got, err := ExpandProxyCommand("nc -x proxy:1080 %h %p # %r@%n 100%%", "10.0.0.4", 2222, "alice", "web1")
	if err != nil || got != "nc -x proxy:1080 10.0.0.4 2222 # alice@web1 100%" {
		t.Errorf("%q %v", got, err)
	}
	for _, bad := range []string{"nc %h %", "nc %z"} {
		if _, err := ExpandProxyCommand(bad, "h", 22, "u", "n"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
