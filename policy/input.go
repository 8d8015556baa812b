package policy

import (
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// InputAPIVersion versions the document the rules read.
const InputAPIVersion = "modeguard.dev/v1"

// Input is the document every rule reads as `input`. One Input pairs the
// subject with one workload: a ConfigMap read by two workloads is evaluated
// once per workload. Its JSON Schema is docs/input.schema.json.
type Input struct {
	APIVersion string  `json:"apiVersion"`
	Subject    Subject `json:"subject"`
	// Mode is the deployment mode the config runs in: daemonset,
	// statefulset, deployment, or "" when unknown (only mode-free rules
	// apply then).
	Mode string `json:"mode"`
	// ModeSource says where Mode comes from.
	ModeSource string `json:"modeSource"`
	// Workload is the agent workload (or Pod): the subject itself, or the
	// consumer of a ConfigMap subject. Nil when none is known.
	Workload *workload.Facts `json:"workload"`
	// Config holds the facts of the config the workload reads.
	Config *Config `json:"config"`
	// Relation ties the subject to the objects around it.
	Relation Relation `json:"relation"`
	// Derived are facts of the workload and config together, computed
	// from the fields above (see Derived). ToValue fills it; Engine.Evaluate
	// builds it into the Rego value only.
	Derived *Derived `json:"derived"`
}

// Subject is the object under review.
type Subject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Operation is CREATE, UPDATE, or CHECK for the offline CLI.
	Operation string `json:"operation"`
	DryRun    bool   `json:"dryRun"`
}

// Config is an agent config held in a ConfigMap: one facts entry per key
// read (a directory config path reads every .river/.alloy key).
type Config struct {
	Namespace string               `json:"namespace"`
	Name      string               `json:"name"`
	Files     []*riverconfig.Facts `json:"files"`
	// Error says why the config could not be read (missing ConfigMap,
	// missing key); rules that need the config stay silent then.
	Error string `json:"error,omitempty"`
	// Index maps file → component id → the component's position in that
	// file's components (the first, when templates repeat an id), so rules
	// look components up in constant time. ToValue fills it; Engine.Evaluate
	// builds it into the Rego value only, once per file of its FileCache.
	Index map[string]map[string]int `json:"index"`
}

// index fills Config.Index.
func (c *Config) index() { c.Index = componentIndex(c.Files) }

// componentIndex maps file → component id → the position of the first
// component of that id in the file's components (a later file of a name
// wins, as in the Rego value).
func componentIndex(files []*riverconfig.Facts) map[string]map[string]int {
	out := make(map[string]map[string]int, len(files))
	for _, f := range files {
		if f == nil {
			continue
		}
		m := make(map[string]int, len(f.Components))
		for i, comp := range f.Components {
			if _, dup := m[comp.ID]; !dup {
				m[comp.ID] = i
			}
		}
		out[f.File] = m
	}
	return out
}

// ObjectRef names an object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Relation is what the subject is connected to.
type Relation struct {
	// ConfigMap is the workload's config, when the subject is a workload.
	ConfigMap *ObjectRef `json:"configMap,omitempty"`
	// Consumers are the agent workloads that mount a ConfigMap subject.
	Consumers []ObjectRef `json:"consumers,omitempty"`
	// ModeAnnotation is the ConfigMap's modeguard.dev/mode annotation.
	ModeAnnotation string `json:"modeAnnotation,omitempty"`
}
