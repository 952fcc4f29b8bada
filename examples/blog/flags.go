package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cachetagging/cachetagging"
)

// config is what the flags say.
type config struct {
	addr         string
	db           string
	redis        string
	memcacheAddr string
	namespace    string
	secret       string
}

// defaultNamespace prefixes the keys of the cache in a shared store. It is
// fixed, not drawn at random, so that every process of the blog, and every
// restart, shares one cache: the data lives in the database, not in the
// process.
const defaultNamespace = "blog"

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("blog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen on `host:port` (port 0: any free port)")
	fs.StringVar(&cfg.db, "db", defaultDBPath(), "the database: a SQLite `file`, or a PostgreSQL URL (postgres://user@host:port/dbname)")
	fs.StringVar(&cfg.redis, "redis", "", "cache in Redis at `host:port` or redis://host:port/db")
	fs.StringVar(&cfg.memcacheAddr, "memcache", "", "cache in memcached at `host:port` (several: comma-separated)")
	fs.StringVar(&cfg.namespace, "namespace", defaultNamespace, "prefix of the cache's keys in a shared store: the same for every\n"+
		"process of one site; change it to start from an empty cache (a new database)")
	fs.StringVar(&cfg.secret, "secret", "", "the `key` authenticating cached holes, the same for every process on a\n"+
		"shared store (-redis, -memcache): at least 16 bytes (default $BLOG_SECRET)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.secret == "" {
		cfg.secret = os.Getenv("BLOG_SECRET") // out of sight of ps
	}
	shared := cfg.redis != "" || cfg.memcacheAddr != ""
	switch {
	case cfg.db == "":
		return config{}, errors.New("-db: empty")
	case cfg.redis != "" && cfg.memcacheAddr != "":
		return config{}, errors.New("-redis and -memcache: choose one store")
	case shared && cfg.secret == "":
		return config{}, errors.New("a shared store (-redis, -memcache) needs -secret: " +
			"processes sharing it must authenticate each other's cached holes")
	case cfg.secret != "" && len(cfg.secret) < cachetagging.MinSecretLen:
		return config{}, fmt.Errorf("-secret: %d bytes, want at least %d", len(cfg.secret), cachetagging.MinSecretLen)
	}
	return cfg, nil
}
