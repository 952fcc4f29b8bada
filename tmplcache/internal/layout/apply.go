package layout

// Verdict is what a store does with one tag record of an invalidation.
type Verdict int

const (
	// Write: store the record Apply returned.
	Write Verdict = iota
	// Keep: the record already holds a later stamp of the same epoch (a
	// concurrent invalidation whose write landed first); the version stays.
	// Apply returned the record with only its lock updated, or nil when
	// nothing changes.
	Keep
	// Retry: the record holds a stamp of another epoch. Advance the clock
	// again: if its epoch is still the one the invalidation had, the
	// record's epoch is the stale one, so call Apply again with force.
	Retry
)

// Apply returns what an invalidation stamped clk writes over old (nil when
// the key is missing). rec is the record the cache made (Seq and Epoch are
// zero; Lock is the lock the invalidation takes, or 0); release is the lock
// of a transaction that is ending (0: none).
//
// The lock rule: rec.Lock when non-zero; otherwise old's lock, unless it is
// release. So an invalidation outside a transaction never unlocks a tag
// that a transaction holds, and only the transaction that took a lock
// releases it.
//
// A store that advances the clock and writes the records as one atomic
// step (one server running a script; one process holding a mutex) always
// writes: it passes force. A store that cannot (compare-and-swap per key)
// passes force=false and follows the verdict, which keeps every record's
// stamp from going backwards.
func Apply(old []byte, rec Record, release int64, clk Stamp, force bool) ([]byte, Verdict) {
	prev, ok := DecodeRecord(old)
	lock := rec.Lock
	if lock == 0 && ok && prev.Lock != release {
		lock = prev.Lock
	}
	if ok && !force && prev.Seq != 0 {
		switch {
		case prev.Epoch != clk.Epoch:
			return nil, Retry
		case prev.Seq >= clk.Seq:
			if prev.Lock == lock {
				return nil, Keep
			}
			prev.Lock = lock
			return prev.Encode(), Keep
		}
	}
	rec.Seq, rec.Epoch, rec.Lock = clk.Seq, clk.Epoch, lock
	return rec.Encode(), Write
}
