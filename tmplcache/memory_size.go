package tmplcache

import (
	"sort"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// What a MemoryStore item costs, so that the budget bounds the heap the
// store holds rather than the bytes callers asked it to keep. Calibrated on
// Go 1.26 (amd64) by BenchmarkMemoryStoreRSS, which reports the live heap
// per accounted byte.
const (
	// memItemOverhead is the cost of an item beyond its key and value: the
	// memItem (96 bytes) and its slot in go-cache's map (a string key and a
	// go-cache Item: 40 bytes plus a control byte, in Swiss tables kept
	// between 7/16 and 7/8 full, so about 64 bytes on average).
	memItemOverhead = 96 + 64
	// memGhostEntryBytes is the cost of a remembered hash: a map slot (17
	// bytes, at the same fill) and its ring slot (8 bytes, with up to as
	// much again of slack).
	memGhostEntryBytes = 48
)

// newMemItem returns an item holding key and value, accounted.
func newMemItem(key string, value []byte) *memItem {
	return &memItem{key: key, value: value, size: memItemSize(key, value), record: len(value) == layout.RecordLen}
}

// memItemSize is what an item holding key and value is accounted for.
// The value's capacity counts, not its length: the store keeps the whole
// array alive. An entry's count includes what its reads keep (memReadSize).
func memItemSize(key string, value []byte) int64 {
	return allocSize(len(key)) + allocSize(cap(value)) + memItemOverhead + memReadSize(value)
}

// allocSize is the memory the Go allocator takes for an object of n bytes
// holding no pointers: a small one is rounded up to its size class (up to
// 19% more: 4097 bytes take 4864), a large one to whole 8 KiB pages.
// memory_size_test.go checks the table against the running runtime.
func allocSize(n int) int64 {
	if n <= 0 {
		return 0
	}
	if n > memSizeClasses[len(memSizeClasses)-1] {
		const page = 8 << 10
		return int64((n + page - 1) &^ (page - 1))
	}
	i := sort.SearchInts(memSizeClasses[:], n)
	return int64(memSizeClasses[i])
}

// memSizeClasses are the runtime's small object size classes
// (internal/runtime/gc/sizeclasses.go).
var memSizeClasses = [...]int{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768,
	896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
	3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
	27264, 28672, 32768,
}
