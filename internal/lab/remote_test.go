package lab_test

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
	"github.com/sshdoctor/sshdoctor/internal/lab"
)

// remoteOnly are the guest faults whose facts the run-command script does
// not gather: guest check inside the VM finds them, `azure guest-check`
// does not. None today (MaxStartups and fstab are gathered remotely too).
var remoteOnly = []string{}

// TestRemoteFactsMatchGuestCheck runs the script `azure guest-check` sends
// through run-command inside a lab VM — plain sh, nothing of sshdoctor's
// installed — for a healthy VM and every guest-side fault, and judges its
// output with guest.Judge: the fault's finding must be named, as
// `sshdoctor guest check` names it inside the same VM, and the output
// must fit run-command's 4096-byte window.
func TestRemoteFactsMatchGuestCheck(t *testing.T) {
	s, bin := upLab(t, "r", "sdlr")
	v := s.VMs[0]
	remote := func(t *testing.T, users []string, o guest.JudgeOptions) (map[string]bool, *guest.Facts) {
		t.Helper()
		script, err := guest.RemoteScriptFor(users, 22, o.From)
		if err != nil {
			t.Fatal(err)
		}
		// run-command runs the script as a file with sh; the lab's exec
		// does the same. The VM's PATH has no sshdoctor in it here.
		res, err := s.Exec(context.Background(), v, "PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -s <<'SDREMOTE'\n"+script+"\nSDREMOTE", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || len(res.Stdout) > 4096 {
			t.Fatalf("script: exit %d, %d bytes of output (run-command keeps 4096)\n%s", res.ExitCode, len(res.Stdout), res.Stderr)
		}
		f, err := guest.FactsFromRemote([]byte(res.Stdout), 22)
		if err != nil {
			t.Fatalf("FactsFromRemote: %v\n%s", err, res.Stdout)
		}
		ids := map[string]bool{}
		for _, p := range guest.Judge(f, o) {
			if p.Severity != findings.Info {
				ids[p.ID] = true
			}
		}
		return ids, f
	}
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}

	t.Run("healthy", func(t *testing.T) {
		ids, f := remote(t, nil, guest.JudgeOptions{})
		if len(ids) != 0 {
			t.Fatalf("a healthy VM: %v", keys(ids))
		}
		if !f.ConfigOK || len(f.SSHDPIDs) == 0 || len(f.Users) == 0 || len(f.HostKeys) == 0 || len(f.Disks) == 0 {
			t.Fatalf("facts are missing: %+v", f)
		}
		if !slices.ContainsFunc(f.Listeners, func(l guest.Listener) bool { return l.Port == 22 && l.Command == "sshd" }) {
			t.Errorf("sshd's listener on 22 not seen: %+v", f.Listeners)
		}
		for _, u := range f.Users {
			if !slices.ContainsFunc(u.KeyFiles, func(k guest.KeyFile) bool { return k.Found && len(k.Keys) > 0 }) {
				t.Errorf("user %s: no key seen: %+v", u.Name, u.KeyFiles)
			}
		}
	})
	pubData, err := os.ReadFile(s.ClientKey() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimSpace(string(pubData))
	var table []string
	for i := range lab.Faults {
		f := &lab.Faults[i]
		if f.Guest == "" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Heal(v, bin); err != nil {
					t.Fatal(err)
				}
			}()
			args := []string{"check", "--output", "json"}
			var o guest.JudgeOptions
			var users []string
			for i, a := range f.GuestArgs {
				a = strings.ReplaceAll(a, "{key}", pub)
				args = append(args, a)
				if i > 0 && f.GuestArgs[i-1] == "--user" {
					users = append(users, a)
				}
				if i > 0 && f.GuestArgs[i-1] == "--from" {
					o.From = netip.MustParseAddr(a)
				}
				if i > 0 && f.GuestArgs[i-1] == "--ssh-key" {
					keys, err := guest.ParsePublicKeys([]byte(a))
					if err != nil {
						t.Fatal(err)
					}
					o.Keys = append(o.Keys, keys...)
				}
			}
			_, local := guestRun(t, s, v, args...)
			ids, _ := remote(t, users, o)
			if slices.Contains(remoteOnly, f.Name) {
				if ids[f.Guest] {
					t.Errorf("%s is found remotely now: remove it from remoteOnly", f.Name)
				}
				table = append(table, "| `"+f.Name+"` | `"+f.Guest+"` | no (guest check only) |")
				return
			}
			if !local[f.Guest] {
				t.Fatalf("guest check in the VM does not name %s either: %v", f.Guest, keys(local))
			}
			if !ids[f.Guest] {
				t.Fatalf("remote facts: %v, want %s (guest check: %v)", keys(ids), f.Guest, keys(local))
			}
			// The same verdicts, not only the one the fault is about.
			if l, r := keys(local), keys(ids); !slices.Equal(l, r) {
				t.Errorf("remote facts find %v, guest check in the VM %v", r, l)
			}
			table = append(table, "| `"+f.Name+"` | `"+f.Guest+"` | yes |")
		})
	}
	t.Logf("remote fault table:\n%s", strings.Join(table, "\n"))
}
