package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// TestGuestInputFilesAreBounded: every file the guest commands read from
// the command line must be a regular file of bounded size. A FIFO nobody
// writes to must not hang the command, /dev/zero must not grow memory, a
// directory is no key file. Each is refused with exit 2 and one line,
// before anything is gathered or changed.
func TestGuestInputFilesAreBounded(t *testing.T) {
	sshdtest.NeedRoot(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bigKeys := filepath.Join(dir, "big.pub")
	if err := os.WriteFile(bigKeys, bytes.Repeat([]byte("#\n"), maxKeyInput/2+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bigSettings := filepath.Join(dir, "big.json")
	if err := os.WriteFile(bigSettings, []byte(`{"reset_ssh": true}`+strings.Repeat(" ", maxSettings)), 0o600); err != nil {
		t.Fatal(err)
	}
	commands := []struct {
		name string
		args func(file string) []string
	}{
		{"guest check", func(f string) []string { return []string{"guest", "check", "--ssh-key-file", f, "--output", "json"} }},
		{"guest repair", func(f string) []string { return []string{"guest", "repair", "--ssh-key-file", f, "--dry-run"} }},
		{"guest user set", func(f string) []string {
			return []string{"guest", "user", "set", "bob", "--ssh-key-file", f, "--dry-run"}
		}},
		{"guest apply --settings", func(f string) []string { return []string{"guest", "apply", "--settings", f, "--dry-run"} }},
		{"guest apply --protected-settings", func(f string) []string {
			return []string{"guest", "apply", "--settings", `{"username": "bob"}`, "--protected-settings", f, "--dry-run"}
		}},
	}
	files := []struct{ name, path, want string }{
		{"FIFO", fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "/dev/zero", "not a regular file (a character device)"},
		{"directory", dir, "not a regular file (a directory)"},
		{"missing", filepath.Join(dir, "missing"), "no such file or directory"},
	}
	for _, c := range commands {
		for _, f := range files {
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				code, stderr := runGuest(t, c.args(f.path))
				if code != ExitUsage || !strings.Contains(stderr, f.want) || strings.Count(stderr, "\n") != 1 {
					t.Fatalf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, f.want)
				}
			})
		}
		big := bigKeys
		if strings.HasPrefix(c.name, "guest apply") {
			big = bigSettings
		}
		t.Run(c.name+"/too large", func(t *testing.T) {
			code, stderr := runGuest(t, c.args(big))
			if code != ExitUsage || !strings.Contains(stderr, "larger than") {
				t.Fatalf("exit %d, stderr %q; want exit 2, larger than", code, stderr)
			}
		})
	}
}

// runGuest runs sshdoctor with args, failing the test if it does not
// return well within inputTimeout: the refusals must not wait for it.
func runGuest(t *testing.T, args []string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ios := &IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb}
	done := make(chan int, 1)
	go func() { done <- Main(ios, args) }()
	select {
	case code := <-done:
		return code, errb.String()
	case <-time.After(inputTimeout / 2):
		t.Fatalf("%v still running after %s", args, inputTimeout/2)
	}
	return 0, ""
}

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if data, err := readInput("--f", file("exact", 100), nil, 100); err != nil || len(data) != 100 {
		t.Fatalf("a file of exactly the limit: %d bytes, %v", len(data), err)
	}
	if _, err := readInput("--f", file("over", 101), nil, 100); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Fatalf("a file over the limit: %v", err)
	}
	// Without a standard input, "-" is a file name like any other.
	if _, err := readInput("--f", "-", nil, 100); err == nil || !strings.Contains(err.Error(), "--f -: no such file") {
		t.Fatalf("- without stdin: %v", err)
	}
	if data, err := readInput("--f", "-", strings.NewReader("{}"), 100); err != nil || string(data) != "{}" {
		t.Fatalf("stdin: %q %v", data, err)
	}
	if _, err := readInput("--f", "-", strings.NewReader(strings.Repeat("x", 101)), 100); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("stdin over the limit: %v", err)
	}
	if data, err := readSettings("--settings", "-", strings.NewReader(`{"reset_ssh": true}`), true); err != nil || string(data) != `{"reset_ssh": true}` {
		t.Fatalf("--settings -: %q %v", data, err)
	}
	if data, err := readSettings("--settings", ` {"reset_ssh": true}`, nil, true); err != nil || !strings.Contains(string(data), "reset_ssh") {
		t.Fatalf("inline settings: %q %v", data, err)
	}
}

// TestReadInputTimeout: a standard input nobody writes to ends in an error
// after inputTimeout, not a hang.
func TestReadInputTimeout(t *testing.T) {
	if testing.Short() {
		t.Skipf("waits %s", inputTimeout)
	}
	r, w := io.Pipe()
	defer w.Close()
	start := time.Now()
	_, err := readInput("--settings", "-", r, maxSettings)
	if err == nil || !strings.Contains(err.Error(), "not read within") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d < inputTimeout || d > inputTimeout+2*time.Second {
		t.Fatalf("returned after %s, want %s", d, inputTimeout)
	}
}
