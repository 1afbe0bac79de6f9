package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/workflow-backend/workflow-backend/api/apitest"
)

// TestGraphPage opens the graph page in headless Chromium (Debian's
// chromium package; skipped when none is installed) over the real API and
// Temporal server, and reads what it drew: the data-status of each node
// and the data-state of each edge, for examples/approval.json
//
//   - running: the signal wait shows "waiting";
//   - completed: the page's signal form sends "approve", and polling shows
//     the approved branch completed and the others skipped;
//   - failed: a request the validation refuses fails check_request, every
//     later node is skipped;
//   - compensated: the page's cancel button cancels the wait, whose error
//     edge runs the withdrawal branch.
//
// It also checks that the page loaded nothing the content security policy
// refused and threw nothing. Screenshots go to the test's artifact
// directory; with UPDATE_SCREENSHOTS=1 the compensated execution's page is
// written to docs/graph-page.png (the README's picture).
func TestGraphPage(t *testing.T) {
	browser := chromiumPath()
	if browser == "" {
		t.Skip("no Chromium installed (Debian: apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	defID := uniqueID("graph-approval")
	register(t, approvalDefinition(t, defID), http.StatusCreated)

	b := newBrowser(t, browser)
	shots := t.ArtifactDir()

	t.Run("home and definition", func(t *testing.T) {
		b.open(t, "/ui/")
		b.waitFor(t, `#definitions a[href$="/ui/workflows/`+defID+`"]`)
		if hidden := b.bool(t, `document.getElementById("key-form").hidden`); !hidden {
			t.Error("the key form is shown on an API without keys")
		}
		b.open(t, "/ui/workflows/"+defID)
		b.waitGraph(t, map[string]string{
			"node check_request": "none", "node wait_for_approval": "none", "node approved": "none",
			"node expired": "none", "node withdrawn": "none",
			"edge to_wait": "none", "edge on_approve": "none", "edge on_timeout": "none", "edge on_cancel": "none",
		})
		labels := b.string(t, `[...document.querySelectorAll(".edge-label")].map(e => e.textContent).sort().join("|")`)
		if labels != "24 h passed · on timeout|approve signal|canceled · on error" {
			t.Errorf("edge labels %q", labels)
		}
		// Left to right: the start node is left of the wait, the wait left of its targets.
		xs := b.string(t, `["check_request","wait_for_approval","withdrawn"].map(id =>
			document.querySelector('[data-node-id="'+id+'"] rect').getAttribute("x")).join(",")`)
		var a, w, c float64
		if _, err := fmt.Sscanf(xs, "%g,%g,%g", &a, &w, &c); err != nil || !(a < w && w < c) {
			t.Errorf("nodes not laid out left to right: x = %s", xs)
		}
		b.screenshot(t, filepath.Join(shots, "definition.png"))
	})

	t.Run("running then completed through the signal form", func(t *testing.T) {
		id := startApproval(t, defID, 250)
		b.open(t, "/ui/executions/"+id)
		b.waitGraph(t, map[string]string{
			"execution":          "running",
			"node check_request": "completed", "node wait_for_approval": "waiting",
			"node approved": "pending", "node expired": "pending", "node withdrawn": "pending",
			"edge to_wait": "fired", "edge on_approve": "undecided", "edge on_timeout": "undecided", "edge on_cancel": "undecided",
		})
		b.screenshot(t, filepath.Join(shots, "running.png"))

		b.run(t, chromedp.SendKeys(chromedp.CSS("#signal-name"), "approve"),
			chromedp.SendKeys(chromedp.CSS("#signal-payload"), `{"by": "ann"}`),
			chromedp.Click(chromedp.CSS(`#signal-form button[type="submit"]`)))
		b.waitGraph(t, map[string]string{
			"execution":          "completed",
			"node check_request": "completed", "node wait_for_approval": "completed",
			"node approved": "completed", "node expired": "skipped", "node withdrawn": "skipped",
			"edge to_wait": "fired", "edge on_approve": "fired", "edge on_timeout": "dead", "edge on_cancel": "dead",
		})
		if got := getExecution(t, id); got.Status != "completed" || !strings.Contains(string(got.Output), `"approvedBy":"ann"`) {
			t.Errorf("execution after the page's signal: %s %s", got.Status, got.Output)
		}
		// The side panel of a node.
		b.run(t, chromedp.Click(chromedp.CSS(`[data-node-id="approved"]`)))
		b.waitFor(t, `#panel dd[data-field="status"]`)
		if s := b.string(t, `document.querySelector('#panel dd[data-field="status"]').textContent`); s != "completed" {
			t.Errorf("side panel status %q", s)
		}
		if href := b.string(t, `document.querySelector('#panel a').href`); !strings.HasPrefix(href, testUIBase) {
			t.Errorf("side panel Web UI link %q", href)
		}
		b.screenshot(t, filepath.Join(shots, "completed.png"))
	})

	t.Run("failed", func(t *testing.T) {
		id := startApproval(t, defID, 0) // the validation wants an amount of at least 0.01
		waitFor(t, id, statusIs("failed"))
		b.open(t, "/ui/executions/"+id)
		b.waitGraph(t, map[string]string{
			"execution":          "failed",
			"node check_request": "failed", "node wait_for_approval": "skipped",
			"node approved": "skipped", "node expired": "skipped", "node withdrawn": "skipped",
			"edge to_wait": "dead", "edge on_approve": "dead", "edge on_timeout": "dead", "edge on_cancel": "dead",
		})
		b.run(t, chromedp.Click(chromedp.CSS(`[data-node-id="check_request"]`)))
		b.waitFor(t, `#panel dd[data-field="error"]`)
		b.screenshot(t, filepath.Join(shots, "failed.png"))
	})

	t.Run("compensated through the cancel button", func(t *testing.T) {
		id := startApproval(t, defID, 80)
		b.open(t, "/ui/executions/"+id)
		b.waitGraph(t, map[string]string{"execution": "running", "node wait_for_approval": "waiting"})
		b.run(t, chromedp.Click(chromedp.CSS("#cancel")))
		b.waitGraph(t, map[string]string{
			"execution":          "canceled",
			"node check_request": "completed", "node wait_for_approval": "failed",
			"node approved": "skipped", "node expired": "skipped", "node withdrawn": "completed",
			"edge to_wait": "fired", "edge on_approve": "dead", "edge on_timeout": "dead", "edge on_cancel": "fired",
		})
		b.run(t, chromedp.Click(chromedp.CSS(`[data-node-id="withdrawn"]`)))
		b.waitFor(t, `#panel dd[data-field="status"]`)
		path := filepath.Join(shots, "compensated.png")
		b.screenshot(t, path)
		if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
			png, err := os.ReadFile(path)
			if err == nil {
				err = os.WriteFile(filepath.Join("..", "..", "docs", "graph-page.png"), png, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("API keys", func(t *testing.T) {
		base := keyedAPI(t, nil)
		r := callAt(t, base, http.MethodPost, "/api/workflows/"+defID+"/execute",
			map[string]any{"input": map[string]any{"amount": 5, "reason": "new chair"}}, append(bearer(aliceKey), "Prefer", "respond-async")...)
		apitest.Expect(t, r, http.StatusAccepted, "")
		var res executeResponse
		r.DecodeData(t, &res)

		// The page is public; its data is not: it asks for a key.
		b.run(t, chromedp.Navigate(base+"/ui/executions/"+res.ExecutionID))
		b.run(t, chromedp.WaitVisible(chromedp.CSS("#key-form")))
		b.run(t, chromedp.SendKeys(chromedp.CSS("#key-input"), aliceKey),
			chromedp.Click(chromedp.CSS(`#key-form button[type="submit"]`)))
		b.waitGraph(t, map[string]string{"execution": "running", "node wait_for_approval": "waiting"})
		if href := b.string(t, "location.href"); strings.Contains(href, aliceKey) {
			t.Errorf("the key is in the URL: %s", href)
		}
		// Kept for the tab: the home page lists alice's execution without asking again.
		b.run(t, chromedp.Navigate(base+"/ui/"))
		b.waitFor(t, `#executions tr[data-execution-id="`+res.ExecutionID+`"]`)

		// Another client's key reads nothing of alice's execution.
		b.bool(t, `sessionStorage.setItem("workflow-backend.apiKey", "`+bobKey+`"), true`)
		b.run(t, chromedp.Navigate(base+"/ui/executions/"+res.ExecutionID))
		b.waitGraph(t, map[string]string{"message": "execution_not_found: no execution \"" + res.ExecutionID + "\""})
		if n := b.string(t, `String(document.querySelectorAll("[data-node-id]").length)`); n != "0" {
			t.Errorf("%s nodes drawn for another client's execution", n)
		}
		apitest.Expect(t, callAt(t, base, http.MethodPost, "/api/executions/"+res.ExecutionID+"/cancel", nil, bearer(aliceKey)...), http.StatusAccepted, "")
	})

	b.checkConsole(t)
	t.Logf("screenshots in %s", shots)
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// approvalDefinition is examples/approval.json under another id.
func approvalDefinition(t *testing.T, id string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	delete(def, "$schema")
	def["id"] = id
	return def
}

// startApproval starts the approval definition without waiting for it.
func startApproval(t *testing.T, defID string, amount float64) string {
	t.Helper()
	r := execute(t, defID, "", map[string]any{"input": map[string]any{"amount": amount, "reason": "new laptop"}}, "Prefer", "respond-async")
	apitest.Expect(t, r, http.StatusAccepted, "")
	var res executeResponse
	r.DecodeData(t, &res)
	return res.ExecutionID
}

// browser is one headless Chromium tab and what its console reported.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 600),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser, with no timeout (one would stop it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	b := &browser{ctx: ctx}
	// Errors and exceptions the page's console gets: a resource the content
	// security policy refused, a failed load, a script error.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The API's refusals (401 without a key, 404 for another
			// client's execution) are logged as failed loads; the test
			// reads how the page shows them.
			apiRefusal := m.Source == "network" && strings.Contains(m.URL, "/api/")
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !apiRefusal {
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

const browserTimeout = 30 * time.Second

func (b *browser) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func evaluate[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

func (b *browser) open(t *testing.T, path string) {
	t.Helper()
	b.run(t, chromedp.Navigate(env.baseURL+path))
}

func (b *browser) waitFor(t *testing.T, selector string) {
	t.Helper()
	b.run(t, chromedp.WaitReady(chromedp.CSS(selector)))
}

func (b *browser) string(t *testing.T, js string) string {
	t.Helper()
	return evaluate[string](t, b, js)
}

func (b *browser) bool(t *testing.T, js string) bool {
	t.Helper()
	return evaluate[bool](t, b, js)
}

// drawnState reads the page: "node <id>" → data-status, "edge <id>" →
// data-state, "execution" → the execution's status.
const drawnState = `(() => {
  const out = {};
  for (const n of document.querySelectorAll("[data-node-id]")) out["node " + n.dataset.nodeId] = n.dataset.status;
  for (const e of document.querySelectorAll("[data-edge-id]")) out["edge " + e.dataset.edgeId] = e.dataset.state;
  const x = document.getElementById("execution-status");
  if (x) out.execution = x.dataset.status;
  const m = document.getElementById("message");
  if (m && !m.hidden) out.message = m.textContent;
  return out;
})()`

// waitGraph reads the page until every entry of want is drawn as wanted
// (the page polls the API every second), and fails with what it last read.
func (b *browser) waitGraph(t *testing.T, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		got := evaluate[map[string]string](t, b, drawnState)
		matches := true
		for k, v := range want {
			if got[k] != v {
				matches = false
			}
		}
		if matches {
			return
		}
		if time.Now().After(deadline) {
			var diff []string
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if got[k] != want[k] {
					diff = append(diff, fmt.Sprintf("%s: %q, want %q", k, got[k], want[k]))
				}
			}
			t.Fatalf("the page does not show %v\n%s\nread: %v", want, strings.Join(diff, "\n"), got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkConsole fails the test for anything the page's console reported:
// a refused resource (content security policy), a failed load, an
// exception.
func (b *browser) checkConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("the browser reported: %s", p)
	}
}
