//go:build !race

package cachetagging_test

// poolSlack: without the race detector a pooled buffer comes back.
const poolSlack = 0
