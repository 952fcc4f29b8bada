package gormtags_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// round is one writer transaction, as the readers see it.
type round struct {
	changed   chan struct{} // closed once the row is changed, not committed
	sawOpen   chan struct{} // closed once readers rendered while it was open
	openReads atomic.Int64
	closeOnce sync.Once
}

var versionRE = regexp.MustCompile(`v(\d+)`)

// versions returns every title version a rendered fragment shows.
func versions(html string) []int64 {
	var vs []int64
	for _, m := range versionRE.FindAllStringSubmatch(html, -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		vs = append(vs, v)
	}
	return vs
}

// TestNoStaleFragmentOutlivesACommit runs readers that render a post and
// its category over and over while a writer changes the post's title in
// transactions that stay open (the row changed, not committed, its tags
// locked) until the readers have rendered during them. A reader whose
// request began after a commit returned must never be served a fragment
// older than that commit.
func TestNoStaleFragmentOutlivesACommit(t *testing.T) {
	const rounds, readers = 12, 3
	forEach(t, concurrentBackends, func(t *testing.T, b backend) {
		db := b.open(t, nil)
		c, _ := install(t, db)
		s := newSite(t, db, c)
		p := Post{Title: "v0", CategoryID: 1}
		require.NoError(t, db.Create(&p).Error)

		var (
			committed atomic.Int64 // the last version whose transaction returned
			current   atomic.Pointer[round]
			reads     atomic.Int64
			stale     atomic.Int64
			done      = make(chan struct{})
			wg        sync.WaitGroup
			errs      = make(chan error, readers)
		)
		current.Store(&round{changed: make(chan struct{}), sawOpen: make(chan struct{})})

		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					floor := committed.Load()
					r := current.Load()
					open := false
					select {
					case <-r.changed:
						open = true
					default:
					}
					v, err := s.visit(context.Background(), p.ID)
					if err != nil {
						errs <- err
						return
					}
					reads.Add(1)
					for _, key := range []string{fmt.Sprintf("post:%d", p.ID), "category:1"} {
						for _, got := range versions(v.html[key]) {
							if got < floor {
								stale.Add(1)
								t.Errorf("%s shows v%d after v%d was committed", key, got, floor)
							}
						}
					}
					if open && r.openReads.Add(1) >= readers {
						r.closeOnce.Do(func() { close(r.sawOpen) })
					}
				}
			}()
		}

		for n := int64(1); n <= rounds; n++ {
			r := current.Load()
			err := db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Model(&Post{ID: p.ID}).Update("title", fmt.Sprintf("v%d", n)).Error; err != nil {
					return err
				}
				close(r.changed)
				select {
				case <-r.sawOpen:
				case err := <-errs:
					return err
				}
				return nil
			})
			require.NoError(t, err)
			// Readers that start from here on must see v(n) or later.
			committed.Store(n)
			current.Store(&round{changed: make(chan struct{}), sawOpen: make(chan struct{})})
		}
		close(done)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		v, err := s.visit(bg, p.ID)
		require.NoError(t, err)
		require.Equal(t, v.want(), v.html)
		require.Contains(t, v.html[fmt.Sprintf("post:%d", p.ID)], fmt.Sprintf("v%d", rounds))
		require.Positive(t, reads.Load())
		require.Zero(t, stale.Load(), "stale reads out of %d", reads.Load())
		require.Positive(t, c.Stats().SkippedLocked, "builds made during the open transactions were refused")
		t.Logf("%d reads, %d stale, %d builds refused while locked", reads.Load(), stale.Load(), c.Stats().SkippedLocked)
	})
}
