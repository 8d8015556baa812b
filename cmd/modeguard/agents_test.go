package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mirroredAgent is a DaemonSet running Alloy from an image pulled through a
// mirror, without the chart's labels, and the config it mounts: a service
// scrape a DaemonSet must not run without clustering (MG004).
const mirroredAgent = `apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy
  namespace: monitoring
data:
  config.alloy: |
    discovery.kubernetes "services" {
      role = "service"
    }
    prometheus.scrape "services" {
      targets    = discovery.kubernetes.services.targets
      forward_to = []
    }
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: collector
  namespace: monitoring
spec:
  selector:
    matchLabels: {app: collector}
  template:
    metadata:
      labels: {app: collector}
    spec:
      containers:
        - name: collector
          image: registry.internal/mirror/alloy:v1.5.1
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          volumeMounts:
            - {name: config, mountPath: /etc/alloy}
      volumes:
        - name: config
          configMap: {name: alloy}
`

// TestMirroredAgent: an agent pulled through a mirror is not skipped
// without a word: check notes how to mark it, and with the settings'
// agentImages pattern it is checked.
func TestMirroredAgent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte("agentImages: [\"*/mirror/alloy*\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("agentImages: [\"*/mirror/[a]lloy\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no pattern: a note", nil, exitOK,
			`note: -:16 DaemonSet monitoring/collector: mounts ConfigMap monitoring/alloy, whose key config.alloy holds River, but is not recognized as an agent (no agent container), so it is not checked: label it modeguard.dev/agent: "true", or add its image to the settings' agentImages ("registry.internal/mirror/alloy:*")`},
		{"the settings' pattern: checked", []string{"--settings", settings}, exitFindings,
			"MG004 cluster-wide-collection-in-daemonset DENY"},
		{"an invalid pattern: input error", []string{"--settings", bad}, exitUsage,
			`agentImages[0]: invalid image pattern: "*/mirror/[a]lloy"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := modeguard(t, mirroredAgent, append([]string{"check", "-f", "-"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d, output with %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}
