// Package apitest holds what the API's two layers of tests share: the pure
// handler tests of package api (over fakes, no Temporal) and the
// end-to-end tests of api/e2e (over an embedded Temporal server). It sends
// requests, checks every answer against the API's OpenAPI document
// (openapi.go), decodes the envelope and builds definition documents.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
)

// Response is a decoded API answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *struct {
			Code        string          `json:"code"`
			Message     string          `json:"message"`
			Details     json.RawMessage `json:"details"`
			Failure     json.RawMessage `json:"failure"`
			ExecutionID string          `json:"executionId"`
			RunID       string          `json:"runId"`
			UIURL       string          `json:"uiUrl"`
		} `json:"error"`
	}
}

// DecodeData decodes the success data into v.
func (r Response) DecodeData(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Body.Data, err)
	}
}

// ErrCode is the error code, "" for a success.
func (r Response) ErrCode() string {
	if r.Body.Error == nil {
		return ""
	}
	return r.Body.Error.Code
}

// Call sends a request to the API at baseURL with hc; body is sent as is
// when it is []byte or string, and JSON-encoded otherwise. headers are
// name, value pairs.
func Call(t *testing.T, hc *http.Client, baseURL, method, path string, body any, headers ...string) Response {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	case string:
		reader = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, baseURL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Every answer a test receives is checked against the OpenAPI
	// document, so that the document cannot drift from the code.
	CheckResponse(t, req, resp.StatusCode, resp.Header, raw)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	// The envelope is JSON; the docs page, its script and /metrics are not.
	if len(raw) > 0 && !isText(resp.Header.Get("Content-Type")) {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: %d, body is not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

// isText says whether a content type is text/… (HTML, JavaScript, the
// Prometheus exposition format), which has no envelope.
func isText(contentType string) bool {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	return strings.HasPrefix(mediaType, "text/")
}

// Expect fails the test unless the response has the status (and, for
// errors, the code).
func Expect(t *testing.T, r Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrCode() != code {
		t.Fatalf("got %d %q, want %d %q; body: %s", r.Status, r.ErrCode(), status, code, r.Raw)
	}
	if (status < 400) != r.Body.Success {
		t.Fatalf("success=%v with status %d: %s", r.Body.Success, status, r.Raw)
	}
}

// Node and Edge build definition documents tersely.
func Node(id, typ string, config any) map[string]any {
	return map[string]any{"id": id, "type": typ, "config": config}
}

// Edge is an edge from source to target; extra are key, value pairs
// ("outcome", "error").
func Edge(source, target string, extra ...string) map[string]any {
	e := map[string]any{"source": source, "target": target}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	return e
}

// Definition is a definition document named after its id.
func Definition(id, version, start string, nodes []map[string]any, edges []map[string]any) map[string]any {
	if edges == nil {
		edges = []map[string]any{}
	}
	return map[string]any{"id": id, "name": id, "version": version, "startNode": start, "nodes": nodes, "edges": edges}
}

// Transform is a transform node with the given mapping.
func Transform(id string, mapping map[string]string) map[string]any {
	return Node(id, "transform", map[string]any{"mapping": mapping})
}

// JSONEqual compares a JSON document with the JSON encoding of want.
func JSONEqual(t *testing.T, got json.RawMessage, want any) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	gs, _ := json.Marshal(g)
	ws, _ := json.Marshal(w)
	if !bytes.Equal(gs, ws) {
		t.Fatalf("got %s, want %s", gs, ws)
	}
}
