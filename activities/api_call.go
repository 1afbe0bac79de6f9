package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// TypeAPICall calls an HTTP endpoint.
const TypeAPICall = "api_call"

// APICallConfig is the config of an api_call node.
//
//	{"method": "POST", "url": "'https://api.example.com/users/' + input.id",
//	 "headers": {"Authorization": "'Bearer ' + input.token"},
//	 "body": "{'name': input.name}", "successStatus": [200, 201], "timeout": "10s"}
//
// URL, header values and body are CEL expressions. The body's value decides
// how it is sent: a string as it is (Content-Type text/plain unless the
// headers set one), anything else as JSON (application/json unless the
// headers set one). SuccessStatus lists the accepted statuses (default: any
// 2xx). Timeout bounds one request (default: the client's and the activity's
// bounds). Redirects are followed, each hop checked by the outbound policy.
//
// The output is {status, headers, body}: headers by lower-case name, values
// of a repeated header joined with ", ", Set-Cookie left out (it carries
// session secrets and the output is recorded in history); body as decoded
// JSON when the response is JSON, else text, null when empty.
type APICallConfig struct {
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers,omitempty"`
	Body          string            `json:"body,omitempty"`
	SuccessStatus []int             `json:"successStatus,omitempty"`
	Timeout       string            `json:"timeout,omitempty"`
}

// apiCallMethods are the methods an api_call may use.
var apiCallMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// apiCallNode is the api_call node type.
func apiCallNode(h *HTTPNodes) spec[APICallConfig, apiCall] {
	return spec[APICallConfig, apiCall]{Name: TypeAPICall, Kind: interpreter.KindIO,
		ConfigSchema: apiCallConfigSchema, Compile: compileAPICall, Run: h.apiCall}
}

func (h *HTTPNodes) apiCall(ctx context.Context, node interpreter.Node, cfg apiCall, vars map[string]any) (any, string, error) {
	subject := fmt.Sprintf("node %q", node.ID)
	u, err := h.evalURL(ctx, subject, "url", cfg.URL, vars)
	if err != nil {
		return nil, "", err
	}
	header := http.Header{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Headers)) {
		src := cfg.Headers[name]
		v, err := h.Expr.EvalString(ctx, src, vars)
		// No control characters but tab, so an expression's result cannot
		// split the header and inject another one (net/http would refuse it
		// at send time, as a failure indistinguishable from a network error).
		if err == nil && !httpguts.ValidHeaderFieldValue(v) {
			err = &expr.EvalError{Expr: src, Err: errors.New("result contains a control character (a line break?)")}
		}
		if err != nil {
			return nil, "", exprError(subject, "headers."+name, err)
		}
		header.Set(name, v)
	}
	var body []byte
	if cfg.Body != "" {
		v, err := h.Expr.Eval(ctx, cfg.Body, vars)
		if err != nil {
			return nil, "", exprError(subject, "body", err)
		}
		contentType := "application/json"
		if s, ok := v.(string); ok {
			body, contentType = []byte(s), "text/plain; charset=utf-8"
		} else if body, err = json.Marshal(v); err != nil {
			return nil, "", exprError(subject, "body", &expr.EvalError{Expr: cfg.Body, Err: err})
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", contentType)
		}
	}
	reply, err := h.send(ctx, httpCall{
		subject: subject,
		target:  withPath(u),
		method:  cfg.Method,
		url:     u,
		header:  header,
		body:    body,
		timeout: cfg.timeout,
		success: cfg.SuccessStatus,
	})
	if err != nil {
		return nil, "", err
	}
	return map[string]any{
		"status":  reply.status,
		"headers": outputHeaders(reply.header),
		"body":    reply.body,
	}, interpreter.OutcomeSuccess, nil
}

// outputHeaders flattens response headers for the output (see APICallConfig).
func outputHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		if strings.EqualFold(name, "Set-Cookie") {
			continue
		}
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}

// apiCall is a checked api_call config.
type apiCall struct {
	APICallConfig
	timeout time.Duration // 0: only the client's and the activity's bounds
}

// compileAPICall checks an api_call config, reporting every problem.
func compileAPICall(cfg APICallConfig, c *compiling) apiCall {
	switch {
	case cfg.Method == "":
		c.Add("method", interpreter.CodeRequired, "method is required (one of %s)", strings.Join(apiCallMethods, ", "))
	case !slices.Contains(apiCallMethods, cfg.Method):
		c.Add("method", interpreter.CodeInvalidConfig, "method %q is not one of %s", cfg.Method, strings.Join(apiCallMethods, ", "))
	}
	c.expression("url", cfg.URL)
	seen := map[string]string{} // canonical header name -> name as written
	for _, name := range slices.Sorted(maps.Keys(cfg.Headers)) {
		path := "headers." + name
		canonical := http.CanonicalHeaderKey(name)
		switch {
		case !httpguts.ValidHeaderFieldName(name): // an RFC 9110 token
			c.Add(path, interpreter.CodeInvalidConfig, "%q is not a valid header name", name)
			continue
		case seen[canonical] != "":
			c.Add(path, interpreter.CodeInvalidConfig, "header %q is also given as %q (header names are case-insensitive)", name, seen[canonical])
			continue
		}
		seen[canonical] = name
		c.expression(path, cfg.Headers[name])
	}
	if cfg.Body != "" {
		c.expression("body", cfg.Body)
	}
	for i, status := range cfg.SuccessStatus {
		if status < 200 || status > 599 {
			c.Add(fmt.Sprintf("successStatus[%d]", i), interpreter.CodeInvalidConfig,
				"%d is not a final HTTP status (200 to 599)", status)
		}
	}
	return apiCall{APICallConfig: cfg, timeout: c.Duration("timeout", cfg.Timeout)}
}

// apiCallConfigSchema is the JSON Schema of the config (GET
// /api/schema/definition.json); registration checks the rest (expressions,
// names the workers know).
const apiCallConfigSchema = `{
	"type": "object",
	"additionalProperties": false,
	"required": ["method", "url"],
	"properties": {
		"method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
		"url": {"type": "string", "minLength": 1, "description": "CEL string"},
		"headers": {"type": "object", "additionalProperties": {"type": "string", "description": "CEL"}},
		"body": {"type": "string", "description": "CEL: sent as JSON"},
		"successStatus": {"type": "array", "items": {"type": "integer", "minimum": 200, "maximum": 599}},
		"timeout": {"type": "string", "description": "Go duration, e.g. 10s"}
	}
}`
