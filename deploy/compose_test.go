package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workflow-backend/workflow-backend/deploy"
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
)

// compose is the part of docker-compose.yml the test checks. Docker is not
// available in CI, so this test is what keeps the file honest: every service
// of the production topology is there, the files it mounts and builds exist,
// and every variable it sets is one the binaries read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
		Build       struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Deploy struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func TestComposeTopology(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"postgres", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "api", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	if r := c.Services["worker"].Deploy.Replicas; r < 2 {
		t.Errorf("worker replicas = %d, want at least 2 (workers scale horizontally)", r)
	}
	api := c.Services["api"]
	if api.Build.Dockerfile == "" {
		t.Fatal("api has no build.dockerfile")
	}
	if _, err := os.Stat(filepath.Join("..", api.Build.Context, api.Build.Dockerfile)); err != nil {
		t.Errorf("api build: %v", err)
	}
	if c.Services["worker"].Image != api.Image {
		t.Errorf("worker image %q is not the api's image %q", c.Services["worker"].Image, api.Image)
	}
	if !reflect.DeepEqual(api.Entrypoint, []string{"/usr/local/bin/api"}) ||
		!reflect.DeepEqual(c.Services["worker"].Entrypoint, []string{"/usr/local/bin/worker"}) {
		t.Errorf("entrypoints: api %v, worker %v", api.Entrypoint, c.Services["worker"].Entrypoint)
	}
}

// The Temporal server mounts the dynamic config dev mode embeds, the one
// internal/devserver's tests check against the server's registry and run.
func TestComposeMountsDynamicConfig(t *testing.T) {
	tmp := readCompose(t).Services["temporal"]
	path := tmp.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	if path == "" {
		t.Fatal("temporal service sets no DYNAMIC_CONFIG_FILE_PATH")
	}
	file := filepath.Base(path)
	found := false
	for _, v := range tmp.Volumes {
		host, container, _ := strings.Cut(strings.TrimSuffix(v, ":ro"), ":")
		if container == "/etc/temporal/"+filepath.Dir(path) {
			found = true
			mounted, err := os.ReadFile(filepath.Join("..", host, file))
			if err != nil {
				t.Fatalf("mounted dynamic config: %v", err)
			}
			if filepath.Clean(filepath.Join(host, file)) != "deploy/temporal/dynamicconfig.yaml" || !bytes.Equal(mounted, deploy.DynamicConfigYAML()) {
				t.Errorf("compose mounts %s, not deploy/temporal/dynamicconfig.yaml (the file the tests run)", filepath.Join(host, file))
			}
		}
	}
	if !found {
		t.Errorf("no volume mounts the directory of %s", path)
	}
}

// The workers hold the secrets; the API, which faces the network, holds none.
func TestComposeSecretsOnlyOnWorkers(t *testing.T) {
	comp := readCompose(t)
	for _, secret := range []string{"STRIPE_SECRET_KEY", "SENDGRID_API_KEY", "NOTIFY_WEBHOOKS"} {
		if _, ok := comp.Services["api"].Environment[secret]; ok {
			t.Errorf("the api service is given %s", secret)
		}
	}
	for _, secret := range []string{"STRIPE_SECRET_KEY", "SENDGRID_API_KEY"} {
		if _, ok := comp.Services["worker"].Environment[secret]; !ok {
			t.Errorf("the worker service is not given %s", secret)
		}
	}
	if a, w := comp.Services["api"].Environment["PAYMENTS_PROVIDER"], comp.Services["worker"].Environment["PAYMENTS_PROVIDER"]; a == "" || a != w {
		t.Errorf("PAYMENTS_PROVIDER: api %q, worker %q; both must say the same", a, w)
	}
}

// Every variable set on the api and worker is one internal/config reads, so a
// renamed variable cannot silently fall back to its default in production.
func TestComposeEnvironmentIsKnown(t *testing.T) {
	known := config.Variables()
	comp := readCompose(t)
	for _, name := range []string{"api", "worker"} {
		env := comp.Services[name].Environment
		if len(env) == 0 {
			t.Errorf("%s: no environment", name)
		}
		for key := range env {
			if !slices.Contains(known, key) {
				t.Errorf("%s sets %s, which no process reads", name, key)
			}
		}
		if !strings.HasPrefix(env["DATABASE_URL"], "postgres://") {
			t.Errorf("%s: DATABASE_URL %q is not Postgres", name, env["DATABASE_URL"])
		}
		if env["TEMPORAL_ADDRESS"] != "temporal:7233" {
			t.Errorf("%s: TEMPORAL_ADDRESS = %q", name, env["TEMPORAL_ADDRESS"])
		}
	}
}

// Payloads are encrypted in the compose topology: the api and the workers
// share one PAYLOAD_KEYS (a placeholder the file says to replace, valid so
// that `docker compose up` works), and the Web UI is pointed at the API's
// codec endpoint on the port the API publishes.
func TestComposePayloadEncryption(t *testing.T) {
	comp := readCompose(t)
	api, worker := comp.Services["api"].Environment, comp.Services["worker"].Environment
	keys := api["PAYLOAD_KEYS"]
	if keys == "" || keys != worker["PAYLOAD_KEYS"] {
		t.Fatalf("PAYLOAD_KEYS: api %q, worker %q; both must be set and equal", keys, worker["PAYLOAD_KEYS"])
	}
	m := regexp.MustCompile(`^\$\{PAYLOAD_KEYS:-(.+)\}$`).FindStringSubmatch(keys)
	if m == nil {
		t.Fatalf("PAYLOAD_KEYS %q must come from the environment with a placeholder default", keys)
	}
	ring, err := codec.ParseKeys(m[1])
	if err != nil {
		t.Fatalf("the placeholder does not parse: %v", err)
	}
	if ids := ring.IDs(); len(ids) != 1 || !strings.Contains(ids[0], "replace") {
		t.Errorf("the placeholder key id %v must say it is to be replaced", ids)
	}
	for _, name := range []string{"api", "worker"} {
		if v := comp.Services[name].Environment["PAYLOAD_ENCRYPTION"]; v == "off" {
			t.Errorf("%s turns encryption off", name)
		}
	}

	ui := comp.Services["temporal-ui"].Environment
	endpoint := ui["TEMPORAL_CODEC_ENDPOINT"]
	if endpoint != "http://localhost:"+api["PORT"]+"/codec" {
		t.Errorf("temporal-ui TEMPORAL_CODEC_ENDPOINT = %q, want the API's /codec on port %s", endpoint, api["PORT"])
	}
	published := false
	for _, p := range comp.Services["api"].Ports {
		published = published || strings.HasPrefix(p, api["PORT"]+":")
	}
	if !published {
		t.Errorf("the api does not publish port %s that the UI's codec endpoint names", api["PORT"])
	}
	// The API allows the UI's origin (CODEC_CORS_ORIGINS defaults to it).
	if cors := api["CODEC_CORS_ORIGINS"]; cors == "" && !strings.HasPrefix(api["TEMPORAL_UI_URL"], "http://localhost:8080") {
		t.Errorf("the api allows neither CODEC_CORS_ORIGINS nor TEMPORAL_UI_URL's origin for the UI on :8080")
	}
}

// The one-shot schema job sets up and upgrades both of Temporal's databases
// with the server's tool before the server starts (temporalio/server, unlike
// the deprecated auto-setup image, does neither).
func TestComposeSetsUpTemporalSchema(t *testing.T) {
	c := readCompose(t)
	command := strings.Join(c.Services["temporal-schema"].Command, " ")
	for _, want := range []string{"temporal-sql-tool --plugin postgres12", "for db in temporal temporal_visibility", "setup-schema -v 0.0", "update-schema -d /etc/temporal/schema/postgresql/v12/"} {
		if !strings.Contains(command, want) {
			t.Errorf("temporal-schema does not run %q: %s", want, command)
		}
	}
	var dependsOn map[string]struct {
		Condition string `yaml:"condition"`
	}
	server := c.Services["temporal"]
	if err := server.DependsOn.Decode(&dependsOn); err != nil || dependsOn["temporal-schema"].Condition != "service_completed_successfully" {
		t.Errorf("the temporal server does not wait for temporal-schema to complete: %v %v", dependsOn, err)
	}
}

// The one-shot setup creates every search attribute the API checks for at
// start (app.SearchAttributes), so the API does not refuse to start.
func TestComposeCreatesSearchAttributes(t *testing.T) {
	command := strings.Join(readCompose(t).Services["temporal-setup"].Command, " ")
	for name := range app.SearchAttributes {
		if !strings.Contains(command, "search-attribute create --namespace default --name "+name+" --type Keyword") {
			t.Errorf("temporal-setup does not create %s: %s", name, command)
		}
	}
}
