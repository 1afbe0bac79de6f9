package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/workflow-backend/workflow-backend/api/apidoc"
)

// described is the API's OpenAPI document (api/apidoc), loaded, checked and
// routed once per test binary.
type described struct {
	doc    *openapi3.T
	router routers.Router
	// errorSchema is components/schemas/Error: what an answer to a path or
	// method the document does not have (404, 405, or a refusal before
	// routing) must look like.
	errorSchema *openapi3.Schema
	// mu serialises validations: schemas compile their JSON Schema 2020-12
	// validators lazily, and tests call from many goroutines.
	mu sync.Mutex
}

var loadDescribed = sync.OnceValues(func() (*described, error) {
	raw, err := apidoc.OpenAPI()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	ref := doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("the OpenAPI document has no components/schemas/Error")
	}
	return &described{doc: doc, router: router, errorSchema: ref.Value}, nil
})

// OpenAPIDocument is the API's OpenAPI document, loaded and validated.
func OpenAPIDocument(t testing.TB) *openapi3.T {
	t.Helper()
	d, err := loadDescribed()
	if err != nil {
		t.Fatal(err)
	}
	return d.doc
}

// CheckResponse fails the test (without stopping it: it may run in a
// goroutine) when the answer to req does not match the OpenAPI document: a
// status the operation does not list, a header or a body that does not
// match the schema. An answer to a path or method the document does not
// describe must be an error in the envelope. Call checks every answer; tests
// that send requests by other means call it themselves.
func CheckResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	d, err := loadDescribed()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.check(req, status, header, body); err != nil {
		t.Errorf("%s %s: the %d answer does not match the OpenAPI document (api/apidoc/openapi.yaml): %v\nbody: %s",
			req.Method, req.URL.Path, status, err, truncate(body))
	}
}

func (d *described) check(req *http.Request, status int, header http.Header, body []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("%d on a path or method the document does not describe (%v)", status, err)
		}
		return d.checkError(req, header, body)
	}
	return openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// checkError checks an answer outside the document's operations against
// the error envelope.
func (d *described) checkError(req *http.Request, header http.Header, body []byte) error {
	if req.Method == http.MethodHead {
		return nil // no body
	}
	if ct := header.Get("Content-Type"); ct != "application/json" && ct != "application/json; charset=UTF-8" {
		return fmt.Errorf("an error answered as %q, not JSON", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("an error body that is not JSON: %w", err)
	}
	return d.errorSchema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse())
}

func truncate(b []byte) []byte {
	const limit = 2000
	if len(b) > limit {
		return append(b[:limit:limit], "…"...)
	}
	return b
}
