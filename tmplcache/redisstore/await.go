package redisstore

import "context"

// await runs fn and returns its result, or ctx's error as soon as ctx ends,
// whichever comes first.
//
// go-redis does not stop a command when its context ends: unless the client
// was built with ContextTimeoutEnabled it reads the reply until ReadTimeout
// (seconds), and even then it honours only a deadline, not a cancellation.
// A [tmplcache.Cache] bounds every store call with a timeout of a few
// hundred milliseconds and must get control back when it fires, so a call
// whose ctx can end runs on a goroutine of its own. An abandoned command
// finishes (or fails) in the background within the client's own timeouts;
// fn must not touch memory the caller reads after await returns, so it
// returns its result instead of storing it.
//
// With direct (the client honours deadlines: ContextTimeoutEnabled), a
// call whose ctx has a deadline runs on the caller's goroutine instead:
// the client itself ends it at the deadline, and the hop to another
// goroutine, which on a small machine costs a good part of a loopback
// round trip (waking a thread), is saved. A cancellation before the
// deadline then ends the call at its deadline only.
func await[T any](ctx context.Context, direct bool, fn func(ctx context.Context) (T, error)) (T, error) {
	if ctx.Done() == nil {
		return fn(ctx)
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if _, ok := ctx.Deadline(); ok && direct {
		v, err := fn(ctx)
		if err != nil && ctx.Err() != nil {
			return zero, ctx.Err() // the client's own timeout error says less
		}
		return v, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1) // buffered: an abandoned fn must not block
	go func() {
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
