package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AlloyCRDFile is the Alloy CRD the tests install (test/e2e/testdata),
// relative to the repository root.
const AlloyCRDFile = "test/e2e/testdata/alloys.collectors.grafana.com.yaml"

// crdPollInterval is how often the test webhook looks for the Alloy CRD.
const crdPollInterval = 500 * time.Millisecond

// watchingAlloy is what the webhook logs once it watches Alloy objects
// (webhook/lookup, WatchCRDs).
var watchingAlloy = []byte("Custom resource found: watching it")

// WatchesAlloy reports whether the webhook has logged that it watches Alloy
// objects.
func (c *Cluster) WatchesAlloy() bool {
	b, err := os.ReadFile(c.WebhookLog)
	return err == nil && bytes.Contains(b, watchingAlloy)
}

// InstallAlloyCRD installs the Alloy CRD (once; later calls only wait) and
// waits until the API server serves it and the webhook watches Alloy
// objects: a CRD installed while the webhook runs, as in a cluster where
// the alloy-operator is installed after modeguard.
func (c *Cluster) InstallAlloyCRD(ctx context.Context) error {
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(c.opts.Root, AlloyCRDFile)},
		ErrorIfPathMissing: true,
		MaxTime:            time.Minute,
		PollInterval:       100 * time.Millisecond,
	}); err != nil {
		return fmt.Errorf("installing the Alloy CRD: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !c.WatchesAlloy() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook does not watch Alloy objects 30 s after the CRD was installed (log: %s)", c.WebhookLog)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
