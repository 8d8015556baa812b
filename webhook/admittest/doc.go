// Package admittest builds what tests of the admission handlers need: the
// example manifests as objects, admission requests for them, an admit.Core
// over a fixed set of objects (a review.Set) with a metrics registry of its
// own, and a policy that always fails to evaluate (for the failure policy).
//
// Only tests import it.
package admittest
