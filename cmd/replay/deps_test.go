package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoAPIOrProviders: replay learns the node kinds from the list of
// node types (package activities), not from the process wiring of
// internal/app, so it links no HTTP framework, token verifier, payment or
// mail provider: a smaller binary, and no secrets' code next to histories.
func TestLinksNoAPIOrProviders(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/workflow-backend/workflow-backend/"
	forbidden := []string{
		"github.com/labstack/echo",
		"github.com/coreos/go-oidc",
		"github.com/stripe/stripe-go",
		"github.com/sendgrid/sendgrid-go",
		module + "api",
		module + "internal/payments",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("replay links %s", dep)
			}
		}
		if dep == module+"internal/app" {
			t.Errorf("replay links %s (the whole process wiring)", dep)
		}
	}
}
