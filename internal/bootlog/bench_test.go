package bootlog

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// synthLog generates a realistic multi-boot serial log of about size bytes:
// each boot is an Azure/Ubuntu-style boot (kernel, systemd status lines with
// colour codes, cloud-init, sshd) followed by runtime noise (firewall logs,
// audit, kernel chatter), and some boots carry failures (fstab, fsck, I/O
// errors, OOM, sshd config errors, kernel panics). Deterministic.
func synthLog(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 42))
	var b strings.Builder
	b.Grow(size + 1<<16)
	t := 0.0
	line := func(format string, a ...any) {
		t += rng.Float64() * 0.05
		fmt.Fprintf(&b, "[%5d.%06d] ", int(t), int(t*1e6)%1000000)
		fmt.Fprintf(&b, format, a...)
		b.WriteByte('\n')
	}
	raw := func(s string) { b.WriteString(s); b.WriteByte('\n') }
	units := []string{"Journal Service", "Load Kernel Modules", "Remount Root and Kernel File Systems", "Create Static Device Nodes in /dev",
		"Coldplug All udev Devices", "Flush Journal to Persistent Storage", "Apply Kernel Variables", "Network Time Synchronization",
		"Network Name Resolution", "Permit User Sessions", "Dispatcher daemon for systemd-networkd", "Snap Daemon", "Azure Linux Agent",
		"Daily apt download activities", "Unattended Upgrades Shutdown", "Hold until boot process finishes up", "Authorization Manager"}
	for b.Len() < size {
		t = 0
		kind := rng.IntN(8) // 0: fstab, 1: sshd config, 2: panic, 3: io errors, others healthy
		line("Linux version 5.15.0-%d-azure (buildd@lcy02-amd64-033) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #59-Ubuntu SMP Thu Oct 5 17:04:47 UTC 2023 (Ubuntu 5.15.0-1051.59-azure 5.15.122)", 1000+rng.IntN(60))
		line("Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-1051-azure root=PARTUUID=9f5a2e3c-01 ro console=tty1 console=ttyS0 earlyprintk=ttyS0 panic=-1")
		for i := 0; i < 40; i++ {
			line("BIOS-e820: [mem 0x%016x-0x%016x] usable", rng.Uint64()>>20, rng.Uint64()>>20)
		}
		for i := 0; i < 60; i++ {
			switch rng.IntN(6) {
			case 0:
				line("ACPI: SRAT 0x%08X 0002D0 (v02 VRTUAL MICROSFT 00000001 MSFT 00000001)", rng.Uint32())
			case 1:
				line("pci %04x:%02x:%02x.%d: [1414:00ba] type 00 class 0x010802", rng.IntN(9999), rng.IntN(255), rng.IntN(31), rng.IntN(7))
			case 2:
				line("hv_vmbus: registering driver hv_netvsc")
			case 3:
				line("sd 0:0:0:0: [sda] %d 512-byte logical blocks: (32.2 GB/30.0 GiB)", 62914560+rng.IntN(100))
			case 4:
				line("clocksource: hyperv_clocksource_tsc_page: mask: 0xffffffffffffffff max_cycles: 0x24e6a1710, max_idle_ns: 440795202120 ns")
			default:
				line("EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: discard,errors=remount-ro. Quota mode: none.")
			}
		}
		for i, u := range units {
			raw(fmt.Sprintf("         Starting \x1b[0;1;39m%s\x1b[0m...", u))
			raw(fmt.Sprintf("[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39m%s\x1b[0m.", u))
			line("systemd[1]: Started %s.", units[(i+3)%len(units)])
		}
		switch kind {
		case 0:
			line("systemd[1]: Timed out waiting for device /dev/disk/by-uuid/3f0a9c2e-0000-4000-8000-%012d.", rng.IntN(1e12))
			line("systemd[1]: Dependency failed for /data.")
			raw("You are in emergency mode. After logging in, type \"journalctl -xb\" to view")
			raw("Give root password for maintenance")
			continue
		case 2:
			line("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)")
			continue
		}
		for i := 0; i < 8; i++ {
			line("cloud-init[%d]: ci-info: | eth0 | True | 10.0.0.%d | 255.255.255.0 | global | 00:0d:3a:12:34:56 |", 600+i, rng.IntN(250))
		}
		if kind == 1 {
			line("sshd[700]: /etc/ssh/sshd_config line %d: Bad configuration option: PermitRootLogn", rng.IntN(120))
			line("systemd[1]: ssh.service: Control process exited, code=exited, status=255/EXCEPTION")
			raw("[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.")
		} else {
			raw("[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mssh.service\x1b[0m - OpenBSD Secure Shell server.")
		}
		raw("[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.")
		raw("")
		raw("Ubuntu 22.04.3 LTS web1 ttyS0\r")
		raw("")
		raw("web1 login: ")
		// Runtime: what a VM that stays up writes to its console.
		for i, n := 0, 2000+rng.IntN(4000); i < n; i++ {
			switch r := rng.IntN(100); {
			case r < 55:
				line("[UFW BLOCK] IN=eth0 OUT= MAC=00:0d:3a:12:34:56:12:34:56:78:9a:bc:08:00 SRC=%d.%d.%d.%d DST=10.0.0.4 LEN=40 TOS=0x00 PREC=0x00 TTL=%d ID=%d PROTO=TCP SPT=%d DPT=%d WINDOW=1024 RES=0x00 SYN URGP=0",
					rng.IntN(223)+1, rng.IntN(256), rng.IntN(256), rng.IntN(256), 30+rng.IntN(200), rng.IntN(65536), rng.IntN(65536), rng.IntN(65536))
			case r < 75:
				line("audit: type=1400 audit(%d.%03d:%d): apparmor=\"DENIED\" operation=\"open\" profile=\"snap.lxd.daemon\" name=\"/proc/%d/mountinfo\" pid=%d comm=\"lxd\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0",
					1700000000+rng.IntN(1e6), rng.IntN(1000), rng.IntN(1e5), rng.IntN(1e5), rng.IntN(1e5))
			case r < 85:
				line("hv_balloon: Balloon request will be partially fulfilled. Balloon floor reached.")
			case r < 92:
				line("systemd[1]: Started Session %d of User azureuser.", rng.IntN(1e5))
			case r < 97:
				line("systemd[1]: snapd.service: Watchdog timeout (limit 5min)!")
			case r < 99 && kind == 3:
				line("blk_update_request: I/O error, dev sdc, sector %d op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0", rng.IntN(1e8))
			default:
				line("TCP: request_sock_TCP: Possible SYN flooding on port 22. Sending cookies.  Check SNMP counters.")
			}
		}
		if rng.IntN(4) == 0 {
			line("Out of memory: Killed process %d (java) total-vm:8123456kB, anon-rss:3456789kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:7000kB oom_score_adj:0", rng.IntN(1e5))
		}
		raw("[\x1b[0;32m  OK  \x1b[0m] Stopped \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m.")
		raw("[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mSystem Reboot\x1b[0m.")
		line("reboot: Restarting system")
	}
	return []byte(b.String())
}

// repeatReader yields chunk over and over, n bytes in all.
type repeatReader struct {
	chunk []byte
	off   int
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := copy(p, r.chunk[r.off:])
	r.off = (r.off + n) % len(r.chunk)
	r.left -= int64(n)
	return n, nil
}

var (
	benchOnce  sync.Once
	benchChunk []byte
)

func benchInput() []byte {
	benchOnce.Do(func() { benchChunk = synthLog(16<<20, 1) })
	return benchChunk
}

// BenchmarkAnalyze analyses a 200 MB multi-boot serial log streamed from a
// generator (nothing is stored): throughput via SetBytes, allocation per
// 200 MB via -benchmem, and the peak heap above what was in use before
// (garbage included) as peak-heap-MB.
func BenchmarkAnalyze(b *testing.B) {
	const size = 200 << 20
	chunk := benchInput()
	b.SetBytes(size)
	b.ReportAllocs()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	for b.Loop() {
		stop := sampleHeap(&peak)
		r, err := Analyze(&repeatReader{chunk: chunk, left: size})
		stop()
		if err != nil || r.Boots < 100 {
			b.Fatalf("boots %d err %v", r.Boots, err)
		}
	}
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
}

// sampleHeap records the largest live heap seen until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for !done.Load() {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > *peak {
				*peak = ms.HeapAlloc
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() { done.Store(true); wg.Wait() }
}

// TestSynthLogFile writes a generated log of BOOTLOG_SYNTH_MB megabytes to
// the file BOOTLOG_SYNTH_OUT (for bench/bootlog.sh); skipped otherwise.
func TestSynthLogFile(t *testing.T) {
	out, mb := os.Getenv("BOOTLOG_SYNTH_OUT"), os.Getenv("BOOTLOG_SYNTH_MB")
	if out == "" {
		t.Skip("BOOTLOG_SYNTH_OUT not set")
	}
	n, err := strconv.Atoi(mb)
	if err != nil || n <= 0 {
		t.Fatalf("BOOTLOG_SYNTH_MB=%q", mb)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, &repeatReader{chunk: benchInput(), left: int64(n) << 20}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
