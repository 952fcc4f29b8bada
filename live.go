package cachetagging

import "context"

type liveKey struct{}

// WithLiveData returns ctx carrying the live data of this request's holes:
// [Renderer.ExecuteTemplate] gives it to nocache handlers (as Call.Live) and
// phased sections (as .Live) instead of the template's data, and
// [CachePage] by default too (instead of the *http.Request). Set it in a
// middleware around every route, and holes see the same type whether their
// page is cached whole or not.
func WithLiveData(ctx context.Context, live any) context.Context {
	return context.WithValue(ctx, liveKey{}, &live)
}

func liveFrom(ctx context.Context) (any, bool) {
	if p, ok := ctx.Value(liveKey{}).(*any); ok {
		return *p, true
	}
	return nil, false
}
