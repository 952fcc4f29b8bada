package nocache

import (
	"bytes"
	"sync"

	"github.com/cachetagging/cachetagging/internal/marker"
)

// verifiedCalls remembers markers already authenticated and decoded: a
// cached page shows the same few holes on every request, and checking an
// HMAC and decoding JSON each time would cost more than the rest of the
// hit. An entry is found by the marker's tag and must match its payload
// byte for byte, so a hit proves the marker as well as the HMAC did.
type verifiedCalls struct {
	mu sync.RWMutex
	m  map[[marker.TagLen]byte]*verifiedCall
}

type verifiedCall struct {
	payload []byte
	call    Call // Live unset; Args must be copied before a handler sees them
	err     error
}

const maxVerified = 4096

// verified authenticates and decodes m, from memory when it can.
func (r *Registry) verified(m marker.Marker) (*verifiedCall, bool) {
	c := &r.seen
	c.mu.RLock()
	v := c.m[m.Tag]
	c.mu.RUnlock()
	if v != nil && bytes.Equal(v.payload, m.Payload) {
		return v, true
	}
	if !r.valid(m) {
		return nil, false
	}
	v = &verifiedCall{payload: bytes.Clone(m.Payload)}
	v.call, v.err = decodeCall(v.payload)
	c.mu.Lock()
	if len(c.m) >= maxVerified || c.m == nil {
		c.m = make(map[[marker.TagLen]byte]*verifiedCall) // start over: simpler than LRU, rare
	}
	c.m[m.Tag] = v
	c.mu.Unlock()
	return v, true
}

// valid checks m's tag under each of r's keys, the current one first.
func (r *Registry) valid(m marker.Marker) bool {
	for _, s := range r.verifier {
		if s.Valid(m) {
			return true
		}
	}
	return false
}
