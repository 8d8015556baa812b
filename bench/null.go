package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/validate"
)

// runNull serves the null webhook: controller-runtime's webhook server, as
// modeguard's server builds it (TLS 1.2 or later, the pair in --cert-dir),
// with handlers at modeguard's paths that decode the AdmissionReview and
// allow it unchanged. It is the ceiling of the transport.
func runNull(args []string) int {
	fs := flag.NewFlagSet("null-webhook", flag.ContinueOnError)
	certDir := fs.String("cert-dir", "", "Directory of tls.crt and tls.key.")
	host := fs.String("host", "127.0.0.1", "Listen address.")
	port := fs.Int("port", 9443, "Listen port.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(logr.Discard())
	srv := webhook.NewServer(webhook.Options{
		Host: *host, Port: *port, CertDir: *certDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
	})
	allow := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})
	srv.Register(mutate.Path, &webhook.Admission{Handler: allow})
	srv.Register(validate.Path, &webhook.Admission{Handler: allow})
	if err := srv.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, "null-webhook:", err)
		return 1
	}
	return 0
}
