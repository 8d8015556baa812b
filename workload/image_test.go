package workload

import "testing"

func TestAgentImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		image, repo, flavor string
	}{
		{"grafana/alloy", "grafana/alloy", FlavorAlloy},
		{"grafana/alloy:v1.5.0", "grafana/alloy", FlavorAlloy},
		{"registry.example/grafana/alloy:v1.5.0", "grafana/alloy", FlavorAlloy},
		{"my.registry:5000/mirror/grafana/alloy@sha256:abc", "grafana/alloy", FlavorAlloy},
		{"my.registry:5000/mirror/grafana/alloy:v1@sha256:abc", "grafana/alloy", FlavorAlloy},
		{"my.registry:5000/grafana/alloy", "grafana/alloy", FlavorAlloy},
		{"registry.example/grafana/agent:v0.40.4", "grafana/agent", FlavorAgent},
		{"grafana/agent-flow:latest", "grafana/agent-flow", FlavorAgent},
		{"GRAFANA/ALLOY", "grafana/alloy", FlavorAlloy},
		{"grafana/agent-operator:v0.40.0", "", ""},
		{"grafana/alloy-operator:v0.1.0", "", ""},
		{"notgrafana/alloy:v1", "", ""},
		{"grafana/alloy/extra:v1", "", ""},
		{"alloy:v1", "", ""},
		{"nginx", "", ""},
		{"", "", ""},
	} {
		repo, flavor := agentImage(tc.image)
		if repo != tc.repo || flavor != tc.flavor {
			t.Errorf("agentImage(%q) = %q, %q; want %q, %q", tc.image, repo, flavor, tc.repo, tc.flavor)
		}
	}
}
