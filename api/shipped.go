package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/workflows"
)

// RegisterShippedDefinitions registers the shipped definitions (package
// workflows) as ordinary definitions, idempotently: an identical
// registration is a no-op, so every replica may do it at start. A file
// changed without a new version is an error naming it.
func (s *Server) RegisterShippedDefinitions(ctx context.Context) error {
	all, err := workflows.All()
	if err != nil {
		return err
	}
	for _, d := range all {
		_, problems, _, err := s.register(ctx, d.Document)
		if len(problems) > 0 {
			return fmt.Errorf("workflows/%s.json has %d problem(s), first: %s: %s",
				d.ID, len(problems), problems[0].Path, problems[0].Message)
		}
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("workflows/%s.json changed but version %s is already registered with other content: give it a new version", d.ID, d.Version)
		}
		if err != nil {
			return fmt.Errorf("register workflows/%s.json: %w", d.ID, err)
		}
		s.shippedVersions[d.ID] = d.Version
	}
	return nil
}

// shippedRoute serves a route of a shipped definition (workflows.Route):
// the body is the execution's input, the version the one shipped with this
// binary, and the rest is execute's pipeline (executeDefinition).
func (s *Server) shippedRoute(r workflows.Route) echo.HandlerFunc {
	checkOpts := workflows.CheckOptions{PaymentMethodRequired: s.opts.PaymentMethodRequired}
	return func(c echo.Context) error {
		version, registered := s.shippedVersions[r.DefinitionID]
		if !registered {
			return newError(http.StatusServiceUnavailable, codeServiceUnavailable, "the "+r.DefinitionID+" definition is not registered")
		}
		return s.executeDefinition(c, r.Status, func(body []byte) (string, executeRequest, error) {
			req := executeRequest{Input: body, Version: version}
			if len(bytes.TrimSpace(body)) == 0 {
				return "", req, newError(http.StatusBadRequest, codeInvalidJSON, "the body is empty: send the input, a JSON object")
			}
			var input map[string]any
			if err := decodeBody(body, &input); err != nil {
				return "", req, err
			}
			if input == nil {
				return "", req, newError(http.StatusBadRequest, codeInvalidRequest, "the body must be a JSON object")
			}
			if r.Check != nil {
				if fields := r.Check(input, checkOpts); len(fields) > 0 {
					return "", req, newError(http.StatusBadRequest, codeValidationFailed, fields[0].Message).withDetails(fields)
				}
			}
			return r.DefinitionID, req, nil
		})
	}
}
