package findings

// LayerBoot is the boot-log vantage point (`sshdoctor bootlog analyze`): what
// a VM's serial console shows about its last boot.
const LayerBoot Layer = "boot"

// Boot-log findings. A finding whose cause the boot got past (it reached
// multi-user or a login prompt afterwards) is reported one severity lower,
// as a warning; see docs/bootlog.md.
func init() {
	Register(
		Def{"boot.grub_rescue", LayerBoot, Error, "The boot loader (GRUB) failed: rescue prompt, missing partition, kernel or modules; Linux never started.",
			"Repair GRUB offline: attach the OS disk to a rescue VM (`az vm repair create`), chroot, reinstall GRUB (`grub-install` + `update-grub`, or `grub2-mkconfig -o /boot/grub2/grub.cfg`), check /boot holds the kernel."},
		Def{"boot.kernel_panic", LayerBoot, Error, "The kernel panicked: the boot stopped.",
			"Read the panic reason in the evidence; boot the previous kernel from the GRUB menu (serial console), or repair the OS disk on a rescue VM (`az vm repair create`)."},
		Def{"boot.init_failed", LayerBoot, Error, "The init system (systemd, PID 1) crashed, froze or could not be executed.",
			"Repair the OS disk on a rescue VM: reinstall systemd and its libraries, check /sbin/init; the lines above the failure name the cause."},
		Def{"boot.initramfs", LayerBoot, Error, "The initramfs (dracut or initramfs-tools) could not find or mount the root file system, or is missing.",
			"Check root= on the kernel command line and that the disk exists; rebuild the initramfs on a rescue VM (`dracut -f --regenerate-all` or `update-initramfs -u -k all`)."},
		Def{"boot.selinux", LayerBoot, Error, "SELinux stopped the boot: the policy failed to load, or the file systems are relabelled at every boot.",
			"Boot once with `selinux=0` (or `enforcing=0`) from the GRUB menu, reinstall the policy package (selinux-policy-targeted), and remove /.autorelabel if it keeps coming back."},
		Def{"boot.fs_corruption", LayerBoot, Error, "A file system is damaged (EXT4/XFS/Btrfs errors, failed fsck, read-only remount).",
			"Repair it offline: on a rescue VM run `fsck -y` (ext4), `xfs_repair` (XFS) or `btrfs check` on the unmounted device; restore from a snapshot if repair fails."},
		Def{"boot.disk_io", LayerBoot, Error, "A disk returned I/O errors.",
			"The virtual disk or its storage is failing: redeploy the VM (`az vm redeploy`), check the disk's health in the portal, restore from a snapshot or backup."},
		Def{"boot.fstab", LayerBoot, Error, "An /etc/fstab entry could not be mounted (missing device, wrong UUID or type).",
			"Fix or remove the entry, or add `nofail` to its options: via the serial console, `az vm run-command`, or a rescue VM (`az vm repair create`). Then reboot."},
		Def{"boot.emergency_mode", LayerBoot, Error, "The boot stopped in emergency or rescue mode: no services, no sshd.",
			"Fix what sent the boot there (see the other findings), then reboot; from the serial console log in as root, or boot with `systemd.unit=multi-user.target`."},
		Def{"boot.disk_full", LayerBoot, Error, "A file system is full during boot (No space left on device), or auditd halted on a full log partition.",
			"Free space on the full file system (old logs, /var/cache, journal: `journalctl --vacuum-size=100M`) via run-command or a rescue VM, or grow the disk."},
		Def{"boot.kernel_bug", LayerBoot, Warning, "The kernel hit a BUG or oops; the guest may be unstable or hang.",
			"Boot the previous kernel or update to a fixed one; the trace in the serial log names the driver."},
		Def{"boot.hung_task", LayerBoot, Warning, "Tasks or CPUs hung (soft lockup, hung task, RCU stall): the guest stalled, often on storage or an overloaded host.",
			"Restart the VM; if it recurs, check the disk (throttling, I/O limits) and the VM size, or redeploy it to another host (`az vm redeploy`)."},
		Def{"boot.oom", LayerBoot, Warning, "The kernel ran out of memory and killed processes (OOM killer).",
			"Resize the VM to more memory, add swap, or stop the process that grows; if sshd was killed, restart it."},
		Def{"boot.network", LayerBoot, Error, "The guest network did not come up (network service failed, no DHCP lease, no routes).",
			"Check the guest's network configuration (netplan, ifcfg, /etc/network/interfaces): a static address or a MAC-pinned config breaks on a new NIC; reset it with `az vm repair` or the serial console, and use DHCP."},
		Def{"boot.metadata_unreachable", LayerBoot, Error, "cloud-init or the VM agent could not reach the metadata service (169.254.169.254) or Azure's wire server (168.63.129.16): the user, its SSH keys and the host keys may never have been installed, so logins are refused even though the VM booted.",
			"Check the guest's network and firewall let it reach 169.254.169.254 and 168.63.129.16 (no proxy for them, a route through the primary NIC), then restart the VM; reset the user's key with `az vm user update --ssh-key-value` once the agent is Ready."},
		Def{"boot.agent_failed", LayerBoot, Error, "The cloud's VM agent (walinuxagent, google-guest-agent, amazon-ssm-agent, ec2-instance-connect) failed or reported a provisioning failure: users and keys it should install are missing, and run-command or key resets cannot work.",
			"Read the agent's log (/var/log/waagent.log, journalctl -u google-guest-agent) from the serial console or a rescue VM; reinstall or restart the agent, then restart the VM."},
		Def{"boot.device_manager_failed", LayerBoot, Error, "The device manager (systemd-udevd) failed: no disks or NICs appear, so mounts time out and the network does not come up — the timeouts that follow are consequences, not fstab mistakes.",
			"Boot from the serial console into rescue mode or repair the OS disk offline (`az vm repair create`): check udev's rules and /etc/udev, the kernel modules for the storage and network drivers, and memory at boot."},
		Def{"boot.cloud_init", LayerBoot, Warning, "cloud-init failed or found no datasource: the user, SSH keys or network may not be provisioned.",
			"Read `/var/log/cloud-init.log`; reset the user's SSH key (`az vm user update --ssh-key-value`), and check that the VM reaches the metadata service."},
		Def{"boot.sshd_failed", LayerBoot, Error, "sshd failed to start (or its last start failed).",
			"Fix what sshd names in the evidence (config line, host keys, /run/sshd), e.g. with `sshdoctor guest repair` via run-command; then `systemctl restart ssh` (sshd on RHEL/SUSE)."},
		Def{"boot.sshd_stopped", LayerBoot, Error, "sshd was running, then stopped or exited, and did not start again.",
			"Start it (`systemctl start ssh`, or sshd on RHEL/SUSE) via run-command or the serial console; if it crashed, see the lines before the exit."},
		Def{"boot.sshd_not_started", LayerBoot, Error, "The boot reached multi-user, but sshd was never started.",
			"Enable and start sshd (`systemctl enable --now ssh`, or sshd on RHEL/SUSE) via run-command or the serial console; install openssh-server if it is missing."},
		Def{"boot.unit_failed", LayerBoot, Info, "Other units failed to start during the boot.",
			"Not SSH-related by itself; check them with `systemctl --failed` once you are in."},
		Def{"boot.shutdown", LayerBoot, Warning, "The last boot ended with a shutdown or reboot: the VM is stopped or restarting.",
			"Start the VM (`az vm start`) or wait for the reboot; if it shut itself down, the lines before the shutdown say why."},
		Def{"boot.incomplete", LayerBoot, Warning, "The last boot shows no failure but never reached multi-user or a login prompt: it is still booting, hangs silently, or the log is cut short.",
			"Wait and fetch the serial log again; if it does not move, restart the VM and watch the serial console (boot without `quiet` to see more)."},
		Def{"boot.ok", LayerBoot, Info, "The last boot came up: it reached multi-user or a login prompt, and nothing in the log stops SSH.",
			"The guest booted fine; look at the network path (NSGs, routes: `sshdoctor check USER@HOST` from the client) or at sshd's configuration (`sshdoctor guest check` via run-command)."},
	)
}
