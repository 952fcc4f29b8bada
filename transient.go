package cachetagging

import (
	"encoding/binary"
	"html/template"
	"unsafe"

	"github.com/cachetagging/cachetagging/internal/marker"
)

// Transient markers other than a block's (see blocks.go) carry their
// payload in the clear and an HMAC of it under a random per-process key:
// AddTags (a list of tags) and Prevent (nothing). They are consumed by the
// stream processor and never stored nor sent.

func (r *Renderer) transient(k marker.Kind, payload []byte) template.HTML {
	b := marker.Append(make([]byte, 0, marker.Len(len(payload))), k, payload, r.tsigner.Tag(k, payload))
	return template.HTML(unsafe.String(unsafe.SliceData(b), len(b))) // b is never written again
}

// tagMarkers encodes tags (each a uvarint length and its bytes) into as
// many AddTags markers as it takes to keep every payload within
// marker.MaxTransient: no number of tags turns a marker into text.
func (r *Renderer) tagMarkers(tags []string) template.HTML {
	var out []byte
	var p []byte
	flush := func() {
		out = marker.Append(out, marker.AddTags, p, r.tsigner.Tag(marker.AddTags, p))
		p = p[:0]
	}
	for _, t := range tags {
		n := binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(len(t))) + len(t)
		if len(p) > 0 && len(p)+n > marker.MaxTransient {
			flush()
		}
		p = binary.AppendUvarint(p, uint64(len(t)))
		p = append(p, t...)
	}
	if len(p) > 0 || len(out) == 0 {
		flush()
	}
	return template.HTML(unsafe.String(unsafe.SliceData(out), len(out)))
}

// decodeTags reads an AddTags payload.
func decodeTags(p []byte) []string {
	var tags []string
	for len(p) > 0 {
		n, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < n {
			return tags // cannot happen: the marker is authentic
		}
		tags = append(tags, string(p[k:k+int(n)]))
		p = p[k+int(n):]
	}
	return tags
}
