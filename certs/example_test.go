package certs_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/modeguard/modeguard/certs"
)

// Certificates for a local run, checked the way the Keeper checks what it
// serves.
func ExampleWriteFiles() {
	dir, err := os.MkdirTemp("", "modeguard-certs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	if err := certs.WriteFiles(dir, "modeguard", "modeguard-system", 24*time.Hour); err != nil {
		fmt.Println(err)
		return
	}
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return b
	}
	b := certs.Bundle{CACert: read(certs.KeyCACert), TLSCert: read(certs.KeyTLSCert), TLSKey: read(certs.KeyTLSKey)}

	fmt.Println(certs.Validate(b, certs.DNSNames("modeguard", "modeguard-system"), time.Now(), time.Hour))
	err = certs.Validate(b, certs.DNSNames("modeguard", "elsewhere"), time.Now(), 0)
	fmt.Println(errors.Is(err, certs.ErrWrongDNSName))
	err = certs.Validate(b, nil, time.Now(), 48*time.Hour)
	fmt.Println(errors.Is(err, certs.ErrRenewSoon))
	// Output:
	// <nil>
	// true
	// true
}

// Wiring the self-managed mode into a manager, as cmd/webhook does.
func ExampleNewStack() {
	cfg := &rest.Config{Host: "https://kube-apiserver.example:6443"}
	stack, err := certs.NewStack(cfg, certs.Options{
		Mode:                           certs.ModeSelfManaged,
		Service:                        "modeguard",
		Namespace:                      "modeguard-system",
		MutatingWebhookConfiguration:   "modeguard",
		ValidatingWebhookConfiguration: "modeguard",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mgr, err := manager.New(cfg, manager.Options{
		LeaderElection:   true,
		LeaderElectionID: "modeguard",
		WebhookServer:    webhook.NewServer(webhook.Options{TLSOpts: []func(*tls.Config){stack.ConfigureTLS}}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := stack.AddToManager(mgr); err != nil {
		fmt.Println(err)
		return
	}
	// mgr.Start(ctx) then runs the Keeper on every replica and the Rotator
	// on the leader; /readyz fails until a valid certificate is served.
}
