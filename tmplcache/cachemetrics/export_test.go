package cachemetrics

// MetricNames maps each tmplcache.Stats field to its metric name (without
// namespace), for tests that walk Stats by reflection.
func MetricNames() map[string]string {
	m := make(map[string]string, len(statsSpecs))
	for _, s := range statsSpecs {
		m[s.field] = subsystem + "_" + s.name
	}
	return m
}
