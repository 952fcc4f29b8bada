package memcachestore

import (
	"context"
	"fmt"
)

// run calls fn, which talks to memcached, and returns when it returns or
// when ctx is done, whichever comes first. The memcache client takes no
// context, so fn runs on a goroutine of its own that may outlive an
// abandoned call; it ends by itself, since every socket operation of the
// client is bounded by client.Timeout, and fn checks ctx between items so
// an abandoned batch stops after the item at hand. A ctx that can never be
// done (context.Background) runs fn on the caller's goroutine.
func (s *Store) run(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: %s: %w", op, err)
	}
	if ctx.Done() == nil {
		return wrap(op, fn(ctx))
	}
	done := make(chan error, 1) // buffered: an abandoned fn never blocks on it
	s.running.Add(1)
	go func() {
		defer s.running.Add(-1)
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return wrap(op, err)
	case <-ctx.Done():
		select {
		case err := <-done: // finished at the same moment: keep its result
			return wrap(op, err)
		default:
			return fmt.Errorf("memcachestore: %s: %w", op, ctx.Err())
		}
	}
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("memcachestore: %s: %w", op, err)
}
