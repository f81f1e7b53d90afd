package bootlog

import (
	"strings"
	"testing"
)

// The earliest failure that explains the others is the root cause; the
// others are its consequences (caused_by).
func TestCauses(t *testing.T) {
	udevFail := "[FAILED] Failed to start \x1b[0;1;39mudev Kernel Device Manager\x1b[0m."
	devTimeout := "[ TIME ] Timed out waiting for device \x1b[0;1;39m/dev/disk/by-uuid/3f0a9c2e-0000-4000-8000-000000000001\x1b[0m."
	depLocal := "[DEPEND] Dependency failed for \x1b[0;1;39mLocal File Systems\x1b[0m."
	emergency := "You are in emergency mode. After logging in, type \"journalctl -xb\" to view"
	xfs := "[   12.000000] XFS (sdc1): Corruption detected. Unmount and run xfs_repair"
	mountData := "[FAILED] Failed to mount \x1b[0;1;39m/data\x1b[0m."
	consequence := func(id, cause string) func(t *testing.T, r *Report) {
		return func(t *testing.T, r *Report) {
			f := find(r, id)
			if f == nil || f.CausedBy != cause {
				t.Errorf("%s caused by %+v, want %s", id, f, cause)
			}
			if !strings.Contains(r.Verdict, "consequences") || !strings.Contains(r.Verdict, id) {
				t.Errorf("verdict %q does not name %s as a consequence", r.Verdict, id)
			}
		}
	}
	runCases(t, []logCase{
		{name: "device manager failed, then device timeouts", log: join(ubuntuKernel, ubuntuUnits[:2], udevFail, devTimeout, depLocal, emergency),
			root: idDeviceMgr, want: []want{{idFstab, "Timed out waiting"}, {idEmergency, "emergency mode"}},
			check: consequence(idFstab, idDeviceMgr)},
		{name: "a corrupt file system is why the mount failed", log: join(ubuntuKernel, ubuntuUnits[:2], xfs, mountData, depLocal, emergency),
			root: idFS, check: consequence(idFstab, idFS)},
		{name: "a mount that fails first is fstab's, even with a later fs error", log: join(ubuntuKernel, ubuntuUnits[:2], devTimeout, depLocal, emergency, xfs),
			root: idFS, check: func(t *testing.T, r *Report) {
				// The fs error comes later, so it does not explain the
				// timeout: both stand on their own.
				if f := find(r, idFstab); f == nil || f.CausedBy != "" {
					t.Errorf("fstab %+v", f)
				}
			}},
		{name: "a console device timeout is not fstab", log: join(ubuntuKernel, ubuntuUnits, "[ TIME ] Timed out waiting for device \x1b[0;1;39mdev-ttyS0.device\x1b[0m - /dev/ttyS0.", ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			root: "", absent: []string{idFstab}, want: []want{{idUnitFailed, "dev-ttyS0"}}},
		{name: "hvc0 job timeout is not fstab", log: join(ubuntuKernel, ubuntuUnits, "[  90.000000] systemd[1]: dev-hvc0.device: Job dev-hvc0.device/start timed out.", ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			root: "", absent: []string{idFstab}},
		{name: "booted, but the agent could not provision", log: join(ubuntuKernel, ubuntuUnits, ubuntuSSHD, ubuntuMulti,
			"2024/01/01 00:00:10.000000 ERROR Daemon Daemon Provisioning failed: [ProvisionError] Failed to deploy the ssh public key", ubuntuLogin),
			root: idAgent, sig: "provisioning_failed"},
		{name: "booted, but cloud-init gave up on the metadata service", log: join(ubuntuKernel, ubuntuUnits, ubuntuSSHD, ubuntuMulti,
			"[  124.000000] cloud-init[845]: 2024-01-01 00:02:04,000 - DataSourceEc2.py[CRITICAL]: Giving up on md from ['http://169.254.169.254/2009-04-04/meta-data/instance-id'] after 120 seconds",
			"[  125.000000] cloud-init[845]: ci-info: no authorized SSH keys fingerprints found for user ubuntu.", ubuntuLogin),
			root: idMetadata, check: func(t *testing.T, r *Report) {
				if f := find(r, idCloudInit); f == nil || f.CausedBy != idMetadata {
					t.Errorf("cloud-init %+v", f)
				}
			}},
		{name: "a metadata call that failed once, on a finished boot, is a warning", log: join(ubuntuKernel, ubuntuUnits,
			"[   30.000000] cloud-init[845]: 2024-01-01 00:00:30,000 - url_helper.py[WARNING]: Calling 'http://169.254.169.254/2009-04-04/meta-data/instance-id' failed [0/120s]: request error [HTTPConnectionPool(host='169.254.169.254', port=80): Max retries exceeded with url: /2009-04-04/meta-data/instance-id (Caused by ConnectTimeoutError())]",
			ubuntuSSHD, ubuntuMulti, ubuntuLogin),
			root: ""},
		{name: "an excerpt is analysed for what it shows", log: join(ubuntuUnits[:2], devTimeout, depLocal, emergency),
			root: idFstab, check: func(t *testing.T, r *Report) {
				if !r.Excerpt || !strings.Contains(r.Coverage, "excerpt") || !strings.Contains(r.Verdict, "excerpt") {
					t.Errorf("excerpt %v coverage %q verdict %q", r.Excerpt, r.Coverage, r.Verdict)
				}
			}},
		{name: "a whole boot is not an excerpt", log: healthyUbuntu(), root: "", check: func(t *testing.T, r *Report) {
			if r.Excerpt || !strings.Contains(r.Coverage, "whole") {
				t.Errorf("excerpt %v coverage %q", r.Excerpt, r.Coverage)
			}
		}},
	})
}

// The boot before the last is evidence only when it did not come up.
func TestPreviousBoot(t *testing.T) {
	mountData := "[FAILED] Failed to mount \x1b[0;1;39m/data\x1b[0m."
	emergency := "You are in emergency mode. After logging in, type \"journalctl -xb\" to view"
	runCases(t, []logCase{
		{name: "the previous boot stopped in emergency mode; the last shows nothing yet",
			log: join(ubuntuKernel, ubuntuUnits[:2], mountData, emergency, ubuntuKernel[:3]), root: idFstab, sig: "previous_boot"},
		{name: "the previous boot's evidence keeps a line number for every line (found by the fuzzer)",
			log: join(ubuntuKernel, ubuntuUnits[:2], mountData, "[FAILED] Failed to mount /srv.", emergency, ubuntuKernel[:3]), root: idFstab, sig: "previous_boot",
			check: func(t *testing.T, r *Report) {
				if f := find(r, idFstab); len(f.Lines) != 2 || len(f.Evidence) != 2 {
					t.Errorf("lines %v evidence %q", f.Lines, f.Evidence)
				}
			}},
		{name: "the previous boot came up past a failed mount; the last shows nothing yet",
			log: join(ubuntuKernel, ubuntuUnits, mountData, ubuntuSSHD, ubuntuMulti, ubuntuLogin, ubuntuKernel[:3]), root: idIncomplete},
	})
}
