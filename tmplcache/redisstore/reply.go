package redisstore

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// bytesOf returns s's bytes without copying them. go-redis makes a fresh
// string for every bulk reply and keeps no reference to it, and
// [tmplcache.Store] forbids callers to modify what Get returns, so the
// string's memory can back the slice: a hit costs no copy here (the cache
// makes the one copy the caller keeps). An empty value must stay non-nil:
// nil means a miss.
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// valueOf converts one element of a multi-bulk reply (MGET, the entry
// script) to a value; a nil element is a missing key.
func valueOf(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return bytesOf(v), nil
	case []byte:
		return v, nil
	default:
		return nil, fmt.Errorf("%w: %T in a value reply", ErrUnexpectedReply, v)
	}
}

// stringValue converts the reply of a GET.
func stringValue(cmd *redis.StringCmd) ([]byte, error) {
	s, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return bytesOf(s), nil
}

// firstErr returns the first failure among executed commands. redis.Nil
// is not one: it is a missing key for GET and a present key for SET NX.
func firstErr[C redis.Cmder](cmds []C) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}
