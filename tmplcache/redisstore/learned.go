package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/cachetagging/cachetagging/tmplcache/internal/entrykeys"
)

// The entry script costs Redis more than the reads it makes: Lua takes the
// entry in and gives it back, a copy each way (on loopback, a 9 KB entry
// with five tags: 115 µs a read against 65 µs for a GET). But the records
// an entry names rarely change: only a rebuild with other tags changes
// them. So the store remembers, per entry key, the record keys the entry
// named when it was last read (entrykeys.Memo), and a read that knows them
// sends one pipeline instead, a GET of the entry and an MGET of those
// records (and of the build's own keys, for GetEntryWith): one round trip,
// no script, on one server as on a Cluster (where the two go to their two
// nodes at once, instead of one after the other). If the entry turns out
// to name other records, the read falls back to the script (or, sharded,
// to the two reads) and learns them.
//
// Why a pipeline is as safe as the script's single atomic step: an entry
// is served only if every record holds the version the entry stored. Both
// reads happen after this read began, so a record read by either reflects
// every invalidation that returned before it: an entry built before one
// never matches. Entry and records need not be read at one instant; the
// records need only be read after the read began, which they are.

// readEntry reads the entry at key, its tag records, and the values at
// also: with one pipeline when it knows the records the entry names, or
// may find them among also (a build's read: its own tags' records), else
// with the entry script (or, sharded, two reads). It learns the records.
func (s *Store) readEntry(ctx context.Context, key string, also []string) (entryWithReply, error) {
	keys, known := s.learned.Get(key)
	if known || len(also) > 0 {
		r, ok, err := s.readPiped(ctx, key, keys, also)
		if err != nil {
			return r, err
		}
		if ok {
			if !known && r.entry != nil {
				s.learned.Learn(key, r.entry)
			}
			return r, nil
		}
	}
	var r entryWithReply
	var err error
	if s.script {
		r, err = s.runEntryScript(ctx, key, also)
	} else {
		r.entryReply, err = s.getEntryTwice(ctx, key)
	}
	if err == nil && r.entry != nil {
		s.learned.Learn(key, r.entry)
	}
	return r, err
}

// readPiped reads the entry at key and, in the same pipeline, the records
// at keys and the values at also (a key in both is read once). It reports
// false, with nothing read worth keeping, when the entry is there but
// names a record it did not read.
func (s *Store) readPiped(ctx context.Context, key string, keys, also []string) (entryWithReply, bool, error) {
	all, alsoAt := keys, []int(nil)
	if len(also) > 0 {
		all, alsoAt = slices.Clip(keys), make([]int, len(also))
		for i, k := range also {
			j := slices.Index(all, k)
			if j < 0 {
				j, all = len(all), append(all, k)
			}
			alsoAt[i] = j
		}
	}
	pipe := s.client.Pipeline()
	entryCmd := pipe.Get(ctx, key)
	var many *redis.SliceCmd
	var each []*redis.StringCmd
	switch {
	case len(all) == 0:
	case !s.sharded || oneHashTag(all):
		many = pipe.MGet(ctx, all...)
	default:
		each = make([]*redis.StringCmd, len(all))
		for i, k := range all {
			each[i] = pipe.Get(ctx, k)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return entryWithReply{}, false, err
	}
	entry, err := stringValue(entryCmd)
	if err != nil {
		return entryWithReply{}, false, err
	}
	vals := make([][]byte, len(all))
	switch {
	case many != nil:
		res, err := many.Result()
		if err != nil {
			return entryWithReply{}, false, err
		}
		if len(res) != len(all) {
			return entryWithReply{}, false, fmt.Errorf("%w: MGET of %d keys returned %d values", ErrUnexpectedReply, len(all), len(res))
		}
		for i, v := range res {
			if vals[i], err = valueOf(v); err != nil {
				return entryWithReply{}, false, err
			}
		}
	default:
		for i, cmd := range each {
			if vals[i], err = stringValue(cmd); err != nil {
				return entryWithReply{}, false, err
			}
		}
	}
	var alsoVals [][]byte
	if alsoAt != nil {
		alsoVals = make([][]byte, len(also))
		for i, j := range alsoAt {
			alsoVals[i] = vals[j]
		}
	}
	if entry == nil {
		return entryWithReply{also: alsoVals}, true, nil
	}
	recs, ok := entrykeys.Records(entry, all, vals)
	if !ok {
		return entryWithReply{}, false, nil
	}
	return entryWithReply{entryReply{entry: entry, tags: recs}, alsoVals}, true, nil
}
