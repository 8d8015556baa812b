package workload

import "strings"

// agentImage returns the agent repository ("grafana/alloy", "grafana/agent",
// "grafana/agent-flow") and flavor an image reference names, whatever its
// registry prefix, tag or digest; "" when it names none.
func agentImage(image string) (repo, flavor string) {
	name := repository(image)
	for _, a := range []struct{ repo, flavor string }{
		{"grafana/alloy", FlavorAlloy},
		{"grafana/agent", FlavorAgent},
		{"grafana/agent-flow", FlavorAgent},
	} {
		if name == a.repo || strings.HasSuffix(name, "/"+a.repo) {
			return a.repo, a.flavor
		}
	}
	return "", ""
}

// repository strips the digest and tag of an image reference:
// "my.registry:5000/mirror/grafana/alloy:v1@sha256:..." →
// "my.registry:5000/mirror/grafana/alloy".
func repository(image string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(image), "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return strings.ToLower(name)
}
