#!/bin/sh
# sshdoctor remote facts (run by `sshdoctor azure guest-check` through the
# cloud's run-command, as root). Read-only: it changes nothing on the VM.
# It prints the facts `sshdoctor guest check` judges, one per line,
# TAB-separated, gzip+base64 when available (run-command keeps only the
# last 4096 bytes of output). Never prints a password hash or a key.
# USERS and PORT are set by sshdoctor above this text.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 077
T=$(printf '\t')
SSHD=/usr/sbin/sshd
sshd_pids() {
	for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = sshd ] && { d=${c%/comm}; echo "${d#/proc/}"; }
	done
}
facts() {
	echo "F${T}sdfacts1"
	if [ -x "$SSHD" ]; then echo "bin${T}1"; else echo "bin${T}0"; fi
	echo "v${T}$($SSHD -V 2>&1 | head -n 1)"
	for p in $(sshd_pids); do echo "pid${T}$p"; done
	out=$($SSHD -t 2>&1); rc=$?
	echo "t${T}$rc${T}$(printf '%s' "$out" | head -n 3 | tr '\n\t' '  ')"
	keys='^(port|listenaddress|permitrootlogin|passwordauthentication|pubkeyauthentication|kbdinteractiveauthentication|authorizedkeysfile|allowusers|denyusers|allowgroups|denygroups|strictmodes|maxstartups|pubkeyacceptedalgorithms|hostkey|usepam|authenticationmethods|logingracetime) '
	[ "$rc" = 0 ] && $SSHD -T 2>/dev/null | grep -E "$keys" | sed "s/^/T${T}/"
	# Listening TCP sockets: port, and whether sshd owns the socket.
	inodes=" "
	for p in $(sshd_pids); do
		for fd in /proc/$p/fd/*; do
			l=$(readlink "$fd" 2>/dev/null) || continue
			case $l in socket:*) inodes="$inodes$(echo "$l" | tr -dc 0-9) " ;; esac
		done
	done
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v ino="$inodes" -v t="$T" '$4 == "0A" {
		n = split($2, a, ":"); port = sprintf("%d", "0x" a[n]); own = (index(ino, " " $10 " ") > 0) ? 1 : 0
		print "L" t port t a[1] t own }'
	[ -d /run/sshd ] && echo "privsep${T}1" || echo "privsep${T}0"
	getent passwd sshd >/dev/null 2>&1 && echo "privuser${T}1" || echo "privuser${T}0"
	for k in $($SSHD -T 2>/dev/null | awk '$1 == "hostkey" {print $2}') /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key; do
		[ -r "$k" ] && echo "hk${T}$k"
	done
	for p in / /var /var/log /run /home /tmp; do
		[ -e "$p" ] && echo "df${T}$p${T}$(timeout 2 stat -c %d "$p" 2>/dev/null)${T}$(timeout 2 stat -f -c '%b	%a	%S	%c	%d' "$p" 2>/dev/null)"
	done
	[ -e /etc/nologin ] && echo "nologin${T}1"
	[ -f /etc/hosts.deny ] && grep -nvE '^[[:space:]]*(#|$)' /etc/hosts.deny | sed "s/^/hd${T}/"
	# The ruleset as guest check parses it; a large one (container hosts)
	# is cut to its tables, chains, hooks, sets and port rules.
	if command -v nft >/dev/null; then
		rs=$(nft -a list ruleset 2>/dev/null)
		if [ "$(printf '%s\n' "$rs" | wc -l)" -gt 300 ]; then
			rs=$(printf '%s\n' "$rs" | grep -E '^[[:space:]]*(table|chain|set|elements|type|policy|\}) |^[[:space:]]*\}|dport|jump|goto')
		fi
		printf '%s\n' "$rs" | sed "s/^/fw${T}/"
	fi
	command -v systemctl >/dev/null && [ -d /run/systemd/system ] && echo "mgr${T}systemd"
	today=$(( $(date +%s) / 86400 ))
	uidmin=$(awk '$1 == "UID_MIN" {print $2}' /etc/login.defs 2>/dev/null)
	[ -n "$USERS" ] || echo "auto${T}1"
	[ -n "$USERS" ] || USERS=$(awk -F: -v m="${uidmin:-1000}" '$3 >= m && $3 != 65534 && $6 != "" && $6 != "/nonexistent" {print $1}' /etc/passwd)
	for u in $USERS; do
		pw=$(getent passwd "$u") || { echo "u${T}$u${T}0"; continue; }
		home=$(echo "$pw" | cut -d: -f6); shell=$(echo "$pw" | cut -d: -f7)
		uid=$(echo "$pw" | cut -d: -f3); gid=$(echo "$pw" | cut -d: -f4)
		shok=0; case $(basename "${shell:-x}") in nologin|false) ;; *) [ -x "$shell" ] && shok=1 ;; esac
		# shadow: lock flag, whether there is a password, expiry: never the hash
		sh=$(awk -F: -v u="$u" -v d="$today" '$1 == u {
			h = $2; lk = (substr(h, 1, 1) == "!") ? 1 : 0; sub(/^!+/, "", h)
			haspw = (substr(h, 1, 1) == "$" || (length(h) == 13 && h !~ /[*!]/)) ? 1 : 0
			ax = ($8 != "" && $8 + 0 >= 0 && $8 + 0 <= d) ? 1 : 0
			px = ($3 == "0" || ($3 != "" && $5 != "" && $5 + 0 < 99999 && $3 + $5 < d)) ? 1 : 0
			print lk "\t" haspw "\t" ax "\t" px }' /etc/shadow)
		[ -n "$sh" ] || sh="0${T}0${T}0${T}0"
		echo "u${T}$u${T}1${T}$uid${T}$gid${T}$home${T}$shell${T}$shok${T}$sh"
		echo "ug${T}$u${T}$(id -Gn "$u" 2>/dev/null | tr ' ' ,)${T}$(awk -F: -v g="$gid" -v u="$u" '$3 == g && $1 == u && ($4 == "" || $4 == u) {print 1}' /etc/group)"
		akf=".ssh/authorized_keys .ssh/authorized_keys2"; strict=yes
		if [ "$rc" = 0 ]; then
			ut=$($SSHD -T -C "user=$u,host=client,addr=203.0.113.10" 2>/dev/null | grep -E "$keys")
			printf '%s\n' "$ut" | sed "s/^/uT${T}$u${T}/"
			a=$(printf '%s\n' "$ut" | awk '$1 == "authorizedkeysfile" {$1 = ""; print}')
			[ -n "$a" ] && akf=$a
			[ "$(printf '%s\n' "$ut" | awk '$1 == "strictmodes" {print $2}')" = no ] && strict=no
		fi
		for f in $akf; do
			[ "$f" = none ] && continue
			f=$(echo "$f" | sed -e "s|%h|$home|g" -e "s|%u|$u|g" -e "s|%U|$uid|g" -e 's|%%|%|g')
			case $f in /*) ;; *) f="$home/$f" ;; esac
			if [ -f "$f" ]; then
				types=$(awk '!/^[[:space:]]*(#|$)/ { for (i = 1; i <= NF; i++) if ($i ~ /^(ssh-|ecdsa-|sk-|rsa-sha2)/ && $(i+1) ~ /^AAAA/) { printf "%s,", $i; next } bad++ } END { printf "\t%d", bad + 0 }' "$f")
				echo "kf${T}$u${T}$f${T}1${T}$types"
				if [ "$strict" = yes ]; then
					p=$f
					while :; do
						echo "st${T}$u${T}$p${T}$(stat -c '%a	%u	%g' "$p" 2>/dev/null)"
						[ "$p" = "$home" ] || [ "$p" = / ] && break
						p=$(dirname "$p")
					done
				fi
			else
				echo "kf${T}$u${T}$f${T}0${T}${T}0"
			fi
		done
	done
	echo "E${T}end"
}
if command -v gzip >/dev/null && command -v base64 >/dev/null; then
	echo "SDGZ:$(facts | gzip -9 -c | base64 | tr -d '\n')"
else
	facts
fi
