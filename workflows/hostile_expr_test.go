package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// maxHostileHeapGrowth bounds how far the process's live heap (API, worker
// and Temporal server together) may grow during one hostile execution. The
// attack's inputs would allocate from megabytes over the limits to hundreds
// of gigabytes; what the guards let through is about 10 MB per evaluation,
// and the 400 KB input is copied a few times on its way through Temporal.
const maxHostileHeapGrowth = 128 << 20

// hostileDef is a definition for the hostile executions.
type hostileDef map[string]any

// transformDef is a one-node definition whose transform maps "x" to src.
func transformDef(src string) hostileDef {
	return hostileDef{"version": "1", "startNode": "n", "edges": []any{}, "nodes": []any{
		map[string]any{"id": "n", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": src}}},
	}}
}

// withSecondNode adds a transform "m" after "n" behind an edge whose
// condition is src.
func (d hostileDef) withSecondNode(condition string) hostileDef {
	d["nodes"] = append(d["nodes"].([]any), map[string]any{"id": "m", "type": "transform",
		"config": map[string]any{"mapping": map[string]any{"y": "2"}}})
	d["edges"] = []any{map[string]any{"source": "n", "target": "m", "condition": condition}}
	return d
}

func singleNode(node map[string]any) hostileDef {
	node["id"] = "n"
	return hostileDef{"version": "1", "startNode": "n", "edges": []any{}, "nodes": []any{node}}
}

// TestHostileExpressions runs expressions that used to allocate until the
// process died (or hold a core for minutes) through the real path: REST,
// Temporal, the node activities. Each execution fails with an expression
// error naming the limit, the process's heap stays bounded, /health answers
// 200 right after, and an ordinary execution still completes afterwards.
// A cancelled slow evaluation ends promptly.
//
// Unlike the package's other tests it does not call t.Parallel: it measures
// the heap and CPU of the whole process, so it runs while no other test does.
func TestHostileExpressions(t *testing.T) {
	e := newFlowEnv(t, testenv.Backends(t)[0].URL(t), "http://127.0.0.1:9", nil)
	big := strings.Repeat("abcdefgh", 400<<10/8) // 400 KB, as in the attack
	input, _ := json.Marshal(map[string]any{"input": map[string]any{"s": big}})

	manyKeys := map[string]any{}
	for i := range 500 {
		manyKeys[fmt.Sprintf("k%d", i)] = "input.s"
	}
	const value, cost = "EXPR_MAX_VALUE_BYTES", "EXPR_COST_LIMIT"
	cases := []struct {
		name string
		def  hostileDef
		want string // in the error
	}{
		{"transform: replace with an empty pattern", transformDef("input.s.replace('', input.s)"), value},
		{"transform: join with a long separator", transformDef("lists.range(1000).map(i, 'a').join(input.s)"), value},
		{"transform: string doubled through cel.bind", transformDef(testenv.DoublingExpr("input.s", 20, "size(v20)")), value},
		{"transform: list doubled through cel.bind and searched", transformDef(testenv.DoublingExpr("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "0 in v40")), cost},
		{"transform: shared literals compared", transformDef(testenv.SharingExpr(12, "v12 == v12")), cost},
		{"transform: shared references returned", transformDef("lists.range(1000).map(i, input.s)"), value},
		{"transform: a string copied per element", transformDef("lists.range(1000).map(i, input.s + 'x').size()"), cost},
		{"transform: sets on big lists", transformDef("sets.contains(lists.range(5000), lists.range(5000))"), cost},
		{"transform: a regular expression over a long text", transformDef("input.s.matches('[a-z]{1000}[a-z]{1000}[a-z]{1000}x')"), cost},
		{"transform: many keys sharing one big string", singleNode(map[string]any{"type": "transform",
			"config": map[string]any{"mapping": manyKeys}}), "the limit is 262144"},
		{"condition", singleNode(map[string]any{"type": "condition",
			"config": map[string]any{"expression": "size(input.s.replace('', input.s)) > 0"}}), value},
		{"validation target", singleNode(map[string]any{"type": "validation", "config": map[string]any{
			"target": "{'all': lists.range(1000).map(i, input.s)}",
			"rules":  []any{map[string]any{"field": "all", "operator": "required"}}}}), value},
		{"edge condition", transformDef("1").withSecondNode("size(lists.range(1000).map(i, 'a').join(input.s)) > 0"), value},
		{"output mapping", func() hostileDef {
			d := transformDef("1")
			d["output"] = map[string]any{"z": "input.s.replace('', input.s)"}
			return d
		}(), value},
		{"hashPassword in a comprehension", transformDef("lists.range(400).map(i, hashPassword('hostile-password'))"),
			"hashPassword: an evaluation may hash at most 4"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := e.registerHostile(t, fmt.Sprintf("t-hostile-expr-%d", i), c.def)
			var r reply
			start := time.Now()
			grew := testenv.HeapGrowth(func() { r = e.post(t, "/api/workflows/"+id+"/execute?wait=30s", string(input)) })
			t.Logf("%d in %v, heap +%d MB: %.400s", r.Status, time.Since(start).Round(time.Millisecond), grew>>20, r.Raw)
			if r.Status != http.StatusUnprocessableEntity || r.Error.Code != "execution_failed" {
				t.Fatalf("execute: %d %.600s, want 422 execution_failed", r.Status, r.Raw)
			}
			if !strings.Contains(r.Raw, c.want) {
				t.Errorf("the error does not say %q: %.600s", c.want, r.Raw)
			}
			if grew > maxHostileHeapGrowth {
				t.Errorf("the heap grew %d MB", grew>>20)
			}
			e.healthy(t)
		})
	}

	t.Run("OrdinaryExecutionAfterwards", func(t *testing.T) {
		id := e.registerHostile(t, "t-after-hostile", transformDef("size(input.s) + size(input.s.replace('a', 'bb'))"))
		r := e.post(t, "/api/workflows/"+id+"/execute", string(input))
		out, _ := r.Data.Output["n"].(map[string]any)
		if r.Status != http.StatusOK || out["x"] != float64(len(big)*2+len(big)/8) {
			t.Fatalf("execute: %d %.300s", r.Status, r.Raw)
		}
	})

	t.Run("CancelStopsASlowEvaluation", func(t *testing.T) {
		// Forty keys of four hashes each: about 35 s of one core if nothing
		// stops them (the node's timeout is a minute). A cancel reaches a
		// running local activity at the next workflow-task heartbeat (8 s
		// with the default 10 s workflow task timeout); the evaluation then
		// stops within one hash, and no hashing goes on in the background.
		mapping := map[string]any{}
		for i := range 40 {
			mapping[fmt.Sprintf("k%d", i)] = "[hashPassword('a'), hashPassword('b'), hashPassword('c'), hashPassword('d')]"
		}
		id := e.registerHostile(t, "t-cancel-hostile", singleNode(map[string]any{"type": "transform", "timeout": "60s",
			"config": map[string]any{"mapping": mapping}}))
		r := e.post(t, "/api/workflows/"+id+"/execute?wait=0", `{"input": {}}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("execute: %d %.300s", r.Status, r.Raw)
		}
		time.Sleep(time.Second)
		start := time.Now()
		if c := e.post(t, "/api/executions/"+r.executionID()+"/cancel", ""); c.Status != http.StatusAccepted && c.Status != http.StatusOK {
			t.Fatalf("cancel: %d %s", c.Status, c.Raw)
		}
		e.waitDone(t, r.executionID())
		took := time.Since(start)
		got := e.do(t, http.MethodGet, "/api/executions/"+r.executionID(), "")
		if got.Data.Status != "canceled" {
			t.Errorf("status %q, want canceled: %.300s", got.Data.Status, got.Raw)
		}
		cpu := cpuSeconds(func() { time.Sleep(1500 * time.Millisecond) })
		t.Logf("ended %v after the cancel; %.2f s of CPU in the 1.5 s after", took.Round(time.Millisecond), cpu)
		if took > 12*time.Second {
			t.Errorf("the execution ended %v after the cancel", took)
		}
		if cpu > 0.75 {
			t.Errorf("the process used %.2f s of CPU in the 1.5 s after the cancel: hashing goes on", cpu)
		}
		e.healthy(t)
	})
}

// cpuSeconds runs f and returns the CPU time (user and system) the
// process used meanwhile.
func cpuSeconds(f func()) float64 {
	used := func() float64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	before := used()
	f()
	return used() - before
}

// registerHostile registers def under an id of its own and returns the id.
func (e *flowEnv) registerHostile(t *testing.T, prefix string, def hostileDef) string {
	t.Helper()
	id := fmt.Sprintf("%s-%d", prefix, queueSeq.Add(1))
	def["id"] = id
	raw, _ := json.Marshal(def)
	if r := e.post(t, "/api/workflows", string(raw)); r.Status != http.StatusCreated {
		t.Fatalf("register: %d %.600s", r.Status, r.Raw)
	}
	return id
}

// healthy checks that /health answers 200.
func (e *flowEnv) healthy(t *testing.T) {
	t.Helper()
	resp, err := e.http.Get(e.api + "/health")
	if err != nil {
		t.Fatalf("/health: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
}
