package interpreter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ValidateInput checks input against a definition's inputSchema and returns
// every failure (not just the first), each with the field's path in the
// input ("email", "items[0].sku"; "" is the input itself).
func ValidateInput(schema *jsonschema.Schema, input json.RawMessage) []FieldError {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(nullIfEmpty(input)))
	if err != nil {
		return []FieldError{{Field: "", Message: "the input is not valid JSON"}}
	}
	err = schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Field: "", Message: "the input could not be validated"}}
	}
	p := message.NewPrinter(language.English)
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if req, ok := e.ErrorKind.(*kind.Required); ok {
			// One entry per missing property, named by its own path.
			for _, m := range req.Missing {
				out = append(out, FieldError{Field: FieldPath(append(e.InstanceLocation[:len(e.InstanceLocation):len(e.InstanceLocation)], m)), Message: "is required"})
			}
			return
		}
		out = append(out, FieldError{Field: FieldPath(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(p)})
	}
	walk(ve)
	if len(out) == 0 {
		out = append(out, FieldError{Field: "", Message: "the input does not match the schema"})
	}
	return out
}

// FieldPath renders an instance location as a.b[0].c.
func FieldPath(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

func nullIfEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
