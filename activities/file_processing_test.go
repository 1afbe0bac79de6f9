package activities

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/workflow-backend/workflow-backend/interpreter"
)

// newFileEnv returns a test activity environment running file_processing
// nodes under root.
func newFileEnv(t *testing.T, root string) *testsuite.TestActivityEnvironment {
	t.Helper()
	e := testExprs(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	f := &FileNodes{Activities: &Activities{Expr: e}, Root: root}
	f.RegisterIO(env, &IO{Files: f})
	return env
}

// writeFiles creates files (path relative to dir -> content).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runFile runs one file_processing node with the given config and input.
func runFile(t *testing.T, env *testsuite.TestActivityEnvironment, config, input string) (any, error) {
	t.Helper()
	res, err := execNode(t, env, nodeRequest(t, "f", TypeFileProcessing, config, input))
	return res.Output, err
}

const helloSHA256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" // sha256("hello\n")

func TestFileProcessingRead(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"data/users.csv":  "email,name\na@x.io,Ada\nb@x.io,\"Bob, Jr.\"\nc@x.io,Cy\n",
		"data/semi.csv":   "\uFEFF1;one\n2;two\n",
		"data/empty.csv":  "",
		"doc.json":        `{"a": 1, "b": [1, 2, {"c": null}], "c": "x"}`,
		"list.json":       ` [1, {"x": [2]}, "s"] `,
		"scalar.json":     `"hi"`,
		"hello.txt":       "hello\n",
		"dir/nested.json": `[]`,
	})
	env := newFileEnv(t, root)
	tests := []struct {
		name, config, input, want string
	}{
		{"csv with header", `{"operation": "parse_csv", "path": "input.file", "preview": 2}`, `{"file": "data/users.csv"}`,
			`{"path": "data/users.csv", "bytes": 50, "rows": 3, "columns": 2, "header": ["email", "name"],
			  "preview": [["a@x.io", "Ada"], ["b@x.io", "Bob, Jr."]]}`},
		{"csv without header, delimiter, byte order mark", `{"operation": "parse_csv", "path": "'data/semi.csv'", "header": false, "delimiter": ";"}`, `{}`,
			`{"path": "data/semi.csv", "bytes": 15, "rows": 2, "columns": 2, "header": null, "preview": [["1", "one"], ["2", "two"]]}`},
		{"empty csv", `{"operation": "parse_csv", "path": "'./data//empty.csv'", "preview": 0}`, `{}`,
			`{"path": "data/empty.csv", "bytes": 0, "rows": 0, "columns": 0, "header": [], "preview": []}`},
		{"json object", `{"operation": "parse_json", "path": "'doc.json'"}`, `{}`,
			`{"path": "doc.json", "bytes": 44, "type": "object", "length": 3, "keys": ["a", "b", "c"]}`},
		{"json array", `{"operation": "parse_json", "path": "'list.json'"}`, `{}`,
			`{"path": "list.json", "bytes": 22, "type": "array", "length": 3}`},
		{"json scalar", `{"operation": "parse_json", "path": "'scalar.json'"}`, `{}`,
			`{"path": "scalar.json", "bytes": 4, "type": "string"}`},
		{"checksum", `{"operation": "checksum", "path": "'hello.txt'"}`, `{}`,
			`{"path": "hello.txt", "bytes": 6, "sha256": "` + helloSHA256 + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runFile(t, env, tt.config, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, out, tt.want)
		})
	}
}

func TestFileProcessingWrite(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"exports/old.txt": "previous content that is longer"})
	env := newFileEnv(t, root)
	tests := []struct {
		name, config, input, path, content string
	}{
		{"string as is", `{"operation": "write", "path": "'hello.txt'", "content": "input.text"}`, `{"text": "hello\n"}`,
			"hello.txt", "hello\n"},
		{"value as JSON, directories created", `{"operation": "write", "path": "'exports/' + execution.id + '/r.json'", "content": "{'total': input.n * 2, 'ok': true}"}`,
			`{"n": 2}`, "exports/exec-1/r.json", `{"ok":true,"total":4}` + "\n"},
		{"string as JSON", `{"operation": "write", "path": "'s.json'", "content": "'hi'", "format": "json"}`, `{}`,
			"s.json", `"hi"` + "\n"},
		{"text", `{"operation": "write", "path": "'t.txt'", "content": "input.lines.join('\\n')", "format": "text"}`, `{"lines": ["a", "b"]}`,
			"t.txt", "a\nb"},
		{"replaces a file", `{"operation": "write", "path": "'exports/old.txt'", "content": "'new'"}`, `{}`,
			"exports/old.txt", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runFile(t, env, tt.config, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, tt.path))
			if err != nil || string(got) != tt.content {
				t.Fatalf("file = %q, %v; want %q", got, err, tt.content)
			}
			// The written file checksums to what the write reported.
			sum, err := runFile(t, env, fmt.Sprintf(`{"operation": "checksum", "path": %q}`, "'"+tt.path+"'"), `{}`)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, out, fmt.Sprintf(`{"path": %q, "bytes": %d, "sha256": %q}`, tt.path, len(tt.content), sum.(map[string]any)["sha256"]))
		})
	}
	// No temporary file is left behind.
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileProcessingErrors(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	writeFiles(t, base, map[string]string{
		"outside/secret.txt":  "secret",
		"root/bad.csv":        "a,b\n1,2,3\n",
		"root/quote.csv":      "a,b\n\"x,2\n",
		"root/bad.json":       `{"a": }`,
		"root/truncated.json": `{"a": [1, 2`,
		"root/two.json":       `{} {}`,
		"root/empty.json":     ``,
		"root/dir/x.txt":      "x",
		"root/huge.json":      "[",
	})
	// Sparse: over the limit without writing 64 MiB.
	if err := os.Truncate(filepath.Join(root, "huge.json"), MaxJSONFileBytes+1); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link.txt": filepath.Join(outside, "secret.txt"), "outlink": outside} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	env := newFileEnv(t, root)
	tests := []struct {
		name, config, input, typ, mention string
	}{
		{"parent", `{"operation": "checksum", "path": "input.p"}`, `{"p": "../outside/secret.txt"}`, ErrPathRefused, `".."`},
		{"parent inside the path", `{"operation": "checksum", "path": "input.p"}`, `{"p": "dir/../../outside/secret.txt"}`, ErrPathRefused, `".."`},
		{"absolute", `{"operation": "checksum", "path": "input.p"}`, `{"p": "` + filepath.Join(outside, "secret.txt") + `"}`, ErrPathRefused, "absolute"},
		{"empty path", `{"operation": "checksum", "path": "input.p"}`, `{"p": ""}`, ErrPathRefused, "empty"},
		{"the root itself", `{"operation": "checksum", "path": "input.p"}`, `{"p": "dir/.."}`, ErrPathRefused, `".."`},
		{"symbolic link out", `{"operation": "checksum", "path": "'link.txt'"}`, `{}`, ErrPathRefused, "symbolic link"},
		{"write through a symbolic link out", `{"operation": "write", "path": "'outlink/new.txt'", "content": "'x'"}`, `{}`, ErrPathRefused, "symbolic link"},
		{"missing", `{"operation": "parse_json", "path": "'nope.json'"}`, `{}`, ErrFileNotFound, "nope.json"},
		{"directory", `{"operation": "checksum", "path": "'dir'"}`, `{}`, ErrInvalidFile, "not a regular file"},
		{"csv field count", `{"operation": "parse_csv", "path": "'bad.csv'"}`, `{}`, ErrInvalidFile, "wrong number of fields"},
		{"csv quote", `{"operation": "parse_csv", "path": "'quote.csv'"}`, `{}`, ErrInvalidFile, "not CSV"},
		{"bad json", `{"operation": "parse_json", "path": "'bad.json'"}`, `{}`, ErrInvalidFile, "not JSON"},
		{"truncated json", `{"operation": "parse_json", "path": "'truncated.json'"}`, `{}`, ErrInvalidFile, "not JSON"},
		{"two json values", `{"operation": "parse_json", "path": "'two.json'"}`, `{}`, ErrInvalidFile, "more than one JSON value"},
		{"empty json", `{"operation": "parse_json", "path": "'empty.json'"}`, `{}`, ErrInvalidFile, "not JSON"},
		{"json over the limit", `{"operation": "parse_json", "path": "'huge.json'"}`, `{}`, ErrFileTooLarge, "at most 67108864"},
		{"path not a string", `{"operation": "checksum", "path": "input.p"}`, `{"p": 1}`, interpreter.ErrExpression, "path"},
		{"text content not a string", `{"operation": "write", "path": "'a.txt'", "content": "input", "format": "text"}`, `{"a": 1}`, interpreter.ErrExpression, "content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runFile(t, env, tt.config, tt.input)
			appErr := appError(t, err, tt.typ)
			if !strings.Contains(appErr.Message(), tt.mention) || !strings.Contains(appErr.Message(), `node "f"`) {
				t.Fatalf("message %q should name the node and mention %q", appErr.Message(), tt.mention)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a write escaped the root: %v", err)
	}

	_, err := runFile(t, newFileEnv(t, ""), `{"operation": "checksum", "path": "'a'"}`, `{}`)
	appError(t, err, interpreter.ErrConfiguration)
}

// TestFileProcessingRootAppearsLater: a missing root fails the node as a
// configuration error, and is opened by a later node once it exists (the
// failure is not remembered).
func TestFileProcessingRootAppearsLater(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "later")
	env := newFileEnv(t, root)
	const config = `{"operation": "checksum", "path": "'hello.txt'"}`
	_, err := runFile(t, env, config, `{}`)
	if appErr := appError(t, err, interpreter.ErrConfiguration); !strings.Contains(appErr.Message(), "storage root") {
		t.Fatalf("message %q should name the storage root", appErr.Message())
	}
	writeFiles(t, root, map[string]string{"hello.txt": "hello\n"})
	out, err := runFile(t, env, config, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, out, `{"path": "hello.txt", "bytes": 6, "sha256": "`+helloSHA256+`"}`)
}

// TestFileProcessingBigCSV: a file of megabytes is summarised, not
// returned, and heartbeats while it is read.
func TestFileProcessingBigCSV(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const rows = 100_000
	var b strings.Builder
	b.WriteString("id,email,amount\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,user%d@example.com,%d.50\n", i, i, i%1000)
	}
	writeFiles(t, root, map[string]string{"big.csv": b.String()})

	env := newFileEnv(t, root)
	var heartbeats atomic.Int32
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { heartbeats.Add(1) })
	out, err := runFile(t, env, `{"operation": "parse_csv", "path": "'big.csv'", "preview": 2}`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, out, fmt.Sprintf(`{"path": "big.csv", "bytes": %d, "rows": %d, "columns": 3, "header": ["id", "email", "amount"],
		"preview": [["0", "user0@example.com", "0.50"], ["1", "user1@example.com", "1.50"]]}`, b.Len(), rows))
	if b.Len() < 3*heartbeatBytes {
		t.Fatalf("the test file is only %d bytes", b.Len())
	}
	if data, _ := json.Marshal(out); len(data) > 1024 {
		t.Fatalf("output is %d bytes for a file of %d", len(data), b.Len())
	}
	if heartbeats.Load() == 0 {
		t.Fatal("no heartbeat while reading a file of megabytes")
	}
}

func TestFileProcessingCheckConfig(t *testing.T) {
	t.Parallel()
	p := problemAt
	nt := lookupType(t, TypeFileProcessing, IOOptions{})
	tests := []configCase{
		{"valid csv", `{"operation": "parse_csv", "path": "input.f", "header": false, "delimiter": "\t", "preview": 10}`, nil},
		{"valid write", `{"operation": "write", "path": "'a.json'", "content": "input", "format": "json"}`, nil},
		{"valid checksum", `{"operation": "checksum", "path": "'a'"}`, nil},
		{"empty", `{}`, []interpreter.Problem{p("operation", interpreter.CodeRequired), p("path", interpreter.CodeRequired)}},
		{"unknown operation, bad path", `{"operation": "delete", "path": "input."}`, []interpreter.Problem{
			p("operation", interpreter.CodeInvalidConfig), p("path", interpreter.CodeInvalidExpression)}},
		{"write without content, bad format", `{"operation": "write", "path": "'a'", "format": "xml"}`, []interpreter.Problem{
			p("content", interpreter.CodeRequired), p("format", interpreter.CodeInvalidConfig)}},
		{"options of other operations", `{"operation": "checksum", "path": "'a'", "content": "1", "format": "text", "header": true, "delimiter": ";", "preview": 1}`,
			[]interpreter.Problem{
				p("content", interpreter.CodeInvalidConfig), p("format", interpreter.CodeInvalidConfig), p("header", interpreter.CodeInvalidConfig),
				p("delimiter", interpreter.CodeInvalidConfig), p("preview", interpreter.CodeInvalidConfig)}},
		{"bad csv options", `{"operation": "parse_csv", "path": "'a'", "delimiter": ";;", "preview": 1000}`, []interpreter.Problem{
			p("delimiter", interpreter.CodeInvalidConfig), p("preview", interpreter.CodeInvalidConfig)}},
		{"quote delimiter", `{"operation": "parse_csv", "path": "'a'", "delimiter": "\""}`, []interpreter.Problem{
			p("delimiter", interpreter.CodeInvalidConfig)}},
	}
	checkConfigCases(t, nt, tests)
	if nt.Kind != interpreter.KindIO || nt.Name != TypeFileProcessing {
		t.Fatalf("node type = %s, kind %v", nt.Name, nt.Kind)
	}
}

func TestStoragePath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a.txt", "a.txt"},
		{"./a//b/../c.txt", ""}, // ".." anywhere is refused
		{"a/./b/", "a/b"},
		{"..", ""},
		{"/abs", ""},
		{"", ""},
		{".", ""},
		{"a\x00b", ""},
		{"~/x", "~/x"}, // no expansion: a directory named ~
	}
	for _, tt := range tests {
		got, err := storagePath(tt.in)
		if (err == nil) != (tt.want != "") || got != tt.want {
			t.Errorf("storagePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
