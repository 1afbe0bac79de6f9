package activities

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// decodeConfig decodes a node's config into dst strictly: unknown fields,
// wrong types and trailing data are errors. An absent config decodes as {}.
// The returned problem, if any, says what is wrong in the user's terms.
func decodeConfig(raw json.RawMessage, dst any) *interpreter.Problem {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("unexpected data after the config object")
		}
	}
	if err == nil {
		return nil
	}
	p := &interpreter.Problem{Code: interpreter.CodeInvalidConfig}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		p.Path = typeErr.Field
		p.Message = fmt.Sprintf("expected %s, got %s", jsonTypeName(typeErr.Type), typeErr.Value)
		if typeErr.Field == "" {
			p.Message = "config must be " + jsonTypeName(typeErr.Type) + ", got " + typeErr.Value
		}
		return p
	}
	p.Message = strings.TrimPrefix(err.Error(), "json: ")
	return p
}

// jsonTypeName names a Go type as the JSON a user should have written.
func jsonTypeName(t reflect.Type) string {
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
	}
	return t.String()
}

// problems collects the problems of one node's config. Paths are relative to
// the config ("rules[1].operator").
type problems struct {
	exprs interpreter.ExprChecker
	list  []interpreter.Problem
}

func (p *problems) add(path, code, format string, args ...any) {
	p.list = append(p.list, interpreter.Problem{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

// expression checks that src is present and compiles; the message of a
// compile error is CEL's own.
func (p *problems) expression(path, src string) {
	if strings.TrimSpace(src) == "" {
		p.add(path, interpreter.CodeRequired, "an expression is required")
		return
	}
	if err := p.exprs.Check(src); err != nil {
		p.add(path, interpreter.CodeInvalidExpression, "%s", err.Error())
	}
}

// failed reports whether any problem was collected.
func (p *problems) failed() bool { return len(p.list) > 0 }

// checker is the ExprChecker used at run time: the Env itself, which
// caches what it compiles, so checking again before evaluating is cheap.
func (a *Activities) checker() interpreter.ExprChecker { return a.Expr }

// Compile-time check that the expression environment is an ExprChecker.
var _ interpreter.ExprChecker = (*expr.Env)(nil)
