package riverconfig_test

import (
	"fmt"

	"github.com/modeguard/modeguard/riverconfig"
)

func ExampleParse() {
	src := []byte(`
discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }
}

discovery.kubernetes "services" {
  role = "service"
}

prometheus.scrape "all" {
  targets    = array.concat(discovery.kubernetes.pods.targets, discovery.kubernetes.services.targets)
  forward_to = []
  clustering {
    enabled = true
  }
}
`)
	facts := riverconfig.Parse("config.alloy", src)
	fmt.Println("flavor:", facts.Flavor, "env lookup:", facts.EnvFunc)
	for _, c := range facts.Collectors {
		fmt.Printf("%s (%s, clustered=%v)\n", c.Component, c.Class, c.Clustered)
		for _, s := range c.Sources {
			fmt.Printf("  %s: %s (%s)\n", s.Component, s.Scope, s.Reason)
			if n := s.NodeName; n != nil {
				fmt.Printf("    node name %s reads %v, hostname fallback %v\n", n.Expr, n.EnvVars, n.HostnameFallback)
			}
		}
	}
	// Output:
	// flavor: alloy env lookup: sys.env
	// prometheus.scrape.all (pull, clustered=true)
	//   discovery.kubernetes.pods: node-local (role=pod with spec.nodeName field selector)
	//     node name coalesce(sys.env("HOSTNAME"), constants.hostname) reads [HOSTNAME], hostname fallback true
	//   discovery.kubernetes.services: cluster-wide (role=service is cluster-wide)
}
