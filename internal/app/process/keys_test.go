package process

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
)

func TestPayloadCodecKeySources(t *testing.T) {
	dir := t.TempDir()

	// No PAYLOAD_KEYS (dev mode, tests): a key file is generated, then reused.
	first, err := PayloadCodec(load(t, map[string]string{"DATA_DIR": dir}), nil)
	if err != nil || first == nil {
		t.Fatalf("generated: %v %v", first, err)
	}
	info, err := os.Stat(filepath.Join(dir, codec.KeyFileName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	// keyID is the key id a codec encrypts with.
	keyID := func(pc *codec.Codec) string {
		t.Helper()
		p, err := pc.DataConverter().ToPayload("x")
		if err != nil {
			t.Fatal(err)
		}
		return string(p.GetMetadata()[codec.MetadataKeyID])
	}
	again, err := PayloadCodec(load(t, map[string]string{"DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if keyID(again) != keyID(first) {
		t.Fatalf("restart: key id %q, want %q", keyID(again), keyID(first))
	}

	// PAYLOAD_KEYS wins over the file.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	explicit, err := PayloadCodec(load(t, map[string]string{"DATA_DIR": dir, "PAYLOAD_KEYS": "prod-1=" + base64.StdEncoding.EncodeToString(secret)}), nil)
	if err != nil || keyID(explicit) != "prod-1" {
		t.Fatalf("PAYLOAD_KEYS: %v %v", explicit, err)
	}

	// Off: no codec.
	if off, err := PayloadCodec(load(t, map[string]string{"DATA_DIR": dir, "PAYLOAD_ENCRYPTION": "off"}), nil); off != nil || err != nil {
		t.Fatalf("off: %v %v", off, err)
	}
}

// The replay command's codec comes from PAYLOAD_KEYS or an existing key
// file; without either it is nil, and no key file is generated.
func TestExistingPayloadCodec(t *testing.T) {
	dir := t.TempDir()
	if pc, err := ExistingPayloadCodec(load(t, map[string]string{"DATA_DIR": dir})); pc != nil || err != nil {
		t.Fatalf("no keys: %v %v, want nil", pc, err)
	}
	if _, err := os.Stat(filepath.Join(dir, codec.KeyFileName)); err == nil {
		t.Fatal("ExistingPayloadCodec generated a key file")
	}

	// The key file dev mode generated: what it encrypted decodes.
	dev, err := PayloadCodec(load(t, map[string]string{"DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := dev.DataConverter().ToPayload("dev payload")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ExistingPayloadCodec(load(t, map[string]string{"DATA_DIR": dir}))
	if err != nil || pc == nil {
		t.Fatalf("existing file: %v %v", pc, err)
	}
	var got string
	if err := pc.DataConverter().FromPayload(enc, &got); err != nil || got != "dev payload" {
		t.Fatalf("decoding with the existing file's keys: %q %v", got, err)
	}

	// PAYLOAD_KEYS wins over the file; off means no codec.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	pc, err = ExistingPayloadCodec(load(t, map[string]string{"DATA_DIR": dir, "PAYLOAD_KEYS": "prod-1=" + base64.StdEncoding.EncodeToString(secret)}))
	if err != nil || pc == nil {
		t.Fatalf("PAYLOAD_KEYS: %v %v", pc, err)
	}
	if err := pc.DataConverter().FromPayload(enc, &got); !errors.Is(err, codec.ErrUnknownKey) {
		t.Fatalf("PAYLOAD_KEYS decoded the file's payload: %v", err)
	}
	if off, err := ExistingPayloadCodec(load(t, map[string]string{"DATA_DIR": dir, "PAYLOAD_ENCRYPTION": "off"})); off != nil || err != nil {
		t.Fatalf("off: %v %v", off, err)
	}
}

// load loads the configuration of environ.
func load(t *testing.T, environ map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
