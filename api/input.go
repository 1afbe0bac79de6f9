package api

import (
	"encoding/json"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// fieldError is one rejected field, {"field", "message"}: the type
// validation nodes report theirs in, so both read the same to clients.
type fieldError = interpreter.FieldError

// validateInput checks input against a definition's inputSchema
// (interpreter.ValidateInput, which call nodes use too).
func validateInput(schema *jsonschema.Schema, input json.RawMessage) []fieldError {
	return interpreter.ValidateInput(schema, nullIfEmpty(input))
}

// fieldPath renders an instance location as a.b[0].c.
var fieldPath = interpreter.FieldPath
