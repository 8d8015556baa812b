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

violations contains v if {
	some f in lib.files
	some u in f.unverifiable
	u.kind != "too-large"
	v := {
		"msg": sprintf("cannot verify (%s): %s", [u.kind, u.reason]),
		"component": u.component, "file": f.file,
		"line": u.range.start.line, "column": u.range.start.column, "target": "config",
	}
}

# A file too large to analyse was not checked at all: say so on apply.
violations contains v if {
	some f in lib.files
	some u in f.unverifiable
	u.kind == "too-large"
	v := {
		"msg": sprintf("not checked: %s", [u.reason]),
		"component": u.component, "file": f.file,
		"line": u.range.start.line, "column": u.range.start.column, "target": "config",
		"action": "warn",
	}
}
