#!/usr/bin/env bash
# bench/check.sh — wall-clock benchmark of `sshdoctor check` against OpenSSH's
# own client (both open a session and run `true`), plus time-to-verdict for a
# closed and a filtered port. An extra, informational scenario
# (sshdoctor --no-session) stops after authentication.
#
# Usage: bash bench/check.sh [RUNS]     (default 20; must be run as root)
#
# Everything it touches is its own: a temp dir, an sshd on 127.0.0.1 with a
# temp config and host key, and two network namespaces (sdb-c-PID, sdb-s-PID)
# joined by a veth pair that is created inside the client namespace, so no
# interface ever appears in the host namespace. The host's /etc/ssh, users
# and firewall are not touched. All of it is removed by the EXIT trap, also on
# failure or interrupt.
#
# Exit status: 0 if every run exited as expected (targets that are missed are
# reported as "fail" in the table but do not change the exit status), 1 if any
# run's exit code or verdict was wrong, 2 on a setup error.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as the decimal separator

RUNS=${1:-20}
if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: bash bench/check.sh [RUNS]  (RUNS a positive integer, default 20)" >&2
	exit 2
fi
FILTERED_RUNS=5
FILTERED_TIMEOUT_MS=1000

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
	echo "bench/check.sh: must run as root (sshd with its own config, network namespaces)" >&2
	exit 2
fi

# ---------------------------------------------------------------- cleanup --
TMP=""
SSHD_PID=""
NS_C="sdb-c-$$"
NS_S="sdb-s-$$"
NS_C_MADE=0
NS_S_MADE=0
RUN_SSHD_MADE=0

cleanup() {
	local rc=$?
	set +e
	if [[ -n $SSHD_PID ]] && kill -0 "$SSHD_PID" 2>/dev/null; then
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
	fi
	# Deleting a namespace also destroys the veth end inside it (and its peer).
	[[ $NS_C_MADE -eq 1 ]] && ip netns del "$NS_C" 2>/dev/null
	[[ $NS_S_MADE -eq 1 ]] && ip netns del "$NS_S" 2>/dev/null
	[[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
	[[ $RUN_SSHD_MADE -eq 1 ]] && rmdir /run/sshd 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "bench/check.sh: $*" >&2; exit 2; }

TMP=$(mktemp -d /tmp/sdbench.XXXXXX)
export XDG_CACHE_HOME="$TMP/cache" # the ssh -G cache, kept inside the temp dir
unset SSH_AUTH_SOCK

# ---------------------------------------------------------------- helpers --
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# port_in_use PORT: true if something listens on 127.0.0.1/any on TCP PORT.
port_in_use() { [[ -n $(ss -Htln "sport = :$1") ]]; }

free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + SRANDOM % 40000))
		[[ $p == "${2:-}" ]] && continue
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# stats FILE -> "median p90" in ms with one decimal (input: one µs value a line).
# Median: mean of the two middle values for even n. p90: nearest rank ceil(0.9n).
stats() {
	sort -n "$1" | awk '
		{ v[NR] = $1 }
		END {
			n = NR
			if (n % 2) med = v[(n + 1) / 2]; else med = (v[n / 2] + v[n / 2 + 1]) / 2
			r = int((9 * n + 9) / 10); if (r < 1) r = 1
			printf "%.1f %.1f\n", med / 1000, v[r] / 1000
		}'
}

BAD=0 # number of runs whose exit status / verdict was wrong
bad() { BAD=$((BAD + 1)); echo "WRONG: $*" >&2; }

# -------------------------------------------------------------- 1. build --
(cd "$REPO" && go build -o "$TMP/sshdoctor" ./cmd/sshdoctor) || die "go build failed"
SD="$TMP/sshdoctor"

# --------------------------------------------------------------- 2. sshd --
if [[ ! -d /run/sshd ]]; then
	mkdir -p -m 0755 /run/sshd
	RUN_SSHD_MADE=1
fi
ssh-keygen -q -t ed25519 -N '' -C sdbench-host -f "$TMP/host_ed25519" >/dev/null
PORT=$(free_port) || die "no free port found"
cat >"$TMP/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $TMP/host_ed25519
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100
LogLevel ERROR
EOF
/usr/sbin/sshd -D -e -f "$TMP/sshd_config" 2>>"$TMP/sshd.log" &
SSHD_PID=$!

up=0
for ((i = 0; i < 500; i++)); do
	kill -0 "$SSHD_PID" 2>/dev/null || { cat "$TMP/sshd.log" >&2; die "sshd exited during startup"; }
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
	sleep 0.01
done
[[ $up -eq 1 ]] || die "sshd did not accept connections on 127.0.0.1:$PORT within 5 s"

# ------------------------------------------------- 3. client key + hosts --
KEY="$TMP/id_ed25519"
KH="$TMP/known_hosts"
ssh-keygen -q -t ed25519 -N '' -C sdbench-client -f "$KEY" >/dev/null
cp "$KEY.pub" "$TMP/authorized_keys"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$TMP/host_ed25519.pub")" >"$KH"

SD_ARGS=(check -F none -o "UserKnownHostsFile=$KH" -o GlobalKnownHostsFile=/dev/null -i "$KEY")
SSH_ARGS=(-F none -o BatchMode=yes -o "UserKnownHostsFile=$KH" -o GlobalKnownHostsFile=/dev/null
	-o IdentitiesOnly=yes -i "$KEY" -p "$PORT" root@127.0.0.1 true)

# timed NAME [warm] -- CMD...: run CMD, append its wall time in µs to
# $TMP/NAME.us (unless "warm"), and count it as wrong if it does not exit 0.
timed() {
	local name=$1 warm=0 t0 t1 rc=0
	shift
	[[ $1 == warm ]] && { warm=1; shift; }
	[[ $1 == -- ]] && shift
	t0=$(now_us)
	"$@" >"$TMP/$name.out" 2>&1 || rc=$?
	t1=$(now_us)
	[[ $rc -eq 0 ]] || { bad "$name: ${1##*/} exited $rc (want 0):"; cat "$TMP/$name.out" >&2; }
	[[ $warm -eq 1 ]] || echo $((t1 - t0)) >>"$TMP/$name.us"
}
# A: sshdoctor, every layer and a session running `true` (its default).
# B: OpenSSH running `true`. E (informational): sshdoctor --no-session.
run_a() { timed a "$@" -- "$SD" "${SD_ARGS[@]}" "root@127.0.0.1:$PORT"; }
run_b() { timed b "$@" -- ssh "${SSH_ARGS[@]}"; }
run_e() { timed e "$@" -- "$SD" "${SD_ARGS[@]}" --no-session "root@127.0.0.1:$PORT"; }

# ------------------------------------------------- 4. sshdoctor vs ssh ---
: >"$TMP/a.us"
: >"$TMP/b.us"
: >"$TMP/e.us"
run_a warm # one untimed warm-up each (page cache, first-exec costs)
run_b warm
run_e warm
for ((i = 1; i <= RUNS; i++)); do
	# rotate the order (ABE, BEA, EAB, ...) so no scenario always runs first
	case $((i % 3)) in
	1) run_a; run_b; run_e ;;
	2) run_b; run_e; run_a ;;
	0) run_e; run_a; run_b ;;
	esac
done

# Where sshdoctor's time goes: extra, untimed runs with --output json.
layers() {
	awk '
	/^  "layers": \[/ { in_l = 1; next }
	in_l && /^  \]/ { in_l = 0 }
	in_l && /"layer":/ { gsub(/[",]/, "", $2); name = $2 }
	in_l && /"duration_ms":/ { gsub(/,/, "", $2); printf "%s%s %s", sep, name, $2; sep = ", " }
	' "$1"
}
"$SD" "${SD_ARGS[@]}" --output json "root@127.0.0.1:$PORT" >"$TMP/a.json" 2>/dev/null || true
"$SD" "${SD_ARGS[@]}" --no-session --output json "root@127.0.0.1:$PORT" >"$TMP/e.json" 2>/dev/null || true
LAYERS_A=$(layers "$TMP/a.json")
LAYERS_E=$(layers "$TMP/e.json")
KEX_SD=$(grep -m1 -o '"kex": "[^"]*"' "$TMP/a.json" | cut -d'"' -f4 || true)
KEX_SSH=$(ssh -v "${SSH_ARGS[@]}" 2>&1 | sed -n 's/^debug1: kex: algorithm: //p' | head -1 || true)

# -------------------------------------------------------- 5. closed port --
CLOSED_PORT=$(free_port "$PORT") || die "no free port found"
: >"$TMP/c.us"
: >"$TMP/cs.us"
: >"$TMP/v.us"
: >"$TMP/cc.us"
# One untimed run fills the ssh -G cache, as any earlier check of this host
# would; the cold variant below runs with the cache off in the same rounds.
"$SD" "${SD_ARGS[@]}" --output json "root@127.0.0.1:$CLOSED_PORT" >/dev/null 2>&1 || true
for ((i = 1; i <= RUNS; i++)); do
	port_in_use "$CLOSED_PORT" && die "port $CLOSED_PORT started listening during the run"
	rc=0
	t0=$(now_us)
	SSHDOCTOR_CACHE=off "$SD" "${SD_ARGS[@]}" --output json "root@127.0.0.1:$CLOSED_PORT" >"$TMP/cc.json" 2>"$TMP/c.err" || rc=$?
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/cc.us"
	[[ $rc -eq 1 ]] || { bad "closed port, cache off: sshdoctor exited $rc (want 1)"; cat "$TMP/c.err" >&2; }
	rc=0
	t0=$(now_us)
	"$SD" "${SD_ARGS[@]}" --output json "root@127.0.0.1:$CLOSED_PORT" >"$TMP/c.json" 2>"$TMP/c.err" || rc=$?
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/c.us"
	[[ $rc -eq 1 ]] || { bad "closed port: sshdoctor exited $rc (want 1)"; cat "$TMP/c.err" >&2; }
	grep -q '"tcp.refused"' "$TMP/c.json" || { bad "closed port: no tcp.refused in JSON output"; cat "$TMP/c.json" >&2; }
	# OpenSSH against the same closed port, in the same round.
	rc=0
	t0=$(now_us)
	ssh -F none -o BatchMode=yes -o "UserKnownHostsFile=$KH" -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -i "$KEY" \
		-p "$CLOSED_PORT" root@127.0.0.1 true >/dev/null 2>&1 || rc=$?
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/cs.us"
	[[ $rc -eq 255 ]] || bad "closed port: ssh exited $rc (want 255)"
	# Process start-up alone.
	t0=$(now_us)
	"$SD" --version >/dev/null
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/v.us"
done

# ------------------------------------------------------ 6. filtered port --
ip netns add "$NS_C" && NS_C_MADE=1
ip netns add "$NS_S" && NS_S_MADE=1
# The veth pair is born inside the client namespace; its peer goes straight
# into the server namespace, so neither end ever exists in the host namespace.
ip -n "$NS_C" link add sdb-c type veth peer name sdb-s netns "$NS_S"
ip -n "$NS_C" addr add 198.51.100.1/24 dev sdb-c
ip -n "$NS_S" addr add 198.51.100.2/24 dev sdb-s
ip -n "$NS_C" link set lo up
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set sdb-c up
ip -n "$NS_S" link set sdb-s up
ip netns exec "$NS_S" nft add table inet f
ip netns exec "$NS_S" nft add chain inet f in '{ type filter hook input priority 0; }'
ip netns exec "$NS_S" nft add rule inet f in tcp dport 22 drop

: >"$TMP/f.us"
for ((i = 1; i <= FILTERED_RUNS; i++)); do
	rc=0
	t0=$(now_us)
	ip netns exec "$NS_C" "$SD" check -F none --timeout "$((FILTERED_TIMEOUT_MS / 1000))s" \
		-o "UserKnownHostsFile=$KH" -o GlobalKnownHostsFile=/dev/null -i "$KEY" \
		--output json root@198.51.100.2 >"$TMP/f.json" 2>"$TMP/f.err" || rc=$?
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/f.us"
	[[ $rc -eq 1 ]] || { bad "filtered port: sshdoctor exited $rc (want 1)"; cat "$TMP/f.err" >&2; }
	grep -q '"root_cause": "tcp.timeout"' "$TMP/f.json" ||
		{ bad "filtered port: root cause is not tcp.timeout"; cat "$TMP/f.json" >&2; }
done

# -------------------------------------------------------------- 7. report --
read -r A_MED A_P90 < <(stats "$TMP/a.us")
read -r B_MED B_P90 < <(stats "$TMP/b.us")
read -r E_MED E_P90 < <(stats "$TMP/e.us")
read -r C_MED C_P90 < <(stats "$TMP/c.us")
read -r CS_MED CS_P90 < <(stats "$TMP/cs.us")
read -r CC_MED CC_P90 < <(stats "$TMP/cc.us")
read -r V_MED V_P90 < <(stats "$TMP/v.us")
read -r F_MED F_P90 < <(stats "$TMP/f.us")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pf() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN {
	ok = (op == "le") ? (v <= lim) : (v < lim); print ok ? "pass" : "fail" }'; }
RATIO=$(ratio "$A_MED" "$B_MED")
FILTERED_TARGET=$((FILTERED_TIMEOUT_MS + 100))

echo "## sshdoctor check benchmark"
echo
echo "Date: $(date -u +%Y-%m-%d)  "
echo "Machine: nproc=$(nproc), kernel $(uname -r), $(ssh -V 2>&1), $(go version)"
echo
echo "| scenario | runs | median ms | p90 ms | target | pass/fail |"
echo "|---|---:|---:|---:|---|---|"
echo "| A: \`sshdoctor check\` (every layer and a session running \`true\`, its default) | $RUNS | $A_MED | $A_P90 | — | — |"
echo "| B: \`ssh … root@127.0.0.1 true\` (OpenSSH baseline) | $RUNS | $B_MED | $B_P90 | — | — |"
echo "| ratio A/B (median/median; p90/p90 in the p90 column) | $RUNS | $RATIO | $(ratio "$A_P90" "$B_P90") | ≤ 0.8 | $(pf "$RATIO" 0.8 le) |"
echo "| closed port → \`tcp.refused\`, exit 1 | $RUNS | $C_MED | $C_P90 | < 50 ms | $(pf "$C_MED" 50 lt) |"
echo "| closed port: \`ssh\` (OpenSSH baseline, exit 255) | $RUNS | $CS_MED | $CS_P90 | — | — |"
echo "| ratio closed port sshdoctor/ssh | $RUNS | $(ratio "$C_MED" "$CS_MED") | $(ratio "$C_P90" "$CS_P90") | ≤ 1.2 | $(pf "$(ratio "$C_MED" "$CS_MED")" 1.2 le) |"
echo "| \`sshdoctor --version\` (process start-up) | $RUNS | $V_MED | $V_P90 | < 10 ms | $(pf "$V_MED" 10 lt) |"
echo "| filtered port (\`--timeout $((FILTERED_TIMEOUT_MS / 1000))s\`) → \`tcp.timeout\`, exit 1 | $FILTERED_RUNS | $F_MED | $F_P90 | ≤ $FILTERED_TARGET ms | $(pf "$F_MED" "$FILTERED_TARGET" le) |"
echo
echo "Informational, no target — no session (\`--no-session\`: stops after authentication):"
echo
echo "| scenario | runs | median ms | p90 ms |"
echo "|---|---:|---:|---:|"
echo "| E: \`sshdoctor check --no-session\` | $RUNS | $E_MED | $E_P90 |"
echo "| ratio E/B | $RUNS | $(ratio "$E_MED" "$B_MED") | $(ratio "$E_P90" "$B_P90") |"
echo "| closed port, ssh -G cache off (\`SSHDOCTOR_CACHE=off\`: the first check after a config change) | $RUNS | $CC_MED | $CC_P90 |"
echo "| ratio closed port, cache off, sshdoctor/ssh | $RUNS | $(ratio "$CC_MED" "$CS_MED") | $(ratio "$CC_P90" "$CS_P90") |"
echo
echo "Per-layer duration_ms of one extra \`--output json\` run:"
echo
echo "- A: ${LAYERS_A:-n/a}"
echo "- E: ${LAYERS_E:-n/a}"
echo "- key exchange negotiated: sshdoctor ${KEX_SD:-?}, ssh ${KEX_SSH:-?}"
echo
if [[ $BAD -ne 0 ]]; then
	echo "**$BAD run(s) exited with the wrong status or verdict (see stderr).**"
	exit 1
fi
echo "All runs exited with the expected status and verdict."
