package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/workflows"
)

// RegisterFlows registers the pre-configured flows (package workflows) as
// ordinary definitions, idempotently: an identical registration is a no-op,
// so every replica may do it at start. A file changed without a new version
// is an error naming it.
func (s *Server) RegisterFlows(ctx context.Context) error {
	flows, err := workflows.All()
	if err != nil {
		return err
	}
	for _, f := range flows {
		_, problems, _, err := s.register(ctx, f.Document)
		if len(problems) > 0 {
			return fmt.Errorf("workflows/%s.json has %d problem(s), first: %s: %s",
				f.ID, len(problems), problems[0].Path, problems[0].Message)
		}
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("workflows/%s.json changed but version %s is already registered with other content: give it a new version", f.ID, f.Version)
		}
		if err != nil {
			return fmt.Errorf("register workflows/%s.json: %w", f.ID, err)
		}
		s.flowVersions[f.ID] = f.Version
	}
	return nil
}

// flow serves a pre-configured flow: the request body is the execution's
// input, the version is the one shipped with this binary (not the latest
// registered, so registering a definition with the same id through the API
// cannot change what the route runs), and a completed execution answers
// successStatus with the usual execute result (its output is the created
// user or order). The wait budget, Prefer: respond-async and
// Idempotency-Key work as on execute.
func (s *Server) flow(id string, successStatus int, check func(input map[string]any) []fieldError) echo.HandlerFunc {
	return func(c echo.Context) error {
		version, registered := s.flowVersions[id]
		if !registered {
			return newError(http.StatusServiceUnavailable, codeServiceUnavailable, "the "+id+" flow is not registered")
		}
		wait, key, body, err := s.runRequest(c)
		if err != nil {
			return err
		}
		var input map[string]any
		if err := decodeStrict(body, &input); err != nil {
			return err
		}
		if input == nil {
			return newError(http.StatusBadRequest, codeInvalidRequest, "the body must be a JSON object")
		}
		if check != nil {
			if fields := check(input); len(fields) > 0 {
				return newError(http.StatusBadRequest, codeValidationFailed, fields[0].Message).withDetails(fields)
			}
		}
		ld, err := s.loadDefinition(c.Request().Context(), id, version)
		if err != nil {
			return err
		}
		return s.run(c, ld, executeRequest{Input: body, Version: version}, key, wait, successStatus)
	}
}

// checkPaymentMethod is the order route's own check, made before anything
// is recorded: a paymentMethodId must be a token (pm_…), so that a card
// number sent by mistake never reaches the execution's history; and with a
// real payment provider configured it is required (the flow falls back to a
// test token only for dev mode's fake provider).
func (s *Server) checkPaymentMethod(input map[string]any) []fieldError {
	v, present := input["paymentMethodId"]
	if !present || v == nil {
		if s.paymentMethodRequired {
			return []fieldError{{Field: "paymentMethodId", Message: "paymentMethodId (a payment method token such as pm_card_visa) is required"}}
		}
		return nil
	}
	if token, ok := v.(string); !ok || !strings.HasPrefix(token, "pm_") {
		return []fieldError{{Field: "paymentMethodId", Message: "paymentMethodId must be a payment method token (pm_…) created with Stripe.js, or a test token such as pm_card_visa; card numbers are never accepted"}}
	}
	return nil
}
