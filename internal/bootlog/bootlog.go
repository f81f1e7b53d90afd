// Package bootlog reads a VM's serial console log and says why the guest
// did not come up for SSH. It works on the last boot in the log (a serial
// log holds many), recognises known console messages with one pass over the
// input (see signatures.go and docs/bootlog.md), and reports findings from
// the shared catalogue with the line numbers and lines that show them.
//
// Analyze streams: memory does not depend on the size of the input, only on
// the longest line it keeps (MaxLine) and a bounded amount of evidence.
package bootlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sshdoctor/sshdoctor/internal/findings"
)

// MaxLine is the longest line analysed whole; a longer line is analysed up
// to MaxLine bytes and the rest is skipped (it still counts as one line).
const MaxLine = 256 << 10

const (
	maxEvidence    = 10   // evidence lines kept per finding
	maxEvidenceLen = 300  // bytes of one evidence line
	maxHitsPerLine = 128  // anchor hits considered in one line
	maxSegment     = 4096 // bytes of a segment cleaned around a hit
	minStatusLines = 5    // service status lines that show the console prints unit status
)

// Report is the analysis of a serial log: its last boot and what stopped it.
type Report struct {
	// Lines and Bytes read; TruncatedLines were longer than MaxLine.
	Lines          int   `json:"lines"`
	Bytes          int64 `json:"bytes"`
	TruncatedLines int   `json:"truncated_lines"`
	// Boots seen in the log (0 for an empty log).
	Boots    int  `json:"boots"`
	LastBoot Boot `json:"last_boot"`
	// Healthy: the last boot reached multi-user or a login prompt, did not
	// shut down, and no error finding stands.
	Healthy bool `json:"healthy"`
	// Verdict is one sentence for people.
	Verdict string `json:"verdict"`
	// RootCause is the most fundamental finding (nil when healthy).
	RootCause *Finding `json:"-"`
	// Coverage says how much of a boot the log shows; Excerpt: it starts
	// inside a boot, so the cause may lie before it (lower confidence).
	Coverage string `json:"coverage"`
	Excerpt  bool   `json:"excerpt"`
	// Findings of the last boot, most fundamental first.
	Findings  []Finding `json:"findings"`
	NextSteps []string  `json:"next_steps"`
}

// Boot describes the last boot. Line numbers are 1-based; 0 means never.
type Boot struct {
	StartLine int `json:"start_line"`
	EndLine   int `json:"end_line"`
	// StartedBy is what marks the boot's start: "kernel" (the Linux banner
	// or command line), "boot_loader" (firmware or GRUB output) or
	// "log_start" (no marker: the log begins inside this boot).
	StartedBy         string `json:"started_by"`
	Kernel            string `json:"kernel,omitempty"`
	KernelLine        int    `json:"kernel_line,omitempty"`
	MultiUserLine     int    `json:"multi_user_line,omitempty"`
	LoginPromptLine   int    `json:"login_prompt_line,omitempty"`
	SSHDStartedLine   int    `json:"sshd_started_line,omitempty"`
	SSHDListeningLine int    `json:"sshd_listening_line,omitempty"`
	ShutdownLine      int    `json:"shutdown_line,omitempty"`
	ReachedMultiUser  bool   `json:"reached_multi_user"`
	LoginPrompt       bool   `json:"login_prompt"`
	SSHDStarted       bool   `json:"sshd_started"`
	// SSHD is sshd's state at the end of the log: running, failed, stopped,
	// not_started (multi-user without sshd while the console shows service
	// status) or not_seen (the log does not say).
	SSHD string `json:"sshd"`
}

// Finding is a catalogue finding with where the log shows it.
type Finding struct {
	findings.Finding
	// Effect says what the finding does to SSH.
	Effect string `json:"effect"`
	// Line is the line that gave the summary; Lines are the line numbers
	// of the evidence, in order.
	Line  int   `json:"line"`
	Lines []int `json:"lines"`
	// MoreLines counts further matching lines not listed.
	MoreLines int `json:"more_lines,omitempty"`
	// Signature names the catalogue variant that gave the summary.
	Signature string `json:"signature,omitempty"`
	// CausedBy names the earlier finding that explains this one (causes):
	// it is a consequence, not a root cause.
	CausedBy string `json:"caused_by,omitempty"`
}

// causes says which findings a finding explains when it comes first in
// the boot: a device manager that failed explains the device timeouts
// and mounts that follow, a corrupt file system the mount that fails on
// it, an unreachable metadata service the provisioning that did not
// happen. A timeout is traced to /etc/fstab only when nothing earlier
// explains it.
var causes = map[string][]string{
	idDeviceMgr: {idFstab, idEmergency, idInitramfs, idUnitFailed, idSSHDNotStart, idNetwork, idCloudInit, idMetadata, idAgent},
	idOOM:       {idDeviceMgr, idFstab, idEmergency, idInitramfs, idUnitFailed, idCloudInit, idAgent, idNetwork, idHung},
	idDiskIO:    {idFS, idFstab, idEmergency, idInitramfs, idHung, idUnitFailed, idSSHDFailed},
	idFS:        {idFstab, idEmergency, idInitramfs, idUnitFailed, idSSHDNotStart, idSSHDFailed},
	idFstab:     {idEmergency, idSSHDNotStart, idUnitFailed},
	idInitramfs: {idEmergency},
	idDiskFull:  {idSSHDFailed, idUnitFailed, idCloudInit, idAgent},
	idSELinux:   {idSSHDFailed, idUnitFailed},
	idNetwork:   {idMetadata, idCloudInit, idAgent},
	idMetadata:  {idCloudInit, idAgent},
	idAgent:     {idCloudInit},
}

// explain marks every finding an earlier finding explains (CausedBy).
func explain(fs []Finding) {
	for i := range fs {
		for j := range fs {
			if i == j || fs[j].Line == 0 || (fs[i].Line > 0 && fs[j].Line > fs[i].Line) || !slices.Contains(causes[fs[j].ID], fs[i].ID) {
				continue
			}
			// Not both ways: the earlier one explains.
			if slices.Contains(causes[fs[i].ID], fs[j].ID) && fs[i].Line > 0 && fs[i].Line < fs[j].Line {
				continue
			}
			fs[i].CausedBy = fs[j].ID
			break
		}
	}
}

type compiled struct {
	sig      *signature
	id       int // index in order, -1 for markers
	re, not  *regexp.Regexp
	needText bool
	expand   bool
}

var (
	table   []compiled
	idIndex = map[string]int{}
	auto    *matcher
)

// compileOnce builds the signature table and the automaton the first
// time a log is analysed, not at program start: a command that never
// reads a boot log (check, --version) does not pay for it.
var compileOnce sync.Once

func compiledTables() { compileOnce.Do(compileTables) }

func compileTables() {
	for i, id := range order {
		if _, ok := findings.Lookup(id); !ok {
			panic("bootlog: unregistered finding " + id)
		}
		idIndex[id] = i
	}
	if len(order) > 64 {
		panic("bootlog: more than 64 finding IDs")
	}
	var anchors []string
	var owners [][]uint16
	seen := map[string]int{}
	names := map[string]bool{}
	for i := range signatures {
		s := &signatures[i]
		c := compiled{sig: s, id: -1}
		if s.ID != "" {
			id, ok := idIndex[s.ID]
			if !ok {
				panic("bootlog: signature " + s.Name + " has unknown ID " + s.ID)
			}
			c.id = id
		}
		if names[s.ID+"/"+s.Name] {
			panic("bootlog: duplicate signature " + s.ID + "/" + s.Name)
		}
		names[s.ID+"/"+s.Name] = true
		if s.Match != "" {
			c.re = regexp.MustCompile(s.Match)
		}
		if s.Not != "" {
			c.not = regexp.MustCompile(s.Not)
		}
		c.expand = strings.Contains(s.Summary, "$")
		c.needText = c.re != nil || c.not != nil || c.id >= 0 || textMark[s.Mark]
		table = append(table, c)
		for _, a := range s.Anchors {
			j, ok := seen[a]
			if !ok {
				j = len(anchors)
				seen[a] = j
				anchors = append(anchors, a)
				owners = append(owners, nil)
			}
			owners[j] = append(owners[j], uint16(i))
		}
	}
	m, err := newMatcher(anchors, owners)
	if err != nil {
		panic("bootlog: " + err.Error())
	}
	auto = m
}

// textMark: marks whose line is kept as evidence of the boot's progress.
var textMark = map[mark]bool{markKernel: true, markShutdown: true, markMultiUser: true, markLogin: true,
	markSSHDUp: true, markSSHDListen: true, markSSHDDown: true, markRelabel: true}

// Progress lines kept per boot (evidence for boot.ok, boot.sshd_stopped…).
const (
	tMultiUser = iota
	tLogin
	tSSHDUp
	tSSHDListen
	tSSHDDown
	tShutdown
	tRelabel
	nText
)

type accum struct {
	seen    bool
	best    int // signature index that gave the summary
	line    int // and its line
	summary string
	hard    bool
	last    int
	lines   []int
	ev      []string
	more    int
}

type bootState struct {
	start      int
	by         string
	kernel     int
	kernelVer  string
	cmdline    int
	inInitrd   bool
	switchRoot int
	multiUser  int
	login      int
	units      int
	sshdUp     int
	sshdListen int
	sshdDown   int
	sshdFail   int
	shutdown   int
	relabel    int
	events     int
	// udev: the line the device manager last showed on; diskWait and
	// consoleWait: the first device timeouts for a disk and a console.
	udev, diskWait, consoleWait int
	text                        [nText][]byte
	textLine                    [nText]int
	acc                         []accum
}

func (b *bootState) reset(line int, by string) {
	acc, text := b.acc, b.text
	for i := range acc {
		acc[i] = accum{lines: acc[i].lines[:0], ev: acc[i].ev[:0]}
	}
	for i := range text {
		text[i] = text[i][:0]
	}
	*b = bootState{start: line, by: by, acc: acc, text: text}
}

func (b *bootState) keep(t int, line int, text []byte) {
	b.text[t] = append(b.text[t][:0], text...)
	b.textLine[t] = line
}

type analyzer struct {
	line      int
	bytes     int64
	truncated int
	boots     int
	cur       bootState
	// consecutive boots before cur that ran an SELinux relabel
	relabelStreak int
	// prev: the first error of the boot before cur (nil: none)
	prev         *prevFailure
	relabelLines []int
	hits         []hit
	scratch      []byte
	// onMatch, when set (tests), sees every signature that matched a line
	onMatch func(sig int, line int)
	// the last non-blank line, for boot.incomplete
	last     []byte
	lastNo   int
	lastCopy []byte
}

func newAnalyzer() *analyzer {
	compiledTables()
	a := &analyzer{boots: 1, hits: make([]hit, 0, maxHitsPerLine)}
	a.cur.acc = make([]accum, len(order))
	a.cur.reset(1, "log_start")
	return a
}

// Analyze reads a serial log to the end and reports on its last boot. A
// read error ends the analysis: the report covers what was read, and the
// error is returned with it.
func Analyze(r io.Reader) (*Report, error) {
	return newAnalyzer().run(r)
}

func (a *analyzer) run(r io.Reader) (*Report, error) {
	buf := make([]byte, MaxLine)
	start, end := 0, 0
	skipping := false // inside a line longer than the buffer
	var rerr error
	for {
		n, err := r.Read(buf[end:])
		a.bytes += int64(n)
		end += n
		for start < end {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i < 0 {
				break
			}
			if skipping {
				skipping = false
			} else {
				a.feed(buf[start : start+i])
			}
			start += i + 1
		}
		if err != nil {
			if start < end && !skipping {
				a.feed(buf[start:end]) // last line without a newline
			}
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
		switch {
		case start == 0 && end == len(buf):
			// A line longer than the buffer: analyse what we have, skip
			// the rest of it.
			if !skipping {
				a.feed(buf[:end])
				a.truncated++
			}
			a.saveLast()
			skipping = true
			start, end = 0, 0
		case start == end:
			a.saveLast()
			start, end = 0, 0
		case end == len(buf):
			a.saveLast()
			end = copy(buf, buf[start:end])
			start = 0
		}
	}
	return a.report(), rerr
}

// saveLast copies the last non-blank line before the buffer is reused.
func (a *analyzer) saveLast() {
	if a.last != nil && (len(a.lastCopy) == 0 || &a.last[0] != &a.lastCopy[0]) {
		a.lastCopy = append(a.lastCopy[:0], a.last...)
		a.last = a.lastCopy
	}
}

// feed analyses one line (without its \n).
func (a *analyzer) feed(l []byte) {
	a.line++
	if len(l) > 1 || len(l) == 1 && l[0] > ' ' {
		a.last, a.lastNo = l, a.line
	}
	a.hits = auto.scan(l, a.hits[:0])
	if len(a.hits) != 0 {
		a.handle(l)
	}
}

func (a *analyzer) handle(l []byte) {
	hs := a.hits
	for i := 1; i < len(hs); i++ { // by signature, then segment
		for j := i; j > 0 && (hs[j].sig < hs[j-1].sig || hs[j].sig == hs[j-1].sig && hs[j].seg < hs[j-1].seg); j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
	var done uint64 // finding IDs already recorded for this line
	found := false
	cleaned := int32(-1)
	var text []byte
	for k, h := range hs {
		if k > 0 && h.sig == hs[k-1].sig && h.seg == hs[k-1].seg {
			continue
		}
		c := &table[h.sig]
		if c.id >= 0 && done&(1<<c.id) != 0 || c.sig.Fallback && found {
			continue
		}
		switch c.sig.Ctx {
		case ctxInitrd:
			if !a.cur.inInitrd {
				continue
			}
		case ctxRoot:
			if a.cur.inInitrd {
				continue
			}
		}
		if c.needText && cleaned != h.seg {
			s, e := int(h.seg), len(l)
			if j := bytes.IndexByte(l[h.end:], cr); j >= 0 {
				e = int(h.end) + j
			}
			if int(h.end)-s > maxSegment/2 {
				s = int(h.end) - maxSegment/2
			}
			e = min(e, s+maxSegment)
			text = clean(a.scratch[:0], l[s:e])
			a.scratch = text
			cleaned = h.seg
		}
		if c.not != nil && c.not.Match(text) || c.re != nil && !c.re.Match(text) {
			continue
		}
		if a.onMatch != nil {
			a.onMatch(int(h.sig), a.line)
		}
		a.apply(int(h.sig), c, text)
		if c.id >= 0 {
			done |= 1 << c.id
			found = true
		}
	}
}

// clean appends src to dst without ANSI escapes and control characters.
func clean(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == esc:
			i = skipEscape(src, i+1)
			continue
		case c == '\t':
			dst = append(dst, ' ')
		case c < 0x20 || c == 0x7f:
		default:
			dst = append(dst, c)
		}
		i++
	}
	for len(dst) > 0 && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

func (a *analyzer) apply(si int, c *compiled, text []byte) {
	s := c.sig
	switch s.Mark {
	case markKernel, markLoader:
		a.bootStart(s.Mark)
	case markCmdline:
		if b := &a.cur; b.kernel == 0 || b.cmdline > 0 {
			a.bootStart(markKernel)
			a.cur.kernel = a.line
		}
		a.cur.cmdline = a.line
	}
	b := &a.cur
	b.events++
	line := a.line
	switch s.Mark {
	case markKernel:
		b.kernel = line
		if m := c.re.FindSubmatch(text); m != nil {
			if v := bytes.Fields(m[0]); len(v) >= 3 {
				b.kernelVer = string(v[2])
			}
		}
	case markShutdown:
		b.shutdown = line
		b.keep(tShutdown, line, text)
	case markInitrd:
		b.inInitrd = true
	case markSwitchRoot:
		b.inInitrd = false
		b.switchRoot = line
	case markMultiUser:
		b.multiUser = line
		b.keep(tMultiUser, line, text)
	case markLogin:
		b.login = line
		b.keep(tLogin, line, text)
	case markUnit:
		b.units++
	case markSSHDUp:
		b.sshdUp = line
		b.keep(tSSHDUp, line, text)
	case markSSHDListen:
		b.sshdListen = line
		b.keep(tSSHDListen, line, text)
	case markSSHDDown:
		b.sshdDown = line
		b.keep(tSSHDDown, line, text)
	case markSSHDFail:
		b.sshdFail = line
	case markRelabel:
		b.relabel = line
		b.keep(tRelabel, line, text)
	case markUdev:
		b.udev = line
	}
	switch s.Name {
	case "device_timeout", "job_timeout":
		if b.diskWait == 0 {
			b.diskWait = line
		}
	case "console_device_timeout":
		if b.consoleWait == 0 {
			b.consoleWait = line
		}
	}
	if c.id < 0 {
		return
	}
	acc := &b.acc[c.id]
	if !acc.seen || si < acc.best {
		acc.seen = true
		acc.best = si
		acc.line = line
		acc.summary = summarize(c, text)
	}
	if s.Hard {
		acc.hard = true
	}
	acc.last = line
	if len(acc.lines) < maxEvidence {
		acc.lines = append(acc.lines, line)
		acc.ev = append(acc.ev, evidence(line, text))
	} else {
		acc.more++
	}
}

// bootStart handles a boot marker: it starts a new boot unless the marker
// belongs to the current one (a kernel after its boot loader, more boot
// loader output, or the first marker of a log that begins with nothing of
// note).
func (a *analyzer) bootStart(kind mark) {
	b := &a.cur
	by := "kernel"
	if kind == markLoader {
		by = "boot_loader"
	}
	switch {
	case b.kernel > 0 || b.shutdown > 0:
	case b.by == "log_start" && b.events == 0:
		b.by, b.start = by, a.line
		return
	case b.by == "log_start":
	default: // a boot started by its loader, no kernel yet
		return
	}
	if b.relabel > 0 {
		a.relabelStreak++
		if len(a.relabelLines) < 5 {
			a.relabelLines = append(a.relabelLines, b.relabel)
		}
	} else {
		a.relabelStreak = 0
		a.relabelLines = a.relabelLines[:0]
	}
	a.boots++
	a.prev = nil
	if b.multiUser == 0 && b.login == 0 {
		// Only a boot that did not come up is evidence for the next
		// one; what a finished boot got past is not.
		a.prev = b.firstError()
	}
	b.reset(a.line, by)
}

// prevFailure is the first error of the boot before the last one.
type prevFailure struct {
	id, summary string
	lines       []int
	ev          []string
}

// firstError is the boot's first finding, in catalogue order, whose
// catalogue severity is error.
func (b *bootState) firstError() *prevFailure {
	for i, id := range order {
		acc := &b.acc[i]
		if !acc.seen {
			continue
		}
		if d, ok := findings.Lookup(id); ok && d.Severity == findings.Error {
			return &prevFailure{id: id, summary: acc.summary, lines: append([]int(nil), acc.lines...), ev: append([]string(nil), acc.ev...)}
		}
	}
	return nil
}

func summarize(c *compiled, text []byte) string {
	s := c.sig.Summary
	if c.expand && c.re != nil {
		if m := c.re.FindSubmatchIndex(text); m != nil {
			for i := 2; i < len(m); i += 2 { // bound what a group adds
				if m[i] >= 0 && m[i+1]-m[i] > 160 {
					m[i+1] = m[i] + 160
				}
			}
			s = string(c.re.Expand(nil, []byte(s), text, m))
		}
	}
	s = unitRE.ReplaceAllStringFunc(s, unitPath)
	return strings.ToValidUTF8(strings.Join(strings.Fields(s), " "), "\uFFFD")
}

// unitRE matches a systemd device unit name, e.g. dev-mapper-rhel\x2droot.device.
var unitRE = regexp.MustCompile(`\bdev-[A-Za-z0-9_\\:.-]+\.device\b`)

// unitPath turns a device unit name back into its path, as
// systemd-escape --unescape --path does: dev-mapper-rhel\x2droot.device
// is /dev/mapper/rhel-root.
func unitPath(u string) string {
	u = strings.TrimSuffix(u, ".device")
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(u); i++ {
		switch {
		case u[i] == '-':
			b.WriteByte('/')
		case u[i] == '\\' && i+3 < len(u) && u[i+1] == 'x':
			if v, err := strconv.ParseUint(u[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
			b.WriteByte(u[i])
		default:
			b.WriteByte(u[i])
		}
	}
	return b.String()
}

func evidence(line int, text []byte) string {
	t := bytes.TrimSpace(text)
	if len(t) > 2*maxEvidenceLen {
		t = t[:2*maxEvidenceLen]
	}
	s := strings.ToValidUTF8(string(t), "\uFFFD")
	if len(s) > maxEvidenceLen {
		n := maxEvidenceLen
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return "line " + strconv.Itoa(line) + ": " + s
}

// explainsSSHD: findings that can be why sshd failed; they stay errors when
// sshd ended failed or stopped, even if the boot went on.
var explainsSSHD = map[string]bool{idDiskFull: true, idFS: true, idDiskIO: true}

// milestone is the line after which a finding of id no longer blocks the
// boot (0: never reached).
func (b *bootState) milestone(id string) int {
	done := max(b.multiUser, b.login)
	switch id {
	case idPanic, idInit, idSSHDFailed, idSSHDStopped, idSSHDNotStart, idShutdown, idIncomplete, idOK, idUnitFailed:
		return 0
	case idGrub:
		return b.kernel
	case idInitramfs:
		return max(b.switchRoot, done)
	}
	return done
}

func (a *analyzer) report() *Report {
	b := &a.cur
	r := &Report{Lines: a.line, Bytes: a.bytes, TruncatedLines: a.truncated, Boots: a.boots}
	if a.line == 0 {
		r.Boots = 0
	}
	up := max(b.sshdUp, b.sshdListen)
	done := max(b.multiUser, b.login)
	r.LastBoot = Boot{
		StartLine: b.start, EndLine: a.line, StartedBy: b.by, Kernel: b.kernelVer, KernelLine: b.kernel,
		MultiUserLine: b.multiUser, LoginPromptLine: b.login, SSHDStartedLine: b.sshdUp, SSHDListeningLine: b.sshdListen,
		ShutdownLine: b.shutdown, ReachedMultiUser: b.multiUser > 0, LoginPrompt: b.login > 0, SSHDStarted: up > 0,
	}
	if a.line == 0 {
		r.LastBoot.StartLine = 0
	}
	var out []Finding
	add := func(id, signature, summary string, lines []int, ev []string, more int) {
		f := Finding{Finding: findings.New(id, summary, "", ev...), Effect: effects[id], Lines: lines, MoreLines: more, Signature: signature}
		if f.Lines == nil {
			f.Lines = []int{}
		} else {
			f.Line = f.Lines[0]
		}
		out = append(out, f)
	}

	// sshd's state at the end of the log.
	sshd := "not_seen"
	switch {
	case b.sshdFail > 0 && b.sshdFail > up:
		// A "Stopped" after a failure is systemd's restart loop, not a
		// stop of a running sshd.
		sshd = "failed"
	case b.sshdDown > up:
		sshd = "stopped"
	case up > 0:
		sshd = "running"
	case done > 0 && b.units >= minStatusLines:
		sshd = "not_started"
	}
	r.LastBoot.SSHD = sshd
	sshdDown := sshd == "failed" || sshd == "stopped"
	if sshd != "failed" {
		b.acc[idIndex[idSSHDFailed]].seen = false // a later start fixed it
	}

	// Findings matched in the log, in catalogue order.
	for i, id := range order {
		acc := &b.acc[i]
		if !acc.seen {
			continue
		}
		sig := table[acc.best].sig
		add(id, sig.Name, acc.summary, append([]int(nil), acc.lines...), append([]string(nil), acc.ev...), acc.more)
		f := &out[len(out)-1]
		f.Line = acc.line
		if sig.Remedy != "" {
			f.Remediation = sig.Remedy
		}
		if m := b.milestone(id); m > acc.last && !acc.hard && f.Severity == findings.Error && !(sshdDown && explainsSSHD[id]) {
			f.Severity = findings.Warning
			f.Summary += fmt.Sprintf(" The boot got past it (line %d).", m)
		}
	}

	// Findings of the boot as a whole.
	if sshd == "stopped" && b.shutdown < b.sshdDown {
		sum, sig := "sshd stopped and was not started again.", "stopped"
		switch t := b.text[tSSHDDown]; {
		case bytes.Contains(t, []byte("Killed process")):
			sum, sig = "The OOM killer killed sshd, and it was not started again.", "oom_killed"
		case bytes.Contains(t, []byte("Main process exited")):
			sum, sig = "sshd exited (crashed or was killed) and was not started again.", "exited"
		}
		add(idSSHDStopped, sig, sum, []int{b.textLine[tSSHDDown]}, []string{evidence(b.textLine[tSSHDDown], b.text[tSSHDDown])}, 0)
	}
	if sshd == "not_started" {
		var lines []int
		var ev []string
		for _, t := range []int{tMultiUser, tLogin} {
			if b.textLine[t] > 0 {
				lines = append(lines, b.textLine[t])
				ev = append(ev, evidence(b.textLine[t], b.text[t]))
			}
		}
		add(idSSHDNotStart, "never_started", fmt.Sprintf("The boot reached multi-user (line %d), and none of its %d service status lines shows sshd starting.", done, b.units), lines, ev, 0)
	}
	if b.relabel > 0 && a.relabelStreak > 0 {
		lines := append(append([]int(nil), a.relabelLines...), b.relabel)
		ev := []string{}
		for _, l := range a.relabelLines {
			ev = append(ev, fmt.Sprintf("line %d: (an earlier boot) SELinux relabel", l))
		}
		ev = append(ev, evidence(b.textLine[tRelabel], b.text[tRelabel]))
		add(idSELinux, "relabel_loop", fmt.Sprintf("SELinux relabels the file systems at every boot: %d boots in a row did.", a.relabelStreak+1), lines, ev, 0)
		out[len(out)-1].Remediation = "Boot once with `selinux=0` (GRUB menu on the serial console) and remove /.autorelabel; if the relabel keeps failing, check the disk has space and the policy package is intact, then `fixfiles -F onboot` once."
	}
	if b.diskWait > 0 && b.consoleWait > 0 && b.udev == 0 && !b.inInitrd {
		// A disk and the console both time out, and the device manager
		// never shows in the boot: no device appears because udev is not
		// running (one missing disk is fstab's; every kind missing is not).
		first := b.diskWait
		if b.consoleWait > 0 && b.consoleWait < first {
			first = b.consoleWait
		}
		add(idDeviceMgr, "never_seen", "Devices time out (a disk, and a console too) and the device manager (udev) never shows in the boot: no device appears because udev is not running or not installed.",
			[]int{first}, []string{fmt.Sprintf("line %d: the first device timeout; no udev line in the boot", first)}, 0)
	}
	if b.shutdown > 0 {
		add(idShutdown, "shutdown", fmt.Sprintf("The last boot ended with a shutdown or reboot (line %d), and no later boot follows in the log.", b.shutdown),
			[]int{b.shutdown}, []string{evidence(b.textLine[tShutdown], b.text[tShutdown])}, 0)
	}
	hasError := false
	for _, f := range out {
		if f.Severity == findings.Error {
			hasError = true
		}
	}
	excerpt := b.by == "log_start" && a.line > 0
	if done == 0 && !hasError && b.shutdown == 0 && a.prev != nil && !excerpt {
		// The last boot shows nothing yet (the log was taken while it
		// ran); the boot before it failed, and that is the evidence.
		p := a.prev
		add(p.id, "previous_boot", fmt.Sprintf("The last boot (from line %d) shows no failure yet, but the boot before it did: %s", b.start, p.summary), p.lines, p.ev, 0)
		hasError = true
	}
	// An excerpt that shows boot messages and nothing wrong at all is
	// judged on what it shows: no failure (it need not reach the end).
	r.Healthy = (done > 0 || (excerpt && b.events > 0 && !hasWarning(out))) && !hasError && b.shutdown == 0
	switch {
	case r.Healthy:
		lines, ev := a.progressEvidence()
		add(idOK, "ok", a.okSummary(sshd), lines, ev, 0)
	case done == 0 && !hasError:
		add(idIncomplete, "incomplete", a.incompleteSummary(), nil, nil, 0)
		f := &out[len(out)-1]
		if a.lastNo > 0 {
			f.Line, f.Lines = a.lastNo, []int{a.lastNo}
			f.Evidence = []string{evidence(a.lastNo, clean(nil, a.last))}
		}
	}
	sortFindings(out)
	explain(out)
	r.Findings = out
	if !r.Healthy {
		r.RootCause = rootCause(out)
	}
	r.Coverage, r.Excerpt = a.coverage()
	r.Verdict, r.NextSteps = verdict(r)
	return r
}

func (a *analyzer) okSummary(sshd string) string {
	if b := &a.cur; b.by == "log_start" && b.multiUser == 0 && b.login == 0 {
		return fmt.Sprintf("The excerpt (%d lines, from inside a boot) shows boot progress and no failure up to line %d.", a.line, a.line)
	}
	b := &a.cur
	var s strings.Builder
	s.WriteString("The last boot came up: it reached ")
	if b.login > 0 {
		fmt.Fprintf(&s, "a login prompt (line %d)", b.login)
	} else {
		fmt.Fprintf(&s, "multi-user (line %d)", b.multiUser)
	}
	switch {
	case b.sshdListen > 0 && sshd == "running":
		fmt.Fprintf(&s, " and sshd is listening (line %d).", b.sshdListen)
	case sshd == "running":
		fmt.Fprintf(&s, " and started sshd (line %d).", b.sshdUp)
	default:
		s.WriteString("; the log does not show sshd starting (the console prints little service status), so check sshd from inside.")
	}
	return s.String()
}

func (a *analyzer) progressEvidence() ([]int, []string) {
	b := &a.cur
	var lines []int
	var ev []string
	for _, t := range []int{tMultiUser, tSSHDUp, tSSHDListen, tLogin} {
		if l := b.textLine[t]; l > 0 && !slices.Contains(lines, l) {
			lines = append(lines, l)
			ev = append(ev, evidence(l, b.text[t]))
		}
	}
	// in line order
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j] < lines[j-1]; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
			ev[j], ev[j-1] = ev[j-1], ev[j]
		}
	}
	return lines, ev
}

func (a *analyzer) incompleteSummary() string {
	b := &a.cur
	switch {
	case a.line == 0:
		return "The serial log is empty: nothing was written to the console (boot diagnostics off, or the VM never started)."
	case b.relabel > 0:
		return fmt.Sprintf("An SELinux relabel is running (line %d): it can take long on big disks, then the VM reboots by itself.", b.relabel)
	case b.inInitrd:
		return fmt.Sprintf("The last boot is still in the initramfs at the end of the log (line %d), with no error shown.", a.line)
	case b.kernel == 0 && b.by == "boot_loader":
		return fmt.Sprintf("The last boot shows only firmware or boot-loader output (from line %d): the kernel had not started.", b.start)
	case b.events == 0 && b.kernel == 0:
		return fmt.Sprintf("None of the %d lines is a boot message sshdoctor knows: the excerpt shows no failure and no boot progress.", a.line)
	}
	return fmt.Sprintf("The last boot stops at line %d without reaching multi-user or a login prompt, and shows no error.", a.line)
}

func sortFindings(fs []Finding) {
	rank := func(f Finding) int { return idIndex[f.ID] }
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && rank(fs[j]) < rank(fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// rootCause: the first error in catalogue order, else the first
// warning — traced back through CausedBy to the earliest finding that
// explains it (which may be a warning: the boot got past it, but not past
// what it caused).
func rootCause(fs []Finding) *Finding {
	byID := map[string]int{}
	for i := range fs {
		byID[fs[i].ID] = i
	}
	for _, sev := range []findings.Severity{findings.Error, findings.Warning} {
		for i := range fs {
			if fs[i].Severity != sev {
				continue
			}
			top := i
			for range len(fs) {
				j, ok := byID[fs[top].CausedBy]
				if fs[top].CausedBy == "" || !ok {
					break
				}
				top = j
			}
			return &fs[top]
		}
	}
	return nil
}

// coverage says how much of a boot the log shows: a log that starts
// inside a boot (an excerpt, as people paste) is analysed for what it
// shows, with that said.
func (a *analyzer) coverage() (string, bool) {
	b := &a.cur
	switch {
	case a.line == 0:
		return "empty", false
	case b.by == "log_start":
		end := "does not reach multi-user or a login prompt"
		if b.multiUser > 0 || b.login > 0 {
			end = "reaches multi-user or a login prompt"
		}
		return fmt.Sprintf("an excerpt: %d lines that start inside a boot (no kernel or boot-loader start) and %s; what happened before line 1 is unknown, so the cause may be earlier than what it shows", a.line, end), true
	}
	return fmt.Sprintf("the whole last boot (lines %d-%d, of %d boots in the log)", b.start, a.line, a.boots), false
}

func verdict(r *Report) (string, []string) {
	var steps []string
	if r.Healthy {
		for _, f := range r.Findings {
			if f.ID == idOK {
				return f.Summary + " Nothing in the boot log stops SSH.", []string{f.Remediation}
			}
		}
	}
	rc := r.RootCause
	if rc == nil { // cannot happen: an unhealthy boot always has a finding
		return "The last boot did not come up.", nil
	}
	v := "The last boot did not come up for SSH: " + rc.Summary
	if rc.Severity != findings.Error && !anyError(r.Findings) {
		v = "The last boot is not known to have come up: " + rc.Summary
	}
	if rc.Line > 0 && !strings.Contains(rc.Summary, "line ") {
		v += fmt.Sprintf(" (line %d)", rc.Line)
	}
	var consequences []string
	for _, f := range r.Findings {
		if f.CausedBy != "" && f.ID != rc.ID {
			consequences = append(consequences, f.ID)
		}
	}
	if len(consequences) > 0 {
		v += " Its consequences: " + strings.Join(consequences, ", ") + "."
	}
	if r.Excerpt {
		v += " (The log is an excerpt that starts inside a boot: the cause may lie before it.)"
	}
	steps = append(steps, rc.Remediation)
	n := 0
	for _, f := range r.Findings {
		if f.ID == rc.ID || f.Severity != findings.Error || f.CausedBy != "" || n == 3 {
			continue
		}
		steps = append(steps, "Also "+f.ID+": "+f.Remediation)
		n++
	}
	if !r.LastBoot.ReachedMultiUser && !r.LastBoot.LoginPrompt && r.LastBoot.SSHD != "running" && r.Lines > 0 {
		steps = append(steps, "Until this is fixed SSH cannot work: reach the guest through the serial console, or repair its OS disk offline on a rescue VM (`az vm repair create -g RG -n VM`, then `az vm repair restore`).")
	}
	return v, steps
}

func anyError(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == findings.Error {
			return true
		}
	}
	return false
}

// hasWarning: a warning finding stands (what an excerpt that shows no
// end of boot must not have to be judged healthy).
func hasWarning(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == findings.Warning {
			return true
		}
	}
	return false
}
