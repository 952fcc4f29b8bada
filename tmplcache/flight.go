package tmplcache

import (
	"context"
	"sync"
	"time"
)

// flights lets concurrent misses of one key in this process build it once.
// Unlike a plain singleflight, waiters do not take the leader's value: it
// may have been prevented (built for one user) or not stored; they read the
// cache again, groupcache-style, and build themselves only if it missed.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	expires time.Time // a leader slower than this is not waited for
}

// join returns the flight for key and whether the caller leads it. An
// expired flight (its leader died or hangs) is replaced.
func (fs *flights) join(key string, now time.Time, wait time.Duration) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok && now.Before(f.expires) {
		return f, false
	}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{}), expires: now.Add(wait)}
	fs.m[key] = f
	return f, true
}

func (fs *flights) leave(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	close(f.done)
}

// wait blocks until the leader finishes (true), or until the flight expires
// or ctx ends (false).
func (f *flight) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}
