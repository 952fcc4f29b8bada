// Package redisstore is a [tmplcache.Store] on Redis, through go-redis's
// UniversalClient: one server, a Sentinel-managed master, or a Redis
// Cluster.
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
//	cache := tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("blog"))
//
// The store is shared: every process on the same Redis sees the same
// entries and the same invalidations. It is not [tmplcache.Local], so a
// renderer on it needs a secret every process knows (cachetagging.WithSecret).
//
// # Keys and values
//
// The store writes the keys the cache gives it, unchanged: Redis keys are
// binary-safe and may be up to 512 MB, so no key is hashed or escaped (an
// entry key may hold any byte, NUL included: delete keys with a client,
// not with redis-cli --scan | xargs). A [tmplcache.Cache] with namespace NS
// writes three kinds of keys:
//
//	NS:e:KEY            an entry: its header, its tags' record keys and versions, its value
//	{NS/tags}:TAG       a tag record: the tag's version, stamp and lock (40 bytes)
//	{NS/tags}#clock     the namespace's logical clock: epoch and sequence (16 bytes)
//
// The tag records and the clock share one Redis Cluster hash tag, so one
// server holds them all, and an invalidation is one atomic script there
// (see [Store.Invalidate]).
//
// Values are stored as plain strings, byte for byte. A TTL is sent as PX in
// milliseconds (rounded up, so a positive TTL never becomes "no expiry");
// zero means no expiry. [Store.Add] is SET NX, item by item. Entry keys
// carry the cache's default TTL; tag records live until [tmplcache.WithTagTTL]
// or eviction, and a missing record makes its entries invalid, so evicting
// them (allkeys-lru) costs misses, never stale reads.
//
// # Round trips
//
// On one server ([*redis.Client], Sentinel included):
//
//   - [Store.GetEntry] (a cache read): one round trip. A Lua script gets
//     the entry, parses the tag record keys out of it (the layout is
//     documented in package tmplcache) and gets those too. It runs with
//     EVALSHA; the first call on a server that has not seen it yet adds
//     an EVAL. A cache uses it for an entry it has not read yet: once it
//     knows the records an entry names, it reads the entry and them with
//     one [Store.Get], one MGET, which costs Redis less than the script
//     (the script copies the entry into Lua and back: on loopback, a 9 KB
//     entry with five tags, 115 µs against 65 µs).
//   - [Store.GetEntryWith] (the read of a build): the same script, which
//     also gets the records of the tags the build declares and the clock
//     when the read is no plain hit (or, for a known entry, the same MGET).
//   - [Store.SetIfUnchanged] (the write of a build): one script that
//     stores the entry only if those records are still what the read saw.
//     A miss is two round trips, read and write, when the build depends on
//     the tags it declared; a tag added while it ran adds an MGET of the
//     records before the write.
//   - [Store.Get] (tag versions and the clock): one MGET.
//   - [Store.Invalidate]: one script, whatever the number of tags and of
//     entries that depend on them. It advances the clock and stamps the
//     records in one atomic step.
//   - [Store.Set], [Store.Add], [Store.Delete] of many items: one pipeline,
//     or one DEL.
//
// A tracked request costs no round trip for its clock reading: the cache
// keeps the latest clock value its replies showed (see tmplcache.Sequencer).
//
// On a Redis Cluster ([*redis.ClusterClient], also as returned by
// redis.NewUniversalClient for several addresses) or a [*redis.Ring], an
// entry and its tag records live in different slots, on different nodes:
// no command ever names keys of two slots, and never a CROSSSLOT error
// comes back. Batches of keys of one hash tag (tag records and the clock)
// are one MGET; others are pipelines, which go-redis splits per node and
// sends to all nodes at once:
//
//   - [Store.GetEntry]: two round trips, a GET of the entry, then one MGET
//     of its tag records on the node of the hash tag (keys found with
//     [tmplcache.EntryTagKeys]); a cache that read the entry before reads
//     both with one [Store.Get], a pipeline sent to the two nodes at once.
//     [Store.Prefetches] is false: a build reads its records, then writes.
//   - [Store.Invalidate]: one script, on the node of the hash tag.
//   - [Store.Get], [Store.Set], [Store.Add], [Store.Delete]: one pipeline.
//
// The node holding a namespace's hash tag takes every invalidation and
// every hit's tag reads: a few small commands per page, within what one
// Redis node serves (about 100,000 commands a second) for most sites. A
// site that outgrows it spreads the load with several namespaces (one per
// section of the site: each has its own clock and records, on its own
// slot), or with a replica per node for the reads.
//
// [Sharded] asks for the cluster behaviour on a client the store cannot
// recognise as sharded (a wrapper, a proxy); [WithoutScript] replaces the
// script by two reads where EVAL is not allowed.
//
// # Timeouts
//
// Every method honours its context, deadline and cancellation. go-redis
// alone does not stop a command whose context ends (unless the client was
// built with ContextTimeoutEnabled, and then for deadlines only): it waits
// for its ReadTimeout, seconds. So a call whose context can end runs on a
// goroutine of its own, and the method returns the context's error as soon
// as it ends; the abandoned command finishes in the background, within the
// client's own timeouts. That is what lets the cache's timeout and circuit
// breaker ([tmplcache.WithTimeout], [tmplcache.WithBreaker]) keep pages
// fast while Redis hangs.
//
// Build the client with ContextTimeoutEnabled: true. The client then ends a
// command at its deadline itself, and every call with a deadline (every
// call a Cache makes: each is bounded by its timeout) runs on the caller's
// goroutine instead: on a 2-vCPU machine that saves about 40 µs per call
// on loopback, the cost of waking a thread for the hop, a quarter of a
// fragment hit. A cancellation before the deadline (a client that went
// away) then ends the call at the deadline only.
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
//
// [*redis.Client]: https://pkg.go.dev/github.com/redis/go-redis/v9#Client
// [*redis.ClusterClient]: https://pkg.go.dev/github.com/redis/go-redis/v9#ClusterClient
// [*redis.Ring]: https://pkg.go.dev/github.com/redis/go-redis/v9#Ring
package redisstore
