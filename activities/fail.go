package activities

import (
	"context"
	"net/http"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeFail ends the execution with a business error.
const TypeFail = "fail"

// FailConfig is the config of a fail node.
//
//	{"status": 409, "code": "email_exists", "message": "This email is already registered"}
//
// Message is plain text, not an expression: what a client is told must not
// depend on data that might leak internals. Optional: default the status text.
type FailConfig struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// failNode is the fail node type: a node always returns a non-retryable
// ErrBusiness whose detail is an interpreter.BusinessFailure.
func failNode() spec[FailConfig, FailConfig] {
	return spec[FailConfig, FailConfig]{Name: TypeFail, Kind: interpreter.KindPure,
		ConfigSchema: failConfigSchema, Compile: compileFail, Run: fail}
}

func fail(_ context.Context, _ interpreter.Node, cfg FailConfig, _ map[string]any) (any, string, error) {
	failure := interpreter.BusinessFailure{Status: cfg.Status, Code: cfg.Code, Message: cfg.Message}
	if failure.Message == "" {
		failure.Message = http.StatusText(cfg.Status)
	}
	return nil, "", temporal.NewNonRetryableApplicationError(failure.Message, interpreter.ErrBusiness, nil, failure)
}

func compileFail(cfg FailConfig, c *compiling) FailConfig {
	switch {
	case cfg.Status == 0:
		c.Add("status", interpreter.CodeRequired, "status is required (an HTTP status from 400 to 599)")
	case cfg.Status < 400 || cfg.Status > 599:
		c.Add("status", interpreter.CodeInvalidConfig, "status %d is not an HTTP error status (400 to 599)", cfg.Status)
	}
	if strings.TrimSpace(cfg.Code) == "" {
		c.Add("code", interpreter.CodeRequired, "code is required (a machine-readable code such as email_exists)")
	}
	return cfg
}

// failConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const failConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["status", "code"],
	"properties": {
		"status": {"type": "integer", "minimum": 400, "maximum": 599},
		"code": {"type": "string", "pattern": "\\S", "description": "Machine-readable, e.g. email_exists"},
		"message": {"type": "string"}
	}
}`
