// Package riverconfig reads a Grafana Agent (Flow) River file or a Grafana
// Alloy file and turns it into config facts: components, their attributes and
// nested blocks, the references between them, every collector with the
// sources its data comes from and each source's scope, clustering, and what
// cannot be verified. Rules read these facts; they never parse River.
//
// riverconfig knows nothing of Kubernetes objects, HTTP or policy: it takes
// bytes and a file name and returns plain values that marshal to JSON.
package riverconfig
