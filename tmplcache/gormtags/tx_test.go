package gormtags_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/cachetagging/cachetagging/tmplcache/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// probe checks, from another request, whether a build tagged tag may be
// stored now.
func probe(t *testing.T, c *tmplcache.Cache, key, tag string) (stored bool) {
	t.Helper()
	_, err := c.Fetch(bg, key, func(context.Context) ([]byte, error) { return []byte("v"), nil }, tmplcache.Tags(tag))
	assert.NoError(t, err)
	_, stored, err = c.Get(bg, key)
	assert.NoError(t, err)
	return stored
}

// TestTagsStayLockedUntilTheTransactionEnds writes a post in every kind of
// transaction. While the transaction is open (the row changed but not
// committed), no other request may store a build depending on the post's
// tag; once it has ended, commit or rollback, the tag is invalidated again
// and builds are stored again.
func TestTagsStayLockedUntilTheTransactionEnds(t *testing.T) {
	type write func(db *gorm.DB, p *Post, open func()) error
	save := func(db *gorm.DB, p *Post) error { return db.Model(p).Update("title", "changed").Error }
	// body is a transaction's body: the write, open, then end as its
	// result (nil commits).
	body := func(p *Post, open func(), end error) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error {
			if err := save(tx, p); err != nil {
				return err
			}
			open()
			return end
		}
	}
	commits := func(db *gorm.DB, p *Post, open func()) error { return db.Transaction(body(p, open, nil)) }
	// begin writes in db.Begin, then ends the transaction with end.
	begin := func(end func(tx *gorm.DB) *gorm.DB) write {
		return func(db *gorm.DB, p *Post, open func()) error {
			tx := db.Begin()
			defer tx.Rollback() // a no-op once ended
			if err := body(p, open, nil)(tx); err != nil {
				return err
			}
			return end(tx).Error
		}
	}
	cases := []struct {
		name     string
		cfg      *gorm.Config
		implicit bool // open is called by a callback right before GORM's own commit
		write    write
	}{
		{"the implicit transaction around one write", nil, true, func(db *gorm.DB, p *Post, _ func()) error {
			return save(db, p)
		}},
		{"db.Transaction that commits", nil, false, commits},
		{"db.Transaction that rolls back", nil, false, func(db *gorm.DB, p *Post, open func()) error {
			err := db.Transaction(body(p, open, errRollback))
			if errors.Is(err, errRollback) {
				return nil
			}
			return fmt.Errorf("want the rollback, got %v", err)
		}},
		{"db.Begin then Commit", nil, false, begin((*gorm.DB).Commit)},
		{"db.Begin then Rollback", nil, false, begin((*gorm.DB).Rollback)},
		{"a nested db.Transaction (a savepoint) inside one that commits", nil, false, func(db *gorm.DB, p *Post, open func()) error {
			return db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Transaction(func(tx *gorm.DB) error { return save(tx, p) }); err != nil {
					return err
				}
				open()
				return nil
			})
		}},
		{"a transaction in a DB opened in prepared-statement mode", &gorm.Config{PrepareStmt: true}, false, commits},
		{"a prepared-statement session of a DB opened in prepared-statement mode", &gorm.Config{PrepareStmt: true}, false, func(db *gorm.DB, p *Post, open func()) error {
			return commits(db.Session(&gorm.Session{PrepareStmt: true}), p, open)
		}},
		{"the implicit transaction of a write on a pinned connection", nil, true, func(db *gorm.DB, p *Post, _ func()) error {
			return db.Connection(func(conn *gorm.DB) error { return save(conn, p) })
		}},
	}
	forEach(t, backends, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				db := b.open(t, tc.cfg)
				c, _ := install(t, db)
				p := Post{Title: "first", CategoryID: 1}
				require.NoError(t, db.Create(&p).Error)
				tag := fmt.Sprintf("post:%d", p.ID)

				var opened bool
				var atOpen uint64
				open := func() {
					// assert, not require: the transaction must still end.
					opened = true
					assert.False(t, probe(t, c, "during", tag), "a build made while the transaction is open is not stored")
					assert.True(t, probe(t, c, "elsewhere", "post:other"), "other tags are not locked")
					atOpen = c.Stats().Invalidations
				}
				if tc.implicit {
					require.NoError(t, db.Callback().Update().Before("gorm:commit_or_rollback_transaction").
						Register("test:open", func(*gorm.DB) { open() }))
				}
				require.NoError(t, tc.write(db, &p, open))
				require.True(t, opened, "the transaction was observed open")
				require.Greater(t, c.Stats().Invalidations, atOpen, "the tags are invalidated again when the transaction ends")
				require.True(t, probe(t, c, "after", tag), "the tags are unlocked when the transaction ends")
				stats, ok := gormtags.StatsOf(db)
				require.True(t, ok)
				require.Zero(t, stats.Unhooked)
				require.Zero(t, stats.Errors)
			})
		}
	})
}

// TestTransactionsTheHookCannotSee shows what the package documentation
// says about transactions begun outside the hooked pool, and its remedy.
func TestTransactionsTheHookCannotSee(t *testing.T) {
	// Each way runs fn in an explicit transaction the hook does not see;
	// derived is made from the DB before the plugin is installed.
	ways := []struct {
		name string
		run  func(ctx context.Context, db, derived *gorm.DB, fn func(*gorm.DB) error) error
	}{
		{"on a pinned connection (db.Connection)", func(ctx context.Context, db, _ *gorm.DB, fn func(*gorm.DB) error) error {
			return db.WithContext(ctx).Connection(func(conn *gorm.DB) error { return conn.Transaction(fn) })
		}},
		{"on a DB derived with db.WithContext before db.Use", func(ctx context.Context, _, derived *gorm.DB, fn func(*gorm.DB) error) error {
			return derived.WithContext(ctx).Transaction(fn)
		}},
	}
	forEach(t, backends, func(t *testing.T, b backend) {
		for _, way := range ways {
			t.Run(way.name+", a write is invalidated once, counted and warned about", func(t *testing.T) {
				db := b.open(t, nil)
				derived := db.WithContext(bg)
				var logs syncbuf.Buffer
				c, _ := install(t, db, gormtags.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				p := Post{Title: "first", CategoryID: 1}
				require.NoError(t, db.Create(&p).Error)

				var atOpen uint64
				require.NoError(t, way.run(bg, db, derived, func(tx *gorm.DB) error {
					if err := tx.Model(&p).Update("title", "changed").Error; err != nil {
						return err
					}
					atOpen = c.Stats().Invalidations
					return nil
				}))
				require.Positive(t, atOpen, "the write invalidated its tags")
				require.Equal(t, atOpen, c.Stats().Invalidations, "nothing is re-applied after the commit")
				stats, _ := gormtags.StatsOf(db)
				require.EqualValues(t, 1, stats.Unhooked)
				require.Contains(t, logs.String(), "gormtags: a write ran in a database transaction the plugin did not begin")
			})
			t.Run(way.name+", wrapped in Cache.Transaction, the tags are locked and re-applied after the commit", func(t *testing.T) {
				db := b.open(t, nil)
				derived := db.WithContext(bg)
				c, _ := install(t, db)
				p := Post{Title: "first", CategoryID: 1}
				require.NoError(t, db.Create(&p).Error)
				tag := fmt.Sprintf("post:%d", p.ID)

				var atOpen uint64
				err := c.Transaction(bg, func(ctx context.Context) error {
					return way.run(ctx, db, derived, func(tx *gorm.DB) error {
						if err := tx.Model(&p).Update("title", "changed").Error; err != nil {
							return err
						}
						assert.False(t, probe(t, c, "during", tag))
						atOpen = c.Stats().Invalidations
						return nil
					})
				})
				require.NoError(t, err)
				require.Greater(t, c.Stats().Invalidations, atOpen)
				require.True(t, probe(t, c, "after", tag))
			})
		}
	})
}

// TestAnEnclosingCacheTransactionHoldsTheTags: a database transaction begun
// with a context that carries a cache transaction (TransactionMiddleware)
// is a savepoint of it: its tags stay locked until the outer one ends.
func TestAnEnclosingCacheTransactionHoldsTheTags(t *testing.T) {
	forEach(t, backends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		c, _ := install(t, db)
		p := Post{Title: "first", CategoryID: 1}
		require.NoError(t, db.Create(&p).Error)
		tag := fmt.Sprintf("post:%d", p.ID)

		ctx, tx := c.BeginTx(bg)
		require.NoError(t, db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return tx.Model(&p).Update("title", "changed").Error
		}))
		require.False(t, probe(t, c, "between", tag), "committed, but the enclosing cache transaction has not ended")
		require.NoError(t, tx.End(bg))
		require.True(t, probe(t, c, "after", tag))
	})
}
