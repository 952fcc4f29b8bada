// Package cachetagging brings tagged fragment caching to html/template.
//
// Mark the expensive parts of a page with what they depend on, and when
// that data changes invalidate the tags: every fragment that depends on
// them — and every fragment that contains one — is gone at once, on every
// server sharing the store. It is a Go port of the Django library
// cache-tagging, built on [tmplcache].
//
//	c := tmplcache.New(tmplcache.NewMemoryStore())
//	r := cachetagging.New(c)
//	t := template.Must(template.New("").Funcs(r.FuncMap()).ParseFS(files, "*.html"))
//	if err := r.Prepare(t); err != nil { ... } // after parsing, before executing
//	handler := cachetagging.Track(c)(mux)       // first, around every route
//	...
//	err := r.ExecuteTemplate(req.Context(), w, t, "home.html", data)
//
// # Template functions
//
//	{{ cache_tagging KEY [TAG | LIST | (cache_timeout T) | (cache_grace T) | (cache_digest false)]... }}
//	    ... any template code, variables of the enclosing scope included ...
//	    {{ cache_add_tags TAG_OR_LIST... }}
//	    {{ cache_tagging_prevent }}
//	    {{ nocache "handler" [ARG]... }}
//	    {{ phased [DICT | KEY VALUE...] }} ... runs on every request ... {{ end_phased }}
//	{{ end_cache_tagging }}
//
// A TAG is a string, a LIST a []string or []any (sprig's list), flattened;
// cache_timeout takes seconds or a duration string ("90s"); cache_grace
// lets the block be served for that long after it expired or was
// invalidated, while one request rebuilds it (see [tmplcache.Grace] for
// what it trades). Blocks nest: an enclosing fragment depends on the tags
// of every fragment inside it, whether that one was rendered or served from
// the cache. cache_add_tags adds tags to the innermost fragment,
// cache_tagging_prevent keeps it and every fragment around it (and the
// page, under [CachePage]) from being stored.
//
// [Renderer.Prepare] rewrites each block (with text/template/parse) so that
// a hit never executes its body, evaluates constant arguments once, mixes a
// digest of the block's source into its key (a deploy never serves an old
// fragment; [WithoutDigests]), and reports misplaced or unbalanced blocks,
// unknown nocache handlers and the like as [*Error]s naming template, line
// and action. Blocks belong in HTML text: one inside an attribute, URL,
// script, style or comment is an error; so is a variable or a
// {{break}}/{{continue}} that crosses a block's edge (a hit skips the body:
// a variable declared in it and used after it, one declared before it and
// assigned in it, or a loop it would end, would make a hit differ from a
// miss). Prepared templates run only through [Renderer.ExecuteTemplate]
// ([ErrNotRenderer]).
//
// # Exact invalidation
//
// After an invalidation returns, no request shows data read before it —
// provided requests are tracked from their start, before they load data:
// add [Track] first, around every route ([CachePage] and
// [TransactionMiddleware] track by themselves). The package documentation
// of [tmplcache] explains the logical clock behind it.
//
// # Two phases
//
// Execution is phase 1: the template functions write markers, which a
// stream processor between the template and the writer consumes (storing
// fragments, collecting tags) and strips before the client sees a byte.
// Fragments are stored with their holes (nocache, phased) still in, and
// the place of each: phase 2 runs the holes on every request, cached or
// not — a nocache hole calls the Go function registered with
// [Renderer.Nocache], a phased section runs with dot set to the stash
// captured at build time plus "Live", this request's live data (the
// template's data, or what [WithLiveData] set; on a [CachePage] hit, where
// no handler runs, what [LiveData] returns). A hole that needs the user
// reads it best from its ctx, the request's in every case. Hole arguments
// and stashes travel as JSON: integers come back as int64, other numbers
// as float64, structs as maps. Output without markers streams through
// unbuffered.
//
// Markers start with a NUL byte, which html/template never writes for
// escaped data, and are authenticated: a block's by a random token known
// only to this process, the others by an HMAC of their payload — under a
// random per-process key for those consumed within an execution, under the
// [WithSecret] key for holes, which are stored ([WithPreviousSecrets]
// rotates it). Forged bytes are inert text; a phased marker names a
// section, never carries template source. An entry whose holes this
// process cannot verify or run is a miss, rebuilt.
//
// # Pages and transactions
//
// [CachePage] caches whole responses tagged with [PageTags] and the tags
// of every fragment rendered into them, re-running their holes on every
// hit; [TransactionMiddleware] runs each request in a cache transaction, so
// invalidations made while handling it are applied again once it is done.
//
// # Seeing the cache
//
// [WithDebug] annotates the output of the requests it picks with HTML
// comments around each fragment, hole and page, saying what this request
// did with it. Never stored, off by default.
//
// # Failure
//
// The cache never fails a page: store errors and timeouts render the
// fragment uncached (they are counted in [tmplcache.Cache.Stats] and
// logged). A fragment whose body fails stores nothing and the error is
// returned.
package cachetagging
