#!/usr/bin/env bash
# bench/lab.sh — benchmark of `sshdoctor lab`: wall time of `lab up --vms 20`,
# memory per VM with 20 VMs up, and wall time of `lab break` / `lab heal` for
# a network fault (nsg-deny-ssh) and a guest fault (authorized-keys-missing).
#
# Usage: bash bench/lab.sh        (must be run as root; also run by `make bench`)
#
# Everything it touches is its own: a temp dir (/tmp/sdlabbench.XXXXXX) holding
# the sshdoctor binary it builds and the lab state (SSHDOCTOR_LAB_DIR points
# inside it, never at /var/lib/sshdoctor/lab), and the lab's namespaces
# (sdlab-client, sdlab-router, sdlab-vm-web1..20). The lab keeps all traffic in
# its own namespaces; the host's /etc/ssh, users and firewall are not touched.
# The EXIT trap runs `sshdoctor lab down` and, should that fail, kills what is
# left in the lab's own namespaces by PID, deletes those namespaces and
# removes the temp dir, also on failure or interrupt.
#
# Exit status: 0 if every assertion held (a missed target is reported as
# "fail" in the table but does not change the exit status), 1 if an assertion
# failed (a lab command failed, or a check that must succeed did not), 2 on a
# setup error (not root, build failed, another lab's namespaces present).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as the decimal separator

VMS=20
UP_RUNS=3
FAULT_RUNS=5
NAME=web
NET_FAULT=nsg-deny-ssh
GUEST_FAULT=authorized-keys-missing
UP_TARGET_MS=10000
FAULT_TARGET_MS=1000
MEM_TARGET_MB=50

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

T_START=$EPOCHSECONDS
log() { echo "bench/lab.sh: [$((EPOCHSECONDS - T_START))s] $*" >&2; }
die() { echo "bench/lab.sh: $*" >&2; exit 2; }
fatal() { echo "bench/lab.sh: ASSERTION FAILED: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the lab needs network, mount and PID namespaces)"
for tool in ip go unshare nsenter nft ss awk; do
	command -v "$tool" >/dev/null || die "$tool not found in PATH"
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $SSHD ]] || die "sshd not found"

# The lab's namespace names are fixed (sdlab-*), so only one lab can run on a
# machine at a time. Never touch someone else's.
lab_namespaces() { ip netns list | awk '$1 ~ /^sdlab-/ { print $1 }'; }
if [[ -n $(lab_namespaces) ]]; then
	die "sdlab-* namespaces exist already (another lab is up): $(lab_namespaces | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- cleanup --
TMP=""
SD=""
LAB_OWNED=0 # 1 while namespaces named sdlab-* may be ours

# Our lab's namespaces, by name (never a pattern that could match another lab).
our_namespaces() {
	echo sdlab-client
	echo sdlab-router
	for ((i = 1; i <= VMS; i++)); do echo "sdlab-vm-$NAME$i"; done
}

cleanup() {
	local rc=$? ns pid
	set +e
	trap - INT TERM
	if [[ $LAB_OWNED -eq 1 ]]; then
		if [[ -f $SSHDOCTOR_LAB_DIR/state.json ]]; then
			"$SD" lab down >/dev/null 2>&1 || echo "bench/lab.sh: lab down failed; removing what is left by hand" >&2
		fi
		# Fallback, only for our own namespaces: kill what still runs in
		# them by PID (the VM's unshare takes its PID namespace with it).
		for ns in $(our_namespaces); do
			ip netns list | awk '{ print $1 }' | grep -qx -- "$ns" || continue
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
			ip netns del "$ns" 2>/dev/null || echo "bench/lab.sh: could not delete namespace $ns" >&2
		done
	fi
	if [[ -n $TMP && -d $TMP ]]; then
		rm -rf -- "$TMP" || echo "bench/lab.sh: could not remove $TMP" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/sdlabbench.XXXXXX)
export SSHDOCTOR_LAB_DIR="$TMP/lab" # never the default /var/lib/sshdoctor/lab
unset SSH_AUTH_SOCK
OUT="$TMP/out" # output of the last lab command (shown on failure)

# ---------------------------------------------------------------- helpers --
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# stats FILE -> "median min max" in ms with one decimal (one µs value a line).
# Median: the middle value (mean of the two middle values for an even count).
stats() {
	sort -n "$1" | awk '
		{ v[NR] = $1 }
		END {
			n = NR
			if (n % 2) med = v[(n + 1) / 2]; else med = (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", med / 1000, v[1] / 1000, v[n] / 1000
		}'
}
# samples FILE -> "a, b, c" in ms, in the order they were taken.
samples() { awk '{ printf "%s%.1f", sep, $1 / 1000; sep = ", " }' "$1"; }
pf_lt() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v < lim) ? "pass" : "fail" }'; }

# timed FILE -- CMD...: run CMD, append its wall time in µs to FILE; a
# failing lab command is an assertion failure (the lab is unusable after it).
timed() {
	local file=$1 t0 t1 rc=0 cmd
	shift 2
	cmd="$*"
	t0=$(now_us)
	"$@" >"$OUT" 2>&1 || rc=$?
	t1=$(now_us)
	if [[ $rc -ne 0 ]]; then
		cat "$OUT" >&2
		fatal "\`sshdoctor ${cmd#"$SD "}\` exited $rc"
	fi
	echo $((t1 - t0)) >>"$file"
}

BAD=0 # number of failed checks
bad() { BAD=$((BAD + 1)); echo "ASSERTION FAILED: $*" >&2; }

# check_ok VM: `sshdoctor check lab-VM` from the client namespace must exit 0.
check_ok() {
	local rc=0
	"$SD" lab client -- sshdoctor check "lab-$1" >"$TMP/check.out" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		bad "sshdoctor check lab-$1 exited $rc (want 0)"
		cat "$TMP/check.out" >&2
		return 1
	fi
}

# check_broken VM CAUSE: the fault took effect — check exits 1 with root cause CAUSE.
check_broken() {
	local rc=0
	"$SD" lab client -- sshdoctor check --timeout 1s --output json "lab-$1" >"$TMP/broken.json" 2>"$TMP/broken.err" || rc=$?
	if [[ $rc -ne 1 ]] || ! grep -q "\"root_cause\": \"$2\"" "$TMP/broken.json"; then
		bad "after break: sshdoctor check lab-$1 exited $rc, want 1 with root cause $2"
		cat "$TMP/broken.json" "$TMP/broken.err" >&2
		return 1
	fi
}

# -------------------------------------------------------------- 0. build --
log "building ./cmd/sshdoctor"
(cd "$REPO" && go build -o "$TMP/sshdoctor" ./cmd/sshdoctor) || die "go build failed"
SD="$TMP/sshdoctor"

# -------------------------------------------------- 1. lab up --vms 20 ---
: >"$TMP/up.us"
: >"$TMP/down.us" # informational: lab down of 20 VMs (no target)
for ((run = 1; run <= UP_RUNS; run++)); do
	[[ -z $(lab_namespaces) ]] || fatal "sdlab-* namespaces left before up #$run: $(lab_namespaces | tr '\n' ' ')"
	log "lab up --vms $VMS ($run/$UP_RUNS)"
	LAB_OWNED=1
	timed "$TMP/up.us" -- "$SD" lab up --vms "$VMS" --name "$NAME"
	if [[ $run -lt $UP_RUNS ]]; then
		timed "$TMP/down.us" -- "$SD" lab down
		[[ -z $(lab_namespaces) ]] || fatal "lab down left namespaces: $(lab_namespaces | tr '\n' ' ')"
		[[ ! -e $SSHDOCTOR_LAB_DIR ]] || fatal "lab down left $SSHDOCTOR_LAB_DIR"
		LAB_OWNED=0
	fi
done
# The last lab stays up for everything below.
log "measuring memory"

# ------------------------------------------------ 2. memory per VM -------
# Every process in the VM's network namespace: the unshare that holds the
# VM's PID namespace, the VM's init (sshdoctor lab vm-init) and sshd.
HAVE_PSS=0
[[ -r /proc/self/smaps_rollup ]] && HAVE_PSS=1
: >"$TMP/mem.kb"        # per VM: "name nprocs rss_kB pss_kB"
: >"$TMP/mem_comm.kb"   # per process: "comm rss_kB pss_kB"
for ((i = 1; i <= VMS; i++)); do
	ns="sdlab-vm-$NAME$i"
	rss=0 pss=0 n=0
	for pid in $(ip netns pids "$ns"); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		[[ -n $r ]] || continue # gone, or a kernel thread
		p=0
		if [[ $HAVE_PSS -eq 1 ]]; then
			p=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
			p=${p:-0}
		fi
		comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')
		echo "$comm $r $p" >>"$TMP/mem_comm.kb"
		rss=$((rss + r)) pss=$((pss + p)) n=$((n + 1))
	done
	[[ $n -gt 0 ]] || bad "no process found in namespace $ns"
	echo "$NAME$i $n $rss $pss" >>"$TMP/mem.kb"
done
# mem_stats COLUMN -> "mean max" in MB (MiB) with one decimal.
mem_stats() {
	awk -v c="$1" '{ s += $c; if ($c > m) m = $c } END { printf "%.1f %.1f\n", s / NR / 1024, m / 1024 }' "$TMP/mem.kb"
}
read -r RSS_MEAN RSS_MAX < <(mem_stats 3)
read -r PSS_MEAN PSS_MAX < <(mem_stats 4)
PROCS_PER_VM=$(awk '{ print $2 }' "$TMP/mem.kb" | sort -n | uniq | tr '\n' '/' | sed 's:/$::')
COMM_BREAKDOWN=$(sort "$TMP/mem_comm.kb" | awk '
	{ n[$1]++; r[$1] += $2; p[$1] += $3 }
	END { for (c in n) printf "%s×%d RSS %.1f / PSS %.1f MB each; ", c, n[c], r[c] / n[c] / 1024, p[c] / n[c] / 1024 }' |
	sed 's/; $//')

# --------------------------------------- 3. the last VM answers over SSH --
log "checking lab-$NAME$VMS"
WEB_LAST_OK=pass
check_ok "$NAME$VMS" || WEB_LAST_OK=FAIL

# --------------------------------------------------- 4. break / heal -----
# fault_runs FAULT TAG CAUSE: FAULT_RUNS times break web1 FAULT and heal it,
# each timed; after each heal (untimed) `sshdoctor check lab-web1` must exit
# 0. After the first break (untimed) check must report CAUSE, so the timings
# are of a break that took effect.
declare -A HEAL_OK
fault_runs() {
	local fault=$1 tag=$2 cause=$3 run ok=0
	log "break/heal $fault, $FAULT_RUNS runs"
	: >"$TMP/$tag-break.us"
	: >"$TMP/$tag-heal.us"
	for ((run = 1; run <= FAULT_RUNS; run++)); do
		timed "$TMP/$tag-break.us" -- "$SD" lab break "${NAME}1" "$fault"
		if [[ $run -eq 1 ]]; then check_broken "${NAME}1" "$cause" || true; fi
		timed "$TMP/$tag-heal.us" -- "$SD" lab heal "${NAME}1"
		check_ok "${NAME}1" && ok=$((ok + 1))
	done
	HEAL_OK[$tag]=$ok
}
fault_runs "$NET_FAULT" net tcp.timeout
fault_runs "$GUEST_FAULT" guest auth.publickey_rejected

# ----------------------------------------------------------- 5. teardown --
log "lab down"
DOWN_RC=0
t0=$(now_us)
"$SD" lab down >"$OUT" 2>&1 || DOWN_RC=$?
echo $(($(now_us) - t0)) >>"$TMP/down.us"
if [[ $DOWN_RC -ne 0 ]]; then
	cat "$OUT" >&2
	bad "final lab down exited $DOWN_RC"
elif [[ -n $(lab_namespaces) ]]; then
	bad "lab down left namespaces: $(lab_namespaces | tr '\n' ' ')"
else
	LAB_OWNED=0
fi

# -------------------------------------------------------------- 6. report --
read -r UP_MED UP_MIN UP_MAX < <(stats "$TMP/up.us")
read -r NB_MED NB_MIN NB_MAX < <(stats "$TMP/net-break.us")
read -r NH_MED NH_MIN NH_MAX < <(stats "$TMP/net-heal.us")
read -r GB_MED GB_MIN GB_MAX < <(stats "$TMP/guest-break.us")
read -r GH_MED GH_MIN GH_MAX < <(stats "$TMP/guest-heal.us")
read -r DN_MED DN_MIN DN_MAX < <(stats "$TMP/down.us")
ok_of() { [[ $1 -eq $2 ]] && echo pass || echo FAIL; }

echo "## sshdoctor lab benchmark"
echo
echo "Date: $(date -u +%Y-%m-%d)  "
echo "Machine: nproc=$(nproc), kernel $(uname -r), $("$SSHD" -V 2>&1 | head -1 || true), $(go version)"
echo "Host PID 1: $(cat /proc/1/comm 2>/dev/null || echo '?') (it reaps the orphaned init of a killed VM)"
echo
echo "| scenario | runs | median (memory: mean / max per VM) | target | pass/fail |"
echo "|---|---:|---:|---|---|"
echo "| \`lab up --vms $VMS\` (wall time, \`lab down\` between runs) | $UP_RUNS | $UP_MED ms | < $((UP_TARGET_MS / 1000)) s | $(pf_lt "$UP_MED" "$UP_TARGET_MS") |"
if [[ $HAVE_PSS -eq 1 ]]; then
	echo "| memory per VM, **PSS** (headline), $VMS VMs up | $VMS VMs | $PSS_MEAN / $PSS_MAX MB | < $MEM_TARGET_MB MB | $(pf_lt "$PSS_MAX" "$MEM_TARGET_MB") |"
fi
echo "| memory per VM, RSS (shared pages counted in full in every process), $VMS VMs up | $VMS VMs | $RSS_MEAN / $RSS_MAX MB | < $MEM_TARGET_MB MB | $(pf_lt "$RSS_MAX" "$MEM_TARGET_MB") |"
echo "| \`lab client -- sshdoctor check lab-$NAME$VMS\` exits 0 after up | 1 | — | exit 0 | $WEB_LAST_OK |"
echo "| \`lab break ${NAME}1 $NET_FAULT\` (network) | $FAULT_RUNS | $NB_MED ms | < $FAULT_TARGET_MS ms | $(pf_lt "$NB_MED" "$FAULT_TARGET_MS") |"
echo "| \`lab heal ${NAME}1\` after $NET_FAULT | $FAULT_RUNS | $NH_MED ms | < $FAULT_TARGET_MS ms | $(pf_lt "$NH_MED" "$FAULT_TARGET_MS") |"
echo "| \`lab break ${NAME}1 $GUEST_FAULT\` (guest) | $FAULT_RUNS | $GB_MED ms | < $FAULT_TARGET_MS ms | $(pf_lt "$GB_MED" "$FAULT_TARGET_MS") |"
echo "| \`lab heal ${NAME}1\` after $GUEST_FAULT (restore snapshot, reboot) | $FAULT_RUNS | $GH_MED ms | < $FAULT_TARGET_MS ms | $(pf_lt "$GH_MED" "$FAULT_TARGET_MS") |"
echo "| \`sshdoctor check lab-${NAME}1\` exits 0 after every heal | $((2 * FAULT_RUNS)) | — | exit 0 | $(ok_of $((HEAL_OK[net] + HEAL_OK[guest])) $((2 * FAULT_RUNS))) |"
echo "| \`lab down\` of $VMS VMs (informational) | $(wc -l <"$TMP/down.us") | $DN_MED ms | — | — |"
echo
echo "Samples, ms, in run order (min–max):"
echo
echo "- lab up: $(samples "$TMP/up.us") ($UP_MIN–$UP_MAX)"
echo "- break $NET_FAULT: $(samples "$TMP/net-break.us") ($NB_MIN–$NB_MAX)"
echo "- heal after $NET_FAULT: $(samples "$TMP/net-heal.us") ($NH_MIN–$NH_MAX)"
echo "- break $GUEST_FAULT: $(samples "$TMP/guest-break.us") ($GB_MIN–$GB_MAX)"
echo "- heal after $GUEST_FAULT: $(samples "$TMP/guest-heal.us") ($GH_MIN–$GH_MAX)"
echo "- lab down: $(samples "$TMP/down.us") ($DN_MIN–$DN_MAX)"
echo
echo "Memory: processes per VM: $PROCS_PER_VM; per process: $COMM_BREAKDOWN."
if [[ $HAVE_PSS -eq 1 ]]; then
	echo "PSS is the headline: RSS counts the pages all VMs share (the text of the"
	echo "sshdoctor binary, sshd, libc) in full in every process, PSS divides each"
	echo "shared page among the processes that map it, so PSS summed over the VMs is"
	echo "what they really use. MB = MiB. Kernel memory (namespaces, nftables,"
	echo "sockets) and page cache are in neither."
else
	echo "/proc/PID/smaps_rollup is missing on this kernel: only RSS, which counts"
	echo "shared pages (sshdoctor/sshd text, libc) in full in every process."
fi
echo
if [[ $BAD -ne 0 ]]; then
	echo "**$BAD assertion(s) failed (see stderr).**"
	exit 1
fi
echo "All assertions held."
