// Package diagnose judges what a client-side probe observed: it turns a
// probe.Report into per-layer statuses and findings from the shared
// catalogue, and names the root cause. It performs no I/O.
package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// Status of one layer.
type Status string

// Layer statuses, as the text output shows them.
const (
	OK   Status = "ok"   // ✓
	Fail Status = "fail" // ✗
	Warn Status = "warn" // !
	Skip Status = "skip" // - not reached or not requested
)

// LayerStatus is the verdict on one layer.
type LayerStatus struct {
	Layer    findings.Layer `json:"layer"`
	Status   Status         `json:"status"`
	Summary  string         `json:"summary"`
	Duration probe.Duration `json:"duration_ms"`
}

// Verdict is the judged report.
type Verdict struct {
	Layers   []LayerStatus      `json:"layers"`
	Findings []findings.Finding `json:"findings"`
	// RootCause is the first error finding in connection order; nil when SSH works.
	RootCause *findings.Finding `json:"root_cause,omitempty"`
	// Works is true when authentication succeeded (or was skipped on
	// request after the methods were learnt) and no error was found.
	Works     bool     `json:"works"`
	Diagnosis string   `json:"diagnosis"`
	NextSteps []string `json:"next_steps"`
}

// Options tune the judgement.
type Options struct {
	// ClientSupports lists the algorithms of a kind ("kex", "key",
	// "cipher", "mac") the user's ssh client implements (`ssh -Q KIND`),
	// used to suggest an -o fix it will accept. Nil: no suggestion filter.
	ClientSupports func(kind string) []string
	NoAuth         bool
	// Commands: where check ran, for the commands remediations print.
	Commands Commands
}

type judge struct {
	r   *probe.Report
	o   Options
	v   *Verdict
	lay map[findings.Layer]*LayerStatus
}

// Judge returns the verdict on r.
func Judge(r *probe.Report, o Options) *Verdict {
	j := &judge{r: r, o: o, v: &Verdict{}, lay: map[findings.Layer]*LayerStatus{}}
	j.resolve()
	j.jump()
	j.proxy()
	j.tcp()
	j.banner()
	j.kex()
	j.hostKey()
	j.auth()
	j.session()
	for _, l := range findings.ClientLayers {
		if ls, ok := j.lay[l]; ok {
			j.v.Layers = append(j.v.Layers, *ls)
		}
	}
	j.conclude()
	return j.v
}

func (j *judge) set(l findings.Layer, st Status, d probe.Duration, format string, a ...any) {
	j.lay[l] = &LayerStatus{Layer: l, Status: st, Summary: fmt.Sprintf(format, a...), Duration: d}
}

func (j *judge) add(f findings.Finding) {
	f.Remediation = j.contextualize(f.Remediation)
	j.v.Findings = append(j.v.Findings, f)
}

func (j *judge) resolve() {
	res := j.r.Resolve
	if res == nil {
		return
	}
	host := j.r.Target.HostName
	switch {
	case strings.Contains(res.Error, "AddressFamily"):
		j.set(findings.LayerResolve, Fail, res.Duration, "%s", res.Error)
		j.add(findings.New("dns.no_address", "No address of the family you asked for: "+res.Error+".",
			"Drop -4/-6 (AddressFamily), or connect to an address of that family.", res.Error))
	case res.Literal:
		j.set(findings.LayerResolve, OK, res.Duration, "%s (IP address, no lookup)", res.Addresses[0])
	case res.NotFound:
		j.set(findings.LayerResolve, Fail, res.Duration, "%s: no such host", host)
		j.add(findings.New("dns.no_such_host", fmt.Sprintf("The name %s does not exist in DNS.", host), "", res.Error))
	case res.Error != "":
		j.set(findings.LayerResolve, Fail, res.Duration, "%s: lookup failed", host)
		j.add(findings.New("dns.failure", fmt.Sprintf("Looking up %s failed.", host), "", res.Error))
	case len(res.Addresses) == 0:
		j.set(findings.LayerResolve, Fail, res.Duration, "%s: no addresses", host)
		j.add(findings.New("dns.no_address", fmt.Sprintf("%s has no A or AAAA record.", host), ""))
	default:
		j.set(findings.LayerResolve, OK, res.Duration, "%s → %s", host, strings.Join(res.Addresses, ", "))
	}
}

func (j *judge) jump() {
	jr := j.r.Jump
	if jr == nil {
		return
	}
	if jr.Error != "" {
		j.set(findings.LayerJump, Fail, jr.Duration, "%s: %s", jr.Host, jr.Error)
		j.add(findings.New("jump.failed", fmt.Sprintf("The jump host %s could not be used.", jr.Host),
			fmt.Sprintf("Run `sshdoctor check %s` to see why the jump host fails.", jr.Host), jr.Error))
		return
	}
	j.set(findings.LayerJump, OK, jr.Duration, "logged in to %s", jr.Host)
}

// proxy judges the ProxyCommand that carried the connection: it failed
// when it could not start, or ended with an error before the server's
// identification arrived. TCP was the command's business: not observed.
func (j *judge) proxy() {
	p := j.r.Proxy
	if p == nil {
		return
	}
	ev := []string{"ProxyCommand: " + orDash(p.Command)}
	if p.Exited {
		ev = append(ev, fmt.Sprintf("it exited with status %d", p.ExitCode))
	}
	if p.Stderr != "" {
		ev = append(ev, "its stderr: "+lastLines(p.Stderr, 5))
	}
	noBanner := j.r.Banner == nil || j.r.Banner.Outcome != probe.BannerOK
	switch {
	case p.Error != "":
		j.set(findings.LayerJump, Fail, p.Duration, "ProxyCommand could not run: %s", p.Error)
		j.add(findings.New("proxy.failed", "The ProxyCommand could not be run: "+p.Error, "", ev...))
	case noBanner && (p.Exited || p.Stderr != ""):
		what := "ended"
		if p.Exited && p.ExitCode != 0 {
			what = fmt.Sprintf("exited with status %d", p.ExitCode)
		}
		summary := fmt.Sprintf("The ProxyCommand %s before the server's SSH identification came through it", what)
		if p.Stderr != "" {
			summary += ": " + firstLine(p.Stderr)
		}
		j.set(findings.LayerJump, Fail, p.Duration, "ProxyCommand %s", what)
		j.add(findings.New("proxy.failed", summary+".", "", ev...))
	default:
		j.set(findings.LayerJump, OK, p.Duration, "through ProxyCommand `%s` (TCP is the command's: not observed directly)", p.Command)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func (j *judge) tcp() {
	t := j.r.TCP
	if t == nil || len(t.Attempts) == 0 {
		return
	}
	var total probe.Duration
	var ev []string
	for _, a := range t.Attempts {
		total += a.Duration
		line := fmt.Sprintf("%s: %s", a.Address, a.Outcome)
		if a.Error != "" {
			line += " (" + a.Error + ")"
		}
		ev = append(ev, line)
	}
	if t.Connected != "" {
		j.set(findings.LayerTCP, OK, total, "connected to %s from %s", t.Connected, orDash(t.Local))
		return
	}
	last := t.Attempts[len(t.Attempts)-1]
	port := j.r.Target.Port
	via := ""
	if j.r.Jump != nil {
		via = " (seen from the jump host)"
	}
	switch last.Outcome {
	case probe.TCPRefused:
		j.set(findings.LayerTCP, Fail, total, "%s refused (RST)%s", last.Address, via)
		j.add(findings.New("tcp.refused", fmt.Sprintf("Nothing accepts connections on TCP/%d: the host answered with a reset.", port),
			fmt.Sprintf("sshd is not running or not listening on port %d. If you know sshd's port, pass it with -p. On the VM (its serial console, or run-command), see why with %s and start sshd again, repaired, with %s.", port, j.guestCheck(), j.guestRepair(false)), ev...))
	case probe.TCPTimeout:
		j.set(findings.LayerTCP, Fail, total, "%s timed out: no reply (filtered)%s", last.Address, via)
		j.add(findings.New("tcp.timeout", fmt.Sprintf("TCP/%d gets no answer at all: packets are dropped on the way, or the VM is off.", port),
			fmt.Sprintf("A cloud firewall (NSG) or a guest firewall drops TCP/%d from your address, a route black-holes it, or the VM is stopped: run %s, or %s on the VM's console.", port, j.cloudCheck(), j.guestCheck()), ev...))
	case probe.TCPUnreachable:
		j.set(findings.LayerTCP, Fail, total, "%s unreachable%s", last.Address, via)
		j.add(findings.New("tcp.unreachable", fmt.Sprintf("%s cannot be reached: host or network unreachable.", last.Address), "", ev...))
	case probe.TCPReset:
		j.set(findings.LayerTCP, Fail, total, "%s reset during connect%s", last.Address, via)
		j.add(findings.New("tcp.reset", "The connection was reset while it was being set up.", "", ev...))
	default:
		j.set(findings.LayerTCP, Fail, total, "%s: %s%s", last.Address, last.Error, via)
		j.add(findings.New("tcp.error", "The TCP connection failed.", "", ev...))
	}
}

func (j *judge) banner() {
	b := j.r.Banner
	if b == nil {
		return
	}
	port := j.r.Target.Port
	switch b.Outcome {
	case probe.BannerOK:
		if b.Protocol != "2.0" && b.Protocol != "1.99" {
			j.set(findings.LayerBanner, Fail, b.Duration, "%s (protocol %s only)", b.Version, b.Protocol)
			j.add(findings.New("ssh.protocol_1", "The server speaks only SSH protocol "+b.Protocol+".", "", b.Version))
			return
		}
		j.set(findings.LayerBanner, OK, b.Duration, "%s", b.Version)
	case probe.BannerNotSSH:
		j.set(findings.LayerBanner, Fail, b.Duration, "not SSH: %q", first(b.PreBanner))
		j.add(findings.New("ssh.not_ssh", fmt.Sprintf("Port %d answers, but not with SSH: %s.", port, guessService(b.PreBanner)),
			fmt.Sprintf("Port %d belongs to another service. Find sshd's port with %s on the VM and pass it with -p.", port, j.guestCheck()), b.PreBanner...))
	case probe.BannerTimeout:
		j.set(findings.LayerBanner, Fail, b.Duration, "no identification string within %s", roundD(b.Duration))
		j.add(findings.New("ssh.banner_timeout", "The server accepted the TCP connection but never sent an SSH identification.", "", "connected, then silence for "+roundD(b.Duration)))
	case probe.BannerClosed, probe.BannerReset:
		how := "closed"
		if b.Outcome == probe.BannerReset {
			how = "reset"
		}
		if len(b.PreBanner) > 0 {
			said := strings.Join(b.PreBanner, " / ")
			j.set(findings.LayerBanner, Fail, b.Duration, "server said %q and %s the connection", said, how)
			j.add(findings.New("ssh.closed_before_banner", fmt.Sprintf("The server refused the connection before the SSH banner, saying %q.", said),
				closedRemedy(said), append(b.PreBanner, orDash(b.Error))...))
			return
		}
		j.set(findings.LayerBanner, Fail, b.Duration, "connection %s before the SSH banner after %s", how, roundD(b.Duration))
		rem := ""
		if d := time.Duration(b.Duration); d > 4900*time.Millisecond && d < 6*time.Second {
			// libwrap's refuse() sleeps 5 s before closing: a fingerprint.
			rem = "The 5-second pause before the close is the signature of TCP wrappers: /etc/hosts.deny (or a missing /etc/hosts.allow entry) refuses your address. See which line with " + j.guestCheck() + " on the VM."
		}
		j.add(findings.New("ssh.closed_before_banner", fmt.Sprintf("The server accepted TCP/%d, then %s the connection without a word after %s.", port, how, roundD(b.Duration)), rem, orDash(b.Error)))
	default:
		j.set(findings.LayerBanner, Fail, b.Duration, "reading the banner failed: %s", b.Error)
		j.add(findings.New("ssh.closed_before_banner", "Reading the server's identification failed.", "", b.Error))
	}
}

// closedRemedy names the cause when sshd said why it hung up.
func closedRemedy(said string) string {
	switch {
	case strings.Contains(said, "MaxStartups"):
		return "sshd is at its MaxStartups limit of unauthenticated connections (a scan, a flood, or clients hanging at login). Wait and retry; on the VM check `ss -tn state syn-recv sport = :22`, raise MaxStartups or block the flood source."
	case strings.Contains(strings.ToLower(said), "penalty"), strings.Contains(said, "Not allowed at this time"):
		return "sshd's PerSourcePenalties blocks your address after repeated failures. Wait for the penalty to expire, or on the VM add your address to PerSourcePenaltyExemptList."
	}
	return ""
}

func guessService(lines []string) string {
	l := first(lines)
	switch {
	case strings.HasPrefix(l, "HTTP/"):
		return "an HTTP server"
	case strings.HasPrefix(l, "220"):
		return "an SMTP or FTP server"
	case strings.HasPrefix(l, "+OK"), strings.HasPrefix(l, "* OK"):
		return "a mail (POP3/IMAP) server"
	case strings.HasPrefix(l, "RFB"):
		return "a VNC server"
	}
	return fmt.Sprintf("it sent %q", l)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
