package cachetagging

import (
	"context"
	"encoding/binary"
	"fmt"
	"html/template"
	"unsafe"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/phased"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// The names users write, and the internal functions Prepare rewrites
// blocks into (a leading underscore keeps them out of the way).
const (
	identBlock     = "cache_tagging"
	identEndBlock  = "end_cache_tagging"
	identPhased    = "phased"
	identEndPhased = "end_phased"

	fnOpen   = "_cachetagging_open"
	fnBegin  = "_cachetagging_begin"
	fnEnd    = "_cachetagging_end"
	fnHit    = "_cachetagging_hit"
	fnPhased = "_cachetagging_phased"
)

// notPrepared stands in for the block functions until Prepare rewrites
// them away: executing an unprepared block is an error, not a silent
// non-cache.
func notPrepared(name string) func(...any) (string, error) {
	return func(...any) (string, error) {
		return "", fmt.Errorf("cachetagging: %s: %w", name, ErrNotPrepared)
	}
}

func (r *Renderer) transient(k marker.Kind, payload []byte) template.HTML {
	b := marker.Append(make([]byte, 0, marker.Len(len(payload))), k, payload, r.tsigner.Tag(k, payload))
	return template.HTML(unsafe.String(unsafe.SliceData(b), len(b))) // b is never written again
}

// idMarker writes a block's marker without allocating its payload.
func (r *Renderer) idMarker(k marker.Kind, blk *block) template.HTML {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], blk.id)
	return r.transient(k, id[:])
}

// open starts a block: {{ if $h := _cachetagging_open "tmpl:line" KEY ARGS... }}.
// It reads the cache; on a miss a build begins (and a concurrent
// execution of the same block waits for it, bounded).
func (r *Renderer) open(loc string, key any, args ...any) (handle, error) {
	a, err := parseBlockArgs(key, args)
	if err != nil {
		return nil, errAt(loc, err, "")
	}
	opts := [2]tmplcache.SetOption{tmplcache.Tags(a.tags...)}
	n := 1
	if a.ttl > 0 {
		opts[1], n = tmplcache.TTL(a.ttl), 2
	}
	// Template functions cannot see the request's context: store calls are
	// bounded by the cache's timeout instead.
	b, err := r.c.Begin(context.Background(), fragmentPrefix+a.key, opts[:n]...)
	if err != nil {
		return nil, errAt(loc, ErrBadArgument, "%w", err)
	}
	blk := &block{loc: loc, build: b}
	blk.self[0] = blk
	r.blocks.add(blk)
	h := handle(blk.self[:])
	if b.Hit() {
		return h[:0], nil
	}
	// The handler most likely loaded the data before executing the template.
	b.MarkPreRead()
	return h, nil
}

func (r *Renderer) begin(h handle) template.HTML {
	return r.idMarker(marker.Begin, h.block())
}

func (r *Renderer) hit(h handle) template.HTML {
	return r.idMarker(marker.Hit, h.block())
}

// end closes a miss. By now the stream processor must have claimed the
// block (its Begin marker went out before the body): if it did not, the
// marker never reached one — the block is not in HTML text context, or the
// template runs outside ExecuteTemplate.
func (r *Renderer) end(h handle) (template.HTML, error) {
	blk := h.block()
	if !blk.claimed.Load() {
		r.blocks.drop(blk)
		blk.build.Abort()
		return "", errAt(blk.loc, ErrMisplaced,
			"the block's output did not reach Renderer.ExecuteTemplate as HTML text")
	}
	return r.idMarker(marker.End, blk), nil
}

func (r *Renderer) addTags(args ...any) (template.HTML, error) {
	var tags []string
	for _, v := range args {
		var err error
		if tags, err = appendTags(tags, v); err != nil {
			return "", fmt.Errorf("cachetagging: cache_add_tags: %w", err)
		}
	}
	return r.transient(marker.AddTags, encodeTags(tags)), nil
}

func (r *Renderer) prevent() template.HTML {
	return r.transient(marker.Prevent, nil)
}

// phased writes the hole of a phased section: {{ _cachetagging_phased "tmpl:line" "section" STASH... }}.
func (r *Renderer) phased(loc, section string, args ...any) (template.HTML, error) {
	stash, err := phased.Stash(args...)
	if err != nil {
		return "", errAt(loc, ErrBadArgument, "%w", err)
	}
	m, err := r.holes.Marker(phased.HandlerName, phased.Args(section, stash)...)
	if err != nil {
		return "", errAt(loc, ErrBadArgument, "phased: %w", err)
	}
	return m, nil
}

func encodeTags(tags []string) []byte {
	var b []byte
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return b
}

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
