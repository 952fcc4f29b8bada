package cachetagging

import (
	"context"
	"net/http"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Track returns middleware that tracks every request from its start
// ([tmplcache.Cache.Track]): add it first, around every route. Fragments
// rendered while handling a request then take the request's start as the
// moment their data was read, which is true of a handler that loads its
// data and then executes a template, and lets invalidations be ordered
// exactly by the store's logical clock. Without it a fragment is checked
// with a wall-clock margin ([tmplcache.WithSkew]): it is not stored for
// that long after one of its tags was invalidated, so hot tags are seldom
// cached. Taking the reading is an atomic load, not a round trip.
// [CachePage] and [TransactionMiddleware] track by themselves.
func Track(c *tmplcache.Cache) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			ctx, scope := c.Track(req.Context())
			defer func() { _ = scope.End(ctx, nil) }()
			next.ServeHTTP(w, req.WithContext(ctx))
		})
	}
}

// TransactionMiddleware runs every request inside a cache transaction
// (Django cache-tagging's TransactionMiddleware): invalidations made while
// handling it lock their tags and are applied again once the handler
// returned. Put it outside the middleware that commits your database
// transaction, so the second pass follows the commit. It tracks the
// request too (see [Track]).
func TransactionMiddleware(c *tmplcache.Cache) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			ctx, scope := c.Track(req.Context())
			ctx, tx := c.BeginTx(ctx)
			defer func() {
				// A client that hung up does not cancel the second pass.
				if err := tx.End(context.WithoutCancel(ctx)); err != nil {
					c.Logger().Warn("cachetagging: re-applying the request's invalidations failed", "err", err)
				}
				_ = scope.End(ctx, nil)
			}()
			next.ServeHTTP(w, req.WithContext(ctx))
		})
	}
}
