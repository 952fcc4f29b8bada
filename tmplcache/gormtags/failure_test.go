package gormtags_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/cachetagging/cachetagging/tmplcache/internal/storefake"
	"github.com/cachetagging/cachetagging/tmplcache/internal/syncbuf"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// TestAStoreOutageNeverFailsAWrite: with the cache's store down, writes
// succeed, the failures are logged to the cache's logger and counted, and
// once the store is back no fragment built before the write is served.
func TestAStoreOutageNeverFailsAWrite(t *testing.T) {
	forEach(t, backends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		store := storefake.New()
		var logs syncbuf.Buffer
		// The breaker stays closed: the test is about the plugin, not the cooldown.
		c := tmplcache.New(store, tmplcache.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), tmplcache.WithBreaker(1000, 0))
		reg := tmplcache.NewRegistry(c)
		tmplcache.Register(reg, postTags)
		require.NoError(t, db.Use(gormtags.Plugin(reg)))

		p := Post{Title: "before", CategoryID: 1}
		require.NoError(t, db.Create(&p).Error)
		tag := fmt.Sprintf("post:%d", p.ID)
		require.NoError(t, c.Set(bg, "page", []byte("before"), tmplcache.Tags(tag)))

		store.Failing.Store(true)
		require.NoError(t, db.Model(&p).Update("title", "after").Error, "the write succeeds")
		require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
			return tx.Model(&p).Update("category_id", 2).Error
		}), "so does a transaction")
		var got Post
		require.NoError(t, db.First(&got, p.ID).Error)
		require.Equal(t, "after", got.Title)
		require.EqualValues(t, 2, got.CategoryID)

		stats, _ := gormtags.StatsOf(db)
		require.Positive(t, stats.Errors)
		require.Contains(t, logs.String(), "gormtags: invalidating the tags of a write failed")

		store.Failing.Store(false)
		_, ok, err := c.Get(bg, "page")
		require.NoError(t, err)
		require.False(t, ok, "the entry built before the write is not served once the store is back")
	})
}

// TestPluginConfiguration: bad configuration is reported by db.Use, not by
// a panic or by the writes.
func TestPluginConfiguration(t *testing.T) {
	reg := tmplcache.NewRegistry(tmplcache.New(nil))
	cases := []struct {
		name   string
		plugin gorm.Plugin
		want   error
	}{
		{"a nil registry is refused", gormtags.Plugin(nil), gormtags.ErrNoRegistry},
		{"a negative WithMaxRows is refused", gormtags.Plugin(reg, gormtags.WithMaxRows(-1)), gormtags.ErrBadOption},
		{"nil options mean the defaults", gormtags.Plugin(reg, nil, gormtags.WithLogger(nil), gormtags.WithMaxRows(0)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openSQLiteMemory(t, nil)
			err := db.Use(tc.plugin)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, "gormtags: ")
		})
	}
	t.Run("StatsOf a DB without the plugin reports false", func(t *testing.T) {
		_, ok := gormtags.StatsOf(openSQLiteMemory(t, nil))
		require.False(t, ok)
	})
}

// TestAnUnusableTagCostsNoOtherTag: the cache refuses a call holding an
// empty tag as a whole; the plugin drops it, invalidates the write's other
// tags and the TableTag in its place, and counts the error.
func TestAnUnusableTagCostsNoOtherTag(t *testing.T) {
	db := openSQLiteMemory(t, nil)
	c, reg := install(t, db)
	tmplcache.Register(reg, func(*Post) []string { return []string{""} })
	p := Post{Title: "a", CategoryID: 1}
	require.NoError(t, db.Create(&p).Error)
	table := gormtags.TableTag(tableOf(t, db, &Post{}))
	before, _ := gormtags.StatsOf(db)

	got := invalidated(t, c, []string{"post:1", "category:1", "category:2", table}, func() error {
		return db.Model(&p).Update("title", "b").Error
	})
	require.Equal(t, []string{"category:1", "post:1", table}, got)
	after, _ := gormtags.StatsOf(db)
	require.Equal(t, before.Errors+1, after.Errors)
}
