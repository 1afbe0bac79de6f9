package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/internal/resultcache"
)

// Evaluator evaluates a CEL expression (an *expr.Env): the API evaluates
// the cache keys of definitions that opt into the result cache with it.
type Evaluator interface {
	Eval(ctx context.Context, src string, vars map[string]any) (any, error)
}

// cacheKey returns the result-cache key of an execute of ld with input, or
// "" when the definition does not opt in (or the API has no evaluator).
// The key names the definition's id and version, so a new version never
// answers with an older one's results. A key expression that fails (a
// field the input lacks) is the caller's mistake: 400, nothing started.
func (s *Server) cacheKey(ctx context.Context, ld *loadedDefinition, input json.RawMessage) (string, error) {
	p := ld.def.Cache
	if p == nil || s.opts.Evaluator == nil {
		return "", nil
	}
	var in any
	if len(input) > 0 {
		if err := json.Unmarshal(input, &in); err != nil {
			return "", newError(http.StatusBadRequest, codeInvalidInput, "the input is not valid JSON")
		}
	}
	v, err := s.opts.Evaluator.Eval(ctx, p.Key, map[string]any{"input": in})
	if err != nil {
		return "", newError(http.StatusBadRequest, codeInvalidInput,
			fmt.Sprintf("the definition's cache key (%s) cannot be computed from this input: %v", p.Key, err))
	}
	value, err := json.Marshal(v)
	if err != nil {
		return "", newError(http.StatusBadRequest, codeInvalidInput,
			fmt.Sprintf("the definition's cache key (%s) is not a JSON value: %v", p.Key, err))
	}
	return ld.def.ID + "@" + ld.def.Version + "\x00" + string(value), nil
}

// answerCached answers an execute from the result cache when key holds a
// live result: successStatus with the output, "cached": true and the
// execution that produced it. It reports whether it answered.
func (s *Server) answerCached(c echo.Context, key string, successStatus int) (bool, error) {
	if key == "" {
		return false, nil
	}
	e, found := s.results.Get(key)
	if !found {
		return false, nil
	}
	return true, ok(c, successStatus, executeResult{
		ExecutionID: e.ExecutionID, RunID: e.RunID, Status: statusCompleted, Output: e.Output,
		UIURL: s.ref(e.ExecutionID, e.RunID).UIURL, Cached: true, CachedAt: &e.Stored,
	})
}

// rememberResult keeps a completed execution's output under key.
func (s *Server) rememberResult(key string, ld *loadedDefinition, ref executionRef, output json.RawMessage) {
	if key == "" {
		return
	}
	s.results.Put(key, resultcache.Entry{Output: output, ExecutionID: ref.ExecutionID, RunID: ref.RunID}, ld.def.Cache.TTLDuration())
}
