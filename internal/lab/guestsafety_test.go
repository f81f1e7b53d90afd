package lab_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshdoctor/sshdoctor/internal/lab"
	"github.com/sshdoctor/sshdoctor/internal/sshdtest"
)

// TestGuestRepairCrashSafety kills `guest repair` with SIGKILL at random
// moments, 25 times: sshd_config must always be exactly the old or the new
// file, and sshd -t must pass.
func TestGuestRepairCrashSafety(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	s, err := lab.Up(context.Background(), filepath.Join(t.TempDir(), "lab"), lab.UpOptions{VMs: 1, Name: "c", Prefix: "sdlc", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Down(s) })
	v := s.VMs[0]
	f, _ := lab.FaultByName("sshd-wrong-port")
	if err := s.Break(v, f); err != nil {
		t.Fatal(err)
	}
	script := `set -u
cp -p /etc/ssh/sshd_config /root/old
sshdoctor guest repair --yes >/dev/null 2>&1
cp -p /etc/ssh/sshd_config /root/new
cmp -s /root/old /root/new && { echo "repair changed nothing"; exit 1; }
for i in $(seq 25); do
	cp -p /root/old /etc/ssh/sshd_config
	sshdoctor guest repair --yes >/dev/null 2>&1 &
	pid=$!
	sleep 0.0$(($(od -An -N1 -tu1 /dev/urandom) % 10))  # dash has no $RANDOM
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	if ! cmp -s /etc/ssh/sshd_config /root/old && ! cmp -s /etc/ssh/sshd_config /root/new; then
		echo "run $i: sshd_config is neither the old nor the new file"; exit 1
	fi
	sshd -t || { echo "run $i: sshd -t fails"; exit 1; }
	echo "run $i ok"
done
`
	res, err := s.Exec(t.Context(), v, script, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || strings.Count(res.Stdout, " ok\n") != 25 {
		t.Fatalf("exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// TestGuestBadInputChangesNothing: bad input gets exit 2 and one line, and
// not one file under the VM's /etc changes.
func TestGuestBadInputChangesNothing(t *testing.T) {
	sshdtest.NeedRoot(t)
	bin := binary(t)
	s, err := lab.Up(context.Background(), filepath.Join(t.TempDir(), "lab"), lab.UpOptions{VMs: 1, Name: "b", Prefix: "sdlb", Self: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Down(s) })
	v := s.VMs[0]
	hashEtc := func() string {
		res, err := s.Exec(t.Context(), v, "find /etc -type f -exec sha256sum {} + | sort; ls -la /var/backups/sshdoctor 2>/dev/null | wc -l", 0)
		if err != nil {
			t.Fatal(err)
		}
		return res.Stdout
	}
	before := hashEtc()
	for _, args := range []string{
		"guest repair --yes --user '../etc'",       // path in a user name
		"guest repair --yes --user 'a;rm -rf /'",   // shell metacharacters
		"guest repair --yes --user -rf",            // option as a name
		"guest repair --yes --ssh-key 'not a key'", // malformed key
		"guest repair --yes --ssh-key-file /nonexistent",
		"guest repair --yes --key-fingerprint SHA256:abc", // not a fingerprint
		"guest check --key-fingerprint MD5:aa:bb",
		"guest repair --yes --from 10.0.0",
		"guest check --port 70000",
		"guest check --output xml",
		"guest reset-ssh", // no --yes
		"guest restore /nonexistent",
	} {
		res, err := s.Exec(t.Context(), v, "sshdoctor "+args, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 2 || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 || res.Stderr == "" {
			t.Errorf("%s: exit %d stderr %q, want exit 2 with one line", args, res.ExitCode, res.Stderr)
		}
	}
	// Without --yes, repair only shows its plan (a remedy's command is safe
	// to paste): it changes nothing either.
	res, err := s.Exec(t.Context(), v, "sshdoctor guest repair", 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode > 1 || !strings.Contains(res.Stdout, "Nothing was changed") {
		t.Errorf("guest repair without --yes: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	if after := hashEtc(); after != before {
		t.Fatalf("bad input changed the VM's /etc or made a backup set")
	}
}
