package app

import (
	"context"
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
