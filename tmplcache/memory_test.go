package tmplcache_test

import (
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tmplcache.Store { return tmplcache.NewMemoryStore() })
}

// A budget barely above the suite's largest value (1 MiB, which must sit
// beside a small one) changes nothing the suite can see.
func TestMemoryStoreConformanceOnATightBudget(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tmplcache.Store {
		return tmplcache.NewMemoryStore(tmplcache.MaxBytes(1<<20 + 4<<10))
	})
}
