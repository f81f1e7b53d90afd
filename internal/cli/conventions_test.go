package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/guest"
	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// mainResult is one run of Main with buffers for its streams.
type mainResult struct {
	code           int
	stdout, stderr string
}

func runMain(args ...string) mainResult {
	var out, errb bytes.Buffer
	code := Main(&IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	return mainResult{code, out.String(), errb.String()}
}

// groups are the commands that only group subcommands, by their path
// below the root (nil: the root).
func groups(c *cobra.Command, path []string, out *[][]string) {
	if c.HasSubCommands() {
		*out = append(*out, path)
	}
	for _, sub := range c.Commands() {
		if sub.Name() != "help" {
			groups(sub, append(append([]string{}, path...), sub.Name()), out)
		}
	}
}

// Every group refuses a word that is not one of its subcommands (exit 2,
// one line, cobra's suggestions) instead of printing its help and exiting
// 0; a group given nothing prints its help on stderr and exits 2.
func TestMistypedSubcommands(t *testing.T) {
	var all [][]string
	root := NewRootCmd(&IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	groups(root, nil, &all)
	if len(all) < 8 {
		t.Fatalf("found only %d groups: %v", len(all), all)
	}
	for _, path := range all {
		t.Run(strings.Join(append([]string{"sshdoctor"}, path...), " "), func(t *testing.T) {
			cmd, _, err := root.Find(path)
			if err != nil {
				t.Fatal(err)
			}
			r := runMain(append(path, "bogus")...)
			want := fmt.Sprintf("sshdoctor: unknown command %q for %q\n", "bogus", cmd.CommandPath())
			if r.code != ExitUsage || !strings.HasPrefix(r.stderr, want) || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 2 and %q", r.code, r.stderr, r.stdout, want)
			}
			// A near miss of a real subcommand is suggested.
			var sub string
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() && len(s.Name()) > 3 {
					sub = s.Name()
					break
				}
			}
			if sub == "" {
				t.Fatalf("no visible subcommand under %v", path)
			}
			typo := sub[:len(sub)-1] + "q"
			r = runMain(append(path, typo)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "Did you mean this?\n\t"+sub+"\n") {
				t.Fatalf("%q: exit %d, stderr %q; want exit 2 suggesting %s", typo, r.code, r.stderr, sub)
			}
			r = runMain(path...)
			if len(path) == 0 {
				if r.code != ExitOK || !strings.Contains(r.stdout, "Available Commands:") {
					t.Fatalf("bare sshdoctor: exit %d, stdout %q; want its help and exit 0", r.code, r.stdout)
				}
				return
			}
			if r.code != ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, "Available Commands:") ||
				!strings.HasSuffix(r.stderr, fmt.Sprintf("sshdoctor: no command given for %q (they are listed above)\n", cmd.CommandPath())) {
				t.Fatalf("bare: exit %d, stdout %q, stderr %q; want help on stderr and exit 2", r.code, r.stdout, r.stderr)
			}
		})
	}
	for _, args := range [][]string{{"guest", "chek"}, {"lab", "brake"}, {"azure", "chek"}, {"nsg", "verfy"}} {
		r := runMain(args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "Did you mean this?") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// `lab down` with no lab has nothing to do: exit 0. The other verbs still
// say there is no lab (exit 2).
func TestLabDownWithoutLab(t *testing.T) {
	sshdtest.NeedRoot(t) // every lab verb checks for root first
	dir := t.TempDir()
	t.Setenv("SSHDOCTOR_LAB_DIR", dir)
	r := runMain("lab", "down")
	if r.code != ExitOK || r.stdout != "no lab is up; nothing to remove\n" || r.stderr != "" {
		t.Fatalf("lab down: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runMain("lab", "list")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "no lab is up") {
		t.Fatalf("lab list: exit %d, stderr %q; want exit 2, no lab", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("lab down without a lab left %v in the lab directory", ents)
	}
}

func problem(id, summary string) guest.Problem {
	return guest.Problem{Finding: findings.New(id, summary, "")}
}

// A repair that leaves something wrong says "Still wrong" and exits 1; a
// repair that fixed everything exits 0; one that waits for a reboot says
// so, not "Still wrong", and exits 0.
func TestGuestRepairExitCode(t *testing.T) {
	locked := problem("guest.user_locked", "The account alice is locked.")
	for _, c := range []struct {
		name      string
		res       *guest.Result
		want      int
		stillBad  bool
		untilBoot bool
	}{
		{"left wrong", &guest.Result{Backup: "/var/backups/sshdoctor/x", Remaining: []guest.Problem{locked}}, ExitProblem, true, false},
		{"repaired", &guest.Result{Backup: "/var/backups/sshdoctor/x", Remaining: []guest.Problem{problem("guest.ok", "SSH should work.")}}, ExitOK, false, false},
		{"failed", &guest.Result{Error: "sshd -t failed", RolledBack: true, Backup: "/b"}, ExitProblem, false, false},
		{"reboot", &guest.Result{Backup: "/b", RebootRequired: true, Remaining: []guest.Problem{locked}}, ExitOK, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &GuestOptions{IO: &IOStreams{Out: &out, Err: &out}, Output: "text", Yes: true}
			err := printGuest(o, &guestAccounts{Users: []guest.UserFacts{{Name: "alice", Exists: true}}, Named: true}, []guest.Problem{locked}, c.res)
			code := report(&IOStreams{Out: &out, Err: &out}, err)
			if code != c.want || strings.Contains(out.String(), "Still wrong:") != c.stillBad ||
				strings.Contains(out.String(), "Until the reboot") != c.untilBoot {
				t.Fatalf("exit %d (want %d):\n%s", code, c.want, out.String())
			}
		})
	}
}

// guest check says which accounts it judged, in text and JSON.
func TestGuestCheckNamesAccounts(t *testing.T) {
	ok := []guest.Problem{problem("guest.ok", "SSH should work.")}
	for _, c := range []struct {
		name     string
		accounts *guestAccounts
		problems []guest.Problem
		line     string
		json     []string
	}{
		{"default", &guestAccounts{Users: []guest.UserFacts{{Name: "alice", Exists: true}, {Name: "bob", Exists: true}}}, ok,
			"Checked accounts: alice, bob (every regular account with an authorized key or a usable password; --user names others)", []string{"alice", "bob"}},
		{"none", &guestAccounts{}, ok,
			"Checked accounts: none (no regular account has an authorized key or a usable password; --user names one)", []string{}},
		{"named", &guestAccounts{Users: []guest.UserFacts{{Name: "alice", Exists: true}}, Named: true}, ok,
			"Checked account (--user): alice", []string{"alice"}},
		{"missing", &guestAccounts{Users: []guest.UserFacts{{Name: "ghost"}}, Named: true},
			[]guest.Problem{problem("guest.user_missing", "User ghost does not exist.")},
			"Checked account (--user): ghost (does not exist)", []string{"ghost"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &GuestOptions{IO: &IOStreams{Out: &out}, Output: "text"}
			_ = printGuest(o, c.accounts, c.problems, nil)
			if first, _, _ := strings.Cut(out.String(), "\n"); first != c.line {
				t.Fatalf("first line %q, want %q\n%s", first, c.line, out.String())
			}
			out.Reset()
			o.Output = "json"
			_ = printGuest(o, c.accounts, c.problems, nil)
			var doc struct {
				CheckedUsers []string `json:"checked_users"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || fmt.Sprint(doc.CheckedUsers) != fmt.Sprint(c.json) || doc.CheckedUsers == nil {
				t.Fatalf("checked_users %v (%v), want %v:\n%s", doc.CheckedUsers, err, c.json, out.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := runMain("--version")
	if r.code != ExitOK || strings.Count(r.stdout, "\n") != 1 || !regexp.MustCompile(`^sshdoctor \S+ \(commit \S+, \S+(, modified)?\)\n$`).MatchString(r.stdout) {
		t.Fatalf("--version: exit %d, %q", r.code, r.stdout)
	}
	r = runMain("version")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "sshdoctor ") || !strings.Contains(r.stdout, "\ncommit:") || !strings.Contains(r.stdout, "\ngo:          go1.") {
		t.Fatalf("version: exit %d, %q", r.code, r.stdout)
	}
	r = runMain("version", "--output", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("version --output json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	for _, k := range []string{"schema", "version", "commit", "commit_time", "modified", "go_version", "platform"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("version JSON has no %q: %s", k, r.stdout)
		}
	}
	// A test binary carries no VCS stamp: the fields say so.
	if b := readBuildInfo(); b.Commit == "" || b.CommitTime == "" {
		t.Fatalf("empty fields instead of unknown: %+v", b)
	}
}

func TestFindingsExplainsOne(t *testing.T) {
	d, ok := findings.Lookup("auth.publickey_rejected")
	if !ok {
		t.Fatal("auth.publickey_rejected is not in the catalogue")
	}
	r := runMain("findings", d.ID)
	for _, want := range []string{d.ID + "\n", "layer:    auth", "severity: " + string(d.Severity), d.Title, d.Remedy} {
		if r.code != ExitOK || !strings.Contains(r.stdout, want) {
			t.Fatalf("findings %s: exit %d, no %q in\n%s", d.ID, r.code, want, r.stdout)
		}
	}
	r = runMain("findings", d.ID, "--output", "json")
	var doc map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	if doc["id"] != d.ID || doc["layer"] != "auth" || doc["severity"] != string(d.Severity) || doc["title"] != d.Title || doc["remediation"] != d.Remedy {
		t.Fatalf("json: %v", doc)
	}
	r = runMain("findings", "auth.publickey_rejectd")
	if r.code != ExitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `did you mean auth.publickey_rejected`) {
		t.Fatalf("typo: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runMain("findings", "nothing.like.this.at.all")
	if r.code != ExitUsage || strings.Contains(r.stderr, "did you mean") {
		t.Fatalf("unknown: exit %d, stderr %q", r.code, r.stderr)
	}
	if r = runMain("findings", d.ID, "--output", "markdown"); r.code != ExitUsage {
		t.Fatalf("one finding as markdown: exit %d", r.code)
	}
	if r = runMain("findings"); r.code != ExitOK || !strings.Contains(r.stdout, d.ID) {
		t.Fatalf("catalogue: exit %d", r.code)
	}
}

// completions runs cobra's hidden __complete through Main and returns the
// candidates (the lines before the directive).
func completions(t *testing.T, args ...string) []string {
	t.Helper()
	r := runMain(append([]string{"__complete"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("__complete %v: exit %d, %s", args, r.code, r.stderr)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(l, ":") {
			name, _, _ := strings.Cut(l, "\t")
			out = append(out, name)
		}
	}
	return out
}

func TestCompletion(t *testing.T) {
	got := completions(t, "findings", "auth.")
	var want []string
	for _, d := range findings.All() {
		if strings.HasPrefix(d.ID, "auth.") {
			want = append(want, d.ID)
		}
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("findings auth.<TAB>: %v, want %v", got, want)
	}
	if got := completions(t, "lab", "break", "web1", "nsg-"); !slicesContains(got, "nsg-deny-ssh") || slicesContains(got, "vm-stopped") {
		t.Fatalf("lab break VM nsg-<TAB>: %v", got)
	}
	dir := t.TempDir()
	t.Setenv("SSHDOCTOR_LAB_DIR", dir)
	if got := completions(t, "lab", "break", ""); len(got) != 0 {
		t.Fatalf("no lab, yet VM names: %v", got)
	}
	state, _ := json.Marshal(&lab.State{Prefix: "t", VMs: []*lab.VMState{{Name: "web1"}, {Name: "web2"}, {Name: "db1"}}})
	if err := os.WriteFile(filepath.Join(dir, "state.json"), state, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lab", "break", "w"}, {"lab", "heal", "w"}, {"lab", "nsg", "add", "w"}, {"lab", "check", "w"}} {
		if got := completions(t, args...); fmt.Sprint(got) != "[web1 web2]" {
			t.Errorf("%v<TAB>: %v, want the lab's VMs", args, got)
		}
	}
	if got := completions(t, "completion", ""); !slicesContains(got, "bash") || !slicesContains(got, "zsh") {
		t.Fatalf("completion <TAB>: %v", got)
	}
}

// Main prints one "sshdoctor: ", however the error reads.
func TestOneErrorPrefix(t *testing.T) {
	for _, err := range []error{
		usagef("sshdoctor: guest check must run as root"),
		fmt.Errorf("wrapped: %w", errors.New("x")),
		&UsageError{errors.New("sshdoctor: sshdoctor: twice\nand a second line")},
	} {
		var b bytes.Buffer
		report(&IOStreams{Out: &b, Err: &b}, err)
		if strings.Count(b.String(), "sshdoctor:") != 1 || strings.Count(b.String(), "\n") != 1 {
			t.Errorf("%q printed as %q", err, b.String())
		}
	}
	// The messages that used to begin "sshdoctor guest …" (printed as
	// "sshdoctor: sshdoctor guest …") no longer do.
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`(usagef|Errorf|errors\.New)\("sshdoctor[: ]`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.Find(b); m != nil {
			t.Errorf("%s: an error text starts with sshdoctor (%s…): Main adds the prefix", f, m)
		}
	}
}

// --yes says what it does: commands that never ask do not claim to skip a
// question; lab client's help names the lab directory in use.
func TestHelpTextsMatchBehaviour(t *testing.T) {
	for _, args := range [][]string{{"guest", "repair"}, {"guest", "reset-ssh"}, {"guest", "user", "set"}, {"guest", "user", "remove"}, {"azure", "redeploy"}} {
		r := runMain(append(args, "--help")...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "--yes") || strings.Contains(r.stdout, "without asking") || strings.Contains(r.stdout, "do not ask") {
			t.Errorf("%v --help: exit %d, --yes text:\n%s", args, r.code, r.stdout)
		}
	}
	dir := t.TempDir()
	t.Setenv("SSHDOCTOR_LAB_DIR", dir)
	r := runMain("lab", "client", "--help")
	if want := "ssh -F " + dir + "/client/ssh_config lab-VM"; !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, lab.DefaultDir) {
		t.Fatalf("lab client --help does not show %q:\n%s", want, r.stdout)
	}
}
