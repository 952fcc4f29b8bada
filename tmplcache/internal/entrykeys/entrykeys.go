// Package entrykeys remembers, per entry key, the tag record keys the entry
// named when a cache last read it from a shared store. A cache that knows
// them reads an entry and its records in one batch, instead of reading the
// entry first to find out which records to read (or having the store run
// a script that does both). The records an entry names change only when it
// is rebuilt with other tags: [Records] tells the cache when to read again
// and learn.
package entrykeys

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// Memo maps entry keys to the record keys their entries named. It is
// bounded: past [Max] keys learned it starts over. The zero Memo is ready
// to use, and safe for concurrent use.
type Memo struct {
	m sync.Map // entry key → []string
	n atomic.Int64
}

// Max is how many entry keys a Memo learns before it starts over.
const Max = 4096

// Get returns the record keys the entry at key named when last read.
func (l *Memo) Get(key string) ([]string, bool) {
	v, ok := l.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.([]string), true
}

// Learn remembers the record keys entry names, if it reads as an entry.
func (l *Memo) Learn(key string, entry []byte) {
	keys, ok := keysOf(entry)
	if !ok {
		return
	}
	if l.n.Add(1) > Max {
		l.m.Clear() // start over: simpler than LRU, and rare
		l.n.Store(1)
	}
	l.m.Store(key, keys)
}

func keysOf(entry []byte) ([]string, bool) {
	_, tags, _, err := layout.ReadEntry(entry)
	if err != nil {
		return nil, false
	}
	keys := make([]string, 0, tags.Len())
	for tags.Next() {
		keys = append(keys, strings.Clone(tags.Key())) // not the entry's memory: the memo outlives it
	}
	return keys, true
}

// Records returns the values of the tag records entry names, in its order,
// taken from vals, the values read at keys, if entry reads as an entry and
// names no record outside keys.
func Records(entry []byte, keys []string, vals [][]byte) ([][]byte, bool) {
	_, tags, _, err := layout.ReadEntry(entry)
	if err != nil {
		return nil, false
	}
	recs := make([][]byte, 0, tags.Len())
	for tags.Next() {
		j := slices.Index(keys, tags.Key())
		if j < 0 {
			return nil, false
		}
		recs = append(recs, vals[j])
	}
	return recs, true
}
