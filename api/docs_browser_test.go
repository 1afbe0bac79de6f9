package api

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDocsPageRendersInChromium opens /docs in headless Chromium, on an API
// that requires keys (the page must work without one) and with the page's
// content security policy, and checks that Redoc drew the document: the
// operations' summaries are in the DOM, and the browser reported no
// refused resource. Skipped when no Chromium is installed (Debian:
// apt-get install chromium).
func TestDocsPageRendersInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no Chromium installed")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	base := keyedAPI(t, nil, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=20000", "--dump-dom", base+"/docs")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, stderr.String())
	}
	dom := stdout.String()
	for _, want := range []string{"workflow-backend API", "Register a definition (admin)", "Start an execution and wait for its result", "Decode payloads (Temporal's remote codec protocol)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page drawn lacks %q; DOM:\n%.3000s", want, dom)
		}
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		// Redoc's sidebar footer always tries its logo from its CDN; the
		// policy blocks it and the image hides itself. Nothing else may be
		// fetched from elsewhere, or refused.
		if strings.Contains(line, redocFooterLogo) {
			continue
		}
		for _, bad := range []string{"Content Security Policy", "Refused to", "net::ERR_", "Uncaught"} {
			if strings.Contains(line, bad) {
				t.Errorf("the browser reported: %s", line)
			}
		}
	}
}

// redocFooterLogo is the one resource Redoc asks of another site.
const redocFooterLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
