package cachetagging

import (
	"encoding/binary"
	"fmt"

	"github.com/cachetagging/cachetagging/internal/sections"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/phased"
)

// A phase-1 document is output as it leaves phase 1: text, with the
// holes' markers where they go. Fragments and pages are stored as one,
// and the positions of their holes are stored with them, as the stream
// processor saw them: phase 2 jumps from hole to hole instead of scanning,
// a hit can check each hole before it is used, and bytes of trusted HTML
// that merely look like a marker stay text forever.
//
//	uvarint n      the number of holes
//	n times:       uvarint gap (text bytes since the previous hole's end),
//	               uvarint length of the hole's marker
//	content        the text and markers
//
// A stored fragment is 'F' followed by its document.

// mark is a hole's place in content: its offset and length.
type mark struct{ off, n int }

// appendDoc appends the document of content, whose holes are marks
// (ascending, within content; offsets relative to base).
func appendDoc(dst, content []byte, marks []mark, base int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(marks)))
	end := base
	for _, m := range marks {
		dst = binary.AppendUvarint(dst, uint64(m.off-end))
		dst = binary.AppendUvarint(dst, uint64(m.n))
		end = m.off + m.n
	}
	return append(dst, content...)
}

// doc is a decoded document: its hole table, not yet read, and content.
type doc struct {
	table   []byte
	holes   int
	content []byte
}

// decodeDoc reads a document; ok is false for bytes that are not one.
func decodeDoc(b []byte) (doc, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return doc{}, false
	}
	d := doc{holes: int(n)}
	p := k
	end := 0
	for range n {
		gap, k1 := binary.Uvarint(b[p:])
		if k1 <= 0 {
			return doc{}, false
		}
		ln, k2 := binary.Uvarint(b[p+k1:])
		if k2 <= 0 || ln == 0 {
			return doc{}, false
		}
		p += k1 + k2
		if gap > uint64(len(b)) || ln > uint64(len(b)) {
			return doc{}, false
		}
		end += int(gap) + int(ln)
	}
	d.table, d.content = b[k:p], b[p:]
	if end > len(d.content) {
		return doc{}, false
	}
	return d, true
}

// segments iterates over a document: text, then a hole, in order.
type segments struct {
	d   doc
	pos int // in content
	tab int // in table
}

func (d doc) segments() segments { return segments{d: d} }

// next returns the text before the next hole and the hole (nil after the
// last), or ok=false at the end.
func (s *segments) next() (text, hole []byte, ok bool) {
	if s.tab >= len(s.d.table) {
		if s.pos >= len(s.d.content) {
			return nil, nil, false
		}
		text, s.pos = s.d.content[s.pos:], len(s.d.content)
		return text, nil, true
	}
	gap, k1 := binary.Uvarint(s.d.table[s.tab:])
	ln, k2 := binary.Uvarint(s.d.table[s.tab+k1:])
	s.tab += k1 + k2
	start := s.pos + int(gap)
	text, hole = s.d.content[s.pos:start], s.d.content[start:start+int(ln)]
	s.pos = start + int(ln)
	return text, hole, true
}

const fragmentFormat = 'F'

func encodeFragment(content []byte, marks []mark, base int) []byte {
	return appendDoc([]byte{fragmentFormat}, content, marks, base)
}

func decodeFragment(v []byte) (doc, bool) {
	if len(v) == 0 || v[0] != fragmentFormat {
		return doc{}, false
	}
	return decodeDoc(v[1:])
}

// usableFragment is the check every fragment hit passes (tmplcache.Check):
// a value this process cannot use is a miss, rebuilt and stored over.
func (r *Renderer) usableFragment(v []byte) bool {
	d, ok := decodeFragment(v)
	return ok && r.usableHoles(d)
}

// usableHoles reports whether every hole of d can run here: an authentic
// marker under one of this renderer's keys, naming a handler (and, for a
// phased hole, a section) it has. A deploy that renamed a handler, or a
// key rotated out, makes old entries misses, never raw markers on a page.
// The first such entry is logged.
func (r *Renderer) usableHoles(d doc) bool {
	if d.holes == 0 {
		return true
	}
	var err error
	for s := d.segments(); err == nil; {
		_, hole, ok := s.next()
		if !ok {
			break
		}
		if hole != nil {
			err = r.runnable(hole)
		}
	}
	if err != nil && r.unusableLogged.CompareAndSwap(false, true) {
		r.logger.Warn("cachetagging: a cached entry holds holes this process cannot run; "+
			"it is rebuilt (logged once)", "err", err)
	}
	return err == nil
}

// runnable reports why the hole raw cannot run here, if it cannot.
func (r *Renderer) runnable(raw []byte) error {
	c, err := r.holes.Lookup(raw)
	switch {
	case err != nil:
		return err
	case c.Name == sections.HandlerName:
		if len(c.Args) == 0 {
			return phased.ErrBadStash
		}
		if name, _ := c.Args[0].(string); r.sections.Lookup(name) == nil {
			return fmt.Errorf("%w %q", phased.ErrUnknownSection, name)
		}
	case !r.holes.Has(c.Name):
		return fmt.Errorf("%w %q", nocache.ErrUnknownHandler, c.Name)
	}
	return nil
}
