// Package workflows holds the pre-configured graph definitions the API serves
// on their own routes (POST /api/users/register, POST /api/orders/process).
// They are ordinary definitions: registered at start-up like any other, shown
// in GET /api/workflows, run by the same interpreter.
//
// A definition's (id, version) is immutable once registered: change a file,
// change its version, or start-up fails with a conflict.
package workflows

import (
	"embed"
	"encoding/json"
	"fmt"
)

// Ids of the pre-configured flows.
const (
	UserRegistration = "user-registration"
	OrderProcessing  = "order-processing"
)

//go:embed user-registration.json order-processing.json
var files embed.FS

// Flow is one pre-configured definition.
type Flow struct {
	ID       string
	Version  string
	Document []byte // the JSON file as written
}

// All returns the pre-configured flows in a fixed order.
func All() ([]Flow, error) {
	var flows []Flow
	for _, id := range []string{UserRegistration, OrderProcessing} {
		doc, err := files.ReadFile(id + ".json")
		if err != nil {
			return nil, err
		}
		var head struct{ ID, Version string }
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("workflows/%s.json: %w", id, err)
		}
		if head.ID != id || head.Version == "" {
			return nil, fmt.Errorf("workflows/%s.json: id %q, version %q", id, head.ID, head.Version)
		}
		flows = append(flows, Flow{ID: head.ID, Version: head.Version, Document: doc})
	}
	return flows, nil
}
