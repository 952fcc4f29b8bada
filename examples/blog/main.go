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

// run serves the blog until ctx is done, then shuts down gracefully. Once
// it listens, it prints one line to stdout:
//
//	blog listening on http://ADDR (store: STORE, db: DB)
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
	cache := tmplcache.New(be.store, tmplcache.WithNamespace(cfg.namespace), tmplcache.WithLogger(log))
	db, dbName, err := openDB(cfg.db, log)
	if err != nil {
		return err
	}
	defer closeDB(db)
	a, err := newApp(ctx, cache, db, []byte(cfg.secret), log)
	if err != nil {
		return err
	}
	if err := publishExpvar(cache); err != nil {
		log.Warn("/debug/vars does not show this cache", "err", err)
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
	fmt.Fprintf(stdout, "blog listening on http://%s (store: %s, db: %s)\n", ln.Addr(), be.name, dbName)
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
