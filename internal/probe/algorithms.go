package probe

import (
	"slices"

	"golang.org/x/crypto/ssh"

	"github.com/sshdoctor/sshdoctor/internal/sshconfig"
)

// clientLists are the algorithms the user's own ssh client would offer.
func clientLists(s *sshconfig.Settings) AlgorithmLists {
	return AlgorithmLists{
		Kex:     s.KexAlgorithms,
		HostKey: s.HostKeyAlgorithms,
		Ciphers: s.Ciphers,
		MACs:    s.MACs,
	}
}

// engineLists limits the client's lists to what x/crypto implements, keeping
// the client's order. A list that would become empty falls back to x/crypto's
// own support so the probe can still see how far the server gets; the judge
// compares the server's offer with the client lists, not these.
func engineLists(c AlgorithmLists) AlgorithmLists {
	sup := engineAlgorithms()
	return AlgorithmLists{
		Kex:     intersectOr(c.Kex, sup.KeyExchanges),
		HostKey: intersectOr(c.HostKey, sup.HostKeys),
		Ciphers: intersectOr(c.Ciphers, sup.Ciphers),
		MACs:    intersectOr(c.MACs, sup.MACs),
	}
}

func intersectOr(want, supported []string) []string {
	var out []string
	for _, a := range want {
		if slices.Contains(supported, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return supported
	}
	return out
}

// Supported reports whether sshdoctor's SSH engine implements algorithm a of
// the given kind ("kex", "hostkey", "cipher", "mac").
func Supported(kind, a string) bool {
	sup := engineAlgorithms()
	switch kind {
	case "kex":
		return slices.Contains(sup.KeyExchanges, a)
	case "hostkey":
		return slices.Contains(sup.HostKeys, a)
	case "cipher":
		return slices.Contains(sup.Ciphers, a)
	case "mac":
		return slices.Contains(sup.MACs, a)
	}
	return false
}

// engineAlgorithms is everything x/crypto implements, including what it
// calls insecure: a user who enables ssh-rsa with -o must get it here too.
func engineAlgorithms() ssh.Algorithms {
	sup, ins := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
	return ssh.Algorithms{
		KeyExchanges:   slices.Concat(sup.KeyExchanges, ins.KeyExchanges),
		Ciphers:        slices.Concat(sup.Ciphers, ins.Ciphers),
		MACs:           slices.Concat(sup.MACs, ins.MACs),
		HostKeys:       slices.Concat(sup.HostKeys, ins.HostKeys),
		PublicKeyAuths: slices.Concat(sup.PublicKeyAuths, ins.PublicKeyAuths),
	}
}
