package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.TemporalAddress != "127.0.0.1:7233" || c.WaitDefault != 10*time.Second ||
		c.DatabaseURL != ".data/app.db" || c.Retention != 7*24*time.Hour || !c.APIWorker ||
		c.PaymentsProvider != PaymentsStripe || c.StorageRoot != ".data/files" {
		t.Errorf("defaults: %+v", c)
	}
}

// Load reports every bad variable at once.
func TestLoadListsEveryProblem(t *testing.T) {
	_, err := Load(map[string]string{
		"PORT":               "70000",
		"TEMPORAL_RETENTION": "1h",
		"LOG_LEVEL":          "loud",
		"TEMPORAL_UI_PORT":   "0",
	})
	if err == nil {
		t.Fatal("Load accepted bad values")
	}
	for _, want := range []string{"PORT 70000", "TEMPORAL_RETENTION", "LOG_LEVEL", "TEMPORAL_UI_PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := Load(map[string]string{"PORT": "many"}); err == nil || !strings.Contains(err.Error(), "PORT: ") {
		t.Errorf("unparsable PORT: %v", err)
	}
}

// The README's configuration table documents every variable.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Variables() {
		if !strings.Contains(string(readme), "| `"+name+"`") {
			t.Errorf("README's configuration table lacks %s", name)
		}
	}
}

// A malformed webhook list is reported without its value (webhook URLs are
// secrets), and a good one is parsed.
func TestNotifyWebhooks(t *testing.T) {
	secret := "https://hooks.example.com/T000/B000/XXXXsecret"
	_, err := Load(map[string]string{"NOTIFY_WEBHOOKS": secret})
	if err == nil || !strings.Contains(err.Error(), "NOTIFY_WEBHOOKS") || strings.Contains(err.Error(), "secret") {
		t.Errorf("malformed NOTIFY_WEBHOOKS: %v", err)
	}
	c, err := Load(map[string]string{"NOTIFY_WEBHOOKS": "ops=" + secret + "?a=b,sales=https://x.example/h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.NotifyWebhooks["ops"] != secret+"?a=b" || c.NotifyWebhooks["sales"] != "https://x.example/h" {
		t.Errorf("NotifyWebhooks = %v", c.NotifyWebhooks)
	}
}

func TestPayloadEncryptionSettings(t *testing.T) {
	c, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Encrypted() || c.PayloadKeys != "" {
		t.Errorf("encryption must be on by default: %q %q", c.PayloadEncryption, c.PayloadKeys)
	}
	if c, err := Load(map[string]string{"PAYLOAD_ENCRYPTION": "off"}); err != nil || c.Encrypted() {
		t.Errorf("PAYLOAD_ENCRYPTION=off: %v %v", c.Encrypted(), err)
	}

	// A malformed key is reported by position, never by its material.
	secretish := "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LWlzLXRvby1zaG9ydA=="
	_, err = Load(map[string]string{
		"PAYLOAD_ENCRYPTION":  "maybe",
		"PAYLOAD_KEYS":        "k1=" + secretish,
		"CODEC_OIDC_ISSUER":   "https://issuer.example",
		"CODEC_CORS_ORIGINS":  "http://ok.example:8080,not an origin,https://x.example/path",
		"CODEC_OIDC_AUDIENCE": "",
	})
	if err == nil {
		t.Fatal("Load accepted bad encryption settings")
	}
	for _, want := range []string{"PAYLOAD_ENCRYPTION \"maybe\"", "PAYLOAD_KEYS: entry 1", "want 32", "openssl rand -base64 32",
		"CODEC_OIDC_ISSUER and CODEC_OIDC_AUDIENCE", `"not an origin"`, `"https://x.example/path"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), secretish[:16]) {
		t.Errorf("error %q prints the key", err)
	}
	if strings.Contains(err.Error(), "ok.example") {
		t.Errorf("error %q rejects a good origin", err)
	}
}

func TestMemorySettings(t *testing.T) {
	c, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxMemory != 1<<30 || c.MemoryThreshold != 0.8 {
		t.Errorf("defaults: MAX_MEMORY %d, MEMORY_THRESHOLD %v", c.MaxMemory, c.MemoryThreshold)
	}
	for in, want := range map[string]ByteSize{"536870912": 512 << 20, "512MiB": 512 << 20, "2 GiB": 2 << 30, "2Gi": 2 << 30, "500MB": 500e6} {
		c, err := Load(map[string]string{"MAX_MEMORY": in})
		if err != nil || c.MaxMemory != want {
			t.Errorf("MAX_MEMORY=%s: %d, %v; want %d", in, c.MaxMemory, err, want)
		}
	}
	for _, bad := range []map[string]string{
		{"MAX_MEMORY": "lots"}, {"MAX_MEMORY": "-1"}, {"MAX_MEMORY": "1KiB"}, {"MAX_MEMORY": "1.5GiB"},
		{"MEMORY_THRESHOLD": "0"}, {"MEMORY_THRESHOLD": "1.2"}, {"MEMORY_THRESHOLD": "-0.5"}, {"MEMORY_THRESHOLD": "NaN"},
	} {
		if _, err := Load(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// Defaults are the tags' defaults, whatever the process's environment says.
func TestDefaults(t *testing.T) {
	t.Setenv("TASK_QUEUE", "from-the-environment")
	d := Defaults()
	if d.TaskQueue != "workflow-backend" || d.TemporalNamespace != "default" || d.WaitDefault != 10*time.Second ||
		d.WaitMax != time.Minute || d.MaxBodyBytes != 1<<20 || d.HistoryBudget != 32<<20 ||
		d.RateLimitMax != 1000 || d.RateLimitWindow != time.Second || d.NodeOutputMax != 256<<10 {
		t.Fatalf("defaults %+v", d)
	}
}

// The sticky cache is sized from MAX_MEMORY unless set.
func TestStickyCacheSize(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, 2048},
		{map[string]string{"MAX_MEMORY": "256MiB"}, 512},
		{map[string]string{"MAX_MEMORY": "16MiB"}, 100},
		{map[string]string{"MAX_MEMORY": "128GiB"}, 10000},
		{map[string]string{"MAX_MEMORY": "64GiB", "WORKER_STICKY_CACHE_SIZE": "500"}, 500},
	} {
		cfg, err := Load(c.env)
		if err != nil || cfg.StickyCacheSize != c.want {
			t.Errorf("%v: sticky cache %d, %v; want %d", c.env, cfg.StickyCacheSize, err, c.want)
		}
	}
	if _, err := Load(map[string]string{"WORKER_STICKY_CACHE_SIZE": "-1"}); err == nil {
		t.Error("a negative WORKER_STICKY_CACHE_SIZE was accepted")
	}
}
