// Package cachemetrics exports a [tmplcache.Cache]'s [tmplcache.Stats]
// through [expvar] and as Prometheus metrics. It lives apart from tmplcache
// so that the cache does not import the Prometheus client.
//
// # expvar
//
// [Publish] publishes a cache's Stats under a name, so that /debug/vars
// shows them as a JSON object keyed by field name ({"Hits": 3, …}). It
// returns an error where [expvar.Publish] would panic. [Var] returns the
// same value unpublished, to gather several caches in one [expvar.Map].
//
// # Prometheus
//
// [NewCollector] returns a [prometheus.Collector] with one metric per Stats
// field, all read from one Stats snapshot per scrape. The metrics are derived
// from the Stats struct itself, so a field added to Stats is exported
// without a change here:
//
//   - the name is tmplcache_ followed by the field name in snake_case:
//     Hits gives tmplcache_hits_total, PendingTags tmplcache_pending_tags;
//   - unsigned integer fields only grow and are counters, with the _total
//     suffix; every other field is a gauge: signed integers and floats as
//     they are, booleans as 1 or 0 (tmplcache_breaker_open), a
//     [time.Duration] in seconds (suffix _seconds), a [time.Time] as Unix
//     seconds (suffix _timestamp_seconds).
//
// [WithNamespace] prefixes the names (shop_tmplcache_hits_total) and
// [WithConstLabels] adds fixed labels, to tell several caches apart in one
// registry:
//
//	reg.MustRegister(
//		cachemetrics.NewCollector(pages, cachemetrics.WithConstLabels(prometheus.Labels{"cache": "pages"})),
//		cachemetrics.NewCollector(api, cachemetrics.WithConstLabels(prometheus.Labels{"cache": "api"})),
//	)
//
// Nothing here panics on bad input: invalid options make registration fail
// with an error wrapping [ErrBadOption].
package cachemetrics
