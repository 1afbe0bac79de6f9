package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
)

// The production commands refuse to start with encryption on and no keys,
// saying how to make one, before they dial anything.
func TestProductionRefusesWithoutPayloadKeys(t *testing.T) {
	for name, run := range map[string]func(context.Context, map[string]string, io.Writer) error{"api": RunAPI, "worker": RunWorker} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := run(t.Context(), map[string]string{"DATA_DIR": dir, "TEMPORAL_ADDRESS": "127.0.0.1:1"}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "PAYLOAD_KEYS is empty") || !strings.Contains(err.Error(), "openssl rand -base64 32") {
				t.Fatalf("error = %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, codec.KeyFileName)); err == nil {
				t.Fatal("a production command generated a key file")
			}

			// With encryption off the check passes (and the command fails
			// later, dialing a port where nothing listens).
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			err = run(ctx, map[string]string{"DATA_DIR": dir, "TEMPORAL_ADDRESS": "127.0.0.1:1", "PAYLOAD_ENCRYPTION": "off"}, io.Discard)
			if err == nil || strings.Contains(err.Error(), "PAYLOAD_KEYS") {
				t.Fatalf("with encryption off: %v", err)
			}
		})
	}
}

func TestPayloadCodecKeySources(t *testing.T) {
	load := func(environ map[string]string) config.Config {
		t.Helper()
		cfg, err := config.Load(environ)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	dir := t.TempDir()

	// No PAYLOAD_KEYS (dev mode, tests): a key file is generated, then reused.
	first, err := PayloadCodec(load(map[string]string{"DATA_DIR": dir}), nil)
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
	again, err := PayloadCodec(load(map[string]string{"DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if keyID(again) != keyID(first) {
		t.Fatalf("restart: key id %q, want %q", keyID(again), keyID(first))
	}

	// PAYLOAD_KEYS wins over the file.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	explicit, err := PayloadCodec(load(map[string]string{"DATA_DIR": dir, "PAYLOAD_KEYS": "prod-1=" + base64.StdEncoding.EncodeToString(secret)}), nil)
	if err != nil || keyID(explicit) != "prod-1" {
		t.Fatalf("PAYLOAD_KEYS: %v %v", explicit, err)
	}

	// Off: no codec.
	if off, err := PayloadCodec(load(map[string]string{"DATA_DIR": dir, "PAYLOAD_ENCRYPTION": "off"}), nil); off != nil || err != nil {
		t.Fatalf("off: %v %v", off, err)
	}
}

// The replay command's codec comes from PAYLOAD_KEYS or an existing key
// file; without either it is nil, and no key file is generated.
func TestExistingPayloadCodec(t *testing.T) {
	load := func(environ map[string]string) config.Config {
		t.Helper()
		cfg, err := config.Load(environ)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	dir := t.TempDir()
	if pc, err := ExistingPayloadCodec(load(map[string]string{"DATA_DIR": dir})); pc != nil || err != nil {
		t.Fatalf("no keys: %v %v, want nil", pc, err)
	}
	if _, err := os.Stat(filepath.Join(dir, codec.KeyFileName)); err == nil {
		t.Fatal("ExistingPayloadCodec generated a key file")
	}

	// The key file dev mode generated: what it encrypted decodes.
	dev, err := PayloadCodec(load(map[string]string{"DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := dev.DataConverter().ToPayload("dev payload")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ExistingPayloadCodec(load(map[string]string{"DATA_DIR": dir}))
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
	pc, err = ExistingPayloadCodec(load(map[string]string{"DATA_DIR": dir, "PAYLOAD_KEYS": "prod-1=" + base64.StdEncoding.EncodeToString(secret)}))
	if err != nil || pc == nil {
		t.Fatalf("PAYLOAD_KEYS: %v %v", pc, err)
	}
	if err := pc.DataConverter().FromPayload(enc, &got); !errors.Is(err, codec.ErrUnknownKey) {
		t.Fatalf("PAYLOAD_KEYS decoded the file's payload: %v", err)
	}
	if off, err := ExistingPayloadCodec(load(map[string]string{"DATA_DIR": dir, "PAYLOAD_ENCRYPTION": "off"})); off != nil || err != nil {
		t.Fatalf("off: %v %v", off, err)
	}
}

func TestCodecOrigins(t *testing.T) {
	cfg := config.Config{TemporalUIURL: "https://temporal.example.com/ui/", TemporalUIPort: 8233}
	if got := codecOrigins(cfg, false); !reflect.DeepEqual(got, []string{"https://temporal.example.com"}) {
		t.Errorf("default from TEMPORAL_UI_URL: %v", got)
	}
	cfg.CodecCORSOrigins = []string{"https://a.example", "https://b.example/"}
	if got := codecOrigins(cfg, false); !reflect.DeepEqual(got, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("CODEC_CORS_ORIGINS: %v", got)
	}
	dev := config.Config{TemporalUIURL: "http://127.0.0.1:9000", TemporalUIPort: 9000}
	if got := codecOrigins(dev, true); !reflect.DeepEqual(got, []string{"http://127.0.0.1:9000", "http://localhost:9000"}) {
		t.Errorf("dev: %v", got)
	}
	if got := codecOrigins(config.Config{}, false); len(got) != 0 {
		t.Errorf("nothing configured: %v", got)
	}
}
