package riverconfig

// Facts is everything riverconfig knows about one config file. Every slice is
// non-nil so that the JSON form always holds arrays, never null.
type Facts struct {
	// File is the file name given to Parse.
	File string `json:"file"`
	// Flavor is "agent" (.river), "alloy" (.alloy), or, for other names, a
	// best guess from the functions and blocks used; "" when nothing tells.
	Flavor string `json:"flavor"`
	// EnvFunc is the env lookup a fix should write: "sys.env" when the file
	// uses sys.env or is Alloy, else "env".
	EnvFunc string `json:"envFunc"`
	// Functions lists the distinct functions called, sorted.
	Functions []string `json:"functions"`
	// Errors holds the parser's diagnostics (at most MaxErrors and one
	// that counts the rest), or the one saying the file is past
	// MaxNesting or MaxComponents. When it is not empty, the components,
	// collectors and unverifiable lists are empty.
	Errors []Diagnostic `json:"errors"`
	// Components lists every component in source order, including those in
	// foreach templates and declare bodies (see Component.Template).
	Components []Component `json:"components"`
	// Collectors lists every component that gathers data.
	Collectors []Collector `json:"collectors"`
	// Unverifiable lists what the engine cannot see through.
	Unverifiable []Unverifiable `json:"unverifiable"`
	// NodeNames lists the node-name expressions the components read: each
	// NodeName of an attribute of a component's blocks, and each
	// component's own NodeName, in component order. The rules read them
	// here rather than walk every attribute of every block.
	NodeNames []NodeNameUse `json:"nodeNames"`
}

// NodeNameUse is one node-name expression a component reads.
type NodeNameUse struct {
	// Component and Name are the component's ID and Name.
	Component string    `json:"component"`
	Name      string    `json:"name"`
	NodeName  *NodeName `json:"nodeName"`
}

// Diagnostic is a parse error at file:line:column.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Pos is a position in the source: a 0-based byte offset and the 1-based
// line and (byte) column it falls on.
type Pos struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Range is a span of source bytes: End is the offset just past the last byte,
// so src[Start.Offset:End.Offset] is the text.
type Range struct {
	Start Pos `json:"start"`
	End   Pos `json:"end"`
}

// Component is one component block, e.g. discovery.kubernetes "pods".
type Component struct {
	// ID is name and label joined by dots: "discovery.kubernetes.pods".
	ID string `json:"id"`
	// Name is the component's dotted name: "discovery.kubernetes".
	Name  string `json:"name"`
	Label string `json:"label"`
	// Range runs from the first byte of the name to just past the "}".
	Range      Range            `json:"range"`
	Attributes map[string]Value `json:"attributes"`
	// Blocks are the nested blocks, repeated blocks in source order.
	Blocks []Block `json:"blocks"`
	// Refs are the references to other components from any expression of
	// the component, nested blocks included.
	Refs []Ref `json:"refs"`
	// Class is the collector class: "pull", "self-discovering",
	// "node-bound", "push", or "". Node-bound sources (host exporters,
	// discovery.kubelet, discovery.process) are "node-bound" although they
	// are sources, not collectors. riverconfig/catalog.go lists every
	// component's class.
	Class string `json:"class"`
	// Clustering is set for clustering-capable components, and for any
	// component that carries a clustering block (Capable then says whether
	// the component supports it).
	Clustering *Clustering `json:"clustering"`
	// Unused is true for a discovery.* component whose targets reach no
	// collector and no consumer the engine cannot see through.
	Unused bool `json:"unused"`
	// Template is "foreach.<label>" or "declare.<label>" when the component
	// sits in that body, else "".
	Template string `json:"template"`
	// BodyRange runs from just after "{" to the "}".
	BodyRange Range `json:"bodyRange"`
	// Indent is the whitespace before the body's first statement, or "" when
	// the body is empty or starts on the line of "{".
	Indent string `json:"indent"`
	// NodeName is a node name the component reads with no attribute to show
	// for it: a loki.source.podlogs whose node_filter block says enabled =
	// true and sets no node_name (or node_name = "") reads the env var
	// NODE_NAME. Its Expr says the read is implicit and its Range is the
	// node_filter block's.
	NodeName *NodeName `json:"nodeName"`
}

// Block is a block nested in a component, e.g. selectors, rule, clustering.
type Block struct {
	Name       string           `json:"name"`
	Label      string           `json:"label"`
	Range      Range            `json:"range"`
	Attributes map[string]Value `json:"attributes"`
	Blocks     []Block          `json:"blocks"`
	Indent     string           `json:"indent"`
	// BodyRange runs from just after "{" to the "}", as a component's
	// does. It is for splicing text into the body (mutate), not part of
	// the JSON form the rules read.
	BodyRange Range `json:"-"`
}

// Value is an attribute's value.
type Value struct {
	// Value is the Go value of a literal (string, number, bool, nil, or
	// arrays and objects of literals); nil when Literal is false.
	Value any `json:"value"`
	// Expr is the exact source text.
	Expr    string `json:"expr"`
	Literal bool   `json:"literal"`
	Range   Range  `json:"range"`
	// Refs are the ids of the components the expression references.
	Refs []string `json:"refs"`
	// NodeName is set on a discovery.kubernetes selectors field, on a
	// discovery.relabel rule's regex whose source_labels is one node-name
	// meta label, and on the node_name of a loki.source.podlogs node_filter
	// block that says enabled = true.
	NodeName *NodeName `json:"nodeName"`
	// Lead is the string literal the expression starts with, parentheses
	// aside: the expression itself, the left-most operand of a chain of
	// "+", or the format string of a format() or string.format() call; nil
	// when it has none. A field selector's requirements are read from it,
	// and a fix extends it where it stands (mutate). Not part of the JSON
	// form the rules read.
	Lead *StringLit `json:"-"`
}

// StringLit is a string literal of the source.
type StringLit struct {
	// Value is the string the literal denotes (quotes and escapes
	// resolved).
	Value string
	// Range is the literal token, quotes included: its last byte is the
	// closing quote.
	Range Range
}

// NodeName describes the part of an expression that names the node.
type NodeName struct {
	// Prefix is "spec.nodeName=", "metadata.name=" or "" (any other field
	// selector, or a relabel regex).
	Prefix string `json:"prefix"`
	// Kind is "literal", "constants.hostname", "env", "coalesce" or "other".
	Kind string `json:"kind"`
	// Expr is the source text of the node-name part; for a literal field
	// selector, the literal remainder after the prefix.
	Expr string `json:"expr"`
	// EnvVars are the variables read through env()/sys.env().
	EnvVars []string `json:"envVars"`
	// EnvFunc is "env", "sys.env" or "".
	EnvFunc string `json:"envFunc"`
	// HostnameFallback is true when constants.hostname appears.
	HostnameFallback bool `json:"hostnameFallback"`
	// Range is the span of the node-name part, for splicing.
	Range Range `json:"range"`
}

// Ref is a reference from a component to another component's export.
type Ref struct {
	// Attribute is the dotted path of the attribute inside the referencing
	// component: "targets", "rule.0.regex".
	Attribute string `json:"attribute"`
	// Component is the referenced component's id.
	Component string `json:"component"`
	// Export is the export read: "targets", "output", "receiver".
	Export string `json:"export"`
}

// Clustering describes a component's clustering block.
type Clustering struct {
	// Capable says whether the component supports clustering.
	Capable bool `json:"capable"`
	// Block says whether a clustering block is present.
	Block bool `json:"block"`
	// Enabled is true when the block says enabled = true (a literal).
	Enabled bool `json:"enabled"`
	// EnabledExpr is the source text of enabled when it is not a literal.
	EnabledExpr string `json:"enabledExpr"`
	// Range is the block's span, when present.
	Range *Range `json:"range"`
}

// Collector is a component that gathers data, with where that data comes
// from.
type Collector struct {
	Component string `json:"component"`
	// Class is "pull", "self-discovering", "node-bound" or "push".
	Class string `json:"class"`
	// Clustered is true when a clustering block says enabled = true. It says
	// nothing of the process flags that make clustering effective.
	Clustered bool `json:"clustered"`
	// ReadsFiles is true for a file log collector: it is node-bound only
	// when the files it reads (Paths) are the node's.
	ReadsFiles bool     `json:"readsFiles"`
	Sources    []Source `json:"sources"`
	// Paths are the file paths a file log collector reads: literal
	// __path__ values and relabel replacements targeting __path__, or the
	// literal globs of its include list.
	Paths []string `json:"paths"`
}

// Source is one ultimate origin of a collector's targets, reached through
// one chain of components.
type Source struct {
	// Component is the source's id, "static" for a literal target list, or
	// the reference as written when it names no component.
	Component string `json:"component"`
	// Kind is the source's component name ("discovery.kubernetes"),
	// "static", "argument", "import" or "unknown".
	Kind string `json:"kind"`
	// Role is the discovery.kubernetes role as written, else "".
	Role string `json:"role"`
	// Class is the source component's class (as Component.Class):
	// "node-bound" for a source that only sees the node it runs on; ""
	// for static lists and what cannot be traced.
	Class string `json:"class"`
	// Scope is "node-local", "cluster-wide", "host-exporter" or "unknown".
	Scope  string `json:"scope"`
	Reason string `json:"reason"`
	// Via are the components between source and collector, source-side
	// first; a foreach appears as "foreach.<label>".
	Via []string `json:"via"`
	// LocalBy is "field-selector" or "relabel-keep" when one of them makes
	// a discovery.kubernetes source node-local, "node-filter" when an
	// enabled node_filter block makes a loki.source.podlogs node-local,
	// else "".
	LocalBy string `json:"localBy"`
	// NodeName is the node-name expression of that selector, keep or node
	// filter (for a node filter without node_name, Component.NodeName).
	NodeName *NodeName `json:"nodeName"`
	// PodSelectorOnly marks role endpoints/endpointslice with a role=pod
	// spec.nodeName selector and no node-name keep downstream: still
	// cluster-wide.
	PodSelectorOnly bool `json:"podSelectorOnly"`
	// ConstantIdentity is true when a discovery.relabel on the way replaces
	// instance with a constant: every peer holds the same target.
	ConstantIdentity bool `json:"constantIdentity"`
	// Unix is what a prometheus.exporter.unix source runs and reads; nil
	// for every other source. Whether it reads host data also depends on
	// which volumes its directories are on, which only the workload tells.
	Unix *UnixExporter `json:"unix"`
}

// UnixExporter is what a prometheus.exporter.unix component runs and the
// paths it reads, from its literal arguments.
type UnixExporter struct {
	// Collectors are the collectors it runs, sorted: set_collectors, less
	// disable_collectors, plus enable_collectors, as the agent applies them.
	// Empty when that cannot be told: set_collectors is unset or empty (the
	// exporter's default set, which reads the host) or one of the three
	// lists is not a literal list of strings.
	Collectors []string `json:"collectors"`
	// TextfileDirectory is the textfile block's directory, the only place
	// the textfile collector reads (its *.prom files); "" when unset or not
	// a literal.
	TextfileDirectory string `json:"textfileDirectory"`
	// PathArgs holds the host path arguments that are set (procfs_path,
	// sysfs_path, rootfs_path, udev_data_path) by name: the literal value,
	// or "" when it is computed at run time.
	PathArgs map[string]string `json:"pathArgs"`
}

// Unverifiable is a part of the config the engine cannot see through.
type Unverifiable struct {
	// Component is the id of the component concerned (or "remotecfg").
	Component string `json:"component"`
	// Kind is "import", "module", "remotecfg", "declare",
	// "unknown-reference" or "too-large" (UnverifiableTooLarge: more than
	// MaxComponents components; nothing else was analysed).
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Range  Range  `json:"range"`
}

// UnverifiableTooLarge is the kind of the one Unverifiable entry of a file
// past MaxComponents.
const UnverifiableTooLarge = "too-large"

// Scopes of a source.
const (
	ScopeNodeLocal    = "node-local"
	ScopeClusterWide  = "cluster-wide"
	ScopeHostExporter = "host-exporter"
	ScopeUnknown      = "unknown"
)

// Collector classes: how a collector comes by its data.
const (
	ClassPull            = "pull"
	ClassSelfDiscovering = "self-discovering"
	ClassNodeBound       = "node-bound"
	ClassPush            = "push"
)

// Node-name kinds.
const (
	NodeNameLiteral  = "literal"
	NodeNameHostname = "constants.hostname"
	NodeNameEnv      = "env"
	NodeNameCoalesce = "coalesce"
	NodeNameOther    = "other"
)
