// Package memcachestore is a [tmplcache.Store] on memcached, through the
// client github.com/bradfitz/gomemcache/memcache:
//
//	mc := memcache.New("10.0.0.1:11211", "10.0.0.2:11211")
//	mc.MaxIdleConns = 64 // above the peak of concurrent cache calls
//	cache := tmplcache.New(memcachestore.New(mc), tmplcache.WithNamespace("blog"))
//
// The store is shared: every process on the same servers sees the same
// entries and tag versions, so a [tmplcache.Cache.InvalidateTags] in one
// process invalidates on all of them. The cache namespaces its keys itself
// ([tmplcache.WithNamespace]); the store adds no prefix of its own.
//
// # Keys
//
// Cache keys may hold any bytes and be of any length; memcached keys are at
// most 250 bytes of printable ASCII without spaces. A key that is such a
// key, and does not start with '#', is used as it is; any other key is
// stored under '#' followed by its SHA-256 in base64url. Since raw keys
// never start with '#', two distinct keys never share a memcached key (but
// for a SHA-256 collision).
//
// # Expiry
//
// memcached counts expiry in whole seconds, and reads an expiration longer
// than 30 days as a Unix time. So a TTL is rounded up to whole seconds (a
// TTL under one second lasts one second, never forever), and a TTL longer
// than 30 days is sent as the Unix time it ends at, by this machine's clock
// (the servers' clocks should agree with it; NTP is plenty). A TTL of zero
// means no expiry, as everywhere in tmplcache; a negative one is an error
// ([ErrNegativeTTL]).
//
// # Timeouts and cancellation
//
// The memcache client takes no context. Every method of [Store] still
// honours its ctx: it returns a wrapped ctx.Err() at once if ctx is done,
// and otherwise runs the client call on a goroutine of its own and returns
// as soon as ctx is done, even if memcached never answers. The cache gives
// every call a deadline ([tmplcache.WithTimeout]), so a dead or black-holed
// server costs each call that deadline, and the cache's circuit breaker
// ([tmplcache.WithBreaker]) soon spares even that.
//
// An abandoned client call goes on in the background until the client's own
// socket timeout (client.Timeout; gomemcache uses 500 ms when it is zero)
// ends it; a batch stops after the item at hand. So no
// goroutine outlives a call for long, but a write that timed out may still
// be applied. The cache is built for that: an entry records the tag versions
// it was built against and is checked against them on every read, and an
// invalidation that failed is applied again.
//
// # Round trips
//
// [Store.Get] reads all its keys with one get command (GetMulti), one
// round trip per server the keys live on. The client has no
// multi-set or multi-delete, so [Store.Set], [Store.Add] and [Store.Delete]
// make one round trip per item, in order, stopping at the first error. The
// store does not implement [tmplcache.EntryGetter]: a cache's first read
// of an entry costs two round trips (the entry, then its tag records);
// once it knows the records the entry names, it reads both with one Get:
// one GetMulti.
//
// # Large values
//
// memcached refuses items over its item size limit (-I, 1 MiB by default,
// key and item header included). A value that does not fit in one item is
// split into chunks stored under keys of their own, then a small manifest
// naming them is stored under the value's key; a read fetches the chunks
// with one more GetMulti. Each write has its own chunks, so a read sees the
// whole of one write or, if a chunk was evicted, a miss. Chunks live one
// second longer than their manifest; those of a value that was overwritten
// or deleted stay until then (or until memcached evicts them). Tell the
// store the servers' limit with [WithItemSizeLimit] if it is not 1 MiB.
package memcachestore
