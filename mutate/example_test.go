package mutate_test

import (
	"fmt"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
)

// A DaemonSet's pod discovery gets a node field selector, as rule MG001 asks
// for it; the rest of the file stays byte for byte.
func ExampleConfig() {
	src := []byte(`// Pods to scrape.
discovery.kubernetes "pods" {
  role = "pod" // every pod of the cluster, until fixed
}
`)
	fix := policy.FixRequest{Name: mutate.FixNodeSelector, Params: map[string]any{
		"file":      "config.alloy",
		"component": "discovery.kubernetes.pods",
		"role":      "pod",
		"envFunc":   "sys.env",
		"var":       "HOSTNAME",
	}}
	out, err := mutate.Config("config.alloy", src, fix)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))

	// Fixing again changes nothing.
	again, _ := mutate.Config("config.alloy", out, fix)
	fmt.Println(string(again) == string(out))
	// Output:
	// // Pods to scrape.
	// discovery.kubernetes "pods" {
	//   role = "pod" // every pod of the cluster, until fixed
	//   selectors {
	//     role = "pod"
	//     field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
	//   }
	// }
	// true
}

// A fix that does not fit says why, and the config is returned unchanged.
func ExampleConfig_notApplicable() {
	src := []byte(`discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "status.phase=" + sys.env("PHASE")
  }
}
`)
	_, err := mutate.Config("config.alloy", src, policy.FixRequest{Name: mutate.FixNodeSelector, Params: map[string]any{
		"component": "discovery.kubernetes.pods", "role": "pod", "envFunc": "sys.env", "var": "HOSTNAME",
	}})
	fmt.Println(err)
	// Output:
	// discovery.kubernetes.pods: existing field selector "status.phase=" + sys.env("PHASE") is not a literal: not changed
}
