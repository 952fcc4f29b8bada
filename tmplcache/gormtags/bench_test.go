package gormtags_test

import (
	"log/slog"
	"strconv"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/stretchr/testify/require"
)

// BenchmarkSave measures what the plugin adds to a Save (an UPDATE in
// GORM's implicit transaction, SQLite in memory): nothing installed, the
// plugin with the type not registered (one registry look-up), and with it
// registered (the SELECT of the old row, two invalidations: one before the
// commit, one after).
func BenchmarkSave(b *testing.B) {
	cases := []struct {
		name     string
		plugin   bool
		register bool
	}{
		{"plain GORM", false, false},
		{"plugin, type not registered", true, false},
		{"plugin, type registered", true, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			db := openSQLiteMemory(b, nil)
			if bc.plugin {
				c := tmplcache.New(nil, tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
				reg := tmplcache.NewRegistry(c)
				if bc.register {
					tmplcache.Register(reg, postTags)
				}
				require.NoError(b, db.Use(gormtags.Plugin(reg)))
			}
			p := Post{Title: "0", CategoryID: 1}
			require.NoError(b, db.Create(&p).Error)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p.Title = strconv.Itoa(i)
				if err := db.Save(&p).Error; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
