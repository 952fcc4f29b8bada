// Blog is the demo of cachetagging: a small blog on net/http and
// html/template whose pages are cached whole and in tagged fragments, and
// refreshed exactly where the data they show changed.
//
// Run it from the repository root, then open http://127.0.0.1:8080:
//
//	go run ./examples/blog                      # cache in this process
//	go run ./examples/blog -redis redis://127.0.0.1:6379/0 -secret 'at least 16 bytes'
//	go run ./examples/blog -memcache 127.0.0.1:11211 -secret 'at least 16 bytes'
//
// The secret (or $BLOG_SECRET) authenticates the holes stored in a shared
// cache; every process on one store must use the same.
//
// # What to look at
//
// Every cached fragment shows a stamp, "post-item:3 rendered #1": the number
// grows only when the fragment is rendered, never when it comes from the
// cache. Pages say X-Cache: HIT or MISS (the log shows it too), and /stats
// shows the cache's counters.
//
//   - The home page (templates/home.html) is cached whole by
//     [cachetagging.CachePage]. Inside it, the list of posts is a fragment
//     tagged "posts" made of one fragment per post (tagged post:ID and
//     category:ID, shared with the category pages), and the sidebar's
//     fragments are shared by every page.
//   - Edit a post and move it to another category: the handler reports the
//     post before and after the change to a [tmplcache.Registry] (tags.go),
//     inside a cache transaction ([cachetagging.TransactionMiddleware]).
//     The post's page, the lists and the counts are rendered again; the
//     posts of the other categories come from the cache (their stamps do
//     not move).
//   - Set your name in the header: the greeting is a {{ nocache }} hole,
//     run on every request, so everyone gets their own name in one cached
//     page.
//   - Add a comment: comment counts are {{ phased }} sections, run on every
//     request with .Live (holes.go), so the home page is not even
//     invalidated, yet shows the new count.
//   - Just after an edit, reloads render again for a second before the
//     fragments are cached again: fragments built within the clock-skew
//     margin of an invalidation are served but not stored
//     ([tmplcache.WithSkew]).
//
// # Where things are
//
// main.go reads the flags and serves; store.go opens the cache's store;
// app.go wires the renderer, the templates and the routes; tags.go says
// what depends on what; handlers.go holds the handlers; holes.go the live
// data and the greeting; blog.go and seed.go the data, in memory;
// stamps.go the render counters; logging.go the request log.
package main
