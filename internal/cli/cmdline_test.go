package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

func TestValidateCommandLine(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"sshdoctor guest check --user alice", true},
		{"sudo sshdoctor guest repair --user alice --ssh-key 'ssh-ed25519 AAAAC3Nza x' --yes", true},
		{"sshdoctor guest repair", true},
		{"sshdoctor lab exec web1 -- sshdoctor guest check --user root", true},
		{"sshdoctor lab exec web1 -- sshdoctor guest chek --user root", false},
		{"sshdoctor azure check -g RESOURCE_GROUP -n VM_NAME --port 2222", true},
		{"sshdoctor azure check -g RG", true}, // required -n is checked when it runs, after sign-in flags
		{"sshdoctor fix --provider lab --vm web1 -J bastion -4 -l root web1", true},
		{"sshdoctor guest check --usr alice", false},
		{"sshdoctor gest check", false},
		{"sshdoctor lab", false},
		{"sshdoctor lab check", false},
		{"sshdoctor check user@host | tee log", false},
		{"ssh user@host", false},
		{"sshdoctor guest check --user 'alice", false},
	} {
		err := ValidateCommandLine(c.line)
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.line, err, c.ok)
		}
	}
}

// Every command the catalogue prints is accepted as written.
func TestCatalogueCommandsAreAccepted(t *testing.T) {
	n := 0
	for _, d := range findings.All() {
		for _, cmd := range PrintedCommands(d.Remedy) {
			n++
			if err := ValidateCommandLine(cmd); err != nil {
				t.Errorf("%s: `%s`: %v", d.ID, cmd, err)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d commands found in the catalogue: is PrintedCommands broken?", n)
	}
}

// Every command check prints for a failure is complete and accepted, in
// the plain context and in the lab's; the client's user and key are in it.
func TestCheckPrintsRunnableCommands(t *testing.T) {
	key := sshdtest.NewKey(t, "ed25519", "")
	other := sshdtest.NewKey(t, "ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{other.Public}})
	closed := sshdtest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfg, []byte("Host lab-web1\n  HostName 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lab := range []bool{false, true} {
		e := newEnv(t)
		sshdtest.WriteKnownHosts(t, e.knownHosts, srv.Addr, srv.HostKeys...)
		if lab {
			t.Setenv("SSHDOCTOR_LAB_CLIENT", "1")
		} else {
			t.Setenv("SSHDOCTOR_LAB_CLIENT", "")
		}
		for _, c := range []struct {
			name, port string
			want       []string // in the printed commands
		}{
			{"rejected key", itoa(srv.Port), []string{"guest repair --user root --port " + itoa(srv.Port) + " --ssh-key 'ssh-ed25519 ", "--yes"}},
			{"closed port", itoa(closed), []string{"guest check --user root --port " + itoa(closed)}},
		} {
			args := []string{"check", "-F", cfg, "-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
				"-o", "IdentitiesOnly=yes", "-i", key.Path, "-p", c.port, "--output", "json", "root@lab-web1"}
			r := run(t, "", args...)
			if r.code != ExitProblem {
				t.Fatalf("%s: exit %d\n%s", c.name, r.code, r.stdout)
			}
			var cmds []string
			for _, f := range r.doc.Findings {
				cmds = append(cmds, PrintedCommands(f.Remediation)...)
			}
			for _, s := range r.doc.NextSteps {
				cmds = append(cmds, PrintedCommands(s)...)
			}
			if len(cmds) == 0 {
				t.Fatalf("%s (lab %v): no command printed:\n%s", c.name, lab, r.stdout)
			}
			all := strings.Join(cmds, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("%s (lab %v): %q not in the printed commands:\n%s", c.name, lab, w, all)
				}
			}
			if c.name == "rejected key" && !strings.Contains(all, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.Public)))) {
				t.Errorf("the key offered is not the one the repair would authorize:\n%s", all)
			}
			if lab != strings.Contains(all, "sshdoctor lab exec web1 -- sshdoctor guest") {
				t.Errorf("%s (lab %v): the guest command is not the lab's (or is, outside it):\n%s", c.name, lab, all)
			}
			for _, cmd := range cmds {
				if err := ValidateCommandLine(cmd); err != nil {
					t.Errorf("%s (lab %v): `%s`: %v", c.name, lab, cmd, err)
				}
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
