package admit

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
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

// rememberUnreviewed remembers the object of a dry-run request of a kind
// review reads but does not decide on (an HPA), for the next objects of the
// user's dry run. The shipped webhook configurations do not send HPAs; one
// that does makes a dry run's HPA count.
func (c *Core) rememberUnreviewed(dec admission.Decoder, req admission.Request) {
	if c.Overlay == nil || req.DryRun == nil || !*req.DryRun {
		return
	}
	k := workload.KindFor(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind})
	if !dryrun.Remembers(k) || k.Reviewed {
		return
	}
	obj := k.New()
	if err := dec.Decode(req, obj); err != nil {
		return
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(req.Namespace)
	}
	c.Overlay.Remember(dryrun.User(req.UserInfo.Username, req.UserInfo.UID), obj, len(req.Object.Raw))
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
