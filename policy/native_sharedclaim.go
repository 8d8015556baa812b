package policy

import "fmt"

func init() {
	registerNative("modeguard.rules.shared_claim", sharedClaim)
}

// sharedClaim is MG010 (rules/shared-claim.rego).
func sharedClaim(n *nativeInput) []Violation {
	// shared: a DaemonSet, or a replicated Deployment.
	shared := n.daemonset() || n.deployment() && n.w != nil && n.w.Replicated
	if !shared {
		return nil
	}
	var out []Violation
	for _, vol := range n.d.Index.ClaimVolumes {
		// vol.claimName is omitted when empty: sprintf is then undefined.
		if vol.ClaimName == "" {
			continue
		}
		out = append(out, Violation{
			Message: fmt.Sprintf("volume %s uses PersistentVolumeClaim %s, shared by every pod of the %s: pods on other nodes cannot mount a ReadWriteOnce claim, and a shared claim mixes their data; use a StatefulSet's volumeClaimTemplates", vol.Name, vol.ClaimName, n.in.Mode),
			Target:  TargetWorkload,
		})
	}
	return out
}
