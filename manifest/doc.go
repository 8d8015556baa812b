// Package manifest reads Kubernetes manifests the way `kubectl apply -f`
// takes them: YAML or JSON files (several documents each), directories
// (recursively), List objects, and standard input; every document keeps the
// file and line it starts at, so findings can point back at it.
//
// manifest knows nothing of policy or admission.
package manifest
