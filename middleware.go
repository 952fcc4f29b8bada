package cachetagging

import (
	"context"
	"net/http"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// TransactionMiddleware runs every request inside a cache transaction (the
// seed's TransactionMiddleware): invalidations made while handling it lock
// their tags and are applied again once the handler returned. Put it
// outside the middleware that commits your database transaction, so the
// second pass follows the commit.
//
// It also starts tracking the request ([tmplcache.Cache.Track]): fragments
// rendered while handling it take the request's start as the moment their
// data was read, which is what a handler that loads data before executing
// its template needs.
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
