//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// taskQueue is the processes' TASK_QUEUE (the default); I/O nodes run on
// taskQueue + interpreter.IOTaskQueueSuffix.
var taskQueue = config.Defaults().TaskQueue

// system is the whole deployment under test, on loopback: the Temporal
// server (dev -temporal-only) on a Postgres cluster of its own, a second
// Postgres cluster for the app database, two workers and the API (API_WORKER=false,
// so every workflow task runs on the workers), with Stripe and SendGrid
// played by servers inside the test process.
type system struct {
	dir string
	pg  *postgres // the app database
	// temporalPG holds the Temporal server's databases (temporal and
	// temporal_visibility): a cluster apart, so that stopping the app
	// database (scenario 6) does not stop Temporal, and the other way
	// round (scenario 8).
	temporalPG *postgres
	db         *sqlx.DB // the test's own connection to the app database
	stripe     *testenv.StripeServer
	sendgrid   *testenv.SendGrid
	temporal   *process
	api        *process
	workers    []*process
	apiURL     string
	tc         client.Client
	http       *http.Client
}

// newSystem builds the binaries and starts everything; it is all stopped
// when the test ends, and the processes' logs are printed if it failed.
func newSystem(t *testing.T) *system {
	t.Helper()
	s := &system{dir: t.TempDir(), http: &http.Client{Timeout: 90 * time.Second}}
	bin := buildBinaries(t, filepath.Join(s.dir, "bin"), "./cmd/dev", "./cmd/api", "./cmd/worker")

	s.pg = startPostgres(t)
	s.temporalPG = startPostgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, s.pg.url()) // runs the migrations before the processes start
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s.db = st.DB()
	s.stripe = testenv.NewStripeServer(t)
	s.stripe.Idempotent()
	s.sendgrid = testenv.NewSendGrid(t, "SG.faults-test-key")

	temporalAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	apiPort := freePort(t)
	s.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	common := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"LOG_LEVEL=info",
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"TASK_QUEUE=" + taskQueue,
		"DATABASE_URL=" + s.pg.url(),
		// The payload codec (issue 4) makes api and worker refuse to start
		// without a key; set one already.
		"PAYLOAD_KEYS=faults=" + base64.StdEncoding.EncodeToString(key),
	}
	with := func(extra ...string) []string { return append(append([]string(nil), common...), extra...) }

	s.temporal = &process{
		name: "temporal", path: filepath.Join(bin, "dev"), args: []string{"-temporal-only"},
		// The server keeps its state in Postgres, as a production
		// cluster does (dev mode's default is SQLite).
		env: with("DATA_DIR="+filepath.Join(s.dir, "temporal"),
			"TEMPORAL_DB_URL="+s.temporalPG.databaseURL("temporal"),
			fmt.Sprintf("TEMPORAL_UI_PORT=%d", freePort(t))),
		logPath: filepath.Join(s.dir, "temporal.log"),
	}
	s.api = &process{
		name: "api", path: filepath.Join(bin, "api"),
		env: with("HOST=127.0.0.1", fmt.Sprintf("PORT=%d", apiPort), "API_WORKER=false",
			"DATA_DIR="+filepath.Join(s.dir, "api"), "PAYMENTS_PROVIDER=stripe"),
		logPath: filepath.Join(s.dir, "api.log"),
	}
	for i := range 2 {
		name := fmt.Sprintf("worker-%d", i+1)
		s.workers = append(s.workers, &process{
			name: name, path: filepath.Join(bin, "worker"),
			env: with("DATA_DIR="+filepath.Join(s.dir, name),
				"PAYMENTS_PROVIDER=stripe", "STRIPE_SECRET_KEY="+testenv.StripeTestKey, "STRIPE_API_BASE="+s.stripe.URL,
				"SENDGRID_API_KEY="+s.sendgrid.APIKey, "SENDGRID_API_BASE="+s.sendgrid.URL,
				"EMAIL_FROM=shop@example.com"),
			logPath: filepath.Join(s.dir, name+".log"),
		})
	}
	t.Cleanup(func() {
		for _, p := range s.all() {
			p.kill9(t)
		}
		if t.Failed() {
			for _, p := range s.all() {
				t.Logf("---- %s log (last 150 lines) ----\n%s", p.name, tailLog(p.logPath, 150))
			}
			t.Logf("---- postgres log (last 50 lines) ----\n%s", tailLog(s.pg.logPath, 50))
			t.Logf("---- Temporal's postgres log (last 50 lines) ----\n%s", tailLog(s.temporalPG.logPath, 50))
		}
	})

	s.tc, err = client.NewLazyClient(client.Options{HostPort: temporalAddr, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.tc.Close)
	s.startTemporal(t)
	s.api.start(t)
	s.waitAPI(t)
	for _, w := range s.workers {
		s.startWorker(t, w)
	}
	return s
}

func (s *system) all() []*process {
	return append([]*process{s.api, s.temporal}, s.workers...)
}

// buildBinaries builds the given commands of this module (./cmd/dev, …)
// into dir.
func buildBinaries(t *testing.T, dir string, cmds ...string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, cmds...)...)
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", strings.Join(cmds, ", "), time.Since(start).Round(time.Second))
	return dir
}

// startTemporal starts the Temporal server process and waits until the
// namespace has the search attributes the API needs.
func (s *system) startTemporal(t *testing.T) {
	t.Helper()
	// dev -temporal-only prints its banner once the namespace is ready in
	// every service's cache: on a new Postgres database the search
	// attributes are listed before the frontend's cache has them, and a
	// start naming one would be refused. The log is appended to across
	// restarts: wait for one banner more.
	banners := countInLog(s.temporal.logPath, readyBanner)
	s.temporal.start(t)
	waitFor(t, 90*time.Second, "the Temporal server's banner", func() error {
		if !s.temporal.running() {
			t.Fatalf("the Temporal server exited:\n%s", tailLog(s.temporal.logPath, 50))
		}
		if countInLog(s.temporal.logPath, readyBanner) <= banners {
			return errors.New("not ready yet")
		}
		return nil
	})
	waitFor(t, 90*time.Second, "the Temporal server", func() error {
		if !s.temporal.running() {
			t.Fatalf("the Temporal server exited:\n%s", tailLog(s.temporal.logPath, 50))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := s.tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
		if err != nil {
			return err
		}
		if _, ok := resp.GetCustomAttributes()[interpreter.SearchAttrDefinitionID]; !ok {
			return fmt.Errorf("no %s search attribute yet", interpreter.SearchAttrDefinitionID)
		}
		return nil
	})
}

// readyBanner is the line dev -temporal-only prints when it serves.
const readyBanner = "workflow-backend dev mode: Temporal server only"

// countInLog counts the lines of the log at path that contain text.
func countInLog(path, text string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), text)
}

// waitAPI waits until the API answers /health with 200.
func (s *system) waitAPI(t *testing.T) {
	t.Helper()
	waitFor(t, 60*time.Second, "the API's /health", func() error {
		if !s.api.running() {
			t.Fatalf("the API exited:\n%s", tailLog(s.api.logPath, 50))
		}
		resp, err := s.http.Get(s.apiURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s %s", resp.Status, body)
		}
		return nil
	})
}

// startWorker starts a worker and waits until Temporal sees it polling
// both task queues (its identity starts with its pid).
func (s *system) startWorker(t *testing.T, w *process) {
	t.Helper()
	w.start(t)
	prefix := fmt.Sprintf("%d@", w.pid())
	waitFor(t, 60*time.Second, w.name+" polling", func() error {
		if !w.running() {
			t.Fatalf("%s exited:\n%s", w.name, tailLog(w.logPath, 50))
		}
		for _, q := range []struct {
			name string
			typ  enumspb.TaskQueueType
		}{{taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW}, {taskQueue + interpreter.IOTaskQueueSuffix, enumspb.TASK_QUEUE_TYPE_ACTIVITY}} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			resp, err := s.tc.DescribeTaskQueue(ctx, q.name, q.typ)
			cancel()
			if err != nil {
				return err
			}
			found := false
			for _, p := range resp.GetPollers() {
				found = found || strings.HasPrefix(p.GetIdentity(), prefix)
			}
			if !found {
				return fmt.Errorf("no poller %s* on %s", prefix, q.name)
			}
		}
		return nil
	})
}

// waitFor polls check until it returns nil, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apiCall sends a JSON request to the API and decodes the envelope's data.
func (s *system) apiCall(method, path string, body any, header http.Header) (int, json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.apiURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
