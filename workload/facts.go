package workload

// Facts is what modeguard knows about one Pod or workload. It marshals to the
// compact JSON the Rego rules read (`input.workload`): empty facts are left
// out, except the few every rule tests (kind, name, agent, reason, mode,
// modeSource, replicated, hostNetwork).
type Facts struct {
	// Kind is Pod, DaemonSet, StatefulSet, Deployment, ReplicaSet or Alloy.
	Kind string `json:"kind"`
	// Namespace and Name are the object's own (namespace may be empty in a
	// manifest file).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Labels and Annotations are the object's own metadata, not its pod
	// template's.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// Agent says whether modeguard treats the object as a Grafana Agent (Flow)
	// or Alloy workload; Reason says why, or why not.
	Agent  bool   `json:"agent"`
	Reason string `json:"reason"`
	// Flavor is FlavorAgent, FlavorAlloy, or "" when no agent was recognized.
	Flavor string `json:"flavor,omitempty"`

	// Mode is ModeDaemonSet, ModeStatefulSet, ModeDeployment, or "" when it
	// cannot be known; ModeSource says where it comes from.
	Mode       string `json:"mode"`
	ModeSource string `json:"modeSource"`
	// Owner is a Pod's (or ReplicaSet's) controller ownerReference, or its
	// first ownerReference when none is a controller.
	Owner *Owner `json:"owner,omitempty"`

	// Replicas is spec.replicas of a StatefulSet, Deployment or ReplicaSet
	// (1 when unset). Nil for DaemonSets and Pods.
	Replicas *int32 `json:"replicas,omitempty"`
	// Replicated is true when more than one replica runs or may run:
	// Replicas > 1, or an HPA targeting the object allows more than one.
	Replicated bool `json:"replicated"`
	// HPA is the HorizontalPodAutoscaler targeting the object, if one was
	// given to FromObject.
	HPA *HPA `json:"hpa,omitempty"`
	// ServiceName is a StatefulSet's governing Service (spec.serviceName).
	ServiceName string `json:"serviceName,omitempty"`
	// HostNetwork is the pod spec's hostNetwork.
	HostNetwork bool `json:"hostNetwork"`

	// Container is the agent container; nil when none was found.
	Container *Container `json:"container,omitempty"`
	// Run is the agent container's command line, parsed.
	Run *Run `json:"run,omitempty"`
	// Env holds the agent container's env entries by name (the last entry of
	// a name wins, as in Kubernetes).
	Env map[string]EnvVar `json:"env,omitempty"`
	// NodeNameEnv lists, sorted, the env vars set from fieldRef spec.nodeName.
	NodeNameEnv []string `json:"nodeNameEnv,omitempty"`
	// EnvFrom lists the container's envFrom sources; EnvFromNote (set when
	// EnvFrom is not empty) reminds that any variable absent from Env may come
	// from them.
	EnvFrom     []EnvFrom `json:"envFrom,omitempty"`
	EnvFromNote string    `json:"envFromNote,omitempty"`
	// AgentMode is the literal value of the AGENT_MODE env var.
	AgentMode string `json:"agentMode,omitempty"`

	// Volumes are the pod spec's volumes.
	Volumes []Volume `json:"volumes,omitempty"`
	// Mounts are the agent container's volumeMounts.
	Mounts []Mount `json:"mounts,omitempty"`
	// ClaimTemplates are a StatefulSet's volumeClaimTemplates.
	ClaimTemplates []ClaimTemplate `json:"claimTemplates,omitempty"`

	// Config is where the agent reads its config: run path → volumeMount →
	// volume (+items) → ConfigMap and keys.
	Config *Config `json:"config,omitempty"`

	// Alloy is set for an Alloy object (Kind "Alloy"): the facts above are
	// those of the workload the Alloy chart renders from its spec, and
	// these say where its config lives.
	Alloy *AlloyFacts `json:"alloy,omitempty"`
}

// Flavors.
const (
	FlavorAgent = "agent" // Grafana Agent in Flow mode
	FlavorAlloy = "alloy" // Grafana Alloy
)

// Modes.
const (
	ModeDaemonSet   = "daemonset"
	ModeStatefulSet = "statefulset"
	ModeDeployment  = "deployment"
)

// Owner is an ownerReference.
type Owner struct {
	Kind       string `json:"kind"`       // ownerReference kind
	Name       string `json:"name"`       // ownerReference name
	Controller bool   `json:"controller"` // ownerReference controller: true
	// Deployment is the Deployment name inferred from a ReplicaSet owner's
	// name and the pod-template-hash label (ReplicaSet "<deployment>-<hash>").
	Deployment string `json:"deployment,omitempty"`
}

// HPA is the part of a HorizontalPodAutoscaler the rules need.
type HPA struct {
	Name string `json:"name"` // the HPA's name
	// MinReplicas is 1 when unset, as in Kubernetes.
	MinReplicas int32 `json:"minReplicas"`
	MaxReplicas int32 `json:"maxReplicas"` // spec.maxReplicas
}

// Container identifies the agent container and how its command line is
// written, so that a fix edits it in the same place and the same style.
type Container struct {
	Name  string `json:"name"`  // container name
	Index int    `json:"index"` // position in containers (or initContainers)
	Image string `json:"image"` // image reference as written
	// InitContainer is true for a native sidecar (an init container with
	// restartPolicy Always); Index then counts init containers.
	InitContainer bool `json:"initContainer"`
	// ArgsField is "args" or "command": the field that holds the run
	// subcommand and flags, where a fix appends flags. "" when neither is
	// set (the image's default command runs).
	ArgsField string `json:"argsField,omitempty"`
	// FlagStyle is "equals" (--flag=value) or "separate" (--flag value):
	// how the existing valued flags are written (the majority; equals on a
	// tie). "" when no valued flag is written.
	FlagStyle string `json:"flagStyle,omitempty"`
	// Flags are the flags written in command and args, in order, each
	// with where it stands, read as Run.Flags is; FlagsEnd is the "--"
	// that ends them, nil when there is none. A fix edits or inserts at
	// these places. They are not part of the JSON form the rules read
	// (Run.Flags holds the flags' values).
	Flags    []Flag `json:"-"`
	FlagsEnd *Arg   `json:"-"`
}

// Arg is where one argument of a container's command line is written.
type Arg struct {
	// Field is ArgsCommand or ArgsArgs.
	Field string
	// Index is the argument's index in that field (a command's flags start
	// at 1, after the binary).
	Index int
}

// Fields of a container that hold its command line.
const (
	ArgsCommand = "command"
	ArgsArgs    = "args"
)

// Flag is one flag as written on a container's command line.
type Flag struct {
	// Name is the flag's name without dashes: "cluster.enabled".
	Name string
	// Value is the value as written, after "=" or in the next argument;
	// "" for a flag written alone.
	Value string
	// Equals is true for a flag written with its value: --name=value.
	Equals bool
	// At is where the flag is written; ValueAt is where its value is, when
	// it is the next argument (--name value), else nil.
	At      Arg
	ValueAt *Arg
}

// Flag styles.
const (
	FlagStyleEquals   = "equals"
	FlagStyleSeparate = "separate"
)

// Run is the agent container's command line, parsed the way the agent's
// flag library (pflag) reads it.
type Run struct {
	// Binary is the executable: command[0], or the image's default entrypoint
	// (BinaryFrom says which).
	Binary     string `json:"binary,omitempty"`
	BinaryFrom string `json:"binaryFrom,omitempty"` // "command" or "image entrypoint"
	// Inferred is set when no command and no args are given and the command
	// line is the image's documented default; it names that default.
	Inferred string `json:"inferred,omitempty"`
	// Subcommand is the first positional argument, "run" for a Flow/Alloy
	// process.
	Subcommand string `json:"subcommand,omitempty"`
	// ConfigPath is run's path argument: a file or a directory.
	ConfigPath string `json:"configPath,omitempty"`
	// StoragePath is --storage.path.
	StoragePath string `json:"storagePath,omitempty"`
	// ConfigFormat is --config.format; "" means the native format.
	ConfigFormat string `json:"configFormat,omitempty"`
	// Flags holds every flag by name without dashes: --flag=value and
	// --flag value alike, bare flags as "true". The last occurrence wins.
	Flags map[string]string `json:"flags,omitempty"`
	// Cluster holds the --cluster.* flags.
	Cluster Cluster `json:"cluster"`
}

// Cluster is what the --cluster.* flags say.
type Cluster struct {
	// Enabled is --cluster.enabled parsed as a boolean.
	Enabled bool `json:"enabled"`
	// JoinAddresses is --cluster.join-addresses split at commas, untrimmed,
	// as the agent splits it.
	JoinAddresses    []string `json:"joinAddresses,omitempty"`
	DiscoverPeers    string   `json:"discoverPeers,omitempty"`    // --cluster.discover-peers
	AdvertiseAddress string   `json:"advertiseAddress,omitempty"` // --cluster.advertise-address
	Name             string   `json:"name,omitempty"`             // --cluster.name
	// Flags holds every --cluster.* flag by its full name ("cluster.enabled").
	Flags map[string]string `json:"flags,omitempty"`
}

// EnvVar is one env entry of the agent container.
type EnvVar struct {
	// Source is "literal", "fieldRef", "resourceFieldRef", "configMapKeyRef",
	// "secretKeyRef" or "fileKeyRef".
	Source string `json:"source"`
	// Value is the literal value.
	Value string `json:"value,omitempty"`
	// FieldRef is the fieldPath of a fieldRef (e.g. spec.nodeName).
	FieldRef string `json:"fieldRef,omitempty"`
	// Resource is the resource of a resourceFieldRef.
	Resource string `json:"resource,omitempty"`
	// Name and Key name the ConfigMap or Secret and its key (for fileKeyRef:
	// the volume and the key).
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
}

// Env sources.
const (
	EnvLiteral          = "literal"
	EnvFieldRef         = "fieldRef"
	EnvResourceFieldRef = "resourceFieldRef"
	EnvConfigMapKeyRef  = "configMapKeyRef"
	EnvSecretKeyRef     = "secretKeyRef"
	EnvFileKeyRef       = "fileKeyRef"
)

// EnvFrom is one envFrom source.
type EnvFrom struct {
	// Kind is "configMap" or "secret".
	Kind   string `json:"kind"`
	Name   string `json:"name"`             // the ConfigMap or Secret
	Prefix string `json:"prefix,omitempty"` // prepended to every variable name
}

// Volume is one pod volume.
type Volume struct {
	Name string `json:"name"` // volume name
	// Type is one of the VolumeXxx constants.
	Type string `json:"type"`
	// ConfigMap and Items: a configMap volume.
	ConfigMap string    `json:"configMap,omitempty"`
	Items     []KeyPath `json:"items,omitempty"`
	// Secret: a secret volume's secretName.
	Secret string `json:"secret,omitempty"`
	// HostPath: a hostPath volume's path.
	HostPath string `json:"hostPath,omitempty"`
	// ClaimName: a persistentVolumeClaim volume's claim.
	ClaimName string `json:"claimName,omitempty"`
	// Medium: an emptyDir's medium ("Memory"), "" for the node's disk.
	Medium string `json:"medium,omitempty"`
	// Sources: the ConfigMaps and Secrets a projected volume holds.
	Sources []ProjectedSource `json:"sources,omitempty"`
}

// Volume types.
const (
	VolumeConfigMap = "configMap"
	VolumeHostPath  = "hostPath"
	VolumePVC       = "persistentVolumeClaim"
	VolumeEmptyDir  = "emptyDir"
	VolumeSecret    = "secret"
	VolumeProjected = "projected"
	VolumeOther     = "other"
)

// KeyPath is a configMap or secret volume item: key → file path.
type KeyPath struct {
	Key  string `json:"key"`  // ConfigMap or Secret key
	Path string `json:"path"` // file path relative to the mount
}

// ProjectedSource is a ConfigMap or Secret inside a projected volume.
type ProjectedSource struct {
	// Kind is "configMap" or "secret".
	Kind  string    `json:"kind"`
	Name  string    `json:"name"`            // the ConfigMap or Secret
	Items []KeyPath `json:"items,omitempty"` // key remapping, as in a configMap volume
}

// Mount is one volumeMount of the agent container.
type Mount struct {
	Name      string `json:"name"`               // volume name
	MountPath string `json:"mountPath"`          // path in the container
	SubPath   string `json:"subPath,omitempty"`  // subPath, or subPathExpr as written
	ReadOnly  bool   `json:"readOnly,omitempty"` // readOnly
}

// ClaimTemplate is a StatefulSet volumeClaimTemplate.
type ClaimTemplate struct {
	Name string `json:"name"` // metadata.name, also the volume name in the pod
	// MountPath is where the agent container mounts it; "" when it does not.
	MountPath string `json:"mountPath,omitempty"`
}

// Config is the resolution of the run path to a ConfigMap.
type Config struct {
	// Path is the run path.
	Path string `json:"path,omitempty"`
	// Volume and MountPath are the volume and the mount the path lies under.
	Volume    string `json:"volume,omitempty"`
	MountPath string `json:"mountPath,omitempty"`
	// ConfigMap is the ConfigMap that holds the config.
	ConfigMap string `json:"configMap,omitempty"`
	// Keys are the ConfigMap keys read. For a directory path without items
	// they are nil and Directory is true: every key ending in .alloy (Alloy)
	// or .river (Agent) is read.
	Keys      []string `json:"keys,omitempty"`
	Directory bool     `json:"directory,omitempty"`
	// Error says why the path cannot be resolved to a ConfigMap.
	Error string `json:"error,omitempty"`
}
