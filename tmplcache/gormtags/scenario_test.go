package gormtags_test

import (
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

var errRollback = errors.New("roll back")

// TestFragmentsFollowTheDatabase drives the real template layer through
// every kind of write: after each one, every fragment shows the database's
// state at once, the fragments the write touched are rebuilt, and the
// others are still served from the cache.
func TestFragmentsFollowTheDatabase(t *testing.T) {
	forEach(t, backends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		c, _ := install(t, db)
		s := newSite(t, db, c)

		first := Post{Title: "Hello", CategoryID: 1}
		second := Post{Title: "Other", CategoryID: 2}
		require.NoError(t, db.Create(&first).Error)
		require.NoError(t, db.Create(&second).Error)
		id := first.ID
		post := fmt.Sprintf("post:%d", id)

		steps := []struct {
			name    string
			write   func(db *gorm.DB) error
			rebuilt []string // the fragments the next visit must rebuild; the others hit
		}{
			{"the first visit builds every fragment", nil,
				[]string{post, "category:1", "category:2"}},
			{"a visit without a write hits every fragment", nil,
				nil},
			{"a new post rebuilds its category only", func(db *gorm.DB) error {
				return db.Create(&Post{Title: "Third", CategoryID: 1}).Error
			}, []string{"category:1"}},
			{"a write to an unregistered type rebuilds nothing", func(db *gorm.DB) error {
				return db.Create(&Comment{PostID: id, Body: "first!"}).Error
			}, nil},
			{"a new title rebuilds the post and its category", func(db *gorm.DB) error {
				p := Post{ID: id}
				return db.Model(&p).Update("title", "Hello again").Error
			}, []string{post, "category:1"}},
			{"a move to another category rebuilds the post and both categories", func(db *gorm.DB) error {
				return db.Model(&Post{ID: id}).Updates(map[string]any{"category_id": 2}).Error
			}, []string{post, "category:1", "category:2"}},
			{"Save rebuilds the post and its category", func(db *gorm.DB) error {
				var p Post
				if err := db.First(&p, id).Error; err != nil {
					return err
				}
				p.Title = "Saved"
				return db.Save(&p).Error
			}, []string{post, "category:2"}},
			{"a committed transaction rebuilds what it changed", func(db *gorm.DB) error {
				return db.Transaction(func(tx *gorm.DB) error {
					return tx.Model(&Post{ID: id}).Update("title", "Committed").Error
				})
			}, []string{post, "category:2"}},
			{"a rolled-back transaction leaves the rows as they were and rebuilds what it touched", func(db *gorm.DB) error {
				err := db.Transaction(func(tx *gorm.DB) error {
					if err := tx.Model(&Post{ID: id}).Updates(map[string]any{"title": "Rolled back", "category_id": 1}).Error; err != nil {
						return err
					}
					return errRollback
				})
				if !errors.Is(err, errRollback) {
					return fmt.Errorf("the transaction returned %v, want %v", err, errRollback)
				}
				return nil
			}, []string{post, "category:1", "category:2"}},
			{"Begin and Commit by hand rebuild what changed", func(db *gorm.DB) error {
				tx := db.Begin()
				if err := tx.Model(&Post{ID: id}).Update("title", "By hand").Error; err != nil {
					tx.Rollback()
					return err
				}
				return tx.Commit().Error
			}, []string{post, "category:2"}},
			{"a batch update without a model instance rebuilds the rows it touched", func(db *gorm.DB) error {
				return db.Model(&Post{}).Where("category_id = ?", 1).Update("title", "Batch").Error
			}, []string{"category:1"}},
			{"a batch move rebuilds the rows' old and new categories", func(db *gorm.DB) error {
				return db.Model(&Post{}).Where("category_id = ?", 2).Update("category_id", 1).Error
			}, []string{post, "category:1", "category:2"}},
			{"creating a slice of posts rebuilds their category", func(db *gorm.DB) error {
				return db.Create(&[]Post{{Title: "Four", CategoryID: 2}, {Title: "Five", CategoryID: 2}}).Error
			}, []string{"category:2"}},
			{"saving a slice (an upsert) rebuilds the old and new places of its rows", func(db *gorm.DB) error {
				var p Post
				if err := db.First(&p, id).Error; err != nil {
					return err
				}
				p.CategoryID = 2
				return db.Save(&[]*Post{&p}).Error
			}, []string{post, "category:1", "category:2"}},
			{"a batch delete rebuilds the categories of the rows it removed", func(db *gorm.DB) error {
				return db.Where("title = ?", "Four").Delete(&Post{}).Error
			}, []string{"category:2"}},
			{"Delete rebuilds the post and its category", func(db *gorm.DB) error {
				return db.Delete(&Post{ID: id}).Error
			}, []string{post, "category:2"}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				if step.write != nil {
					require.NoError(t, step.write(db))
				}
				before := s.snapshot()
				v, err := s.visit(bg, id)
				require.NoError(t, err)
				require.Equal(t, v.want(), v.html, "every fragment shows the rows just read")
				got := s.builtSince(before)
				sort.Strings(got)
				want := append([]string(nil), step.rebuilt...)
				sort.Strings(want)
				require.Equal(t, want, got, "rebuilt fragments")

				// The rebuilt fragments were stored: a second visit hits all.
				before = s.snapshot()
				v, err = s.visit(bg, id)
				require.NoError(t, err)
				require.Equal(t, v.want(), v.html)
				require.Empty(t, s.builtSince(before), "a second visit rebuilds nothing")
			})
		}
	})
}
