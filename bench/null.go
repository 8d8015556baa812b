package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/server"
)

// runNull serves the null webhook: modeguard's HTTPS server
// (server.NewHTTPSServer, same TLS settings and limits; the pair in
// --cert-dir),
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
	pair, err := tls.LoadX509KeyPair(filepath.Join(*certDir, "tls.crt"), filepath.Join(*certDir, "tls.key"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "null-webhook:", err)
		return 1
	}
	srv := server.NewHTTPSServer(*host, *port, server.DefaultLimits(), logr.Discard(),
		func(c *tls.Config) { c.Certificates = []tls.Certificate{pair} })
	allow := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})
	srv.Register(admit.MutatePath, &webhook.Admission{Handler: allow})
	srv.Register(admit.ValidatePath, &webhook.Admission{Handler: allow})
	if err := srv.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, "null-webhook:", err)
		return 1
	}
	return 0
}
