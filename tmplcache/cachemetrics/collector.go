package cachemetrics

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachetagging/cachetagging/tmplcache"
)

type collector struct {
	cache *tmplcache.Cache
	descs []*prometheus.Desc // descs[i] describes statsSpecs[i]
	err   error              // configuration error, reported by Describe and Collect
}

// NewCollector returns a Prometheus collector exposing c's [tmplcache.Stats]:
// one metric per field, read from a single [tmplcache.Cache.Stats] snapshot
// at each scrape. See the package documentation for the metric names.
//
// NewCollector never panics: a nil cache or an invalid option yields a
// collector whose registration fails with an error wrapping [ErrNilCache]
// or [ErrBadOption] (so [prometheus.MustRegister] panics, and
// [prometheus.Registerer.Register] returns the error).
func NewCollector(c *tmplcache.Cache, opts ...Option) prometheus.Collector {
	var cfg config
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if c == nil {
		cfg.errs = append(cfg.errs, ErrNilCache)
	}
	col := &collector{cache: c, err: errors.Join(cfg.errs...)}
	if col.err != nil {
		return col
	}
	col.descs = make([]*prometheus.Desc, len(statsSpecs))
	for i, s := range statsSpecs {
		d := prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, subsystem, s.name), s.help, nil, cfg.labels)
		if err := d.Err(); err != nil {
			// Our own checks should have caught it; never expose half a set.
			col.err = fmt.Errorf("%w: %w", ErrBadOption, err)
			col.descs = nil
			return col
		}
		col.descs[i] = d
	}
	return col
}

// Describe implements [prometheus.Collector].
func (col *collector) Describe(ch chan<- *prometheus.Desc) {
	if col.err != nil {
		ch <- prometheus.NewInvalidDesc(col.err)
		return
	}
	for _, d := range col.descs {
		ch <- d
	}
}

// Collect implements [prometheus.Collector].
func (col *collector) Collect(ch chan<- prometheus.Metric) {
	if col.err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(col.err), col.err)
		return
	}
	// One snapshot per scrape, so the samples of one scrape agree as far as
	// Stats itself does.
	v := reflect.ValueOf(col.cache.Stats())
	for i := range statsSpecs {
		s := &statsSpecs[i]
		m, err := prometheus.NewConstMetric(col.descs[i], s.vtype, s.value(v))
		if err != nil {
			m = prometheus.NewInvalidMetric(col.descs[i], err)
		}
		ch <- m
	}
}
