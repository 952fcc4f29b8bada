// Package phased runs template sections at phase 2: the part of a cached
// fragment between {{ phased ... }} and {{ end_phased }} is cut out of the
// template into a section of the same template set, the fragment keeps a
// hole (a [github.com/cachetagging/cachetagging/nocache] marker) naming the section and carrying the stash, and
// every request runs the section with dot set to the stash plus "Live",
// this request's live data — django-phased, for html/template.
//
// The stash is captured when the enclosing fragment is built
// ({{ phased "count" .Count }} or {{ phased (dict "count" .Count) }}), so a
// later request still sees the value of the build, while .Live is always
// the current request's. The stash travels as JSON: integers come back as
// int64 (a method called with one must take an int64), other numbers as
// float64, structs as maps. Markers carry the section's name (which includes a
// hash of its source), never template source: no template injection is
// possible. cachetagging's Prepare does the rewriting and its renderer runs
// the sections; this package names what a template author meets.
package phased

import "errors"

// LiveKey is the key of the live data in a section's dot: {{ .Live }}.
const LiveKey = "Live"

// Errors a phased section can fail with (wrapped; check with errors.Is).
var (
	// ErrUnknownSection: a cached fragment names a section this process
	// does not have. Fragment keys carry a digest of their source, so a
	// deploy that changes a section never reads old fragments; this
	// remains for stores shared by programs whose templates differ.
	ErrUnknownSection = errors.New("phased: unknown section")
	// ErrBadStash: the arguments of {{ phased }} do not make a stash.
	ErrBadStash = errors.New("phased: bad stash")
)
