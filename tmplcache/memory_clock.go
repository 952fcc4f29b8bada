package tmplcache

import (
	"context"
	"sync"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// memoryClocks are a MemoryStore's logical clocks, one per clock key (one
// per namespace in use). They live beside the items, not among them, so
// that evicting items never loses a clock; each advance also copies the
// value to its key, so Get reads it like any other value.
type memoryClocks struct {
	mu sync.Mutex // serializes invalidations: clock and records move together
	m  map[string]layout.Stamp
}

var _ Sequencer = (*MemoryStore)(nil)

// Invalidate implements [Sequencer]: the clock advances and the records are
// written under one mutex, so stamps never go backwards.
func (m *MemoryStore) Invalidate(ctx context.Context, clock string, inv []Invalidation) ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	mc := &m.clocks
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = make(map[string]layout.Stamp)
	}
	old := mc.m[clock]
	var prev []byte
	if old.Known() {
		prev = layout.AppendClock(nil, old)
	}
	clk := layout.Next(prev, layout.NewEpoch())
	mc.m[clock] = clk
	value := layout.AppendClock(nil, clk)
	m.set(clock, value, 0)
	for _, in := range inv {
		rec, ok := layout.DecodeRecord(in.Record)
		if !ok {
			rec = layout.Record{Rand: randUint64()}
		}
		out, _ := layout.Apply(m.get(in.Key), rec, in.Release, clk, true)
		m.set(in.Key, out, in.TTL)
	}
	return value, nil
}
