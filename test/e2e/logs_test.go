package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/webhook/resubmit"
)

// No Secret data and no config text reach the webhook's log at the default
// level, even for objects it reviews, denies and fixes.
func TestLogsKeepSecrets(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	const marker = "s3cr3t-marker-7f1c"
	ns := "logs-check"
	if _, err := c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	cm := docOf(t, "mg004-fires", "ConfigMap")
	cm = strings.ReplaceAll(cm, "namespace: mg004-fires", "namespace: "+ns)
	cm = strings.Replace(cm, `url = "http://mimir.monitoring.svc:9009/api/v1/push"`, `url = "http://mimir.monitoring.svc:9009/api/v1/push"
            basic_auth {
              username = "agent"
              password = "`+marker+`"
            }`, 1)
	ds := strings.ReplaceAll(docOf(t, "mg004-fires", "DaemonSet"), "namespace: mg004-fires", "namespace: "+ns)
	if _, err := c.Kubectl(ctx, cm, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if r := c.KubectlAllowFail(ctx, ds, "apply", "-f", "-"); r.Err == nil {
		t.Fatalf("the DaemonSet was admitted; want the MG004 denial that makes the webhook log about it")
	}
	if _, err := c.Kubectl(ctx, "", "create", "secret", "generic", "creds", "-n", ns, "--from-literal=token="+marker); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(c.WebhookLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{marker, "BEGIN EC PRIVATE KEY", "BEGIN PRIVATE KEY", "basic_auth", `role = "service"`} {
		if strings.Contains(string(log), leak) {
			t.Errorf("the webhook log contains %q", leak)
		}
	}
	if !strings.Contains(string(log), "MG004") {
		t.Errorf("the webhook log does not mention the MG004 denial at all; is this the right log?\n%s", log)
	}
}

// The API server's warnings on the reconciler's own re-submissions (fix
// lines with config positions) do not reach the webhook's log at the
// default level: its clients log them at debug level, without their text
// (webhook/server/warnings.go), not at info as controller-runtime would.
func TestLogsQuietOnResubmission(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := "logs-resubmit"
	if _, err := c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	swap := func(s string) string { return strings.ReplaceAll(s, "namespace: mg001-fires", "namespace: "+ns) }
	// The ConfigMap first, alone: the workload that makes its fix due comes
	// after, so the reconciler re-submits the ConfigMap and the mutating
	// webhook answers that request with the fix's warnings.
	if _, err := c.Kubectl(ctx, swap(docOf(t, "mg001-fires", "ConfigMap")), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubectl(ctx, swap(docOf(t, "mg001-fires", "DaemonSet")), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// The reconciler records its Event once the re-submission returned,
	// that is after its client handled the warnings.
	resubmitted := false
	for deadline := time.Now().Add(30 * time.Second); !resubmitted && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		evs := &eventsv1.EventList{}
		if err := c.Client.List(ctx, evs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			resubmitted = resubmitted || e.Reason == resubmit.ReasonResubmitted && e.Regarding.Kind == "ConfigMap"
		}
	}
	if !resubmitted {
		t.Fatalf("no %s Event on the ConfigMap in %s after 30 s; want the reconciler's re-submission", resubmit.ReasonResubmitted, ns)
	}
	log, err := os.ReadFile(c.WebhookLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(log), "\n") {
		// A fix warning ends in "[fixed]" or "[fix will be applied ...]".
		if strings.Contains(l, "[fixed]") || strings.Contains(l, "[fix will be applied") {
			t.Errorf("the webhook log holds an admission warning's text: %s", l)
		}
	}
}
