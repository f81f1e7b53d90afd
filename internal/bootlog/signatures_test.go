package bootlog

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// matched feeds lines to a fresh analyzer and returns the signatures that
// matched the last line. ctx "initrd" starts inside the initramfs.
func matched(ctx context, lines ...string) []int {
	a := newAnalyzer()
	if ctx == ctxInitrd {
		lines = append([]string{"Welcome to CentOS Linux 8 dracut-049-95.git20200804.el8 (Initramfs)!"}, lines...)
	}
	var got []int
	a.onMatch = func(sig, line int) {
		if line == len(lines) {
			got = append(got, sig)
		}
	}
	_, _ = a.run(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	return got
}

// Every signature's example line is matched by that signature, and it is
// the first signature of its ID to match it (no earlier variant shadows it).
func TestSignatureExamples(t *testing.T) {
	for i := range signatures {
		s := &signatures[i]
		t.Run(s.ID+"/"+s.Name, func(t *testing.T) {
			if s.Example == "" || len(s.Anchors) == 0 {
				t.Fatal("a signature needs anchors and an example")
			}
			got := matched(s.Ctx, s.Example)
			if !slices.Contains(got, i) {
				t.Fatalf("example %q not matched; matched %v", s.Example, names(got))
			}
			for _, j := range got {
				if j < i && s.ID != "" && signatures[j].ID == s.ID {
					t.Errorf("shadowed by %s/%s", s.ID, signatures[j].Name)
				}
			}
			if s.ID != "" {
				sum := summarize(&table[i], clean(nil, []byte(s.Example)))
				if strings.Contains(sum, "$") || strings.Contains(sum, "  ") || sum == "" {
					t.Errorf("summary %q", sum)
				}
			}
			if s.Ctx != ctxAny {
				other := ctxInitrd
				if s.Ctx == ctxInitrd {
					other = ctxRoot
				}
				if slices.Contains(matched(other, s.Example), i) {
					t.Errorf("matched outside its context")
				}
			}
		})
	}
}

func names(sigs []int) []string {
	var n []string
	for _, i := range sigs {
		n = append(n, signatures[i].ID+"/"+signatures[i].Name)
	}
	return n
}

// Lines that look like trouble but are not, and near misses.
func TestSignatureNegatives(t *testing.T) {
	cases := []struct {
		line   string
		notIDs []string // no signature of these IDs (or marker names) may match
	}{
		{"[  OK  ] Stopped target Multi-User System.", []string{"multi_user"}},
		{"Last login: Mon Jan  1 00:00:00 2024 from 10.0.0.5", []string{"login_prompt"}},
		{"         Starting \x1b[0;1;39mOpenBSD Secure Shell server\x1b[0m...", []string{"sshd_started", "sysv_sshd_started", idSSHDFailed}},
		{"[    3.000000] blk_update_request: I/O error, dev sr0, sector 0 op 0x0:(READ)", []string{idDiskIO}},
		{"[    3.000000] Buffer I/O error on dev fd0, logical block 0, async page read", []string{idDiskIO}},
		{"[    3.000000] print_req_error: I/O error, dev loop3, sector 100", []string{idDiskIO}},
		{"[FAILED] Failed to mount Mount unit for core, revision 16202.", []string{idFstab}},
		{"[FAILED] Failed to mount Kernel Debug File System.", []string{idFstab}},
		{"[    5.0] traps: chrome[1234] general protection fault ip:7f0000 sp:7ffe error:0 in libc.so.6", []string{idBug}},
		{"[    4.0] sshd[700]: /etc/ssh/sshd_config line 5: Deprecated option UsePrivilegeSeparation", []string{idSSHDFailed}},
		{"[    4.0] sshd[700]: /etc/ssh/sshd_config line 9: Unsupported option GSSAPIAuthentication", []string{idSSHDFailed}},
		{"[FAILED] Failed to start Network Manager Wait Online.", []string{"service_failed"}},
		{"[  OK  ] Started sshd-keygen@rsa.service - OpenSSH rsa Server Key Generation.", []string{"sshd_started"}},
		{"[    0.5] Kernel command line: BOOT_IMAGE=/vmlinuz root=/dev/sda1", []string{"kernel_cmdline"}},
		{"[   10.0] audit: type=1400 apparmor=\"STATUS\" info=\"Linux version 5.15 string\"", []string{"kernel_banner"}},
		{"[    2.0] ---[ end Kernel panic - not syncing: Fatal exception ]---", []string{idPanic}},
		{"[    9.0] EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null).", []string{idFS}},
		{"[    9.0] XFS (sda1): Mounting V5 Filesystem", []string{idFS}},
		{"[   20.0] cloud-init[900]: 2024-01-01 00:00:20,000 - url_helper.py[WARNING]: Calling 'http://169.254.169.254/metadata' failed [0/120s]: request error", []string{idCloudInit}},
		{"[    0.1] Command line: a kernel param rdinit=/init2", []string{idInitramfs}},
		{"Determining IP information for eth0... done.", []string{idNetwork}},
		{"Starting sshd: [  OK  ]", []string{idSSHDFailed}},
		{"Starting sshd: [FAILED]", []string{"sysv_sshd_started"}},
	}
	for _, c := range cases {
		for _, ctx := range []context{ctxRoot, ctxInitrd} {
			for _, i := range matched(ctx, c.line) {
				s := signatures[i]
				if slices.Contains(c.notIDs, s.ID) || slices.Contains(c.notIDs, s.Name) {
					t.Errorf("%q matched %s/%s", c.line, s.ID, s.Name)
				}
			}
		}
	}
}

// naiveHits is the reference for the automaton: segments split at CR,
// escape sequences removed, every anchor searched with bytes.Index.
func naiveHits(line []byte, anchors []string, owners [][]uint16) map[[2]int]bool {
	out := map[[2]int]bool{}
	var seg []byte
	segStart := 0
	flush := func() {
		for ai, a := range anchors {
			if bytes.Contains(seg, []byte(a)) {
				for _, o := range owners[ai] {
					out[[2]int{int(o), segStart}] = true
				}
			}
		}
	}
	for i := 0; i < len(line); {
		switch c := line[i]; c {
		case esc:
			i = skipEscape(line, i+1)
			continue
		case cr:
			flush()
			seg, segStart = seg[:0], i+1
		default:
			seg = append(seg, c)
		}
		i++
	}
	flush()
	return out
}

func TestScanMatchesNaive(t *testing.T) {
	var anchors []string
	var owners [][]uint16
	idx := map[string]int{}
	for i, s := range signatures {
		for _, a := range s.Anchors {
			j, ok := idx[a]
			if !ok {
				j = len(anchors)
				idx[a] = j
				anchors = append(anchors, a)
				owners = append(owners, nil)
			}
			owners[j] = append(owners[j], uint16(i))
		}
	}
	lines := bytes.Split(synthLog(2<<20, 7), []byte("\n"))
	for _, s := range signatures {
		lines = append(lines, []byte(s.Example))
	}
	// Random lines stitched from anchors, fragments, colour codes and CRs.
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"\x1b[0;1;39m", "\x1b[0m", "\r", "\x1b[K", "\x1b]0;title\x07", "\x1b(B", " ", "x", "[  ", "\x1b", "\x1b["}
	for i := 0; i < 20000; i++ {
		var b []byte
		for n := rng.IntN(12); n > 0; n-- {
			switch rng.IntN(4) {
			case 0:
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			case 1:
				a := anchors[rng.IntN(len(anchors))]
				if k := rng.IntN(len(a) + 1); rng.IntN(2) == 0 { // split by a colour code
					b = append(append(append(b, a[:k]...), "\x1b[0;32m"...), a[k:]...)
				} else {
					b = append(b, a...)
				}
			case 2:
				a := anchors[rng.IntN(len(anchors))]
				b = append(b, a[:rng.IntN(len(a))]...)
			default:
				b = append(b, byte(rng.IntN(256)))
			}
		}
		lines = append(lines, b)
	}
	var hits []hit
	for _, l := range lines {
		want := naiveHits(l, anchors, owners)
		got := map[[2]int]bool{}
		hits = auto.scan(l, hits[:0])
		for _, h := range hits {
			got[[2]int{int(h.sig), int(h.seg)}] = true
			if int(h.end) > len(l) || h.seg > h.end {
				t.Fatalf("%q: bad hit %+v", l, h)
			}
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("%q: automaton missed %s/%s at segment %d", l, signatures[k[0]].ID, signatures[k[0]].Name, k[1])
			}
		}
		for k := range got {
			if !want[k] {
				t.Fatalf("%q: automaton invented %s/%s at segment %d", l, signatures[k[0]].ID, signatures[k[0]].Name, k[1])
			}
		}
	}
}

func TestSkipEscape(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // what clean leaves
	}{
		{"a\x1b[0;1;39mb\x1b[0mc", "abc"},
		{"\x1b[2J\x1b[01;01Hgrub", "grub"},
		{"x\x1b]0;title\x07y", "xy"},
		{"x\x1b]0;title\x1b\\y", "xy"},
		{"x\x1b(By", "xy"},
		{"x\x1b7y\x1b8", "xy"},
		{"x\x1b", "x"},
		{"x\x1b[", "x"},
		{"tab\there\x00nul\x7f", "tab herenul"},
		{"\x1b[" + strings.Repeat("1;", 100) + "mtext", strings.Repeat("1;", 100)[63:] + "mtext"}, // bounded: 64 bytes at most
	} {
		if got := string(clean(nil, []byte(c.in))); got != c.want {
			t.Errorf("clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnitPath(t *testing.T) {
	for in, want := range map[string]string{
		`dev-mapper-rhel\x2droot.device`:                "/dev/mapper/rhel-root",
		`dev-disk-by\x2duuid-3f0a9c2e.device`:           "/dev/disk/by-uuid/3f0a9c2e",
		`dev-disk-by\x2dlabel-data\x5cx.device`:         `/dev/disk/by-label/data\x`,
		`dev-sdb1.device`:                               "/dev/sdb1",
		`dev-disk-by\xzz.device`:                        `/dev/disk/by\xzz`,
		`dev-disk-cloud-azure_resource\x2dpart1.device`: "/dev/disk/cloud/azure_resource-part1",
	} {
		if got := unitPath(in); got != want {
			t.Errorf("unitPath(%s) = %s, want %s", in, got, want)
		}
	}
}
