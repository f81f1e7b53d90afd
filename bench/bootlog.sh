#!/usr/bin/env bash
# Boot-log analysis benchmark (docs/BENCHMARKS.md, "Boot log").
#
#   bash bench/bootlog.sh [COUNT]
#
# 1. `go test -bench Analyze` on one core (-cpu 1): a 200 MB multi-boot serial
#    log streamed from a generator (nothing stored), COUNT samples (default 5)
#    of 3 iterations each: MB/s, B/op, allocs/op, peak heap.
# 2. If the built sshdoctor has the bootlog command: the whole process on a
#    generated 200 MB file (written to a temp dir, removed on exit), 3 runs,
#    with GOMAXPROCS=1; wall time and max RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
COUNT=${1:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "machine: nproc=$(nproc), kernel $(uname -r), $($GO version | cut -d' ' -f3-)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo
echo "== go test -bench Analyze (200 MB per iteration, one core)"
"$GO" test -run '^$' -bench '^BenchmarkAnalyze$' -benchmem -benchtime 3x -count "$COUNT" -cpu 1 ./internal/bootlog | tee "$TMP/bench.txt"
awk '/^BenchmarkAnalyze/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") print $i }' "$TMP/bench.txt" | sort -n |
	awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "median %.1f MB/s over %d samples (min %.1f, max %.1f); target >= 300: %s\n", m, NR, v[1], v[NR], (m >= 300 ? "pass" : "fail") }'

echo
"$GO" build -o "$TMP/sshdoctor" ./cmd/sshdoctor
if ! "$TMP/sshdoctor" bootlog analyze --help >/dev/null 2>&1; then
	echo "== end-to-end: skipped (this sshdoctor has no bootlog command)"
	exit 0
fi
echo "== end-to-end: sshdoctor bootlog analyze on a 200 MB file, GOMAXPROCS=1"
BOOTLOG_SYNTH_OUT="$TMP/console.log" BOOTLOG_SYNTH_MB=200 "$GO" test -count=1 -run '^TestSynthLogFile$' ./internal/bootlog >/dev/null
size=$(stat -c %s "$TMP/console.log")
for i in 1 2 3; do
	start=$EPOCHREALTIME
	set +e
	GOMAXPROCS=1 /usr/bin/time -f '%M' -o "$TMP/rss" "$TMP/sshdoctor" bootlog analyze --output json "$TMP/console.log" >"$TMP/out.json"
	code=$?
	set -e
	end=$EPOCHREALTIME
	awk -v s="$start" -v e="$end" -v b="$size" -v rss="$(tail -n1 "$TMP/rss")" -v c="$code" \
		'BEGIN { t = e - s; printf "run %d: %.3f s, %.1f MB/s, max RSS %.1f MB, exit %d\n", '"$i"', t, b / t / 1e6, rss / 1024, c }'
done
grep -m1 '"root_cause"' "$TMP/out.json" || true
grep -m1 '"boots"' "$TMP/out.json"
