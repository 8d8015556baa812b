package admit

import "fmt"

// FailurePolicy says how a request is answered when modeguard cannot
// review it (a lookup of the objects around it failed, the engine failed,
// the request timed out), as opposed to the API server's own failurePolicy,
// which covers a webhook it cannot reach.
type FailurePolicy string

const (
	// FailAllow admits the object unchanged, with a warning naming the
	// request and what failed (the lookup, say). The default: modeguard must not block deployments when it
	// is broken.
	FailAllow FailurePolicy = "allow"
	// FailDeny rejects the object (HTTP 500 in the response).
	FailDeny FailurePolicy = "deny"
)

// String implements flag.Value.
func (p *FailurePolicy) String() string { return string(*p) }

// Set implements flag.Value.
func (p *FailurePolicy) Set(s string) error {
	switch v := FailurePolicy(s); v {
	case FailAllow, FailDeny:
		*p = v
		return nil
	}
	return fmt.Errorf("unknown failure policy %q (want %q or %q)", s, FailAllow, FailDeny)
}
