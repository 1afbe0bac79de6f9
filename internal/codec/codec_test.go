package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// newSecret returns a random key in PAYLOAD_KEYS' encoding.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func mustCodec(t *testing.T, spec string) *Codec {
	t.Helper()
	ring, err := ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ring)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encodeOne(t *testing.T, c *Codec, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	out, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestCodec(t *testing.T) {
	oldKey, newKey, otherKey := newSecret(t), newSecret(t), newSecret(t)
	secret := map[string]any{"password": "s3cret-Plant-42", "paymentMethodId": "pm_leak_test"}

	tests := []struct {
		name string
		// encodeWith encrypts, decodeWith decrypts (PAYLOAD_KEYS specs).
		encodeWith, decodeWith string
		// tamper changes the encrypted payload before decoding.
		tamper  func(p *commonpb.Payload)
		wantErr error
	}{
		{name: "round trip", encodeWith: "k1=" + oldKey, decodeWith: "k1=" + oldKey},
		{name: "rotation: an old payload decodes after a new key is put first",
			encodeWith: "old=" + oldKey, decodeWith: "new=" + newKey + ",old=" + oldKey},
		{name: "tampered ciphertext", encodeWith: "k1=" + oldKey, decodeWith: "k1=" + oldKey,
			tamper: func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }, wantErr: ErrTampered},
		{name: "tampered nonce", encodeWith: "k1=" + oldKey, decodeWith: "k1=" + oldKey,
			tamper: func(p *commonpb.Payload) { p.Data[0] ^= 0x80 }, wantErr: ErrTampered},
		{name: "truncated", encodeWith: "k1=" + oldKey, decodeWith: "k1=" + oldKey,
			tamper: func(p *commonpb.Payload) { p.Data = p.Data[:10] }, wantErr: ErrTampered},
		{name: "key id relabelled to another key", encodeWith: "a=" + oldKey + ",b=" + otherKey,
			decodeWith: "a=" + oldKey + ",b=" + otherKey,
			tamper:     func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("b") }, wantErr: ErrTampered},
		{name: "same id, different key", encodeWith: "k1=" + oldKey, decodeWith: "k1=" + otherKey, wantErr: ErrTampered},
		{name: "unknown key id", encodeWith: "retired=" + oldKey, decodeWith: "k2=" + newKey, wantErr: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, dec := mustCodec(t, tt.encodeWith), mustCodec(t, tt.decodeWith)
			plain := jsonPayload(t, secret)
			encrypted := encodeOne(t, enc, plain)

			if got := string(encrypted.Metadata[converter.MetadataEncoding]); got != EncodingEncrypted {
				t.Fatalf("encoding %q, want %q", got, EncodingEncrypted)
			}
			if got, want := string(encrypted.Metadata[MetadataKeyID]), enc.ring.IDs()[0]; got != want {
				t.Fatalf("key id %q, want %q", got, want)
			}
			for _, s := range []string{"s3cret-Plant-42", "pm_leak_test", "json/plain"} {
				if bytes.Contains(encrypted.Data, []byte(s)) {
					t.Fatalf("ciphertext contains %q", s)
				}
			}
			if tt.tamper != nil {
				tt.tamper(encrypted)
			}

			out, err := dec.Decode([]*commonpb.Payload{encrypted})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decode: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(out[0], plain) {
				t.Fatalf("decoded %v, want %v", out[0], plain)
			}
		})
	}
}

func TestEncodeUsesFreshNonces(t *testing.T) {
	c := mustCodec(t, "k1="+newSecret(t))
	p := jsonPayload(t, "same")
	a, b := encodeOne(t, c, p), encodeOne(t, c, p)
	if bytes.Equal(a.Data, b.Data) {
		t.Fatal("two encodings of one payload are identical: nonce reused")
	}
}

// Histories recorded before encryption hold plain payloads: they must pass
// through Decode unchanged (replay), and so must payloads of other codecs.
func TestDecodePassesUnencryptedPayloads(t *testing.T) {
	c := mustCodec(t, "k1="+newSecret(t))
	in := []*commonpb.Payload{
		jsonPayload(t, map[string]int{"a": 1}),
		jsonPayload(t, nil),
		{Metadata: map[string][]byte{"encoding": []byte("binary/zlib")}, Data: []byte{1, 2, 3}},
	}
	out, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("payload %d changed: %v", i, out[i])
		}
	}
	// And an encrypted payload is not encrypted twice.
	enc := encodeOne(t, c, in[0])
	if again := encodeOne(t, c, enc); again != enc {
		t.Fatal("an encrypted payload was encrypted again")
	}
}

func TestDataConverterRoundTrip(t *testing.T) {
	c := mustCodec(t, "k1="+newSecret(t))
	dc := c.DataConverter()
	p, err := dc.ToPayload(map[string]string{"password": "hunter2hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("hunter2")) {
		t.Fatal("data converter left the value in plain text")
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back["password"] != "hunter2hunter2" {
		t.Fatalf("got %v", back)
	}
}

func TestParseKeys(t *testing.T) {
	good, good2 := newSecret(t), newSecret(t)
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 48))
	tests := []struct {
		name    string
		spec    string
		wantIDs []string
		wantErr string // substring of the error; "" means success
	}{
		{name: "one key", spec: "k1=" + good, wantIDs: []string{"k1"}},
		{name: "two keys, spaces, unpadded", spec: " new = " + strings.TrimRight(good, "=") + " , old=" + good2, wantIDs: []string{"new", "old"}},
		{name: "empty", spec: "", wantErr: "no keys"},
		{name: "wrong key length (16 bytes)", spec: "k1=" + short, wantErr: "key is 16 bytes, want 32"},
		{name: "wrong key length (48 bytes)", spec: "k1=" + long, wantErr: "key is 48 bytes, want 32"},
		{name: "not base64", spec: "k1=not*base64!" + good, wantErr: "not valid base64"},
		{name: "no id", spec: good, wantErr: "not of the form id=base64key"},
		{name: "bad id", spec: "bad id=" + good, wantErr: "key id must be"},
		{name: "duplicate id", spec: "k1=" + good + ",k1=" + good2, wantErr: `key id "k1" appears twice`},
		{name: "empty key", spec: "k1=", wantErr: "not of the form id=base64key"},
		{name: "key and id swapped", spec: good + "=k1", wantErr: "key id must be"},
		{name: "padded key alone", spec: strings.TrimRight(good, "=") + "=", wantErr: "not of the form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring, err := ParseKeys(tt.spec)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(ring.IDs(), ","); got != strings.Join(tt.wantIDs, ",") {
					t.Fatalf("ids %s, want %v", got, tt.wantIDs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Fatalf("error %q does not say how to make a key", err)
			}
			// Never print key material, whole or in part.
			for _, secret := range []string{good, good2, short, long} {
				if strings.Contains(err.Error(), secret[:12]) {
					t.Fatalf("error %q contains key material", err)
				}
			}
		})
	}
}

func TestKeyringPrintsNoSecret(t *testing.T) {
	secret := newSecret(t)
	ring, err := ParseKeys("k1=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	if s := ring.String(); strings.Contains(s, secret[:12]) || s != "Keyring[k1]" {
		t.Fatalf("String() = %q", s)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", KeyFileName)
	first, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("mode %o, want 600", mode)
	}

	// A restart reuses the key: what the first process encrypted decodes.
	second, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	if a, b := first.IDs(), second.IDs(); len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("ids %v then %v", a, b)
	}
	c1, _ := New(first)
	c2, _ := New(second)
	enc := encodeOne(t, c1, jsonPayload(t, "kept"))
	if _, err := c2.Decode([]*commonpb.Payload{enc}); err != nil {
		t.Fatalf("restart cannot decode: %v", err)
	}

	// A corrupt file is an error naming the file, not a silent new key.
	if err := os.WriteFile(path, []byte("k1=short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt file: %v", err)
	}
}

// LoadKeyFile reads what LoadOrCreateKeyFile wrote and never creates a file.
func TestLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	if _, err := LoadKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKeyFile created the file: %v", err)
	}
	written, _, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	read, err := LoadKeyFile(path)
	if err != nil || read.String() != written.String() {
		t.Fatalf("read %v (%v), want %v", read, err, written)
	}
	if err := os.WriteFile(path, []byte("k1=short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt file: %v", err)
	}
}

// Without keys, plain payloads decode and an encrypted one fails naming
// its key id.
func TestPlainDataConverter(t *testing.T) {
	dc := PlainDataConverter()
	plain, err := dc.ToPayload("plain")
	if err != nil {
		t.Fatal(err)
	}
	if string(plain.GetMetadata()[converter.MetadataEncoding]) != "json/plain" {
		t.Fatalf("encoded %v", plain)
	}
	var got string
	if err := dc.FromPayload(plain, &got); err != nil || got != "plain" {
		t.Fatalf("plain payload: %q %v", got, err)
	}
	enc := encodeOne(t, mustCodec(t, "k-7="+newSecret(t)), jsonPayload(t, "secret"))
	err = dc.FromPayload(enc, &got)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `key id "k-7"`) {
		t.Fatalf("encrypted payload: %v", err)
	}
}

func TestNewRequiresKeys(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

// Decoding a failure must not decrypt it in place: the SDK decodes the
// Failure of a local activity's marker command before sending it.
func TestFailureConverterDecodesACopy(t *testing.T) {
	c := mustCodec(t, "k1="+newSecret(t))
	_, fc := c.Converters()
	f := fc.ErrorToFailure(temporal.NewApplicationError("secret detail pm_fail_copy", "BusinessError"))
	if f.GetMessage() != "Encoded failure" || f.GetEncodedAttributes() == nil {
		t.Fatalf("not encoded: %v", f)
	}
	err := fc.FailureToError(f)
	if err == nil || !strings.Contains(err.Error(), "secret detail pm_fail_copy") {
		t.Fatalf("decoded error %v", err)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "BusinessError" {
		t.Fatalf("error type lost: %v", err)
	}
	if f.GetMessage() != "Encoded failure" || f.GetStackTrace() != "" {
		t.Fatalf("FailureToError decrypted its input: %q", f.GetMessage())
	}
	if fc.FailureToError(nil) != nil {
		t.Fatal("nil failure")
	}
}
