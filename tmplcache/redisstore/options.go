package redisstore

// Option configures a [Store] made by [New]. A nil Option is ignored.
type Option func(*config)

type config struct {
	sharded  bool
	noScript bool
}

// Sharded makes the store send only single-key commands, as it does by
// itself for a [*redis.ClusterClient] or a [*redis.Ring]. Use it for a
// client New cannot recognise as sharded: a wrapper around a cluster client,
// or a proxy that routes each command by its key (Envoy, twemproxy, a
// cluster proxy) and would reject or misroute MGET and multi-key scripts.
//
// [*redis.ClusterClient]: https://pkg.go.dev/github.com/redis/go-redis/v9#ClusterClient
// [*redis.Ring]: https://pkg.go.dev/github.com/redis/go-redis/v9#Ring
func Sharded() Option {
	return func(c *config) { c.sharded = true }
}

// WithoutScript makes [Store.GetEntry] read the entry and then its tag
// records (two round trips) instead of running its Lua script (one round
// trip), for servers where EVAL is forbidden (ACLs, some managed services).
func WithoutScript() Option {
	return func(c *config) { c.noScript = true }
}
