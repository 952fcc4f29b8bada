package tmplcache

import (
	"context"
	"slices"

	"github.com/cachetagging/cachetagging/tmplcache/internal/entrykeys"
)

// On a shared store a read needs an entry and the tag records it names,
// which are only known once the entry is read: two round trips, unless the
// store does both in one (an EntryGetter: Redis runs a script, which costs
// it more than the reads it makes). But the records an entry names change
// only when it is rebuilt with other tags. So the cache remembers, per
// entry key, the records the entry named when it last read it (known, at
// most entrykeys.Max entries), and a read that knows them asks the store
// for the entry, those records and the values a build wants (also) in one
// Store.Get: one round trip on any shared store (one MGET on Redis, one
// pipeline on a Cluster, one GetMulti on memcached). If the entry turns out
// to name a record it did not read, the read is made the usual way, and
// learns.
//
// Why one batch that need not be atomic is exact: an entry is served only
// if every record holds the version the entry stored. Every value of the
// batch is read after this read began, so a record reflects every
// invalidation that returned before it: an entry built before one never
// matches. Entry and records need not be read at one instant; the records
// need only be read after the read began, which they are.

// readShared reads the entry at skey on a shared store with its tag records
// (appended to recs), and the values at also (a build's: see Spec.prefetch).
func (c *Cache) readShared(ctx context.Context, skey string, recs [][]byte, also []string) (raw []byte, _ [][]byte, alsoVals [][]byte, err error) {
	if keys, ok := c.known.Get(skey); ok {
		raw, got, alsoVals, found, err := c.readKnown(ctx, skey, keys, also)
		if err != nil || found {
			return raw, append(recs, got...), alsoVals, err
		}
	}
	if len(also) > 0 && c.pre != nil {
		raw, recs, alsoVals, err = c.storeGetEntryWith(ctx, skey, recs, also)
	} else {
		raw, recs, err = c.readEntry(ctx, skey, recs)
	}
	if err == nil && raw != nil {
		c.known.Learn(skey, raw)
	}
	return raw, recs, alsoVals, err
}

// readKnown reads the entry at skey, the records at keys and the values at
// also (a key in both is read once) in one Store.Get. found is false, with
// nothing read worth keeping, when the entry is there but names a record
// it did not read.
func (c *Cache) readKnown(ctx context.Context, skey string, keys, also []string) (raw []byte, recs, alsoVals [][]byte, found bool, err error) {
	all := make([]string, 0, 1+len(keys)+len(also))
	all = append(append(all, skey), keys...)
	var alsoAt []int
	if len(also) > 0 {
		alsoAt = make([]int, len(also))
		for i, k := range also {
			j := slices.Index(all[1:], k) + 1
			if j == 0 {
				j, all = len(all), append(all, k)
			}
			alsoAt[i] = j
		}
	}
	vals, err := c.storeGet(ctx, all)
	if err != nil {
		return nil, nil, nil, false, err
	}
	if alsoAt != nil {
		alsoVals = make([][]byte, len(also))
		for i, j := range alsoAt {
			alsoVals[i] = vals[j]
		}
	}
	if vals[0] == nil {
		return nil, nil, alsoVals, true, nil
	}
	recs, ok := entrykeys.Records(vals[0], all[1:], vals[1:])
	if !ok {
		return nil, nil, nil, false, nil
	}
	return vals[0], recs, alsoVals, true, nil
}
