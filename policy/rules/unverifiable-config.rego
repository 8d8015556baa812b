# METADATA
# title: Parts of the config cannot be verified
# description: |
#   Imported modules (`import.*`, Agent `module.*`), `remotecfg` (a pipeline
#   fetched at run time), `declare` bodies whose clustering depends on their
#   arguments, and references to unknown components hide sources and
#   clustering from modeguard. Recorded so you know where its verdict stops;
#   modeguard does not guess. A file with more components than modeguard
#   analyses (500) is not checked at all: that case warns.
# custom:
#   id: MG014
#   slug: unverifiable-config
#   action: audit
#   appliesTo: [ConfigMap]
package modeguard.rules.unverifiable_config

import data.modeguard.lib

# One pass over the files for both cases: a file too large to analyse was
# not checked at all, which says so on apply (warn); the rest is recorded.
violations contains object.union({
	"msg": message(u),
	"component": u.component, "file": f.file,
	"line": u.range.start.line, "column": u.range.start.column, "target": "config",
}, action(u)) if {
	some f in lib.files
	some u in f.unverifiable
}

message(u) := sprintf("not checked: %s", [u.reason]) if {
	u.kind == "too-large"
} else := sprintf("cannot verify (%s): %s", [u.kind, u.reason])

action(u) := {"action": "warn"} if {
	u.kind == "too-large"
} else := {}
