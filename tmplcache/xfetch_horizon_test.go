package tmplcache

import (
	"math"
	"testing"
)

// The horizon only skips draws that could never trigger a rebuild: the
// largest U rand.Float64 returns is 1-2⁻⁵³, and -log(1-U) stays below it.
func TestXFetchHorizonIsExact(t *testing.T) {
	largestU := 1 - math.Ldexp(1, -53)
	if largestU >= 1 || math.Nextafter(largestU, 2) != 1 {
		t.Fatalf("1-2⁻⁵³ is not the largest float64 below 1")
	}
	if most := -math.Log(1 - largestU); most >= xfetchHorizon {
		t.Fatalf("-log(1-U) reaches %.3f, past the horizon %d: the skip would change the rule", most, xfetchHorizon)
	}
}
