package netpolicy

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// chain is one NSG's rules for one direction, indexed for Allowed.
//
// Each match dimension (source and destination address per family, source
// and destination port) is an axis cut into intervals on which every rule
// either always or never matches; service tags are covered too, since
// vnet and load-balancer prefixes are cut points. Each interval carries a
// bitset of the rules matching there (bit i = rules[i], rules in priority
// order). A flow's verdict is then the lowest bit of the AND of one bitset
// per axis and one per protocol: a few binary searches and word ANDs
// instead of a scan of every rule.
type chain struct {
	rules  []crule
	words  int
	protos [nProto][]uint64
	sp, dp axis // keyed by port+1, so that an invalid port (-1) is 0
	src    [2]axis
	dst    [2]axis // [0] IPv4, [1] IPv6
	// srcASG and dstASG list the rules naming each ASG: a flow whose
	// side is a member ORs them into that side's address bitset.
	srcASG, dstASG []asgBits
}

// u128 is an axis key: ports and IPv4 use lo only.
type u128 struct{ hi, lo uint64 }

// axis is a sorted list of interval starts (the first is zero) and their
// bitsets, words per interval. Port and IPv4 axes also keep their bounds
// as 32-bit keys (b32: port+1, or the IPv4 address), which search faster.
type axis struct {
	bounds []u128
	sets   []uint64
	b32    []uint32
}

// narrow fills b32 for a port or IPv4 axis. IPv4 bounds are
// ::ffff:a.b.c.d (or zero, or the address after 255.255.255.255, which
// no key reaches and is dropped); keep a.b.c.d.
func (a *axis) narrow(words int) {
	a.b32 = make([]uint32, 0, len(a.bounds))
	for i, b := range a.bounds {
		if b.hi != 0 || b.lo > 0xffff_ffff_ffff {
			a.bounds, a.sets = a.bounds[:i], a.sets[:i*words]
			break
		}
		a.b32 = append(a.b32, uint32(b.lo))
	}
}

// lookup32 is lookup on b32.
func (a *axis) lookup32(k uint32, words int) []uint64 {
	b := a.b32
	base, n := 0, len(b)
	for n > 1 {
		half := n >> 1
		if b[base+half] <= k {
			base += half
		}
		n -= half
	}
	return a.sets[base*words : (base+1)*words]
}

// lookup returns the bitset of the interval holding k.
func (a *axis) lookup(k u128, words int) []uint64 {
	// The last bound <= k (bounds[0] is zero), by a binary search whose
	// step does not depend on the comparison: no mispredicted branches.
	b := a.bounds
	base, n := 0, len(b)
	for n > 1 {
		half := n >> 1
		if x := b[base+half]; x.hi < k.hi || (x.hi == k.hi && x.lo <= k.lo) {
			base += half
		}
		n -= half
	}
	return a.sets[base*words : (base+1)*words]
}

// buildAxis makes an axis from cut points; in(i, start) says whether rule
// i matches on the interval beginning at start.
func buildAxis(cuts map[u128]bool, n, words int, in func(i int, start u128) bool) axis {
	cuts[u128{}] = true
	var a axis
	for c := range cuts {
		a.bounds = append(a.bounds, c)
	}
	slices.SortFunc(a.bounds, func(x, y u128) int {
		if c := cmp.Compare(x.hi, y.hi); c != 0 {
			return c
		}
		return cmp.Compare(x.lo, y.lo)
	})
	a.sets = make([]uint64, len(a.bounds)*words)
	for j, b := range a.bounds {
		for i := range n {
			if in(i, b) {
				a.sets[j*words+i/64] |= 1 << (i % 64)
			}
		}
	}
	return a
}

// cutPrefix adds the start of p and the address after its end.
func cutPrefix(cuts map[u128]bool, p *pfx) {
	cuts[u128{p.hi, p.lo}] = true
	ehi, elo := p.hi|^p.mhi, p.lo|^p.mlo
	if elo != math.MaxUint64 {
		cuts[u128{ehi, elo + 1}] = true
	} else if ehi != math.MaxUint64 {
		cuts[u128{ehi + 1, 0}] = true
	}
}

func portKey(p int32) u128 { return u128{0, uint64(p + 1)} }

func compileChain(rs []rule, vnet []pfx) chain {
	c := chain{rules: make([]crule, len(rs)), words: (len(rs) + 63) / 64}
	for i, r := range rs {
		c.rules[i] = crule{
			name: r.name, priority: r.priority, allow: r.allow, proto: r.proto,
			src: compileAddrs(r.src), dst: compileAddrs(r.dst),
			sp: portMatch{r.sp.any, r.sp.r}, dp: portMatch{r.dp.any, r.dp.r},
		}
	}
	n, w := len(c.rules), c.words
	for p := range nProto {
		c.protos[p] = make([]uint64, w)
		for i := range c.rules {
			if rp := c.rules[i].proto; rp == protoAny || rp == proto(p) {
				c.protos[p][i/64] |= 1 << (i % 64)
			}
		}
	}
	portAxis := func(get func(*crule) *portMatch) axis {
		cuts := map[u128]bool{}
		for i := range c.rules {
			for _, pr := range get(&c.rules[i]).r {
				cuts[portKey(pr.lo)], cuts[portKey(pr.hi+1)] = true, true
			}
		}
		return buildAxis(cuts, n, w, func(i int, s u128) bool {
			return get(&c.rules[i]).match(int32(s.lo) - 1)
		})
	}
	c.sp = portAxis(func(r *crule) *portMatch { return &r.sp })
	c.dp = portAxis(func(r *crule) *portMatch { return &r.dp })
	c.sp.narrow(w)
	c.dp.narrow(w)
	addrAxis := func(get func(*crule) *addrMatch, v4 bool) axis {
		cuts := map[u128]bool{}
		for _, ps := range [][]pfx{vnet, {lbKey}} {
			for i := range ps {
				if ps[i].v4 == v4 {
					cutPrefix(cuts, &ps[i])
				}
			}
		}
		for i := range c.rules {
			ps := get(&c.rules[i]).pfx
			for j := range ps {
				if ps[j].v4 == v4 {
					cutPrefix(cuts, &ps[j])
				}
			}
		}
		return buildAxis(cuts, n, w, func(i int, s u128) bool {
			sd := side{k: addrKey{s.hi, s.lo, v4}}
			sd.inVNet, sd.isLB = anyContains(vnet, &sd.k), lbKey.contains(&sd.k)
			return get(&c.rules[i]).match(&sd)
		})
	}
	for f, v4 := range []bool{true, false} {
		c.src[f] = addrAxis(func(r *crule) *addrMatch { return &r.src }, v4)
		c.dst[f] = addrAxis(func(r *crule) *addrMatch { return &r.dst }, v4)
	}
	c.src[0].narrow(w)
	c.dst[0].narrow(w)
	c.srcASG = buildASGBits(c.rules, w, func(r *crule) *addrMatch { return &r.src })
	c.dstASG = buildASGBits(c.rules, w, func(r *crule) *addrMatch { return &r.dst })
	return c
}

func compileAddrs(a addrSpec) addrMatch {
	m := addrMatch{any: a.any, vnet: a.vnet, lb: a.lb, internet: a.internet}
	for _, p := range mergePrefixes(a.pfx) {
		m.pfx = append(m.pfx, pfxOf(p))
	}
	for _, id := range a.asg {
		m.asg = append(m.asg, newASGRef(id))
	}
	return m
}

// addr returns the bitset of k's interval on ax ([0] IPv4, [1] IPv6).
func (c *chain) addr(ax *[2]axis, k *addrKey) []uint64 {
	if k.v4 {
		return ax[0].lookup32(uint32(k.lo), c.words)
	}
	return ax[1].lookup(u128{k.hi, k.lo}, c.words)
}

// first returns the index of the first rule matching f, or -1. It does
// not allocate.
func (c *chain) first(f *fctx) int {
	w := c.words
	prot := c.protos[f.proto]
	src := c.addr(&c.src, &f.src.k)
	dst := c.addr(&c.dst, &f.dst.k)
	if (len(f.src.asgs) > 0 && len(c.srcASG) > 0) || (len(f.dst.asgs) > 0 && len(c.dstASG) > 0) {
		return c.firstASG(f, prot, src, dst)
	}
	if f.proto.portless() { // ports do not apply
		for i := range prot {
			if x := prot[i] & src[i] & dst[i]; x != 0 {
				return i*64 + bits.TrailingZeros64(x)
			}
		}
		return -1
	}
	sp := c.sp.lookup32(uint32(f.sp+1), w)
	dp := c.dp.lookup32(uint32(f.dp+1), w)
	for i := range prot {
		if x := prot[i] & src[i] & dst[i] & sp[i] & dp[i]; x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// firstASG is first for a flow with ASG memberships some rule names: the
// rules naming a member ASG join the side's address bitset.
func (c *chain) firstASG(f *fctx, prot, src, dst []uint64) int {
	ports := !f.proto.portless()
	var sp, dp []uint64
	if ports {
		sp = c.sp.lookup32(uint32(f.sp+1), c.words)
		dp = c.dp.lookup32(uint32(f.dp+1), c.words)
	}
	for i := range prot {
		s, d := src[i], dst[i]
		if len(f.src.asgs) > 0 {
			s |= asgWord(c.srcASG, f.src.asgs, i)
		}
		if len(f.dst.asgs) > 0 {
			d |= asgWord(c.dstASG, f.dst.asgs, i)
		}
		x := prot[i] & s & d
		if ports {
			x &= sp[i] & dp[i]
		}
		if x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}
