package api

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/workflow-backend/workflow-backend/api/apitest"
	"github.com/workflow-backend/workflow-backend/internal/codec"
)

const (
	codecToken  = "codec-test-token-1" // an admin key's secret
	clientToken = "codec-client-key-1" // a client key's secret
	uiOrigin    = "http://ui.example.test:8080"
	oidcAud     = "temporal-ui"
	remotePeer  = "203.0.113.7:40000" // TEST-NET-3: never dialled, only a RemoteAddr
	loopbackIP  = "127.0.0.1:40000"
	loopbackIP6 = "[::1]:40000"
)

func testCodec(t *testing.T) *codec.Codec {
	t.Helper()
	secret := make([]byte, codec.KeySize)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	ring, err := codec.ParseKeys("test=" + base64.StdEncoding.EncodeToString(secret))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(ring)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codecServer builds an API with the codec endpoints as configured by o
// (on top of the shared test environment's client and store).
// adminKey is an admin key whose secret is codecToken.
func codecServer(t *testing.T, o Options) *Server {
	t.Helper()
	base, _ := testOptions(t)
	o.Client, o.Schedules, o.Store, o.Registry, o.Logger = base.Client, base.Schedules, base.Store, base.Registry, base.Logger
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// codecCall sends one request to s's handler in process; remote is the
// TCP peer the handler sees. The answer is checked against the OpenAPI
// document.
func codecCall(t *testing.T, s *Server, method, path, remote string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.RemoteAddr = remote
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	apitest.CheckResponse(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
	return rec
}

var adminKey = []APIKey{{Name: "ops", Secret: codecToken}}

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) []byte {
	t.Helper()
	raw, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func readPayloads(t *testing.T, rec *httptest.ResponseRecorder) []*commonpb.Payload {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var ps commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &ps); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return ps.Payloads
}

// The codec endpoints speak Temporal's remote codec protocol: what
// /codec/encode returns is ciphertext that /codec/decode turns back into
// the original payload, and payloads encrypted by the client's data
// converter decode the same way.
func TestCodecEndpointsRoundTrip(t *testing.T) {
	pc := testCodec(t)
	s := codecServer(t, Options{PayloadCodec: pc, AdminAPIKeys: adminKey})
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"password": "Plant3d-Secret"})
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + codecToken}

	encoded := readPayloads(t, codecCall(t, s, http.MethodPost, "/codec/encode", remotePeer, payloadsJSON(t, plain), auth...))
	if len(encoded) != 1 || string(encoded[0].Metadata["encoding"]) != codec.EncodingEncrypted ||
		bytes.Contains(encoded[0].Data, []byte("Plant3d-Secret")) {
		t.Fatalf("encode returned %v", encoded)
	}
	decoded := readPayloads(t, codecCall(t, s, http.MethodPost, "/codec/decode", remotePeer, payloadsJSON(t, encoded...), auth...))
	if len(decoded) != 1 || !proto.Equal(decoded[0], plain) {
		t.Fatalf("decode returned %v, want %v", decoded, plain)
	}

	// A payload the client encrypted (the data converter) decodes too.
	fromClient, err := pc.DataConverter().ToPayload("hello")
	if err != nil {
		t.Fatal(err)
	}
	decoded = readPayloads(t, codecCall(t, s, http.MethodPost, "/codec/decode", remotePeer, payloadsJSON(t, fromClient), auth...))
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(decoded[0], &got); err != nil || got != "hello" {
		t.Fatalf("decoded %q, %v", got, err)
	}

	// A tampered payload is a 400, not a 500 and not garbage.
	fromClient.Data[len(fromClient.Data)-1] ^= 1
	if rec := codecCall(t, s, http.MethodPost, "/codec/decode", remotePeer, payloadsJSON(t, fromClient), auth...); rec.Code != http.StatusBadRequest {
		t.Fatalf("tampered payload: %d %s", rec.Code, rec.Body)
	}
}

// With encryption off the endpoints answer with the payloads unchanged.
func TestCodecEndpointsWithoutCodec(t *testing.T) {
	s := codecServer(t, Options{AdminAPIKeys: adminKey})
	plain, _ := converter.GetDefaultDataConverter().ToPayload("plain")
	got := readPayloads(t, codecCall(t, s, http.MethodPost, "/codec/decode", remotePeer, payloadsJSON(t, plain), "Authorization", "Bearer "+codecToken))
	if len(got) != 1 || !proto.Equal(got[0], plain) {
		t.Fatalf("got %v", got)
	}
}

func TestCodecAuth(t *testing.T) {
	issuer := newTestIssuer(t)
	other := newTestIssuer(t) // a different signing key, same claims
	body := payloadsJSON(t, &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)})

	strict := codecServer(t, Options{PayloadCodec: testCodec(t),
		AdminAPIKeys: []APIKey{{Name: "ops", Secret: codecToken}, {Name: "ops2", Secret: "second-token"}},
		APIKeys:      []APIKey{{Name: "shop", Secret: clientToken}},
		CodecOIDC:    &OIDCOptions{Issuer: issuer.URL, Audience: oidcAud}})
	dev := codecServer(t, Options{PayloadCodec: testCodec(t), CodecAllowLoopback: true})

	tests := []struct {
		name   string
		server *Server
		remote string
		auth   string
		want   int
	}{
		{"no credentials", strict, remotePeer, "", http.StatusUnauthorized},
		{"admin key", strict, remotePeer, "Bearer " + codecToken, http.StatusOK},
		{"second admin key, lower-case scheme", strict, remotePeer, "bearer second-token", http.StatusOK},
		{"client key", strict, remotePeer, "Bearer " + clientToken, http.StatusUnauthorized},
		{"wrong token", strict, remotePeer, "Bearer codec-test-token-2", http.StatusUnauthorized},
		{"token prefix", strict, remotePeer, "Bearer codec-test", http.StatusUnauthorized},
		{"basic auth", strict, remotePeer, "Basic " + base64.StdEncoding.EncodeToString([]byte("a:"+codecToken)), http.StatusUnauthorized},
		{"OIDC token", strict, remotePeer, "Bearer " + issuer.token(t, issuer.URL, oidcAud, time.Hour), http.StatusOK},
		{"OIDC token, wrong audience", strict, remotePeer, "Bearer " + issuer.token(t, issuer.URL, "someone-else", time.Hour), http.StatusUnauthorized},
		{"OIDC token, expired", strict, remotePeer, "Bearer " + issuer.token(t, issuer.URL, oidcAud, -time.Hour), http.StatusUnauthorized},
		{"OIDC token, wrong issuer claim", strict, remotePeer, "Bearer " + issuer.token(t, other.URL, oidcAud, time.Hour), http.StatusUnauthorized},
		{"OIDC token signed by another key", strict, remotePeer, "Bearer " + other.token(t, issuer.URL, oidcAud, time.Hour), http.StatusUnauthorized},
		{"loopback, not allowed", strict, loopbackIP, "", http.StatusUnauthorized},
		{"loopback, dev mode", dev, loopbackIP, "", http.StatusOK},
		{"IPv6 loopback, dev mode", dev, loopbackIP6, "", http.StatusOK},
		{"remote, dev mode", dev, remotePeer, "", http.StatusUnauthorized},
		{"remote with a token, dev mode without keys", dev, remotePeer, "Bearer " + codecToken, http.StatusUnauthorized},
	}
	var first401 []byte // every 401 has the same body
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.auth != "" {
				headers = []string{"Authorization", tt.auth}
			}
			rec := codecCall(t, tt.server, http.MethodPost, "/codec/decode", tt.remote, body, headers...)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusUnauthorized {
				var env errorEnvelope
				if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
					t.Fatalf("401 body %s: %v", rec.Body, err)
				}
				// No detail: the same answer whatever was wrong.
				if env.Success || env.Error.Code != codeUnauthorized || env.Error.Message != errCodecUnauthorized().Message {
					t.Fatalf("401 body %s", rec.Body)
				}
				if first401 == nil {
					first401 = rec.Body.Bytes()
				} else if !bytes.Equal(rec.Body.Bytes(), first401) {
					t.Fatalf("401 body %s differs from %s", rec.Body, first401)
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}

	// A forwarded-for header cannot make a remote caller local.
	rec := codecCall(t, dev, http.MethodPost, "/codec/decode", remotePeer, body, "X-Forwarded-For", "127.0.0.1", "X-Real-Ip", "127.0.0.1")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("spoofed X-Forwarded-For: %d", rec.Code)
	}
	// Both endpoints are guarded, and the rest of the API is not affected.
	if rec := codecCall(t, strict, http.MethodPost, "/codec/encode", remotePeer, body); rec.Code != http.StatusUnauthorized {
		t.Fatalf("encode without credentials: %d", rec.Code)
	}
}

func TestCodecCORS(t *testing.T) {
	s := codecServer(t, Options{PayloadCodec: testCodec(t), AdminAPIKeys: adminKey,
		CodecCORSOrigins: []string{uiOrigin, "http://localhost:8233"}})

	// The browser's preflight carries no credentials and must succeed.
	pre := codecCall(t, s, http.MethodOptions, "/codec/decode", remotePeer, nil,
		"Origin", uiOrigin,
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	if pre.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d %s", pre.Code, pre.Body)
	}
	h := pre.Header()
	if h.Get("Access-Control-Allow-Origin") != uiOrigin || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight headers %v", h)
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for _, name := range []string{"authorization", "content-type", "x-namespace"} {
		if !strings.Contains(allowed, name) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, name)
		}
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Access-Control-Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
	}

	// The actual request from the UI's origin gets the CORS headers too.
	body := payloadsJSON(t, &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`1`)})
	rec := codecCall(t, s, http.MethodPost, "/codec/decode", remotePeer, body, "Origin", "http://localhost:8233", "Authorization", "Bearer "+codecToken)
	if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
		t.Fatalf("actual request: %d, headers %v", rec.Code, rec.Header())
	}

	// Another origin is not allowed.
	evil := codecCall(t, s, http.MethodOptions, "/codec/decode", remotePeer, nil,
		"Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
	if got := evil.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("disallowed origin got Access-Control-Allow-Origin %q", got)
	}

	// Without configured origins no origin is allowed (not "*").
	none := codecServer(t, Options{PayloadCodec: testCodec(t), AdminAPIKeys: adminKey})
	pre = codecCall(t, none, http.MethodOptions, "/codec/decode", remotePeer, nil,
		"Origin", uiOrigin, "Access-Control-Request-Method", "POST")
	if got := pre.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("no origins configured, got Access-Control-Allow-Origin %q", got)
	}
}

// testIssuer is an OpenID Connect provider in the test process: discovery
// and JWKS on an httptest server, tokens signed with its own RSA key.
type testIssuer struct {
	URL    string
	signer jose.Signer
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test-key"))
	if err != nil {
		t.Fatal(err)
	}
	iss := &testIssuer{signer: signer}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.URL,
			"jwks_uri":                              iss.URL + "/jwks",
			"authorization_endpoint":                iss.URL + "/authorize",
			"token_endpoint":                        iss.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "test-key", Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL
	return iss
}

// token signs a token with issuer claim iss for audience aud that expires
// after ttl (negative: already expired).
func (i *testIssuer) token(t *testing.T, iss, aud string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	raw, err := jwt.Signed(i.signer).Claims(jwt.Claims{
		Issuer:   iss,
		Subject:  "ada@example.com",
		Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Minute)),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
