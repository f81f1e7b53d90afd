package sshconfig

import "strings"

// OpenSSHDefaults holds the client default algorithm lists of OpenSSH 9.x, as
// `ssh -G` prints them on OpenSSH 9.2. The built-in parser starts from these
// and applies the +, - and ^ modifiers of the configuration to them.
var OpenSSHDefaults = struct{ HostKeyAlgorithms, KexAlgorithms, Ciphers, MACs, PubkeyAcceptedAlgorithms []string }{
	HostKeyAlgorithms:        strings.Split(defaultKeyAlgorithms, ","),
	PubkeyAcceptedAlgorithms: strings.Split(defaultKeyAlgorithms, ","),
	KexAlgorithms: strings.Split("sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"+
		"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"+
		"ecdh-sha2-nistp384,ecdh-sha2-nistp521,"+
		"diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"+
		"diffie-hellman-group18-sha512,diffie-hellman-group14-sha256", ","),
	Ciphers: strings.Split("chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"+
		"aes128-gcm@openssh.com,aes256-gcm@openssh.com", ","),
	MACs: strings.Split("umac-64-etm@openssh.com,umac-128-etm@openssh.com,"+
		"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"+
		"hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"+
		"hmac-sha2-256,hmac-sha2-512,hmac-sha1", ","),
}

// defaultKeyAlgorithms is both the host key and the public key default.
const defaultKeyAlgorithms = "ssh-ed25519-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp256-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp384-cert-v01@openssh.com," +
	"ecdsa-sha2-nistp521-cert-v01@openssh.com," +
	"sk-ssh-ed25519-cert-v01@openssh.com," +
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com," +
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com," +
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," +
	"ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com," +
	"sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
