# METADATA
# title: The config must parse
# description: |
#   A config the agent cannot parse stops it from loading the change (the
#   reloader keeps the old config, or a new pod crash-loops). The message
#   carries the file, line and column of the parser's error.
# custom:
#   id: MG013
#   slug: config-syntax
#   action: deny
#   appliesTo: [ConfigMap]
package modeguard.rules.config_syntax

import data.modeguard.lib

violations contains v if {
	some f in lib.files
	some e in f.errors
	v := {
		"msg": sprintf("%s:%d:%d: %s", [e.file, e.line, e.column, e.message]),
		"file": e.file, "line": e.line, "column": e.column, "target": "config",
	}
}
