package cachetagging

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// What CachePage stores at a page key is one of:
//
// a page (format 3; when it was stored is in the entry's header):
//
//	'P' 3
//	status    big-endian uint16 (always 200: only those are stored)
//	headers   uvarint count, then per header: name, uvarint value count, values
//	          (every string a uvarint length and its bytes)
//	body      the phase-1 body, a document (phase1.go)
//
// or a vary table, for a page whose responses vary on request headers
// (Django's learn_cache_key): the page itself is stored under the key
// extended with those headers' values.
//
//	'V' 1
//	names     the canonical header names, sorted, separated by '\n'
type storedPage struct {
	status  int
	header  http.Header
	fields  []headerField // header as a list, in the stored order: a hit copies it without ranging over a map
	body    doc           // decoded; to encode: content and marks
	content []byte
	marks   []mark
	usable  atomic.Bool // its holes were found runnable here
}

// pageFormat is the version of the page layout; a page of another is a
// miss, rendered and stored over.
const pageFormat = 3

var errBadPage = errors.New("cachetagging: unreadable stored page")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodePage(p *storedPage) []byte {
	b := make([]byte, 0, 64+len(p.content)+4*len(p.marks))
	b = append(b, 'P', pageFormat)
	b = binary.BigEndian.AppendUint16(b, uint16(p.status))
	names := make([]string, 0, len(p.header))
	for k := range p.header {
		names = append(names, k)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(p.header[k])))
		for _, v := range p.header[k] {
			b = appendString(b, v)
		}
	}
	return appendDoc(b, p.content, p.marks, 0)
}

type pageReader struct {
	b   []byte
	err bool
}

func (r *pageReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pageReader) string() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodePage reads a stored page. The body aliases b. A page whose status
// is not one CachePage stores is unreadable: it is not ours to serve.
func decodePage(b []byte) (*storedPage, error) {
	p := &storedPage{}
	if len(b) < 4 || b[0] != 'P' || b[1] != pageFormat {
		return p, errBadPage
	}
	p.status = int(binary.BigEndian.Uint16(b[2:4]))
	if p.status != http.StatusOK {
		return p, errBadPage
	}
	r := &pageReader{b: b[4:]}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return p, errBadPage
	}
	p.header = make(http.Header, n)
	for range n {
		k := r.string()
		nv := r.uvarint()
		if r.err || nv > uint64(len(r.b)) {
			return p, errBadPage
		}
		vs := make([]string, 0, nv)
		for range nv {
			vs = append(vs, r.string())
		}
		p.header[k] = vs
		p.fields = append(p.fields, headerField{k, vs})
	}
	if r.err {
		return p, errBadPage
	}
	var ok bool
	if p.body, ok = decodeDoc(r.b); !ok {
		return p, errBadPage
	}
	return p, nil
}

// encodeVary and decodeVary write and read a vary table.
func encodeVary(names []string) []byte {
	return append([]byte{'V', 1}, strings.Join(names, "\n")...)
}

func decodeVary(b []byte) ([]string, bool) {
	if !isVary(b) {
		return nil, false
	}
	if len(b) == 2 {
		return nil, true
	}
	return strings.Split(string(b[2:]), "\n"), true
}

// isVary reports a vary table, without reading its names.
func isVary(b []byte) bool { return len(b) >= 2 && b[0] == 'V' && b[1] == 1 }

// pageMemo remembers decoded pages by the identity of their stored bytes,
// for a store in this process (which hands out the same bytes for the same
// entry, never modified): a hit then decodes nothing. The memo holds the
// bytes it is keyed by, so their address cannot be reused while it does.
type pageMemo struct {
	on bool
	mu sync.Mutex
	m  map[*byte]*storedPage
}

const maxPageMemo = 1024

func (m *pageMemo) decode(v []byte) (*storedPage, error) {
	if !m.on || len(v) == 0 {
		return decodePage(v)
	}
	key := &v[0]
	m.mu.Lock()
	p := m.m[key]
	m.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := decodePage(v)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxPageMemo {
		m.m = make(map[*byte]*storedPage) // start over: simpler than LRU
	}
	m.m[key] = p
	m.mu.Unlock()
	return p, nil
}
