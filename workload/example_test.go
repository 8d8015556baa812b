package workload_test

import (
	"fmt"
	"log"

	"github.com/modeguard/modeguard/workload"
)

// Read the facts of a manifest: is it an agent, in which mode, and which
// ConfigMap key holds its config.
func Example() {
	manifest := []byte(`
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: alloy
  namespace: monitoring
spec:
  selector:
    matchLabels: {app: alloy}
  template:
    metadata:
      labels: {app: alloy}
    spec:
      containers:
        - name: alloy
          image: registry.example/grafana/alloy:v1.5.0
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          env:
            - name: HOSTNAME
              valueFrom:
                fieldRef: {fieldPath: spec.nodeName}
          volumeMounts:
            - {name: config, mountPath: /etc/alloy}
      volumes:
        - name: config
          configMap: {name: alloy}
`)
	obj, err := workload.Decode(manifest)
	if err != nil {
		log.Fatal(err)
	}
	f, err := workload.FromObject(obj, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Agent, f.Reason)
	fmt.Println(f.Flavor, f.Mode, f.ModeSource)
	fmt.Println(f.NodeNameEnv)
	fmt.Println(f.Config.ConfigMap, f.Config.Keys)
	// Output:
	// true image grafana/alloy
	// alloy daemonset kind
	// [HOSTNAME]
	// alloy [config.alloy]
}
