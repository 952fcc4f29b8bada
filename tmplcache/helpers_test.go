package tmplcache_test

import (
	"context"

	"github.com/cachetagging/cachetagging/internal/testclock"
)

var bg = context.Background()

// fakeClock is a clock tests move by hand (two of them play two machines).
type fakeClock = testclock.Clock

func newFakeClock() *fakeClock { return testclock.New() }

func value(s string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(s), nil }
}
