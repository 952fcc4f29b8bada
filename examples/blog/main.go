package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "blog:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	addr         string
	redisURL     string
	memcacheAddr string
	secret       string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("blog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen on `host:port`")
	fs.StringVar(&cfg.redisURL, "redis", "", "cache in Redis at `URL` (redis://host:port/db)")
	fs.StringVar(&cfg.memcacheAddr, "memcache", "", "cache in memcached at `host:port` (several: comma-separated)")
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
	shared := cfg.redisURL != "" || cfg.memcacheAddr != ""
	switch {
	case cfg.redisURL != "" && cfg.memcacheAddr != "":
		return config{}, errors.New("-redis and -memcache: choose one store")
	case shared && cfg.secret == "":
		return config{}, errors.New("a shared store (-redis, -memcache) needs -secret: " +
			"processes sharing it must authenticate each other's cached holes")
	case cfg.secret != "" && len(cfg.secret) < cachetagging.MinSecretLen:
		return config{}, fmt.Errorf("-secret: %d bytes, want at least %d", len(cfg.secret), cachetagging.MinSecretLen)
	}
	return cfg, nil
}

// run serves the blog until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	be, err := openBackend(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer be.close()
	cache := tmplcache.New(be.store, append(be.opts, tmplcache.WithLogger(log))...)
	a, err := newApp(cache, seededBlog(), []byte(cfg.secret), log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "blog listening on http://%s (store: %s)\n", ln.Addr(), be.name)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
