package interpreter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaLocation names the inputSchema document for the compiler. It is
// absolute, so the compiler does not resolve it against the working
// directory (and put the server's paths in its messages).
const schemaLocation = "urn:inputSchema"

// CompileSchema compiles a definition's inputSchema. References to other
// documents are refused: a schema must never make the API read a file or a URL.
// Errors are written for the definition's author: where in the schema and
// what is wrong.
func CompileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, errors.New("it is not valid JSON")
	}
	if n := schemaExpansion(doc, maxSchemaExpansion); n > maxSchemaExpansion {
		return nil, fmt.Errorf("with its references followed it has more than %d parts; the limit is %d "+
			"(a reference used twice at every level doubles the work of checking every input)", maxSchemaExpansion, maxSchemaExpansion)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(schemaLocation, doc); err != nil {
		return nil, schemaError(err)
	}
	s, err := c.Compile(schemaLocation)
	if err != nil {
		return nil, schemaError(err)
	}
	return s, nil
}

// schemaError rewrites a compile error: the failures of the schema against
// the JSON Schema meta-schema, each at its place in the schema, or the
// library's message with the document's location shortened to "#".
func schemaError(err error) error {
	var invalid *jsonschema.SchemaValidationError
	var verr *jsonschema.ValidationError
	if errors.As(err, &invalid) && errors.As(invalid.Err, &verr) {
		p := message.NewPrinter(language.English)
		var parts []string
		var walk func(e *jsonschema.ValidationError)
		walk = func(e *jsonschema.ValidationError) {
			for _, c := range e.Causes {
				walk(c)
			}
			if len(e.Causes) == 0 {
				parts = append(parts, fmt.Sprintf("at #/%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(p)))
			}
		}
		walk(verr)
		if len(parts) > 0 {
			return errors.New(strings.Join(parts, "; "))
		}
	}
	return errors.New(strings.ReplaceAll(err.Error(), schemaLocation, ""))
}

type refusingLoader struct{}

func (refusingLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed (%s)", url)
}

// maxSchemaExpansion bounds how many parts of an inputSchema checking one
// value may visit, its references followed. Checking an input costs about
// that, for every execution: a schema of a kilobyte whose every level
// references the next twice makes 2^18 parts, half a second per request.
const maxSchemaExpansion = 20_000

// schemaExpansion counts the parts (objects, arrays, values) of doc with
// every local $ref (and $dynamicRef) replaced by what it points to, up to
// limit+1. A reference back to a schema it is already inside is not
// followed: recursion follows the input's nesting, which the request size
// bounds.
func schemaExpansion(doc any, limit int) int {
	count := 0
	var onPath []string // the references being expanded
	var walk func(v any)
	walk = func(v any) {
		if count > limit {
			return
		}
		count++
		switch t := v.(type) {
		case map[string]any:
			for _, key := range []string{"$ref", "$dynamicRef"} {
				ref, ok := t[key].(string)
				if !ok {
					continue
				}
				target, found := resolvePointer(doc, ref)
				if !found || slices.Contains(onPath, ref) {
					continue
				}
				onPath = append(onPath, ref)
				walk(target)
				onPath = onPath[:len(onPath)-1]
			}
			for _, k := range slices.Sorted(maps.Keys(t)) {
				walk(t[k])
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(doc)
	return count
}

// resolvePointer finds a local reference ("#", "#/$defs/x") in doc.
func resolvePointer(doc any, ref string) (any, bool) {
	pointer, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	tokens := strings.Split(pointer, "/")[1:]
	for i, token := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(token, "~1", "/"), "~0", "~")
	}
	return LookupPath(doc, tokens)
}

// LookupPath walks path through JSON-decoded data: a segment indexes an
// object by key, or a list by position when it is a number.
func LookupPath(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch cur := v.(type) {
		case map[string]any:
			next, ok := cur[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(cur) {
				return nil, false
			}
			v = cur[i]
		default:
			return nil, false
		}
	}
	return v, true
}
