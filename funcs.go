package cachetagging

import (
	"fmt"
	"html/template"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/internal/sections"
)

// The names users write, and the internal functions Prepare rewrites
// blocks into (a leading underscore keeps them out of the way).
const (
	identBlock     = "cache_tagging"
	identEndBlock  = "end_cache_tagging"
	identPhased    = "phased"
	identEndPhased = "end_phased"
	identAddTags   = "cache_add_tags"
	identPrevent   = "cache_tagging_prevent"
	identNocache   = "nocache"

	fnPrefix  = "_cachetagging_"
	fnHit     = fnPrefix + "hit_"  // + a per-block suffix
	fnOpen    = fnPrefix + "open_" // + a per-block suffix
	fnEnd     = fnPrefix + "end"
	fnAddTags = fnPrefix + "add_tags"
	fnPrevent = fnPrefix + "prevent"
	fnPhased  = fnPrefix + "phased"
)

// FuncMap returns the template functions: cache_tagging,
// end_cache_tagging, cache_add_tags, cache_tagging_prevent, cache_timeout,
// cache_grace, cache_digest, nocache, phased and end_phased, plus the
// internal ones Prepare rewrites blocks into. Add it with Funcs before
// parsing.
func (r *Renderer) FuncMap() template.FuncMap {
	return template.FuncMap{
		identBlock:      notPrepared(identBlock),
		identEndBlock:   notPrepared(identEndBlock),
		identPhased:     notPrepared(identPhased),
		identEndPhased:  notPrepared(identEndPhased),
		identAddTags:    notPrepared(identAddTags),
		identPrevent:    notPrepared(identPrevent),
		identNocache:    r.nocache,
		"cache_timeout": cacheTimeout,
		"cache_grace":   cacheGrace,
		"cache_digest":  cacheDigest,
		fnEnd:           r.end,
		fnAddTags:       r.addTags,
		fnPrevent:       r.prevent,
		fnPhased:        r.phased,
	}
}

// notPrepared stands in for the block functions until Prepare rewrites
// them away: executing an unprepared block is an error, not a silent
// non-cache.
func notPrepared(name string) func(...any) (string, error) {
	return func(...any) (string, error) {
		return "", fmt.Errorf("cachetagging: %s: %w", name, ErrNotPrepared)
	}
}

// executing reports whether some ExecuteTemplate of r is running: the
// functions that write markers refuse to when none is, so a prepared
// template executed with Template.Execute fails before writing any. (One
// executed that way while an ExecuteTemplate of r runs concurrently is not
// caught: its output may hold markers, and its blocks are dropped after a
// minute.)
func (r *Renderer) executing() bool { return r.active.Load() > 0 }

// end closes a miss. By now the stream processor must have claimed the
// block (its Begin marker went out before the body): if it did not, the
// marker never reached one — the block is not in HTML text context, or the
// template runs outside ExecuteTemplate.
func (r *Renderer) end(blk *block) (template.HTML, error) {
	if !blk.claimed.Load() {
		r.blocks.drop(blk)
		blk.build.Abort()
		return "", blk.desc.fail(fmt.Errorf("%w: the block's output did not reach Renderer.ExecuteTemplate as HTML text", ErrMisplaced))
	}
	return blk.marker(marker.End), nil
}

// addTags is {{ cache_add_tags TAGS }}: Prepare passes the enclosing block
// of the same template, when there is one, and its location. With a block
// the tags go to its build directly; without (the block is in a calling
// template, or the page is the only enclosing build) they travel in
// markers to the stream processor.
func (r *Renderer) addTags(blk *block, loc string, args ...any) (template.HTML, error) {
	if !r.executing() {
		return "", at(loc, identAddTags, ErrNotRenderer)
	}
	var tags []string
	for _, v := range args {
		var err error
		if tags, err = appendTags(tags, v); err != nil {
			return "", at(loc, identAddTags, err)
		}
	}
	if blk != nil {
		blk.build.AddTags(tags...)
		return "", nil
	}
	return r.tagMarkers(tags), nil
}

// prevent is {{ cache_tagging_prevent }}, passed like addTags.
func (r *Renderer) prevent(blk *block, loc string) (template.HTML, error) {
	if !r.executing() {
		return "", at(loc, identPrevent, ErrNotRenderer)
	}
	if blk != nil {
		blk.build.Prevent()
		return "", nil
	}
	return r.transient(marker.Prevent, nil), nil
}

// nocache is {{ nocache "name" ARGS }}: a hole's marker, stored with the
// fragment and run at phase 2.
func (r *Renderer) nocache(name string, args ...any) (template.HTML, error) {
	if !r.executing() {
		return "", fmt.Errorf("cachetagging: nocache %q: %w", name, ErrNotRenderer)
	}
	return r.holes.Marker(name, args...)
}

// phased writes the hole of a phased section: {{ _cachetagging_phased "tmpl:line" "section" STASH... }}.
func (r *Renderer) phased(loc, section string, args ...any) (template.HTML, error) {
	if !r.executing() {
		return "", at(loc, identPhased, ErrNotRenderer)
	}
	stash, err := sections.Stash(args...)
	if err != nil {
		return "", at(loc, identPhased, fmt.Errorf("%w: %w", ErrBadArgument, err))
	}
	m, err := r.holes.Marker(sections.HandlerName, sections.Args(section, stash)...)
	if err != nil {
		return "", at(loc, identPhased, fmt.Errorf("%w: %w", ErrBadArgument, err))
	}
	return m, nil
}

// at reports a problem with the function fn called at loc.
func at(loc, fn string, err error) *Error {
	e := errAt(loc, err, "")
	e.Action = "{{" + fn + "}}"
	return e
}
