package mutate

import (
	"encoding/json"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime"
)

// Patch returns the JSON patch that turns original into fixed, built the way
// an admission response builds it: controller-runtime's
// admission.PatchResponseFromRaw diffs the two JSON documents with
// jsonpatch.CreatePatch, as here. Equal objects give an empty patch.
func Patch(original, fixed runtime.Object) ([]jsonpatch.JsonPatchOperation, error) {
	before, err := json.Marshal(original)
	if err != nil {
		return nil, fmt.Errorf("encoding the original object: %w", err)
	}
	after, err := json.Marshal(fixed)
	if err != nil {
		return nil, fmt.Errorf("encoding the fixed object: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		return nil, fmt.Errorf("building the JSON patch: %w", err)
	}
	return ops, nil
}
