package guest

import (
	"fmt"
	"slices"
	"strings"
)

// What current OpenSSH clients (8.8 to 9.9) offer by default (ssh_config(5)
// and myproposal.h), for judging whether sshd's algorithm lists leave any
// in common. PuTTY, WinSCP and the OpenSSH of Windows 10/11 offer subsets
// that overlap these.
var clientDefaults = map[string][]string{
	"kexalgorithms": {"mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
		"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
		"diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256"},
	"ciphers": {"chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"},
	"macs": {"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha1-etm@openssh.com",
		"umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"},
	"hostkeyalgorithms": {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
		"rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com"},
}

// aead ciphers carry their own integrity: no MAC is negotiated with them.
var aead = []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}

// noCommonAlgorithms returns, per list sshd enforces (sshd -T), the ones
// that share nothing with what current clients offer: such a client
// cannot negotiate ("no matching key exchange method found").
func noCommonAlgorithms(eff map[string][]string) []string {
	common := func(key string) []string {
		if len(eff[key]) == 0 {
			return nil
		}
		var out []string
		for _, a := range strings.Split(eff[key][0], ",") {
			if slices.Contains(clientDefaults[key], a) {
				out = append(out, a)
			}
		}
		return out
	}
	var bad []string
	for _, key := range []string{"kexalgorithms", "ciphers", "hostkeyalgorithms"} {
		if len(eff[key]) > 0 && len(common(key)) == 0 {
			bad = append(bad, fmt.Sprintf("%s %s", key, eff[key][0]))
		}
	}
	ciphers := common("ciphers")
	onlyAEAD := len(ciphers) > 0 && !slices.ContainsFunc(ciphers, func(c string) bool { return !slices.Contains(aead, c) })
	if len(eff["macs"]) > 0 && len(common("macs")) == 0 && !onlyAEAD && len(ciphers) > 0 {
		bad = append(bad, "macs "+eff["macs"][0])
	}
	return bad
}
