package workload

import (
	"fmt"
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

// TestFlagPositions checks where each written flag, its value and the "--"
// ending the flags stand, as "field[index]".
func TestFlagPositions(t *testing.T) {
	t.Parallel()
	at := func(a *Arg) string {
		if a == nil {
			return "-"
		}
		return fmt.Sprintf("%s[%d]", a.Field, a.Index)
	}
	for _, tc := range []struct {
		name          string
		command, args []string
		repo          string
		want          []string // name=value@flag,value (Equals written as name=value@flag)
		end           string
	}{
		{
			name: "command and args", repo: "grafana/alloy",
			command: []string{"/bin/alloy", "run", "--cluster.enabled"}, args: []string{"/c", "--cluster.join-addresses", "a", "--storage.path=/x"},
			want: []string{"cluster.enabled @command[2],-", "cluster.join-addresses a@args[1],args[2]", "storage.path=/x@args[3],-"},
			end:  "-",
		},
		{
			name: "flags end at the first --",
			args: []string{"run", "--cluster.enabled=false", "--", "--cluster.join-addresses=x", "--"},
			want: []string{"cluster.enabled=false@args[1],-"},
			end:  "args[2]",
		},
		{
			name: "a value never starts with a dash",
			args: []string{"run", "--cluster.join-addresses", "--cluster.discover-peers", ""},
			want: []string{"cluster.join-addresses @args[1],-", "cluster.discover-peers @args[2],args[3]"},
			end:  "-",
		},
		{
			name: "the image's default command is not written", repo: "grafana/alloy",
			end: "-",
		},
	} {
		cl := parseCommandLine(&corev1.Container{Command: tc.command, Args: tc.args}, tc.repo)
		var got []string
		for _, f := range cl.flags {
			sep := " "
			if f.Equals {
				sep = "="
			}
			got = append(got, fmt.Sprintf("%s%s%s@%s,%s", f.Name, sep, f.Value, at(&f.At), at(f.ValueAt)))
		}
		if !slices.Equal(got, tc.want) || at(cl.flagsEnd) != tc.end {
			t.Errorf("%s: got flags %q end %s, want %q end %s", tc.name, got, at(cl.flagsEnd), tc.want, tc.end)
		}
	}
}
