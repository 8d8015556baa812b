package admit

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

// dryRunDone ends a dry-run request of the validating webhook, which sees
// the object as the mutating webhook fixed it, as a real apply would store
// it: an admitted object is remembered in the overlay for the next objects
// of the user's dry run, a denied one forgotten (a real apply would not
// have stored it); and a verdict that still lacks its pair says so.
func (c *Core) dryRunDone(req admission.Request, s *Subject, sur *review.Surroundings, resp admission.Response, result string) admission.Response {
	if resp.Allowed {
		c.Overlay.Remember(s.User, s.Object, len(req.Object.Raw))
	} else if k := workload.KindOf(s.Object); k != nil {
		c.Overlay.Forget(dryrun.Key{User: s.User, Namespace: s.Namespace, Kind: k.Name, Name: s.Name})
	}
	if w := LackingPair(s, sur, result); w != "" {
		resp.Warnings = append(resp.Warnings, w)
	}
	return resp
}

// LackingPair is the warning of a dry-run verdict given without the object
// it pairs with ("" when it had it, or needs none): a workload whose
// ConfigMap neither the cluster nor the user's dry run so far holds, or an
// agent ConfigMap no workload is known to read. That is the first object of
// a new install's bundle, or one whose pair reached another replica.
func LackingPair(s *Subject, sur *review.Surroundings, result string) string {
	if sur == nil || sur.Err != nil || result == metrics.ResultSkipped || result == metrics.ResultError {
		return ""
	}
	const check = "; to judge a bundle whole, run `modeguard check -f <every file of the bundle>`"
	switch {
	case s.Kind == workload.KindConfigMap.Name && len(sur.Consumers) == 0:
		return fmt.Sprintf("modeguard: dry run: no agent workload reading ConfigMap %s/%s is in the cluster or among the objects this dry run sent before it (or they reached another modeguard replica): the rules that depend on the workload were not checked%s",
			s.Namespace, s.Name, check)
	case s.Kind != workload.KindConfigMap.Name && sur.ConfigMapName != "" && sur.ConfigMap == nil:
		return fmt.Sprintf("modeguard: dry run: ConfigMap %s/%s, which %s %s/%s reads, is not in the cluster or among the objects this dry run sent before it (or it reached another modeguard replica): its config rules were not checked%s",
			s.Namespace, sur.ConfigMapName, s.Kind, s.Namespace, s.Name, check)
	}
	return ""
}
