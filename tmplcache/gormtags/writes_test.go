package gormtags_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SoftPost is deleted softly.
type SoftPost struct {
	ID         uint `gorm:"primaryKey"`
	Title      string
	CategoryID uint
	DeletedAt  gorm.DeletedAt
}

// invalidated returns which of tags were invalidated by write: an entry
// tagged with each is stored before and looked up after.
func invalidated(t *testing.T, c *tmplcache.Cache, tags []string, write func() error) []string {
	t.Helper()
	for _, tag := range tags {
		require.NoError(t, c.Set(bg, "entry "+tag, []byte("v"), tmplcache.Tags(tag)))
	}
	require.NoError(t, write())
	var got []string
	for _, tag := range tags {
		if _, ok, err := c.Get(bg, "entry "+tag); err == nil && !ok {
			got = append(got, tag)
		}
	}
	sort.Strings(got)
	return got
}

// TestEveryWriteShape checks the tags each shape of write invalidates, on
// a table holding post 1 in category 1 and post 2 in category 2.
func TestEveryWriteShape(t *testing.T) {
	cases := []struct {
		name  string
		write func(db *gorm.DB) error
		want  []string // of post:1, post:2, post:3, category:1 to 3, and the TableTag ("table")
	}{
		{"a delete by a primary key given as a condition", func(db *gorm.DB) error {
			return db.Delete(&Post{}, 1).Error
		}, []string{"category:1", "post:1"}},
		{"UpdateColumn, which skips hooks, still invalidates", func(db *gorm.DB) error {
			return db.Model(&Post{ID: 2}).UpdateColumn("category_id", 3).Error
		}, []string{"category:2", "category:3", "post:2"}},
		{"an update computed by SQL is read back", func(db *gorm.DB) error {
			return db.Model(&Post{ID: 1}).Update("category_id", gorm.Expr("category_id + 2")).Error
		}, []string{"category:1", "category:3", "post:1"}},
		{"a create from a map takes its tags from the map", func(db *gorm.DB) error {
			return db.Model(&Post{}).Create(map[string]any{"ID": 3, "Title": "map", "CategoryID": 3}).Error
		}, []string{"category:3", "post:3"}},
		{"an upsert overwriting some columns reads the rows back", func(db *gorm.DB) error {
			return db.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "id"}},
				DoUpdates: clause.AssignmentColumns([]string{"category_id"}),
			}).Create(&Post{ID: 2, Title: "ignored", CategoryID: 3}).Error
		}, []string{"category:2", "category:3", "post:2"}},
		{"CreateInBatches above the batch size", func(db *gorm.DB) error {
			return db.CreateInBatches([]Post{{Title: "a", CategoryID: 3}, {Title: "b", CategoryID: 3}, {Title: "c", CategoryID: 3}}, 2).Error
		}, []string{"category:3", "post:3"}},
		{"an update matching no row invalidates nothing", func(db *gorm.DB) error {
			return db.Model(&Post{}).Where("category_id = ?", 3).Update("title", "none").Error
		}, nil},
		{"a failed write invalidates nothing", func(db *gorm.DB) error {
			if err := db.Create(&Post{ID: 1, Title: "duplicate", CategoryID: 3}).Error; err == nil {
				return fmt.Errorf("a duplicate primary key was accepted")
			}
			return nil
		}, nil},
		{"a global update with AllowGlobalUpdate resolves every row", func(db *gorm.DB) error {
			return db.Session(&gorm.Session{AllowGlobalUpdate: true}).Model(&Post{}).Update("category_id", 3).Error
		}, []string{"category:1", "category:2", "category:3", "post:1", "post:2"}},
	}
	forEach(t, backends, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				db := b.open(t, nil)
				c, _ := install(t, db)
				require.NoError(t, db.Create(&[]Post{{Title: "one", CategoryID: 1}, {Title: "two", CategoryID: 2}}).Error)
				table := gormtags.TableTag(tableOf(t, db, &Post{}))
				tags := []string{"post:1", "post:2", "post:3", "category:1", "category:2", "category:3", table}
				got := invalidated(t, c, tags, func() error { return tc.write(db) })
				for i, tag := range got {
					if tag == table {
						got[i] = "table"
					}
				}
				sort.Strings(got)
				require.Equal(t, tc.want, got)
			})
		}
	})
}

// TestSoftDeletes: a soft delete is an update the plugin sees as a delete;
// an Unscoped delete of a row already soft-deleted still finds it.
func TestSoftDeletes(t *testing.T) {
	forEach(t, backends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		require.NoError(t, db.AutoMigrate(&SoftPost{}))
		t.Cleanup(func() { _ = db.Migrator().DropTable(&SoftPost{}) })
		c, reg := install(t, db)
		tmplcache.Register(reg, func(p SoftPost) []string { // registered by value
			return []string{fmt.Sprintf("soft:%d", p.ID), fmt.Sprintf("category:%d", p.CategoryID)}
		})
		p := SoftPost{Title: "soft", CategoryID: 1}
		require.NoError(t, db.Create(&p).Error)
		tags := []string{fmt.Sprintf("soft:%d", p.ID), "category:1"}

		t.Run("a soft delete invalidates the row's tags", func(t *testing.T) {
			require.Equal(t, []string{"category:1", tags[0]}, invalidated(t, c, tags, func() error {
				return db.Delete(&p).Error
			}))
		})
		t.Run("an Unscoped delete finds the soft-deleted row", func(t *testing.T) {
			require.Equal(t, []string{"category:1", tags[0]}, invalidated(t, c, tags, func() error {
				return db.Unscoped().Delete(&p).Error
			}))
		})
	})
}

// TestBatchWritesBeyondMaxRows: past WithMaxRows the rows are not read one
// by one; the table's TableTag is invalidated instead, and counted.
func TestBatchWritesBeyondMaxRows(t *testing.T) {
	forEach(t, backends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		c, _ := install(t, db, gormtags.WithMaxRows(2))
		require.NoError(t, db.Create(&[]Post{{Title: "a", CategoryID: 1}, {Title: "b", CategoryID: 1}, {Title: "c", CategoryID: 2}}).Error)
		table := gormtags.TableTag(tableOf(t, db, &Post{}))
		tags := []string{"category:1", "category:2", table}

		t.Run("a batch within the bound invalidates its rows' tags", func(t *testing.T) {
			require.Equal(t, []string{"category:1"}, invalidated(t, c, tags, func() error {
				return db.Model(&Post{}).Where("category_id = ?", 1).Update("title", "x").Error
			}))
		})
		t.Run("a batch beyond it invalidates the TableTag", func(t *testing.T) {
			before, _ := gormtags.StatsOf(db)
			require.Equal(t, []string{table}, invalidated(t, c, tags, func() error {
				return db.Model(&Post{}).Where("id > ?", 0).Update("title", "y").Error
			}))
			after, _ := gormtags.StatsOf(db)
			require.Equal(t, before.Unresolved+1, after.Unresolved)
		})
	})
}
