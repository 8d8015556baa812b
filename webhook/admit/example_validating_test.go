package admit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// A DaemonSet scraping services without clustering is denied; the message
// names the rule, the component and its position in the ConfigMap. The
// webhook looks objects up in its informer cache; here, in the example's
// manifest.
func ExampleNewValidating() {
	docs, err := manifest.ReadPaths([]string{"../../examples/mg004-fires/manifest.yaml"}, nil)
	if err != nil {
		panic(err)
	}
	objs := manifest.Objects(docs)
	engine, err := policy.New(context.Background(), policy.Options{})
	if err != nil {
		panic(err)
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		panic(err)
	}
	core := &admit.Core{
		Reviewer: &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}},
		Lookup:   review.NewSet(objs),
		Metrics:  m,
	}
	h := admit.NewValidating(core, admission.NewDecoder(clientgoscheme.Scheme), 0)

	var ds *appsv1.DaemonSet
	for _, o := range objs {
		if d, ok := o.(*appsv1.DaemonSet); ok {
			ds = d
		}
	}
	raw, _ := json.Marshal(ds)
	resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "example",
		Kind:      metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"},
		Namespace: ds.Namespace, Name: ds.Name,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}})
	fmt.Println(resp.Allowed)
	msg := resp.Result.Message
	fmt.Println(strings.SplitN(msg, "\n", 2)[0])
	fmt.Println(strings.Contains(msg, "MG004 cluster-wide-collection-in-daemonset: prometheus.scrape.services (config.alloy:5:1)"))
	// Output:
	// false
	// modeguard denied DaemonSet mg004-fires/alloy:
	// true
}
