// Package tmplcache is a tagged cache: every entry is marked with the tags
// it depends on, and invalidating a tag invalidates every entry marked with
// it — and every entry that contains one — on every process sharing the
// store. It is the storage layer of cachetagging and knows nothing of
// templates.
//
// # Tags are versions
//
// [Cache.InvalidateTags] writes a new version (time and random bytes) for
// each tag: one batch, whatever the number of entries. An entry stores the
// version of each of its tags and is valid only while all of them still
// match; a missing tag record makes its entries invalid. A hit costs one
// batch read of the entry and its tag records ([EntryGetter] does it in one
// round trip) and a copy of the value.
//
// # Nesting
//
// [Cache.Fetch] runs its fill with a context that carries the entry being
// built ([Build]). Every Get, Set or Fetch made with that context, hit or
// miss, passes its tags (with the versions its content was built against)
// to the enclosing entry, so invalidating an inner tag invalidates the outer
// entry too. [AddTags] and [Prevent] act on the entry being built; [Detach]
// and [IgnoreDescendants] turn propagation off.
//
// # No stale entry outlives an invalidation
//
// After InvalidateTags returns, no read returns content built from data read
// before the call. Fetch reads the versions of its tags before fill runs and
// checks them again before storing; tags that appear mid-build are checked
// against the build's start (less a clock-skew margin, [WithSkew]); nested
// builds are checked against the start of their outermost enclosing build.
// [Cache.Transaction] locks the tags it invalidates until it ends, and
// invalidates them again then (commit or rollback alike).
//
// # Failure
//
// The cache is an optimisation. Store errors never fail [Cache.Fetch]: the
// value is built and returned uncached, the error counted ([Cache.Stats])
// and logged (log/slog, once per change of state). Every store call is
// bounded by [WithTimeout]; a store that keeps failing is short-circuited by
// a circuit breaker ([WithBreaker]). An invalidation that fails is
// remembered and re-applied before this process serves any entry again.
//
// # Stores
//
// [MemoryStore] (in-process, the default, within a byte budget:
// [MaxBytes]) and the shared stores in
// tmplcache/redisstore and tmplcache/memcachestore implement [Store];
// tmplcache/storetest is the conformance suite they pass. The entry layout
// remote stores may parse (to read an entry and its tag records at once) is:
//
//	[0]      format = 1
//	[1:9]    expiry, Unix nanoseconds, big-endian (0 = none)
//	[9:11]   number of tags, big-endian uint16
//	per tag: big-endian uint16 key length, the tag record's store key,
//	         16 bytes of version
//	rest     the value
package tmplcache
