#!/usr/bin/env bash
# bench/fix.sh — benchmark of `sshdoctor fix` against the seed guide's fixed
# order (reset sshd config → reset user → NSG → routes → start → restart →
# redeploy, a check after each: what a user working through the guide does,
# automated by the same engine with --seed-order). For each fault class it
# breaks the lab VM, runs both from the client namespace, and reports per
# class the median wall seconds and steps taken, and whether SSH worked.
#
# Usage: bash bench/fix.sh [RUNS]   (root; RUNS per fault and mode, default 1)
#
# Everything it touches is its own: a temp dir holding the binary and the lab
# state (SSHDOCTOR_LAB_DIR), and the lab's namespaces (prefix sdbf). The EXIT
# trap runs `lab down` and removes the temp dir.
#
# Targets (docs/BENCHMARKS.md): fix's median < 15 s per class, and fix's
# steps ≤ the seed's in every class. Exit 1 if a target is missed.
set -euo pipefail
export LC_ALL=C
RUNS=${1:-1}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/fix.sh: must run as root" >&2; exit 2; }
GO=$(bash "$REPO/scripts/deps.sh" | tail -n 1)
TMP=$(mktemp -d /tmp/sdfixbench.XXXXXX)
export SSHDOCTOR_LAB_DIR=$TMP/lab
BIN=$TMP/sshdoctor
cleanup() { "$BIN" lab down >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT
(cd "$REPO" && "$GO" build -o "$BIN" ./cmd/sshdoctor)
"$BIN" lab up --vms 1 --name bf --ns-prefix sdbf >/dev/null

# class: faults (a "+" joins faults broken together)
CLASSES=(
	"nsg:nsg-deny-ssh nsg-no-allow nsg-subnet-deny nsg-wrong-source"
	"route:route-blackhole"
	"power:vm-stopped"
	"sshd-config:sshd-dropin-override sshd-config-syntax sshd-wrong-port sshd-listen-localhost"
	"sshd-service:sshd-stopped privsep-dir-missing"
	"guest-firewall:guest-firewall-drop guest-firewall-reject"
	"account-keys:authorized-keys-missing ssh-dir-perms authorized-keys-owner allowusers-excludes"
	"compound:nsg-deny-ssh+sshd-dropin-override route-blackhole+authorized-keys-owner"
)

# run MODE FAULTS: prints "seconds steps fixed"
run() {
	local mode=$1 faults=$2 extra=() out
	[ "$mode" = seed ] && extra=(--seed-order)
	for f in ${faults//+/ }; do "$BIN" lab break bf1 "$f" >/dev/null; done
	local t0=$EPOCHREALTIME
	out=$("$BIN" lab fix bf1 -- --yes --output json --timeout 2s --journal "$TMP/j.json" "${extra[@]}" 2>/dev/null || true)
	local t1=$EPOCHREALTIME
	"$BIN" lab heal bf1 >/dev/null
	perl -MJSON::PP -e '
		my $d = eval { decode_json(join "", <STDIN>) } || {};
		my @j = grep { $_->{result} eq "applied" || $_->{result} eq "failed" } @{ $d->{journal} || [] };
		printf "%.2f %d %s\n", $ARGV[1] - $ARGV[0], scalar @j, $d->{fixed} ? "yes" : "no";
	' "$t0" "$t1" <<<"$out"
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

printf '| class | faults | fix: median s | fix: steps | fix: fixed | seed order: median s | seed order: steps | seed order: fixed |\n|---|---|---|---|---|---|---|---|\n'
miss=0
for c in "${CLASSES[@]}"; do
	class=${c%%:*} faults=${c#*:}
	[ -z "${BENCH_CLASSES:-}" ] || [[ " $BENCH_CLASSES " == *" $class "* ]] || continue
	: >"$TMP/fix" ; : >"$TMP/seed"
	for f in $faults; do
		for _ in $(seq "$RUNS"); do
			run fix "$f" | tee -a "$TMP/fix" | sed "s/^/bench\/fix.sh: $f fix: /" >&2
			run seed "$f" | tee -a "$TMP/seed" | sed "s/^/bench\/fix.sh: $f seed order: /" >&2
		done
	done
	fs=$(cut -d' ' -f1 "$TMP/fix" | median) ss=$(cut -d' ' -f1 "$TMP/seed" | median)
	fn=$(awk '{s += $2} END {print s}' "$TMP/fix") sn=$(awk '{s += $2} END {print s}' "$TMP/seed")
	fk="$(grep -c ' yes$' "$TMP/fix" || true)/$(wc -l <"$TMP/fix")" sk="$(grep -c ' yes$' "$TMP/seed" || true)/$(wc -l <"$TMP/seed")"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$class" "$(echo $faults | wc -w)" "$fs" "$fn" "$fk" "$ss" "$sn" "$sk"
	awk -v m="$fs" 'BEGIN {exit !(m >= 15)}' && { echo "bench/fix.sh: $class: fix median ${fs}s ≥ 15 s" >&2; miss=1; }
	[ "$fn" -le "$sn" ] || { echo "bench/fix.sh: $class: fix took $fn steps, the seed order $sn" >&2; miss=1; }
done
exit $miss
