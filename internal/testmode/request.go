// Package testmode runs a definition without side effects: the real
// interpreter workflow and the real pure node types (validation, transform,
// condition, fail) in the SDK's in-process test environment, with every I/O
// node answered from mocks given per node id. Timers are skipped (the test
// environment fires them at once), so a run takes milliseconds. The API's
// POST /api/workflows/test and the testcases command both run it; FromHistory
// turns a recorded execution into such a run.
package testmode

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Request is the body of POST /api/workflows/test and of a test-case file
// (without its "expect"): a definition, inline or by id and version, an
// input and the mocks.
type Request struct {
	// Definition is a whole definition, checked as registration checks it.
	Definition json.RawMessage `json:"definition,omitempty"`
	// ID and Version name a registered definition instead (Version ""
	// means the latest).
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
	Input   any    `json:"input"`
	// Mocks answer the I/O nodes (and signal waits) by node id.
	Mocks map[string]Mock `json:"mocks"`
}

// Mock is what a node answers, one entry per attempt: the last entry
// answers every later attempt. In JSON it is one attempt ({"output": …} or
// {"error": {…}}) or a list of them.
type Mock []Attempt

// Attempt is one answer of a mocked node: its output, or its error.
type Attempt struct {
	Output any        `json:"output,omitempty"`
	Error  *MockError `json:"error,omitempty"`
}

// MockError is a mocked node failure. It fails the attempt with an
// application error of Type, as a node type's activity does, so errors.<id>
// reads {type, message} and error edges fire as in production.
type MockError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// Retryable lets the node's retry policy try again (the next entry of
	// the mock answers). Default false: the node fails at once.
	Retryable bool `json:"retryable,omitempty"`
}

// UnmarshalJSON accepts one attempt or a list of attempts.
func (m *Mock) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var list []Attempt
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		*m = list
		return nil
	}
	var one Attempt
	if err := json.Unmarshal(data, &one); err != nil {
		return err
	}
	*m = Mock{one}
	return nil
}

// MarshalJSON writes a single attempt as an object, several as a list.
func (m Mock) MarshalJSON() ([]byte, error) {
	if len(m) == 1 {
		return json.Marshal(m[0])
	}
	return json.Marshal([]Attempt(m))
}

// UnmarshalJSON tells an absent output from a null one: {"output": null}
// is an attempt that succeeds with null.
func (a *Attempt) UnmarshalJSON(data []byte) error {
	var raw struct {
		Output json.RawMessage `json:"output"`
		Error  *MockError      `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("a mock attempt is {\"output\": …} or {\"error\": {\"type\", \"message\", \"retryable\"?}}: %w", err)
	}
	if raw.Output != nil && raw.Error != nil {
		return fmt.Errorf("a mock attempt has an output or an error, not both")
	}
	if raw.Output == nil && raw.Error == nil {
		return fmt.Errorf("a mock attempt needs an output or an error")
	}
	a.Error = raw.Error
	if raw.Output != nil {
		if err := json.Unmarshal(raw.Output, &a.Output); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes "output" even when it is null, unless the attempt
// fails.
func (a Attempt) MarshalJSON() ([]byte, error) {
	if a.Error != nil {
		return json.Marshal(map[string]any{"error": a.Error})
	}
	return json.Marshal(map[string]any{"output": a.Output})
}

// attempt returns the answer of attempt n (from 1).
func (m Mock) attempt(n int32) Attempt {
	i := int(n) - 1
	if i >= len(m) {
		i = len(m) - 1
	}
	return m[max(i, 0)]
}
