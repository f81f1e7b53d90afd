// Package probe observes an SSH server from the client's side, layer by
// layer: name resolution, TCP, the identification banner, the key-exchange
// offer, the host key, authentication and optionally a session. It records
// what it saw in a Report and judges nothing: package diagnose turns a Report
// into findings, and package render prints them.
package probe

import (
	"fmt"
	"strconv"
	"time"
)

// Report is everything one check observed. A nil layer was not reached.
type Report struct {
	Target  Target         `json:"target"`
	Resolve *ResolveResult `json:"resolve,omitempty"`
	Jump    *JumpResult    `json:"jump,omitempty"`
	TCP     *TCPResult     `json:"tcp,omitempty"`
	Banner  *BannerResult  `json:"banner,omitempty"`
	Kex     *KexResult     `json:"kex,omitempty"`
	HostKey *HostKeyResult `json:"hostkey,omitempty"`
	Auth    *AuthResult    `json:"auth,omitempty"`
	Session *SessionResult `json:"session,omitempty"`
	// Proxy is set when a ProxyCommand carried the connection (no TCP
	// layer of ours then).
	Proxy *ProxyResult `json:"proxy,omitempty"`
	// Identities are the local key sources inspected before authenticating.
	Identities []Identity `json:"identities"`
}

// Target is what was checked, after the client configuration was applied.
type Target struct {
	Input        string `json:"input"`    // as typed
	HostName     string `json:"hostname"` // after HostName in ssh_config
	Port         int    `json:"port"`     //
	User         string `json:"user"`     //
	ProxyJump    string `json:"proxy_jump,omitempty"`
	ProxyCommand string `json:"proxy_command,omitempty"`
	ConfigSource string `json:"config_source"` // "ssh -G" or "built-in parser"
}

// Duration is a time.Duration that encodes to JSON as milliseconds.
type Duration time.Duration

// MarshalJSON encodes the duration as fractional milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	ms := float64(time.Duration(d).Microseconds()) / 1000
	return []byte(formatFloat(ms)), nil
}

// UnmarshalJSON reads fractional milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// ResolveResult records name resolution.
type ResolveResult struct {
	Literal   bool     `json:"literal"`   // the host was an IP address; no lookup was made
	Addresses []string `json:"addresses"` // every A/AAAA answer, in resolver order
	NotFound  bool     `json:"not_found"` // the resolver said the name does not exist
	Error     string   `json:"error,omitempty"`
	Duration  Duration `json:"duration_ms"`
}

// ProxyResult records the ProxyCommand that carried the connection (as
// ssh runs it: /bin/sh -c "exec COMMAND", SSH over its stdin and stdout).
type ProxyResult struct {
	Command string `json:"command"` // after %h %p %r %n %% expansion
	// Error: the command could not be started.
	Error string `json:"error,omitempty"`
	// Exited: it ended on its own (before the connection was done with,
	// or with a non-zero status); ExitCode is its status (-1: killed, when
	// it did not end after the connection was closed).
	Exited   bool     `json:"exited"`
	ExitCode int      `json:"exit_code"`
	Stderr   string   `json:"stderr,omitempty"` // its last 2 KiB
	Duration Duration `json:"duration_ms"`      // until SSH ended
}

// JumpResult records the connection through a ProxyJump host.
type JumpResult struct {
	Host     string   `json:"host"` // user@host:port of the jump host
	Error    string   `json:"error,omitempty"`
	Duration Duration `json:"duration_ms"`
}

// TCPOutcome classifies one connection attempt.
type TCPOutcome string

// TCP outcomes.
const (
	TCPConnected   TCPOutcome = "connected"
	TCPRefused     TCPOutcome = "refused"     // RST in reply to SYN
	TCPTimeout     TCPOutcome = "timeout"     // no reply: filtered
	TCPUnreachable TCPOutcome = "unreachable" // ICMP host/network unreachable or no route
	TCPReset       TCPOutcome = "reset"
	TCPError       TCPOutcome = "error"
)

// TCPAttempt is one connect to one address.
type TCPAttempt struct {
	Address  string     `json:"address"`
	Outcome  TCPOutcome `json:"outcome"`
	Error    string     `json:"error,omitempty"`
	Duration Duration   `json:"duration_ms"`
}

// TCPResult records the attempts, in order, until one connected.
type TCPResult struct {
	Attempts  []TCPAttempt `json:"attempts"`
	Connected string       `json:"connected,omitempty"` // remote address of the connection used
	Local     string       `json:"local,omitempty"`     // our side of it: the source the server sees (before NAT)
}

// BannerOutcome classifies what came back after the TCP connection.
type BannerOutcome string

// Banner outcomes.
const (
	BannerOK      BannerOutcome = "ok"
	BannerClosed  BannerOutcome = "closed"  // EOF before any identification
	BannerReset   BannerOutcome = "reset"   // RST before any identification
	BannerTimeout BannerOutcome = "timeout" // silence
	BannerNotSSH  BannerOutcome = "not_ssh"
	BannerError   BannerOutcome = "error"
)

// BannerResult records the server's identification.
type BannerResult struct {
	Outcome   BannerOutcome `json:"outcome"`
	Version   string        `json:"version,omitempty"`  // the full SSH- line
	Protocol  string        `json:"protocol,omitempty"` // "2.0", "1.99", "1.5"
	Software  string        `json:"software,omitempty"` // e.g. OpenSSH_9.2p1
	PreBanner []string      `json:"pre_banner,omitempty"`
	Error     string        `json:"error,omitempty"`
	Duration  Duration      `json:"duration_ms"`
}

// AlgorithmLists are one side's algorithm preferences.
type AlgorithmLists struct {
	Kex     []string `json:"kex"`
	HostKey []string `json:"hostkey"`
	Ciphers []string `json:"ciphers"`
	MACs    []string `json:"macs"`
}

// KexResult records the key exchange.
type KexResult struct {
	Server *KexInit `json:"server,omitempty"` // the server's KEXINIT, decoded from the wire
	// Client is what the user's ssh client would offer (ssh -G or defaults).
	Client AlgorithmLists `json:"client"`
	// Engine is what sshdoctor offered: Client limited to what x/crypto implements.
	Engine AlgorithmLists `json:"engine"`
	// Completed is true when the exchange got as far as the host key.
	Completed bool `json:"completed"`
	// Negotiated are the algorithms agreed, when known.
	Negotiated *Negotiated `json:"negotiated,omitempty"`
	// ServerClosed is true when the server hung up during the exchange.
	ServerClosed bool     `json:"server_closed,omitempty"`
	Timeout      bool     `json:"timeout,omitempty"`
	Error        string   `json:"error,omitempty"`
	Duration     Duration `json:"duration_ms"`
}

// Negotiated are the algorithms in use after a completed exchange.
type Negotiated struct {
	Kex     string `json:"kex"`
	HostKey string `json:"hostkey"`
	Cipher  string `json:"cipher"`
	MAC     string `json:"mac,omitempty"`
}

// HostKeyVerdict is the known_hosts answer for the server's key.
type HostKeyVerdict string

// Host key verdicts.
const (
	HostKeyMatch       HostKeyVerdict = "match"
	HostKeyUnknown     HostKeyVerdict = "unknown"
	HostKeyChanged     HostKeyVerdict = "changed"
	HostKeyRevoked     HostKeyVerdict = "revoked"
	HostKeyAcceptedNew HostKeyVerdict = "accepted_new"
)

// KnownEntry is a known_hosts line that concerns the host.
type KnownEntry struct {
	File        string `json:"file"`
	Line        int    `json:"line"`
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
}

// CertProblem says why a certificate cannot be accepted.
type CertProblem string

// Certificate problems, in the order OpenSSH checks them.
const (
	CertRevoked        CertProblem = "revoked"         // the key or its CA is @revoked in known_hosts
	CertNoAuthority    CertProblem = "no_authority"    // no @cert-authority line matches the host: ssh quietly uses the plain key
	CertUntrustedCA    CertProblem = "untrusted_ca"    // @cert-authority lines match the host, none names the signing CA
	CertWrongType      CertProblem = "wrong_type"      // a user certificate presented as a host key, or the reverse
	CertNotYetValid    CertProblem = "not_yet_valid"   // now is before ValidAfter
	CertExpired        CertProblem = "expired"         // now is at or after ValidBefore
	CertWrongPrincipal CertProblem = "wrong_principal" // the host or user name is not among the principals
	CertInvalid        CertProblem = "invalid"         // bad CA signature or an unsupported critical option
)

// CertInfo describes an OpenSSH certificate (ssh-keygen -L shows the same).
type CertInfo struct {
	Kind        string     `json:"kind"` // "host" or "user"
	KeyID       string     `json:"key_id"`
	Serial      uint64     `json:"serial"`
	Principals  []string   `json:"principals"`             // empty: any name, as far as the certificate goes
	ValidAfter  *time.Time `json:"valid_after,omitempty"`  // nil: no lower bound
	ValidBefore *time.Time `json:"valid_before,omitempty"` // nil: forever
	CAType      string     `json:"ca_type"`
	CA          string     `json:"ca_fingerprint"` // SHA256:... of the signing CA key
	// Problem is why the certificate cannot be accepted, as far as the
	// client can tell when it is checked; "" = none seen.
	Problem CertProblem `json:"problem,omitempty"`
	Detail  string      `json:"detail,omitempty"`
}

// HostKeyResult records the server's host key and the known_hosts verdict.
// When the server presents a certificate that ssh would not accept, ssh
// falls back to the plain key inside it, and so do Type and Verdict; Cert
// keeps the certificate and why it was not accepted.
type HostKeyResult struct {
	Type        string         `json:"type"`
	Fingerprint string         `json:"fingerprint"` // SHA256:... (of the plain key, for a certificate)
	Verdict     HostKeyVerdict `json:"verdict"`
	// Cert is the host certificate the server presented, if any.
	Cert *CertInfo `json:"cert,omitempty"`
	// CA is the @cert-authority line that trusts Cert (set when the
	// certificate decided the verdict, or named its CA).
	CA *KnownEntry `json:"ca,omitempty"`
	// Authorities are the @cert-authority lines that match the host.
	Authorities []KnownEntry `json:"authorities,omitempty"`
	LookupName  string       `json:"lookup_name"`     // the name looked up in known_hosts ([host]:port)
	Files       []string     `json:"files"`           // known_hosts files read
	Known       []KnownEntry `json:"known,omitempty"` // recorded keys for the host (changed) or the revoked line
	Strict      string       `json:"strict"`          // StrictHostKeyChecking in force
	// IPName and IPMismatch: with CheckHostIP, the address as looked up
	// ([ip]:port) and the different keys known_hosts records for it.
	IPName     string       `json:"ip_name,omitempty"`
	IPMismatch []KnownEntry `json:"ip_mismatch,omitempty"`
	Error      string       `json:"error,omitempty"`
	Duration   Duration     `json:"duration_ms"`
}

// AuthOutcome is how authentication ended.
type AuthOutcome string

// Auth outcomes.
const (
	AuthSuccess      AuthOutcome = "success"
	AuthFailure      AuthOutcome = "failure"      // every usable method was rejected
	AuthDisconnected AuthOutcome = "disconnected" // the server hung up (e.g. too many failures)
	AuthTimeout      AuthOutcome = "timeout"
	AuthNotAttempted AuthOutcome = "not_attempted" // --no-auth: only the methods were asked for
)

// KeyResult is the server's answer to one offered key.
type KeyResult string

// Key results.
const (
	KeyAccepted          KeyResult = "accepted"
	KeyRejected          KeyResult = "rejected"           // the server does not know this key for the user
	KeySignatureRejected KeyResult = "signature_rejected" // the key was acceptable but the signature was not
	KeyPartial           KeyResult = "partial_success"    // accepted; another method is required too
	KeyNotTried          KeyResult = "not_tried"          // the server stopped before it was offered
)

// Identity is one key source the client would use.
type Identity struct {
	Source      string `json:"source"` // "agent" or "file"
	Path        string `json:"path,omitempty"`
	Type        string `json:"type,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// PublicKey is the public half as an authorized_keys line (no
	// comment): what a repair on the VM must authorize.
	PublicKey string    `json:"public_key,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	Explicit  bool      `json:"explicit"`          // named with -i or IdentityFile, not a default path
	Problem   string    `json:"problem,omitempty"` // "too_open", "encrypted", "unreadable", "missing", "filtered"
	Mode      string    `json:"mode,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Result    KeyResult `json:"result,omitempty"` // set for keys offered to the server
	// Cert is set when the identity is a user certificate (KEY-cert.pub,
	// CertificateFile or an agent's certificate).
	Cert *CertInfo `json:"cert,omitempty"`
}

// AuthResult records authentication.
type AuthResult struct {
	Outcome AuthOutcome `json:"outcome"`
	// AllowedMethods is the server's answer to the "none" request.
	AllowedMethods []string `json:"allowed_methods"`
	// LastAllowed is the list from the last failure (it differs after a partial success).
	LastAllowed  []string `json:"last_allowed,omitempty"`
	Method       string   `json:"method,omitempty"` // the method that succeeded
	Password     string   `json:"password,omitempty"`
	PasswordHeld bool     `json:"password_withheld,omitempty"` // not sent: host key unverified
	Banner       string   `json:"banner,omitempty"`            // the server's pre-auth banner message
	Disconnect   string   `json:"disconnect,omitempty"`        // the server's disconnect message
	Error        string   `json:"error,omitempty"`
	Duration     Duration `json:"duration_ms"`
}

// SessionResult records the --exec command.
type SessionResult struct {
	Command    string   `json:"command"`
	Opened     bool     `json:"opened"`
	ExitStatus *int     `json:"exit_status,omitempty"`
	Stdout     string   `json:"stdout"`
	Stderr     string   `json:"stderr"`
	Error      string   `json:"error,omitempty"`
	Duration   Duration `json:"duration_ms"`
	// NotRun: the session ran, but not the command asked for (the marker
	// printed before it never came: ForceCommand, a command= key option,
	// a restricted shell).
	NotRun bool `json:"not_run,omitempty"`
	// Default: no command was asked for; the session ran `true`, as
	// `ssh host true` does, so a forced command that exits 0 still means
	// the user gets in.
	Default bool `json:"default,omitempty"`
}
