package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Error codes of the API. Clients match on them: append only.
const (
	codeInternal             = "internal_error"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codePayloadTooLarge      = "payload_too_large"
	codeBadRequest           = "bad_request"
	codeInvalidJSON          = "invalid_json"
	codeInvalidRequest       = "invalid_request"
	codeInvalidDefinition    = "invalid_definition"
	codeDefinitionConflict   = "definition_conflict"
	codeDefinitionNotFound   = "definition_not_found"
	codeInvalidInput         = "invalid_input"
	codeInvalidWait          = "invalid_wait"
	codeInvalidQuery         = "invalid_query"
	codeIdempotencyReused    = "idempotency_key_reused"
	codeInvalidIdempotency   = "invalid_idempotency_key"
	codeExecutionNotFound    = "execution_not_found"
	codeExecutionFinished    = "execution_finished"
	codeInvalidSignal        = "invalid_signal"
	codeValidationFailed     = "validation_failed"
	codeExecutionFailed      = "execution_failed"
	codeExecutionCanceled    = "execution_canceled"
	codeExecutionTerminated  = "execution_terminated"
	codeExecutionTimedOut    = "execution_timed_out"
	codeServiceUnavailable   = "service_unavailable"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeProductNotFound      = "product_not_found"
	codeHistoryBudget        = "history_budget_exceeded"
	codeMemoryPressure       = "memory_pressure"
	codeUnknownSignal        = "unknown_signal"
	codeDefinitionOutdated   = "definition_outdated"
	// Test mode (testmode.go).
	codeTestNotRunnable = "test_not_runnable"
	codeTestTimeout     = "test_timeout"
	// A test case of a running execution, a redrive or rerun of one in
	// that state (testmode.go, redrive.go).
	codeExecutionRunning   = "execution_running"
	codeExecutionCompleted = "execution_completed"
	codeNotRedrivable      = "execution_not_redrivable"
	codeRerunRefused       = "rerun_refused"
)

// appError is an error a handler returns to be rendered as the error
// envelope. Cause is logged, never sent.
type appError struct {
	Status  int
	Code    string
	Message string
	Details any
	// Execution, when set, is the execution the error is about. Every error
	// about an execution carries its id (and run id and UI link) next to
	// code/message/details in the error object, so that details keep one
	// shape per code: {"error": {"code", "message", "details",
	// "executionId", "runId", "uiUrl"}}.
	Execution *executionRef
	// Failure is set on execution_failed: where the execution failed.
	Failure *failureDetails
	Cause   error
}

func (e *appError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *appError) Unwrap() error { return e.Cause }

func newError(status int, code, message string) *appError {
	return &appError{Status: status, Code: code, Message: message}
}

func (e *appError) withDetails(d any) *appError {
	e.Details = d
	return e
}

// detailsList is Details as clients see them: always a list, [] when
// there are none.
func (e *appError) detailsList() any {
	if e.Details == nil {
		return []any{}
	}
	return e.Details
}

// withCause keeps err for the log; the client never sees it.
func (e *appError) withCause(err error) *appError {
	e.Cause = err
	return e
}

func (e *appError) about(ref executionRef) *appError {
	e.Execution = &ref
	return e
}

// internalError wraps an unexpected failure: the client sees only
// "internal error" and the request id; the cause is logged.
func internalError(cause error, what string) *appError {
	return &appError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error",
		Cause: fmt.Errorf("%s: %w", what, cause)}
}

// unavailable is for a dependency (Temporal, the database) that timed out
// or is unreachable: the client may retry.
func unavailable(cause error, what string) *appError {
	return &appError{Status: http.StatusServiceUnavailable, Code: codeServiceUnavailable,
		Message: "a backing service is unavailable, try again", Cause: fmt.Errorf("%s: %w", what, cause)}
}

// executionRef identifies an execution in responses.
type executionRef struct {
	ExecutionID string `json:"executionId"`
	RunID       string `json:"runId,omitempty"`
	UIURL       string `json:"uiUrl,omitempty"`
}

type errorBody struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details any             `json:"details"`
	Failure *failureDetails `json:"failure,omitempty"`
	*executionRef
}

type errorEnvelope struct {
	Success bool      `json:"success"`
	Error   errorBody `json:"error"`
}

type successEnvelope struct {
	Success bool `json:"success"`
	Data    any  `json:"data"`
}

// ok sends the success envelope.
func ok(c echo.Context, status int, data any) error {
	return c.JSON(status, successEnvelope{Success: true, Data: data})
}

// handleError is the one HTTPErrorHandler: typed errors keep their status,
// code and details; echo's own errors become not_found, method_not_allowed,
// payload_too_large…; anything else is logged and answered "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := s.toAppError(err)
	if ae.Status >= 500 {
		s.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", ae.Status),
			slog.String("code", ae.Code),
			slog.Any("error", err))
	} else if ae.Cause != nil {
		s.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "request rejected",
			slog.String("request_id", requestID(c)),
			slog.String("code", ae.Code),
			slog.Any("error", ae.Cause))
	}
	body := errorEnvelope{Error: errorBody{Code: ae.Code, Message: ae.Message, Details: ae.detailsList(), Failure: ae.Failure, executionRef: ae.Execution}}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(ae.Status)
	} else {
		werr = c.JSON(ae.Status, body)
	}
	if werr != nil {
		s.opts.Logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing error response failed",
			slog.String("request_id", requestID(c)), slog.Any("error", werr))
	}
}

func (s *Server) toAppError(err error) *appError {
	var ae *appError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return newError(he.Code, codeNotFound, "no such route")
		case http.StatusMethodNotAllowed:
			return newError(he.Code, codeMethodNotAllowed, "method not allowed on this route")
		case http.StatusRequestEntityTooLarge:
			return newError(he.Code, codePayloadTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", s.opts.BodyLimit))
		case http.StatusUnsupportedMediaType:
			return newError(he.Code, codeUnsupportedMediaType, "unsupported media type")
		}
		if he.Code >= 400 && he.Code < 500 {
			return newError(he.Code, codeBadRequest, http.StatusText(he.Code))
		}
		return &appError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error", Cause: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", s.opts.BodyLimit))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return unavailable(err, "deadline exceeded")
	}
	return &appError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error", Cause: err}
}

// requestID is the id the request-id middleware put on the response.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
