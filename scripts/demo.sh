#!/usr/bin/env bash
# make demo: bring up a lab VM (namespaces, real sshd, Azure-style NSG),
# break it in several ways, let `sshdoctor check` diagnose each from the
# client namespace, repair inside the guest, then break it two ways at once
# and let `sshdoctor fix` find and fix both, and tear everything down.
set -euo pipefail
bin=$(readlink -f "${1:-bin/sshdoctor}")
export SSHDOCTOR_LAB_DIR=$(mktemp -d /tmp/sshdoctor-demo.XXXXXX)/lab
cleanup() { "$bin" lab down >/dev/null 2>&1 || true; rm -rf "$(dirname "$SSHDOCTOR_LAB_DIR")"; }
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" || true; }

say "A lab with one VM: its own namespaces, /etc overlay, real OpenSSH, NIC NSG allowing TCP/22"
printf '$ %s\n' "$bin lab up --vms 1 --name web"
"$bin" lab up --vms 1 --name web # no "|| true": the rest needs it

say "Healthy: every layer passes"
run "$bin" lab client -- sshdoctor check --exec 'hostname; id -un' lab-web1

# Cloud-side faults: the client sees them; the lab's control plane undoes them.
for fault in nsg-deny-ssh hostkey-changed; do
	say "Fault: $fault"
	run "$bin" lab break web1 "$fault"
	run "$bin" lab client -- sshdoctor check --timeout 2s lab-web1
	run "$bin" lab heal web1
done

# Guest-side faults: the client diagnoses, then sshdoctor repairs inside the
# VM (through run-command, as the portal's serial console or az vm
# run-command would), and the client proves SSH works again.
for fault in sshd-dropin-override authorized-keys-owner sshd-config-syntax; do
	say "Fault: $fault"
	run "$bin" lab break web1 "$fault"
	run "$bin" lab client -- sshdoctor check --timeout 2s lab-web1
	say "Inside the VM: diagnose, then repair (backed up, validated, verified)"
	run "$bin" lab exec web1 -- sshdoctor guest check
	run "$bin" lab exec web1 -- sshdoctor guest repair --yes
	say "Proof from the client"
	run "$bin" lab client -- sshdoctor check lab-web1
	"$bin" lab heal web1 >/dev/null
done

say "Fault: boot-fstab-error — the VM never reaches sshd"
run "$bin" lab break web1 boot-fstab-error
run "$bin" lab client -- sshdoctor check --timeout 2s lab-web1
say "The serial log tells why (boot diagnostics):"
"$bin" lab serial-log web1 | tail -n 8
run "$bin" lab exec web1 -- sshdoctor guest repair --yes
run "$bin" lab restart web1

say "Healed: SSH works again"
run "$bin" lab client -- sshdoctor check lab-web1

say "The main job: two faults at once — an NSG deny and a drop-in that turns public keys off"
run "$bin" lab break web1 nsg-deny-ssh
run "$bin" lab break web1 sshd-dropin-override
run "$bin" lab client -- sshdoctor check --timeout 2s lab-web1
say "sshdoctor fix: diagnose every vantage point, plan, fix step by step, reconnect after each"
journal=$(dirname "$SSHDOCTOR_LAB_DIR")/fix-journal.json
run "$bin" lab fix web1 -- --dry-run --timeout 2s
run "$bin" lab fix web1 -- --yes --timeout 2s --journal "$journal"
say "Every step is journaled with its undo"
run "$bin" lab fix web1 -- --undo "$journal"
run "$bin" lab client -- sshdoctor check --timeout 2s lab-web1
"$bin" lab heal web1 >/dev/null

say "Tear down (every namespace, process and file of the lab)"
run "$bin" lab down
