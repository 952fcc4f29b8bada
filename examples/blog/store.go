package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/memcachestore"
	"github.com/cachetagging/cachetagging/tmplcache/redisstore"
)

// backend is the store the cache runs on, as the flags chose it.
type backend struct {
	name  string // for the startup line
	store tmplcache.Store
	close func() error // closes the store's client
}

// openBackend connects to the store the flags name: Redis, memcached, or
// (by default) a map in this process. Only a shared store lets several
// processes on one database serve what the others' edits changed.
func openBackend(ctx context.Context, cfg config, log *slog.Logger) (backend, error) {
	switch {
	case cfg.redis != "":
		opts, err := redisOptions(cfg.redis)
		if err != nil {
			return backend{}, fmt.Errorf("-redis: %w", err)
		}
		opts.ContextTimeoutEnabled = true // the client ends calls at the cache's timeout (see redisstore)
		client := redis.NewClient(opts)
		ping(log, "redis", func() error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return client.Ping(ctx).Err()
		})
		return backend{name: "redis " + opts.Addr, store: redisstore.New(client), close: client.Close}, nil
	case cfg.memcacheAddr != "":
		client := memcache.New(strings.Split(cfg.memcacheAddr, ",")...)
		client.Timeout = tmplcache.DefaultTimeout // a call the cache gave up on lingers no longer
		client.MaxIdleConns = 64                  // above the peak of concurrent cache calls
		ping(log, "memcached", client.Ping)
		return backend{name: "memcached " + cfg.memcacheAddr, store: memcachestore.New(client), close: client.Close}, nil
	default:
		return backend{name: "memory", store: tmplcache.NewMemoryStore(), close: func() error { return nil }}, nil
	}
}

// redisOptions reads -redis: a URL (redis://, rediss://, unix://) or a
// bare host:port.
func redisOptions(s string) (*redis.Options, error) {
	if strings.Contains(s, "://") {
		return redis.ParseURL(s)
	}
	if !strings.Contains(s, ":") {
		return nil, fmt.Errorf("%q: want host:port or a redis:// URL", s)
	}
	return &redis.Options{Addr: s}, nil
}

// ping reports a store that does not answer. It does not stop the blog: a
// cache that fails renders pages uncached.
func ping(log *slog.Logger, name string, fn func() error) {
	if err := fn(); err != nil {
		log.Warn("the cache store does not answer: pages render uncached until it does", "store", name, "err", err)
	}
}
