package netpolicy

import (
	"strings"
)

// Application security groups (ASGs) name sets of NICs instead of
// addresses. cloud.SecurityRule has no field for them, so a rule refers
// to an ASG by listing its resource ID among its address prefixes:
//
//	/subscriptions/…/providers/Microsoft.Network/applicationSecurityGroups/web
//
// No CIDR, address or service tag starts with "/", so the entry is
// unambiguous. ParseNSG puts sourceApplicationSecurityGroups[].id and
// destinationApplicationSecurityGroups[].id there. A flow states its
// NICs' memberships in Flow.SourceASGs and Flow.DestinationASGs.

// IsASG reports whether an address-prefix entry is an application
// security group's resource ID.
func IsASG(prefix string) bool {
	return strings.HasPrefix(strings.TrimSpace(prefix), "/")
}

// ASGName is the last path segment of an ASG resource ID: its name.
func ASGName(id string) string {
	id = strings.TrimRight(strings.TrimSpace(id), "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// asgRef is an ASG named by a rule.
type asgRef struct{ id, name string }

func newASGRef(id string) asgRef {
	id = strings.TrimRight(strings.TrimSpace(id), "/")
	return asgRef{id: id, name: ASGName(id)}
}

// is reports whether membership m (an ID, or a bare name) is this ASG.
// It does not allocate.
func (a *asgRef) is(m string) bool {
	m = strings.TrimSpace(m)
	for len(m) > 1 && m[len(m)-1] == '/' {
		m = m[:len(m)-1]
	}
	if strings.IndexByte(m, '/') >= 0 {
		return strings.EqualFold(m, a.id)
	}
	return m != "" && strings.EqualFold(m, a.name)
}

func anyASG(refs []asgRef, members []string) bool {
	for i := range refs {
		for _, m := range members {
			if refs[i].is(m) {
				return true
			}
		}
	}
	return false
}

// asgBits is, for one ASG, the rules of a chain naming it on one side.
type asgBits struct {
	ref  asgRef
	bits []uint64
}

// buildASGBits indexes the ASGs rules name on one side.
func buildASGBits(rules []crule, words int, get func(*crule) *addrMatch) []asgBits {
	var out []asgBits
	for i := range rules {
		for _, ref := range get(&rules[i]).asg {
			j := -1
			for k := range out {
				if strings.EqualFold(out[k].ref.id, ref.id) {
					j = k
					break
				}
			}
			if j < 0 {
				out = append(out, asgBits{ref: ref, bits: make([]uint64, words)})
				j = len(out) - 1
			}
			out[j].bits[i/64] |= 1 << (i % 64)
		}
	}
	return out
}

// asgWord is word i of the union of the bitsets of the ASGs members
// belongs to.
func asgWord(idx []asgBits, members []string, i int) uint64 {
	var w uint64
	for k := range idx {
		for _, m := range members {
			if idx[k].ref.is(m) {
				w |= idx[k].bits[i]
				break
			}
		}
	}
	return w
}
