package riverconfig

import (
	"maps"
	"slices"
	"testing"
)

// TestUnixExporter checks what the facts say a prometheus.exporter.unix
// source runs and reads.
func TestUnixExporter(t *testing.T) {
	t.Parallel()
	const scrape = "\nprometheus.scrape \"s\" {\n  targets = prometheus.exporter.unix.u.targets\n  forward_to = []\n}\n"
	tests := []struct {
		name       string
		body       string
		collectors []string
		directory  string
		pathArgs   map[string]string
	}{
		{name: "defaults", body: ``, collectors: []string{}},
		{name: "empty set is the defaults", body: `set_collectors = []`, collectors: []string{}},
		{
			name:       "textfile only",
			body:       "set_collectors = [\"textfile\"]\ntextfile {\n directory = \"/etc/telemetry\"\n}",
			collectors: []string{"textfile"}, directory: "/etc/telemetry",
		},
		{name: "set less disable", body: `set_collectors = ["cpu", "textfile"]` + "\n" + `disable_collectors = ["cpu"]`, collectors: []string{"textfile"}},
		{name: "enable wins over disable", body: `set_collectors = ["textfile"]` + "\n" + `disable_collectors = ["cpu"]` + "\n" + `enable_collectors = ["cpu"]`, collectors: []string{"cpu", "textfile"}},
		{name: "enable on the defaults", body: `enable_collectors = ["textfile"]`, collectors: []string{}},
		{name: "set not a literal", body: `set_collectors = split(env("C"), ",")`, collectors: []string{}},
		{name: "enable not a literal", body: `set_collectors = ["textfile"]` + "\n" + `enable_collectors = [env("C")]`, collectors: []string{}},
		{name: "not strings", body: `set_collectors = [1]`, collectors: []string{}},
		{
			name:       "directory not a literal",
			body:       "set_collectors = [\"textfile\"]\ntextfile {\n directory = env(\"DIR\")\n}",
			collectors: []string{"textfile"},
		},
		{
			name:       "path arguments",
			body:       `rootfs_path = "/host/root"` + "\n" + `sysfs_path = env("SYS")` + "\n" + `udev_data_path = "/host/udev"`,
			collectors: []string{},
			pathArgs:   map[string]string{"rootfs_path": "/host/root", "sysfs_path": "", "udev_data_path": "/host/udev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := Parse("x.river", []byte("prometheus.exporter.unix \"u\" {\n"+tt.body+"\n}\n"+scrape))
			if len(f.Errors) > 0 {
				t.Fatalf("parse: %+v", f.Errors)
			}
			var u *UnixExporter
			for _, c := range f.Collectors {
				if c.Component == "prometheus.scrape.s" && len(c.Sources) == 1 {
					u = c.Sources[0].Unix
				}
			}
			if u == nil {
				t.Fatalf("got no unix facts: %+v", f.Collectors)
			}
			if !slices.Equal(u.Collectors, tt.collectors) {
				t.Errorf("got collectors %q, want %q", u.Collectors, tt.collectors)
			}
			if u.TextfileDirectory != tt.directory {
				t.Errorf("got textfile directory %q, want %q", u.TextfileDirectory, tt.directory)
			}
			want := tt.pathArgs
			if want == nil {
				want = map[string]string{}
			}
			if !maps.Equal(u.PathArgs, want) {
				t.Errorf("got path args %v, want %v", u.PathArgs, want)
			}
		})
	}
}

// TestUnixOnlyForUnix: no other source carries unix facts.
func TestUnixOnlyForUnix(t *testing.T) {
	t.Parallel()
	f := Parse("x.alloy", []byte(`prometheus.exporter.cadvisor "c" { }
prometheus.scrape "s" {
  targets    = prometheus.exporter.cadvisor.c.targets
  forward_to = []
}
`))
	if len(f.Collectors) != 1 || len(f.Collectors[0].Sources) != 1 {
		t.Fatalf("got collectors %+v", f.Collectors)
	}
	if u := f.Collectors[0].Sources[0].Unix; u != nil {
		t.Errorf("got unix facts %+v on a cadvisor source, want none", u)
	}
}
