package riverconfig

import "slices"

// unixPathArgs are the prometheus.exporter.unix arguments that name where
// the host's filesystems are (grafana/alloy
// docs/sources/reference/components/prometheus/prometheus.exporter.unix.md).
var unixPathArgs = []string{"procfs_path", "sysfs_path", "rootfs_path", "udev_data_path"}

// unixScope classes a prometheus.exporter.unix source as every host
// exporter and adds what it runs and reads, so that a rule can tell a
// textfile-only exporter on the agent's own files from one that reads the
// host.
func unixScope(c *comp, _ []*comp, s *Source) {
	s.Scope, s.Reason = hostExporter.scope, hostExporter.why(c.c.Name)
	s.Unix = unixExporter(&c.c)
}

// unixExporter reads a prometheus.exporter.unix component's arguments.
func unixExporter(c *Component) *UnixExporter {
	u := &UnixExporter{Collectors: unixCollectors(c.Attributes), PathArgs: map[string]string{}}
	for _, b := range c.Blocks {
		if b.Name == "textfile" {
			u.TextfileDirectory = literalString(b.Attributes["directory"])
		}
	}
	for _, name := range unixPathArgs {
		if v, ok := c.Attributes[name]; ok {
			u.PathArgs[name] = literalString(v)
		}
	}
	return u
}

// unixCollectors applies the collector lists as the agent does
// (grafana/alloy internal/static/integrations/node_exporter/config.go): a
// non-empty set_collectors replaces the default set, then
// disable_collectors turns collectors off and enable_collectors turns them
// on. With the default set (which reads the host) or a list that is not a
// literal, it returns an empty list: unknown.
func unixCollectors(attrs map[string]Value) []string {
	set, okSet := stringList(attrs, "set_collectors")
	disable, okDisable := stringList(attrs, "disable_collectors")
	enable, okEnable := stringList(attrs, "enable_collectors")
	if !okSet || !okDisable || !okEnable || len(set) == 0 {
		return []string{}
	}
	out := []string{}
	for _, c := range set {
		if !slices.Contains(disable, c) {
			out = append(out, c)
		}
	}
	out = append(out, enable...)
	slices.Sort(out)
	return slices.Compact(out)
}

// stringList returns the strings of a literal list attribute: nil and true
// when the attribute is unset, false when it is not a literal list of
// strings.
func stringList(attrs map[string]Value, name string) ([]string, bool) {
	v, ok := attrs[name]
	if !ok {
		return nil, true
	}
	arr, isArr := v.Value.([]any)
	if !v.Literal || !isArr {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, el := range arr {
		s, isStr := el.(string)
		if !isStr {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
