// Package mutate carries out the fixes the policy asks for (policy.FixRequest)
// and changes nothing else.
//
// River and Alloy configs are edited by splicing text at the byte offsets the
// parser reports (riverconfig): every byte outside an edit stays as it was,
// comments, indentation (tabs or spaces, as the file has them) and line
// endings (CRLF files keep CRLF) included. The config is never re-printed.
// Object fixes change the typed Kubernetes object in place; Patch then turns
// the original and the fixed object into a JSON patch the way an admission
// response carries it.
//
// Every fix is idempotent: fixing an already fixed config or object changes
// nothing and is no error. A fix whose request does not fit the subject (an
// unknown component, a wrong kind, a missing parameter, a selector that is not
// a literal) returns an error matching ErrNotApplicable and leaves the
// subject untouched; callers turn it into a denial with that reason.
//
// mutate knows no admission types beyond building a patch: the mutating
// admission handler that decodes requests, runs the policy and answers lives
// elsewhere and calls these functions.
package mutate
