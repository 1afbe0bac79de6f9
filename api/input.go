package api

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

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// fieldError is one rejected field, {"field", "message"}: the type
// validation nodes report theirs in, so both read the same to clients.
type fieldError = interpreter.FieldError

// validateInput checks input against a definition's inputSchema and returns
// every failure (not just the first), each with the field's path in the
// input ("email", "items[0].sku"; "" is the input itself).
func validateInput(schema *jsonschema.Schema, input json.RawMessage) []fieldError {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(nullIfEmpty(input)))
	if err != nil {
		return []fieldError{{Field: "", Message: "the input is not valid JSON"}}
	}
	err = schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []fieldError{{Field: "", Message: "the input could not be validated"}}
	}
	p := message.NewPrinter(language.English)
	var out []fieldError
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
				out = append(out, fieldError{Field: fieldPath(append(e.InstanceLocation[:len(e.InstanceLocation):len(e.InstanceLocation)], m)), Message: "is required"})
			}
			return
		}
		out = append(out, fieldError{Field: fieldPath(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(p)})
	}
	walk(ve)
	if len(out) == 0 {
		out = append(out, fieldError{Field: "", Message: "the input does not match the schema"})
	}
	return out
}

// fieldPath renders an instance location as a.b[0].c.
func fieldPath(tokens []string) string {
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
