package memcachestore

import (
	"crypto/sha256"
	"encoding/base64"
)

// memcached keys are at most 250 bytes, with no space or control character.
// A tmplcache key that is short and printable ASCII is used as it is, so
// keys stay readable in memcached's tools; any other key is replaced by
// hashPrefix and its SHA-256 in base64url. A raw key never starts with
// hashPrefix, so a raw key cannot equal a hashed one: the mapping is
// injective but for SHA-256 collisions. Chunk keys (chunk.go) start with
// hashPrefix too and contain a '.', which base64url never does.
const (
	maxKeyLen  = 250
	hashPrefix = '#'
	hashedLen  = 1 + 43 // hashPrefix + base64url(sha256), unpadded
)

// mapKey returns the memcached key that stores key.
func mapKey(key string) string {
	if rawKey(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	var b [hashedLen]byte
	b[0] = hashPrefix
	base64.RawURLEncoding.Encode(b[1:], sum[:])
	return string(b[:])
}

// rawKey reports whether key can be used as a memcached key as it is.
func rawKey(key string) bool {
	if key == "" || len(key) > maxKeyLen || key[0] == hashPrefix {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return false
		}
	}
	return true
}
