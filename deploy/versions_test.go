package deploy_test

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/workflow-backend/workflow-backend/deploy"
)

// Every test here runs Temporal as the modules of go.mod build it: the
// embedded server (internal/devserver) is go.temporal.io/server, its Web UI
// github.com/temporalio/ui-server/v2. What compose and the Helm values
// deploy must be those versions, with the dynamic config those tests load.

var update = flag.Bool("update", false, "rewrite server.dynamicConfig of k8s/temporal-values.yaml from temporal/dynamicconfig.yaml")

const (
	serverModule = "go.temporal.io/server"
	uiModule     = "github.com/temporalio/ui-server/v2"
	valuesFile   = "k8s/temporal-values.yaml"
)

// goModVersion is the version go.mod requires of module, without its "v".
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	raw, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return strings.TrimPrefix(fields[1], "v")
		}
	}
	t.Fatalf("go.mod does not require %s", module)
	return ""
}

// Compose's Temporal images default to the tested versions; the deprecated
// auto-setup image (no release of it for those versions) is not used.
func TestComposeRunsTestedTemporalVersions(t *testing.T) {
	server, ui := goModVersion(t, serverModule), goModVersion(t, uiModule)
	want := map[string]string{
		"temporal":        "temporalio/server:${TEMPORAL_VERSION:-" + server + "}",
		"temporal-schema": "temporalio/admin-tools:${TEMPORAL_VERSION:-" + server + "}",
		"temporal-setup":  "temporalio/admin-tools:${TEMPORAL_VERSION:-" + server + "}",
		"temporal-ui":     "temporalio/ui:${TEMPORAL_UI_VERSION:-" + ui + "}",
	}
	services := readCompose(t).Services
	for name, image := range want {
		if got := services[name].Image; got != image {
			t.Errorf("compose %s runs %q, want %q (go.mod)", name, got, image)
		}
	}
	for name, s := range services {
		if strings.Contains(s.Image, "auto-setup") {
			t.Errorf("compose %s runs the deprecated %s", name, s.Image)
		}
	}
}

// values reads k8s/temporal-values.yaml.
func values(t *testing.T) (raw []byte, v map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", valuesFile, err)
	}
	return raw, v
}

// at walks a path of keys through decoded YAML.
func at(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// The Helm chart's images are the tested versions, Temporal stores
// persistence and visibility in Postgres with its password in a Secret,
// and the namespace the binaries use is created.
func TestTemporalHelmValues(t *testing.T) {
	_, v := values(t)
	server, ui := goModVersion(t, serverModule), goModVersion(t, uiModule)
	for path, want := range map[string]string{
		"server.image.repository":     "temporalio/server",
		"server.image.tag":            server,
		"admintools.image.repository": "temporalio/admin-tools",
		"admintools.image.tag":        server,
		"web.image.repository":        "temporalio/ui",
		"web.image.tag":               ui,
	} {
		if got, _ := at(v, strings.Split(path, ".")...).(string); got != want {
			t.Errorf("%s: %s = %v, want %q", valuesFile, path, at(v, strings.Split(path, ".")...), want)
		}
	}
	for _, store := range []string{"default", "visibility"} {
		sql, _ := at(v, "server", "config", "persistence", "datastores", store, "sql").(map[string]any)
		if sql == nil {
			t.Errorf("%s: datastore %s is not SQL", valuesFile, store)
			continue
		}
		if sql["pluginName"] != "postgres12" || sql["existingSecret"] == nil || sql["password"] != nil {
			t.Errorf("%s: datastore %s: want pluginName postgres12 and the password from existingSecret, got %v", valuesFile, store, sql)
		}
	}
	namespaces, _ := at(v, "server", "config", "namespaces", "namespace").([]any)
	ns := build(t, baseDir).configMaps["workflow-backend"].Data["TEMPORAL_NAMESPACE"]
	created := false
	for _, n := range namespaces {
		created = created || at(n, "name") == ns
	}
	if !created || at(v, "server", "config", "namespaces", "create") != true {
		t.Errorf("%s does not create the namespace %q the ConfigMap names", valuesFile, ns)
	}
}

// server.dynamicConfig is deploy/temporal/dynamicconfig.yaml, the file dev
// mode embeds, compose mounts and internal/devserver's tests check against
// the server's registry. After changing that file, run
// `go test ./deploy -run TestTemporalHelmValuesDynamicConfig -update`.
func TestTemporalHelmValuesDynamicConfig(t *testing.T) {
	raw, v := values(t)
	if *update {
		raw = withDynamicConfig(t, raw)
		if err := os.WriteFile(valuesFile, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
	}
	var want map[string]any
	if err := yaml.Unmarshal(deploy.DynamicConfigYAML(), &want); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("temporal/dynamicconfig.yaml sets nothing")
	}
	if got := at(v, "server", "dynamicConfig"); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: server.dynamicConfig is not temporal/dynamicconfig.yaml; run go test ./deploy -run TestTemporalHelmValuesDynamicConfig -update\n got: %v\nwant: %v", valuesFile, got, want)
	}
}

// withDynamicConfig replaces the lines under "  dynamicConfig:" (up to the
// next top-level key) with temporal/dynamicconfig.yaml, indented, comments
// and all.
func withDynamicConfig(t *testing.T, raw []byte) []byte {
	t.Helper()
	const key = "\n  dynamicConfig:\n"
	start := bytes.Index(raw, []byte(key))
	if start < 0 {
		t.Fatalf("%s has no server.dynamicConfig", valuesFile)
	}
	start += len(key)
	end := start
	for end < len(raw) {
		next := bytes.IndexByte(raw[end:], '\n')
		line := raw[end:]
		if next >= 0 {
			line = raw[end : end+next]
		}
		if len(line) > 0 && line[0] != ' ' && line[0] != '#' {
			break // the next top-level key
		}
		if next < 0 {
			end = len(raw)
			break
		}
		end += next + 1
	}
	var block bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(string(deploy.DynamicConfigYAML()), "\n"), "\n") {
		if line != "" {
			block.WriteString("    ")
		}
		block.WriteString(line + "\n")
	}
	return append(append(append([]byte(nil), raw[:start]...), block.Bytes()...), raw[end:]...)
}
