package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/devserver"
	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// TestRestartKeepsExecutions runs the dev command as a user does, starts an
// execution that sits in a 4-second wait node, kills the process with
// SIGKILL, starts it again on the same DATA_DIR and checks that the
// definition is still registered and the execution finishes.
func TestRestartKeepsExecutions(t *testing.T) {
	t.Parallel() // each test runs processes of its own, on ports and a DATA_DIR of its own
	if testing.Short() {
		t.Skip("runs the dev command")
	}
	d := newDevEnv(t, "LOG_LEVEL=warn")
	env, api := d.env, d.api

	first := startDev(t, env, api)
	def := `{"id":"nap","version":"1","startNode":"nap",
		"nodes":[{"id":"nap","type":"wait","config":{"duration":"4s"}},
		         {"id":"done","type":"transform","config":{"mapping":{"ok":"true"}}}],
		"edges":[{"source":"nap","target":"done"}]}`
	if status, body := call(t, "POST", api+"/api/workflows", def); status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, body)
	}
	status, body := call(t, "POST", api+"/api/workflows/nap/execute?wait=0", `{"input":{}}`)
	if status != http.StatusAccepted {
		t.Fatalf("execute: %d %s", status, body)
	}
	var started struct {
		Data struct{ ExecutionID string } `json:"data"`
	}
	if err := json.Unmarshal(body, &started); err != nil || started.Data.ExecutionID == "" {
		t.Fatalf("execute body %s: %v", body, err)
	}
	// Kill it while the timer runs: no graceful shutdown.
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	startDev(t, env, api)
	if status, body := call(t, "GET", api+"/api/workflows/nap", ""); status != http.StatusOK {
		t.Fatalf("definition after restart: %d %s", status, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body := call(t, "GET", api+"/api/executions/"+started.Data.ExecutionID, "")
		var got struct {
			Data struct {
				Status string          `json:"status"`
				Output json.RawMessage `json:"output"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &got)
		if status == http.StatusOK && got.Data.Status == "completed" {
			if !bytes.Contains(got.Data.Output, []byte(`"ok":true`)) {
				t.Errorf("output after restart = %s", got.Data.Output)
			}
			return
		}
		if got.Data.Status != "" && got.Data.Status != "running" {
			t.Fatalf("execution ended %q: %s", got.Data.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution still not completed after restart: %d %s", status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// devEnv is the environment of one dev process on free ports: where its
// API and Temporal frontend listen.
type devEnv struct {
	env          []string
	api          string // http://127.0.0.1:PORT
	temporalAddr string
}

// newDevEnv places a dev process on free ports and a fresh DATA_DIR, with
// extra variables (NAME=value) added.
func newDevEnv(t *testing.T, extra ...string) devEnv {
	t.Helper()
	port := freePort(t)
	d := devEnv{api: fmt.Sprintf("http://127.0.0.1:%d", port), temporalAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	d.env = append(os.Environ(),
		"DATA_DIR="+t.TempDir(),
		fmt.Sprintf("PORT=%d", port),
		"TEMPORAL_ADDRESS="+d.temporalAddr,
		fmt.Sprintf("TEMPORAL_UI_PORT=%d", freePort(t)),
		runAsDev+"=1",
	)
	d.env = append(d.env, extra...)
	return d
}

// runAsDev, set in a process's environment, makes this test binary the dev
// command: the tests run the same main as the built binary without linking
// a second copy of the embedded Temporal server.
const runAsDev = "WORKFLOW_BACKEND_TEST_RUN_AS_DEV"

// devBinary is the program that runs the dev command: this test binary.
func devBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	if os.Getenv(runAsDev) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := devserver.GetFreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startDev starts the dev command and waits until its API reports healthy.
func startDev(t *testing.T, env []string, api string) *exec.Cmd {
	t.Helper()
	cmd, _ := startDevLogging(t, env, api)
	return cmd
}

// startDevLogging is startDev that also returns the process's output.
func startDevLogging(t *testing.T, env []string, api string) (*exec.Cmd, *testenv.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(devBinary(t))
	cmd.Env = env
	out := &testenv.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("dev output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(api + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, out
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("dev mode not healthy after 90s")
	return nil, nil
}

func call(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}
