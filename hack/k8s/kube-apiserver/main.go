// Command kube-apiserver is the upstream Kubernetes API server, built from
// the k8s.io/kubernetes module at the version pinned in ../go.mod. It mirrors
// upstream cmd/kube-apiserver/apiserver.go so that envtest runs a real
// control plane without downloading release binaries (see ../build.sh).
package main

import (
	"os"
	_ "time/tzdata" // time zones for CronJob, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
