package cachetagging

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"time"
)

// A stored page (format 1):
//
//	'P' 1
//	created   Unix nanoseconds, big-endian int64
//	status    big-endian uint16
//	flags     bit 0: the body holds holes
//	headers   uvarint count, then per header: name, uvarint value count, values
//	          (every string a uvarint length and its bytes)
//	body      the phase-1 body
type storedPage struct {
	created time.Time
	status  int
	holes   bool
	header  http.Header
	body    []byte
}

var errBadPage = errors.New("cachetagging: unreadable stored page")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodePage(p storedPage) []byte {
	b := make([]byte, 0, 64+len(p.body))
	b = append(b, 'P', 1)
	b = binary.BigEndian.AppendUint64(b, uint64(p.created.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(p.status))
	var flags byte
	if p.holes {
		flags |= 1
	}
	b = append(b, flags)
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
	return append(b, p.body...)
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

// decodePage reads a stored page. The body aliases b.
func decodePage(b []byte) (storedPage, error) {
	var p storedPage
	if len(b) < 13 || b[0] != 'P' || b[1] != 1 {
		return p, errBadPage
	}
	p.created = time.Unix(0, int64(binary.BigEndian.Uint64(b[2:10])))
	p.status = int(binary.BigEndian.Uint16(b[10:12]))
	p.holes = b[12]&1 != 0
	r := &pageReader{b: b[13:]}
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
	}
	if r.err {
		return p, errBadPage
	}
	p.body = r.b
	return p, nil
}
