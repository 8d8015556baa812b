package envtestbins_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/test/envtestbins"
)

// A test elsewhere (test/e2e, say) runs a real control plane from the
// binaries make k8s-bins built, and kubectl against it.
func Example() {
	testSomething := func(t *testing.T) {
		env := &envtest.Environment{BinaryAssetsDirectory: envtestbins.Dir(t)}
		cfg, err := env.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Stop() })

		kubeconfig := envtestbins.Kubeconfig(t, cfg)
		t.Log(envtestbins.Kubectl(t, kubeconfig, "get", "namespaces", "-o", "name"))
	}
	_ = testSomething
}
