package dryrun

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

func configMap(ns, name, rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
		Data: map[string]string{"config.alloy": "// " + name + "@" + rv},
	}
}

// daemonSet is an agent DaemonSet reading ConfigMap cm.
func daemonSet(ns, name, rv, cm string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "alloy", Image: "grafana/alloy:v1.5.0",
				Args:         []string{"run", "/etc/alloy/config.alloy"},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/alloy"}}}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}},
		}}},
	}
}

func hpa(ns, name, rv string, min int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: 5},
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newOverlay(o Options) (*Overlay, *clock) {
	ov := New(o, workload.Recognizer{})
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	ov.now = c.now
	return ov, c
}

func names(objs []runtime.Object) string {
	var out []string
	for _, o := range objs {
		m := o.(metav1.Object)
		out = append(out, workload.KindOf(o).Name+"/"+m.GetName()+"@"+m.GetResourceVersion())
	}
	return strings.Join(out, ",")
}

func TestReadsWhereTheClusterHasNothingNewer(t *testing.T) {
	ctx := context.Background()
	cluster := review.NewSet([]runtime.Object{
		configMap("ns", "updated", "7"),
		configMap("ns", "moved-on", "9"),
		configMap("ns", "created-since", "3"),
		daemonSet("ns", "ds-a", "10", "updated"),
		daemonSet("ns", "ds-moves", "11", "updated"),
		hpa("ns", "h1", "20", 2),
	})
	ov, _ := newOverlay(Options{})
	u := User("alice", "u-1")
	ov.Remember(u, configMap("ns", "new", ""), 100)             // dry-run create
	ov.Remember(u, configMap("ns", "updated", "7"), 100)        // dry-run update of rv 7
	ov.Remember(u, configMap("ns", "moved-on", "8"), 100)       // the cluster changed since (rv 9)
	ov.Remember(u, configMap("ns", "created-since", ""), 100)   // created for real since
	ov.Remember(u, daemonSet("ns", "ds-new", "", "new"), 100)   // a new workload reading "new"
	ov.Remember(u, daemonSet("ns", "ds-b", "", "updated"), 100) // a new workload reading "updated"
	ov.Remember(u, daemonSet("ns", "ds-moves", "11", "new"), 100)
	ov.Remember(u, hpa("ns", "h1", "20", 3), 100)
	ov.Remember(u, hpa("ns", "h2", "", 4), 100)
	lk := ov.Lookup(u, cluster)

	for _, tc := range []struct{ name, want string }{
		{"new", "new@"},
		{"updated", "updated@7"},
		{"moved-on", "moved-on@9"},
		{"created-since", "created-since@3"},
		{"absent", "<nil>"},
	} {
		cm, err := lk.ConfigMap(ctx, "ns", tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if cm != nil {
			got = strings.TrimPrefix(cm.Data["config.alloy"], "// ")
			if _, ok := cm.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok && cm.ResourceVersion == "" {
				t.Errorf("ConfigMap %s: last-applied annotation kept in the overlay", tc.name)
			}
		}
		if got != tc.want {
			t.Errorf("ConfigMap %s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ cm, want string }{
		{"new", "DaemonSet/ds-moves@,DaemonSet/ds-new@"}, // remembered objects lose their resourceVersion
		{"updated", "DaemonSet/ds-a@10,DaemonSet/ds-b@"},
	} {
		cons, err := lk.Consumers(ctx, "ns", tc.cm)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(cons); got != tc.want {
			t.Errorf("Consumers(%s): got %s, want %s", tc.cm, got, tc.want)
		}
	}
	hs, err := lk.HPAs(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, fmt.Sprintf("%s:%d", h.Name, *h.Spec.MinReplicas))
	}
	if g := strings.Join(got, ","); g != "h1:3,h2:4" {
		t.Errorf("HPAs: got %s, want h1:3,h2:4", g)
	}
}

func TestUsersDoNotSeeEachOther(t *testing.T) {
	ctx := context.Background()
	cluster := review.NewSet(nil)
	ov, _ := newOverlay(Options{})
	ov.Remember(User("alice", "1"), configMap("ns", "alloy", ""), 10)
	ov.Remember(User("alice", "1"), daemonSet("ns", "alloy", "", "alloy"), 10)
	for _, u := range []string{User("bob", "2"), User("alice", "other-uid"), User("alice", "")} {
		lk := ov.Lookup(u, cluster)
		cm, err := lk.ConfigMap(ctx, "ns", "alloy")
		if err != nil || cm != nil {
			t.Errorf("%q: ConfigMap: got %v, %v, want nil", u, cm, err)
		}
		cons, err := lk.Consumers(ctx, "ns", "alloy")
		if err != nil || len(cons) != 0 {
			t.Errorf("%q: Consumers: got %s, %v, want none", u, names(cons), err)
		}
	}
	lk := ov.Lookup(User("alice", "1"), cluster)
	if cm, _ := lk.ConfigMap(ctx, "ns", "alloy"); cm == nil {
		t.Error("alice: got no ConfigMap, want hers")
	}
	if cm, _ := lk.ConfigMap(ctx, "other", "alloy"); cm != nil {
		t.Error("alice, another namespace: got her ConfigMap, want none")
	}
}

func TestEntriesExpire(t *testing.T) {
	ctx := context.Background()
	ov, c := newOverlay(Options{TTL: time.Minute})
	u := User("alice", "")
	ov.Remember(u, configMap("ns", "a", ""), 10)
	c.t = c.t.Add(30 * time.Second)
	ov.Remember(u, configMap("ns", "b", ""), 10)
	lk := ov.Lookup(u, review.NewSet(nil))
	c.t = c.t.Add(31 * time.Second) // a is 61 s old, b 31 s
	if cm, _ := lk.ConfigMap(ctx, "ns", "a"); cm != nil {
		t.Error("a after 61 s: got it, want expired")
	}
	if cm, _ := lk.ConfigMap(ctx, "ns", "b"); cm == nil {
		t.Error("b after 31 s: got nothing, want it")
	}
	if n, b := ov.Len(); n != 1 || b != 10 {
		t.Errorf("Len: got %d entries, %d bytes, want 1, 10", n, b)
	}
	c.t = c.t.Add(30 * time.Second)
	if n, b := ov.Len(); n != 0 || b != 0 {
		t.Errorf("Len after every TTL: got %d entries, %d bytes, want 0, 0", n, b)
	}
}

func TestBounds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		opts          Options
		sizes         []int
		entries       int
		bytes         int64
		kept, dropped []int
	}{
		{"entries", Options{MaxEntries: 3, MaxBytes: 1 << 20}, []int{10, 10, 10, 10, 10}, 3, 30, []int{2, 3, 4}, []int{0, 1}},
		{"bytes", Options{MaxEntries: 100, MaxBytes: 100}, []int{40, 40, 40}, 2, 80, []int{1, 2}, []int{0}},
		{"one too big", Options{MaxEntries: 100, MaxBytes: 100}, []int{40, 101, 40}, 2, 80, []int{0, 2}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov, _ := newOverlay(tc.opts)
			u := User("alice", "")
			for i, s := range tc.sizes {
				ov.Remember(u, configMap("ns", fmt.Sprint(i), ""), s)
			}
			if n, b := ov.Len(); n != tc.entries || b != tc.bytes {
				t.Errorf("Len: got %d entries, %d bytes, want %d, %d", n, b, tc.entries, tc.bytes)
			}
			lk := ov.Lookup(u, review.NewSet(nil))
			for _, i := range tc.kept {
				if cm, _ := lk.ConfigMap(ctx, "ns", fmt.Sprint(i)); cm == nil {
					t.Errorf("ConfigMap %d: got nothing, want it kept", i)
				}
			}
			for _, i := range tc.dropped {
				if cm, _ := lk.ConfigMap(ctx, "ns", fmt.Sprint(i)); cm != nil {
					t.Errorf("ConfigMap %d: got it, want it dropped", i)
				}
			}
		})
	}
}

func TestRememberReplacesAndForgets(t *testing.T) {
	ctx := context.Background()
	ov, _ := newOverlay(Options{})
	u := User("alice", "")
	cm := configMap("ns", "a", "")
	ov.Remember(u, cm, 10)
	cm2 := cm.DeepCopy()
	cm2.Data["config.alloy"] = "second"
	ov.Remember(u, cm2, 15)
	if n, b := ov.Len(); n != 1 || b != 15 {
		t.Errorf("Len: got %d entries, %d bytes, want 1, 15", n, b)
	}
	lk := ov.Lookup(u, review.NewSet(nil))
	if got, _ := lk.ConfigMap(ctx, "ns", "a"); got == nil || got.Data["config.alloy"] != "second" {
		t.Errorf("got %v, want the second version", got)
	}
	cm2.Data["config.alloy"] = "changed after Remember"
	if got, _ := lk.ConfigMap(ctx, "ns", "a"); got.Data["config.alloy"] != "second" {
		t.Errorf("got %q, want the copy taken by Remember", got.Data["config.alloy"])
	}
	ov.Forget(Key{User: u, Namespace: "ns", Kind: "ConfigMap", Name: "a"})
	if got, _ := lk.ConfigMap(ctx, "ns", "a"); got != nil {
		t.Error("got it after Forget, want nothing")
	}
	ov.Remember(u, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}, 10)
	if n, _ := ov.Len(); n != 0 {
		t.Errorf("a Pod: got %d entries, want 0 (not a kind the overlay remembers)", n)
	}
}

// A nil overlay (disabled) is the cluster.
func TestNilOverlay(t *testing.T) {
	var ov *Overlay
	base := review.NewSet(nil)
	if lk := ov.Lookup("u", base); lk != review.Lookup(base) {
		t.Errorf("got %T, want the base lookup", lk)
	}
	ov.Remember("u", configMap("ns", "a", ""), 1)
	if n, b := ov.Len(); n != 0 || b != 0 {
		t.Errorf("Len: got %d, %d, want 0, 0", n, b)
	}
}
