// Package testserver finds the real servers tests run against (Redis,
// memcached, PostgreSQL) and applies one rule to all of them: a server that does not
// answer skips the test on a developer's machine, and fails it under
// CI=true, where .ci/run has started every server.
package testserver

import (
	"context"
	"net"
	"os"
	"testing"
	"time"
)

// Unavailable skips t (or, under CI=true, fails it) because what does not
// answer.
func Unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is unavailable: %v (CI=true: real servers are required)", what, err)
	}
	t.Skipf("%s is unavailable: %v (with CI=true this fails)", what, err)
}

// RedisAddr is the Redis server tests use: $REDIS_ADDR, or 127.0.0.1:6379.
func RedisAddr() string { return env("REDIS_ADDR", "127.0.0.1:6379") }

// MemcacheAddr is the memcached server tests use: $MEMCACHE_ADDR, or
// 127.0.0.1:11211.
func MemcacheAddr() string { return env("MEMCACHE_ADDR", "127.0.0.1:11211") }

// PostgresDSN is the PostgreSQL database tests use: $POSTGRES_DSN, or the
// trust-auth database "test" on 127.0.0.1:5432.
func PostgresDSN() string {
	return env("POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// Require checks that something listens at addr (host:port), or skips or
// fails t by the rule above.
func Require(t testing.TB, what, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		Unavailable(t, what+" at "+addr, err)
		return
	}
	_ = conn.Close()
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
