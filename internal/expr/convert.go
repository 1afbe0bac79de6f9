package expr

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// maxDepth bounds the nesting of a converted result. CEL values are trees
// (no cycles), and the parser's recursion limit keeps literals shallow, but
// input data nested deeper than this is refused rather than recursed into.
const maxDepth = 1000

// toNative converts a CEL result to the plain values encoding/json produces
// and consumes, so node outputs look the same before and after they pass
// through Temporal's data converter:
//
//	null -> nil, bool -> bool, int -> int64, uint -> uint64, double -> float64,
//	string -> string, bytes -> []byte (base64 in JSON), list -> []any,
//	map -> map[string]any (non-string keys formatted), timestamp -> time.Time,
//	duration -> its Go string ("1h30m0s"), optional -> its value or nil,
//	type -> its name.
//
// A double that is NaN or infinite is an error: JSON cannot carry it.
//
// The result may be at most limit bytes as JSON. Elements a result shares
// (a list of a thousand references to one big string costs nothing in CEL)
// count each time they occur, as they will when the result is encoded, and
// the conversion stops as soon as the count passes the limit, so it never
// allocates much more than the limit.
func toNative(v ref.Val, limit uint64) (any, error) {
	c := converter{limit: limit}
	return c.convert(v, 0)
}

// converter counts the JSON bytes of what it has converted.
type converter struct {
	limit, size uint64
}

func (c *converter) add(n uint64) error {
	c.size = satAdd(c.size, n)
	if c.size > c.limit {
		return &LimitError{limit: ErrValueLimit, message: fmt.Sprintf("the result is over %s as JSON; the limit is %s (%s)",
			formatBytes(c.limit), formatBytes(c.limit), MaxValueBytesSetting)}
	}
	return nil
}

func (c *converter) convert(v ref.Val, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("result is nested too deeply")
	}
	switch t := v.(type) {
	case *types.Err:
		return nil, t
	case *types.Unknown:
		return nil, errors.New("result depends on unknown values")
	case *types.Optional:
		if !t.HasValue() {
			return nil, c.add(4)
		}
		return c.convert(t.GetValue(), depth+1)
	case traits.Mapper:
		return c.convertMap(t, depth)
	case traits.Lister:
		return c.convertList(t, depth)
	}
	if err := c.add(jsonScalarLen(v)); err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(t), nil
	case types.Int:
		return int64(t), nil
	case types.Uint:
		return uint64(t), nil
	case types.Double:
		f := float64(t)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("result %v is not a finite number", f)
		}
		return f, nil
	case types.String:
		return string(t), nil
	case types.Bytes:
		return []byte(t), nil
	case types.Timestamp:
		return t.Time, nil
	case types.Duration:
		return t.Duration.String(), nil
	case ref.Type:
		return t.TypeName(), nil
	}
	return nil, fmt.Errorf("result of type %s cannot be converted to JSON", v.Type().TypeName())
}

func (c *converter) convertList(l traits.Lister, depth int) ([]any, error) {
	n := sizeOf(l)
	// Brackets and commas: a list too long for the limit stops here.
	if err := c.add(2 + n); err != nil {
		return nil, err
	}
	out := make([]any, 0, n)
	for it := l.Iterator(); it.HasNext() == types.True; {
		elem, err := c.convert(it.Next(), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, elem)
	}
	return out, nil
}

func (c *converter) convertMap(m traits.Mapper, depth int) (map[string]any, error) {
	// Braces, colons and commas.
	if err := c.add(2 + 2*sizeOf(m)); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for it := m.Iterator(); it.HasNext() == types.True; {
		key := it.Next()
		var name string
		if s, ok := key.(types.String); ok {
			name = string(s)
		} else {
			name = fmt.Sprint(key.Value())
		}
		if err := c.add(jsonStringLen(name)); err != nil {
			return nil, err
		}
		val, err := c.convert(m.Get(key), depth+1)
		if err != nil {
			return nil, err
		}
		out[name] = val
	}
	return out, nil
}
