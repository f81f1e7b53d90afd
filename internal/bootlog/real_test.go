package bootlog

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Real serial logs that people posted when their VMs would not come up
// (testdata/real, MANIFEST.tsv: file, source, platform, the cause the
// thread established, the expected root cause). Each must give that root
// cause; the healthy ones must stay healthy.
func TestRealPostedLogs(t *testing.T) {
	dir := filepath.Join("testdata", "real")
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, failed, healthy := 0, 0, 0
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first || len(cols) < 5 || strings.TrimSpace(cols[0]) == "" {
			continue
		}
		file, source, cause, want := cols[0], cols[1], cols[3], strings.TrimSpace(cols[4])
		if strings.HasPrefix(want, "other:") {
			continue
		}
		n++
		if want == idOK {
			healthy++
		} else {
			failed++
		}
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if source == "" {
				t.Error("no source")
			}
			r := analyze(t, string(data))
			got := idOK
			if r.RootCause != nil {
				got = r.RootCause.ID
			}
			if want == idOK && !r.Healthy {
				t.Errorf("a healthy boot (%s) judged unhealthy: root %s\n%s", cause, got, textOf(r))
				return
			}
			if got != want {
				t.Errorf("root cause %s, want %s (%s; %s)\nfindings %v\n%s", got, want, cause, source, ids(r), textOf(r))
			}
		})
	}
	if failed < 25 || healthy < 5 {
		t.Errorf("%d failed-boot logs and %d healthy ones: want at least 25 and 5", failed, healthy)
	}
}
