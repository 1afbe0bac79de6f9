package problem

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestListUnderJoinsPaths(t *testing.T) {
	var l List
	l.Add("startNode", CodeRequired, "startNode is required")
	node := l.Under("nodes[1]").Under("config")
	node.Add("rules[0].operator", CodeInvalidConfig, "unknown operator %q", "nope")
	node.Add("", CodeInvalidConfig, "whole config")
	node.Append(Problem{Path: "[2]", Code: CodeInvalidID, Message: "m"})
	got := l.All()
	want := []string{"startNode", "nodes[1].config.rules[0].operator", "nodes[1].config", "nodes[1].config[2]"}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %+v", len(got), len(want), got)
	}
	for i, p := range got {
		if p.Path != want[i] {
			t.Errorf("problem %d path %q, want %q", i, p.Path, want[i])
		}
	}
	if got[1].Message != `unknown operator "nope"` {
		t.Errorf("message %q", got[1].Message)
	}
	var empty List
	if empty.All() != nil || empty.Failed() {
		t.Error("an empty list has problems")
	}
}

type checker struct{}

func (checker) Check(src string) error {
	if strings.Contains(src, "(") {
		return errors.New("syntax error")
	}
	return nil
}

func TestChecks(t *testing.T) {
	var l List
	if d := l.Duration("timeout", "1500ms"); d.Milliseconds() != 1500 {
		t.Errorf("duration %v", d)
	}
	if d := l.Duration("absent", ""); d != 0 || l.Failed() {
		t.Errorf("an absent duration is %v with problems %v", d, l.All())
	}
	for _, bad := range []string{"soon", "-1s", "0s"} {
		l.Duration("timeout", bad)
	}
	l.Expression("a", "", checker{})
	l.Expression("b", "f(", checker{})
	l.Expression("c", "x + 1", checker{})
	l.ID("id", "9lives", NodeID)
	l.ID("ok", "validate_input", NodeID)
	codes := []string{}
	for _, p := range l.All() {
		codes = append(codes, p.Path+"="+p.Code)
	}
	want := []string{"timeout=invalid_duration", "timeout=invalid_duration", "timeout=invalid_duration",
		"a=required", "b=invalid_expression", "id=invalid_id"}
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("got %v, want %v", codes, want)
	}
	if m := l.All()[0].Message; !strings.Contains(m, `"soon" is not a positive duration`) {
		t.Errorf("duration message %q", m)
	}
}

func TestDecode(t *testing.T) {
	type config struct {
		URL     string `json:"url"`
		Retries int    `json:"retries"`
	}
	cases := []struct {
		name, data, path, message string
		syntax                    bool
	}{
		{"unknown field", `{"uri": "x"}`, "", `unknown field "uri"`, false},
		{"wrong type", `{"retries": "3"}`, "retries", "expected an integer, got a string", false},
		{"not an object", `[1]`, "", "the config must be an object, got a list", false},
		{"malformed", `{"url": `, "", "malformed JSON: unexpected end of the config", true},
		{"trailing", `{} {}`, "", "unexpected data after the config", true},
		{"syntax", `{"url" "x"}`, "", "malformed JSON at byte", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg config
			err := Decode([]byte(c.data), &cfg, "the config")
			if err == nil {
				t.Fatal("decoded")
			}
			if err.Path != c.path || !strings.Contains(err.Message, c.message) || err.Syntax != c.syntax {
				t.Errorf("got %+v, want path %q message %q syntax %v", err, c.path, c.message, c.syntax)
			}
			if strings.Contains(err.Message, "int") && !strings.Contains(err.Message, "integer") {
				t.Errorf("message names a Go type: %q", err.Message)
			}
		})
	}
	var cfg config
	if err := Decode(nil, &cfg, "the config"); err != nil {
		t.Errorf("empty config: %v", err)
	}
}

func TestValueTypeName(t *testing.T) {
	for v, want := range map[any]string{"s": "a string", 1.5: "a number", true: "a boolean", nil: "null", time.Time{}: "a timestamp"} {
		if got := ValueTypeName(v); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
	if got := ValueTypeName([]any{}); got != "a list" {
		t.Errorf("list: %q", got)
	}
	if got := ValueTypeName(map[string]any{}); got != "an object" {
		t.Errorf("object: %q", got)
	}
	if got := ValueTypeName([]byte("x")); got != "bytes" {
		t.Errorf("bytes: %q", got)
	}
}

func TestParseNonNegativeDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"0s": 0, "0": 0, "250ms": 250 * time.Millisecond} {
		if d, err := ParseNonNegativeDuration(s); err != nil || d != want {
			t.Errorf("%q: %v, %v", s, d, err)
		}
	}
	for _, bad := range []string{"", "-1s", "soon"} {
		if _, err := ParseNonNegativeDuration(bad); err == nil || !strings.Contains(err.Error(), "0 or more") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDecodeNamesTheUnknownField(t *testing.T) {
	var v struct{ A int }
	err := Decode([]byte(`{"A": 1, "b": 2}`), &v, "the body")
	if err == nil || err.UnknownField != "b" || err.Path != "" {
		t.Fatalf("got %+v", err)
	}
	if err := Decode([]byte(`{"A" 1}`), &v, "the body"); err == nil || strings.Contains(err.Message, "invalid character") {
		t.Fatalf("syntax error %+v carries encoding/json's text", err)
	}
}

func TestDecodeLenientListsEveryUnknownField(t *testing.T) {
	type retry struct {
		Attempts int `json:"attempts"`
	}
	type Base struct {
		Kind string `json:"kind"`
	}
	type item struct {
		Base
		ID     string            `json:"id"`
		Retry  *retry            `json:"retry"`
		Config json.RawMessage   `json:"config"`
		Labels map[string]string `json:"labels"`
		Any    any               `json:"any"`
		Skip   string            `json:"-"`
	}
	type doc struct {
		Name  string `json:"name"`
		Items []item `json:"items"`
	}
	var d doc
	unknown, err := DecodeLenient([]byte(`{"name": "n", "colour": 1, "NAME": "m", "items": [
		{"id": "a", "kind": "k", "retry": {"attempts": 2, "backoff": 3}, "config": {"free": 1},
		 "labels": {"x": "y"}, "any": {"deep": {}}, "Skip": "s", "ID": "b"},
		{"nested": {"inner": 1}}]}`), &d, "the document")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range unknown {
		got = append(got, p.Path+" "+p.Code+" "+p.Message)
	}
	want := []string{
		`colour invalid_json unknown field "colour"`,
		`items[0].retry.backoff invalid_json unknown field "backoff"`,
		`items[0].Skip invalid_json unknown field "Skip"`,
		`items[1].nested invalid_json unknown field "nested"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.Name != "m" || len(d.Items) != 2 || d.Items[0].Kind != "k" || d.Items[0].Retry.Attempts != 2 {
		t.Errorf("decoded %+v", d)
	}
	// Everything else is as strict as Decode.
	if _, err := DecodeLenient([]byte(`{"name": 1}`), &d, "the document"); err == nil || err.Path != "name" {
		t.Errorf("wrong type: %+v", err)
	}
	if _, err := DecodeLenient([]byte(`{} {}`), &d, "the document"); err == nil || !err.Syntax {
		t.Errorf("trailing data: %+v", err)
	}
}

func TestIDRulesCapLengthAt64(t *testing.T) {
	for _, r := range []IDRule{DefinitionID, Version, NodeID} {
		if !r.Valid("a" + strings.Repeat("b", 63)) {
			t.Errorf("%s: 64 characters refused", r.What)
		}
		if r.Valid("a" + strings.Repeat("b", 64)) {
			t.Errorf("%s: 65 characters accepted", r.What)
		}
	}
}
