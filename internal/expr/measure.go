package expr

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// extent is how big a value is to something that walks it whole (equality,
// `in`, json.encode, the conversion of a result): every element, entry and
// scalar, shared ones as often as they occur.
type extent struct {
	nodes uint64 // values visited
	text  uint64 // bytes of its strings and bytes values
	bytes uint64 // its length as JSON
}

// walk is the cost of visiting the value once, comparing or copying its
// strings: a unit per value and one per ten bytes of text.
func (x extent) walk() uint64 { return satAdd(x.nodes, scan(x.text)) }

// measure returns the extent of v, stopping as soon as its walk exceeds
// maxWalk or its bytes exceed maxBytes; over then says the extent is only a
// lower bound. Measuring costs about the walk it returns, so it never costs
// much more than maxWalk, however large v is.
func measure(v ref.Val, maxWalk, maxBytes uint64) (extent, bool) {
	m := measurer{maxWalk: maxWalk, maxBytes: maxBytes}
	m.visit(v, 0)
	return m.got, m.over
}

// measurer walks values for measure and for format's bound.
type measurer struct {
	maxWalk, maxBytes uint64
	// format counts each scalar as long as a format clause could spell it
	// (hexadecimal strings, binary integers, fixed-point doubles with
	// precision digits), instead of its JSON length.
	format    bool
	precision uint64
	got       extent
	over      bool
}

func (m *measurer) add(nodes, bytes uint64) {
	m.got.nodes = satAdd(m.got.nodes, nodes)
	m.got.bytes = satAdd(m.got.bytes, bytes)
	m.check()
}

// addText counts the text of a string or bytes value.
func (m *measurer) addText(v ref.Val) {
	if n, ok := strLen(v); ok {
		m.got.text = satAdd(m.got.text, n)
		m.check()
	}
}

func (m *measurer) check() {
	if m.got.walk() > m.maxWalk || m.got.bytes > m.maxBytes {
		m.over = true
	}
}

func (m *measurer) visit(v ref.Val, depth int) {
	if m.over {
		return
	}
	if depth > maxDepth {
		m.add(m.maxWalk, 0) // deeper than anything may walk
		return
	}
	switch t := v.(type) {
	case *types.Optional:
		if t.HasValue() {
			m.visit(t.GetValue(), depth+1)
			return
		}
		m.add(1, 4)
	case traits.Mapper:
		n := sizeOf(t)
		// Braces, and per entry a colon and a comma; each entry is at least
		// one more node, so a map too big to walk stops here at once.
		m.add(1, 2+2*n)
		if m.tooMany(n) {
			return
		}
		for it := t.Iterator(); !m.over && it.HasNext() == types.True; {
			key := it.Next()
			m.add(1, m.keyLen(key))
			m.addText(key)
			if val, found := t.Find(key); found {
				m.visit(val, depth+1)
			}
		}
	case traits.Lister:
		n := sizeOf(t)
		m.add(1, 2+n)
		if m.tooMany(n) {
			return
		}
		for it := t.Iterator(); !m.over && it.HasNext() == types.True; {
			m.visit(it.Next(), depth+1)
		}
	default:
		if m.format {
			m.add(1, m.formatLen(v))
		} else {
			m.add(1, jsonScalarLen(v))
		}
		m.addText(v)
	}
}

// sizeOf is the size of a list or map, 0 if it has none.
func sizeOf(s traits.Sizer) uint64 {
	n, ok := s.Size().(types.Int)
	if !ok || n < 0 {
		return 0
	}
	return uint64(n)
}

// tooMany stops the walk when n more nodes cannot fit.
func (m *measurer) tooMany(n uint64) bool {
	if satAdd(m.got.walk(), n) > m.maxWalk {
		m.add(n, 0)
		return true
	}
	return false
}

func (m *measurer) keyLen(key ref.Val) uint64 {
	if m.format {
		return m.formatLen(key)
	}
	if s, ok := key.(types.String); ok {
		return jsonStringLen(string(s))
	}
	return jsonScalarLen(key) + 2 // a key that is not a string is quoted
}

// formatLen is the longest a format clause spells a scalar: strings and
// bytes in hexadecimal (two characters a byte), integers in binary (up to
// 65), doubles in fixed point with the format's largest precision.
func (m *measurer) formatLen(v ref.Val) uint64 {
	switch t := v.(type) {
	case types.String:
		return 2 * uint64(len(t))
	case types.Bytes:
		return 2 * uint64(len(t))
	case types.Int, types.Uint:
		return 65
	case types.Double:
		var buf [32]byte
		return uint64(len(strconv.AppendFloat(buf[:0], float64(t), 'f', -1, 64))) + m.precision + 8
	case ref.Type:
		return uint64(len(t.TypeName()))
	}
	return 40 // bool, null, a timestamp or a duration in seconds
}

// jsonScalarLen is the length of a scalar as encoding/json writes what
// toNative makes of it.
func jsonScalarLen(v ref.Val) uint64 {
	switch t := v.(type) {
	case types.String:
		return jsonStringLen(string(t))
	case types.Bytes:
		return 2 + uint64(base64.StdEncoding.EncodedLen(len(t)))
	case types.Bool:
		if t {
			return 4
		}
		return 5
	case types.Null:
		return 4
	case types.Int:
		return intJSONLen(int64(t))
	case types.Uint:
		var buf [24]byte
		return uint64(len(strconv.AppendUint(buf[:0], uint64(t), 10)))
	case types.Double:
		return floatJSONLen(float64(t))
	case types.Timestamp:
		return 37 // quoted RFC 3339 with nanoseconds and an offset
	case types.Duration:
		return 27 // quoted, as time.Duration.String writes it
	case ref.Type:
		return 2 + uint64(len(t.TypeName()))
	}
	return 8
}

// jsonStringLen is the length of s as encoding/json writes it: quoted,
// with HTML characters, control characters, invalid bytes and the line
// separators U+2028 and U+2029 escaped as \uXXXX.
func jsonStringLen(s string) uint64 {
	n := uint64(2)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += uint64(size)
		}
		i += size
	}
	return n
}

// JSONSize is the length of v as encoding/json writes it, for the values
// toNative makes and encoding/json decodes (others are marshalled to be
// measured). It counts shared elements each time they occur and stops as
// soon as the count passes limit, returning over and a lower bound, so a
// caller can refuse a value before marshalling it: a map of a thousand
// references to one big string takes no memory until it is encoded.
func JSONSize(v any, limit uint64) (size uint64, over bool) {
	var walk func(v any, depth int)
	add := func(n uint64) {
		size = satAdd(size, n)
		over = over || size > limit
	}
	walk = func(v any, depth int) {
		if over {
			return
		}
		if depth > maxDepth {
			add(limit + 1)
			return
		}
		switch t := v.(type) {
		case nil:
			add(4)
		case bool:
			add(5)
		case string:
			add(jsonStringLen(t))
		case []byte:
			add(2 + uint64(base64.StdEncoding.EncodedLen(len(t))))
		case float64:
			add(floatJSONLen(t))
		case int64:
			add(intJSONLen(t))
		case float32, int, int8, int16, int32, uint, uint8, uint16, uint32, uint64:
			add(24) // at most 24 characters; outputs hold float64 and int64
		case json.Number:
			add(uint64(len(t)))
		case json.RawMessage:
			add(uint64(len(t)))
		case time.Time:
			add(37)
		case []any:
			add(2 + uint64(len(t)))
			for _, e := range t {
				walk(e, depth+1)
			}
		case map[string]any:
			add(2 + 2*uint64(len(t)))
			for k, e := range t {
				add(jsonStringLen(k))
				walk(e, depth+1)
			}
		default:
			data, err := json.Marshal(t)
			if err != nil {
				return // the caller's own marshalling reports it
			}
			add(uint64(len(data)))
		}
	}
	walk(v, 0)
	return size, over
}

// floatJSONLen is the length of f as encoding/json writes it: the shortest
// spelling, in exponent form outside [1e-6, 1e21). (NaN and infinities
// cannot be written; they count as their name.)
func floatJSONLen(f float64) uint64 {
	var buf [32]byte
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return uint64(len(strconv.AppendFloat(buf[:0], f, format, -1, 64)))
}

// intJSONLen is the number of characters of n in decimal.
func intJSONLen(n int64) uint64 {
	var buf [24]byte
	return uint64(len(strconv.AppendInt(buf[:0], n, 10)))
}
