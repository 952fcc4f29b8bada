package main

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// stamps counts the renders of each fragment. Its next method is the
// {{ stamp KEY }} template function: written inside a fragment, it runs
// only when the fragment is rendered, never when it comes from the cache,
// so "KEY rendered #N" shows which fragments a request rendered.
type stamps struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *stamps) next(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[key]++
	return fmt.Sprintf("%s rendered #%d", key, s.n[key])
}

// renderCount is one fragment's number of renders.
type renderCount struct {
	Key   string
	Count int
}

func (s *stamps) counts() []renderCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]renderCount, 0, len(s.n))
	for _, k := range slices.Sorted(maps.Keys(s.n)) {
		out = append(out, renderCount{k, s.n[k]})
	}
	return out
}
