#!/usr/bin/env bash
# Time `sshdoctor guest check` inside a lab VM (target < 300 ms): 20 runs,
# measured inside the VM so nsenter's start-up is not counted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
tmp=$(mktemp -d /tmp/sdbench-guest.XXXXXX)
export SSHDOCTOR_LAB_DIR=$tmp/lab
bin=$tmp/sshdoctor
cleanup() { "$bin" lab down >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
(cd "$root" && go build -o "$bin" ./cmd/sshdoctor)
"$bin" lab up --vms 1 --name bench --ns-prefix sdbg >/dev/null
"$bin" lab exec bench1 -- bash -c '
times=()
for i in $(seq '"$runs"'); do
	s=$EPOCHREALTIME; sshdoctor guest check >/dev/null; e=$EPOCHREALTIME
	times+=($(echo "($e - $s) * 1000" | bc -l 2>/dev/null || awk "BEGIN{print ($e-$s)*1000}"))
done
printf "%s\n" "${times[@]}" | sort -n | awk "{a[NR]=\$1} END{printf \"| guest check (healthy VM, all checks, 1 user) | %d | %.1f ms | %.1f ms | < 300 ms | %s |\n\", NR, a[int((NR+1)/2)], a[int(NR*0.9)], (a[int((NR+1)/2)]<300?\"pass\":\"fail\")}"
'
