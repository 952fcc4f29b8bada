package cachemetrics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"expvar"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/cachemetrics"
)

func TestPublishServesStatsOnDebugVars(t *testing.T) {
	c := tmplcache.New(tmplcache.NewMemoryStore())
	name := uniqueName(t)
	if err := cachemetrics.Publish(name, c); err != nil {
		t.Fatal(err)
	}
	exercise(t, c)

	srv := httptest.NewServer(expvar.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	raw, ok := vars[name]
	if !ok {
		t.Fatalf("/debug/vars has no %q", name)
	}

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var got tmplcache.Stats
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	if want := c.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("/debug/vars shows %+v, Stats are %+v", got, want)
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	n := 0
	for f := range reflect.TypeFor[tmplcache.Stats]().Fields() {
		if f.IsExported() {
			n++
		}
	}
	if len(keys) != n {
		t.Errorf("%d keys in %s, want one per Stats field (%d)", len(keys), raw, n)
	}
}

func TestPublishReturnsErrorsWhereExpvarWouldPanic(t *testing.T) {
	c, other := tmplcache.New(nil), tmplcache.New(nil)
	mine := uniqueName(t)
	if err := cachemetrics.Publish(mine, c); err != nil {
		t.Fatal(err)
	}
	foreign := uniqueName(t)
	expvar.NewInt(foreign)

	for _, tc := range []struct {
		desc  string
		name  string
		cache *tmplcache.Cache
		want  error
	}{
		{"the same cache under the same name is a no-op", mine, c, nil},
		{"another cache under a name taken by Publish is refused", mine, other, cachemetrics.ErrNameTaken},
		{"a name taken by expvar itself is refused", foreign, c, cachemetrics.ErrNameTaken},
		{"an empty name is refused", "", c, cachemetrics.ErrEmptyName},
		{"a nil cache is refused", uniqueName(t), nil, cachemetrics.ErrNilCache},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if err := cachemetrics.Publish(tc.name, tc.cache); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Publish(%q): got %v, want %v", tc.name, err, tc.want)
			}
		})
	}
	if got := expvar.Get(foreign).String(); got != "0" {
		t.Errorf("the foreign var was replaced: %s", got)
	}
}

func TestPublishLetsOneOfManyConcurrentCallersWin(t *testing.T) {
	name := uniqueName(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = cachemetrics.Publish(name, tmplcache.New(nil)) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, cachemetrics.ErrNameTaken):
			t.Errorf("Publish: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d calls published %q, want 1", won, name)
	}
}

func TestVarReadsAFreshSnapshotEachTime(t *testing.T) {
	c := tmplcache.New(nil)
	v := cachemetrics.Var(c)
	hits := func() uint64 {
		var s tmplcache.Stats
		if err := json.Unmarshal([]byte(v.String()), &s); err != nil {
			t.Fatal(err)
		}
		return s.Hits
	}
	if got := hits(); got != 0 {
		t.Fatalf("Hits = %d before any read", got)
	}
	exercise(t, c)
	if got, want := hits(), c.Stats().Hits; got != want || got == 0 {
		t.Errorf("Hits = %d, want %d", got, want)
	}
}

func TestVarOfANilCacheIsNull(t *testing.T) {
	if got := cachemetrics.Var(nil).String(); got != "null" {
		t.Errorf("Var(nil) = %s, want null", got)
	}
}
