// Package examples holds a runnable manifest for every rule — one directory
// where the rule fires and one where it must not — and the scenarios of the
// draft page (docs/domain.md, The draft deployment-modes page). Each object
// states what modeguard must report about it in the annotation
// modeguard.dev/expect ("MG001:fix,MG004:deny", or "none"). The tests,
// `make demo` and `modeguard explain` use them; Names, Documents and Load
// read them.
package examples

import "embed"

// FS holds every examples/<name>/manifest.yaml.
//
//go:embed */manifest.yaml
var FS embed.FS

// AnnotationExpect states the findings an example object must get.
const AnnotationExpect = "modeguard.dev/expect"
