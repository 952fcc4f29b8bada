package cachemetrics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/cachemetrics"
)

// A server exposing one cache's Stats on /metrics for Prometheus and on
// /debug/vars for expvar.
func Example() {
	pages := tmplcache.New(tmplcache.NewMemoryStore())

	if err := cachemetrics.Publish("pages_cache", pages); err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(cachemetrics.NewCollector(pages,
		cachemetrics.WithConstLabels(prometheus.Labels{"cache": "pages"}))); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/vars", expvar.Handler())
	log.Fatal(http.ListenAndServe("localhost:8080", mux))
}

func ExampleNewCollector() {
	ctx := context.Background()
	c := tmplcache.New(nil)
	reg := prometheus.NewRegistry()
	if err := reg.Register(cachemetrics.NewCollector(c, cachemetrics.WithNamespace("shop"))); err != nil {
		fmt.Println(err)
		return
	}
	fill := func(context.Context) ([]byte, error) { return []byte("<nav>…</nav>"), nil }
	_, _ = c.Fetch(ctx, "nav", fill, tmplcache.Tags("categories")) // miss
	_, _ = c.Fetch(ctx, "nav", fill, tmplcache.Tags("categories")) // hit

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if line := sc.Text(); strings.HasPrefix(line, "shop_tmplcache_hits") || strings.HasPrefix(line, "shop_tmplcache_misses") {
			fmt.Println(line)
		}
	}
	// Output:
	// shop_tmplcache_hits_total 1
	// shop_tmplcache_misses_total 1
}

// Several caches in one expvar map, under /debug/vars "caches".
func ExampleVar() {
	pages, api := tmplcache.New(nil), tmplcache.New(nil)
	caches := new(expvar.Map) // expvar.NewMap("caches") to publish it
	caches.Set("pages", cachemetrics.Var(pages))
	caches.Set("api", cachemetrics.Var(api))

	_, _, _ = pages.Get(context.Background(), "home") // a miss

	var got map[string]tmplcache.Stats
	if err := json.Unmarshal([]byte(caches.String()), &got); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pages misses:", got["pages"].Misses, "api misses:", got["api"].Misses)
	// Output: pages misses: 1 api misses: 0
}
