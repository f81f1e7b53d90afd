package lab_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/guest"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// realConfigs is the shared corpus of real-world sshd configurations
// (../shared/real-sshd-configs from the project root, as CI has it).
const realConfigs = "../../../shared/real-sshd-configs/cases"

// caseTar is a case's root/ as a gzipped tar of its files only (no
// directory entries: the VM's directories keep their owners and modes),
// as real-sshd-configs/run.sh installs it.
func caseTar(t *testing.T, root string) (tarball string, ssh bool) {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !strings.HasPrefix(rel, "etc/") {
			t.Fatalf("%s: a file outside etc/ would leave the VM's private overlay", p)
		}
		ssh = ssh || strings.HasPrefix(rel, "etc/ssh/")
		files = append(files, "./"+rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	out, err := exec.Command("tar", append([]string{"-C", root, "--owner=0", "--group=0", "--numeric-owner", "--no-recursion", "-czf", "-"}, files...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out), ssh
}

// effective is sshd -T in the VM: "" for the global configuration, then
// one entry per account with a login shell (sshd -T -C for that user).
func (g *guestUserLab) effective(users []string) map[string]map[string][]string {
	g.t.Helper()
	script := "sshd -T"
	for _, u := range users {
		script += "; echo '@@ " + u + "'; sshd -T -C user=" + u + ",host=h,addr=203.0.113.10"
	}
	m := map[string]map[string][]string{"": {}}
	cur := m[""]
	for _, l := range strings.Split(g.out(script), "\n") {
		if u, ok := strings.CutPrefix(l, "@@ "); ok {
			cur = map[string][]string{}
			m[u] = cur
			continue
		}
		if k, v, ok := strings.Cut(l, " "); ok {
			cur[k] = append(cur[k], v)
		}
	}
	return m
}

// TestGuestReset: `guest reset-ssh` brings SSH back from the lab's sshd
// faults (a second reset changes nothing), lets --user through Allow/Deny
// without dropping them, and, on every real-world configuration of the
// shared corpus broken on top, brings SSH back without any setting weaker
// than the healthy configuration's (sshd -T, globally and for each login
// user).
func TestGuestReset(t *testing.T) {
	if _, err := os.Stat(realConfigs); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the real sshd configurations are missing (%v): CI must have ../shared/real-sshd-configs beside the checkout", err)
		}
		t.Skipf("no real sshd configurations: %v", err)
	}
	entries, err := os.ReadDir(realConfigs)
	if err != nil {
		t.Fatal(err)
	}
	s, bin := upLab(t, "r", "sdlr")
	v := s.VMs[0]
	g := &guestUserLab{t: t, s: s, v: v, bin: bin}
	resetOK := func(t *testing.T, args ...string) string {
		t.Helper()
		res := g.sh("sshdoctor guest reset-ssh --yes --output json " + shellQuote(args))
		var doc struct {
			Repair *struct {
				RolledBack bool   `json:"rolled_back"`
				Error      string `json:"error"`
				Backup     string `json:"backup"`
			} `json:"repair"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil || doc.Repair == nil || doc.Repair.RolledBack || doc.Repair.Error != "" {
			t.Fatalf("guest reset-ssh %v: exit %d (%v)\n%s%s", args, res.ExitCode, err, res.Stdout, res.Stderr)
		}
		return doc.Repair.Backup
	}
	heal := func(t *testing.T) {
		if err := s.Heal(v, bin); err != nil {
			t.Fatal(err)
		}
		if err := s.RefreshKnownHosts(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sshd-wrong-port", "sshd-listen-localhost", "sshd-dropin-override", "maxstartups-full", "sshd-config-syntax", "hostkeys-missing"} {
		t.Run("fault/"+name, func(t *testing.T) {
			g.t = t
			f, err := lab.FaultByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			defer heal(t)
			if code, _ := labCheck(t, s, bin, v, nil); code == 0 {
				t.Fatal("the lab user still logs in after the fault")
			}
			if resetOK(t) == "" {
				t.Fatal("the reset changed nothing")
			}
			if name == "hostkeys-missing" { // new host keys: the user records them
				if err := s.RefreshKnownHosts(); err != nil {
					t.Fatal(err)
				}
			}
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				t.Fatalf("after reset-ssh: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
			}
			if b := resetOK(t); b != "" {
				t.Errorf("a second reset made backup set %s", b)
			}
		})
	}

	t.Run("user-let-through", func(t *testing.T) {
		g.t = t
		f, _ := lab.FaultByName("sshd-dropin-override")
		if err := s.Break(v, f); err != nil {
			t.Fatal(err)
		}
		defer heal(t)
		g.out("printf 'AllowUsers root\\nDenyUsers " + lab.DefaultUser + " mallory\\n' > /etc/ssh/sshd_config.d/10-access.conf && sed -i '1i AllowGroups root' /etc/ssh/sshd_config && service ssh restart")
		if resetOK(t, "--user", lab.DefaultUser) == "" {
			t.Fatal("the reset changed nothing")
		}
		if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
			t.Fatalf("after reset-ssh --user: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
		}
		// The policy stays for everyone else.
		eff := g.effective(nil)[""]
		if !slices.Contains(eff["allowusers"], "root") || !slices.Contains(eff["denyusers"], "mallory") || slices.Contains(eff["denyusers"], lab.DefaultUser) || !slices.Contains(eff["allowgroups"], "root") {
			t.Errorf("Allow/Deny after the reset: %v %v %v", eff["allowusers"], eff["denyusers"], eff["allowgroups"])
		}
		if b := resetOK(t, "--user", lab.DefaultUser); b != "" {
			t.Errorf("a second reset made backup set %s", b)
		}
	})

	// Break snapshots the fresh VM's disk (the fault itself is undone by
	// the case's install); Heal puts the fresh VM back between cases.
	snapshot, _ := lab.FaultByName("sshd-dropin-override")
	ran := 0
	for _, e := range entries {
		dir := filepath.Join(realConfigs, e.Name())
		tarball, hasSSH := caseTar(t, filepath.Join(dir, "root"))
		if !hasSSH {
			continue
		}
		ran++
		t.Run("config/"+e.Name(), func(t *testing.T) {
			g.t = t
			if err := s.Break(v, snapshot); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Heal(v, bin); err != nil {
					t.Fatal(err)
				}
			}()
			prepare := ""
			if data, err := os.ReadFile(filepath.Join(dir, "prepare.sh")); err == nil {
				prepare = "echo '" + base64.StdEncoding.EncodeToString(data) + "' | base64 -d > /tmp/case-prepare.sh && (cd / && sh -e /tmp/case-prepare.sh)\n"
			}
			g.out("set -e\nrm -f /etc/ssh/sshd_config.d/*\nssh-keygen -A >/dev/null\n" +
				"echo '" + tarball + "' | base64 -d | tar -C / --no-overwrite-dir -xzf -\n" + prepare +
				"sshd -t\nservice ssh restart")
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				t.Fatalf("the case's healthy configuration does not let the lab user in: exit %d %s (%s)", code, doc.RootCause, doc.Diagnosis)
			}
			users := strings.Fields(g.out(`awk -F: '($3 == 0 || $3 >= 1000) && $7 !~ /(nologin|false)$/ {print $1}' /etc/passwd`))
			before := g.effective(users)

			// Break SSH: public keys off, where sshd reads it first.
			if g.sh("grep -qi '^[[:space:]]*Include[[:space:]]*/etc/ssh/sshd_config.d/' /etc/ssh/sshd_config").ExitCode == 0 {
				g.out("echo 'PubkeyAuthentication no' > /etc/ssh/sshd_config.d/00-broken.conf")
			} else {
				g.out("sed -i '1i PubkeyAuthentication no' /etc/ssh/sshd_config")
			}
			g.out("service ssh restart")
			if code, _ := labCheck(t, s, bin, v, nil); code == 0 {
				t.Fatal("the lab user still logs in after the break")
			}

			res := g.sh("sshdoctor guest reset-ssh --yes --output json")
			var doc struct {
				Repair *struct {
					Actions []struct {
						Description string `json:"description"`
						Skipped     string `json:"skipped"`
					} `json:"actions"`
					RolledBack bool   `json:"rolled_back"`
					Error      string `json:"error"`
				} `json:"repair"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil || doc.Repair == nil || doc.Repair.RolledBack || doc.Repair.Error != "" {
				t.Fatalf("guest reset-ssh: exit %d (%v)\n%s%s", res.ExitCode, err, res.Stdout, res.Stderr)
			}
			for _, a := range doc.Repair.Actions {
				t.Logf("reset: %s%s", a.Description, a.Skipped)
			}
			after := g.effective(users)
			for _, scope := range append([]string{""}, users...) {
				for _, k := range guest.Weakened(before[scope], after[scope]) {
					old := strings.Join(before[scope][k], " ")
					// The values that break SSH are not carried (docs: reset-ssh).
					if n, _ := strconv.Atoi(old); (k == "maxauthtries" && n < 3) || (k == "logingracetime" && old == "0") {
						continue
					}
					who := "global"
					if scope != "" {
						who = "user " + scope
					}
					t.Errorf("%s: %s weakened from %q to %q", who, k, old, strings.Join(after[scope][k], " "))
				}
			}
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				conf := g.sh("cat /etc/ssh/sshd_config; head -n 50 /etc/ssh/sshd_config.d/*").Stdout
				t.Fatalf("after reset-ssh the lab user cannot log in: exit %d %s (%s)\n%s", code, doc.RootCause, doc.Diagnosis, conf)
			}
			// A second reset finds nothing to change.
			if res := g.sh("sshdoctor guest reset-ssh --yes --output json"); !bytes.Contains([]byte(res.Stdout), []byte(`"repair"`)) || strings.Contains(res.Stdout, `"backup": "/`) {
				t.Errorf("second reset-ssh changed something: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
			}
		})
	}
	if ran == 0 {
		t.Fatalf("no case under %s has files under root/etc/ssh", realConfigs)
	}
}
