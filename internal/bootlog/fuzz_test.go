package bootlog

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzAnalyze runs its seeds as a normal test (`go test`); `go test -fuzz
// FuzzAnalyze ./internal/bootlog` explores further. Whatever the input:
// no panic, a consistent report, every line counted, and the same findings
// whether lines end in \n or \r\n.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range signatures {
		f.Add([]byte(join(ubuntuKernel[:2], s.Example)))
	}
	f.Add([]byte(healthyUbuntu()))
	f.Add([]byte(""))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte("\x1b[\x1b]\x1b(\x1b"))
	f.Add([]byte("Kernel panic - not syncing\rKernel panic - not syncing: x\x1b[0m\n"))
	f.Add([]byte("Linux version 1.2 (x)\nLinux version 1.2 (x)\nCommand line: a\nCommand line: b\ngrub rescue>"))
	f.Add([]byte{0xff, 0xfe, 0x00, '\n', 0x1b, '[', 0x80, 'S', 't', 'a', 'r', 't', 'e', 'd', ' '})
	f.Add(synthLog(64<<10, 9))

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Analyze(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, r)
		if len(data) < MaxLine {
			want := bytes.Count(data, []byte("\n"))
			if len(data) > 0 && data[len(data)-1] != '\n' {
				want++
			}
			if r.Lines != want || r.Bytes != int64(len(data)) {
				t.Fatalf("lines %d bytes %d, want %d %d", r.Lines, r.Bytes, want, len(data))
			}
		}
		if len(data) < MaxLine/4 {
			crlf, err := Analyze(bytes.NewReader(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))))
			if err != nil {
				t.Fatal(err)
			}
			if a, b := shape(r), shape(crlf); a != b {
				t.Fatalf("LF and CRLF differ:\n%s\n%s", a, b)
			}
		}
		var doc map[string]any
		if b, err := json.Marshal(r); err != nil || json.Unmarshal(b, &doc) != nil {
			t.Fatalf("json: %v", err)
		}
	})
}

// shape is what must not depend on line endings.
func shape(r *Report) string {
	var b strings.Builder
	b.WriteString(strings.Join([]string{r.LastBoot.StartedBy, r.LastBoot.SSHD}, " "))
	for _, f := range r.Findings {
		b.WriteString("\n" + f.ID + " " + string(f.Severity) + " " + f.Signature)
		if f.ID != idIncomplete {
			b.WriteString(" " + strings.Join(f.Evidence, "|"))
		}
	}
	return b.String()
}

// Memory does not grow with the input: a long log allocates what a short
// one does (the evidence kept is bounded, lines without a finding allocate
// nothing), and the reading buffer is fixed.
func TestMemoryIndependentOfInputSize(t *testing.T) {
	noise := []byte(join(
		"[ 1000.000000] [UFW BLOCK] IN=eth0 OUT= MAC=00:0d:3a:12:34:56 SRC=203.0.113.9 DST=10.0.0.4 LEN=40 PROTO=TCP SPT=1234 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0",
		"[ 1000.100000] systemd[1]: Started Session 12 of User azureuser.",
		"[ 1000.200000] blk_update_request: I/O error, dev sdc, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
		"[ 1000.300000] Out of memory: Killed process 2345 (java) total-vm:8123456kB, anon-rss:3456789kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:7000kB oom_score_adj:0",
		"[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mTimers\x1b[0m.\r",
	))
	alloc := func(size int64) (bytes, count uint64) {
		in := io.MultiReader(strings.NewReader(healthyUbuntu()), &repeatReader{chunk: noise, left: size})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := Analyze(in)
		runtime.ReadMemStats(&after)
		if err != nil || r.Boots != 1 || find(r, idDiskIO) == nil {
			t.Fatalf("%v %v", err, ids(r))
		}
		return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs
	}
	// 40 MiB is ~230,000 lines, a third of them with anchor hits: one
	// allocation per thousand lines would show.
	small, nsmall := alloc(4 << 20)
	large, nlarge := alloc(40 << 20)
	t.Logf("allocated: %d bytes in %d allocations for 4 MiB, %d bytes in %d for 40 MiB", small, nsmall, large, nlarge)
	if nlarge > nsmall+64 || large > small+256<<10 {
		t.Fatalf("allocation grows with the input: %d bytes (%d allocations) for 4 MiB, %d (%d) for 40 MiB", small, nsmall, large, nlarge)
	}
	if small > MaxLine+1<<20 {
		t.Fatalf("%d bytes allocated for a 4 MiB log", small)
	}
}
