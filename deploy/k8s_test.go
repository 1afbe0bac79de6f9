package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	temporallog "go.temporal.io/sdk/log"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/workflow-backend/workflow-backend/api"
	"github.com/workflow-backend/workflow-backend/internal/app"
	"github.com/workflow-backend/workflow-backend/internal/config"
	"github.com/workflow-backend/workflow-backend/internal/metrics"
	"github.com/workflow-backend/workflow-backend/internal/store"
	"github.com/workflow-backend/workflow-backend/worker"
)

// The Deployments of deploy/k8s checked against the code they run: the
// variables the binaries read, the routes they serve, the image the
// Dockerfile builds, the drain the grace periods must outlast.

const (
	apiDeployment    = "workflow-backend-api"
	workerDeployment = "workflow-backend-worker"
)

// connectorSecrets are the variables only the workers may hold (README,
// "I/O nodes"): the API faces the network and runs no I/O node.
var connectorSecrets = []string{"STRIPE_SECRET_KEY", "SENDGRID_API_KEY", "NOTIFY_WEBHOOKS"}

func container(t *testing.T, o *objects, deployment string) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	d, ok := o.deployments[deployment]
	if !ok {
		t.Fatalf("no deployment %s", deployment)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("deployment %s has %d containers, want 1", deployment, n)
	}
	return d, d.Spec.Template.Spec.Containers[0]
}

// Every variable a container is given, literally, from a ConfigMap or from
// a Secret, is one internal/config reads: a misspelt or renamed variable
// would otherwise leave its setting at the default without a word.
func TestManifestEnvironmentIsKnown(t *testing.T) {
	known := config.Variables()
	for dir, o := range builds(t) {
		checked := map[string]bool{} // ConfigMaps, each reported once
		for name, d := range o.deployments {
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if !slices.Contains(known, e.Name) {
						t.Errorf("%s: %s/%s sets %s, which no process reads", dir, name, c.Name, e.Name)
					}
					if ref := secretRef(e); ref != nil && ref.Key != e.Name {
						t.Errorf("%s: %s/%s takes %s from key %q of Secret %s; name the key as the variable",
							dir, name, c.Name, e.Name, ref.Key, ref.Name)
					}
				}
				for _, from := range c.EnvFrom {
					if from.SecretRef != nil || from.Prefix != "" {
						t.Errorf("%s: %s/%s: envFrom a Secret or with a prefix hides which variables it sets; use env", dir, name, c.Name)
					}
					if from.ConfigMapRef == nil || checked[from.ConfigMapRef.Name] {
						continue
					}
					checked[from.ConfigMapRef.Name] = true
					cm, ok := o.configMaps[from.ConfigMapRef.Name]
					if !ok {
						t.Errorf("%s: %s/%s: envFrom names ConfigMap %s, which is not in the build", dir, name, c.Name, from.ConfigMapRef.Name)
						continue
					}
					for key := range cm.Data {
						if !slices.Contains(known, key) {
							t.Errorf("%s: ConfigMap %s sets %s, which no process reads", dir, cm.Name, key)
						}
					}
				}
			}
		}
	}
}

func secretRef(e corev1.EnvVar) *corev1.SecretKeySelector {
	if e.ValueFrom == nil {
		return nil
	}
	return e.ValueFrom.SecretKeyRef
}

// Secrets are referenced, never written into the manifests, and the API
// is given none of the connectors' secrets.
func TestManifestSecrets(t *testing.T) {
	for dir, o := range builds(t) {
		if len(o.secrets) != 0 {
			t.Errorf("%s: the manifests carry Secret objects; they are created outside (deploy/README.md)", dir)
		}
		for name, cm := range o.configMaps {
			for key := range cm.Data {
				if slices.Contains(connectorSecrets, key) || slices.Contains([]string{"PAYLOAD_KEYS", "API_KEYS", "ADMIN_API_KEYS", "DATABASE_URL"}, key) {
					t.Errorf("%s: ConfigMap %s holds the secret %s", dir, name, key)
				}
			}
		}
		_, api := container(t, o, apiDeployment)
		_, wrk := container(t, o, workerDeployment)
		for _, e := range api.Env {
			if slices.Contains(connectorSecrets, e.Name) {
				t.Errorf("%s: the api is given %s", dir, e.Name)
			}
		}
		for _, secret := range []string{"DATABASE_URL", "PAYLOAD_KEYS", "STRIPE_SECRET_KEY"} {
			if !slices.ContainsFunc(wrk.Env, func(e corev1.EnvVar) bool { return e.Name == secret && secretRef(e) != nil }) {
				t.Errorf("%s: the worker does not take %s from a Secret", dir, secret)
			}
		}
		for _, secret := range []string{"DATABASE_URL", "PAYLOAD_KEYS", "API_KEYS", "ADMIN_API_KEYS"} {
			if !slices.ContainsFunc(api.Env, func(e corev1.EnvVar) bool { return e.Name == secret && secretRef(e) != nil }) {
				t.Errorf("%s: the api does not take %s from a Secret", dir, secret)
			}
		}
	}
}

// environ is the environment a container starts with, as the kubelet
// resolves it: the ConfigMap, the literal values, the container's limits;
// Secrets are replaced by valid stand-ins (a SQLite file for the database).
func environ(t *testing.T, o *objects, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			for k, v := range o.configMaps[from.ConfigMapRef.Name].Data {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ResourceFieldRef != nil:
			ref := e.ValueFrom.ResourceFieldRef
			if ref.ContainerName != c.Name || ref.Resource != "limits.memory" {
				t.Fatalf("%s: %s from %s of %s", c.Name, e.Name, ref.Resource, ref.ContainerName)
			}
			env[e.Name] = strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10)
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = standIn(t, e.Name)
		default:
			t.Fatalf("%s: %s comes from neither a value, a Secret nor the limits", c.Name, e.Name)
		}
	}
	return env
}

func standIn(t *testing.T, name string) string {
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	switch name {
	case "DATABASE_URL":
		return filepath.Join(t.TempDir(), "app.db")
	case "PAYLOAD_KEYS":
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		return "k1=" + base64.StdEncoding.EncodeToString(key)
	case "API_KEYS":
		return "client=" + secret()
	case "ADMIN_API_KEYS":
		return "admin=" + secret()
	case "NOTIFY_WEBHOOKS":
		return "ops=https://hooks.example.com/" + secret()
	case "STRIPE_SECRET_KEY":
		return "sk_test_" + secret()
	default:
		return "stand-in-" + secret()
	}
}

// The configuration each container starts with passes the binaries' own
// checks (config.Load), limits and stand-in secrets included.
func TestManifestConfigurationLoads(t *testing.T) {
	for dir, o := range builds(t) {
		for _, name := range []string{apiDeployment, workerDeployment} {
			_, c := container(t, o, name)
			cfg, err := config.Load(environ(t, o, c))
			if err != nil {
				t.Errorf("%s: %s: %v", dir, name, err)
				continue
			}
			if !strings.HasSuffix(cfg.TemporalAddress, ":7233") || cfg.PaymentsProvider != config.PaymentsStripe {
				t.Errorf("%s: %s: TEMPORAL_ADDRESS %q, PAYMENTS_PROVIDER %q", dir, name, cfg.TemporalAddress, cfg.PaymentsProvider)
			}
			if limit := c.Resources.Limits.Memory().Value(); int64(cfg.MaxMemory) != limit {
				t.Errorf("%s: %s: MAX_MEMORY %d is not the memory limit %d", dir, name, cfg.MaxMemory, limit)
			}
		}
	}
}

// probes lists a container's HTTP probes by kind; a probe of another kind
// is an error (every probe here names a route).
func probes(t *testing.T, c corev1.Container) map[string]*corev1.HTTPGetAction {
	t.Helper()
	out := map[string]*corev1.HTTPGetAction{}
	for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil {
			t.Errorf("%s: the %s probe is not an HTTP GET", c.Name, kind)
			continue
		}
		out[kind] = p.HTTPGet
	}
	return out
}

// containerPort resolves a probe's or a Service's port (a number or a
// container port's name) to the number the container listens on.
func containerPort(t *testing.T, c corev1.Container, port intstr.IntOrString) int {
	t.Helper()
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("%s has no container port %s", c.Name, port.String())
	return 0
}

// The API's probes name routes the API serves, on the port it listens on
// (PORT), and answer without an API key under the configuration the
// manifests give it (API keys set: PUBLIC_ROUTES must open them). The API
// is the real one, built as cmd/api builds it, over a SQLite database and
// a Temporal client that reaches no server: /health then answers 503 with
// the failing check, which is still its route answering.
func TestAPIProbesAreRealRoutes(t *testing.T) {
	for dir, o := range builds(t) {
		_, c := container(t, o, apiDeployment)
		env := environ(t, o, c)
		cfg, err := config.Load(env)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.APIKeys) == 0 {
			t.Fatal("the api is given no API_KEYS")
		}
		handler := realAPI(t, cfg)
		paths := map[string]bool{}
		for kind, get := range probes(t, c) {
			if port := containerPort(t, c, get.Port); port != cfg.Port {
				t.Errorf("%s: api %s probe on port %d; the API listens on PORT %d", dir, kind, port, cfg.Port)
			}
			paths[get.Path] = true
		}
		if !paths["/health"] {
			t.Errorf("%s: no api probe asks /health", dir)
		}
		for path := range paths {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			ok := rec.Code == http.StatusOK || (path == "/health" && rec.Code == http.StatusServiceUnavailable &&
				strings.Contains(rec.Body.String(), `"temporal":"unavailable"`))
			if !ok {
				t.Errorf("%s: GET %s without a key: %d %s", dir, path, rec.Code, rec.Body)
			}
		}
		// The check above can fail: a route the API does not have is 404.
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code == http.StatusOK {
			t.Errorf("GET /healthz answered 200; the probe check proves nothing")
		}
	}
}

// realAPI builds the API as the api command does (app.NewCore, NewAPI)
// with its co-located worker's eager start off.
func realAPI(t *testing.T, cfg config.Config) http.Handler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	core, err := app.NewCore(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// Port 1 on loopback: nothing listens, so every call fails at once.
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: temporallog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	srv, err := core.NewAPI(tc, st, false)
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// The worker's probes name the route of its metrics server (the only HTTP
// it serves), on the port of METRICS_ADDR, asked of the real server.
func TestWorkerProbesAreRealRoutes(t *testing.T) {
	for dir, o := range builds(t) {
		_, c := container(t, o, workerDeployment)
		cfg, err := config.Load(environ(t, o, c))
		if err != nil {
			t.Fatal(err)
		}
		_, metricsPort, err := net.SplitHostPort(cfg.MetricsAddr)
		if err != nil {
			t.Fatalf("%s: METRICS_ADDR %q: %v", dir, cfg.MetricsAddr, err)
		}
		m, err := metrics.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Serve(ctx, ln) }()
		kinds := probes(t, c)
		if kinds["liveness"] == nil {
			t.Errorf("%s: the worker has no liveness probe", dir)
		}
		for kind, get := range kinds {
			if port := containerPort(t, c, get.Port); strconv.Itoa(port) != metricsPort {
				t.Errorf("%s: worker %s probe on port %d; METRICS_ADDR is %s", dir, kind, port, cfg.MetricsAddr)
			}
			resp, err := http.Get("http://" + ln.Addr().String() + get.Path)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: worker %s probe GET %s: %d", dir, kind, get.Path, resp.StatusCode)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// dockerfile is what deploy/Dockerfile says about the image it builds.
type dockerfile struct {
	tag      string   // the -t of the build command in its header
	user     string   // the final USER
	binaries []string // what it copies to /usr/local/bin
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	if m := regexp.MustCompile(`docker build -f deploy/Dockerfile -t (\S+) \.`).FindSubmatch(raw); m != nil {
		d.tag = string(m[1])
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "USER":
			d.user = fields[1]
		case len(fields) > 2 && fields[0] == "COPY" && fields[len(fields)-1] == "/usr/local/bin/":
			for _, src := range fields[1 : len(fields)-1] {
				if !strings.HasPrefix(src, "--") {
					d.binaries = append(d.binaries, "/usr/local/bin/"+filepath.Base(src))
				}
			}
		}
	}
	if d.tag == "" || d.user == "" || len(d.binaries) == 0 {
		t.Fatalf("Dockerfile: cannot find its build command's tag, its USER or its binaries: %+v", d)
	}
	return d
}

// imageName is an image reference without its tag or digest.
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// The image the Deployments run is the one deploy/Dockerfile builds and
// compose uses, under the registry name the overlay gives it, and each
// container runs one of the binaries the image holds.
func TestManifestImageIsTheDockerfiles(t *testing.T) {
	df := readDockerfile(t)
	if composeImage := readCompose(t).Services["api"].Image; imageName(composeImage) != df.tag {
		t.Errorf("compose builds %q; the Dockerfile's build command tags %q", composeImage, df.tag)
	}
	want := map[string]string{apiDeployment: "/usr/local/bin/api", workerDeployment: "/usr/local/bin/worker"}
	base, prod := build(t, baseDir), build(t, productionDir)
	for name, binary := range want {
		_, c := container(t, base, name)
		if c.Image != df.tag {
			t.Errorf("base: %s runs image %q, want %q (what deploy/Dockerfile builds)", name, c.Image, df.tag)
		}
		if !slices.Equal(c.Command, []string{binary}) || !slices.Contains(df.binaries, binary) {
			t.Errorf("%s runs %v; the image holds %v", name, c.Command, df.binaries)
		}
		_, pc := container(t, prod, name)
		if n := imageName(pc.Image); n != df.tag && !strings.HasSuffix(n, "/"+df.tag) {
			t.Errorf("production: %s runs %q, not the image %q under a registry", name, pc.Image, df.tag)
		}
	}
}

// Every container runs as the image's non-root user with nothing more
// than it needs: no privilege escalation, no capabilities, the runtime's
// seccomp profile, a read-only root filesystem with what it writes on a
// volume, no service account token, and resources it asks for and is
// bounded by.
func TestManifestSecurityAndResources(t *testing.T) {
	uid, _, _ := strings.Cut(readDockerfile(t).user, ":")
	if n, err := strconv.ParseInt(uid, 10, 64); err != nil || n == 0 {
		t.Errorf("the Dockerfile's USER %q is not a numeric non-root user", uid)
	}
	for dir, o := range builds(t) {
		for name, d := range o.deployments {
			pod := d.Spec.Template.Spec
			psc := pod.SecurityContext
			switch {
			case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
				t.Errorf("%s: %s: runAsNonRoot is not set", dir, name)
			case psc.RunAsUser == nil || strconv.FormatInt(*psc.RunAsUser, 10) != uid:
				t.Errorf("%s: %s: runAsUser is not the image's user %s", dir, name, uid)
			case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
				t.Errorf("%s: %s: seccomp profile is not RuntimeDefault", dir, name)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("%s: %s mounts a service account token it does not use", dir, name)
			}
			for _, c := range pod.Containers {
				sc := c.SecurityContext
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
					sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
					sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
					t.Errorf("%s: %s/%s: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL", dir, name, c.Name)
				}
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
					if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
						t.Errorf("%s: %s/%s: %s request %s, limit %s", dir, name, c.Name, r, req.String(), lim.String())
					}
				}
				cfg, err := config.Load(environ(t, o, c))
				if err != nil {
					t.Fatal(err)
				}
				if name == workerDeployment && !mounted(c, cfg.StorageRoot) {
					t.Errorf("%s: %s: STORAGE_ROOT %s is on the read-only root filesystem", dir, name, cfg.StorageRoot)
				}
			}
		}
	}
}

func mounted(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return !m.ReadOnly && (path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/"))
	})
}

// A pod gets SIGTERM and then terminationGracePeriodSeconds before
// SIGKILL. The worker's must outlast its drain (worker.DefaultStopTimeout);
// the API's its preStop pause, its HTTP drain (api.DrainTimeout of
// EXECUTE_WAIT_MAX) and then its co-located worker's drain.
func TestManifestGracePeriodsOutlastTheDrain(t *testing.T) {
	for dir, o := range builds(t) {
		wd, wc := container(t, o, workerDeployment)
		if got := grace(wd); got <= worker.DefaultStopTimeout+preStop(wc) {
			t.Errorf("%s: worker terminationGracePeriodSeconds %v is not above its drain %v", dir, got, worker.DefaultStopTimeout)
		}
		ad, ac := container(t, o, apiDeployment)
		cfg, err := config.Load(environ(t, o, ac))
		if err != nil {
			t.Fatal(err)
		}
		need := preStop(ac) + api.DrainTimeout(cfg.WaitMax)
		if cfg.APIWorker {
			need += worker.DefaultStopTimeout
		}
		if got := grace(ad); got <= need {
			t.Errorf("%s: api terminationGracePeriodSeconds %v is not above its shutdown %v", dir, got, need)
		}
	}
}

func grace(d *appsv1.Deployment) time.Duration {
	if s := d.Spec.Template.Spec.TerminationGracePeriodSeconds; s != nil {
		return time.Duration(*s) * time.Second
	}
	return 30 * time.Second // Kubernetes' default
}

func preStop(c corev1.Container) time.Duration {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return 0
	}
	if s := c.Lifecycle.PreStop.Sleep; s != nil {
		return time.Duration(s.Seconds) * time.Second
	}
	return 0
}

func selects(t *testing.T, sel *metav1.LabelSelector, d *appsv1.Deployment) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(d.Spec.Template.Labels))
}

// Each Deployment has a PodDisruptionBudget and a NetworkPolicy that select
// its pods; the API's Service reaches its HTTP port; the workers scale on
// CPU through an autoscaler that owns their replica count.
func TestManifestAvailabilityAndNetwork(t *testing.T) {
	for dir, o := range builds(t) {
		for name, d := range o.deployments {
			if !selects(t, d.Spec.Selector, d) {
				t.Errorf("%s: %s's selector does not match its pods", dir, name)
			}
			pdbs := 0
			for _, p := range o.pdbs {
				if selects(t, p.Spec.Selector, d) {
					pdbs++
				}
			}
			if pdbs != 1 {
				t.Errorf("%s: %d PodDisruptionBudgets select %s's pods, want 1", dir, pdbs, name)
			}
			policies := 0
			for _, np := range o.netpols {
				if !selects(t, &np.Spec.PodSelector, d) {
					continue
				}
				policies++
				if len(np.Spec.PolicyTypes) != 2 || len(np.Spec.Egress) == 0 {
					t.Errorf("%s: NetworkPolicy %s does not restrict both ingress and egress", dir, np.Name)
				}
				for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
					allowed := slices.ContainsFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
						return slices.ContainsFunc(r.Ports, func(pp networkingv1.NetworkPolicyPort) bool {
							return pp.Port != nil && pp.Port.IntValue() == int(p.ContainerPort)
						})
					})
					if !allowed {
						t.Errorf("%s: NetworkPolicy %s does not let traffic reach %s's port %d", dir, np.Name, name, p.ContainerPort)
					}
				}
			}
			if policies != 1 {
				t.Errorf("%s: %d NetworkPolicies select %s's pods, want 1", dir, policies, name)
			}
		}

		svc, ok := o.services[apiDeployment]
		if !ok {
			t.Fatalf("%s: no Service %s", dir, apiDeployment)
		}
		ad, ac := container(t, o, apiDeployment)
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ad.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
			t.Errorf("%s: Service %s does not select the api's pods", dir, svc.Name)
		}
		cfg, err := config.Load(environ(t, o, ac))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range svc.Spec.Ports {
			if got := containerPort(t, ac, p.TargetPort); got != cfg.Port {
				t.Errorf("%s: Service port %d targets %d; the API listens on %d", dir, p.Port, got, cfg.Port)
			}
		}

		hpa, ok := o.hpas[workerDeployment]
		if !ok {
			t.Fatalf("%s: no autoscaler for the workers", dir)
		}
		wd := o.deployments[hpa.Spec.ScaleTargetRef.Name]
		if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || wd == nil || wd.Name != workerDeployment {
			t.Errorf("%s: the autoscaler targets %s %s", dir, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
		} else if wd.Spec.Replicas != nil {
			t.Errorf("%s: the worker Deployment sets replicas, which every apply would reset under the autoscaler", dir)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Errorf("%s: autoscaler bounds %v..%d: want at least 2, so a drain leaves a worker polling", dir, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
		}
		cpu := slices.ContainsFunc(hpa.Spec.Metrics, func(m autoscalingv2.MetricSpec) bool {
			return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
				m.Resource.Target.AverageUtilization != nil
		})
		if !cpu {
			t.Errorf("%s: the worker autoscaler does not scale on CPU utilisation", dir)
		}
	}
}
