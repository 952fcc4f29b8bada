package redisstore

import "errors"

var (
	// ErrNilClient is returned by every method of a [Store] made with a nil
	// client.
	ErrNilClient = errors.New("redisstore: nil client")
	// ErrUnexpectedReply is returned when Redis answers with a reply of a
	// type the command cannot produce (a proxy or a server that speaks
	// another dialect).
	ErrUnexpectedReply = errors.New("redisstore: unexpected reply")

	// errNoPrefetch: a Prefetcher method called on a store whose
	// Prefetches is false (the cache never does).
	errNoPrefetch = errors.New("not on a sharded client or WithoutScript")
)
