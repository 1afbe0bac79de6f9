package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"0", 0, true},
		{"250ms", 250 * time.Millisecond, true},
		{"2m", 2 * time.Minute, true},
		{"1e30", time.Duration(1<<63 - 1), true},
		{"abc", 0, false},
		{"-1", 0, false},
		{"-1s", 0, false},
		{"NaN", 0, false},
		{"", 0, false},
	} {
		got, err := parseWait(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseWait(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPreferAsync(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{"respond-async"}, true},
		{[]string{"return=minimal, Respond-Async; x=1"}, true},
		{[]string{"wait=5"}, false},
		{[]string{"handling=lenient", "respond-async"}, true},
	} {
		if got := preferAsync(tc.in); got != tc.want {
			t.Errorf("preferAsync(%q) = %v", tc.in, got)
		}
	}
}

func TestRequestHashIsCanonical(t *testing.T) {
	hash := func(body string) string {
		t.Helper()
		req, err := decodeExecuteRequest([]byte(body))
		if err != nil {
			t.Fatalf("decode %q: %v", body, err)
		}
		h, err := requestHash(req)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if hash(`{"input":{"a":1,"b":[1,2]}}`) != hash(` { "input" : { "b" : [1, 2], "a" : 1 } } `) {
		t.Error("formatting and key order change the hash")
	}
	if hash(``) != hash(`{}`) || hash(`{}`) != hash(`{"input":null}`) {
		t.Error("an empty body, {} and a null input should hash the same")
	}
	if hash(`{"input":1}`) == hash(`{"input":2}`) || hash(`{"input":1}`) == hash(`{"input":1,"version":"2"}`) {
		t.Error("different requests hash the same")
	}
}

func TestIdempotentExecutionID(t *testing.T) {
	a := idempotentExecutionID("anonymous", "orders", "k1")
	if !strings.HasPrefix(a, "orders-idem-") || len(a) != len("orders-idem-")+32 {
		t.Fatalf("id %q", a)
	}
	if a != idempotentExecutionID("anonymous", "orders", "k1") {
		t.Error("not stable")
	}
	for _, other := range []string{
		idempotentExecutionID("someone", "orders", "k1"),
		idempotentExecutionID("anonymous", "orders", "k2"),
		idempotentExecutionID("anonymous", "orders\x00k1", ""),
	} {
		if other == a {
			t.Errorf("collision with %q", other)
		}
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	if err := checkIdempotencyKey("", nil); err != nil {
		t.Error(err)
	}
	if err := checkIdempotencyKey("order-42", []string{"order-42"}); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]string{{""}, {"a", "b"}, {strings.Repeat("k", 300)}, {"tab\there"}, {"é"}} {
		if checkIdempotencyKey(bad[0], bad) == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"email":       "email",
		"items/0/sku": "items[0].sku",
		"a/b/2/3":     "a.b[2][3]",
		"address/zip": "address.zip",
		"0/name":      "[0].name",
	} {
		var tokens []string
		if in != "" {
			tokens = strings.Split(in, "/")
		}
		if got := fieldPath(tokens); got != want {
			t.Errorf("fieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A body sent without Content-Length (chunked) is cut off at the limit too.
func TestBodyLimitChunked(t *testing.T) {
	o, _ := testOptions(t)
	base := serve(t, o)
	big := strings.Repeat("a", int(o.BodyLimit)+1)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/workflows",
		io.MultiReader(strings.NewReader(big))) // hides the length
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body.Error.Code != "payload_too_large" {
		t.Fatalf("got %d %q", resp.StatusCode, body.Error.Code)
	}
}

// Serve answers on the listener it is given and returns nil once its
// context ends.
func TestServeShutsDownGracefully(t *testing.T) {
	o, _ := testOptions(t)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted no client")
	}
	for _, wait := range []time.Duration{time.Minute, -time.Second} {
		o, _ := testOptions(t)
		o.DefaultWait, o.MaxWait = &wait, 30*time.Second
		if _, err := New(o); err == nil {
			t.Fatalf("New accepted DefaultWait %s with MaxWait 30s", wait)
		}
	}
}
func TestPageToken(t *testing.T) {
	for _, token := range [][]byte{{0}, []byte(`{"a":1}`), make([]byte, 300)} {
		got, ok := decodePageToken(encodePageToken(token))
		if !ok || string(got) != string(token) {
			t.Errorf("round trip of %q: %q %v", token, got, ok)
		}
	}
	good := encodePageToken([]byte(`{"a":1}`))
	flipped := []byte(good)
	flipped[3] ^= 1 // another base64url letter
	for _, bad := range []string{"", "AAAA", "!!!", good[:len(good)-2], good + "A", string(flipped)} {
		if _, ok := decodePageToken(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
