// Package audit is the webhook's audit loop: a leader-elected Runnable that
// reviews the agents already in the cluster (admission only sees what
// changes) with the same review core as admission, in CHECK mode (nothing
// is patched), and writes what it finds as an openreports.io/v1alpha1
// Report per namespace, Events on the objects, and the
// modeguard_audit_findings gauge.
//
// It runs on start, on changes of the agent workloads, ConfigMaps, HPAs and
// Namespaces the webhook's informers watch (debounced: a burst makes one
// pass), on a policy reload, and every Interval. It reads the same informer
// caches as admission (webhook/lookup), so it holds no copy of its own.
//
// Reports are modeguard's alone: one per namespace, named ReportName and
// labelled LabelManagedBy=ManagedBy; a report without the label is never
// touched. A report is updated only when its content changed, and deleted
// when its namespace has no finding left.
package audit
