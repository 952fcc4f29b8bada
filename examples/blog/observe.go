package main

import (
	"encoding/json"
	"expvar"
	"fmt"
	"net/http"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/cachemetrics"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
)

// The cache's counters, three ways: /stats for people, /metrics for
// Prometheus, /debug/vars for expvar.

// metricsHandler serves the cache's counters to Prometheus, from a
// registry of the app's own (the default one is global, and a test makes
// many apps).
func metricsHandler(c *tmplcache.Cache) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(cachemetrics.NewCollector(c)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

// expvarName is the name the cache's counters have in /debug/vars.
const expvarName = "tmplcache"

// publishExpvar publishes the cache's counters for /debug/vars. expvar is
// global to the process: only the first cache published under the name
// shows.
func publishExpvar(c *tmplcache.Cache) error { return cachemetrics.Publish(expvarName, c) }

func expvarHandler() http.Handler { return expvar.Handler() }

// statsView is the data of /stats.
type statsView struct {
	Cache  tmplcache.Stats `json:"cache"`
	Writes gormtags.Stats  `json:"writes"`
	Rows   []statRow       `json:"-"`
}

type statRow struct {
	Name  string
	Value any
	Help  string
}

func (a *app) stats(w http.ResponseWriter, r *http.Request) {
	v := statsView{Cache: a.cache.Stats()}
	v.Writes, _ = gormtags.StatsOf(a.db)
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			a.log.WarnContext(r.Context(), "writing stats", "err", err)
		}
		return
	}
	v.Rows = append(statRows(v.Cache, cacheHelp, ""), statRows(v.Writes, writesHelp, "GORM ")...)
	a.render(w, r, http.StatusOK, "stats.html", page{Title: "Cache stats", Stats: v})
}

// statRows lists the fields of a stats struct, so that a counter added to
// it shows up here too.
func statRows(stats any, help map[string]string, prefix string) []statRow {
	v := reflect.ValueOf(stats)
	rows := make([]statRow, 0, v.NumField())
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		rows = append(rows, statRow{prefix + name, v.Field(i).Interface(), help[name]})
	}
	return rows
}

var cacheHelp = map[string]string{
	"Hits":          "reads that returned a valid entry (fragments and pages)",
	"Misses":        "reads that found no valid entry",
	"Stores":        "entries written",
	"SkippedStale":  "builds not stored: a tag changed while they were built",
	"SkippedLocked": "builds not stored: a transaction held one of their tags",
	"SkippedUnsure": "builds not stored: their tags could not be checked (store errors)",
	"Prevented":     "builds not stored because of cache_tagging_prevent",
	"Invalidations": "tags invalidated",
	"FlightWaits":   "misses that waited for a concurrent render of the same key",
	"StoreErrors":   "store calls that failed (timeouts included)",
	"Timeouts":      "store calls that ran out of time",
	"ShortCircuits": "store calls refused while the circuit breaker was open",
	"BreakerOpens":  "times the circuit breaker opened",
	"BreakerOpen":   "whether the store is being short-circuited now",
	"PendingTags":   "failed invalidations waiting to be re-applied",
}

var writesHelp = map[string]string{
	"Writes":     "database writes whose rows' tags were invalidated",
	"Tags":       "tags those writes invalidated",
	"Unresolved": "writes whose rows could not all be read: their table's tag was invalidated",
	"Unhooked":   "writes in a transaction whose end the plugin could not see",
	"Errors":     "failures of the plugin (logged); none failed a write",
}
