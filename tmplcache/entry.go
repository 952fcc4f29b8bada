package tmplcache

import (
	"strings"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

const (
	// MaxTagLen is the longest tag accepted, in bytes.
	MaxTagLen = 8 << 10
	// maxNamespaceLen keeps every tag record key under the 64 KiB an entry
	// can describe.
	maxNamespaceLen = 1 << 10
	// MaxTags is the most tags one entry may carry, its own and those of
	// everything built or read while it was built. A build that collects
	// more is not stored (and says so in the log): every hit would read
	// that many tag records.
	MaxTags = 1<<16 - 1
)

// dep is one tag an entry (or a build) depends on. key is the tag record's
// store key.
type dep struct {
	key       string
	ver       layout.Version
	hasVer    bool // ver was read before the data (or came from a descendant)
	timeCheck bool // the tag appeared mid-build: compare it with the horizon
}

// decodedEntry views a raw entry without copying it. Its strings alias the
// raw bytes, which stores never modify once written.
type decodedEntry struct {
	meta  layout.Meta
	deps  []dep
	value []byte
}

// entryView is an entry as a hit reads it: its tags stay in the entry,
// read in place when they are checked or passed on, never copied.
type entryView struct {
	meta  layout.Meta
	tags  layout.Tags
	value []byte
}

func viewEntry(raw []byte) (entryView, error) {
	m, tags, value, err := layout.ReadEntry(raw)
	return entryView{meta: m, tags: tags, value: value}, err
}

// encodeEntry builds a new buffer; value is copied, so the caller keeps it.
func encodeEntry(m layout.Meta, deps []dep, value []byte) []byte {
	ld := make([]layout.Dep, len(deps))
	for i, d := range deps {
		ld[i] = layout.Dep{Key: d.key, Ver: d.ver}
	}
	return layout.AppendEntry(make([]byte, 0, layout.EntryLen(ld, value)), m, ld, value)
}

// decodeEntry decodes raw, appending its tags to deps.
func decodeEntry(raw []byte, deps []dep) (decodedEntry, error) {
	m, tags, value, err := layout.ReadEntry(raw)
	if err != nil {
		return decodedEntry{}, err
	}
	for tags.Next() {
		deps = append(deps, dep{key: tags.Key(), ver: tags.Version(), hasVer: true})
	}
	return decodedEntry{meta: m, deps: deps, value: value}, nil
}

// expired reports whether the entry's lifetime is over at now.
func (e decodedEntry) expired(now time.Time) bool {
	return e.meta.Expires != 0 && now.UnixNano() >= e.meta.Expires
}

// EntryTagKeys returns the store keys of the tag records a raw entry (as
// stored by a [Cache]) depends on, in the order [EntryGetter] must return
// their records.
func EntryTagKeys(entry []byte) ([]string, error) {
	_, deps, _, err := layout.DecodeEntry(entry, nil)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(deps))
	for i, d := range deps {
		keys[i] = strings.Clone(d.Key) // the caller may outlive entry
	}
	return keys, nil
}
