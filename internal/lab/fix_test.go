package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/fix"
	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/render"
)

// fixOptIn are faults whose only fix weakens a policy the admin chose:
// fix must refuse without the flag (exit 1, naming it) and fix with it.
var fixOptIn = map[string]string{
	"password-auth-disabled":   "--allow-password-auth",
	"pubkey-rsa-sha1-disabled": "--allow-ssh-rsa",
}

// fixManual are faults fix must not fix remotely: exit 1 with the manual
// next step.
var fixManual = map[string]string{
	// root login is off on purpose; fix never turns it on.
	"permitrootlogin-no": "PermitRootLogin",
	// the client's known_hosts holds the old key: the user verifies the
	// new one (fix shows it), nothing on the VM is wrong.
	"hostkey-changed": "known_hosts",
}

// fixRun runs `sshdoctor fix` for v in the client namespace, as a user.
func fixRun(t *testing.T, s *lab.State, bin string, v *lab.VMState, check lab.CheckSpec, extra ...string) (int, render.FixJSONDoc, time.Duration) {
	t.Helper()
	f := &lab.Fault{Check: check}
	args, target := s.CheckArgs(v, f)
	args = append(append(append([]string{bin, "fix", "--provider", "lab", "--vm", v.Name, "--yes", "--output", "json", "--timeout", "2s",
		"--journal", t.TempDir() + "/journal.json"}, extra...), args...), target)
	cmd := s.ClientCommand(args...)
	cmd.Env = append(cmd.Env, "SSHDOCTOR_LAB_DIR="+s.Dir)
	cmd.Stdin = strings.NewReader(s.Password + "\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	out, err := cmd.Output()
	took := time.Since(t0)
	reloadLab(t, s)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var doc render.FixJSONDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("fix output is not JSON (exit %d, %v): %s\nstderr: %s", code, err, out, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("fix: exit %d in %s\n%s", code, took.Round(100*time.Millisecond), stderr.String())
	}
	return code, doc, took
}

func stepKinds(doc render.FixJSONDoc) []string {
	var k []string
	for _, e := range doc.Journal {
		k = append(k, e.Step.Kind)
	}
	return k
}

// fixRow is one line of docs/fix.md.
type fixRow struct {
	Fault   string
	Steps   []string
	Fixed   bool
	Exit    int
	Seconds float64
	Seed    int // steps the seed's fixed order runs before the right one
}

// seedSteps counts the steps the seed's fixed order (fix.SeedOrder) takes
// up to and including the first kind fix used: what a user following the
// guide would have done by hand. A guest repair is not in the seed: the
// guide reaches it only through reset-ssh/reset-user (S1/S2) or not at
// all; it counts as S1 for sshd faults and S2 for account faults.
func seedSteps(kinds []string, accountFault bool) int {
	if len(kinds) == 0 {
		return 0
	}
	best := 0
	for _, k := range kinds {
		switch k {
		case fix.KindGuestRepair:
			k = fix.KindResetSSH
			if accountFault {
				k = fix.KindResetUser
			}
		}
		if i := slices.Index(fix.SeedOrder, k); i+1 > best {
			best = i + 1
		}
	}
	return best
}

// TestFixCatalogue: every fault of the catalogue, broken alone, then
// `fix --yes` from the client namespace: SSH works again (exit 0), or fix
// refuses with the manual step where the only fix weakens a policy.
func TestFixCatalogue(t *testing.T) {
	t.Parallel()
	s, bin := upLab(t, "fx", "sdf")
	v := s.VMs[0]
	if code, doc, _ := fixRun(t, s, bin, v, lab.CheckSpec{}); code != 0 || len(doc.Journal) != 0 {
		t.Fatalf("healthy VM: exit %d, journal %v; want 0 and no step", code, stepKinds(doc))
	}
	var rows []fixRow
	for i := range lab.Faults {
		f := &lab.Faults[i]
		t.Run(f.Name, func(t *testing.T) {
			if err := s.Break(v, f); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Heal(v, bin); err != nil {
					t.Fatalf("heal: %v", err)
				}
			}()
			code, doc, took := fixRun(t, s, bin, v, f.Check)
			row := fixRow{Fault: f.Name, Steps: stepKinds(doc), Fixed: doc.Fixed, Exit: code, Seconds: took.Seconds()}
			switch {
			case fixManual[f.Name] != "":
				if code != 1 || len(doc.Journal) != 0 {
					t.Errorf("exit %d, steps %v; want exit 1 and no step (a policy fix does not take)", code, row.Steps)
				}
				if !strings.Contains(strings.Join(doc.Next, " ")+doc.Cause, fixManual[f.Name]) {
					t.Errorf("next steps %q / cause %q do not mention %s", doc.Next, doc.Cause, fixManual[f.Name])
				}
			case f.Decision:
				// A restriction set on purpose: fix says which line and
				// why, and changes nothing.
				if code != 1 || len(doc.Journal) != 0 || len(doc.Next) == 0 || !slices.ContainsFunc(doc.Diagnosis, func(d findings.Finding) bool { return d.ID == f.Guest }) {
					t.Errorf("exit %d, steps %v, cause %q, next %q; want exit 1, no step, %s named and a manual step", code, row.Steps, doc.Cause, doc.Next, f.Guest)
				}
			case f.NewHostKeys:
				next := strings.Join(doc.Next, " ")
				if code != 1 || len(doc.Journal) == 0 || doc.After == nil || doc.After.RootCause == nil || doc.After.RootCause.ID != "hostkey.changed" ||
					!strings.Contains(next, "known_hosts") || !strings.Contains(next, "SHA256:") {
					t.Errorf("exit %d, steps %v, after %+v, next %q; want the VM repaired, then the host key step with fingerprints", code, row.Steps, doc.After, doc.Next)
				}
			case fixOptIn[f.Name] != "":
				flag := fixOptIn[f.Name]
				if code != 1 || !strings.Contains(strings.Join(doc.Next, " "), strings.TrimPrefix(flag, "--")) {
					t.Errorf("without %s: exit %d, next %q; want exit 1 naming the flag", flag, code, doc.Next)
				}
				code, doc, took = fixRun(t, s, bin, v, f.Check, flag)
				row = fixRow{Fault: f.Name + " " + flag, Steps: stepKinds(doc), Fixed: doc.Fixed, Exit: code, Seconds: took.Seconds()}
				if code != 0 || !doc.Fixed {
					t.Errorf("with %s: exit %d, fixed %v, steps %v, after %+v", flag, code, doc.Fixed, row.Steps, doc.After)
				}
			default:
				if want := firstStep(f); len(row.Steps) == 0 || row.Steps[0] != want {
					t.Errorf("steps %v: the first step must be %s", row.Steps, want)
				}
				if code != 0 || !doc.Fixed {
					t.Errorf("exit %d, fixed %v, steps %v, cause %q, after %+v, next %q\n%s", code, doc.Fixed, row.Steps, doc.Cause, doc.After, doc.Next, journalText(doc))
				}
			}
			row.Seed = seedSteps(row.Steps, isAccountFault(f))
			rows = append(rows, row)
		})
	}
	writeFixTable(t, "catalogue", rows)
}

func isAccountFault(f *lab.Fault) bool {
	return strings.HasPrefix(f.Guest, "guest.user_") || strings.Contains(f.Guest, "key") || f.Guest == "guest.strict_modes" || f.Guest == "guest.password_expired"
}

// compoundable: faults that can be combined with others under one client
// check (no special user, password, legacy key or timeout; no opt-in; not
// the boot fault, which needs a reboot of its own).
func compoundable() (network, guest []*lab.Fault) {
	for i := range lab.Faults {
		f := &lab.Faults[i]
		c := f.Check
		if fixOptIn[f.Name] != "" || fixManual[f.Name] != "" || f.NewHostKeys || f.Decision || c.User != "" || c.Password || c.LegacyRSA || c.Timeout > 0 ||
			f.Name == "boot-fstab-error" || f.Name == "vm-stopped" || f.Name == "maxstartups-full" {
			continue
		}
		if f.Guest == "" {
			network = append(network, f)
		} else {
			guest = append(guest, f)
		}
	}
	return network, guest
}

// TestFixCompound: seeded random pairs and triples of catalogue faults
// (network + guest, network + guest + guest, or a stopped VM on top),
// each fixed in one run.
func TestFixCompound(t *testing.T) {
	t.Parallel()
	s, bin := upLab(t, "fc", "sdg")
	v := s.VMs[0]
	network, guestFaults := compoundable()
	rng := rand.New(rand.NewSource(20261202))
	type combo []*lab.Fault
	var combos []combo
	seen := map[string]bool{}
	pick := func(n int) combo {
		for {
			c := combo{network[rng.Intn(len(network))]}
			for len(c) < n {
				g := guestFaults[rng.Intn(len(guestFaults))]
				if !slices.Contains(c, g) {
					c = append(c, g)
				}
			}
			if conflicting(c) {
				continue
			}
			names := make([]string, len(c))
			for i, f := range c {
				names[i] = f.Name
			}
			sort.Strings(names)
			if key := strings.Join(names, "+"); !seen[key] {
				seen[key] = true
				return c
			}
		}
	}
	for range 20 {
		combos = append(combos, pick(2))
	}
	for range 5 {
		combos = append(combos, pick(3))
	}
	// A stopped VM on top of a guest fault: start, then repair.
	stopped, _ := lab.FaultByName("vm-stopped")
	combos = append(combos, combo{guestFaults[rng.Intn(len(guestFaults))], stopped})
	var rows []fixRow
	for _, c := range combos {
		var names []string
		check := lab.CheckSpec{}
		for _, f := range c {
			names = append(names, f.Name)
			if f.Check.Exec != "" {
				check.Exec = f.Check.Exec
			}
		}
		name := strings.Join(names, "+")
		t.Run(name, func(t *testing.T) {
			// Guest faults first: they need the VM running.
			order := slices.Clone(c)
			slices.SortStableFunc(order, func(a, b *lab.Fault) int {
				return boolInt(a.Name == "vm-stopped") - boolInt(b.Name == "vm-stopped")
			})
			for _, f := range order {
				if err := s.Break(v, f); err != nil {
					t.Fatal(err)
				}
			}
			defer func() {
				if err := s.Heal(v, bin); err != nil {
					t.Fatalf("heal: %v", err)
				}
			}()
			code, doc, took := fixRun(t, s, bin, v, check)
			row := fixRow{Fault: name, Steps: stepKinds(doc), Fixed: doc.Fixed, Exit: code, Seconds: took.Seconds()}
			acct := false
			for _, f := range c {
				acct = acct || isAccountFault(f)
			}
			row.Seed = seedSteps(row.Steps, acct)
			rows = append(rows, row)
			if code != 0 || !doc.Fixed {
				t.Errorf("exit %d, fixed %v, steps %v, cause %q, after %+v, next %q", code, doc.Fixed, row.Steps, doc.Cause, doc.After, doc.Next)
			}
		})
	}
	writeFixTable(t, "compound", rows)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeFixTable writes the rows as markdown to $SSHDOCTOR_FIX_TABLE.NAME.md
// (make fix-table assembles docs/fix.md from them).
func writeFixTable(t *testing.T, name string, rows []fixRow) {
	dst := os.Getenv("SSHDOCTOR_FIX_TABLE")
	if dst == "" {
		return
	}
	var b strings.Builder
	b.WriteString("| fault | steps fix took | fixed | exit | seconds | seed's steps |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %v | %d | %.1f | %d |\n", r.Fault, orNone(strings.Join(r.Steps, " → ")), r.Fixed, r.Exit, r.Seconds, r.Seed)
	}
	if err := os.WriteFile(dst+"."+name+".md", []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// journalText is the journal for a failure message.
func journalText(doc render.FixJSONDoc) string {
	b, _ := json.MarshalIndent(struct {
		Diagnosis any
		Journal   any
	}{doc.Diagnosis, doc.Journal}, "", " ")
	return string(b)
}

// reloadLab reads back the state another sshdoctor process (fix) changed
// — a started VM has a new init — keeping the test's VM pointers valid.
func reloadLab(t *testing.T, s *lab.State) {
	t.Helper()
	fresh, err := lab.Load(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	vms := s.VMs
	for _, nv := range fresh.VMs {
		for _, v := range vms {
			if v.Name == nv.Name {
				*v = *nv
			}
		}
	}
	*s = *fresh
	s.VMs = vms
}

// conflicting: faults that act on the same object, so that one undoes or
// forbids the other — authorized_keys removed, then chowned; a deleted
// user, then locked — are never combined.
func conflicting(c []*lab.Fault) bool {
	keys := []string{"authorized-keys-missing", "authorized-keys-wrong-key", "authorized-keys-owner"}
	account := append([]string{"user-locked", "user-expired", "user-nologin-shell", "home-perms", "ssh-dir-perms", "password-expired"}, keys...)
	nKeys, missing, nAccount := 0, false, 0
	for _, f := range c {
		if slices.Contains(keys, f.Name) {
			nKeys++
		}
		if slices.Contains(account, f.Name) {
			nAccount++
		}
		missing = missing || f.Name == "user-missing"
	}
	return nKeys > 1 || missing && nAccount > 0
}

// TestFixRepairFailsRollsBack: a repair that cannot take — sshd moved back
// to port 22 while another process holds 22 on every address — is rolled
// back inside the VM: sshd listens on its old port again with its old
// configuration (never worse than before), fix exits 1 and the journal
// says why.
func TestFixRepairFailsRollsBack(t *testing.T) {
	t.Parallel()
	s, bin := upLab(t, "fr", "sdh")
	v := s.VMs[0]
	f, _ := lab.FaultByName("sshd-wrong-port")
	if err := s.Break(v, f); err != nil {
		t.Fatal(err)
	}
	squat := `setsid perl -MIO::Socket::IP -e 'my $s = IO::Socket::IP->new(LocalHost => "::", LocalPort => 22, Listen => 5, ReuseAddr => 1, V6Only => 0) or die "$!"; print "$$\n"; close STDOUT; sleep 600' </dev/null >/run/squat.pid 2>/dev/null &
sleep 1; cat /run/squat.pid`
	res, err := s.Exec(context.Background(), v, squat, 10*time.Second)
	if err != nil || strings.TrimSpace(res.Stdout) == "" {
		t.Fatalf("squat port 22: %v %+v", err, res)
	}
	defer s.Exec(context.Background(), v, "kill "+strings.TrimSpace(res.Stdout), 10*time.Second)
	code, doc, _ := fixRun(t, s, bin, v, lab.CheckSpec{})
	if code != 1 || len(doc.Journal) != 1 || doc.Journal[0].Step.Kind != fix.KindGuestRepair || doc.Journal[0].Result != "failed" ||
		!strings.Contains(doc.Journal[0].Error, "rolled back") || doc.Journal[0].Effect == "worse" {
		t.Fatalf("exit %d; want exit 1 and one failed, rolled-back guest repair\n%s", code, journalText(doc))
	}
	after, err := s.Exec(context.Background(), v, "head -n 1 /etc/ssh/sshd_config; ss -ltnp", 10*time.Second)
	if err != nil || !strings.HasPrefix(after.Stdout, "Port 2222\n") || !strings.Contains(after.Stdout, ":2222 ") || !strings.Contains(after.Stdout, `"sshd"`) {
		t.Fatalf("after the rollback sshd must run on its old port with its old configuration: %v\n%s", err, after.Stdout)
	}
	if len(doc.Next) == 0 {
		t.Fatal("no manual next step")
	}
}

// firstStep is the step the evidence must lead to first: the control
// plane's own for a stopped VM, an NSG or a route; else a guest repair.
func firstStep(f *lab.Fault) string {
	switch {
	case f.Name == "vm-stopped":
		return fix.KindStart
	case strings.HasPrefix(f.Name, "nsg-"):
		return fix.KindNSGAllow
	case strings.HasPrefix(f.Name, "route-"):
		return fix.KindRouteRemove
	}
	return fix.KindGuestRepair
}
