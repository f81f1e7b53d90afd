package bootlog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/bootlog"
	"github.com/sshdoctor/sshdoctor/internal/cli"
)

// runCmd runs `sshdoctor bootlog ARGS…` through the command the CLI
// registers (cli.NewCmdBootlog), as the root command would.
func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cli.NewCmdBootlog(&cli.IOStreams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func exitCode(err error) int {
	var ee *cli.ExitError
	var ue *cli.UsageError
	switch {
	case err == nil:
		return cli.ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return cli.ExitUsage
	}
	return cli.ExitInternal
}

func TestCommand(t *testing.T) {
	broken := "testdata/lab-boot-fstab-error.log"
	healthy, err := os.ReadFile("testdata/lab-fstab-healed.log")
	if err != nil {
		t.Fatal(err)
	}

	out, err := runCmd(t, "", "analyze", broken)
	if exitCode(err) != cli.ExitProblem || !strings.HasPrefix(out, "✗ The last boot did not come up for SSH: systemd timed out waiting for device") ||
		strings.Contains(out, "\x1b") {
		t.Fatalf("exit %d (%v)\n%s", exitCode(err), err, out)
	}

	out, err = runCmd(t, string(healthy), "analyze", "-")
	if exitCode(err) != cli.ExitOK || !strings.HasPrefix(out, "✓ The last boot came up") {
		t.Fatalf("exit %d (%v)\n%s", exitCode(err), err, out)
	}

	out, err = runCmd(t, "", "analyze", "--output", "json", broken)
	var doc struct {
		Schema    string `json:"schema"`
		ExitCode  int    `json:"exit_code"`
		RootCause string `json:"root_cause"`
	}
	if exitCode(err) != cli.ExitProblem || json.Unmarshal([]byte(out), &doc) != nil ||
		doc.Schema != bootlog.Schema || doc.ExitCode != 1 || doc.RootCause != "boot.fstab" {
		t.Fatalf("exit %d %+v\n%s", exitCode(err), doc, out)
	}

	for _, bad := range [][]string{
		{"analyze", "testdata/no-such-file.log"},
		{"analyze", "testdata"},
		{"analyze"},
		{"analyze", "a", "b"},
		{"analyze", "--output", "yaml", broken},
	} {
		out, err := runCmd(t, "", bad...)
		if exitCode(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") || out != "" {
			t.Errorf("%v: exit %d, error %q, output %q", bad, exitCode(err), err, out)
		}
	}
	// A bare `bootlog` names no command: help on stderr, exit 2.
	var o, e bytes.Buffer
	if code := cli.Main(&cli.IOStreams{In: strings.NewReader(""), Out: &o, Err: &e}, []string{"bootlog"}); code != cli.ExitUsage || o.Len() != 0 {
		t.Errorf("bare bootlog: exit %d, stdout %q", code, o.String())
	}
	if _, err := runCmd(t, "", "analyze", "testdata/no-such-file.log"); !strings.Contains(err.Error(), "no-such-file.log") {
		t.Errorf("the error should name the file: %v", err)
	}
}
