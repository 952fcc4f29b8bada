// Blog is the demo of cachetagging: a small blog on net/http,
// html/template and GORM whose pages are cached whole and in tagged
// fragments, and refreshed exactly where the data they show changed — on
// every server sharing the cache. It is the Go counterpart of the example
// project of Django cache-tagging.
//
// Run it from the repository root, then open http://127.0.0.1:8080:
//
//	go run ./examples/blog
//
// That keeps the data in a SQLite file (under the user's cache directory;
// see -db) and the cache in the process. Two servers sharing one
// PostgreSQL database and one Redis:
//
//	export BLOG_SECRET='any secret of 16 bytes or more'
//	go run ./examples/blog -addr 127.0.0.1:8080 -db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -redis 127.0.0.1:6379
//	go run ./examples/blog -addr 127.0.0.1:8081 -db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -redis 127.0.0.1:6379
//
// # Flags
//
//	-addr host:port   where to listen (default 127.0.0.1:8080; port 0: any free port)
//	-db file|URL      a SQLite file (default: cachetagging-blog/blog.db under os.UserCacheDir),
//	                  or a PostgreSQL URL, postgres://user@host:port/dbname
//	-redis addr|URL   cache in Redis: 127.0.0.1:6379 or redis://host:port/db
//	-memcache addrs   cache in memcached: host:port, several comma-separated
//	-namespace name   prefix of the cache's keys in a shared store (default "blog")
//	-secret key       authenticates the holes stored in a shared cache (default $BLOG_SECRET)
//
// The schema is created on start, and an empty database gets six posts in
// three categories. A shared store (-redis, -memcache) needs -secret, the
// same for every process on it, and every process of one site uses the
// same -namespace: the data is in the database, so the cache outlives
// restarts and is shared. Point a namespace at one database only: after a
// database is deleted and seeded again, use a new namespace (the seed
// invalidates the tags of the rows it writes, not those of rows that
// are gone). Several processes on one database with the in-memory cache
// would each serve their own stale copies of the others' edits: share a
// store.
//
// # What to look at
//
// Press "Show the cache" (top right). The overlay outlines each cached
// fragment with its key, its tags and what this request did with it: HIT
// (served from the cache), MISS (rendered now) or STALE; each hole (the
// parts that run on every request) is outlined in dashes; a panel says
// whether the page as a whole was a HIT, and shows the response's X-Cache
// and Surrogate-Key headers. The renderer writes HTML comments around
// fragments and holes for a visitor with the overlay on
// ([cachetagging.WithDebug]); static/overlay.js draws them.
//
//   - The home page is cached whole ([cachetagging.CachePage]), tagged with
//     the tags of every fragment in it. The list of posts is a fragment
//     made of one fragment per post, shared with the category pages; the
//     sidebar's fragments are shared by every page.
//   - Edit a post (its Edit link): the GORM plugin
//     (tmplcache/gormtags) invalidates the tags of the row as it was and as
//     it is, inside the edit's database transaction, and the request's
//     cache transaction ([cachetagging.TransactionMiddleware]) keeps them
//     locked until it is done. The post's fragments and the lists showing it
//     are rendered again (MISS); every other post's fragment is a HIT. On a
//     second server, the same at once.
//   - Rename a category (on its page): its posts' fragments, its page and
//     the list of categories are rendered again, nothing else.
//   - Set your name: the greeting is a {{ nocache }} hole, run on every
//     request, so one cached page (still a HIT) greets each visitor.
//   - Add a comment: comment counts are {{ phased }} sections, run on every
//     request with .Live (holes.go), so the home page stays a HIT and shows
//     the new count.
//   - /stats, /metrics (Prometheus) and /debug/vars (expvar) show the
//     cache's counters; missing pages get a 404 page in the site's layout.
//
// Requests are tracked from their start ([cachetagging.Track]), so the
// store's logical clock orders renders and invalidations exactly: what is
// rendered right after an edit is stored at once.
//
// # Where things are
//
// main.go runs the server and flags.go reads the flags; store.go opens the
// cache's store and db.go the database (schema, seed.go's data); models.go
// holds the rows, reads.go the queries the templates run and edits.go the
// transactions the forms run; tags.go says what depends on what; app.go
// wires the renderer, templates and routes; pages.go and forms.go hold the
// handlers; holes.go the live data and the nocache holes; overlay.go the
// overlay's switch and files (static/); observe.go the counters;
// logging.go the request log.
package main
