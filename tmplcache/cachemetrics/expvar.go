package cachemetrics

import (
	"expvar"
	"fmt"
	"sync"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Var returns an [expvar.Var] whose value is a fresh [tmplcache.Stats]
// snapshot of c, as a JSON object with one key per field. Use it to put
// several caches in one [expvar.Map]; [Publish] publishes one at the top
// level. A nil cache shows as null.
func Var(c *tmplcache.Cache) expvar.Var {
	return expvar.Func(func() any {
		if c == nil {
			return nil
		}
		return c.Stats()
	})
}

// published remembers what Publish published, so that publishing the same
// cache under the same name again is a no-op rather than an error.
var published struct {
	sync.Mutex
	caches map[string]*tmplcache.Cache
}

// Publish publishes c's [tmplcache.Stats] with [expvar] under name, so
// /debug/vars shows them as a JSON object (see [Var]). expvar cannot
// unpublish a name, so Publish is meant for caches that live as long as the
// process.
//
// Unlike [expvar.Publish], Publish does not panic on a name already in use:
// publishing the same cache under the same name again does nothing and
// returns nil; a name used by another cache, or by anything published
// without Publish, returns an error wrapping [ErrNameTaken]. A name
// published directly with expvar by another goroutine at the same moment can
// still make expvar panic: Publish can only serialise its own calls.
func Publish(name string, c *tmplcache.Cache) error {
	if name == "" {
		return ErrEmptyName
	}
	if c == nil {
		return fmt.Errorf("%w (expvar name %q)", ErrNilCache, name)
	}
	published.Lock()
	defer published.Unlock()
	if prev, ok := published.caches[name]; ok {
		if prev == c {
			return nil
		}
		return fmt.Errorf("%w: %q (by another cache)", ErrNameTaken, name)
	}
	if expvar.Get(name) != nil {
		return fmt.Errorf("%w: %q", ErrNameTaken, name)
	}
	expvar.Publish(name, Var(c))
	if published.caches == nil {
		published.caches = map[string]*tmplcache.Cache{}
	}
	published.caches[name] = c
	return nil
}
