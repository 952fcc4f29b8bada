package cachemetrics_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/cachemetrics"
	"github.com/cachetagging/cachetagging/tmplcache/internal/storefake"
)

var quiet = tmplcache.WithLogger(slog.New(slog.DiscardHandler))

func register(t *testing.T, cols ...prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, col := range cols {
		if err := reg.Register(col); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	return reg
}

// The names here are written out by hand: they are the contract dashboards
// are built on, so they are not derived the way the package derives them.
func TestCollectorExposesTheCountsOfARealCache(t *testing.T) {
	c := tmplcache.New(tmplcache.NewMemoryStore())
	col := cachemetrics.NewCollector(c)
	register(t, col)
	exercise(t, c)

	const want = `
# HELP tmplcache_hits_total Cache reads that returned a valid entry.
# TYPE tmplcache_hits_total counter
tmplcache_hits_total 1
# HELP tmplcache_misses_total Cache reads that found no valid entry.
# TYPE tmplcache_misses_total counter
tmplcache_misses_total 3
# HELP tmplcache_stores_total Entries written to the store.
# TYPE tmplcache_stores_total counter
tmplcache_stores_total 1
# HELP tmplcache_invalidations_total Tags invalidated (each tag counts once per call).
# TYPE tmplcache_invalidations_total counter
tmplcache_invalidations_total 2
# HELP tmplcache_breaker_open Whether the circuit breaker is open or trying (1) or closed (0).
# TYPE tmplcache_breaker_open gauge
tmplcache_breaker_open 0
# HELP tmplcache_pending_tags Failed invalidations waiting to be re-applied.
# TYPE tmplcache_pending_tags gauge
tmplcache_pending_tags 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"tmplcache_hits_total", "tmplcache_misses_total", "tmplcache_stores_total",
		"tmplcache_invalidations_total", "tmplcache_breaker_open", "tmplcache_pending_tags"); err != nil {
		t.Error(err)
	}
}

func TestCollectorReportsTheBreakerAndPendingTags(t *testing.T) {
	s := storefake.New()
	c := tmplcache.New(s, tmplcache.WithBreaker(1, time.Hour), quiet)
	col := cachemetrics.NewCollector(c)
	ctx := context.Background()
	s.Failing.Store(true)
	if err := c.InvalidateTags(ctx, "post:1"); err == nil {
		t.Fatal("InvalidateTags on a failing store: want an error")
	}
	if _, _, err := c.Get(ctx, "post:1"); !errors.Is(err, tmplcache.ErrUnavailable) {
		t.Fatalf("Get with the breaker open: got %v, want ErrUnavailable", err)
	}

	const want = `
# HELP tmplcache_breaker_open Whether the circuit breaker is open or trying (1) or closed (0).
# TYPE tmplcache_breaker_open gauge
tmplcache_breaker_open 1
# HELP tmplcache_breaker_opens_total Times the circuit breaker opened.
# TYPE tmplcache_breaker_opens_total counter
tmplcache_breaker_opens_total 1
# HELP tmplcache_pending_tags Failed invalidations waiting to be re-applied.
# TYPE tmplcache_pending_tags gauge
tmplcache_pending_tags 1
# HELP tmplcache_short_circuits_total Store calls refused while the circuit breaker was open.
# TYPE tmplcache_short_circuits_total counter
tmplcache_short_circuits_total 1
# HELP tmplcache_store_errors_total Store calls that failed, timeouts included.
# TYPE tmplcache_store_errors_total counter
tmplcache_store_errors_total 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"tmplcache_breaker_open", "tmplcache_breaker_opens_total", "tmplcache_pending_tags",
		"tmplcache_short_circuits_total", "tmplcache_store_errors_total"); err != nil {
		t.Error(err)
	}
}

// This one walks Stats by reflection, so it covers fields added after it
// was written.
func TestCollectorExposesEveryStatsFieldWithItsValue(t *testing.T) {
	s := storefake.New()
	c := tmplcache.New(s, tmplcache.WithBreaker(1, time.Hour), quiet)
	reg := register(t, cachemetrics.NewCollector(c))
	exercise(t, c)
	s.Failing.Store(true)
	_ = c.InvalidateTags(context.Background(), "home")
	_, _, _ = c.Get(context.Background(), "post:1")

	stats := c.Stats() // nothing runs on c from here on
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	names := cachemetrics.MetricNames()
	v := reflect.ValueOf(stats)
	exported := 0
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		exported++
		mf := got[names[f.Name]]
		if mf == nil || len(mf.GetMetric()) != 1 {
			t.Errorf("Stats.%s: no single metric %q", f.Name, names[f.Name])
			continue
		}
		m := mf.GetMetric()[0]
		var want float64
		wantType, value := dto.MetricType_GAUGE, m.GetGauge().GetValue()
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want, wantType, value = float64(fv.Uint()), dto.MetricType_COUNTER, m.GetCounter().GetValue()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			want = float64(fv.Int())
		case reflect.Bool:
			if fv.Bool() {
				want = 1
			}
		default:
			t.Errorf("Stats.%s: the test does not know kind %v yet", f.Name, fv.Kind())
			continue
		}
		if mf.GetType() != wantType || value != want {
			t.Errorf("%s: got %v %v, want %v %v (Stats.%s)", mf.GetName(), mf.GetType(), value, wantType, want, f.Name)
		}
	}
	if len(got) != exported {
		t.Errorf("%d metric families for %d Stats fields", len(got), exported)
	}
}

func TestCollectorTellsCachesApartWithNamespaceAndLabels(t *testing.T) {
	a, b := tmplcache.New(nil), tmplcache.New(nil)
	reg := register(t,
		cachemetrics.NewCollector(a, cachemetrics.WithNamespace("shop"),
			cachemetrics.WithConstLabels(prometheus.Labels{"cache": "pages"})),
		cachemetrics.NewCollector(b, cachemetrics.WithNamespace("shop"),
			cachemetrics.WithConstLabels(prometheus.Labels{"cache": "api"}), nil),
	)
	exercise(t, a)

	const want = `
# HELP shop_tmplcache_hits_total Cache reads that returned a valid entry.
# TYPE shop_tmplcache_hits_total counter
shop_tmplcache_hits_total{cache="api"} 0
shop_tmplcache_hits_total{cache="pages"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "shop_tmplcache_hits_total"); err != nil {
		t.Error(err)
	}

	t.Run("registering the same labels twice is refused, not a panic", func(t *testing.T) {
		err := reg.Register(cachemetrics.NewCollector(b, cachemetrics.WithNamespace("shop"),
			cachemetrics.WithConstLabels(prometheus.Labels{"cache": "api"})))
		if err == nil {
			t.Error("Register: want a duplicate error")
		}
	})
}

func TestWithConstLabelsCopiesItsMap(t *testing.T) {
	c := tmplcache.New(nil)
	labels := prometheus.Labels{"cache": "pages"}
	col := cachemetrics.NewCollector(c, cachemetrics.WithConstLabels(labels))
	labels["cache"] = "changed"
	labels["extra"] = "x"
	const want = `
# HELP tmplcache_hits_total Cache reads that returned a valid entry.
# TYPE tmplcache_hits_total counter
tmplcache_hits_total{cache="pages"} 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "tmplcache_hits_total"); err != nil {
		t.Error(err)
	}
}

func TestNewCollectorReportsBadInputAtRegistration(t *testing.T) {
	c := tmplcache.New(nil)
	for _, tc := range []struct {
		name  string
		cache *tmplcache.Cache
		opts  []cachemetrics.Option
		want  error
	}{
		{"a nil cache", nil, nil, cachemetrics.ErrNilCache},
		{"a namespace starting with a digit", c, []cachemetrics.Option{cachemetrics.WithNamespace("9lives")}, cachemetrics.ErrBadOption},
		{"a namespace with a dash", c, []cachemetrics.Option{cachemetrics.WithNamespace("my-app")}, cachemetrics.ErrBadOption},
		{"a namespace with a colon", c, []cachemetrics.Option{cachemetrics.WithNamespace("job:app")}, cachemetrics.ErrBadOption},
		{"an empty label name", c, []cachemetrics.Option{cachemetrics.WithConstLabels(prometheus.Labels{"": "x"})}, cachemetrics.ErrBadOption},
		{"a reserved label name", c, []cachemetrics.Option{cachemetrics.WithConstLabels(prometheus.Labels{"__name__": "x"})}, cachemetrics.ErrBadOption},
		{"a label name with a dash", c, []cachemetrics.Option{cachemetrics.WithConstLabels(prometheus.Labels{"cache-name": "x"})}, cachemetrics.ErrBadOption},
		{"a label value that is not UTF-8", c, []cachemetrics.Option{cachemetrics.WithConstLabels(prometheus.Labels{"cache": "\xff"})}, cachemetrics.ErrBadOption},
		{"one label given twice", c, []cachemetrics.Option{
			cachemetrics.WithConstLabels(prometheus.Labels{"cache": "a"}),
			cachemetrics.WithConstLabels(prometheus.Labels{"cache": "b"}),
		}, cachemetrics.ErrBadOption},
	} {
		t.Run(tc.name+" fails registration", func(t *testing.T) {
			col := cachemetrics.NewCollector(tc.cache, tc.opts...)
			err := prometheus.NewRegistry().Register(col)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Register: got %v, want %v", err, tc.want)
			}

			ch := make(chan prometheus.Metric, 100)
			col.Collect(ch) // an unchecked registry would still collect
			close(ch)
			n := 0
			for m := range ch {
				n++
				if err := m.Write(new(dto.Metric)); !errors.Is(err, tc.want) {
					t.Errorf("Collect: got a metric writing %v, want %v", err, tc.want)
				}
			}
			if n != 1 {
				t.Errorf("Collect sent %d metrics, want 1 invalid metric", n)
			}
		})
	}
}

// Run with -race: scrapes read a live cache.
func TestCollectorScrapesABusyCacheWithoutGoingBackwards(t *testing.T) {
	c := tmplcache.New(nil)
	reg := register(t, cachemetrics.NewCollector(c))
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			fill := func(context.Context) ([]byte, error) { return []byte("x"), nil }
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = c.Fetch(ctx, "k", fill, tmplcache.Tags("t"))
				_ = c.InvalidateTags(ctx, "t")
			}
		})
	}
	last := map[string]float64{}
	for range 50 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetType() != dto.MetricType_COUNTER {
				continue
			}
			v := mf.GetMetric()[0].GetCounter().GetValue()
			if v < last[mf.GetName()] {
				t.Errorf("%s went from %v to %v", mf.GetName(), last[mf.GetName()], v)
			}
			last[mf.GetName()] = v
		}
	}
	close(stop)
	wg.Wait()
}
