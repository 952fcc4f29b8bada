// Package cachetagging brings tagged fragment caching to html/template.
//
// Mark the expensive parts of a page with what they depend on, and when
// that data changes invalidate the tags: every fragment that depends on
// them — and every fragment that contains one — is gone at once, on every
// server sharing the store. It is a Go port of the Django library
// cache-tagging, built on [tmplcache].
//
//	r := cachetagging.New(tmplcache.New(tmplcache.NewMemoryStore()))
//	t := template.Must(template.New("").Funcs(r.FuncMap()).ParseFS(files, "*.html"))
//	if err := r.Prepare(t); err != nil { ... }
//	...
//	err := r.ExecuteTemplate(req.Context(), w, t, "home.html", data)
//
// # Template functions
//
//	{{ cache_tagging KEY [TAG | LIST | (cache_timeout T)]... }}
//	    ... any template code, variables of the enclosing scope included ...
//	    {{ cache_add_tags TAG_OR_LIST... }}
//	    {{ cache_tagging_prevent }}
//	    {{ nocache "handler" [ARG]... }}
//	    {{ phased [DICT | KEY VALUE...] }} ... runs on every request ... {{ end_phased }}
//	{{ end_cache_tagging }}
//
// A TAG is a string, a LIST a []string or []any (sprig's list), flattened;
// cache_timeout takes seconds or a duration string ("90s"). Blocks nest:
// an enclosing fragment depends on the tags of every fragment inside it,
// whether that one was rendered or served from the cache.
// cache_add_tags adds tags to the innermost fragment, cache_tagging_prevent
// keeps it and every fragment around it (and the page, under [CachePage])
// from being stored.
//
// [Renderer.Prepare] rewrites each block (with text/template/parse) so that
// a hit never executes its body, and reports misplaced or unbalanced blocks
// as [*Error]s naming template and line. Blocks belong in HTML text: one
// inside an attribute, URL, script, style or comment is an error.
//
// # Two phases
//
// Execution is phase 1: the template functions write markers, which a
// stream processor between the template and the writer consumes (storing
// fragments, collecting tags) and strips before the client sees a byte.
// Fragments are stored with their holes (nocache, phased) still in: phase 2
// runs the holes on every request, cached or not — a nocache hole calls the
// Go function registered with [Renderer.Nocache], a phased section runs
// with dot set to the stash captured at build time plus "Live", this
// request's data (the template's data, or what [WithLiveData] set). Hole
// arguments and stashes travel as JSON: integers come back as int64, other
// numbers as float64, structs as maps. Output without markers streams
// through unbuffered.
//
// Markers start with a NUL byte, which html/template never writes for
// escaped data, and are authenticated by an HMAC of their payload:
// transient ones under a random per-process key, stored ones under the
// [WithSecret] key. Forged bytes
// are inert text; a phased marker names a section, never carries template
// source.
//
// # Pages and transactions
//
// [CachePage] caches whole responses tagged with [PageTags] and the tags
// of every fragment rendered into them, re-running their holes on every
// hit; [TransactionMiddleware] runs each request in a cache transaction, so
// invalidations made while handling it are applied again once it is done.
//
// # Failure
//
// The cache never fails a page: store errors and timeouts render the
// fragment uncached (they are counted in [tmplcache.Cache.Stats] and
// logged). A fragment whose body fails stores nothing and the error is
// returned.
package cachetagging
