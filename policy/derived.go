package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Derived holds the facts that need the workload and the config together
// (whether a collector's clustering is effective, the scope a source has
// once the node name is known, the env var a node-name expression reads),
// each computed once in Go so that a rule is a few lookups rather than a
// walk over every collector and source (issue #22: the typical decision
// went from 345 Rego expression evaluations to the budget of
// regoprofile_test.go). ToValue fills it; Engine.Evaluate builds it into the
// Rego value only. data.modeguard.lib reads it, and computes the same in
// Rego when an input written by hand (a Rego test) has none.
type Derived struct {
	// NodeEnv is the env var a node-name expression should read: one the
	// agent container sets from fieldRef spec.nodeName (HOSTNAME first,
	// else the first by name), else HOSTNAME.
	NodeEnv string `json:"nodeEnv"`
	// ProcessClustered is true when the agent runs with
	// --cluster.enabled=true and a peer source (join addresses or peer
	// discovery).
	ProcessClustered bool `json:"processClustered"`
	// Collectors lists every collector of every file, in file order.
	Collectors []DerivedCollector `json:"collectors"`
	// Sources lists every source of every collector, in file order: one
	// entry per collector and source.
	Sources []DerivedSource `json:"sources"`
	// ClusteredSources maps file → source id → true for the sources that
	// feed a collector whose clustering is effective.
	ClusteredSources map[string]map[string]bool `json:"clusteredSources"`
	// ComponentsByName maps a component name to the components of that
	// name, in file order.
	ComponentsByName map[string][]ComponentRef `json:"componentsByName"`
	// NodeNames lists the node-name expressions MG002 (node-name-source)
	// checks, in file order: every nodeNames use of every file but those
	// of a loki.source.podlogs whose clustering is effective (there a
	// node_filter that worked would drop data: MG002 only records it).
	NodeNames []DerivedNodeName `json:"nodeNames"`

	// Index lists, for the properties the rules select on, the entries
	// that have them.
	Index DerivedIndex `json:"index"`
}

// DerivedIndex lists, for the properties the rules select on, the entries
// that have them, so that a rule looks its few entries up rather than
// testing every one (most configs have none). One object, so that a
// decision reads it once (lib.index).
type DerivedIndex struct {
	// ClusteredCollectors are the collectors (indexes into Collectors)
	// whose clustering block says enabled.
	ClusteredCollectors []int `json:"clusteredCollectors"`
	// PathCollectors are the collectors (indexes into Collectors) that
	// read files by path.
	PathCollectors []int `json:"pathCollectors"`
	// SourcesByLocalBy maps how riverconfig found a source node-local
	// (its localBy: "selector", "relabel-keep", "node-filter", ...) to
	// those sources (indexes into Sources).
	SourcesByLocalBy map[string][]int `json:"sourcesByLocalBy"`
	// PodSelectorOnlySources are the sources (indexes into Sources) that
	// rely on a pod spec.nodeName selector which does not filter them.
	PodSelectorOnlySources []int `json:"podSelectorOnlySources"`
	// ClaimVolumes are the workload's volumes of type
	// persistentVolumeClaim.
	ClaimVolumes []workload.Volume `json:"claimVolumes"`
	// UnusedComponents maps a component name to the components of that
	// name whose output nothing reads, as ComponentsByName lists them.
	UnusedComponents map[string][]ComponentRef `json:"unusedComponents"`
}

// DerivedNodeName is one node-name expression of a component.
type DerivedNodeName struct {
	// File is the index of its file in config.files.
	File      int                   `json:"file"`
	Component string                `json:"component"`
	NodeName  *riverconfig.NodeName `json:"nodeName"`
}

// Location is where a violation about a component points, as lib.at
// gives it: the file, the line and column where the (first) component of
// that id starts (0 and 0 when the file has none), the component's id, and
// the target "config". A rule adds its msg.
type Location struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Component string `json:"component"`
	Target    string `json:"target"`
}

// DerivedCollector is one collector with what the workload makes of it.
type DerivedCollector struct {
	// File is the index of its file in config.files, Index its own in
	// that file's collectors.
	File      int    `json:"file"`
	Index     int    `json:"index"`
	Component string `json:"component"`
	Class     string `json:"class"`
	// Gathering: the collector gathers on its own or from targets (class
	// pull or self-discovering, lib.gathering_classes), rather than reading
	// node-bound files or receiving pushes.
	Gathering bool `json:"gathering"`
	// Clustered is the collector's: its clustering block says enabled.
	Clustered bool `json:"clustered"`
	// Effective: the block says enabled and the process runs clustered
	// (or, without a workload, the block is taken at its word).
	Effective bool `json:"effective"`
	// Wide are its sources whose scope, as DerivedSource judges it, is
	// cluster-wide, in source order, each as "id (reason)".
	Wide []string `json:"wide"`
	// At is where a violation about the collector points.
	At Location `json:"at"`
}

// SourceFacts are the facts of a riverconfig.Source the rules read, as
// riverconfig gives them (Scope and Reason before DerivedSource judges
// them).
type SourceFacts struct {
	Component       string `json:"component"`
	Kind            string `json:"kind"`
	Role            string `json:"role"`
	Scope           string `json:"scope"`
	Reason          string `json:"reason"`
	LocalBy         string `json:"localBy"`
	PodSelectorOnly bool   `json:"podSelectorOnly"`
}

// DerivedSource is one source of one collector.
type DerivedSource struct {
	// File is the index of its file in config.files.
	File      int    `json:"file"`
	Collector string `json:"collector"`
	// Effective is the collector's (DerivedCollector.Effective).
	Effective bool `json:"effective"`
	// CollectorIndex and Index place the source as riverconfig traced it:
	// config.files[File].collectors[CollectorIndex].sources[Index].
	CollectorIndex int `json:"collectorIndex"`
	Index          int `json:"index"`
	// Source is what the rules read of it.
	Source SourceFacts `json:"source"`
	// Scope and Reason are the source's as the rules judge it: a
	// loki.source.podlogs made node-local by its node_filter is
	// cluster-wide when its node name does not arrive (the agent then
	// drops the filter: grafana/alloy
	// internal/component/loki/source/podlogs/reconciler.go,
	// getNodeFilterName); every other source is as riverconfig says.
	Scope  string `json:"scope"`
	Reason string `json:"reason"`
	// FeedsClustered: the source also feeds a collector whose clustering
	// is effective, or, in an Alloy object, whose clustering block is
	// inert: MG007 sets spec.alloy.clustering.enabled, which makes it
	// effective (a node selector as well would leave clustering on
	// node-local data, MG005).
	FeedsClustered bool `json:"feedsClustered"`
	// At is where a violation about the source component points.
	At Location `json:"at"`
	// EnvFunc is its file's: the env lookup a fix writes.
	EnvFunc string `json:"envFunc"`
}

// ComponentRef is one component: config.files[File].components[Index],
// with its ID and whether it is Unused.
type ComponentRef struct {
	File   int    `json:"file"`
	Index  int    `json:"index"`
	ID     string `json:"id"`
	Unused bool   `json:"unused"`
}

// derive computes in's Derived facts; the config's files may be shared
// (FileCache) and are only read.
func derive(in *Input) *Derived {
	d, _ := deriveIndexed(in)
	return d
}

// deriveIndexed is derive, with the component index of in's config files
// it builds on the way (componentIndex; nil without a config).
func deriveIndexed(in *Input) (*Derived, map[string]map[string]int) {
	w := in.Workload
	d := &Derived{NodeEnv: nodeEnv(w), ProcessClustered: processClustered(w), Collectors: []DerivedCollector{},
		Sources: []DerivedSource{}, ClusteredSources: map[string]map[string]bool{}, ComponentsByName: map[string][]ComponentRef{},
		NodeNames: []DerivedNodeName{}, Index: DerivedIndex{ClusteredCollectors: []int{}, PathCollectors: []int{},
			SourcesByLocalBy: map[string][]int{}, PodSelectorOnlySources: []int{}, ClaimVolumes: []workload.Volume{},
			UnusedComponents: map[string][]ComponentRef{}}}
	ix := &d.Index
	if w != nil {
		for _, v := range w.Volumes {
			if v.Type == workload.VolumePVC {
				ix.ClaimVolumes = append(ix.ClaimVolumes, v)
			}
		}
	}
	if in.Config == nil {
		return d, nil
	}
	files := in.Config.Files
	flagsKnown := w != nil && w.Run != nil
	// The component index, as Config.index builds it (the last file of a
	// name wins, as in the Rego value).
	index := componentIndex(files)
	location := func(f *riverconfig.Facts, id string) Location {
		l := Location{File: f.File, Component: id, Target: TargetConfig}
		if i, ok := index[f.File][id]; ok && i < len(f.Components) {
			l.Line, l.Column = f.Components[i].Range.Start.Line, f.Components[i].Range.Start.Column
		}
		return l
	}
	effective := func(c *riverconfig.Collector) bool {
		return c.Clustered && (d.ProcessClustered || !flagsKnown)
	}
	alloy := w != nil && w.Alloy != nil && w.Alloy.Fullname != ""
	alloyPending := map[string]map[string]bool{} // file → source id: feeds an Alloy object's inert block
	for _, f := range files {
		if f == nil {
			continue
		}
		for ci := range f.Collectors {
			col := &f.Collectors[ci]
			into := d.ClusteredSources
			switch {
			case effective(col):
			case alloy && col.Clustered && flagsKnown && !d.ProcessClustered:
				into = alloyPending
			default:
				continue
			}
			for _, s := range col.Sources {
				if into[f.File] == nil {
					into[f.File] = map[string]bool{}
				}
				into[f.File][s.Component] = true
			}
		}
	}
	for i, f := range files {
		if f == nil {
			continue
		}
		for ci := range f.Collectors {
			col := &f.Collectors[ci]
			dc := DerivedCollector{File: i, Index: ci, Component: col.Component, Class: col.Class, Clustered: col.Clustered,
				Gathering: col.Class == riverconfig.ClassPull || col.Class == riverconfig.ClassSelfDiscovering,
				Effective: effective(col), Wide: []string{}, At: location(f, col.Component)}
			for si := range col.Sources {
				s := &col.Sources[si]
				scope, reason := judgedScope(s, w)
				if scope == "cluster-wide" {
					dc.Wide = append(dc.Wide, fmt.Sprintf("%s (%s)", s.Component, reason))
				}
				if s.LocalBy != "" {
					ix.SourcesByLocalBy[s.LocalBy] = append(ix.SourcesByLocalBy[s.LocalBy], len(d.Sources))
				}
				if s.PodSelectorOnly {
					ix.PodSelectorOnlySources = append(ix.PodSelectorOnlySources, len(d.Sources))
				}
				d.Sources = append(d.Sources, DerivedSource{File: i, Collector: col.Component, Effective: dc.Effective,
					CollectorIndex: ci, Index: si,
					Source: SourceFacts{Component: s.Component, Kind: s.Kind, Role: s.Role, Scope: s.Scope, Reason: s.Reason,
						LocalBy: s.LocalBy, PodSelectorOnly: s.PodSelectorOnly},
					Scope: scope, Reason: reason, FeedsClustered: d.ClusteredSources[f.File][s.Component] || alloyPending[f.File][s.Component],
					At: location(f, s.Component), EnvFunc: f.EnvFunc})
			}
			if dc.Clustered {
				ix.ClusteredCollectors = append(ix.ClusteredCollectors, len(d.Collectors))
			}
			if len(col.Paths) > 0 {
				ix.PathCollectors = append(ix.PathCollectors, len(d.Collectors))
			}
			d.Collectors = append(d.Collectors, dc)
		}
		for j, c := range f.Components {
			ref := ComponentRef{File: i, Index: j, ID: c.ID, Unused: c.Unused}
			d.ComponentsByName[c.Name] = append(d.ComponentsByName[c.Name], ref)
			if c.Unused {
				ix.UnusedComponents[c.Name] = append(ix.UnusedComponents[c.Name], ref)
			}
		}
		for _, u := range f.NodeNames {
			if u.Name == "loki.source.podlogs" && d.ClusteredSources[f.File][u.Component] {
				continue
			}
			d.NodeNames = append(d.NodeNames, DerivedNodeName{File: i, Component: u.Component, NodeName: u.NodeName})
		}
	}
	return d, index
}

// nodeEnv is lib.node_env: HOSTNAME when the container sets it from
// fieldRef spec.nodeName, else the first such var by name, else HOSTNAME.
func nodeEnv(w *workload.Facts) string {
	if w == nil || len(w.NodeNameEnv) == 0 || slices.Contains(w.NodeNameEnv, "HOSTNAME") {
		return "HOSTNAME"
	}
	return slices.Min(w.NodeNameEnv)
}

// processClustered: --cluster.enabled=true and a peer source.
func processClustered(w *workload.Facts) bool {
	if w == nil || w.Run == nil {
		return false
	}
	c := w.Run.Cluster
	return c.Enabled && (len(c.JoinAddresses) > 0 || c.DiscoverPeers != "")
}

// judgedScope is lib.source: the scope and reason of s as the rules judge
// them.
func judgedScope(s *riverconfig.Source, w *workload.Facts) (scope, reason string) {
	if s.LocalBy == "node-filter" && s.NodeName != nil && !nodeNameArrives(s.NodeName, w) {
		return "cluster-wide", fmt.Sprintf("node_filter on %s, but %s: the filter does not keep this node's pods", s.NodeName.Expr, nodeNameGap(s.NodeName, w))
	}
	return s.Scope, s.Reason
}

// nodeNameArrives is lib.node_name_arrives: every env var nn reads is set
// from fieldRef spec.nodeName, and constants.hostname is the node's name
// only with hostNetwork. Without a workload it cannot be told.
func nodeNameArrives(nn *riverconfig.NodeName, w *workload.Facts) bool {
	if w == nil {
		return false
	}
	for _, v := range nn.EnvVars {
		if !slices.Contains(w.NodeNameEnv, v) {
			return false
		}
	}
	return !podHostname(nn, w)
}

// podHostname is lib.pod_hostname: without hostNetwork, constants.hostname
// is the pod's name.
func podHostname(nn *riverconfig.NodeName, w *workload.Facts) bool {
	if w.HostNetwork {
		return false
	}
	return nn.Kind == "constants.hostname" || len(nn.EnvVars) == 0 && nn.HostnameFallback
}

// nodeNameGap is lib.node_name_gap: why a node name does not arrive.
func nodeNameGap(nn *riverconfig.NodeName, w *workload.Facts) string {
	if w == nil {
		return "the workload is not known"
	}
	var missing []string
	for _, v := range nn.EnvVars {
		if !slices.Contains(w.NodeNameEnv, v) {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("the agent container does not set %s from fieldRef spec.nodeName", strings.Join(missing, ", "))
	}
	return "constants.hostname is the pod's name without hostNetwork"
}
