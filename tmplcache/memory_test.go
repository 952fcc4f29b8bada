package tmplcache_test

import (
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tmplcache.Store { return tmplcache.NewMemoryStore() })
}
