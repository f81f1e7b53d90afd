#!/usr/bin/env bash
# Installs what sshdoctor's build, tests, demo and benchmarks need on Debian,
# only what is missing; `apt-get update` runs at most once. Prints the go
# binary to use on its last line.
set -euo pipefail

need=()
for pkg in openssh-server openssh-client iproute2 nftables sudo perl ca-certificates git; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "deps: installing ${need[*]}" >&2
	# policy-rc.d keeps apt from starting the host's own sshd service: the
	# project only ever runs sshd on loopback or inside its own namespaces.
	created_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		created_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
	[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
# sshd refuses to start without its privilege-separation directory.
[ -d /run/sshd ] || install -d -m 0755 /run/sshd

# Go: the one on PATH, else the machine's /usr/local/go. Debian 12's own
# golang-go (1.19) is too old for this module.
go_bin=$(command -v go || true)
[ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go
if [ -z "$go_bin" ]; then
	echo "deps: no Go toolchain found; install Go >= 1.26 (https://go.dev/doc/install) into /usr/local/go" >&2
	exit 1
fi
echo "$go_bin"
