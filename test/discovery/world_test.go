package discovery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/test/envtestbins"
)

// The nodes of the test cluster. "worker-1" is a prefix of "worker-10", so
// that a relabel regex not anchored to the node name ("worker-1.*") is seen
// to keep another node's targets.
var nodes = []string{"worker-1", "worker-2", "worker-10"}

// podSuffix makes the agent's pod name on a node, as a DaemonSet's
// controller would (name-xxxxx): constants.hostname without hostNetwork.
var podSuffix = map[string]string{"worker-1": "7kq2x", "worker-2": "m4t9z", "worker-10": "p8r3w"}

// agentPod is the name of the agent's pod of workload name on node.
func agentPod(name, node string) string { return name + "-" + podSuffix[node] }

// app is one application of the test world: a pod on every node and a
// Service with its Endpoints and EndpointSlice.
type app struct {
	namespace, name string
	port            int32
	labels          map[string]string
}

var apps = []app{
	{namespace: "apps", name: "web", port: 8080, labels: map[string]string{"app": "web"}},
	{namespace: "apps", name: "db", port: 5432, labels: map[string]string{"app": "db", "scrape": "true"}},
	{namespace: "monitoring", name: "alloy", port: 12345, labels: map[string]string{"app.kubernetes.io/name": "alloy"}},
}

// startWorld starts kube-apiserver and etcd (make k8s-bins) and fills them
// with the world: Nodes, Pods bound to them by spec.nodeName (no scheduler,
// no kubelet: their status is written here), Services, Endpoints and
// EndpointSlices (no controller: written here too). It returns the path of
// a kubeconfig for the discovery.
func startWorld(t *testing.T) string {
	t.Helper()
	// Role endpoints reads v1 Endpoints, which the API server answers
	// with a deprecation warning on every list and watch.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	env := &envtest.Environment{BinaryAssetsDirectory: envtestbins.Dir(t), ControlPlaneStartTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	if err := fill(context.Background(), cfg); err != nil {
		t.Fatalf("filling the cluster: %v", err)
	}
	return envtestbins.Kubeconfig(t, cfg)
}

func fill(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for i, n := range nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"kubernetes.io/hostname": n}}}
		node, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.168.0.%d", i+1)}, {Type: corev1.NodeHostName, Address: n}}
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("node %s status: %w", n, err)
		}
	}
	for _, ns := range []string{"apps", "monitoring"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	for ai, a := range apps {
		var addrs []corev1.EndpointAddress
		var eps []discoveryv1.Endpoint
		for ni, n := range nodes {
			name := a.name + "-" + podSuffix[n]
			ip := fmt.Sprintf("10.%d.%d.%d", ai+1, ni+1, 10)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: a.namespace, Name: name, Labels: a.labels},
				Spec: corev1.PodSpec{
					NodeName:                     n,
					AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{{
						Name: a.name, Image: "example/" + a.name,
						Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: a.port}},
					}},
				},
			}
			pod, err := cs.CoreV1().Pods(a.namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("pod %s: %w", name, err)
			}
			pod.Status.Phase = corev1.PodRunning
			pod.Status.PodIP = ip
			pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			if _, err := cs.CoreV1().Pods(a.namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("pod %s status: %w", name, err)
			}
			ref := &corev1.ObjectReference{Kind: "Pod", Namespace: a.namespace, Name: name, UID: pod.UID}
			addrs = append(addrs, corev1.EndpointAddress{IP: ip, NodeName: ptr.To(n), TargetRef: ref})
			eps = append(eps, discoveryv1.Endpoint{
				Addresses:  []string{ip},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				NodeName:   ptr.To(n),
				TargetRef:  ref,
			})
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.namespace, Name: a.name, Labels: a.labels},
			Spec: corev1.ServiceSpec{
				Selector: a.labels,
				Ports:    []corev1.ServicePort{{Name: "metrics", Port: a.port, TargetPort: intstr.FromInt32(a.port)}},
			},
		}
		if _, err := cs.CoreV1().Services(a.namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("service %s: %w", a.name, err)
		}
		// Endpoints are deprecated upstream but still what role
		// "endpoints" watches.
		//lint:ignore SA1019 role endpoints reads v1 Endpoints
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: a.namespace, Name: a.name, Labels: a.labels}}
		//lint:ignore SA1019 as above
		ep.Subsets = []corev1.EndpointSubset{{Addresses: addrs, Ports: []corev1.EndpointPort{{Name: "metrics", Port: a.port}}}}
		if _, err := cs.CoreV1().Endpoints(a.namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("endpoints %s: %w", a.name, err)
		}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: a.namespace, Name: a.name + "-x1", Labels: map[string]string{discoveryv1.LabelServiceName: a.name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   eps,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("metrics"), Port: ptr.To(a.port)}},
		}
		if _, err := cs.DiscoveryV1().EndpointSlices(a.namespace).Create(ctx, sl, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("endpointslice %s: %w", a.name, err)
		}
	}
	return nil
}
