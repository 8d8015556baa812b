package workload

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// alloyObject decodes an Alloy object with the given name and spec (YAML).
func alloyObject(t *testing.T, name, spec string) *Alloy {
	t.Helper()
	doc := "apiVersion: collectors.grafana.com/v1alpha1\nkind: Alloy\nmetadata:\n  name: " + name + "\n  namespace: monitoring\n"
	if spec != "" {
		doc += "spec:\n" + indent(spec, "  ")
	}
	obj, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	a, ok := obj.(*Alloy)
	if !ok {
		t.Fatalf("decoded a %T, want *Alloy", obj)
	}
	return a
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestAlloyFacts checks the mapping of each value of an Alloy object's spec
// to the facts of the workload the Alloy chart renders from it
// (grafana/alloy operations/helm/charts/alloy: values.yaml defaults,
// _helpers.tpl alloy.fullname, _config.tpl, containers/_agent.yaml,
// controllers/*.yaml, hpa.yaml).
func TestAlloyFacts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, obj, spec string
		check           func(t *testing.T, f *Facts)
	}{
		{"defaults: a DaemonSet named <release>-alloy reading the ConfigMap of that name", "metrics", "", func(t *testing.T, f *Facts) {
			want(t, "kind", f.Kind, "Alloy")
			want(t, "agent", f.Agent, true)
			want(t, "flavor", f.Flavor, FlavorAlloy)
			want(t, "mode", f.Mode, ModeDaemonSet)
			want(t, "modeSource", f.ModeSource, "spec.controller.type unset: the Alloy chart's default daemonset")
			want(t, "fullname", f.Alloy.Fullname, "metrics-alloy")
			want(t, "workloadKind", f.Alloy.WorkloadKind, "DaemonSet")
			want(t, "inline", f.Alloy.InlineConfig, true)
			want(t, "config", *f.Config, Config{Path: "/etc/alloy/config.alloy", Volume: "config", MountPath: "/etc/alloy", ConfigMap: "metrics-alloy", Keys: []string{"config.alloy"}})
			want(t, "storagePath", f.Run.StoragePath, "/tmp/alloy")
			want(t, "clustered", f.Run.Cluster.Enabled, false)
			want(t, "nodeNameEnv", f.NodeNameEnv, []string{"HOSTNAME", "K8S_NODE_NAME"})
			want(t, "hostNetwork", f.HostNetwork, false)
			want(t, "replicas", f.Replicas, (*int32)(nil))
			want(t, "replicated", f.Replicated, false)
			want(t, "mounts", mountPaths(f), []string{"/etc/alloy"})
			wantNote(t, f, "content is empty")
		}},
		{"a release name holding alloy is the fullname", "k8smon-alloy-metrics", "", func(t *testing.T, f *Facts) {
			want(t, "fullname", f.Alloy.Fullname, "k8smon-alloy-metrics")
			want(t, "configMap", f.Config.ConfigMap, "k8smon-alloy-metrics")
		}},
		{"nameOverride contained in the release name: the release name", "k8smon-alloy-logs", "nameOverride: alloy-logs", func(t *testing.T, f *Facts) {
			want(t, "fullname", f.Alloy.Fullname, "k8smon-alloy-logs")
		}},
		{"nameOverride not in the release name: <release>-<name>", "k8smon", "nameOverride: logs", func(t *testing.T, f *Facts) {
			want(t, "fullname", f.Alloy.Fullname, "k8smon-logs")
		}},
		{"fullnameOverride wins, truncated at 63 without a trailing dash", "x", "fullnameOverride: " + strings.Repeat("a", 62) + "-b", func(t *testing.T, f *Facts) {
			want(t, "fullname", f.Alloy.Fullname, strings.Repeat("a", 62))
		}},
		{"statefulset: replicas, serviceName, claim templates", "m", `
controller:
  type: statefulset
  replicas: 3
  volumeClaimTemplates:
  - metadata: {name: wal}
    spec: {accessModes: [ReadWriteOnce]}
alloy:
  mounts:
    extra:
    - {name: wal, mountPath: /tmp/alloy}
`, func(t *testing.T, f *Facts) {
			want(t, "mode", f.Mode, ModeStatefulSet)
			want(t, "modeSource", f.ModeSource, "spec.controller.type")
			want(t, "replicas", *f.Replicas, int32(3))
			want(t, "replicated", f.Replicated, true)
			want(t, "serviceName", f.ServiceName, "m-alloy")
			want(t, "claimTemplates", f.ClaimTemplates, []ClaimTemplate{{Name: "wal", MountPath: "/tmp/alloy"}})
		}},
		{"deployment with the horizontal autoscaler: an HPA, no replicas", "m", `
controller:
  type: deployment
  replicas: 1
  autoscaling:
    horizontal: {enabled: true, minReplicas: 2, maxReplicas: 10}
`, func(t *testing.T, f *Facts) {
			want(t, "mode", f.Mode, ModeDeployment)
			want(t, "hpa", *f.HPA, HPA{Name: "m-alloy", MinReplicas: 2, MaxReplicas: 10})
			want(t, "replicas (unset: 1)", *f.Replicas, int32(1))
			want(t, "replicated", f.Replicated, true)
		}},
		{"the older controller.autoscaling.enabled, its default bounds 1..5", "m", `
controller:
  type: statefulset
  autoscaling: {enabled: true}
`, func(t *testing.T, f *Facts) {
			want(t, "hpa", *f.HPA, HPA{Name: "m-alloy", MinReplicas: 1, MaxReplicas: 5})
		}},
		{"externalHPA: no HPA rendered, replicas left unset", "m", `
controller:
  type: statefulset
  replicas: 4
  autoscaling:
    horizontal: {enabled: true, externalHPA: true}
`, func(t *testing.T, f *Facts) {
			want(t, "hpa", f.HPA, (*HPA)(nil))
			want(t, "replicas (unset: 1)", *f.Replicas, int32(1))
		}},
		{"a daemonset renders no HPA", "m", `
controller:
  autoscaling:
    horizontal: {enabled: true, maxReplicas: 10}
`, func(t *testing.T, f *Facts) {
			want(t, "hpa", f.HPA, (*HPA)(nil))
			want(t, "replicated", f.Replicated, false)
		}},
		{"clustering: the flags and the <fullname>-cluster Service", "m", `
alloy:
  clustering: {enabled: true, name: logs}
`, func(t *testing.T, f *Facts) {
			want(t, "enabled", f.Run.Cluster.Enabled, true)
			want(t, "joinAddresses", f.Run.Cluster.JoinAddresses, []string{"m-alloy-cluster"})
			want(t, "name", f.Run.Cluster.Name, "logs")
		}},
		{"storagePath, extraArgs, extraEnv, hostNetwork, mounts", "m", `
controller:
  hostNetwork: true
  volumes:
    extra:
    - {name: journal, hostPath: {path: /var/log/journal}}
alloy:
  storagePath: /var/lib/alloy
  extraArgs: [--cluster.wait-for-size=2]
  extraEnv:
  - name: NODE_NAME
    valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
  mounts:
    varlog: true
    dockercontainers: true
    extra:
    - {name: journal, mountPath: /var/log/journal, readOnly: true}
`, func(t *testing.T, f *Facts) {
			want(t, "storagePath", f.Run.StoragePath, "/var/lib/alloy")
			want(t, "extraArgs", f.Run.Flags["cluster.wait-for-size"], "2")
			want(t, "nodeNameEnv", f.NodeNameEnv, []string{"HOSTNAME", "K8S_NODE_NAME", "NODE_NAME"})
			want(t, "hostNetwork", f.HostNetwork, true)
			want(t, "mounts", mountPaths(f), []string{"/etc/alloy", "/var/log", "/var/lib/docker/containers", "/var/log/journal"})
			var hostPaths []string
			for _, v := range f.Volumes {
				if v.Type == VolumeHostPath {
					hostPaths = append(hostPaths, v.HostPath)
				}
			}
			want(t, "hostPaths", hostPaths, []string{"/var/log", "/var/lib/docker/containers", "/var/log/journal"})
		}},
		{"configMap create false, name and key: the user's ConfigMap", "m", `
alloy:
  configMap: {create: false, name: my-config, key: main.alloy}
`, func(t *testing.T, f *Facts) {
			want(t, "inline", f.Alloy.InlineConfig, false)
			want(t, "config", *f.Config, Config{Path: "/etc/alloy/main.alloy", Volume: "config", MountPath: "/etc/alloy", ConfigMap: "my-config", Keys: []string{"main.alloy"}})
			want(t, "notes", f.Alloy.Notes, []string(nil))
		}},
		{"a template in content is noted, not checked", "m", `
alloy:
  configMap:
    content: 'prometheus.scrape "x" { targets = [] forward_to = [{{ .Values.x }}] }'
`, func(t *testing.T, f *Facts) {
			wantNote(t, f, "Helm template")
		}},
		{"alloy.secret.create: the config comes from a Secret, noted and not checked", "m", `
alloy:
  secret: {create: true, content: 'logging {}'}
  configMap:
    content: 'prometheus.scrape "x" { targets = [] forward_to = [] }'
`, func(t *testing.T, f *Facts) {
			want(t, "inline", f.Alloy.InlineConfig, false)
			want(t, "configMap", f.Config.ConfigMap, "")
			want(t, "volume secret", f.Volumes[0].Secret, "m-alloy")
			wantNote(t, f, `Secret "m-alloy"`)
		}},
		{"alloy.secret.name and key: the user's Secret, noted and not checked", "m", `
alloy:
  secret: {name: my-secret, key: main.alloy}
`, func(t *testing.T, f *Facts) {
			want(t, "inline", f.Alloy.InlineConfig, false)
			want(t, "config path", f.Config.Path, "/etc/alloy/main.alloy")
			want(t, "configMap", f.Config.ConfigMap, "")
			want(t, "volume secret", f.Volumes[0].Secret, "my-secret")
			wantNote(t, f, `Secret "my-secret"`)
		}},
		{"an unknown controller.type renders no workload", "m", "controller: {type: job}", func(t *testing.T, f *Facts) {
			want(t, "mode", f.Mode, "")
			want(t, "agent", f.Agent, true)
			want(t, "workloadKind", f.Alloy.WorkloadKind, "")
			wantNote(t, f, `"job" is none of`)
		}},
		{"the older key agent is merged over alloy", "m", `
alloy:
  clustering: {enabled: false}
  storagePath: /a
agent:
  clustering: {enabled: true}
`, func(t *testing.T, f *Facts) {
			want(t, "enabled", f.Run.Cluster.Enabled, true)
			want(t, "storagePath", f.Run.StoragePath, "/a")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := alloyObject(t, tc.obj, tc.spec)
			f, err := FromObject(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			want(t, "name", f.Name, tc.obj)
			want(t, "namespace", f.Namespace, "monitoring")
			tc.check(t, f)
		})
	}
}

// TestAlloyOptOut: the object's modeguard.dev/agent=false label opts out
// what it renders.
func TestAlloyOptOut(t *testing.T) {
	t.Parallel()
	a := alloyObject(t, "m", "")
	a.Labels = map[string]string{LabelAgent: "false"}
	f, err := FromObject(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Agent {
		t.Errorf("got agent %v (%s), want false", f.Agent, f.Reason)
	}
}

// TestAlloyInlineConfigMap: the ConfigMap the chart renders from content.
func TestAlloyInlineConfigMap(t *testing.T) {
	t.Parallel()
	if cm := AlloyConfigMap(alloyObject(t, "m", "alloy:\n  secret: {create: true}\n  configMap:\n    content: |\n      logging {}\n")); cm != nil {
		t.Errorf("with alloy.secret.create got ConfigMap %+v, want none: the pods mount the Secret", cm)
	}
	a := alloyObject(t, "m", "alloy:\n  configMap:\n    key: a.alloy\n    content: |\n      logging {}\n")
	cm := AlloyConfigMap(a)
	if cm == nil || cm.Name != "m-alloy" || cm.Namespace != "monitoring" || cm.Data["a.alloy"] != "logging {}\n" {
		t.Fatalf("got %+v, want ConfigMap monitoring/m-alloy with a.alloy", cm)
	}
	SetAlloyContent(a, "x")
	if got := AlloyConfigMap(a).Data["a.alloy"]; got != "x" {
		t.Errorf("after SetAlloyContent got %q, want x", got)
	}
}

// TestAlloyFixes: the value edits carry out the workload fixes, and the
// facts read them back.
func TestAlloyFixes(t *testing.T) {
	t.Parallel()
	a := alloyObject(t, "m", "alloy:\n  extraEnv:\n  - {name: NODE_NAME, value: x}\n")
	orig := a.DeepCopy()
	SetAlloyClustering(a)
	for range 2 { // idempotent
		if err := SetAlloyNodeNameEnv(a, "NODE_NAME"); err != nil {
			t.Fatal(err)
		}
	}
	if err := SetAlloyNodeNameEnv(a, "HOSTNAME"); err != nil {
		t.Fatal(err)
	}
	f, err := FromObject(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "clustered", f.Run.Cluster.Enabled, true)
	want(t, "nodeNameEnv", f.NodeNameEnv, []string{"HOSTNAME", "K8S_NODE_NAME", "NODE_NAME"})
	env, _ := a.Spec["alloy"].(map[string]any)["extraEnv"].([]any)
	want(t, "extraEnv entries", len(env), 1)
	if reflect.DeepEqual(orig, a) {
		t.Error("the copy changed with the object")
	}
	if _, ok := orig.Spec["alloy"].(map[string]any)["clustering"]; ok {
		t.Error("DeepCopy shares the spec")
	}
}

func TestAlloyValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule, target string
		inline       bool
		want         string
	}{
		{"MG007", "workload", true, AlloyValueClustering},
		{"MG002", "workload", false, AlloyValueExtraEnv},
		{"MG002", "config", true, AlloyValueContent},
		{"MG002", "config", false, ""},
		{"MG006", "config", true, AlloyValueContent},
		{"MG006", "config", false, ""},
		{"MG005", "config", true, AlloyValueClustering},
		{"MG008", "config", false, AlloyValueType},
		{"MG009", "config", true, AlloyValueVarlog},
	} {
		if got := AlloyValue(tc.rule, tc.target, tc.inline); got != tc.want {
			t.Errorf("AlloyValue(%s, %s, %v) = %q, want %q", tc.rule, tc.target, tc.inline, got, tc.want)
		}
	}
}

func mountPaths(f *Facts) []string {
	var out []string
	for _, m := range f.Mounts {
		out = append(out, m.MountPath)
	}
	return out
}

func wantNote(t *testing.T, f *Facts, part string) {
	t.Helper()
	if !slices.ContainsFunc(f.Alloy.Notes, func(n string) bool { return strings.Contains(n, part) }) {
		t.Errorf("notes %q: want one saying %q", f.Alloy.Notes, part)
	}
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		gy, _ := yaml.Marshal(got)
		wy, _ := yaml.Marshal(want)
		t.Errorf("%s: got %s, want %s", what, gy, wy)
	}
}
