package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
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
