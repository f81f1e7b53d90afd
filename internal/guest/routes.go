package guest

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// IPv4 routing, as the kernel holds it (/proc/net/route): a VM without a
// default route answers only clients on the networks it is attached to
// (a DHCP client that died, a static configuration without a gateway, a
// hand-typed `ip route del`).

// Route is one IPv4 route.
type Route struct {
	Dev     string       `json:"dev"`
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// parseProcRoute reads /proc/net/route: little-endian hex addresses;
// routes that are not up (flag 0x1) are left out.
func parseProcRoute(text string) []Route {
	var out []Route
	for _, l := range strings.Split(text, "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x1 == 0 {
			continue
		}
		dst, ok1 := hexAddr(f[1])
		gw, ok2 := hexAddr(f[2])
		mask, ok3 := hexAddr(f[7])
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		m := mask.As4()
		bits := 0
		for _, b := range m {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
		r := Route{Dev: f[0], Dst: netip.PrefixFrom(dst, bits).Masked()}
		if !gw.IsUnspecified() {
			r.Gateway = gw
		}
		out = append(out, r)
	}
	return out
}

func hexAddr(h string) (netip.Addr, bool) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, false
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], binary.BigEndian.Uint32(b))
	return netip.AddrFrom4(a), true
}

// ipv6Default says whether /proc/net/ipv6_route holds a default route
// that is up and not a reject route.
func ipv6Default(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" || f[9] == "lo" {
			continue
		}
		if flags, err := strconv.ParseUint(f[8], 16, 32); err == nil && flags&0x1 != 0 && flags&0x200 == 0 {
			return true
		}
	}
	return false
}

// readRoutes gathers the routing facts of this machine.
func readRoutes() (routes []Route, v6Default bool, ok bool) {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, false, false
	}
	v6, _ := os.ReadFile("/proc/net/ipv6_route")
	return parseProcRoute(string(data)), ipv6Default(string(v6)), true
}

// noRouteTo says whether a client at from (invalid: one on the Internet)
// cannot be answered: no default route, and from is on none of the
// attached networks.
func (f *Facts) noRouteTo(from netip.Addr) bool {
	if !f.RoutesKnown || f.IPv6Default {
		return false
	}
	for _, r := range f.Routes {
		if r.Dst.Bits() == 0 || from.IsValid() && r.Dst.Contains(from.Unmap()) {
			return false
		}
	}
	return true
}
