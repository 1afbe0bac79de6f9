package interpreter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
