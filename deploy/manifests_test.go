package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The Kubernetes manifests (deploy/k8s) are read here without a cluster:
// each file decodes strictly into the API types of its kind, and the base
// and the production overlay are built with kustomize's own library, as
// `kubectl apply -k` builds them.

const (
	k8sDir        = "k8s"
	baseDir       = "k8s/base"
	productionDir = "k8s/overlays/production"
)

// objects are the decoded objects of one manifest set, by kind and name.
type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	netpols     map[string]*networkingv1.NetworkPolicy
}

func newObjects() *objects {
	return &objects{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		configMaps:  map[string]*corev1.ConfigMap{},
		secrets:     map[string]*corev1.Secret{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		netpols:     map[string]*networkingv1.NetworkPolicy{},
	}
}

// add decodes one YAML document strictly (an unknown or misspelt field is an
// error, as is a duplicate key) into the type of its apiVersion and kind.
// A kind this file does not know is an error too: add it here, with the
// checks it needs, before shipping it.
func (o *objects) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var (
		obj  any
		meta *metav1.ObjectMeta
		keep func()
	)
	switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
	case "apps/v1 Deployment":
		d := &appsv1.Deployment{}
		obj, meta, keep = d, &d.ObjectMeta, func() { o.deployments[d.Name] = d }
	case "v1 Service":
		s := &corev1.Service{}
		obj, meta, keep = s, &s.ObjectMeta, func() { o.services[s.Name] = s }
	case "v1 ConfigMap":
		c := &corev1.ConfigMap{}
		obj, meta, keep = c, &c.ObjectMeta, func() { o.configMaps[c.Name] = c }
	case "v1 Secret":
		s := &corev1.Secret{}
		obj, meta, keep = s, &s.ObjectMeta, func() { o.secrets[s.Name] = s }
	case "policy/v1 PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		obj, meta, keep = p, &p.ObjectMeta, func() { o.pdbs[p.Name] = p }
	case "autoscaling/v2 HorizontalPodAutoscaler":
		h := &autoscalingv2.HorizontalPodAutoscaler{}
		obj, meta, keep = h, &h.ObjectMeta, func() { o.hpas[h.Name] = h }
	case "networking.k8s.io/v1 NetworkPolicy":
		n := &networkingv1.NetworkPolicy{}
		obj, meta, keep = n, &n.ObjectMeta, func() { o.netpols[n.Name] = n }
	default:
		return fmt.Errorf("kind %q: not one these tests know", gvk)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if meta.Name == "" {
		return fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	keep()
	return nil
}

// yamlDocuments splits a multi-document YAML file, skipping empty ones.
func yamlDocuments(raw []byte) [][]byte {
	var docs [][]byte
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
	return docs
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// manifestFiles lists the Kubernetes object files under deploy/k8s: every
// YAML file but the kustomizations and the Helm values.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch name := d.Name(); {
		case name == "kustomization.yaml", name == "temporal-values.yaml":
		case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests under deploy/k8s")
	}
	return files
}

// Every manifest, the overlay's patches included, decodes strictly into
// the Kubernetes API type of its kind.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, path := range manifestFiles(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		o := newObjects()
		for i, doc := range yamlDocuments(raw) {
			if err := o.add(doc); err != nil {
				t.Errorf("%s, document %d: %v", path, i+1, err)
			}
		}
	}
}

// The strict decoding these tests rely on refuses what kubectl would drop
// or refuse: a misspelt field, a duplicate key, a field of another kind.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"duplicate key":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  A: b\n  A: c\n",
		"wrong kind":     "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec:\n  minReplicas: 1\n",
		"unknown kind":   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
	} {
		if err := newObjects().add([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Each kustomization decodes strictly into kustomize's own type, and names
// only files that exist.
func TestKustomizationsAreStrict(t *testing.T) {
	for _, dir := range []string{baseDir, productionDir} {
		raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k types.Kustomization
		if err := yaml.UnmarshalStrict(raw, &k); err != nil {
			t.Errorf("%s/kustomization.yaml: %v", dir, err)
			continue
		}
		paths := slices.Clone(k.Resources)
		for _, p := range k.Patches {
			if p.Path != "" {
				paths = append(paths, p.Path)
			}
		}
		for _, p := range paths {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Errorf("%s/kustomization.yaml names %s: %v", dir, p, err)
			}
		}
	}
}

// build runs kustomize on dir, as `kubectl apply -k dir` does: a resource
// that does not exist, or a patch whose target is not in the build, fails
// here. The result is decoded strictly.
func build(t *testing.T, dir string) *objects {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	o := newObjects()
	for _, r := range resources.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := o.add(doc); err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
	}
	return o
}

// builds are the manifest sets a user can apply.
func builds(t *testing.T) map[string]*objects {
	return map[string]*objects{baseDir: build(t, baseDir), productionDir: build(t, productionDir)}
}

// The overlay changes what production needs and keeps the rest: its
// namespace, the image tag, the API's replicas, bigger resources and
// worker autoscaling bounds.
func TestProductionOverlay(t *testing.T) {
	base, prod := build(t, baseDir), build(t, productionDir)
	if len(prod.deployments) != len(base.deployments) || len(prod.pdbs) != len(base.pdbs) ||
		len(prod.hpas) != len(base.hpas) || len(prod.netpols) != len(base.netpols) ||
		len(prod.services) != len(base.services) || len(prod.configMaps) != len(base.configMaps) {
		t.Errorf("the overlay adds or drops objects of the base")
	}
	for name, d := range prod.deployments {
		if d.Namespace == "" {
			t.Errorf("deployment %s has no namespace in production", name)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if _, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("deployment %s: image %q has no pinned tag", name, c.Image)
			}
			baseC := base.deployments[name].Spec.Template.Spec.Containers[0]
			if c.Resources.Limits.Memory().Cmp(*baseC.Resources.Limits.Memory()) <= 0 {
				t.Errorf("deployment %s: production memory limit %s is not above the base's %s",
					name, c.Resources.Limits.Memory(), baseC.Resources.Limits.Memory())
			}
			if len(c.Env) != len(baseC.Env) {
				t.Errorf("deployment %s: the overlay's patch changed the number of variables (%d, base %d)", name, len(c.Env), len(baseC.Env))
			}
		}
	}
	if r := prod.deployments["workflow-backend-api"].Spec.Replicas; r == nil || *r < 3 {
		t.Errorf("production api replicas = %v, want at least 3", r)
	}
	if h := prod.hpas["workflow-backend-worker"]; h == nil || *h.Spec.MinReplicas <= *base.hpas["workflow-backend-worker"].Spec.MinReplicas {
		t.Errorf("production worker autoscaling does not raise the base's minimum")
	}
}
