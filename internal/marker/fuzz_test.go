package marker

import (
	"bytes"
	"testing"
)

var nonce = [TagLen]byte{'n', 'o', 'n', 'c', 'e', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '!'}

type event struct {
	text   bool
	kind   Kind
	bytes  string
	marker bool
}

// recorder collects what a scanner finds, merging adjacent text.
type recorder struct{ events []event }

func (r *recorder) Text(p []byte) error {
	if n := len(r.events); n > 0 && r.events[n-1].text {
		r.events[n-1].bytes += string(p)
		return nil
	}
	r.events = append(r.events, event{text: true, bytes: string(p)})
	return nil
}

func (r *recorder) Marker(m Marker) error {
	r.events = append(r.events, event{marker: true, kind: m.Kind, bytes: string(m.Raw)})
	return nil
}

func scanAll(in []byte, cuts []int) []event {
	sc := Scanner{Authentic: func(m Marker) bool { return m.Tag == nonce }}
	r := &recorder{}
	prev := 0
	for _, c := range cuts {
		if c < prev || c > len(in) {
			continue
		}
		_ = sc.Write(in[prev:c], r)
		prev = c
	}
	_ = sc.Write(in[prev:], r)
	_ = sc.Flush(r)
	return r.events
}

// FuzzScanner checks, for any bytes cut anywhere, that the scanner loses
// nothing (text and markers together are the input) and that where writes
// are cut does not change what it finds.
func FuzzScanner(f *testing.F) {
	valid := Append(nil, Begin, []byte("12345678"), nonce)
	f.Add([]byte("plain text"), uint16(3), uint16(7))
	f.Add(append(append([]byte("a"), valid...), 'b'), uint16(2), uint16(9))
	f.Add(Append(nil, Nocache, []byte("x"), [TagLen]byte{}), uint16(1), uint16(4))
	f.Add([]byte("\x00CTN\x00\x03\xff\xffswallow"), uint16(5), uint16(6))
	f.Add(append(valid[:10:10], valid...), uint16(10), uint16(12))
	f.Add([]byte("\x00\x00CT\x00C"), uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, in []byte, a, b uint16) {
		whole := scanAll(in, nil)
		var joined bytes.Buffer
		for _, e := range whole {
			joined.WriteString(e.bytes)
			if e.marker {
				m, st := parse([]byte(e.bytes))
				if st != complete || m.Tag != nonce || len(m.Raw) != len(e.bytes) {
					t.Fatalf("reported a marker that is not one: %q", e.bytes)
				}
			}
		}
		if !bytes.Equal(joined.Bytes(), in) {
			t.Fatalf("lost bytes: in %q, out %q", in, joined.Bytes())
		}
		cuts := []int{int(a) % (len(in) + 1), int(b) % (len(in) + 1)}
		if cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		split := scanAll(in, cuts)
		if len(split) != len(whole) {
			t.Fatalf("cuts %v changed the events: %v vs %v", cuts, split, whole)
		}
		for i := range whole {
			if split[i] != whole[i] {
				t.Fatalf("cuts %v changed event %d: %+v vs %+v", cuts, i, split[i], whole[i])
			}
		}
		// Byte by byte, the most extreme cutting.
		every := make([]int, len(in))
		for i := range every {
			every[i] = i
		}
		if got := scanAll(in, every); len(got) != len(whole) {
			t.Fatalf("byte-by-byte writes changed the events")
		}
	})
}
