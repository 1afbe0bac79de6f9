package interpreter

import (
	"encoding/json"

	"github.com/workflow-backend/workflow-backend/internal/problem"
)

// decodeConfig decodes the config of a node of one of the interpreter's own
// node types (wait, call, respond) strictly; typeName names it in messages.
func decodeConfig[C any](raw json.RawMessage, typeName string) (C, *problem.DecodeError) {
	var c C
	err := problem.Decode(raw, &c, "the "+typeName+" config")
	return c, err
}

// configCheck is the CheckConfig of one of the interpreter's own node
// types: the config is decoded (a config that does not decode has that one
// problem), then check adds the problems of its fields.
func configCheck[C any](typeName string, check func(c C, l *problem.List, exprs ExprChecker)) func(json.RawMessage, ExprChecker) []Problem {
	return func(raw json.RawMessage, exprs ExprChecker) []Problem {
		var l problem.List
		c, err := decodeConfig[C](raw, typeName)
		if err != nil {
			l.Add(err.Path, CodeInvalidConfig, "%s", err.Message)
			return l.All()
		}
		check(c, &l, exprs)
		return l.All()
	}
}
