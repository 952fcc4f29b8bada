package layout

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClock(t *testing.T) {
	t.Run("a missing or unreadable clock starts a new epoch", func(t *testing.T) {
		require.Equal(t, Stamp{Epoch: 3, Seq: 1}, Next(nil, 3))
		require.Equal(t, Stamp{Epoch: 3, Seq: 1}, Next([]byte("short"), 3))
		require.Equal(t, Stamp{Epoch: 3, Seq: 1}, Next(AppendClock(nil, Stamp{Epoch: 0, Seq: 9}), 3))
	})
	t.Run("a clock advances by one within its epoch", func(t *testing.T) {
		require.Equal(t, Stamp{Epoch: 8, Seq: 10}, Next(AppendClock(nil, Stamp{Epoch: 8, Seq: 9}), 3))
	})
	t.Run("a clock at the end of the exact range starts a new epoch", func(t *testing.T) {
		require.Equal(t, Stamp{Epoch: 3, Seq: 1}, Next(AppendClock(nil, Stamp{Epoch: 8, Seq: MaxSeq - 1}), 3))
	})
	t.Run("stamps of another epoch count as later than any reading", func(t *testing.T) {
		r := Stamp{Epoch: 1, Seq: 10}
		require.False(t, Stamp{Epoch: 1, Seq: 10}.After(r))
		require.True(t, Stamp{Epoch: 1, Seq: 11}.After(r))
		require.True(t, Stamp{Epoch: 2, Seq: 1}.After(r))
	})
}

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Seq: 4, Rand: 5, Epoch: 6, Time: 7, Lock: 8}
	got, ok := DecodeRecord(r.Encode())
	require.True(t, ok)
	require.Equal(t, r, got)
	_, ok = DecodeRecord(Record{Seq: 4}.Encode())
	require.False(t, ok, "a stamp without an epoch is unreadable")
}

func TestApply(t *testing.T) {
	clk := Stamp{Epoch: 9, Seq: 20}
	rec := Record{Rand: 1, Time: 2}
	for _, tc := range []struct {
		name    string
		old     []byte
		rec     Record
		release int64
		force   bool
		verdict Verdict
		seq     uint64 // of the result, when written or kept
		lock    int64
	}{
		{"a missing record is written", nil, rec, 0, false, Write, 20, 0},
		{"a created record is written", Record{Rand: 3}.Encode(), rec, 0, false, Write, 20, 0},
		{"an older stamp is replaced", Record{Seq: 19, Epoch: 9, Rand: 3}.Encode(), rec, 0, false, Write, 20, 0},
		{"a later stamp stays", Record{Seq: 21, Epoch: 9, Rand: 3}.Encode(), rec, 0, false, Keep, 0, 0},
		{"a later stamp stays but takes the lock", Record{Seq: 21, Epoch: 9, Rand: 3}.Encode(), Record{Lock: 5}, 0, false, Keep, 21, 5},
		{"another epoch asks for a retry", Record{Seq: 3, Epoch: 2, Rand: 3}.Encode(), rec, 0, false, Retry, 0, 0},
		{"forced, another epoch is replaced", Record{Seq: 3, Epoch: 2, Rand: 3}.Encode(), rec, 0, true, Write, 20, 0},
		{"an unreadable record is written", []byte("junk"), rec, 0, false, Write, 20, 0},
		{"a plain invalidation keeps a transaction's lock", Record{Seq: 1, Epoch: 9, Lock: 44}.Encode(), rec, 0, false, Write, 20, 44},
		{"the ending transaction releases its lock", Record{Seq: 1, Epoch: 9, Lock: 44}.Encode(), rec, 44, false, Write, 20, 0},
		{"an ending transaction keeps another's lock", Record{Seq: 1, Epoch: 9, Lock: 45}.Encode(), rec, 44, false, Write, 20, 45},
		{"a transaction's lock replaces another's", Record{Seq: 1, Epoch: 9, Lock: 45}.Encode(), Record{Lock: 46}, 0, false, Write, 20, 46},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, v := Apply(tc.old, tc.rec, tc.release, clk, tc.force)
			require.Equal(t, tc.verdict, v)
			if tc.seq == 0 {
				require.Nil(t, out)
				return
			}
			r, ok := DecodeRecord(out)
			require.True(t, ok)
			require.Equal(t, tc.seq, r.Seq)
			require.Equal(t, tc.lock, r.Lock)
		})
	}
}
