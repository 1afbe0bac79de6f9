package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-backend/workflow-backend/interpreter"
	"github.com/workflow-backend/workflow-backend/workflows"
)

// The registration scenarios compare the shipped user-registration flow,
// whose respond node answers 201 as soon as the user is created, with the
// same graph without the respond node (as 1.0.0 shipped it), whose answer
// waits for the welcome email too. Both run the real nodes: the database
// check and insert on the bench's SQLite app database, bcrypt at the
// flow's cost, and the email through sendgrid-go to a local server that
// answers like SendGrid after emailDelay (a real SendGrid answers in
// 100 to 300 ms; locally it would take microseconds and hide the
// difference the respond node makes).

// waitingRegistration is the id the graph without a respond node is
// registered under.
const waitingRegistration = "bench-registration-waits"

// slowSendGrid answers every request like SendGrid's v3 mail/send (202, no
// body) after delay.
func slowSendGrid(delay time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		w.WriteHeader(http.StatusAccepted)
	}))
}

// waitingRegistrationDefinition is the shipped registration graph with its
// respond node removed and its edges joined again: create_user leads
// straight to welcome_email, so the answer comes when the email is sent.
func waitingRegistrationDefinition() ([]byte, error) {
	all, err := workflows.All()
	if err != nil {
		return nil, err
	}
	var doc []byte
	for _, s := range all {
		if s.ID == workflows.UserRegistration {
			doc = s.Document
		}
	}
	var def interpreter.Definition
	if err := json.Unmarshal(doc, &def); err != nil {
		return nil, err
	}
	var responder string
	var nodes []interpreter.Node
	for _, n := range def.Nodes {
		if n.Type == interpreter.RespondNodeType {
			responder = n.ID
			continue
		}
		nodes = append(nodes, n)
	}
	if responder == "" {
		return nil, fmt.Errorf("the shipped registration has no respond node")
	}
	var into, outOf string
	var edges []interpreter.Edge
	for _, e := range def.Edges {
		switch {
		case e.Target == responder:
			into = e.Source
		case e.Source == responder:
			outOf = e.Target
		default:
			edges = append(edges, e)
		}
	}
	def.ID, def.Nodes, def.Edges = waitingRegistration, nodes, append(edges, interpreter.Edge{Source: into, Target: outOf})
	return json.Marshal(def)
}

// registration posts one registration with a fresh email, to the shipped
// route (respond) or to execute of the graph without a respond node, and
// checks the answer.
func (b *bench) registration(respond bool) func(context.Context) error {
	return func(ctx context.Context) error {
		input := map[string]any{"email": "bench-" + uuid.NewString() + "@example.com", "password": "analytical1", "name": "Bench"}
		url, body, want := b.eagerAPI.URL+"/api/users/register", any(input), http.StatusCreated
		if !respond {
			url, body, want = b.eagerAPI.URL+"/api/workflows/"+waitingRegistration+"/execute", map[string]any{"input": input}, http.StatusOK
		}
		if err := postJSON(ctx, b.http, url, body, want); err != nil {
			return err
		}
		b.completed.Add(1)
		return nil
	}
}
