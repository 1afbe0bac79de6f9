package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// recordingTB records what CheckResponse reports instead of failing.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestCheckResponseRefusesWhatTheDocumentDoesNotSay: the check the API
// tests rely on does fail on answers that drift from the document.
func TestCheckResponseRefusesWhatTheDocumentDoesNotSay(t *testing.T) {
	json := http.Header{"Content-Type": []string{"application/json"}}
	product := `{"id": 1, "name": "Keyboard", "priceCents": 4999, "currency": "usd", "stock": 8, "updatedAt": "2026-01-02T03:04:05Z"}`
	tests := []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"as described", "GET", "/api/products", 200, `{"success": true, "data": {"products": [` + product + `]}}`, true},
		{"a field of the wrong type", "GET", "/api/products", 200, `{"success": true, "data": {"products": [{"id": "1"}]}}`, false},
		{"a field the document does not have", "GET", "/api/products/1", 200, `{"success": true, "data": {"extra": 1, ` + product[1:] + `}`, false},
		{"no envelope", "GET", "/api/products/1", 200, product, false},
		{"a status the operation does not list", "GET", "/api/products/1", 418, `{"success": false, "error": {"code": "not_found", "message": "", "details": []}}`, false},
		{"another code of the status", "GET", "/api/products/1", 404, `{"success": false, "error": {"code": "execution_not_found", "message": "m", "details": []}}`, true},
		{"a code of another status", "GET", "/api/products/1", 404, `{"success": false, "error": {"code": "rate_limited", "message": "m", "details": []}}`, false},
		{"details that are not a list", "GET", "/api/products/1", 404, `{"success": false, "error": {"code": "product_not_found", "message": "m", "details": {}}}`, false},
		{"an unknown path's 404", "GET", "/nope", 404, `{"success": false, "error": {"code": "not_found", "message": "no such route", "details": []}}`, true},
		{"an unknown path's success", "GET", "/nope", 200, `{"success": true, "data": null}`, false},
		{"an unknown path's error without envelope", "GET", "/nope", 404, `{"error": "nope"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			CheckResponse(rec, httptest.NewRequest(tt.method, "http://api.test"+tt.path, nil), tt.status, json, []byte(tt.body))
			if ok := len(rec.errors) == 0; ok != tt.ok {
				t.Errorf("passed %v, want %v: %v", ok, tt.ok, rec.errors)
			}
		})
	}
}
