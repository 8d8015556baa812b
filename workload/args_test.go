package workload

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseCommandLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		command, args         []string
		repo                  string
		binary, sub, path     string
		flags                 map[string]string
		argsField, flagStyle  string
		join                  []string
		clusterEnabled, noRun bool
	}{
		{
			name: "chart args", repo: "grafana/alloy",
			args:   []string{"run", "/etc/alloy/config.alloy", "--storage.path=/tmp/alloy", "--cluster.enabled=true", "--cluster.join-addresses=a,b"},
			binary: "/bin/alloy", sub: "run", path: "/etc/alloy/config.alloy",
			flags:     map[string]string{"storage.path": "/tmp/alloy", "cluster.enabled": "true", "cluster.join-addresses": "a,b"},
			argsField: "args", flagStyle: FlagStyleEquals, join: []string{"a", "b"}, clusterEnabled: true,
		},
		{
			name: "separate values and a bare boolean before the path",
			args: []string{"run", "--cluster.enabled", "--storage.path", "/data", "/etc/alloy"},
			sub:  "run", path: "/etc/alloy",
			flags:     map[string]string{"cluster.enabled": "true", "storage.path": "/data"},
			argsField: "args", flagStyle: FlagStyleSeparate, clusterEnabled: true,
		},
		{
			name: "boolean flag never takes the next argument",
			args: []string{"run", "--disable-reporting", "/etc/alloy/config.alloy"},
			sub:  "run", path: "/etc/alloy/config.alloy",
			flags:     map[string]string{"disable-reporting": "true"},
			argsField: "args",
		},
		{
			name: "explicit false", args: []string{"run", "x.alloy", "--cluster.enabled=false"},
			sub: "run", path: "x.alloy", flags: map[string]string{"cluster.enabled": "false"}, argsField: "args",
		},
		{
			name:    "command only",
			command: []string{"/bin/alloy", "run", "/etc/alloy/config.alloy", "--storage.path", "/x"},
			binary:  "/bin/alloy", sub: "run", path: "/etc/alloy/config.alloy",
			flags: map[string]string{"storage.path": "/x"}, argsField: "command", flagStyle: FlagStyleSeparate,
		},
		{
			name:    "binary in command, the rest in args",
			command: []string{"alloy"}, args: []string{"run", "/c", "--storage.path=/x"},
			binary: "alloy", sub: "run", path: "/c",
			flags: map[string]string{"storage.path": "/x"}, argsField: "args", flagStyle: FlagStyleEquals,
		},
		{
			name:    "run in command, flags in args",
			command: []string{"grafana-agent-flow", "run"}, args: []string{"/c"},
			binary: "grafana-agent-flow", sub: "run", path: "/c", argsField: "command",
		},
		{
			name: "double dash ends flags", args: []string{"run", "--", "--weird-path"},
			sub: "run", path: "--weird-path", argsField: "args",
		},
		{
			name: "last occurrence wins", args: []string{"run", "/c", "--storage.path=/a", "--storage.path=/b"},
			sub: "run", path: "/c", flags: map[string]string{"storage.path": "/b"}, argsField: "args", flagStyle: FlagStyleEquals,
		},
		{
			name: "image default command", repo: "grafana/alloy",
			binary: "/bin/alloy", sub: "run", path: "/etc/alloy/config.alloy",
			flags: map[string]string{"storage.path": "/var/lib/alloy/data"},
		},
		{
			name: "static mode flags", repo: "grafana/agent",
			args:      []string{"-config.file=/etc/agent/agent.yaml", "-config.expand-env"},
			binary:    "/bin/grafana-agent",
			flags:     map[string]string{"config.file": "/etc/agent/agent.yaml", "config.expand-env": "true"},
			argsField: "args", flagStyle: FlagStyleEquals,
		},
		{name: "nothing at all", noRun: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cl := parseCommandLine(&corev1.Container{Command: tc.command, Args: tc.args}, tc.repo)
			if tc.noRun {
				if cl.run != nil {
					t.Fatalf("got run %+v, want nil", cl.run)
				}
				return
			}
			r := cl.run
			if r == nil {
				t.Fatal("got nil run")
			}
			if r.Binary != tc.binary || r.Subcommand != tc.sub || r.ConfigPath != tc.path {
				t.Errorf("got binary %q subcommand %q path %q, want %q %q %q", r.Binary, r.Subcommand, r.ConfigPath, tc.binary, tc.sub, tc.path)
			}
			if !maps.Equal(r.Flags, tc.flags) {
				t.Errorf("got flags %v, want %v", r.Flags, tc.flags)
			}
			if cl.argsField != tc.argsField || cl.flagStyle != tc.flagStyle {
				t.Errorf("got argsField %q flagStyle %q, want %q %q", cl.argsField, cl.flagStyle, tc.argsField, tc.flagStyle)
			}
			if !slices.Equal(r.Cluster.JoinAddresses, tc.join) || r.Cluster.Enabled != tc.clusterEnabled {
				t.Errorf("got cluster %+v, want enabled %v join %v", r.Cluster, tc.clusterEnabled, tc.join)
			}
		})
	}
}
