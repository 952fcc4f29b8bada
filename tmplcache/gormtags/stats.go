package gormtags

import "sync/atomic"

// Stats are the plugin's counters since it was installed. Read them with
// [StatsOf].
type Stats struct {
	Writes     uint64 // writes of registered types whose tags were invalidated
	Tags       uint64 // tags invalidated for them (a tag counts once per write)
	Unresolved uint64 // writes whose rows could not all be resolved: their TableTag was invalidated too
	Unhooked   uint64 // writes inside a database transaction whose end the plugin could not see (see the package documentation)
	Errors     uint64 // failures (logged): cache errors and row look-ups that failed; none fails a write
}

type counters struct {
	writes, tags, unresolved, unhooked, errors atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Writes:     c.writes.Load(),
		Tags:       c.tags.Load(),
		Unresolved: c.unresolved.Load(),
		Unhooked:   c.unhooked.Load(),
		Errors:     c.errors.Load(),
	}
}
