package diagnose

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sshdoctor/sshdoctor/internal/findings"
	"github.com/sshdoctor/sshdoctor/internal/probe"
)

// mismatch describes one algorithm category with nothing in common.
type mismatch struct {
	id, what, option, kind string
	client, server         []string
}

// pseudoAlgorithm reports names that signal extensions, not algorithms.
func pseudoAlgorithm(a string) bool {
	return strings.HasPrefix(a, "ext-info-") || strings.HasPrefix(a, "kex-strict-")
}

func real(list []string) []string {
	return slices.DeleteFunc(slices.Clone(list), pseudoAlgorithm)
}

func common(client, server []string) string {
	for _, c := range client {
		if slices.Contains(server, c) {
			return c
		}
	}
	return ""
}

// aead ciphers carry their own integrity; OpenSSH negotiates no MAC for them.
func aead(c string) bool {
	return strings.Contains(c, "gcm") || strings.Contains(c, "poly1305")
}

func (j *judge) mismatches(k *probe.KexResult) []mismatch {
	s, c := k.Server, k.Client
	var out []mismatch
	check := func(id, what, option, kind string, client, server []string) string {
		alg := common(client, real(server))
		if alg == "" {
			out = append(out, mismatch{id, what, option, kind, client, real(server)})
		}
		return alg
	}
	check("kex.no_common_kex", "key exchange", "KexAlgorithms", "kex", c.Kex, s.Kex)
	check("kex.no_common_hostkey", "host key", "HostKeyAlgorithms", "key", c.HostKey, s.HostKey)
	c2s := check("kex.no_common_cipher", "cipher (client to server)", "Ciphers", "cipher", c.Ciphers, s.CiphersClientToServer)
	s2c := check("kex.no_common_cipher", "cipher (server to client)", "Ciphers", "cipher", c.Ciphers, s.CiphersServerToClient)
	if c2s != "" && !aead(c2s) {
		check("kex.no_common_mac", "MAC (client to server)", "MACs", "mac", c.MACs, s.MACsClientToServer)
	}
	if s2c != "" && !aead(s2c) {
		check("kex.no_common_mac", "MAC (server to client)", "MACs", "mac", c.MACs, s.MACsServerToClient)
	}
	if !slices.Contains(s.CompClientToServer, "none") || !slices.Contains(s.CompServerToClient, "none") {
		out = append(out, mismatch{"kex.no_common_compression", "compression", "Compression", "", []string{"none"}, s.CompClientToServer})
	}
	return out
}

// fixFor picks the first server algorithm the user's client implements.
func (j *judge) fixFor(m mismatch) string {
	if m.option == "Compression" {
		return ""
	}
	var supported []string
	if j.o.ClientSupports != nil {
		supported = j.o.ClientSupports(m.kind)
	}
	for _, a := range m.server {
		if supported == nil || slices.Contains(supported, a) {
			return fmt.Sprintf("-o %s=+%s", m.option, a)
		}
	}
	return ""
}

func (j *judge) kex() {
	k := j.r.Kex
	if k == nil {
		return
	}
	if k.Completed {
		if n := k.Negotiated; n != nil {
			j.set(findings.LayerKex, OK, k.Duration, "%s, %s, %s", n.Kex, n.HostKey, n.Cipher)
		} else {
			j.set(findings.LayerKex, OK, k.Duration, "completed")
		}
		return
	}
	if k.Server == nil {
		if k.Error == "" {
			return
		}
		j.set(findings.LayerKex, Fail, k.Duration, "key exchange failed before the server's offer was seen")
		j.add(findings.New("kex.failed", "The key exchange failed.", "", k.Error))
		return
	}
	if ms := j.mismatches(k); len(ms) > 0 {
		m := ms[0]
		fix := j.fixFor(m)
		rem := ""
		if fix != "" {
			rem = fmt.Sprintf("Your ssh client does not enable any %s algorithm the server offers. Connect with `%s` (or add `%s %s` under the Host in ~/.ssh/config); better, update the server to a modern algorithm.",
				m.what, fix, m.option, strings.TrimPrefix(fix, "-o "+m.option+"="))
		}
		j.set(findings.LayerKex, Fail, k.Duration, "no common %s algorithm", m.what)
		j.add(findings.New(m.id, fmt.Sprintf("Client and server share no %s algorithm.", m.what), rem,
			"server offers: "+strings.Join(m.server, ","),
			"client offers: "+strings.Join(m.client, ",")))
		return
	}
	ev := []string{"server kex: " + strings.Join(real(k.Server.Kex), ","), "server host keys: " + strings.Join(k.Server.HostKey, ",")}
	switch {
	case strings.Contains(k.Error, "no common algorithm"):
		j.set(findings.LayerKex, Warn, k.Duration, "your ssh can negotiate; sshdoctor's engine cannot")
		j.add(findings.New("kex.engine_unsupported", "The server's algorithms are fine for your ssh client, but sshdoctor's SSH engine cannot use them, so host key and auth were not checked.", "", append(ev, k.Error)...))
	case k.Timeout:
		j.set(findings.LayerKex, Fail, k.Duration, "key exchange timed out")
		j.add(findings.New("kex.failed", "The server stopped answering during key exchange.", "", append(ev, k.Error)...))
	case k.ServerClosed:
		j.set(findings.LayerKex, Fail, k.Duration, "server closed the connection during key exchange")
		j.add(findings.New("kex.server_rejected", "The server hung up during key exchange.", "", append(ev, k.Error)...))
	default:
		j.set(findings.LayerKex, Fail, k.Duration, "key exchange failed")
		j.add(findings.New("kex.failed", "The key exchange failed.", "", append(ev, k.Error)...))
	}
}

func (j *judge) hostKey() {
	h := j.r.HostKey
	if h == nil {
		return
	}
	key := fmt.Sprintf("%s %s", h.Type, h.Fingerprint)
	if len(h.IPMismatch) > 0 {
		ev := []string{"server presents: " + key, "looked up as " + h.IPName + " (CheckHostIP)"}
		for _, k := range h.IPMismatch {
			ev = append(ev, fmt.Sprintf("known_hosts has for the address: %s:%d %s %s", k.File, k.Line, k.Type, k.Fingerprint))
		}
		f := findings.New("hostkey.ip_mismatch", fmt.Sprintf("known_hosts records another key for the address %s than the server presents (CheckHostIP).", h.IPName),
			fmt.Sprintf("Verify %s on the VM's console; if it is right (the address was reused), remove the address's old entry: `ssh-keygen -R '%s' -f %s`.", h.Fingerprint, h.IPName, h.IPMismatch[0].File), ev...)
		if h.Strict == "yes" || h.Strict == "ask" {
			j.set(findings.LayerHostKey, Fail, h.Duration, "%s: the address %s has another key in known_hosts (CheckHostIP, StrictHostKeyChecking=%s)", key, h.IPName, h.Strict)
			j.add(f)
			return
		}
		f.Severity = findings.Warning
		defer j.add(f)
	}
	c := h.Cert
	if c != nil && c.Problem == "" && h.Verdict == probe.HostKeyMatch && h.CA != nil {
		j.set(findings.LayerHostKey, OK, h.Duration, "%s: certificate signed by CA %s (%s:%d)", key, c.CA, h.CA.File, h.CA.Line)
		return
	}
	// A certificate ssh did not accept: ssh went on with the plain key,
	// whose verdict follows; the certificate's problem blocks only when
	// the plain key does not let ssh connect either.
	certBlocks := h.Verdict != probe.HostKeyMatch && h.Verdict != probe.HostKeyAcceptedNew &&
		(h.Verdict != probe.HostKeyUnknown || h.Strict != "no")
	certFinding, certReported := j.hostCertFinding(h, certBlocks)
	defer func() {
		if certReported {
			j.add(certFinding)
		}
	}()
	switch h.Verdict {
	case probe.HostKeyMatch:
		if certReported {
			j.set(findings.LayerHostKey, Warn, h.Duration, "%s matches known_hosts; its certificate was not accepted (%s)", key, c.Problem)
			return
		}
		j.set(findings.LayerHostKey, OK, h.Duration, "%s matches known_hosts", key)
	case probe.HostKeyAcceptedNew:
		j.set(findings.LayerHostKey, OK, h.Duration, "%s added to %s (accept-new)", key, orDash(first(h.Files)))
		j.add(findings.New("hostkey.accepted_new", "The host key was new and has been recorded.", "", key))
	case probe.HostKeyUnknown:
		ev := []string{key, "looked up as " + h.LookupName + " in: " + orDash(strings.Join(h.Files, " "))}
		if certReported && certBlocks {
			// The certificate was the way this host is trusted; its
			// finding is the cause, not an unknown key.
			j.set(findings.LayerHostKey, Fail, h.Duration, "host certificate not accepted (%s) and the plain key %s is not in known_hosts", c.Problem, h.Fingerprint)
			return
		}
		if h.Strict == "yes" {
			j.set(findings.LayerHostKey, Fail, h.Duration, "%s unknown; StrictHostKeyChecking=yes refuses it", key)
			j.add(findings.New("hostkey.strict_unknown", "The server's host key is not in known_hosts and strict checking refuses unknown keys.", "", ev...))
			return
		}
		j.set(findings.LayerHostKey, Warn, h.Duration, "%s not in known_hosts", key)
		j.add(findings.New("hostkey.unknown", "The server's host key is not in known_hosts yet.",
			fmt.Sprintf("Compare %s with the VM's own (`ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub` on its console), then accept it once with -o StrictHostKeyChecking=accept-new.", h.Fingerprint, hostKeyFileType(h.Type)), ev...))
	case probe.HostKeyChanged:
		var ev []string
		ev = append(ev, "server presents: "+key)
		files := map[string]bool{}
		for _, k := range h.Known {
			ev = append(ev, fmt.Sprintf("known_hosts has: %s:%d %s %s", k.File, k.Line, k.Type, k.Fingerprint))
			files[k.File] = true
		}
		var rm []string
		for f := range files {
			rm = append(rm, fmt.Sprintf("ssh-keygen -R '%s' -f %s", h.LookupName, f))
		}
		slices.Sort(rm)
		j.set(findings.LayerHostKey, Fail, h.Duration, "%s does NOT match %s:%d", key, h.Known[0].File, h.Known[0].Line)
		j.add(findings.New("hostkey.changed",
			fmt.Sprintf("The host key of %s changed since it was recorded at %s:%d — possible man-in-the-middle attack.", h.LookupName, h.Known[0].File, h.Known[0].Line),
			fmt.Sprintf("Do not log in yet. Verify the new fingerprint %s on the VM's console (`ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`). If it matches (VM rebuilt or IP reused), remove the old entry: `%s`.",
				h.Fingerprint, hostKeyFileType(h.Type), strings.Join(rm, " && ")), ev...))
	case probe.HostKeyRevoked:
		ev := []string{key}
		for _, k := range h.Known {
			ev = append(ev, fmt.Sprintf("revoked at %s:%d: %s %s", k.File, k.Line, k.Type, k.Fingerprint))
		}
		if c != nil && c.Problem == probe.CertRevoked {
			ev = append(ev, certEvidence(h)...)
			j.set(findings.LayerHostKey, Fail, h.Duration, "host certificate refused: %s", c.Detail)
			j.add(findings.New("hostkey.revoked", fmt.Sprintf("The server's host certificate is refused: %s in known_hosts; ssh does not fall back to the plain key.", c.Detail),
				"Do not connect; the key or CA was revoked on purpose. Have the server's host key re-signed by a CA that is not revoked, or remove the @revoked line if it is a mistake.", ev...))
			return
		}
		j.set(findings.LayerHostKey, Fail, h.Duration, "%s is @revoked", key)
		j.add(findings.New("hostkey.revoked", "The server presents a host key marked @revoked.", "", ev...))
	}
}

// hostCertFinding words why a host certificate was not accepted; ok is
// false when there is nothing to say (no certificate, accepted, revoked, or
// no @cert-authority line for the host: then ssh quietly uses the plain key).
func (j *judge) hostCertFinding(h *probe.HostKeyResult, blocks bool) (f findings.Finding, ok bool) {
	c := h.Cert
	if c == nil || c.Problem == "" || c.Problem == probe.CertRevoked || c.Problem == probe.CertNoAuthority {
		return f, false
	}
	ev := certEvidence(h)
	then := "ssh falls back to the plain host key, which matches known_hosts."
	if blocks {
		then = "ssh falls back to the plain host key, which known_hosts does not trust, so the connection fails."
	}
	var id, what, rem string
	switch c.Problem {
	case probe.CertExpired:
		id, what = "hostkey.cert_expired", "has expired ("+c.Detail+")"
		rem = fmt.Sprintf("Re-sign the server's host key (`ssh-keygen -s CA_KEY -h -I %s -n %s -V +52w /etc/ssh/ssh_host_%s_key.pub`), install the certificate and restart sshd; check the server's clock.",
			orDash(c.KeyID), principalsOr(c, h), hostKeyFileType(h.Type))
	case probe.CertNotYetValid:
		id, what = "hostkey.cert_not_yet_valid", "is "+c.Detail
		rem = "Check the clocks of this machine and the server (`date -u` on both); re-sign the host key with a validity that starts now (`ssh-keygen -s CA_KEY -h -V -5m:+52w ...`)."
	case probe.CertWrongPrincipal:
		id, what = "hostkey.cert_wrong_principal", "does not name the host: "+c.Detail
		rem = fmt.Sprintf("Connect with a name the certificate lists (%s), or set `HostKeyAlias %s` for this host in ~/.ssh/config, or re-sign the host key with the name added (`ssh-keygen -s CA_KEY -h -n %s,... `).",
			strings.Join(c.Principals, ", "), first(c.Principals), strings.Trim(strings.TrimSuffix(h.LookupName, portSuffix(h.LookupName)), "[]"))
	case probe.CertUntrustedCA:
		id, what = "hostkey.cert_untrusted_ca", "is "+c.Detail
		rem = fmt.Sprintf("If %s is your organisation's host CA, add `@cert-authority PATTERN <its public key>` to ~/.ssh/known_hosts; otherwise the server is not signed by the CA you trust for it: do not log in.", c.CA)
	default:
		id, what = "hostkey.cert_invalid", "is not usable: "+c.Detail
		rem = ""
	}
	f = findings.New(id, fmt.Sprintf("The host certificate of %s %s; %s", h.LookupName, what, then), rem, ev...)
	if !blocks {
		f.Severity = findings.Warning
	}
	return f, true
}

// certEvidence lists a host certificate's facts and the CA lines for the host.
func certEvidence(h *probe.HostKeyResult) []string {
	ev := describeCert(h.Cert)
	for _, a := range h.Authorities {
		ev = append(ev, fmt.Sprintf("@cert-authority for %s at %s:%d: %s %s", h.LookupName, a.File, a.Line, a.Type, a.Fingerprint))
	}
	return ev
}

// describeCert is what ssh-keygen -L would show of a certificate.
func describeCert(c *probe.CertInfo) []string {
	valid := "forever"
	switch {
	case c.ValidAfter != nil && c.ValidBefore != nil:
		valid = "from " + c.ValidAfter.Format(time.RFC3339) + " to " + c.ValidBefore.Format(time.RFC3339)
	case c.ValidAfter != nil:
		valid = "from " + c.ValidAfter.Format(time.RFC3339)
	case c.ValidBefore != nil:
		valid = "until " + c.ValidBefore.Format(time.RFC3339)
	}
	principals := "(none: any)"
	if len(c.Principals) > 0 {
		principals = strings.Join(c.Principals, ",")
	}
	return []string{
		fmt.Sprintf("%s certificate: key ID %q, serial %d, principals %s, valid %s", c.Kind, c.KeyID, c.Serial, principals, valid),
		fmt.Sprintf("signed by CA %s %s", c.CAType, c.CA),
	}
}

func principalsOr(c *probe.CertInfo, h *probe.HostKeyResult) string {
	if len(c.Principals) > 0 {
		return strings.Join(c.Principals, ",")
	}
	return h.LookupName
}

// portSuffix is the ":port" of a known_hosts "[host]:port" name, or "".
func portSuffix(name string) string {
	if strings.HasPrefix(name, "[") {
		if i := strings.LastIndex(name, "]:"); i >= 0 {
			return name[i+1:]
		}
	}
	return ""
}

func hostKeyFileType(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ed25519"
	case strings.Contains(t, "ecdsa"):
		return "ecdsa"
	}
	return "rsa"
}

func describeKey(id probe.Identity) string {
	where := id.Path
	if id.Source == "agent" {
		where = "agent"
		if id.Comment != "" {
			where = "agent: " + id.Comment
		}
	}
	return fmt.Sprintf("%s %s (%s)", id.Type, id.Fingerprint, where)
}

func (j *judge) auth() {
	a := j.r.Auth
	if a == nil {
		return
	}
	user := j.r.Target.User
	allowed := strings.Join(a.AllowedMethods, ",")
	var offered []string
	var accepted, partial *probe.Identity
	for i, id := range j.r.Identities {
		if id.Result != "" && id.Result != probe.KeyNotTried {
			offered = append(offered, fmt.Sprintf("%s: %s", describeKey(id), id.Result))
		}
		switch id.Result {
		case probe.KeyAccepted:
			accepted = &j.r.Identities[i]
		case probe.KeyPartial:
			partial = &j.r.Identities[i]
		}
	}
	ev := append([]string{"server allows: " + orDash(allowed)}, offered...)
	if a.Banner != "" {
		ev = append(ev, "server banner: "+a.Banner)
	}
	switch a.Outcome {
	case probe.AuthSuccess:
		how := a.Method
		if accepted != nil {
			how = "publickey " + describeKey(*accepted)
		}
		j.set(findings.LayerAuth, OK, a.Duration, "%s accepted for %s", how, user)
		j.userCerts(false)
		return
	case probe.AuthNotAttempted:
		j.set(findings.LayerAuth, OK, a.Duration, "server allows %s for %s (not attempted: --no-auth)", orDash(allowed), user)
		return
	case probe.AuthTimeout:
		j.set(findings.LayerAuth, Fail, a.Duration, "timed out")
		j.add(findings.New("auth.failed", "The server stopped answering during authentication.", "", append(ev, a.Error)...))
		return
	case probe.AuthDisconnected:
		if strings.Contains(a.Disconnect, "Too many authentication failures") {
			j.set(findings.LayerAuth, Fail, a.Duration, "disconnected after %d keys: too many authentication failures", len(offered))
			j.add(findings.New("auth.too_many_failures",
				fmt.Sprintf("The server gave up after %d rejected keys (MaxAuthTries) before the right one was offered.", len(offered)),
				fmt.Sprintf("Offer only the right key: `sshdoctor check -o IdentitiesOnly=yes -i ~/.ssh/KEY %s@%s` (same options for ssh), or remove unneeded keys from the agent (`ssh-add -D`).", user, j.r.Target.HostName),
				append(ev, "disconnect: "+a.Disconnect)...))
			return
		}
		j.set(findings.LayerAuth, Fail, a.Duration, "server disconnected: %s", orDash(a.Disconnect))
		j.add(findings.New("auth.failed", "The server closed the connection during authentication.", "", append(ev, a.Error)...))
		return
	}

	// Failure: find the cause, client-side key problems first, since they
	// are why the right key may never have been offered.
	j.set(findings.LayerAuth, Fail, a.Duration, "no method succeeded for %s (server allows %s)", user, orDash(allowed))
	can := func(m string) bool { return slices.Contains(a.AllowedMethods, m) }
	if partial != nil {
		j.add(findings.New("auth.partial_success",
			fmt.Sprintf("The key %s was accepted, but the server also requires: %s.", describeKey(*partial), strings.Join(a.LastAllowed, ",")), "", ev...))
		return
	}
	if a.PasswordHeld {
		j.add(findings.New("auth.password_withheld", "The password was not sent: the host key is not verified.", "", ev...))
		return
	}
	if a.Password == "rejected" {
		j.add(findings.New("auth.password_rejected", fmt.Sprintf("The server rejected the password for %s.", user), "", ev...))
		return
	}
	if j.r.Auth.Password == "not_allowed" {
		j.add(findings.New("auth.password_not_allowed", fmt.Sprintf("You gave a password, but the server allows only %s.", orDash(allowed)), "", ev...))
		return
	}
	if can("publickey") {
		if j.clientKeyProblems() {
			return
		}
		if j.userCerts(true) {
			return
		}
		if len(offered) == 0 {
			j.add(findings.New("auth.no_keys", "The server accepts public keys, but no usable key was found to offer.", "", ev...))
			return
		}
		j.add(findings.New("auth.publickey_rejected",
			fmt.Sprintf("The server does not accept any of your %d key(s) for user %s.", len(offered), user),
			fmt.Sprintf("The VM does not have your public key for %s (or %s is the wrong user for this image: azureuser, ubuntu, ec2-user, debian…). Install the key you offered, on the VM: %s, or from Azure `az vm user update -g RESOURCE_GROUP -n VM_NAME -u %s --ssh-key-value PUBLIC_KEY_FILE`.", user, user, j.guestRepair(true), shellQuote(user)),
			ev...))
		return
	}
	if can("password") || can("keyboard-interactive") {
		j.add(findings.New("auth.password_required", fmt.Sprintf("The server allows only %s, and no password was given.", allowed), "", ev...))
		return
	}
	j.add(findings.New("auth.no_allowed_method", fmt.Sprintf("The server allows only %s, which sshdoctor cannot use.", orDash(allowed)), "", ev...))
}

// userCerts reports the user certificates the server refused, with the
// reason the client can see or the server-side candidates; failed says the
// login failed (the findings are errors then, warnings otherwise). It
// returns true when it reported one.
func (j *judge) userCerts(failed bool) bool {
	user := j.r.Target.User
	found := false
	for _, id := range j.r.Identities {
		c := id.Cert
		if c == nil || (id.Result != probe.KeyRejected && id.Result != probe.KeySignatureRejected) {
			continue
		}
		ev := append([]string{fmt.Sprintf("%s: %s", describeKey(id), id.Result)}, describeCert(c)...)
		var f findings.Finding
		switch c.Problem {
		case probe.CertExpired:
			f = findings.New("auth.cert_expired", fmt.Sprintf("The certificate %s has %s; the server refused it.", id.Path, c.Detail),
				fmt.Sprintf("Get a fresh certificate from your CA (`ssh-keygen -s CA_KEY -I %s -n %s -V +1d %s`, or your CA service's login).", orDash(c.KeyID), strings.Join(c.Principals, ","), strings.TrimSuffix(id.Path, "-cert.pub")+".pub"), ev...)
		case probe.CertNotYetValid:
			f = findings.New("auth.cert_not_yet_valid", fmt.Sprintf("The certificate %s is %s; the server refused it.", id.Path, c.Detail), "", ev...)
		case probe.CertWrongPrincipal:
			f = findings.New("auth.cert_wrong_principal", fmt.Sprintf("The certificate %s does not name %s: %s.", id.Path, user, c.Detail),
				fmt.Sprintf("Log in as one of %s, or have the CA sign the key with principal %s (`-n %s`); a server with AuthorizedPrincipalsFile may map other names.", strings.Join(c.Principals, ", "), user, user), ev...)
		default:
			why := "the server does not trust CA " + c.CA + " (TrustedUserCAKeys, or a cert-authority line in authorized_keys), the key or certificate is in RevokedKeys, or an AuthorizedPrincipalsFile lists none of its principals"
			if len(c.Principals) == 0 {
				why += "; it has no principals, which TrustedUserCAKeys refuses"
			}
			f = findings.New("auth.cert_rejected", fmt.Sprintf("The server refused the certificate %s for %s, which looks valid from here: %s.", id.Path, user, why),
				fmt.Sprintf("On the server, `sshd -T | grep -i -e trustedusercakeys -e revokedkeys -e authorizedprincipals` shows the settings, and its auth log (journalctl -u ssh) says which refused the certificate (serial %d, key ID %q).", c.Serial, c.KeyID), ev...)
		}
		if !failed {
			f.Severity = findings.Warning
		}
		j.add(f)
		found = true
	}
	return found
}

// clientKeyProblems reports local key files ssh would not use; it returns
// true when one of them is the likely reason authentication failed.
func (j *judge) clientKeyProblems() bool {
	found := false
	for _, id := range j.r.Identities {
		switch id.Problem {
		case "too_open":
			found = true
			j.add(findings.New("client.key_permissions", fmt.Sprintf("ssh refuses the key %s: permissions %s are too open.", id.Path, id.Mode),
				fmt.Sprintf("Run `chmod 600 %s` and try again.", id.Path), id.Detail))
		case "encrypted":
			found = true
			j.add(findings.New("client.key_encrypted", fmt.Sprintf("The key %s is passphrase-protected and not in an agent, so it was not tried.", id.Path),
				fmt.Sprintf("Load it into an agent: `eval $(ssh-agent) && ssh-add %s`, then run again.", id.Path), id.Detail))
		case "unreadable", "missing":
			if id.Explicit {
				found = true
				j.add(findings.New("client.key_unreadable", fmt.Sprintf("The identity file %s could not be used.", id.Path), "", id.Detail))
			}
		case "filtered":
			// A warning: other keys may still be offered.
			j.add(findings.New("auth.key_algorithm_refused", fmt.Sprintf("The key %s was not offered: %s.", describeKey(id), id.Detail), "", id.Detail))
		}
	}
	return found
}

func (j *judge) session() {
	s := j.r.Session
	if s == nil {
		if j.r.Auth != nil && j.r.Auth.Outcome == probe.AuthSuccess {
			j.set(findings.LayerSession, Skip, 0, "not opened (--no-session): a server that refuses sessions would go unseen")
		}
		return
	}
	out := s.Stdout + s.Stderr
	ev := []string{"command: " + s.Command}
	if s.ExitStatus != nil {
		ev = append(ev, fmt.Sprintf("exit status: %d", *s.ExitStatus))
	}
	if strings.TrimSpace(out) != "" {
		ev = append(ev, "output: "+strings.TrimSpace(out))
	}
	switch {
	case !s.Opened:
		j.set(findings.LayerSession, Fail, s.Duration, "session refused: %s", s.Error)
		j.add(findings.New("session.refused", "The server refused to open a session.", "", append(ev, s.Error)...))
	case strings.Contains(out, "This account is currently not available"):
		j.set(findings.LayerSession, Fail, s.Duration, "account has a nologin shell")
		j.add(findings.New("session.nologin", fmt.Sprintf("%s logs in, but the shell refuses: the account's shell is nologin.", j.r.Target.User),
			fmt.Sprintf("Give %s a login shell on the VM: %s (or `usermod -s /bin/bash %s`).", j.r.Target.User, j.guestRepair(false), shellQuote(j.r.Target.User)), ev...))
	case strings.Contains(out, "password has expired") || strings.Contains(out, "required to change your password"):
		j.set(findings.LayerSession, Fail, s.Duration, "password expired: the server demands a change")
		j.add(findings.New("session.password_expired", "The account's password has expired.", "", ev...))
	case s.ExitStatus != nil && *s.ExitStatus == 254 && strings.TrimSpace(s.Stdout) == "" && strings.TrimSpace(s.Stderr) != "":
		// sshd's do_nologin prints /etc/nologin and exits 254 before the
		// command runs.
		j.set(findings.LayerSession, Fail, s.Duration, "session ended by /etc/nologin")
		j.add(findings.New("session.nologin_file", "Logins are disabled: sshd printed /etc/nologin and ended the session.", "", ev...))
	case s.Error != "":
		j.set(findings.LayerSession, Fail, s.Duration, "%s", s.Error)
		j.add(findings.New("session.refused", "The session ended abnormally.", "", append(ev, s.Error)...))
	case s.NotRun && s.Default && s.ExitStatus != nil && *s.ExitStatus == 0:
		// ssh host true ends with the forced command's status: 0, in.
		j.set(findings.LayerSession, OK, s.Duration, "a session opens; the server runs its own command (ForceCommand, a command= key option or a restricted shell), which exited 0")
	case s.NotRun && s.Default:
		j.set(findings.LayerSession, Fail, s.Duration, "the session ended with status %s before any command of yours ran", exitText(s.ExitStatus))
		j.add(findings.New("session.forced_command", fmt.Sprintf("A session opens, but it ends with status %s before any command of yours runs: the account's shell refuses (/bin/false, a restricted shell), or the server forces a command (ForceCommand in sshd_config, a command= option on the key) that fails.", exitText(s.ExitStatus)),
			fmt.Sprintf("On the VM, %s names the ForceCommand, the key's command= option or the shell; give the account a login shell or fix the forced command.", j.guestCheck()), ev...))
	case s.NotRun:
		j.set(findings.LayerSession, Fail, s.Duration, "the server ran something else, not `%s`", s.Command)
		j.add(findings.New("session.forced_command", fmt.Sprintf("The server ran another command instead of `%s` (a ForceCommand in sshd_config, a command= option on your key, or a restricted shell): yours never ran.", s.Command), "", ev...))
	case *s.ExitStatus != 0:
		j.set(findings.LayerSession, Fail, s.Duration, "`%s` exited %d", s.Command, *s.ExitStatus)
		j.add(findings.New("session.exit_nonzero", fmt.Sprintf("`%s` exited with status %d.", s.Command, *s.ExitStatus), "", ev...))
	default:
		j.set(findings.LayerSession, OK, s.Duration, "`%s` exited 0", s.Command)
	}
}

func (j *judge) conclude() {
	for _, id := range j.r.Identities {
		if id.Problem == "unreachable" && id.Source == "agent" {
			j.add(findings.New("client.agent_unavailable", "The ssh agent named by SSH_AUTH_SOCK cannot be reached.", "", id.Detail))
		}
	}
	for i := range j.v.Findings {
		f := &j.v.Findings[i]
		if f.Severity == findings.Error && j.v.RootCause == nil {
			j.v.RootCause = f
		}
	}
	a := j.r.Auth
	authOK := a != nil && (a.Outcome == probe.AuthSuccess || a.Outcome == probe.AuthNotAttempted)
	j.v.Works = authOK && j.v.RootCause == nil
	t := j.r.Target
	switch {
	case j.v.Works && a.Outcome == probe.AuthNotAttempted:
		j.v.Diagnosis = fmt.Sprintf("SSH is reachable: %s:%d speaks SSH and allows %s (authentication not attempted).", t.HostName, t.Port, strings.Join(a.AllowedMethods, ","))
	case j.v.Works:
		j.v.Diagnosis = fmt.Sprintf("SSH works: %s@%s accepted %s authentication.", t.User, net.JoinHostPort(strings.Trim(t.HostName, "[]"), strconv.Itoa(t.Port)), a.Method)
	case j.v.RootCause != nil:
		j.v.Diagnosis = j.v.RootCause.Summary
	default:
		j.v.Diagnosis = "The check did not reach authentication; see the layers above."
	}
	seen := map[string]bool{}
	for _, f := range j.v.Findings {
		if f.Severity == findings.Info || seen[f.Remediation] {
			continue
		}
		seen[f.Remediation] = true
		if f.Severity == findings.Error || j.v.Works || j.v.RootCause == nil {
			j.v.NextSteps = append(j.v.NextSteps, f.Remediation)
		}
	}
	if j.v.Findings == nil {
		j.v.Findings = []findings.Finding{}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roundD(d probe.Duration) string {
	return time.Duration(d).Round(10 * time.Millisecond).String()
}

// exitText is an exit status for people: the number, or "unknown" when the
// server sent none.
func exitText(st *int) string {
	if st == nil {
		return "unknown"
	}
	return fmt.Sprint(*st)
}
