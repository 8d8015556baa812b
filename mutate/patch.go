package mutate

import (
	"encoding/json"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Patch returns the JSON patch that turns original into fixed, built the way
// an admission response builds it (admission.PatchResponseFromRaw, which
// diffs the two JSON documents). Equal objects give an empty patch.
func Patch(original, fixed runtime.Object) ([]jsonpatch.JsonPatchOperation, error) {
	before, err := json.Marshal(original)
	if err != nil {
		return nil, fmt.Errorf("encoding the original object: %w", err)
	}
	after, err := json.Marshal(fixed)
	if err != nil {
		return nil, fmt.Errorf("encoding the fixed object: %w", err)
	}
	resp := admission.PatchResponseFromRaw(before, after)
	if !resp.Allowed {
		msg := "unknown error"
		if resp.Result != nil {
			msg = resp.Result.Message
		}
		return nil, fmt.Errorf("building the JSON patch: %s", msg)
	}
	return resp.Patches, nil
}
