package nocache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// A hole's payload is the handler name (uvarint length, bytes) followed by
// the arguments as a JSON array.
func encodeCall(name string, args []any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	js, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%w: handler %q: %v", ErrBadArgs, name, err)
	}
	b := binary.AppendUvarint(make([]byte, 0, len(name)+len(js)+2), uint64(len(name)))
	b = append(b, name...)
	return append(b, js...), nil
}

func decodeCall(p []byte) (Call, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > maxNameLen || uint64(len(p)-k) < n {
		return Call{}, fmt.Errorf("%w: bad payload", ErrNotAMarker)
	}
	call := Call{Name: string(p[k : k+int(n)])}
	args, err := DecodeJSON(p[k+int(n):])
	if err != nil {
		return Call{}, err
	}
	list, ok := args.([]any)
	if !ok {
		return Call{}, fmt.Errorf("%w: arguments are not a list", ErrNotAMarker)
	}
	call.Args = list
	return call, nil
}

// DecodeJSON decodes JSON as encoding/json does into an any, except that
// integral numbers become int64 (so a count given as 3 compares equal to 3
// in a template) and other numbers float64.
func DecodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAMarker, err)
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}
