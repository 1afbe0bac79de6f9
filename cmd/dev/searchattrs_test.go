package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// Production's start-up check (app.CheckSearchAttributes), which the api
// and worker commands run against a cluster such as `dev -temporal-only`,
// names every missing search attribute, the caller's included, with the
// command that creates it; with all of them it passes. It runs on an
// embedded server of its own, whose namespace lacks all but one attribute.
func TestCheckSearchAttributes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := devserver.Start(ctx, devserver.Options{
		SearchAttributes: map[string]enumspb.IndexedValueType{interpreter.SearchAttrDefinitionID: enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:           quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	err = app.CheckSearchAttributes(ctx, c, "default")
	if err == nil {
		t.Fatal("check passed without the caller and version attributes")
	}
	for _, name := range []string{interpreter.SearchAttrCaller, interpreter.SearchAttrDefinitionVersion} {
		if !strings.Contains(err.Error(), "temporal operator search-attribute create --namespace default --name "+name+" --type Keyword") {
			t.Errorf("error does not give the command for %s: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "--name "+interpreter.SearchAttrDefinitionID+" ") {
		t.Errorf("error asks for an attribute that exists: %v", err)
	}

	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range app.SearchAttributes {
		if name != interpreter.SearchAttrDefinitionID {
			missing[name] = typ
		}
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default", SearchAttributes: missing,
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for err = app.CheckSearchAttributes(ctx, c, "default"); err != nil; err = app.CheckSearchAttributes(ctx, c, "default") {
		if time.Now().After(deadline) {
			t.Fatalf("check fails with every attribute created: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
