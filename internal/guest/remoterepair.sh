#!/bin/sh
# sshdoctor remote repair: the changes `sshdoctor guest repair` would make,
# for a VM sshdoctor is not installed on, sent through the cloud's
# run-command and run as root by sh. RemoteRepairScript (remoterepair.go)
# appends PORT, RESTART and one sd_act line per action (values single-
# quoted) to these functions; ParseRemoteRepair reads the report.
#
# Transaction, as guest.Apply: one run at a time (busy otherwise), every
# path saved before its first change into one backup set under
# /var/backups/sshdoctor (manifest.json as guest.Backup writes it, so
# `sshdoctor guest restore` can restore it), every line edit refused when
# the line no longer reads as the facts said, then sshd -t, a restart
# through the service manager and a wait until sshd listens again; if
# anything fails, every saved path is put back and sshd restarted on its
# old configuration.
#
# Report, on stdout only (run-command keeps the last 4096 bytes of it; the
# commands' own output goes to stderr), TAB-separated:
#   R sdrepair1                 header
#   B DIR                       the backup set
#   A INDEX ok|fail|skip [MSG]  one per action (skip: not attempted after a failure)
#   S validated                 sshd -t passed
#   S restarted                 sshd was restarted (and is waited for)
#   S norestart                 nothing needed a restart (or a reboot will do it)
#   S rolledback [WHY]          everything saved was put back
#   S busy LOCK [PID]           another run holds LOCK: nothing was changed
#   S error MSG                 no backup set could be made: nothing was changed
#   X MSG                       a path the rollback could not put back
#   E end                       the run finished (no E: it was cut or killed)
#
# Links: the local repair walks paths a user controls with openat2
# (RESOLVE_NO_SYMLINKS) and acts on descriptors; sh cannot. Here every
# component under a home is tested with [ -L ] right before the change,
# files are replaced by rename in their own directory (never written
# through their name), chown -h is used, a file with other hard links that
# the user does not own is refused. A user racing a swap between the test
# and the change is not excluded the way descriptors exclude it.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
umask 077
set -f
exec 3>&1 1>&2
T=$(printf '\t')
US=$(printf '\037') # manifest.tsv's separator: not whitespace to read, never in a path
SSHD=/usr/sbin/sshd
LOCK=/run/sshdoctor-remote.lock
SETS=/var/backups/sshdoctor
LOCKED=
FAILED=
SET=
MSG=
TMP=
NSAVED=0

say() { printf '%s\n' "$*" >&3; }

# oneline: $1 on one line, at most 200 bytes (the report must stay small).
oneline() { printf '%s' "$1" | tr '\n\t' '  ' | cut -c 1-200; }

cleanup() {
	[ -n "$TMP" ] && rm -f "$TMP"
	[ -n "$LOCKED" ] && rm -rf "$LOCK"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# lock: one run at a time. mkdir is atomic; a lock whose run is gone (it
# was killed: its pid is not alive) is taken over by renaming it, which
# only one run can do. A local sshdoctor guest run holds flock on
# /run/sshdoctor-guest.lock: taken too where flock(1) exists.
lock() {
	if ! mkdir "$LOCK" 2>/dev/null; then
		lk_pid=$(cat "$LOCK/pid" 2>/dev/null)
		if [ -z "$lk_pid" ] || kill -0 "$lk_pid" 2>/dev/null; then
			MSG="$LOCK$T$lk_pid"
			return 1
		fi
		mv "$LOCK" "$LOCK.stale.$$" 2>/dev/null && rm -rf "$LOCK.stale.$$"
		if ! mkdir "$LOCK" 2>/dev/null; then
			MSG=$LOCK
			return 1
		fi
	fi
	LOCKED=1
	echo $$ >"$LOCK/pid"
	if command -v flock >/dev/null 2>&1; then
		exec 9>>/run/sshdoctor-guest.lock
		if ! flock -n 9; then
			MSG=/run/sshdoctor-guest.lock
			return 1
		fi
	fi
}

# ident PATH: "dev ino type uid" of PATH itself (not followed), "-" if none.
ident() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		set -- $(stat -c '%d %i %f %u' "$1" 2>/dev/null)
		[ -n "$4" ] || { echo -; return; }
		echo "$1 $2 $(ftype "$3") $4"
	else
		echo -
	fi
}

# ftype RAWMODE (hex, stat %f): the type as guest.Backup names it.
ftype() {
	case $(($(printf '%d' "0x$1") & 61440)) in
	32768) echo file ;; 16384) echo directory ;; 40960) echo symlink ;;
	4096) echo fifo ;; 49152) echo socket ;; 8192 | 24576) echo device ;;
	*) echo unknown ;;
	esac
}

# userctl PATH: 1 if someone other than root can change the entries of a
# directory on PATH's way (restore then checks identities), else 0.
userctl() {
	uc_d=${1%/*}
	while :; do
		[ -n "$uc_d" ] || uc_d=/
		set -- $(stat -c '%u %a' "$uc_d" 2>/dev/null)
		if [ "${1:-1}" != 0 ] || [ $((0${2:-2} & 18)) != 0 ]; then
			echo 1
			return
		fi
		[ "$uc_d" = / ] && break
		uc_d=${uc_d%/*}
	done
	echo 0
}

# manifest: manifest.json from manifest.tsv (guest.Manifest's layout).
manifest() {
	awk -F "$US" -v created="$CREATED" '
	function js(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
	function id(dev, ino, type, uid) { return "{\"dev\": " dev ", \"ino\": " ino ", \"type\": " js(type) ", \"uid\": " uid "}" }
	function perm(a,    n, i) { n = 0; a = substr(a, length(a) > 3 ? length(a) - 2 : 1); for (i = 1; i <= length(a); i++) n = n * 8 + substr(a, i, 1); return n }
	BEGIN { printf "{\n  \"created\": %s,\n  \"command\": \"sshdoctor remote repair (run-command)\",\n  \"entries\": [", js(created) }
	{
		printf "%s\n    {\"path\": %s, \"stored\": %s, \"existed\": %s, \"mode\": %d, \"uid\": %d, \"gid\": %d", (NR > 1 ? "," : ""), js($1), js($2), $3 ? "true" : "false", $3 ? perm($4) : 0, $5, $6
		if ($3) printf ", \"before\": %s", id($7, $8, $9, $10)
		if ($12 != "" && $12 != "-") printf ", \"after\": %s", id($12, $13, $14, $15)
		printf ", \"sealed\": %s, \"user_controlled\": %s}", $11 ? "true" : "false", $16 ? "true" : "false"
	}
	END { printf "\n  ]\n}\n" }' "$SET/manifest.tsv" >"$SET/.manifest.json.tmp" &&
		mv -f "$SET/.manifest.json.tmp" "$SET/manifest.json"
}

# begin_set: the backup set appears under its name only with its manifest
# (a hidden temporary first, as guest.NewBackup makes it; a local run's
# sweep removes one a kill left).
begin_set() {
	CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	stamp=$(date -u +%Y%m%dT%H%M%SZ)-remote
	[ -L "$SETS" ] && { MSG="$SETS is a symbolic link: not writing backups through it"; return 1; }
	mkdir -p "$SETS" || { MSG="cannot create $SETS"; return 1; }
	[ -e "$SETS/$stamp" ] && stamp=$stamp-$$
	SET=$SETS/.$stamp.sshdoctor-set
	mkdir "$SET" && : >"$SET/manifest.tsv" && manifest && mv "$SET" "$SETS/$stamp" || {
		MSG="cannot create the backup set $SETS/$stamp"
		return 1
	}
	SET=$SETS/$stamp
	say "B${T}$SET"
}

# save PATH: record PATH's content (a file), owner and mode (a directory)
# or absence before its first change.
save() {
	grep -qxF "$1" "$SET/saved" 2>/dev/null && return 0
	sv_p=$1
	if [ -L "$sv_p" ]; then
		MSG="$sv_p is a symbolic link: not touching it"
		return 1
	fi
	sv_uc=$(userctl "$sv_p")
	sv_stored=
	if [ -e "$sv_p" ]; then
		set -- $(stat -c '%a %u %g %d %i %f' "$sv_p")
		sv_type=$(ftype "$6")
		case $sv_type in
		file)
			sv_stored=$(printf '%03d-%s' "$NSAVED" "${sv_p##*/}")
			if ! cp -p "$sv_p" "$SET/$sv_stored"; then
				MSG="back up $sv_p: cp failed"
				return 1
			fi
			;;
		directory) ;;
		*)
			MSG="back up $sv_p: a $sv_type, not a file or directory: not touching it"
			return 1
			;;
		esac
		sv_line="$sv_p$US$sv_stored${US}1$US$1$US$2$US$3$US$4$US$5$US$sv_type$US$2${US}0$US$US$US$US$US$sv_uc"
	else
		sv_line="$sv_p$US${US}0${US}0${US}0${US}0$US$US$US$US${US}0$US$US$US$US$US$sv_uc"
	fi
	printf '%s\n' "$sv_line" >>"$SET/manifest.tsv"
	printf '%s\n' "$sv_p" >>"$SET/saved"
	NSAVED=$((NSAVED + 1))
	manifest || { MSG="write $SET/manifest.json"; return 1; }
}

# note PATH: record what the change left at PATH (sealed), as
# guest.Backup.Note does, so that a later restore puts back only that.
note() {
	nt_id=$(ident "$1")
	[ "$nt_id" = - ] && nt_id="- - - -"
	NOTE_PATH=$1 NOTE_ID=$nt_id awk -F "$US" -v OFS="$US" '
	$1 == ENVIRON["NOTE_PATH"] { split(ENVIRON["NOTE_ID"], a, " "); $11 = 1; $12 = a[1]; $13 = a[2]; $14 = a[3]; $15 = a[4] } { print }' \
		"$SET/manifest.tsv" >"$SET/.manifest.tsv.tmp" && mv -f "$SET/.manifest.tsv.tmp" "$SET/manifest.tsv" && manifest
}

seal() {
	[ -f "$SET/saved" ] || return 0
	while IFS= read -r sl_p; do
		note "$sl_p"
	done <"$SET/saved"
}

# rollback: every saved path back, newest first. A path in a directory a
# user controls is put back only while it is still the object this run
# left (or found) there.
rollback() {
	[ -s "$SET/manifest.tsv" ] || return 0
	awk '{ l[NR] = $0 } END { for (i = NR; i >= 1; i--) print l[i] }' "$SET/manifest.tsv" >"$SET/.rollback"
	while IFS=$US read -r rb_p rb_stored rb_existed rb_perm rb_uid rb_gid rb_dev rb_ino rb_type rb_buid rb_sealed rb_adev rb_aino rb_atype rb_auid rb_uc; do
		if [ "$rb_uc" = 1 ]; then
			rb_want="$rb_dev $rb_ino $rb_type $rb_buid"
			[ "$rb_existed" = 1 ] || rb_want=-
			[ "$rb_sealed" = 1 ] && rb_want="$rb_adev $rb_aino $rb_atype $rb_auid"
			[ "$rb_want" = "- - - -" ] && rb_want=-
			if [ "$(ident "$rb_p")" != "$rb_want" ]; then
				say "X${T}$(oneline "$rb_p changed while the repair ran: not put back")"
				continue
			fi
		fi
		if [ "$rb_existed" != 1 ]; then
			rm -rf "$rb_p" || say "X${T}$(oneline "remove $rb_p failed")"
		elif [ -n "$rb_stored" ]; then
			if [ -L "$rb_p" ] || { [ -e "$rb_p" ] && [ ! -f "$rb_p" ]; }; then
				say "X${T}$(oneline "$rb_p is no longer a regular file: not put back")"
				continue
			fi
			TMP=$(mktemp "${rb_p%/*}/.${rb_p##*/}.sshdoctor-XXXXXX") &&
				cat "$SET/$rb_stored" >"$TMP" && chown "$rb_uid:$rb_gid" "$TMP" && chmod "$rb_perm" "$TMP" &&
				mv -f "$TMP" "$rb_p" || say "X${T}$(oneline "put back $rb_p failed")"
			TMP=
			command -v restorecon >/dev/null 2>&1 && restorecon "$rb_p" 2>/dev/null
		elif [ -d "$rb_p" ] && [ ! -L "$rb_p" ]; then
			chown -h "$rb_uid:$rb_gid" "$rb_p" && chmod "$rb_perm" "$rb_p" || say "X${T}$(oneline "put back owner and mode of $rb_p failed")"
		else
			say "X${T}$(oneline "$rb_p is no longer a directory: not put back")"
		fi
	done <"$SET/.rollback"
	rm -f "$SET/.rollback"
}

# svc COMMAND...: a service command, without the report's and the lock's
# descriptors (a daemon it starts must not keep the lock).
svc() { "$@" 2>&1 3>&- 9>&-; }

restart_sshd() {
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		# socket activation (Ubuntu 22.10+): the socket unit listens, and
		# its port comes from sshd_config through a generator
		if systemctl is-active --quiet ssh.socket 2>/dev/null; then
			svc systemctl daemon-reload && svc systemctl restart ssh.socket
		fi
		rs_out=$(svc systemctl restart ssh) || rs_out=$(svc systemctl restart sshd)
	elif command -v service >/dev/null 2>&1; then
		rs_out=$(svc service ssh restart) || rs_out=$(svc service sshd restart)
	elif [ -x /etc/init.d/ssh ]; then
		rs_out=$(svc /etc/init.d/ssh restart)
	elif [ -x /etc/init.d/sshd ]; then
		rs_out=$(svc /etc/init.d/sshd restart)
	else
		MSG="no service manager found to restart sshd"
		return 1
	fi || {
		MSG="restart sshd: $rs_out"
		return 1
	}
}

# wait_listening: up to 10 s for a LISTEN socket (state 0A in
# /proc/net/tcp{,6}) on every port sshd -T names (PORT if it names none).
# sshd_listens PORT: a LISTEN socket on PORT (state 0A in
# /proc/net/tcp{,6}) held by sshd — or by systemd for socket activation —
# not by whatever else took the port (then sshd could not bind it).
sshd_listens() {
	set +f # the script runs with globbing off
	sl_r=1
	for sl_ino in $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h="$(printf '%04X' "$1")" '$4 == "0A" { n = split($2, a, ":"); if (toupper(a[n]) == h) print $10 }'); do
		for sl_pd in /proc/[0-9]*; do
			sl_c=
			read -r sl_c <"$sl_pd/comm" 2>/dev/null
			case $sl_c in
			sshd | sshd-* | systemd) ;;
			*) continue ;;
			esac
			if ls -l "$sl_pd/fd" 2>/dev/null | grep -qF "socket:[$sl_ino]"; then
				sl_r=0
				break 2
			fi
		done
	done
	set -f
	return $sl_r
}

wait_listening() {
	wl_ports=$($SSHD -T 2>/dev/null | awk '$1 == "port" {print $2}')
	[ -n "$wl_ports" ] || wl_ports=$PORT
	wl_end=$(($(date +%s) + 10))
	while :; do
		wl_ok=1
		for wl_p in $wl_ports; do
			sshd_listens "$wl_p" || wl_ok=0
		done
		[ $wl_ok = 1 ] && return 0
		[ "$(date +%s)" -ge $wl_end ] && break
		sleep 0.2 2>/dev/null || sleep 1
	done
	MSG="sshd is not listening on port(s) $(echo $wl_ports) 10s after the restart"
	return 1
}

# sd_act INDEX FUNCTION ARGS...: one action, reported; after a failure
# the rest are not attempted.
sd_act() {
	ac_i=$1
	shift
	if [ -n "$FAILED" ]; then
		say "A${T}$ac_i${T}skip"
		return
	fi
	MSG=
	if "$@"; then
		say "A${T}$ac_i${T}ok"
	else
		FAILED=1
		say "A${T}$ac_i${T}fail${T}$(oneline "${MSG:-failed}")"
	fi
}

sd_begin() {
	say "R${T}sdrepair1"
	if ! lock; then
		say "S${T}busy${T}$MSG"
		say "E${T}end"
		exit 0
	fi
	if ! begin_set; then
		say "S${T}error${T}$(oneline "$MSG")"
		say "E${T}end"
		exit 0
	fi
}

sd_end() {
	if [ -n "$FAILED" ]; then
		rollback
		[ "$RESTART" = 1 ] && restart_sshd
		say "S${T}rolledback"
	elif [ "$RESTART" != 1 ]; then
		seal
		say "S${T}norestart"
	elif ! en_out=$($SSHD -t 2>&1); then
		rollback
		restart_sshd
		say "S${T}rolledback${T}$(oneline "the repaired configuration fails sshd -t: $en_out")"
	elif say "S${T}validated" && ! restart_sshd; then
		en_msg=$MSG
		rollback
		restart_sshd
		say "S${T}rolledback${T}$(oneline "$en_msg")"
	elif say "S${T}restarted" && ! wait_listening; then
		en_msg=$MSG
		rollback
		restart_sshd
		wait_listening
		say "S${T}rolledback${T}$(oneline "$en_msg")"
	else
		seal
	fi
	say "E${T}end"
}

# sd_restore DIR: undo an earlier run (`sshdoctor fix --undo`): every path
# of its backup set DIR put back as rollback does (a path in a directory a
# user controls only while it is still what that run left), then sshd
# restarted and waited for. The report is the repair's, with
# "S rolledback".
sd_restore() {
	say "R${T}sdrepair1"
	if ! lock; then
		say "S${T}busy${T}$MSG"
		say "E${T}end"
		exit 0
	fi
	case $1 in
	"$SETS"/*/* | "$SETS"/.*) rs_ok=0 ;;
	"$SETS"/?*) rs_ok=1 ;;
	*) rs_ok=0 ;;
	esac
	if [ $rs_ok = 0 ] || [ -L "$SETS" ] || [ -L "$1" ] || [ ! -d "$1" ] || [ ! -f "$1/manifest.tsv" ]; then
		say "S${T}error${T}$(oneline "$1 is not a backup set of sshdoctor's remote repair")"
		say "E${T}end"
		exit 0
	fi
	SET=$1
	say "B${T}$SET"
	rollback
	if ! $SSHD -t >/dev/null 2>&1; then
		say "S${T}error${T}$(oneline "the restored configuration fails sshd -t: sshd was not restarted")"
	elif ! restart_sshd || ! wait_listening; then
		say "S${T}error${T}$(oneline "$MSG")"
	fi
	say "S${T}rolledback"
	say "E${T}end"
}

sd_refuse() {
	MSG=$1
	return 1
}

# same FILE LINE EXPECT: line LINE of FILE still reads EXPECT.
same() {
	EXPECT=$3 awk -v n="$2" 'NR == n { f = ($0 "" == ENVIRON["EXPECT"] "") } END { exit !f }' "$1" && return 0
	MSG="line $2 of $1 no longer reads \"$3\": the VM changed since its facts were read; check it again"
	return 1
}

# regular FILE: FILE is a regular file, not a link.
regular() {
	if [ -L "$1" ] || [ ! -f "$1" ]; then
		MSG="$1 is not a regular file (or is a symbolic link): not editing it"
		return 1
	fi
}

# rewrite FILE AWKPROGRAM: FILE replaced (same owner and mode) by the
# program's output over it, through a temporary file in its directory.
rewrite() {
	save "$1" || return 1
	set -- "$1" "$2" $(stat -c '%u %g %a' "$1")
	TMP=$(mktemp "${1%/*}/.${1##*/}.sshdoctor-XXXXXX") || {
		MSG="mktemp in ${1%/*} failed"
		return 1
	}
	if ! awk "$2" "$1" >"$TMP" || ! chown "$3:$4" "$TMP" || ! chmod "$5" "$TMP" || ! mv -f "$TMP" "$1"; then
		MSG="rewrite $1 failed"
		return 1
	fi
	TMP=
	command -v restorecon >/dev/null 2>&1 && restorecon "$1" 2>/dev/null
	return 0
}

# validated: sshd -t after an edit that must leave sshd's configuration
# valid (replaceLine's check); the caller's failure rolls everything back.
validated() {
	vd_out=$($SSHD -t 2>&1) && return 0
	MSG="edited $1 fails sshd -t: $vd_out"
	return 1
}

# sd_edits VALIDATE [FILE LINE EXPECT TEXT]...: each line LINE of FILE
# becomes TEXT if it still reads EXPECT (LINE 0: TEXT goes before the
# first line).
sd_edits() {
	ed_v=$1
	shift
	while [ $# -ge 4 ]; do
		regular "$1" || return 1
		if [ "$2" -gt 0 ]; then
			same "$1" "$2" "$3" || return 1
		fi
		TEXT=$4 LINE=$2
		export TEXT LINE
		rewrite "$1" 'BEGIN { n = ENVIRON["LINE"] + 0 }
			NR == 1 && n == 0 { print ENVIRON["TEXT"] }
			NR == n { print ENVIRON["TEXT"]; next } { print }
			END { if (NR == 0 && n == 0) print ENVIRON["TEXT"] }' || return 1
		if [ "$ed_v" = 1 ]; then
			validated "$1" || return 1
		fi
		shift 4
	done
}

# sd_loopback FILE LINE EXPECT PREFIX: every ListenAddress line of FILE on
# a loopback address gets PREFIX (the first one must still read EXPECT).
sd_loopback() { sd_listen_disable "$@"; }

# sd_listen_disable FILE LINE EXPECT PREFIX [HOST...]: every ListenAddress
# line of FILE naming one of HOSTs (none given: a loopback address) is
# disabled with PREFIX.
sd_listen_disable() {
	regular "$1" && same "$1" "$2" "$3" || return 1
	PREFIX=$4
	ld_file=$1
	shift 4
	HOSTS=" $* "
	export PREFIX HOSTS
	rewrite "$ld_file" '
	{
		s = $0; sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
		k = s; sub(/[ \t=].*/, "", k)
		if (tolower(k) == "listenaddress") {
			v = s; sub(/^[^ \t=]*[ \t=]*/, "", v)
			split(v, w, /[ \t]+/); h = w[1]
			sub(/^[][]+/, "", h); sub(/[][]+$/, "", h)
			if (gsub(/:/, ":", h) == 1) sub(/:.*/, "", h)
			if (ENVIRON["HOSTS"] == "  " && (h ~ /^127\./ || h == "::1" || h == "localhost") || index(ENVIRON["HOSTS"], " " h " ")) { print ENVIRON["PREFIX"] $0; next }
		}
		print
	}' && validated "$ld_file"
}

# sd_allow_user FILE LINE EXPECT USER: the directive at LINE lets USER in
# (allowUser in repair.go).
sd_allow_user() {
	regular "$1" && same "$1" "$2" "$3" || return 1
	au_s=$(printf '%s\n' "$3" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
	au_key=$(printf '%s\n' "$au_s" | sed 's/[ 	=].*//')
	au_val=$(printf '%s\n' "$au_s" | sed 's/^[^ 	=]*[ 	=]*//')
	au_group=$(id -gn -- "$4" 2>/dev/null) || au_group=$4
	case $(printf '%s' "$au_key" | tr '[:upper:]' '[:lower:]') in
	allowusers) au_text="$au_key $au_val $4" ;;
	allowgroups) au_text="$au_key $au_val $au_group" ;;
	denyusers | denygroups)
		au_keep=
		for au_w in $au_val; do
			[ "$au_w" != "$4" ] && [ "$au_w" != "$au_group" ] && au_keep="$au_keep $au_w"
		done
		if [ -z "$au_keep" ]; then
			sd_edits 0 "$1" "$2" "$3" "# sshdoctor: disabled (it refused $4): $3"
			return
		fi
		au_text="$au_key${au_keep}"
		;;
	permitrootlogin) au_text="PermitRootLogin prohibit-password" ;;
	*)
		MSG="cannot edit \"$3\""
		return 1
		;;
	esac
	sd_edits 1 "$1" "$2" "$3" "$au_text # sshdoctor: was: $au_s"
}

sd_keygen() {
	for kg_t in rsa ecdsa ed25519; do
		save "/etc/ssh/ssh_host_${kg_t}_key" && save "/etc/ssh/ssh_host_${kg_t}_key.pub" || return 1
	done
	kg_out=$(ssh-keygen -A 2>&1) && return 0
	MSG="ssh-keygen -A: $kg_out"
	return 1
}

# sd_mkdir DIR MODE: a root-owned directory with MODE (created when
# missing; a link is refused: its parent is root's).
sd_mkdir() {
	if [ -L "$1" ]; then
		MSG="$1 is a symbolic link: not touching it"
		return 1
	fi
	save "$1" || return 1
	[ -d "$1" ] || mkdir -m "$2" "$1" || {
		MSG="mkdir $1 failed"
		return 1
	}
	chown root:root "$1" && chmod "$2" "$1" && return 0
	MSG="chown/chmod $1 failed"
	return 1
}

# sd_hostkey_mode KEY: a host key's private file root's and 0600 (a link
# is refused: /etc/ssh is root's).
sd_hostkey_mode() {
	regular "$1" || return 1
	save "$1" || return 1
	chown root "$1" && chmod 600 "$1" && return 0
	MSG="chown/chmod $1 failed"
	return 1
}

# sd_binary_mode BIN: a root-owned program executable again (0755).
sd_binary_mode() {
	regular "$1" || return 1
	[ "$(stat -c %u "$1")" = 0 ] || {
		MSG="$1 is not root's: not touching it"
		return 1
	}
	save "$1" || return 1
	chmod 755 "$1" && return 0
	MSG="chmod $1 failed"
	return 1
}

# sd_useradd_system USER: sshd's privilege-separation user.
sd_useradd_system() {
	accounts || return 1
	us_sh=/bin/false
	for us_c in /usr/sbin/nologin /sbin/nologin; do
		[ -f "$us_c" ] && { us_sh=$us_c; break; }
	done
	us_out=$(useradd --system --no-create-home --home-dir /nonexistent --shell "$us_sh" -- "$1" 2>&1) && return 0
	MSG="useradd $1: $us_out"
	return 1
}

sd_remove() {
	save "$1" && rm -f "$1"
}

sd_reset_failed() {
	command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] || return 0
	rf_out=$(systemctl reset-failed "$1" 2>&1) && return 0
	MSG="systemctl reset-failed $1: $rf_out"
	return 1
}

# sd_nft_delete FAMILY TABLE CHAIN HANDLE TEXT: delete the rule if it is
# still the rule the facts saw.
sd_nft_delete() {
	command -v nft >/dev/null 2>&1 || {
		MSG="nft is not installed"
		return 1
	}
	nft -a list chain "$1" "$2" "$3" 2>/dev/null | RULE=$5 awk -v h="$4" '
	{
		s = $0; sub(/^[ \t]+/, "", s); i = index(s, "# handle ")
		if (i == 0) next
		n = substr(s, i + 9); gsub(/[ \t]/, "", n)
		t = substr(s, 1, i - 1); sub(/[ \t]+$/, "", t)
		if (n == h && t "" == ENVIRON["RULE"] "") f = 1
	}
	END { exit !f }' || {
		MSG="rule handle $4 of $1 $2 $3 is no longer \"$5\": the VM changed since its facts were read; check it again"
		return 1
	}
	[ -e "$SET/nft-ruleset.before" ] || nft list ruleset >"$SET/nft-ruleset.before" 2>/dev/null
	nd_out=$(nft delete rule "$1" "$2" "$3" handle "$4" 2>&1) && return 0
	MSG="nft delete rule $1 $2 $3 handle $4: $nd_out"
	return 1
}

# sd_fw_allow FRONTEND FAMILY TABLE CHAIN PORT: accept TCP to PORT through
# the tool that owns the default-deny chain.
sd_fw_allow() {
	[ -e "$SET/nft-ruleset.before" ] || nft list ruleset >"$SET/nft-ruleset.before" 2>/dev/null
	case $1 in
	ufw) fa_out=$(ufw allow "$5/tcp" 2>&1) ;;
	firewalld) fa_out=$(firewall-cmd --permanent "--add-port=$5/tcp" 2>&1 && firewall-cmd --reload 2>&1) ;;
	*) fa_out=$(nft insert rule "$2" "$3" "$4" tcp dport "$5" accept comment '"sshdoctor"' 2>&1) ;;
	esac && return 0
	MSG="allow TCP/$5 ($1): $fa_out"
	return 1
}

# accounts: the account databases saved before a shadow-utils command.
accounts() {
	for ac_f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
		save "$ac_f" || return 1
	done
}

# sd_account COMMAND ARGS...: run a shadow-utils command.
sd_account() {
	accounts || return 1
	sa_out=$("$@" 2>&1) && return 0
	MSG="$*: $sa_out"
	return 1
}

# default_shell: useradd's SHELL when it is a login shell, else bash, sh.
default_shell() {
	for ds_s in $(sed -n 's/^[[:space:]]*SHELL=//p' /etc/default/useradd 2>/dev/null) /bin/bash /bin/sh; do
		case ${ds_s##*/} in nologin | false) continue ;; esac
		[ -x "$ds_s" ] && { echo "$ds_s"; return; }
	done
	echo /bin/sh
}

sd_set_shell() {
	sd_account usermod -s "$(default_shell)" -- "$1"
}

sd_chage_today() {
	sd_account chage -d "$(date +%Y-%m-%d)" -- "$1"
}

# sd_useradd USER UID HOME: the account again, with the home it left
# (uid: the home's owner, when free), no password but not locked.
sd_useradd() {
	accounts || return 1
	set -- "$1" "$2" "$3" -M -d "$3" -s "$(default_shell)" -U
	if [ "$2" -gt 0 ] && ! awk -F: -v u="$2" '$3 == u { f = 1 } END { exit !f }' /etc/passwd; then
		set -- "$@" -u "$2"
	fi
	ua_user=$1
	shift 3
	ua_out=$(useradd "$@" -- "$ua_user" 2>&1) && ua_out=$(usermod -p '*' -- "$ua_user" 2>&1) && return 0
	MSG="useradd $ua_user: $ua_out"
	return 1
}

# nolinks HOME PATH: no component of PATH from HOME down is a link.
nolinks() {
	nl_d=$2
	while :; do
		if [ -L "$nl_d" ]; then
			MSG="$nl_d is a symbolic link: not following it (remove it or fix it by hand)"
			return 1
		fi
		case $nl_d in "$1"/*) nl_d=${nl_d%/*} ;; *) return 0 ;; esac
	done
}

# sd_fix_modes USER UID HOME PATH...: what StrictModes refuses, fixed as
# fixModes does, decided from each path as it is now.
# sd_user_access USER UID GID HOME PATH...: the paths (in the home) the
# user's, directories u+rwx, files u+rw, no group/world write.
sd_user_access() {
	fm_uid=$2 fm_access=$3 fm_home=$4
	shift 4
	sd_fix_modes_walk "$@"
}

sd_fix_modes() {
	fm_access=
	fm_uid=$2 fm_home=$3
	shift 3
	sd_fix_modes_walk "$@"
}

sd_fix_modes_walk() {
	for fm_p in "$@"; do
		nolinks "$fm_home" "$fm_p" || return 1
		set -- $(stat -c '%u %g %a %f %h' "$fm_p" 2>/dev/null)
		[ -n "$5" ] || {
			MSG="$fm_p: cannot stat it"
			return 1
		}
		fm_type=$(ftype "$4")
		case $fm_type in
		directory) ;;
		file)
			if [ "$5" -gt 1 ] && [ "$1" != "$fm_uid" ]; then
				MSG="$fm_p has $5 hard links and belongs to uid $1: changing it would change the other names too; fix it by hand"
				return 1
			fi
			;;
		*)
			MSG="$fm_p is a $fm_type, not a file or directory: fix it by hand"
			return 1
			;;
		esac
		fm_owner=$1 fm_group=$2
		[ "$1" != 0 ] && [ "$1" != "$fm_uid" ] && fm_owner=$fm_uid
		fm_mode=$(printf '%o' $((0$3 & 511 & ~18)))
		case $fm_p in "$fm_home"/*) [ "$fm_type" = directory ] && fm_mode=700 ;; esac
		if [ -n "$fm_access" ]; then
			# user-access: the user's (with its group), and passable
			[ "$1" != "$fm_uid" ] && fm_owner=$fm_uid fm_group=$fm_access
			if [ "$fm_type" = directory ]; then
				fm_mode=$(printf '%o' $(((0$3 & 511 & ~18) | 448)))
			else
				fm_mode=$(printf '%o' $(((0$3 & 511 & ~18) | 384)))
			fi
		fi
		save "$fm_p" || return 1
		if { [ "$fm_owner" != "$1" ] || [ "$fm_group" != "$2" ]; } && ! chown -h "$fm_owner:$fm_group" "$fm_p"; then
			MSG="chown $fm_p failed"
			return 1
		fi
		chmod "$fm_mode" "$fm_p" || {
			MSG="chmod $fm_p failed"
			return 1
		}
		note "$fm_p"
	done
}

sd_restorecon() {
	command -v restorecon >/dev/null 2>&1 || {
		MSG="restorecon is not installed (policycoreutils): run chcon -R -t ssh_home_t on the paths"
		return 1
	}
	rc_out=$(restorecon -R -- "$@" 2>&1) && return 0
	MSG="restorecon: $rc_out"
	return 1
}

# sd_authorize_key USER UID GID HOME FILE KEY...: the keys missing from
# FILE added (planKeys in account.go): in the home ~/.ssh 0700 and FILE
# 0600, the user's; outside it FILE keeps its owner (root's unless it is
# the user's), loses group and world write, a new one is 0644 root's.
sd_authorize_key() {
	ak_uid=$2 ak_gid=$3 ak_home=$4 ak_file=$5
	shift 5
	ak_dir=${ak_file%/*}
	ak_in=0
	case $ak_file in "$ak_home"/*) ak_in=1 ;; esac
	if [ $ak_in = 1 ]; then
		if [ -L "$ak_home" ] || [ ! -d "$ak_home" ]; then
			MSG="$ak_home is not a directory: create the user's home first"
			return 1
		fi
		nolinks "$ak_home" "$ak_file" || return 1
	elif [ -L "$ak_file" ]; then
		MSG="$ak_file is a symbolic link: not following it (remove it or fix it by hand)"
		return 1
	fi
	if [ ! -d "$ak_dir" ]; then
		if [ ! -d "${ak_dir%/*}" ]; then
			MSG="${ak_dir%/*} does not exist: create it first"
			return 1
		fi
		save "$ak_dir" || return 1
		mkdir -m 755 "$ak_dir" || {
			MSG="mkdir $ak_dir failed"
			return 1
		}
		[ $ak_in = 1 ] && { chown -h "$ak_uid:$ak_gid" "$ak_dir" && chmod 700 "$ak_dir" || return 1; }
		note "$ak_dir"
	elif [ $ak_in = 1 ] && [ "$ak_dir" != "$ak_home" ]; then
		save "$ak_dir" && chown -h "$ak_uid:$ak_gid" "$ak_dir" && chmod 700 "$ak_dir" || {
			MSG="make $ak_dir 0700, the user's: failed"
			return 1
		}
		note "$ak_dir"
	fi
	ak_mode=600 ak_owner=$ak_uid:$ak_gid
	if [ -e "$ak_file" ]; then
		regular "$ak_file" || return 1
		if [ $ak_in = 0 ]; then
			ak_st=$(stat -c '%u:%g:%a' "$ak_file")
			ak_fu=${ak_st%%:*} ak_fm=${ak_st##*:} ak_fg=${ak_st#*:}
			ak_fg=${ak_fg%%:*}
			[ "$ak_fu" != 0 ] && [ "$ak_fu" != "$ak_uid" ] && ak_fu=$ak_uid
			ak_owner=$ak_fu:$ak_fg ak_mode=$(printf '%o' $((0$ak_fm & 511 & ~18)))
		fi
	elif [ $ak_in = 0 ]; then
		ak_mode=644 ak_owner=0:0
	fi
	save "$ak_file" || return 1
	TMP=$(mktemp "$ak_dir/.${ak_file##*/}.sshdoctor-XXXXXX") || {
		MSG="mktemp in $ak_dir failed"
		return 1
	}
	if [ -e "$ak_file" ]; then
		cat "$ak_file" >"$TMP" || return 1
		[ -s "$TMP" ] && [ "$(tail -c 1 "$TMP" | wc -l)" -eq 0 ] && echo >>"$TMP"
	fi
	for ak_k in "$@"; do
		KEY=$ak_k awk 'BEGIN { split(ENVIRON["KEY"], k, " ") } $1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == k[2] && $(i - 1) == k[1]) f = 1 } END { exit !f }' "$TMP" ||
			printf '%s\n' "$ak_k" >>"$TMP"
	done
	if ! chown "$ak_owner" "$TMP" || ! chmod "$ak_mode" "$TMP" || ! mv -f "$TMP" "$ak_file"; then
		MSG="write $ak_file failed"
		return 1
	fi
	TMP=
	command -v restorecon >/dev/null 2>&1 && restorecon "$ak_file" 2>/dev/null
	note "$ak_file"
}
