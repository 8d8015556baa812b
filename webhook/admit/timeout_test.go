package admit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// slowRule takes tens of seconds on any input and never fires: a review
// with it only ends by its deadline.
const slowRule = `# METADATA
# title: slow
# custom:
#   id: SLOW1
#   action: warn
package modeguard.rules.slow

violations contains {"msg": "never"} if {
	some i in numbers.range(1, 20000)
	some j in numbers.range(1, 20000)
	i * j < 0
}
`

func slowPolicyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.rego"), []byte(slowRule), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTimeout: a review past Core.Timeout is answered by the failure
// policy soon after the timeout, says why, and is not cached.
func TestTimeout(t *testing.T) {
	t.Parallel()
	const (
		timeout = 300 * time.Millisecond
		// margin covers the stage under way when the deadline passes (here
		// the evaluation, which notices within milliseconds) and a busy
		// machine.
		margin = 700 * time.Millisecond
	)
	objs := admittest.Example(t, "mg002-fires")
	ds := admittest.Find[*appsv1.DaemonSet](t, objs)
	dir := slowPolicyDir(t)
	for _, fp := range []admit.FailurePolicy{admit.FailAllow, admit.FailDeny} {
		t.Run(string(fp), func(t *testing.T) {
			t.Parallel()
			core, reg := admittest.CoreWith(t, policy.Options{PolicyDir: dir}, objs)
			core.FailurePolicy = fp
			core.Timeout = timeout
			h := admit.NewMutating(core, admittest.Decoder(), 0)
			req := admittest.Request(t, ds, admissionv1.Create, false)
			for i := range 2 { // the second must not be answered from the cache
				start := time.Now()
				resp := h.Handle(context.Background(), req)
				took := time.Since(start)
				if took < timeout || took > timeout+margin {
					t.Errorf("request %d answered after %v, want between %v and %v", i+1, took, timeout, timeout+margin)
				}
				t.Logf("request %d answered after %v", i+1, took)
				checkTimeoutAnswer(t, fp, resp, string(req.UID), timeout)
			}
			m := admittest.Metrics(t, reg)
			if got := m.Sum(metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit}); got != 0 {
				t.Errorf("cache hits = %v, want 0: a timed-out answer must not be cached", got)
			}
			if got := m.Sum(metrics.RequestsTotal, map[string]string{"result": metrics.ResultError}); got != 2 {
				t.Errorf("requests{error} = %v, want 2", got)
			}
		})
	}
}

func checkTimeoutAnswer(t *testing.T, fp admit.FailurePolicy, resp admission.Response, uid string, timeout time.Duration) {
	t.Helper()
	why := "request timeout of " + timeout.String()
	switch fp {
	case admit.FailAllow:
		if !resp.Allowed || len(resp.Patches) > 0 || len(resp.Warnings) != 1 ||
			!strings.Contains(resp.Warnings[0], uid) || !strings.Contains(resp.Warnings[0], why) {
			t.Errorf("allow: got allowed=%v patches=%d warnings=%q, want allowed unpatched, with a warning naming the request and %q", resp.Allowed, len(resp.Patches), resp.Warnings, why)
		}
	case admit.FailDeny:
		if resp.Allowed || resp.Result.Code != 500 ||
			!strings.Contains(resp.Result.Message, uid) || !strings.Contains(resp.Result.Message, why) {
			t.Errorf("deny: got allowed=%v result=%+v, want a 500 naming the request and %q", resp.Allowed, resp.Result, why)
		}
	}
}

// TestTimeoutDefault: a Core without a Timeout still bounds its requests,
// by DefaultTimeout; a request within it is answered as usual.
func TestTimeoutDefault(t *testing.T) {
	t.Parallel()
	objs := admittest.Example(t, "mg002-fires")
	core, _ := admittest.Core(t, nil, objs)
	if core.Timeout != 0 {
		t.Fatalf("admittest core has Timeout %v, want 0 for this test", core.Timeout)
	}
	h := admit.NewMutating(core, admittest.Decoder(), -1)
	resp := h.Handle(context.Background(), admittest.Request(t, admittest.Find[*appsv1.DaemonSet](t, objs), admissionv1.Create, false))
	if !resp.Allowed || len(resp.Patches) == 0 {
		t.Errorf("got allowed=%v patches=%d warnings=%q, want the mg002 fix", resp.Allowed, len(resp.Patches), resp.Warnings)
	}
	if admit.DefaultTimeout <= 0 || admit.DefaultTimeout >= 3*time.Second {
		t.Errorf("DefaultTimeout = %v, want it below the webhooks' timeoutSeconds of 3", admit.DefaultTimeout)
	}
}
