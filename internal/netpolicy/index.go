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
}

// u128 orders axis keys: ports and IPv4 use lo only.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// axis is a sorted list of interval starts (the first is zero) and their
// bitsets, words per interval.
type axis struct {
	bounds []u128
	sets   []uint64
}

// lookup returns the bitset of the interval holding k.
func (a *axis) lookup(k u128, words int) []uint64 {
	lo, hi := 0, len(a.bounds) // last bound <= k
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if k.less(a.bounds[m]) {
			hi = m
		} else {
			lo = m
		}
	}
	return a.sets[lo*words : (lo+1)*words]
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
	return c
}

func compileAddrs(a addrSpec) addrMatch {
	m := addrMatch{any: a.any, vnet: a.vnet, lb: a.lb, internet: a.internet}
	for _, p := range mergePrefixes(a.pfx) {
		m.pfx = append(m.pfx, pfxOf(p))
	}
	return m
}

func fam(k *addrKey) int {
	if k.v4 {
		return 0
	}
	return 1
}

// first returns the index of the first rule matching f, or -1. It does
// not allocate.
func (c *chain) first(f *fctx) int {
	w := c.words
	prot := c.protos[f.proto]
	src := c.src[fam(&f.src.k)].lookup(u128{f.src.k.hi, f.src.k.lo}, w)
	dst := c.dst[fam(&f.dst.k)].lookup(u128{f.dst.k.hi, f.dst.k.lo}, w)
	if f.proto == protoIcmp { // ports do not apply
		for i := range prot {
			if x := prot[i] & src[i] & dst[i]; x != 0 {
				return i*64 + bits.TrailingZeros64(x)
			}
		}
		return -1
	}
	sp := c.sp.lookup(portKey(f.sp), w)
	dp := c.dp.lookup(portKey(f.dp), w)
	for i := range prot {
		if x := prot[i] & src[i] & dst[i] & sp[i] & dp[i]; x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}
