package tmplcache_test

import (
	"fmt"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

type post struct {
	ID, Category int
}

type comment struct{ PostID int }

func TestRegistry(t *testing.T) {
	c := tmplcache.New(nil)
	reg := tmplcache.NewRegistry(c)
	tmplcache.Register(reg, func(p post) []string {
		return []string{"posts", fmt.Sprintf("post:%d", p.ID), fmt.Sprintf("category:%d", p.Category)}
	})
	tmplcache.Register(reg, func(cm *comment) []string { return []string{fmt.Sprintf("post:%d", cm.PostID)} })

	t.Run("values and pointers map to their tags, deduplicated", func(t *testing.T) {
		tags, err := reg.Tags(post{1, 7}, &post{1, 8}, (*post)(nil), nil, &comment{1})
		require.NoError(t, err)
		require.Equal(t, []string{"category:7", "category:8", "post:1", "posts"}, tags)
	})
	t.Run("a nil pointer of a registered pointer type is skipped", func(t *testing.T) {
		tags, err := reg.Tags((*comment)(nil))
		require.NoError(t, err)
		require.Empty(t, tags)
	})
	t.Run("an unregistered type is a clear error", func(t *testing.T) {
		_, err := reg.Tags(42)
		require.ErrorIs(t, err, tmplcache.ErrNoTagFunc)
		require.ErrorContains(t, err, "int")
	})
	t.Run("Changed invalidates exactly the dependent entries", func(t *testing.T) {
		require.NoError(t, c.Set(bg, "post1", []byte("p1"), tmplcache.Tags("post:1")))
		require.NoError(t, c.Set(bg, "cat8", []byte("c8"), tmplcache.Tags("category:8")))
		require.NoError(t, c.Set(bg, "cat9", []byte("c9"), tmplcache.Tags("category:9")))
		old, moved := post{1, 7}, post{1, 8}
		require.NoError(t, reg.Changed(bg, old, moved))
		requireMiss(t, c, "post1")
		requireMiss(t, c, "cat8")
		requireHit(t, c, "cat9", "c9")
	})
}
