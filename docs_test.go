package cachetagging_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The documentation speaks of the project, not of how it came to be, shows
// each byte layout once, and exports only what users call.
func TestDocsSpeakOfTheProject(t *testing.T) {
	seed := regexp.MustCompile(`(?i)\bthe seed\b|\bseed's\b`)
	for _, pkg := range []string{".", "./tmplcache", "./nocache", "./phased", "./tmplcache/redisstore",
		"./tmplcache/memcachestore", "./tmplcache/storetest", "./tmplcache/gormtags", "./tmplcache/cachemetrics"} {
		out, err := exec.Command("go", "doc", "-all", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		doc := string(out)
		require.False(t, seed.MatchString(doc), "%s: %q", pkg, seed.FindString(doc))
		require.LessOrEqual(t, strings.Count(doc, "format = 2"), 1, "%s prints the entry layout more than once", pkg)
		for _, plumbing := range []string{"Phase1Writer", "TakesPhase1", "HandlerName", "func Stash", "type Sections", "func IgnoreDescendants"} {
			require.NotContains(t, doc, plumbing, "%s exports plumbing", pkg)
		}
	}
}
