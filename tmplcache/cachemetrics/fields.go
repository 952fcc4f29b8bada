package cachemetrics

import (
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// help is the HELP text of the metric derived from each [tmplcache.Stats]
// field, keyed by field name. TestEveryStatsFieldHasHelp fails when a field
// has no entry here (or an entry names a field that is gone): adding a field
// to Stats is enough to export it, this table is where it gets described.
var help = map[string]string{
	"Hits":          "Cache reads that returned a valid entry.",
	"Misses":        "Cache reads that found no valid entry.",
	"Stores":        "Entries written to the store.",
	"SkippedStale":  "Builds not stored because a tag changed while they were built.",
	"SkippedLocked": "Builds not stored because a transaction held one of their tags.",
	"SkippedUnsure": "Builds not stored because their tags could not be checked (store errors, bad tags).",
	"Prevented":     "Builds not stored because of Prevent.",
	"Invalidations": "Tags invalidated (each tag counts once per call).",
	"FlightWaits":   "Misses that waited for a concurrent build of the same key.",
	"EarlyRebuilds": "Hits turned into rebuilds ahead of expiry (early recomputation).",
	"GraceHits":     "Reads served a previous value within its grace while it was rebuilt.",
	"Unusable":      "Hits whose value the reader could not use: rebuilt.",
	"StoreErrors":   "Store calls that failed, timeouts included.",
	"Timeouts":      "Store calls that ran out of time.",
	"ShortCircuits": "Store calls refused while the circuit breaker was open.",
	"BreakerOpens":  "Times the circuit breaker opened.",
	"BreakerOpen":   "Whether the circuit breaker is open or trying (1) or closed (0).",
	"PendingTags":   "Failed invalidations waiting to be re-applied.",
}

// subsystem is the middle part of every metric name: with no namespace,
// names start with "tmplcache_".
const subsystem = "tmplcache"

// A conv turns one field's value into a sample.
type conv int

const (
	convUnsigned conv = iota // uint kinds: counters
	convSigned               // int kinds: gauges
	convFloat                // float kinds: gauges
	convBool                 // 1 or 0
	convSeconds              // time.Duration, in seconds
	convUnixTime             // time.Time, in Unix seconds (0 for the zero time)
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// spec is the metric derived from one struct field.
type spec struct {
	index int    // field index in the struct
	field string // Go field name
	name  string // metric name without namespace and subsystem
	help  string
	vtype prometheus.ValueType
	conv  conv
}

// specsFor derives one metric per exported field of the struct type t: the
// name is the field name in snake_case, the kind decides the type. Unsigned
// integers only ever grow ([tmplcache.Stats] are counters since New), so
// they are counters and get the "_total" suffix; everything else is a gauge.
// Fields of a type that has no sensible sample (strings, slices, nested
// structs) are returned in skipped instead: TestEveryStatsFieldIsExported
// keeps that list empty for tmplcache.Stats.
func specsFor(t reflect.Type, helps map[string]string) (specs []spec, skipped []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue // private, like in the expvar JSON
		}
		if f.Anonymous {
			skipped = append(skipped, f.Name)
			continue
		}
		s := spec{index: i, field: f.Name, name: snakeCase(f.Name), vtype: prometheus.GaugeValue}
		switch k := f.Type.Kind(); {
		case f.Type == durationType:
			s.conv, s.name = convSeconds, s.name+"_seconds"
		case f.Type == timeType:
			s.conv, s.name = convUnixTime, s.name+"_timestamp_seconds"
		case k >= reflect.Uint && k <= reflect.Uintptr:
			s.conv, s.vtype = convUnsigned, prometheus.CounterValue
			if !strings.HasSuffix(s.name, "_total") {
				s.name += "_total"
			}
		case k >= reflect.Int && k <= reflect.Int64:
			s.conv = convSigned
		case k == reflect.Float32 || k == reflect.Float64:
			s.conv = convFloat
		case k == reflect.Bool:
			s.conv = convBool
		default:
			skipped = append(skipped, f.Name)
			continue
		}
		s.help = helps[f.Name]
		if s.help == "" {
			// Better an undocumented metric than a missing one: the test
			// on the help table catches this before a release.
			s.help = t.String() + "." + f.Name
		}
		specs = append(specs, s)
	}
	return specs, skipped
}

// value reads the spec's field from v, a struct of the type it was derived from.
func (s *spec) value(v reflect.Value) float64 {
	f := v.Field(s.index)
	switch s.conv {
	case convUnsigned:
		return float64(f.Uint())
	case convSigned:
		return float64(f.Int())
	case convFloat:
		return f.Float()
	case convBool:
		if f.Bool() {
			return 1
		}
		return 0
	case convSeconds:
		return time.Duration(f.Int()).Seconds()
	case convUnixTime:
		t := f.Interface().(time.Time)
		if t.IsZero() {
			return 0
		}
		return float64(t.Unix()) + float64(t.Nanosecond())/1e9
	}
	return 0
}

// snakeCase turns a Go field name into a metric name part: "SkippedStale"
// gives "skipped_stale", "TTLHits" gives "ttl_hits".
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// statsSpecs are the metrics of [tmplcache.Stats], derived once.
var statsSpecs, _ = specsFor(reflect.TypeFor[tmplcache.Stats](), help)
