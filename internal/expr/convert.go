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
func toNative(v ref.Val) (any, error) {
	return convert(v, 0)
}

func convert(v ref.Val, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("result is nested too deeply")
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
	case *types.Err:
		return nil, t
	case *types.Unknown:
		return nil, errors.New("result depends on unknown values")
	case *types.Optional:
		if !t.HasValue() {
			return nil, nil
		}
		return convert(t.GetValue(), depth+1)
	case ref.Type:
		return t.TypeName(), nil
	case traits.Mapper:
		return convertMap(t, depth)
	case traits.Lister:
		return convertList(t, depth)
	}
	return nil, fmt.Errorf("result of type %s cannot be converted to JSON", v.Type().TypeName())
}

func convertList(l traits.Lister, depth int) ([]any, error) {
	n, ok := l.Size().(types.Int)
	if !ok {
		return nil, errors.New("list has no size")
	}
	out := make([]any, 0, int(n))
	for it := l.Iterator(); it.HasNext() == types.True; {
		elem, err := convert(it.Next(), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, elem)
	}
	return out, nil
}

func convertMap(m traits.Mapper, depth int) (map[string]any, error) {
	out := map[string]any{}
	for it := m.Iterator(); it.HasNext() == types.True; {
		key := it.Next()
		var name string
		if s, ok := key.(types.String); ok {
			name = string(s)
		} else {
			name = fmt.Sprint(key.Value())
		}
		val, err := convert(m.Get(key), depth+1)
		if err != nil {
			return nil, err
		}
		out[name] = val
	}
	return out, nil
}
