// Command etcd is the upstream etcd server, built from the
// go.etcd.io/etcd/server/v3 module at the version pinned in ./go.mod. It has
// its own module because Kubernetes requires a newer etcd server module than
// the etcd release we run: see hack/k8s/build.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
