package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DecodeError says why a strict decode failed, in the user's terms.
type DecodeError struct {
	// Path is the field that had the wrong type ("" for the whole value).
	Path string
	// Message never names a Go type.
	Message string
	// Syntax is true when the data is not well-formed JSON (as opposed to
	// JSON of the wrong shape): callers may answer with different codes.
	Syntax bool
	// UnknownField is the name of the field the target does not have, when
	// that is the problem (callers may point at it).
	UnknownField string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Decode decodes one JSON value into dst strictly: unknown fields, wrong
// types and trailing data are errors. what names the value in messages
// ("the config", "the body"). Empty data decodes as {}.
func Decode(data []byte, dst any, what string) *DecodeError {
	return decode(data, dst, what, true)
}

// DecodeLenient decodes like Decode, except that fields dst has no place
// for do not stop it: it returns them as problems (code CodeInvalidJSON,
// the path of each field, document order), so a caller can report them
// together with every other problem of the document instead of only the
// first unknown field. Keys match fields as encoding/json matches them
// (exactly, else ignoring case); values decoded by their own type
// (json.RawMessage, a json.Unmarshaler) or into any are not looked into.
func DecodeLenient(data []byte, dst any, what string) ([]Problem, *DecodeError) {
	if err := decode(data, dst, what, false); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	w := unknownFields{dec: json.NewDecoder(bytes.NewReader(data))}
	w.value("", reflect.TypeOf(dst))
	return w.found, nil
}

func decode(data []byte, dst any, what string, strict bool) *DecodeError {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(dst)
	if err == nil {
		if _, tokErr := dec.Token(); tokErr != io.EOF {
			return &DecodeError{Message: "unexpected data after " + what, Syntax: true}
		}
		return nil
	}
	return describe(err, what)
}

// unknownFields walks well-formed JSON token by token beside the Go type it
// was decoded into and collects the object keys the type has no field for.
type unknownFields struct {
	dec   *json.Decoder
	found []Problem
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// value reads the value at path; t is its Go type, nil when anything goes.
func (w *unknownFields) value(path string, t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t == rawMessageType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface) {
		t = nil
	}
	tok, err := w.dec.Token()
	if err != nil {
		return
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return
			}
			key, _ := tok.(string)
			ft, known := fieldType(t, key)
			if !known {
				w.found = append(w.found, Problem{Path: Join(path, key), Code: CodeInvalidJSON, Message: fmt.Sprintf("unknown field %q", key)})
			}
			w.value(Join(path, key), ft)
		}
		_, _ = w.dec.Token() // '}'
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			w.value(fmt.Sprintf("%s[%d]", path, i), elem)
		}
		_, _ = w.dec.Token() // ']'
	}
}

// fieldType is the type of the value under key in an object decoded into
// t, and whether t has a place for key (nil type: anything goes).
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	if t == nil {
		return nil, true
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), true
	case reflect.Struct:
		var folded reflect.Type
		foundFolded := false
		for _, f := range reflect.VisibleFields(t) {
			name, ok := jsonName(f)
			switch {
			case !ok:
			case name == key:
				return f.Type, true
			case !foundFolded && strings.EqualFold(name, key):
				folded, foundFolded = f.Type, true
			}
		}
		return folded, foundFolded
	}
	return nil, true
}

// jsonName is the key encoding/json decodes field f from, and false for
// fields it does not decode.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	embedded := f.Type
	if embedded.Kind() == reflect.Pointer {
		embedded = embedded.Elem()
	}
	if f.Anonymous && name == "" && embedded.Kind() == reflect.Struct {
		return "", false // its fields are promoted: VisibleFields lists them
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}

// describe turns encoding/json's errors into a DecodeError.
func describe(err error, what string) *DecodeError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		// Not encoding/json's text ("invalid character 'x' looking for
		// beginning of value"): the API sends no Go error text to clients.
		return &DecodeError{Message: fmt.Sprintf("malformed JSON at byte %d", syntax.Offset), Syntax: true}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &DecodeError{Message: "malformed JSON: unexpected end of " + what, Syntax: true}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &DecodeError{Message: fmt.Sprintf("%s must be %s, got %s", what, TypeName(typ.Type), article(typ.Value))}
		}
		return &DecodeError{Path: typ.Field, Message: fmt.Sprintf("expected %s, got %s", TypeName(typ.Type), article(typ.Value))}
	default:
		// Unknown fields: `json: unknown field "x"`.
		msg := strings.TrimPrefix(err.Error(), "json: ")
		field, _ := strconv.Unquote(strings.TrimPrefix(msg, "unknown field "))
		return &DecodeError{Message: msg, UnknownField: field}
	}
}

// article puts "a"/"an" before encoding/json's name of a JSON value
// ("string", "number", "object", "array", "bool").
func article(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "a boolean"
	case "":
		return "another type"
	}
	if strings.ContainsAny(v[:1], "aeiou") {
		return "an " + v
	}
	return "a " + v
}

// TypeName names a Go type as the JSON a user should have written.
func TypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Interface:
		return "any JSON value"
	}
	return "another JSON type"
}

// ValueTypeName names the JSON type of a decoded value (as encoding/json or
// the expression language produce them), with its article: "a string",
// "a number", "a boolean", "a list", "an object", "null"; and the two
// results of an expression that are not JSON: "a timestamp", "bytes".
func ValueTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int32, int64, uint, uint32, uint64, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case time.Time:
		return "a timestamp"
	case []byte:
		return "bytes"
	}
	return "another type"
}
