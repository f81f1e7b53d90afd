package bootlog

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// matcher finds every anchor of every signature in a line in one pass: an
// Aho-Corasick automaton compiled to a DFA over byte classes, with state
// numbers pre-multiplied by the row width so a step is one table load.
//
// Two bytes are special and never part of an anchor: ESC starts an ANSI
// escape sequence, which is skipped without changing state (so an anchor
// matches across the colour codes systemd puts inside its status lines), and
// CR starts a new segment (a console overwrites a line after \r; each
// segment is matched and reported on its own). Both lead to sentinel states
// numbered above every ordinary state, like the states that report matches,
// so the hot loop tests a single bound.
type matcher struct {
	cls [256]uint8
	// pairs is a bitmap of the byte pairs an anchor can start with (plus
	// ESC or CR followed by anything): at the root state, a position whose
	// pair is not in it cannot start a match and is skipped without a
	// table step. Most positions of most lines are skipped this way.
	pairs [1 << 16 / 64]uint64
	// trans[s+cls[b]] is the next state; s is a row offset (index*stride).
	trans    []uint32
	stride   uint32
	firstOut uint32 // row offset of the first state with outputs
	escState uint32
	crState  uint32
	out      [][]uint16 // by (state-firstOut)/stride: signature indexes
}

// hit is one anchor match: which signature, where its segment starts, and
// where the anchor ends.
type hit struct {
	sig      uint16
	seg, end int32
}

const (
	esc = 0x1b
	cr  = '\r'
)

// newMatcher compiles anchors; owners[i] lists the signatures anchors[i]
// belongs to.
func newMatcher(anchors []string, owners [][]uint16) (*matcher, error) {
	m := &matcher{}
	// Byte classes: 0 for bytes in no anchor, one class per byte used, then
	// ESC and CR.
	ncls := 1
	for _, a := range anchors {
		if a == "" {
			return nil, fmt.Errorf("empty anchor")
		}
		for i := 0; i < len(a); i++ {
			b := a[i]
			if b == esc || b == cr || b == '\n' {
				return nil, fmt.Errorf("anchor %q contains a control byte", a)
			}
			if m.cls[b] == 0 {
				m.cls[b] = uint8(ncls)
				ncls++
			}
		}
	}
	escCls, crCls := ncls, ncls+1
	ncls += 2
	if ncls > 255 {
		return nil, fmt.Errorf("too many byte classes")
	}
	m.cls[esc], m.cls[cr] = uint8(escCls), uint8(crCls)
	stride := ncls

	// The trie, with dense child rows (-1: none).
	type node struct {
		fail int
		out  []uint16
	}
	nodes := []node{{}}
	child := [][]int32{newRow(stride)}
	for ai, a := range anchors {
		if len(a) < 2 {
			return nil, fmt.Errorf("anchor %q is shorter than 2 bytes", a)
		}
		m.setPair(a[0], a[1])
		m.setPair(a[0], esc) // a colour code right after the first byte
		s := 0
		for i := 0; i < len(a); i++ {
			c := int(m.cls[a[i]])
			if child[s][c] < 0 {
				nodes = append(nodes, node{})
				child = append(child, newRow(stride))
				child[s][c] = int32(len(nodes) - 1)
			}
			s = int(child[s][c])
		}
		nodes[s].out = append(nodes[s].out, owners[ai]...)
	}
	// Breadth-first: failure links, outputs inherited along them, and the
	// complete transition function (goto, else the failure state's).
	delta := make([][]int32, len(nodes))
	delta[0] = newRow(stride)
	queue := []int{}
	for c := 0; c < stride; c++ {
		if t := child[0][c]; t >= 0 {
			delta[0][c] = t
			nodes[t].fail = 0
			queue = append(queue, int(t))
		} else {
			delta[0][c] = 0
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		f := nodes[u].fail
		nodes[u].out = mergeOut(nodes[u].out, nodes[f].out)
		delta[u] = newRow(stride)
		for c := 0; c < stride; c++ {
			if t := child[u][c]; t >= 0 {
				delta[u][c] = t
				nodes[t].fail = int(delta[f][c])
				queue = append(queue, int(t))
			} else {
				delta[u][c] = delta[f][c]
			}
		}
	}

	// Renumber: root, states without outputs, states with outputs, then
	// the ESC and CR sentinels.
	n := len(nodes)
	idx := make([]int, n)
	next := 1
	for u := 1; u < n; u++ {
		if len(nodes[u].out) == 0 {
			idx[u] = next
			next++
		}
	}
	firstOut := next
	for u := 1; u < n; u++ {
		if len(nodes[u].out) > 0 {
			idx[u] = next
			m.out = append(m.out, nodes[u].out)
			next++
		}
	}
	escIdx, crIdx := next, next+1
	total := next + 2
	if uint64(total)*uint64(stride) >= 1<<32 {
		return nil, fmt.Errorf("automaton too large")
	}
	m.stride = uint32(stride)
	m.firstOut = uint32(firstOut * stride)
	m.escState = uint32(escIdx * stride)
	m.crState = uint32(crIdx * stride)
	m.trans = make([]uint32, total*stride)
	for u := 0; u < n; u++ {
		row := m.trans[idx[u]*stride : (idx[u]+1)*stride]
		for c := 0; c < stride; c++ {
			row[c] = uint32(idx[delta[u][c]] * stride)
		}
		row[escCls] = m.escState
		row[crCls] = m.crState
	}
	// The sentinels are never stepped from (the scanner restores or resets
	// the state); give them the root's row anyway.
	copy(m.trans[escIdx*stride:], m.trans[:stride])
	copy(m.trans[crIdx*stride:], m.trans[:stride])
	for b := 0; b < 256; b++ {
		m.setPair(esc, byte(b))
		m.setPair(cr, byte(b))
	}
	return m, nil
}

// setPair marks the pair a, b; its key is the pair read as a
// little-endian uint16.
func (m *matcher) setPair(a, b byte) {
	k := uint16(a) | uint16(b)<<8
	m.pairs[k>>6] |= 1 << (k & 63)
}

// pairBit is 1 if the pair keyed k is marked.
func pairBit(pairs *[1 << 16 / 64]uint64, k uint64) uint64 {
	k &= 0xffff
	return pairs[k>>6] >> (k & 63)
}

func newRow(n int) []int32 {
	r := make([]int32, n)
	for i := range r {
		r[i] = -1
	}
	return r
}

func mergeOut(a, b []uint16) []uint16 {
	if len(b) == 0 {
		return a
	}
	out := append(append([]uint16{}, a...), b...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	k := 0
	for i, v := range out {
		if i == 0 || v != out[k-1] {
			out[k] = v
			k++
		}
	}
	return out[:k]
}

// scan appends to hits every anchor occurrence in line (up to
// maxHitsPerLine).
func (m *matcher) scan(line []byte, hits []hit) []hit {
	trans, cls, pairs := m.trans, &m.cls, &m.pairs
	firstOut := m.firstOut
	var s uint32
	seg := 0
	n := len(line)
	i := 0
	for i < n {
		if s == 0 {
			// At the root: skip positions where no anchor can start,
			// seven at a time from one 8-byte load, then one by one.
			// The last byte alone cannot complete an anchor.
			for i+8 <= n {
				w := binary.LittleEndian.Uint64(line[i:])
				if (pairBit(pairs, w)|pairBit(pairs, w>>8)|pairBit(pairs, w>>16)|pairBit(pairs, w>>24)|
					pairBit(pairs, w>>32)|pairBit(pairs, w>>40)|pairBit(pairs, w>>48))&1 != 0 {
					break
				}
				i += 7
			}
			for i+1 < n && pairBit(pairs, uint64(binary.LittleEndian.Uint16(line[i:])))&1 == 0 {
				i++
			}
			if i+1 >= n {
				break
			}
		}
		prev := s
		s = trans[s+uint32(cls[line[i]])]
		i++
		if s >= firstOut {
			switch s {
			case m.escState:
				s = prev
				i = skipEscape(line, i)
			case m.crState:
				s = 0
				seg = i
			default:
				for _, o := range m.out[(s-firstOut)/m.stride] {
					hits = append(hits, hit{sig: o, seg: int32(seg), end: int32(i)})
				}
				if len(hits) >= maxHitsPerLine { // a line made of anchors
					return hits
				}
			}
		}
	}
	return hits
}

// skipEscape returns the index after the ANSI escape sequence whose ESC is
// at i-1: CSI (ESC [ params intermediates final), OSC (ESC ] … BEL or ST),
// or a two- or three-byte escape. It never runs past maxEscape bytes, so
// binary garbage cannot swallow a line.
func skipEscape(b []byte, i int) int {
	const maxEscape = 64
	n := len(b)
	if i >= n {
		return i
	}
	limit := min(n, i+maxEscape)
	switch c := b[i]; {
	case c == '[':
		j := i + 1
		for j < limit && b[j] >= 0x30 && b[j] <= 0x3f {
			j++
		}
		for j < limit && b[j] >= 0x20 && b[j] <= 0x2f {
			j++
		}
		if j < limit && b[j] >= 0x40 && b[j] <= 0x7e {
			j++
		}
		return j
	case c == ']':
		for j := i + 1; j < limit; j++ {
			if b[j] == 0x07 {
				return j + 1
			}
			if b[j] == esc && j+1 < n && b[j+1] == '\\' {
				return j + 2
			}
		}
		return i + 1
	case c >= 0x20 && c <= 0x2f: // ESC ( B and friends
		if i+1 < n {
			return i + 2
		}
		return i + 1
	case c >= 0x30 && c <= 0x7e:
		return i + 1
	}
	return i
}
