#!/usr/bin/env bash
# make demo: sshdoctor check against real OpenSSH servers on loopback, each
# broken in a different way. (The lab of namespaced VMs replaces this with
# full VMs, cloud firewall and repairs when it lands.)
set -euo pipefail
bin=$(readlink -f "${1:-bin/sshdoctor}")
tmp=$(mktemp -d /tmp/sshdoctor-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

# start_sshd NAME [extra sshd_config lines...]: sets $port. Not called in
# $(...): the subshell would lose the PID and wait on sshd's stdout.
start_sshd() {
	local name=$1; shift
	local d=$tmp/$name
	mkdir -p "$d"
	port=$(free_port)
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$d/host_rsa"
	{
		printf '%s\n' "$@"
		cat <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $d/host_ed25519
HostKey $d/host_rsa
PidFile $d/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
CFG
	} > "$d/sshd_config"
	/usr/sbin/sshd -D -e -f "$d/sshd_config" >/dev/null 2>>"$d/log" &
	pids+=($!)
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
}

ssh-keygen -q -t ed25519 -N '' -C demo-key -f "$tmp/id_demo"
ssh-keygen -q -t ed25519 -N '' -C other-key -f "$tmp/id_other"
cp "$tmp/id_demo.pub" "$tmp/authorized_keys"

start_sshd healthy
healthy=$port
start_sshd legacy "HostKeyAlgorithms ssh-rsa"
legacy=$port
kh=$tmp/known_hosts
echo "[127.0.0.1]:$healthy $(cat "$tmp/healthy/host_ed25519.pub")" > "$kh"
closed=$(free_port)

check() {
	echo
	echo "================================================================"
	echo "== $1"
	echo "== \$ sshdoctor check ${*:2}"
	echo "================================================================"
	SSH_AUTH_SOCK= "$bin" check -F none -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null "${@:2}" && rc=0 || rc=$?
	echo "(exit status $rc)"
}

check "A healthy server: every layer passes" -i "$tmp/id_demo" --exec 'uname -sr' "root@127.0.0.1:$healthy"
check "The wrong key" -i "$tmp/id_other" "root@127.0.0.1:$healthy"
check "Nothing listens on the port" "root@127.0.0.1:$closed"
check "A server that only offers an ssh-rsa (SHA-1) host key" -i "$tmp/id_demo" "root@127.0.0.1:$legacy"
check "...and with the fix sshdoctor suggested" -i "$tmp/id_demo" -o HostKeyAlgorithms=+ssh-rsa "root@127.0.0.1:$legacy"
echo "[127.0.0.1]:$healthy $(cat "$tmp/legacy/host_ed25519.pub")" > "$kh"
check "The host key changed (VM rebuilt, or a man in the middle)" -i "$tmp/id_demo" "root@127.0.0.1:$healthy"
