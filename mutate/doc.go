// Package mutate carries out the fixes the policy asks for (policy.FixRequest)
// and changes nothing else.
//
// The fixes are one registry (Fixes, Lookup): each by name, with its target
// (the text of one ConfigMap key, or the workload's agent container), its
// parameters and how it applies. Config and Workload dispatch through it,
// Fixer.Target gives a fix's target to the review, and a test checks every
// fix name the rules in policy/rules declare or ask for against it.
//
// River and Alloy configs are edited by splicing text at the byte offsets the
// parser reports (riverconfig: block bodies, values and the string literals
// they start with), and command lines at the places workload reports for
// each flag: nothing is re-parsed here. Every byte outside an edit stays as
// it was, comments, indentation (tabs or spaces, as the file has them) and
// line endings (CRLF files keep CRLF) included. The config is never
// re-printed.
// Object fixes change the typed Kubernetes object in place; Patch then turns
// the original and the fixed object into a JSON patch (the CLI's fix shows
// it; the admission handlers in webhook/admit build theirs the same way).
//
// Every fix is idempotent: fixing an already fixed config or object changes
// nothing and is no error. A fix whose request does not fit the subject (an
// unknown component, a wrong kind, a missing parameter, a selector that is not
// a literal) returns an error matching ErrNotApplicable and leaves the
// subject untouched; callers turn it into a denial with that reason.
//
// The fixes (Config, ConfigMap, Workload, Patch) know nothing of admission
// requests, HTTP or the policy engine: they take an object or a file and one
// fix request. Deciding which fixes to apply lives elsewhere (the review
// package runs the policy and calls Fixer), and so does answering admission
// requests (webhook/admit).
package mutate
