package activities

import (
	"context"
	"encoding/json"
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

// FailNodeType describes the fail node type.
func FailNodeType() interpreter.NodeType {
	return interpreter.NodeType{
		Name: TypeFail,
		Kind: interpreter.KindPure,
		CheckConfig: func(config json.RawMessage, _ interpreter.ExprChecker) []interpreter.Problem {
			_, problems := compileFail(config)
			return problems
		},
	}
}

// Fail runs a fail node: it always returns a non-retryable ErrBusiness whose
// detail is an interpreter.BusinessFailure.
func (a *Activities) Fail(ctx context.Context, req interpreter.NodeRequest) (interpreter.NodeResult, error) {
	return a.runNode(ctx, req, a.fail)
}

func (a *Activities) fail(_ context.Context, node interpreter.Node, _ map[string]any) (any, string, error) {
	cfg, problems := compileFail(node.Config)
	if len(problems) > 0 {
		return nil, "", configError(node, problems)
	}
	failure := interpreter.BusinessFailure{Status: cfg.Status, Code: cfg.Code, Message: cfg.Message}
	if failure.Message == "" {
		failure.Message = http.StatusText(cfg.Status)
	}
	return nil, "", temporal.NewNonRetryableApplicationError(failure.Message, interpreter.ErrBusiness, nil, failure)
}

func compileFail(raw json.RawMessage) (FailConfig, []interpreter.Problem) {
	var cfg FailConfig
	if p := decodeConfig(raw, &cfg); p != nil {
		return cfg, []interpreter.Problem{*p}
	}
	ps := &problems{}
	switch {
	case cfg.Status == 0:
		ps.add("status", interpreter.CodeRequired, "status is required (an HTTP status from 400 to 599)")
	case cfg.Status < 400 || cfg.Status > 599:
		ps.add("status", interpreter.CodeInvalidConfig, "status %d is not an HTTP error status (400 to 599)", cfg.Status)
	}
	if strings.TrimSpace(cfg.Code) == "" {
		ps.add("code", interpreter.CodeRequired, "code is required (a machine-readable code such as email_exists)")
	}
	return cfg, ps.list
}
