package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// The CLI reads a cluster through client-go's dynamic client (cluster.go
// says why not controller-runtime's), so these tests fake that client.

// fakeCluster is a dynamic fake client holding objs; served says whether
// the Alloy resource is served.
func fakeCluster(t *testing.T, alloyServed bool, objs ...runtime.Object) (*clusterReader, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, workload.AddAlloyToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	listKinds := map[schema.GroupVersionResource]string{}
	for _, k := range workload.Kinds {
		listKinds[gvr(k)] = k.Name + "List"
	}
	// An empty scheme: the fake keeps and lists unstructured objects, as
	// the API server serves them to a dynamic client.
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	for _, o := range objs {
		// Created as the API server lists them: with apiVersion and kind.
		gvks, _, err := s.ObjectKinds(o)
		if err != nil {
			t.Fatal(err)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvks[0])
		k := workload.KindFor(gvks[0].GroupKind())
		if _, err := dyn.Resource(gvr(k)).Namespace(u.GetNamespace()).Create(t.Context(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	served := func(_ context.Context, r schema.GroupVersionResource) (bool, error) {
		return alloyServed && r == gvr(workload.KindAlloy), nil
	}
	return &clusterReader{dyn: dyn, served: served, progress: io.Discard}, dyn
}

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

func cm(namespace, name string, lbls map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: lbls,
			Annotations:   map[string]string{lastApplied: `{"kind":"ConfigMap"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}},
		Data: map[string]string{"config.alloy": "logging {}\n"},
	}
}

// agentDaemonSet is an Alloy DaemonSet reading ConfigMap config.
func agentDaemonSet(namespace, name, config string, lbls map[string]string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: lbls},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "alloy", Image: "grafana/alloy:v1.5.1", Args: []string{"run", "/etc/alloy/config.alloy"},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/alloy"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: config}}}}},
		}}},
	}
}

func docNames(docs []manifest.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, objectPath(d))
	}
	slices.Sort(out)
	return out
}

// TestClusterRead: what an audit lists for each scope.
func TestClusterRead(t *testing.T) {
	alloy := map[string]string{"app.kubernetes.io/name": "alloy"}
	objs := []runtime.Object{
		ns("a"), ns("b"),
		agentDaemonSet("a", "alloy", "alloy-config", alloy),
		cm("a", "alloy-config", nil), // read by the selected DaemonSet, unlabelled
		cm("a", "other", nil),
		cm("a", "labelled", alloy),
		agentDaemonSet("b", "agent", "agent-config", nil),
		cm("b", "agent-config", nil),
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "hpa"}},
		&workload.Alloy{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "operated", Labels: alloy}},
	}
	for _, tc := range []struct {
		name  string
		alloy bool
		scope auditScope
		want  []string
	}{
		{"everything, Alloy not served", false, auditScope{}, []string{
			"ConfigMap/a/alloy-config", "ConfigMap/a/labelled", "ConfigMap/a/other", "ConfigMap/b/agent-config",
			"DaemonSet/a/alloy", "DaemonSet/b/agent", "HorizontalPodAutoscaler/b/hpa", "Namespace/a", "Namespace/b",
		}},
		{"everything, Alloy served", true, auditScope{}, []string{
			"Alloy/a/operated", "ConfigMap/a/alloy-config", "ConfigMap/a/labelled", "ConfigMap/a/other", "ConfigMap/b/agent-config",
			"DaemonSet/a/alloy", "DaemonSet/b/agent", "HorizontalPodAutoscaler/b/hpa", "Namespace/a", "Namespace/b",
		}},
		{"namespace b", true, auditScope{namespaces: []string{"b"}}, []string{
			"ConfigMap/b/agent-config", "DaemonSet/b/agent", "HorizontalPodAutoscaler/b/hpa", "Namespace/b",
		}},
		{"selector: the workloads, their ConfigMaps, ConfigMaps matching it, every HPA", true, auditScope{selector: "app.kubernetes.io/name=alloy"}, []string{
			"Alloy/a/operated", "ConfigMap/a/alloy-config", "ConfigMap/a/labelled",
			"DaemonSet/a/alloy", "HorizontalPodAutoscaler/b/hpa", "Namespace/a", "Namespace/b",
		}},
		{"selector and namespace", true, auditScope{namespaces: []string{"b"}, selector: "app.kubernetes.io/name=alloy"}, []string{
			"HorizontalPodAutoscaler/b/hpa", "Namespace/b",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr, _ := fakeCluster(t, tc.alloy, objs...)
			docs, errs, err := cr.read(t.Context(), tc.scope, workload.Recognizer{})
			if err != nil || len(errs) > 0 {
				t.Fatalf("got errors %v %v, want none", err, errs)
			}
			if got := docNames(docs); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for _, d := range docs {
				if d.Object == nil {
					t.Errorf("%s: not decoded", objectPath(d))
					continue
				}
				m := d.Object.(metav1.Object)
				if _, ok := m.GetAnnotations()[lastApplied]; ok || len(m.GetManagedFields()) > 0 {
					t.Errorf("%s: got last-applied %v, managedFields %v; want both stripped", objectPath(d), m.GetAnnotations(), m.GetManagedFields())
				}
				if d.File != "" {
					t.Errorf("%s: got file %q, want none", objectPath(d), d.File)
				}
			}
		})
	}
}

// TestClusterReadForbidden: a forbidden list is reported, naming the call,
// and the other kinds are still read; a call that reaches no API server
// ends the read.
func TestClusterReadForbidden(t *testing.T) {
	cr, dyn := fakeCluster(t, false, ns("a"), agentDaemonSet("a", "alloy", "c", nil), cm("a", "c", nil))
	dyn.PrependReactor("list", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, "", errors.New(`User "auditor" cannot list resource "daemonsets"`))
	})
	docs, errs, err := cr.read(t.Context(), auditScope{}, workload.Recognizer{})
	if err != nil {
		t.Fatalf("got %v, want the read to go on", err)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "list daemonsets.apps in all namespaces: daemonsets.apps") || !strings.Contains(errs[0].Error(), "is forbidden") {
		t.Errorf("got errors %v, want one: list daemonsets.apps in all namespaces: daemonsets.apps ... is forbidden ...", errs)
	}
	if got, want := docNames(docs), []string{"ConfigMap/a/c", "Namespace/a"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	cr, dyn = fakeCluster(t, false, ns("a"))
	dyn.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused")
	})
	if _, _, err := cr.read(t.Context(), auditScope{}, workload.Recognizer{}); err == nil || !strings.Contains(err.Error(), "list namespaces: dial tcp") {
		t.Errorf("got %v, want list namespaces: dial tcp ...", err)
	}
}

// withCluster makes the audit command read cr.
func withCluster(t *testing.T, cr *clusterReader) {
	t.Helper()
	old := connect
	connect = func(_ *auditFlags, progress io.Writer) (*clusterReader, error) {
		cr.progress = progress
		return cr, nil
	}
	t.Cleanup(func() { connect = old })
}

// TestAuditEqualsCheck: audit of a (fake) cluster holding the objects of
// examples reports what check reports on the files, and exits as check.
// Not parallel: it replaces connect.
func TestAuditEqualsCheck(t *testing.T) {
	for _, ex := range []string{"mg001-fires", "mg004-fires", "mg011-fires", "mg004-passes"} {
		t.Run(ex, func(t *testing.T) {
			path := "../../examples/" + ex + "/manifest.yaml"
			docs, err := manifest.ReadPaths([]string{path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var objs []runtime.Object
			for _, d := range docs {
				if d.Object != nil {
					objs = append(objs, d.Object)
				}
			}
			cr, _ := fakeCluster(t, false, objs...)
			withCluster(t, cr)
			want := modeguard(t, "", "check", path, "-o", "json")
			got := modeguard(t, "", "audit", "-o", "json")
			if got.code != want.code {
				t.Errorf("audit exit %d, check exit %d; stderr: %s", got.code, want.code, got.stderr)
			}
			g, w := findingKeys(decodeJSON(t, got.stdout)), findingKeys(decodeJSON(t, want.stdout))
			if !slices.Equal(g, w) {
				t.Errorf("audit found %q, check %q", g, w)
			}
			if strings.HasSuffix(ex, "-fires") && len(w) == 0 {
				t.Errorf("check found nothing in %s, want its rule to fire", ex)
			}
			if !strings.Contains(got.stderr, "DaemonSet: ") || !strings.Contains(got.stderr, "Alloy: not served by this cluster, skipped") {
				t.Errorf("progress: got %q, want a count per kind", got.stderr)
			}
		})
	}
}

// findingKeys are the findings as audit and check must agree on them:
// rule, object, component, action, config key and position.
func findingKeys(o jsonOut) []string {
	out := []string{}
	for _, f := range o.Findings {
		out = append(out, fmt.Sprintf("%s %s %s/%s/%s %s %s:%d:%d", f.Rule, f.Action, f.Kind, f.Namespace, f.Name, f.Component, f.ConfigKey, f.ConfigLine, f.ConfigColumn))
	}
	slices.Sort(out)
	return out
}

// TestAuditOutputs: audit findings name the object, not a file, in text,
// and a failed call is a note and exit 2 after the findings.
func TestAuditOutputs(t *testing.T) {
	docs, err := manifest.ReadPaths([]string{"../../examples/mg004-fires/manifest.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, d := range docs {
		if d.Object != nil {
			objs = append(objs, d.Object)
		}
	}
	cr, dyn := fakeCluster(t, false, objs...)
	withCluster(t, cr)
	r := modeguard(t, "", "audit", "--fail-on", "never", "-o", "text")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "ConfigMap/mg004-fires/") || strings.Contains(r.stdout, ":0 ") {
		t.Errorf("text: got\n%s\nwant findings at Kind/namespace/name", r.stdout)
	}
	r = modeguard(t, "", "audit", "--fail-on", "never", "-o", "sarif", "-q")
	var sl sarifLog
	if err := json.Unmarshal([]byte(r.stdout), &sl); err != nil || len(sl.Runs) != 1 || len(sl.Runs[0].Results) == 0 {
		t.Fatalf("sarif: %v\n%s", err, r.stdout)
	}
	for _, res := range sl.Runs[0].Results {
		if len(res.Locations) != 1 || res.Locations[0].Physical != nil || len(res.Locations[0].Logical) != 1 ||
			!strings.HasPrefix(res.Locations[0].Logical[0].FullyQualifiedName, "ConfigMap/mg004-fires/alloy/config.alloy") {
			t.Errorf("sarif: got locations %+v, want one logical location ConfigMap/mg004-fires/alloy/config.alloy", res.Locations)
		}
	}
	dyn.PrependReactor("list", "horizontalpodautoscalers", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "", errors.New("no"))
	})
	r = modeguard(t, "", "audit", "-o", "json", "-q")
	if r.code != exitUsage {
		t.Errorf("exit %d, want 2 (incomplete)", r.code)
	}
	o := decodeJSON(t, r.stdout)
	if len(o.Findings) == 0 || len(o.Notes) == 0 || !strings.HasPrefix(o.Notes[len(o.Notes)-1].Note, "not audited: list horizontalpodautoscalers.autoscaling in all namespaces: ") {
		t.Errorf("json: got %d findings, notes %+v; want findings and the failed call as a note", len(o.Findings), o.Notes)
	}
	if !strings.Contains(r.stderr, "the audit is incomplete: 1 API call failed") || strings.Contains(r.stderr, "DaemonSet: ") {
		t.Errorf("stderr: got %q, want the incomplete audit and no progress (-q)", r.stderr)
	}
	if r := modeguard(t, "", "audit", "-l", "a=("); r.code != exitUsage || !strings.Contains(r.stderr, "--selector") {
		t.Errorf("bad selector: exit %d, stderr %q; want 2 naming --selector", r.code, r.stderr)
	}
}
