package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/test/envtestbins"
)

// TestDryRunTwoReplicas measures, through the API server, how often the two
// objects of a dry-run bundle (mg004-fires: the ConfigMap, then the
// DaemonSet its config gets denied) reach the same one of two webhook
// replicas behind a connection-balancing proxy (a Service): quiet, and
// under a concurrent load of other admission requests. A bundle whose
// DaemonSet is denied was judged whole; one admitted with the
// lacking-pair warning had its objects on different replicas.
func TestDryRunTwoReplicas(t *testing.T) {
	twoReplicas(t, false)
}

// With the replicas asking each other (--dry-run-peers), every dry-run
// bundle is judged whole, quiet and under load: 20 of 20 each.
func TestDryRunTwoReplicasPeers(t *testing.T) {
	twoReplicas(t, true)
}

func twoReplicas(t *testing.T, peers bool) {
	if testing.Short() {
		t.Skip("e2e: starts kube-apiserver, etcd and two webhook processes; skipped under -short")
	}
	assets := envtestbins.Dir(t)
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("modeguard-e2e-webhook-replicas-%v", peers))
	if out, err := runGo(root, "build", "-o", bin, "./cmd/webhook"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ctx := context.Background()
	c, err := Start(ctx, Options{Root: root, Assets: assets, Webhook: bin, Log: testLog{t}, Replicas: 2, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	cm, ds := docOf(t, "mg004-fires", "ConfigMap"), docOf(t, "mg004-fires", "DaemonSet")
	run := func(phase string, n int) (whole, lacking int) {
		for i := range n {
			ns := fmt.Sprintf("replicas-%s-%d", phase, i)
			if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
				t.Fatal(err)
			}
			swap := func(s string) string { return strings.ReplaceAll(s, "namespace: mg004-fires", "namespace: "+ns) }
			r := c.KubectlAllowFail(ctx, swap(cm)+"\n---\n"+swap(ds), "apply", "--dry-run=server", "-f", "-")
			switch {
			case r.Err != nil && strings.Contains(r.Stderr, "MG004"):
				whole++
			case strings.Contains(r.Stderr, "modeguard check -f"):
				lacking++
			default:
				t.Errorf("%s bundle %d: neither denied nor warned: %v\n%s", phase, i, r.Err, r.Stderr)
			}
		}
		return whole, lacking
	}
	const n = 20
	whole, lacking := run("quiet", n)
	quiet := [2]int64{c.Proxy.Conns[0].Load(), c.Proxy.Conns[1].Load()}
	t.Logf("quiet: %d of %d dry-run bundles judged whole (%d lacked their pair); proxy connections so far: %v", whole, n, lacking, quiet)

	// Under load: four clients sending dry-run ConfigMaps to other
	// namespaces, so that the API server holds several connections.
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var sent atomic.Int64
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "replicas-load"}}); err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; lctx.Err() == nil; i++ {
				obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "replicas-load", Name: fmt.Sprintf("load-%d-%d", w, i)},
					Data: map[string]string{"config.alloy": "logging {\n  level = \"info\"\n}\n"}}
				if err := c.Client.Create(lctx, obj, client.DryRunAll); err == nil {
					sent.Add(1)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	wholeLoad, lackingLoad := run("load", n)
	stop()
	wg.Wait()
	t.Logf("under load (%d other requests): %d of %d dry-run bundles judged whole (%d lacked their pair); proxy connections: %d, %d",
		sent.Load(), wholeLoad, n, lackingLoad, c.Proxy.Conns[0].Load(), c.Proxy.Conns[1].Load())
	if peers && (whole != n || wholeLoad != n) {
		t.Errorf("with peers: %d and %d of %d bundles judged whole, want all", whole, wholeLoad, n)
	}
	if c.Proxy.Conns[0].Load() == 0 || c.Proxy.Conns[1].Load() == 0 {
		t.Errorf("proxy connections %d, %d: want both replicas reached", c.Proxy.Conns[0].Load(), c.Proxy.Conns[1].Load())
	}
}
