// Command controller is cert-manager's controller, built from the
// github.com/cert-manager/cert-manager module at the version pinned in
// ../go.mod, for test/e2e's cert-manager scenario (see ../../build.sh).
//
// Upstream's own main (cmd/controller, module .../controller-binary) is not
// served by the module proxy, so this one does what its app.Run does
// (cert-manager cmd/controller/app/controller.go) with the module's public
// packages: one controller.ContextFactory, the registered controllers named
// by --controllers, then the shared informers. Left out: leader election,
// the metrics, healthz and profiling servers, the configuration file, and
// the ACME, Vault and Venafi issuers (their packages are not linked, so
// their controllers are not registered).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager controller:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	klog.InitFlags(fs)
	kubeconfig := fs.String("kubeconfig", "", "Kubeconfig of the API server.")
	namespace := fs.String("cluster-resource-namespace", "cert-manager", "Namespace of ClusterIssuers' Secrets.")
	workers := fs.Int("concurrent-workers", 5, "Workers per controller.")
	names := fs.String("controllers", "*", "Comma-separated controllers to run; * runs every linked one.")
	version := fs.Bool("version", false, "Print the version and exit.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *version {
		fmt.Printf("cert-manager controller %s\n", util.AppVersion)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	log := logf.FromContext(ctx)

	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: *namespace},
	})
	if err != nil {
		return err
	}
	cctx, err := factory.Build()
	if err != nil {
		return err
	}
	enabled := strings.Split(*names, ",")
	g, gctx := errgroup.WithContext(ctx)
	var started []string
	for name, construct := range controller.Known() {
		if *names != "*" && !slices.Contains(enabled, name) {
			continue
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		started = append(started, name)
		g.Go(func() error { return c.Run(*workers, gctx) })
	}
	slices.Sort(started)
	log.Info("starting controllers", "version", util.AppVersion, "controllers", started)
	cctx.SharedInformerFactory.Start(gctx.Done())
	cctx.KubeSharedInformerFactory.Start(gctx.Done())
	cctx.HTTP01ResourceMetadataInformersFactory.Start(gctx.Done())
	err = g.Wait()
	cctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	cctx.KubeSharedInformerFactory.Shutdown()
	cctx.SharedInformerFactory.Shutdown()
	return err
}
