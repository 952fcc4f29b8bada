package cachemetrics

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures the collector made by [NewCollector]. A nil Option is
// ignored. Invalid options do not panic: registering the collector fails
// with an error wrapping [ErrBadOption].
type Option func(*config)

type config struct {
	namespace string
	labels    prometheus.Labels
	errs      []error
}

// Names in the classic Prometheus style. Colons are left to recording rules;
// label names starting with "__" are reserved to Prometheus.
var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// WithNamespace prefixes every metric name: WithNamespace("shop") exposes
// shop_tmplcache_hits_total. The namespace must be a Prometheus name
// (letters, digits and underscores, not starting with a digit); an empty
// namespace means none.
func WithNamespace(ns string) Option {
	return func(c *config) {
		if ns != "" && !nameRE.MatchString(ns) {
			c.errs = append(c.errs, fmt.Errorf("%w: WithNamespace(%q): not a metric name", ErrBadOption, ns))
			return
		}
		c.namespace = ns
	}
}

// WithConstLabels adds labels with fixed values to every metric, to tell
// several caches apart in one registry: WithConstLabels(prometheus.Labels{
// "cache": "pages"}). It may be given several times; giving one label name
// twice is an error. The map is copied.
func WithConstLabels(labels prometheus.Labels) Option {
	labels = maps.Clone(labels)
	return func(c *config) {
		for name, value := range labels {
			switch {
			case !nameRE.MatchString(name) || strings.HasPrefix(name, "__"):
				c.errs = append(c.errs, fmt.Errorf("%w: WithConstLabels: %q is not a label name", ErrBadOption, name))
				continue
			case !utf8.ValidString(value):
				c.errs = append(c.errs, fmt.Errorf("%w: WithConstLabels: value of %q is not UTF-8", ErrBadOption, name))
				continue
			}
			if _, dup := c.labels[name]; dup {
				c.errs = append(c.errs, fmt.Errorf("%w: WithConstLabels: label %q given twice", ErrBadOption, name))
				continue
			}
			if c.labels == nil {
				c.labels = prometheus.Labels{}
			}
			c.labels[name] = value
		}
	}
}
