//go:build faults

package faults

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

// Class names, as the table in docs/reliability.md lists them.
const (
	classExpr     = "1 expression memory and CPU"
	classSQL      = "2 SQL reaching the file system"
	classCSRF     = "3 cross-site requests"
	classEdges    = "4 registration cost"
	classHistory  = "5 history size"
	classLeak     = "6 internal error text"
	classRuleExpr = "7 validation rule errors"
	classIPv6     = "8 outbound IPv4 in IPv6"
)

var defSeq atomic.Int64

// transformDef is a one-node definition whose transform maps "x" to expr.
func transformDef(expr string) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "t",
		"nodes": []any{map[string]any{"id": "t", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": expr}}}},
		"edges": []any{},
	}
}

func hostileCases() []hostileCase {
	big := bigString("abcdefgh", 400<<10) // 400 KB, as in the attack
	expr := func(name, src string) hostileCase {
		return hostileCase{class: classExpr, name: name, want: []string{"422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				return d.run(t, transformDef(src), map[string]any{"s": big})
			}}
	}
	cases := []hostileCase{
		expr("replace with an empty pattern", "input.s.replace('', input.s)"),
		expr("join with a long separator", "lists.range(1000).map(i, 'a').join(input.s)"),
		expr("string doubling through bindings", testenv.DoublingExpr("input.s", 20, "size(v20)")),
		expr("lazy list doubling sized into a range", testenv.DoublingExpr("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "size(lists.range(size(v40)))")),
		expr("lazy list doubling iterated", testenv.DoublingExpr("[1, 2, 3, 4, 5, 6, 7, 8]", 40, "0 in v40")),
		expr("shared references converted", "lists.range(1000).map(i, input.s)"),
		{class: classExpr, name: "format with a huge precision", want: []string{"registration: 400 invalid_definition"},
			run: func(t *testing.T, d *devProc) string {
				return d.run(t, transformDef("'%.999999999f'.format([1.0])"), map[string]any{})
			}},
		expr("hashPassword in a comprehension", "lists.range(400).map(i, hashPassword('hostile-password'))"),
		expr("json.encode of shared references", "json.encode(lists.range(1000).map(i, input.s))"),
		expr("quote of a quote", "strings.quote(strings.quote(strings.quote(strings.quote(strings.quote(input.s.replace('a', '\\\\'))))))"),
		expr("base64 of base64", "base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(base64.encode(bytes(input.s))))))))))"),
		expr("split into runes", "size(input.s.split(''))"),
		expr("a huge range", "size(lists.range(100000000))"),
		expr("sets on big lists", "sets.contains(lists.range(5000), lists.range(5000))"),
		expr("distinct on a big list", "size(lists.range(5000).distinct())"),
		expr("nested list literals compared", testenv.SharingExpr(12, "v12 == v12")),
		expr("nested literals encoded", testenv.SharingExpr(12, "size(json.encode(v12))")),
		{class: classExpr, name: "amplifier in an edge condition", want: []string{"422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				def := transformDef("1")
				def["nodes"] = append(def["nodes"].([]any), map[string]any{"id": "u", "type": "transform", "config": map[string]any{"mapping": map[string]any{"y": "2"}}})
				def["edges"] = []any{map[string]any{"source": "t", "target": "u", "condition": "size(input.s.replace('', input.s)) > 0"}}
				return d.run(t, def, map[string]any{"s": big})
			}},
		{class: classExpr, name: "amplifier in the output mapping", want: []string{"422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				def := transformDef("1")
				def["output"] = map[string]any{"z": "lists.range(1000).map(i, 'a').join(input.s)"}
				return d.run(t, def, map[string]any{"s": big})
			}},
	}

	cases = append(cases, sqlCases()...)
	cases = append(cases, csrfCases()...)
	cases = append(cases, edgeCases()...)
	cases = append(cases, historyCases()...)
	cases = append(cases, leakCases()...)
	cases = append(cases, hostileCase{class: classRuleExpr, name: "division by zero in an expr rule", want: []string{"422 execution_failed"},
		run: func(t *testing.T, d *devProc) string {
			def := map[string]any{
				"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "v",
				"nodes": []any{map[string]any{"id": "v", "type": "validation", "config": map[string]any{"rules": []any{
					map[string]any{"field": "n", "operator": "expr", "value": "int(value) / 0 > 1"}}}}},
				"edges": []any{},
			}
			return d.run(t, def, map[string]any{"n": 3})
		}})
	cases = append(cases, ipv6Cases()...)
	return cases
}

// sqlCases register database_query nodes on the app's SQLite database with
// statements that reach the file system or another database; registration
// must refuse them and no file may appear.
func sqlCases() []hostileCase {
	var cases []hostileCase
	for _, c := range []struct{ name, query string }{
		{"VACUUM INTO", "VACUUM INTO '%s'"},
		{"ATTACH DATABASE", "ATTACH DATABASE '%s' AS stolen"},
		{"mixed case and a comment", "/* report */ VaCuUm   InTo '%s'"},
		{"a second statement", "SELECT 1; ATTACH DATABASE '%s' AS stolen"},
		{"PRAGMA that writes", "PRAGMA writable_schema = ON -- %s"},
		{"load_extension", "SELECT load_extension('%s')"},
		{"load_extension quoted", `SELECT "load_extension"('%s')`},
		{"DETACH", "DETACH DATABASE main -- %s"},
		{"a trigger", "CREATE TEMP TRIGGER t AFTER INSERT ON users BEGIN SELECT 1; END -- %s"},
		{"raw pages", "INSERT INTO sqlite_dbpage VALUES (1, zeroblob(4096)) -- %s"},
		{"COPY to a file", "COPY users TO '%s'"},
		{"large object export", "SELECT lo_export(1, '%s')"},
	} {
		cases = append(cases, hostileCase{class: classSQL, name: c.name, want: []string{"400 invalid_definition"},
			run: func(t *testing.T, d *devProc) string {
				target := filepath.Join(t.TempDir(), "stolen.db")
				def := map[string]any{
					"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "q",
					"nodes": []any{map[string]any{"id": "q", "type": "database_query", "config": map[string]any{
						"connection": "app", "mode": "exec", "query": fmt.Sprintf(c.query, target)}}},
					"edges": []any{},
				}
				got, _ := d.register(t, def)
				if got == "201" {
					got, _ = d.execute(t, def["id"].(string), map[string]any{})
				}
				if _, err := os.Stat(target); err == nil {
					return "file written: " + got
				}
				return got
			}})
	}
	return cases
}

// csrfCases are requests a web page can make a browser send to the API
// without a CORS preflight.
func csrfCases() []hostileCase {
	def := `{"id":"csrf","version":"1","startNode":"t","nodes":[{"id":"t","type":"transform","config":{"mapping":{"x":"1"}}}],"edges":[]}`
	post := func(name, path, body string, header http.Header, want string) hostileCase {
		return hostileCase{class: classCSRF, name: name, want: []string{want},
			run: func(t *testing.T, d *devProc) string {
				status, raw := d.call(t, http.MethodPost, path, body, header)
				return outcome(status, raw)
			}}
	}
	return []hostileCase{
		post("text/plain registration", "/api/workflows", def, http.Header{"Content-Type": {"text/plain"}}, "415 unsupported_media_type"),
		post("form-encoded flow", "/api/users/register", "email=a@example.com", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "415 unsupported_media_type"),
		post("foreign Origin", "/api/workflows", def, http.Header{"Origin": {"https://evil.example"}}, "403 origin_not_allowed"),
		post("cross-site fetch without Origin", "/api/workflows", def, http.Header{"Sec-Fetch-Site": {"cross-site"}}, "403 origin_not_allowed"),
		post("multipart form", "/api/workflows", "--x--", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, "415 unsupported_media_type"),
		post("sandboxed page", "/api/workflows", def, http.Header{"Origin": {"null"}}, "403 origin_not_allowed"),
		post("another local port", "/api/executions/x/cancel", "", http.Header{"Origin": {"http://localhost:5173"}}, "403 origin_not_allowed"),
	}
}

// edgeCases register graphs whose size used to cost registration
// quadratic time; the answer must come at once.
func edgeCases() []hostileCase {
	manyEdges := func(n int) map[string]any {
		edges := make([]any, n)
		for i := range edges {
			edges[i] = map[string]any{"source": "a", "target": "b"}
		}
		return map[string]any{
			"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "a",
			"nodes": []any{
				map[string]any{"id": "a", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": "1"}}},
				map[string]any{"id": "b", "type": "transform", "config": map[string]any{"mapping": map[string]any{"x": "1"}}},
			},
			"edges": edges,
		}
	}
	timed := func(name string, def map[string]any) hostileCase {
		return hostileCase{class: classEdges, name: name, want: []string{"400 invalid_definition", "413 payload_too_large"},
			run: func(t *testing.T, d *devProc) string {
				began := time.Now()
				got, _ := d.register(t, def)
				if took := time.Since(began); took > 5*time.Second {
					return fmt.Sprintf("%s after %v", got, took.Round(time.Second))
				}
				return got
			}}
	}
	return []hostileCase{
		timed("20,000 edges without ids", manyEdges(20_000)),
		timed("30,000 edges without ids", manyEdges(30_000)),
	}
}

// historyCases run long chains with a big input: every node used to carry
// the whole input in its history events.
func historyCases() []hostileCase {
	chain := func(mapping string) map[string]any {
		nodes := make([]any, 500)
		edges := make([]any, 499)
		for i := range nodes {
			nodes[i] = map[string]any{"id": fmt.Sprintf("n%d", i), "type": "transform", "execution": "remote",
				"config": map[string]any{"mapping": map[string]any{"x": mapping}}}
			if i > 0 {
				edges[i-1] = map[string]any{"source": fmt.Sprintf("n%d", i-1), "target": fmt.Sprintf("n%d", i)}
			}
		}
		return map[string]any{"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "n0", "nodes": nodes, "edges": edges}
	}
	input := map[string]any{"s": bigString("0123456789", 900<<10), "n": 1}
	return []hostileCase{
		{class: classHistory, name: "500 nodes reading a small field of a 900 KB input", want: []string{"200"},
			run: func(t *testing.T, d *devProc) string { return d.run(t, chain("input.n + 1"), input) }},
		{class: classHistory, name: "500 nodes reading the whole 900 KB input", want: []string{"413 history_budget_exceeded", "422 history_budget_exceeded"},
			run: func(t *testing.T, d *devProc) string { return d.run(t, chain("size(input.s)"), input) }},
	}
}

// leakCases make errors whose raw text would tell a caller about the
// server's network, database, or files; the answer must not carry it.
func leakCases() []hostileCase {
	leaks := func(body []byte, fragments ...string) string {
		for _, f := range fragments {
			if strings.Contains(string(body), f) {
				return "leaks " + f
			}
		}
		return ""
	}
	wd, _ := os.Getwd()
	return []hostileCase{
		{class: classLeak, name: "api_call to a name that does not resolve", want: []string{"422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				def := map[string]any{
					"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "c",
					"nodes": []any{map[string]any{"id": "c", "type": "api_call", "retry": map[string]any{"maximumAttempts": 1},
						"config": map[string]any{"method": "GET", "url": "'http://no-such-host.invalid/'"}}},
					"edges": []any{},
				}
				got, body := d.registerAndRun(t, def, map[string]any{})
				if l := leaks(body, "dial tcp", ":53", "lookup no-such-host.invalid on"); l != "" {
					return l
				}
				return got
			}},
		{class: classLeak, name: "SQL that does not parse", want: []string{"400 invalid_definition", "422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				def := map[string]any{
					"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "q",
					"nodes": []any{map[string]any{"id": "q", "type": "database_query", "retry": map[string]any{"maximumAttempts": 1},
						"config": map[string]any{"connection": "app", "mode": "many", "query": "SELEC * FROM users"}}},
					"edges": []any{},
				}
				got, body := d.register(t, def)
				if got == "201" {
					got, body = d.execute(t, def["id"].(string), map[string]any{})
				}
				if l := leaks(body, "SQL logic error", "near \"SELEC\""); l != "" {
					return l
				}
				return got
			}},
		{class: classLeak, name: "codec decode of garbage", want: []string{"400 invalid_payload"},
			run: func(t *testing.T, d *devProc) string {
				status, body := d.call(t, http.MethodPost, "/codec/decode", `{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA=="},"data":"Z2FyYmFnZQ=="}]}`, nil)
				if l := leaks(body, "proto:", "cipher:"); l != "" {
					return l
				}
				return outcome(status, body)
			}},
		{class: classLeak, name: "inputSchema with a broken reference", want: []string{"400 invalid_definition"},
			run: func(t *testing.T, d *devProc) string {
				def := transformDef("1")
				def["inputSchema"] = map[string]any{"$ref": "#/definitions/missing"}
				got, body := d.register(t, def)
				if l := leaks(body, "file://", wd); l != "" {
					return l
				}
				return got
			}},
	}
}

// ipv6Cases call a server on loopback through addresses that embed
// 127.0.0.1 in IPv6; the call must be refused with no connection made.
func ipv6Cases() []hostileCase {
	var cases []hostileCase
	for _, host := range []string{"[::127.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::127.0.0.1]", "[::7f00:1]", "[2002:7f00:1::1]", "[::ffff:7f00:1]"} {
		cases = append(cases, hostileCase{class: classIPv6, name: host, want: []string{"422 execution_failed"},
			run: func(t *testing.T, d *devProc) string {
				var conns atomic.Int32
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
				port := ln.Addr().(*net.TCPAddr).Port
				def := map[string]any{
					"id": fmt.Sprintf("hostile-%d", defSeq.Add(1)), "version": "1", "startNode": "c",
					"nodes": []any{map[string]any{"id": "c", "type": "api_call", "retry": map[string]any{"maximumAttempts": 1},
						"config": map[string]any{"method": "GET", "url": fmt.Sprintf("'http://%s:%d/'", host, port)}}},
					"edges": []any{},
				}
				got, body := d.registerAndRun(t, def, map[string]any{})
				if n := conns.Load(); n > 0 {
					return fmt.Sprintf("%d connections reached loopback", n)
				}
				// Without a route the dial fails anyway: the policy must
				// have refused the address before dialling.
				if !strings.Contains(string(body), "refused") {
					return got + " without the policy's refusal"
				}
				return got
			}})
	}
	return cases
}
