// Package tmplcache is a tagged cache: every entry is marked with the tags
// it depends on, and invalidating a tag invalidates every entry marked with
// it — and every entry that contains one — on every process sharing the
// store. It is the storage layer of cachetagging and knows nothing of
// templates.
//
// # Tags are versions
//
// [Cache.InvalidateTags] writes a new version for each tag: one batch,
// whatever the number of entries. An entry stores the version of each of
// its tags and is valid only while all of them still match; a missing tag
// record makes its entries invalid. A hit costs one batch read of the
// entry and its tag records ([EntryGetter] does it in one round trip). On
// a shared store a miss reads the records of the build's declared tags
// with that lookup and writes only if they are unchanged ([Prefetcher]):
// two round trips.
//
// # Nesting
//
// [Cache.Fetch] runs its fill with a context that carries the entry being
// built ([Build]). Every Get, Set or Fetch made with that context, hit or
// miss, passes its tags (with the versions its content was built against)
// to the enclosing entry, so invalidating an inner tag invalidates the outer
// entry too. [AddTags] and [Prevent] act on the entry being built; [Detach]
// and [WithIgnoreDescendants] turn propagation off.
//
// # No stale entry outlives an invalidation
//
// After InvalidateTags returns, no read returns content built from data read
// before the call. The race this closes: a request reads old data, the data
// changes and its tag is invalidated, then the request stores what it built
// from the old data. Ordering comes from a logical clock kept by the store
// ([Sequencer]), never from wall clocks compared across machines:
//
//   - every invalidation advances the store's clock and stamps its tag
//     records with the new value, in one atomic step (a script on Redis, a
//     mutex in memory, compare-and-swap on memcached: stamps never go back);
//   - a request takes a reading of the clock when it starts, before it loads
//     any data ([Cache.Track], which cachetagging.Track, CachePage and
//     TransactionMiddleware call): the latest clock value any reply of the
//     store showed this process, an atomic load, no round trip;
//   - a build stores only if none of its tags carries a stamp later than the
//     reading of the outermost tracked build enclosing it. An invalidation
//     that followed the data's change followed the reading, so its stamp is
//     later: the build does not store. One that preceded the reading cannot
//     concern data read after it: the build stores, at once.
//
// So a hot tag invalidated ten times a second still gets one build per
// invalidation. A reading can only be older than the clock, never ahead of
// it, which makes the check conservative, never wrong; each process learns
// the clock from the replies it gets (its invalidations, the records it
// checks), so after another process's invalidation at most one of its builds
// per tag is declined. A clock that is lost (a flush, an eviction) starts a
// new random epoch; stamps of another epoch count as later than any reading,
// and records of an old epoch are re-invalidated when a build meets them.
//
// [Cache.Fetch] takes its reading when it misses, before fill runs. A build
// whose data may predate its start and that no tracked build encloses (a
// template block rendered outside a tracked request) cannot use a reading:
// it is checked against its start less a wall-clock margin ([WithSkew]), and
// says so once in the log. Stores without a [Sequencer] use the margin too.
//
// [Cache.Transaction] locks the tags it invalidates until it ends, and
// invalidates them again then (commit or rollback alike; [WithReplicaDelay]
// once more later). An invalidation outside any transaction keeps a
// transaction's lock.
//
// # Expiry
//
// As an entry nears the end of its TTL, a reader rebuilds it early with a
// probability that rises with how long its last build took
// ([WithEarlyRecompute], the XFetch rule): one reader refreshes a hot entry
// while the others keep hitting. An entry stored with [Grace] is served for
// a while after it expired or was invalidated, while one reader rebuilds
// it: opt-in, per entry, see Grace for what it trades.
//
// # Failure
//
// The cache is an optimisation. Store errors never fail [Cache.Fetch]: the
// value is built and returned uncached, the error counted ([Cache.Stats])
// and logged (log/slog, once per change of state). Every store call is
// bounded by [WithTimeout]; a store that keeps failing is short-circuited by
// a circuit breaker ([WithBreaker]). An invalidation that fails is
// remembered and re-applied before this process serves any entry again. An
// entry this process cannot read (another format, damaged) is a miss, and
// one its reader cannot use ([Check]) is rebuilt.
//
// # Stores
//
// [MemoryStore] (in-process, the default, within a byte budget:
// [MaxBytes]) and the shared stores in tmplcache/redisstore and
// tmplcache/memcachestore implement [Store], [EntryGetter] and
// [Sequencer]; tmplcache/storetest is the conformance suite they pass. The
// byte layouts a store may parse (entries, tag records, the clock) are
// documented where the interfaces that need them are: [EntryTagKeys] and
// [Sequencer].
package tmplcache
