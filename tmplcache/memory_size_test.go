package tmplcache

import "testing"

// runtimeAllocSize asks the runtime: append rounds a new slice's capacity
// up to what the allocator really gives.
func runtimeAllocSize(n int) int64 {
	return int64(cap(append([]byte(nil), make([]byte, n)...)))
}

func TestAllocSize(t *testing.T) {
	t.Run("the size class table matches the running runtime", func(t *testing.T) {
		prev := 0
		for _, c := range memSizeClasses {
			for _, n := range []int{prev + 1, c - 1, c} {
				if n <= prev {
					continue
				}
				if got, want := allocSize(n), runtimeAllocSize(n); got != want {
					t.Errorf("allocSize(%d) = %d, the runtime allocates %d", n, got, want)
				}
			}
			prev = c
		}
	})

	t.Run("large objects take whole pages", func(t *testing.T) {
		for _, n := range []int{32<<10 + 1, 40 << 10, 1<<20 + 1} {
			if got, want := allocSize(n), runtimeAllocSize(n); got != want {
				t.Errorf("allocSize(%d) = %d, the runtime allocates %d", n, got, want)
			}
		}
	})

	t.Run("nothing costs nothing", func(t *testing.T) {
		if got := allocSize(0); got != 0 {
			t.Errorf("allocSize(0) = %d", got)
		}
	})
}
