package main

import (
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/modeguard/modeguard/test/e2e"
)

// TestMix: the worst case is three kinds, the first new each time where it
// should be; the GitOps steady state is ten requests, one a new ConfigMap.
func TestMix(t *testing.T) {
	t.Parallel()
	root, err := e2e.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	worst, gitops, err := mix(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(worst) != 3 || len(gitops) != 10 {
		t.Fatalf("got %d worst-case kinds and %d GitOps ones, want 3 and 10", len(worst), len(gitops))
	}
	varying := 0
	for _, k := range gitops {
		if object(t, k, 1) != object(t, k, 2) && !strings.Contains(k.short, "Pod") {
			varying++
		}
	}
	if varying != 1 {
		t.Errorf("got %d GitOps requests (not Pods) whose body varies, want 1 (the new ConfigMap)", varying)
	}
	if object(t, worst[1], 1) == object(t, worst[1], 2) {
		t.Error("the worst case's DaemonSet is the same in every request, want it new each time")
	}
}

// object is the object of request n of kind k.
func object(t *testing.T, k kind, n uint64) string {
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(k.bodyFor(n), &r); err != nil || r.Request == nil {
		t.Fatalf("%s: not an AdmissionReview: %v", k.name, err)
	}
	return string(r.Request.Object.Raw)
}
