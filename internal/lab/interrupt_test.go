package lab_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// interruptPrefix names the namespaces of the interrupt tests.
const interruptPrefix = "sdsig"

// interruptRand returns a random source for the moments the tests send
// their signals, seeded from SSHDOCTOR_TEST_SEED when set (to replay a
// failure) and logged either way.
func interruptRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("SSHDOCTOR_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("SSHDOCTOR_TEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay: SSHDOCTOR_TEST_SEED=%d)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

// signalled runs `sshdoctor args…` with SSHDOCTOR_LAB_DIR=dir in its own
// process group and, after delay, sends sig to that group, as a terminal
// sends Ctrl-C to its foreground job. It returns the exit code (-1 when
// the signal killed the process) and stderr.
func signalled(t *testing.T, bin, dir string, delay time.Duration, sig syscall.Signal, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatal(err)
	return 0, ""
}

// labCmd runs `sshdoctor args…` on the lab in dir and fails the test
// unless it succeeds.
func labCmd(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SSHDOCTOR_LAB_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sshdoctor %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// labLeftovers lists what of the lab in dir still exists: namespaces with
// the test's prefix, processes whose command line names dir (every VM's
// unshare and init do; the rest of a VM dies with its init), state.json.
func labLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, interruptPrefix+"-") {
			left = append(left, "namespace "+strings.Fields(l)[0])
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir+"/")) {
			left = append(left, "process "+filepath.Base(filepath.Dir(p))+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		left = append(left, "state.json")
	}
	return left
}

// TestUpInterrupted interrupts `lab up --vms 2` at random moments: each
// time the command either finishes or removes everything it created and
// exits 130, and a new lab comes up and goes down after it. A SIGKILL
// (no chance to clean up) leaves a lab that `lab down` removes.
func TestUpInterrupted(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	up := []string{"lab", "up", "--vms", "2", "--ns-prefix", interruptPrefix}
	if left := labLeftovers(t, dir); len(left) > 0 {
		t.Fatalf("namespaces of %s exist before the test: %v", interruptPrefix, left)
	}
	r := interruptRand(t)
	// A 2-VM lab comes up in about 0.3 s: most delays fall inside it, the
	// last after it.
	bounds := []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second}
	for i, b := range bounds {
		delay := b/2 + time.Duration(r.Int63n(int64(b/2)))
		code, stderr := signalled(t, bin, dir, delay, syscall.SIGINT, up...)
		t.Logf("SIGINT after %s: exit %d %s", delay, code, strings.TrimSpace(stderr))
		switch code {
		case 0: // finished before the signal
			labCmd(t, bin, dir, "lab", "down")
		case 130:
			if !strings.Contains(stderr, "interrupted: the partial lab was removed") {
				t.Errorf("round %d: stderr %q", i, stderr)
			}
		default:
			t.Errorf("round %d: exit %d, want 130 or 0: %s", i, code, stderr)
		}
		if left := labLeftovers(t, dir); len(left) > 0 {
			labCmd(t, bin, dir, "lab", "down")
			t.Fatalf("round %d (SIGINT after %s) left: %s", i, delay, strings.Join(left, "\n"))
		}
		labCmd(t, bin, dir, up...)
		labCmd(t, bin, dir, "lab", "down")
	}
	delay := 50*time.Millisecond + time.Duration(r.Int63n(int64(250*time.Millisecond)))
	code, _ := signalled(t, bin, dir, delay, syscall.SIGKILL, up...)
	t.Logf("SIGKILL after %s: exit %d", delay, code)
	if code != 0 {
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
			labCmd(t, bin, dir, "lab", "down")
		}
	} else {
		labCmd(t, bin, dir, "lab", "down")
	}
	if left := labLeftovers(t, dir); len(left) > 0 {
		t.Fatalf("lab down after SIGKILL (after %s) left: %s", delay, strings.Join(left, "\n"))
	}
	labCmd(t, bin, dir, up...)
	labCmd(t, bin, dir, "lab", "down")
}

// TestBreakHealInterrupted interrupts `lab break` and `lab heal` at random
// moments: the VM is then broken (the fault recorded and its root cause
// seen by check) or healthy (no fault, check passes), never in between,
// and heal always restores it.
func TestBreakHealInterrupted(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "lab")
	if _, err := lab.Up(context.Background(), dir, lab.UpOptions{VMs: 1, Name: "i", Prefix: interruptPrefix, Self: bin}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := lab.Load(dir); err == nil {
			if err := lab.Down(s); err != nil {
				t.Errorf("down: %v", err)
			}
		}
	})
	r := interruptRand(t)
	// One guest fault (disk snapshot, a drop-in, sshd restarted) and one
	// network fault (the NIC NSG in the router).
	for _, name := range []string{"sshd-dropin-override", "nsg-deny-ssh", "sshd-dropin-override"} {
		f, err := lab.FaultByName(name)
		if err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(r.Int63n(int64(150 * time.Millisecond)))
		code, stderr := signalled(t, bin, dir, delay, syscall.SIGINT, "lab", "break", "i1", name)
		t.Logf("break %s, SIGINT after %s: exit %d %s", name, delay, code, strings.TrimSpace(stderr))
		if code != 0 && code != 130 && code != -1 {
			t.Fatalf("break: exit %d: %s", code, stderr)
		}
		s, err := lab.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		v := s.VMs[0]
		switch {
		case len(v.Faults) == 1 && v.Faults[0] == name:
			if code, doc := labCheck(t, s, bin, v, f); code != 1 || doc.RootCause != f.Expect {
				t.Errorf("break %s interrupted after %s: the fault is recorded but check says exit %d %q", name, delay, code, doc.RootCause)
			}
		case len(v.Faults) == 0:
			if code != -1 {
				t.Errorf("break %s: exit %d but no fault recorded", name, code)
			}
			if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
				t.Errorf("break %s interrupted after %s: no fault recorded but check says exit %d %q", name, delay, code, doc.RootCause)
			}
		default:
			t.Fatalf("faults %v after break %s", v.Faults, name)
		}
		delay = time.Duration(r.Int63n(int64(250 * time.Millisecond)))
		code, stderr = signalled(t, bin, dir, delay, syscall.SIGINT, "lab", "heal", "i1")
		t.Logf("heal, SIGINT after %s: exit %d %s", delay, code, strings.TrimSpace(stderr))
		if code != 0 && code != 130 && code != -1 {
			t.Fatalf("heal: exit %d: %s", code, stderr)
		}
		if code == -1 { // killed before it began: heal again
			labCmd(t, bin, dir, "lab", "heal", "i1")
		}
		if s, err = lab.Load(dir); err != nil {
			t.Fatal(err)
		}
		v = s.VMs[0]
		if len(v.Faults) != 0 {
			t.Fatalf("faults %v after heal (exit %d)", v.Faults, code)
		}
		if code, doc := labCheck(t, s, bin, v, nil); code != 0 {
			t.Fatalf("healed (SIGINT after %s): check exit %d %q: %s", delay, code, doc.RootCause, doc.Diagnosis)
		}
	}
}

// TestGuestRepairInterrupted sends Ctrl-C (SIGINT to the process group, as
// a terminal does) to `guest repair --yes` inside a VM at seeded random
// moments once its transaction has begun. The repair has four steps (a
// drop-in, sshd_config, the user's shell, ~/.ssh's mode; then sshd is
// restarted): afterwards sshd's configuration must be exactly the broken
// one (rolled back) or the repaired one, never a mix, never a file left
// behind, and sshd -t must pass.
func TestGuestRepairInterrupted(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	s, err := lab.Up(context.Background(), filepath.Join(t.TempDir(), "lab"), lab.UpOptions{VMs: 1, Name: "r", Prefix: interruptPrefix, Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Down(s) })
	v := s.VMs[0]
	for _, name := range []string{"sshd-dropin-override", "sshd-wrong-port", "user-nologin-shell", "ssh-dir-perms"} {
		f, _ := lab.FaultByName(name)
		if err := s.Break(v, f); err != nil {
			t.Fatal(err)
		}
	}
	r := interruptRand(t)
	const rounds = 16
	var sleeps []string
	for i := range rounds {
		// After the backup set appears, the four steps and sshd -t take
		// some 30 ms, the restart and the wait for sshd some 300 ms more:
		// half the signals fall in the first part.
		limit := 0.04
		if i%2 == 1 {
			limit = 0.3
		}
		sleeps = append(sleeps, strconv.FormatFloat(r.Float64()*limit, 'f', 3, 64))
	}
	script := `set -u
u=` + lab.DefaultUser + `
conf() { find /etc/ssh/sshd_config /etc/ssh/sshd_config.d -type f | sort | xargs sha256sum; getent passwd $u; stat -c %a /home/$u/.ssh; }
cp -a /etc/ssh /root/ssh.old
conf > /root/old
sshdoctor guest repair --yes --user $u >/dev/null 2>&1 || { echo "repair failed"; exit 1; }
conf > /root/new
cmp -s /root/old /root/new && { echo "repair changed nothing"; exit 1; }
i=0
for delay in ` + strings.Join(sleeps, " ") + `; do
	i=$((i+1))
	rm -rf /etc/ssh && cp -a /root/ssh.old /etc/ssh && service ssh restart >/dev/null
	usermod -s /usr/sbin/nologin $u >/dev/null 2>&1; chmod 777 /home/$u/.ssh
	sets=$(ls -A /var/backups/sshdoctor 2>/dev/null | wc -l)
	# A job of its own (setsid), with SIGINT as a terminal leaves it (the
	# shell ignores SIGINT for background jobs).
	setsid perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' sshdoctor guest repair --yes --user $u >/root/out 2>&1 &
	pid=$!
	# Wait for the transaction to begin (its backup set appears), then
	# a random moment more.
	while [ "$(ls -A /var/backups/sshdoctor 2>/dev/null | wc -l)" = "$sets" ] && kill -0 $pid 2>/dev/null; do :; done
	sleep "$delay"
	kill -s INT -- -$pid 2>/dev/null
	wait $pid
	rc=$?
	conf > /root/now
	if cmp -s /root/now /root/old; then state=rolled-back
	elif cmp -s /root/now /root/new; then state=repaired
	else echo "run $i (SIGINT $delay s into the transaction, exit $rc): sshd's configuration is neither the old nor the repaired one:"; cat /root/now; tail -5 /root/out; exit 1
	fi
	sshd -t || { echo "run $i (SIGINT $delay s into the transaction): sshd -t fails"; exit 1; }
	if grep -q interrupted /root/out && [ $state != rolled-back ]; then
		echo "run $i (SIGINT $delay s into the transaction): says interrupted, but the repair stayed"; cat /root/out; exit 1
	fi
	echo "run $i: SIGINT $delay s into the transaction: exit $rc, $state ($(grep -m1 -o -e 'FAILED: [^(]*' -e 'Done\.' /root/out)) ok"
done
`
	res, err := s.Exec(t.Context(), v, script, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res.Stdout)
	if res.ExitCode != 0 || strings.Count(res.Stdout, " ok\n") != rounds {
		t.Fatalf("exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
}
