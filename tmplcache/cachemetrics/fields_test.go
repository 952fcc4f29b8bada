package cachemetrics

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// This test is the guard the package relies on: a field added to
// tmplcache.Stats is exported by reflection, and must be described here.
func TestEveryStatsFieldHasHelp(t *testing.T) {
	st := reflect.TypeFor[tmplcache.Stats]()
	fields := map[string]bool{}
	for f := range st.Fields() {
		if !f.IsExported() {
			continue
		}
		fields[f.Name] = true
		if help[f.Name] == "" {
			t.Errorf("tmplcache.Stats.%s has no help text: add it to the help table in fields.go", f.Name)
		}
	}
	for name := range help {
		if !fields[name] {
			t.Errorf("help table describes %q, which is no longer a tmplcache.Stats field", name)
		}
	}
}

func TestEveryStatsFieldIsExported(t *testing.T) {
	specs, skipped := specsFor(reflect.TypeFor[tmplcache.Stats](), help)
	if len(skipped) > 0 {
		t.Errorf("tmplcache.Stats fields of a type with no metric conversion: %v (teach specsFor their type)", skipped)
	}
	exported := 0
	for f := range reflect.TypeFor[tmplcache.Stats]().Fields() {
		if f.IsExported() {
			exported++
		}
	}
	if len(specs) != exported {
		t.Errorf("%d metrics for %d exported Stats fields", len(specs), exported)
	}
}

func TestMetricNamesAreUniqueAndValid(t *testing.T) {
	seen := map[string]string{}
	for _, s := range statsSpecs {
		if !nameRE.MatchString(s.name) {
			t.Errorf("field %s: %q is not a metric name", s.field, s.name)
		}
		if prev, dup := seen[s.name]; dup {
			t.Errorf("fields %s and %s both give %q", prev, s.field, s.name)
		}
		seen[s.name] = s.field
	}
}

func TestSnakeCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hits", "hits"},
		{"SkippedStale", "skipped_stale"},
		{"BreakerOpens", "breaker_opens"},
		{"TTLHits", "ttl_hits"},
		{"HitsTTL", "hits_ttl"},
		{"P99Latency", "p99_latency"},
		{"Store2Errors", "store2_errors"},
		{"X", "x"},
	} {
		if got := snakeCase(tc.in); got != tc.want {
			t.Errorf("snakeCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// futureStats stands for fields tmplcache.Stats does not have yet.
type futureStats struct {
	Reads      uint32
	BytesTotal uint64
	Entries    int64
	HitRatio   float64
	Degraded   bool
	LastBuild  time.Duration
	LastError  time.Time
	NeverSet   time.Time
	Name       string // no sample: skipped
	private    uint64
	tmplcache.Stats
}

func TestSpecsForDerivesNameTypeAndValueFromEachField(t *testing.T) {
	specs, skipped := specsFor(reflect.TypeFor[futureStats](), map[string]string{"Reads": "Reads done."})
	if want := []string{"Name", "Stats"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
	v := reflect.ValueOf(futureStats{
		Reads: 7, BytesTotal: 9, Entries: -3, HitRatio: 0.5, Degraded: true,
		LastBuild: 1500 * time.Millisecond, LastError: time.Unix(1700000000, 250e6),
		private: 1,
	})
	type row struct {
		name  string
		vtype prometheus.ValueType
		value float64
	}
	want := map[string]row{
		"Reads":      {"reads_total", prometheus.CounterValue, 7},
		"BytesTotal": {"bytes_total", prometheus.CounterValue, 9},
		"Entries":    {"entries", prometheus.GaugeValue, -3},
		"HitRatio":   {"hit_ratio", prometheus.GaugeValue, 0.5},
		"Degraded":   {"degraded", prometheus.GaugeValue, 1},
		"LastBuild":  {"last_build_seconds", prometheus.GaugeValue, 1.5},
		"LastError":  {"last_error_timestamp_seconds", prometheus.GaugeValue, 1700000000.25},
		"NeverSet":   {"never_set_timestamp_seconds", prometheus.GaugeValue, 0},
	}
	if len(specs) != len(want) {
		t.Errorf("got %d specs, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		w, ok := want[s.field]
		if !ok {
			t.Errorf("unexpected metric for field %s", s.field)
			continue
		}
		if got := (row{s.name, s.vtype, s.value(v)}); got != w {
			t.Errorf("field %s: got %+v, want %+v", s.field, got, w)
		}
	}
	if specs[0].help != "Reads done." || specs[1].help != "cachemetrics.futureStats.BytesTotal" {
		t.Errorf("help texts %q, %q: want the table's, then the fallback", specs[0].help, specs[1].help)
	}
}
