package certs

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Mode says who issues the webhook's serving certificate.
type Mode string

const (
	// ModeSelfManaged: modeguard issues, rotates and injects its own
	// certificates (a Rotator on the leader, a Keeper on every replica).
	ModeSelfManaged Mode = "self-managed"
	// ModeCertManager: cert-manager issues them into a mounted directory and
	// its cainjector fills caBundle; modeguard only serves what is mounted.
	ModeCertManager Mode = "cert-manager"
)

// ParseMode parses "self-managed" or "cert-manager".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeSelfManaged, ModeCertManager:
		return m, nil
	}
	return "", fmt.Errorf("unknown certificate mode %q (want %q or %q)", s, ModeSelfManaged, ModeCertManager)
}

// String implements flag.Value.
func (m *Mode) String() string { return string(*m) }

// Set implements flag.Value.
func (m *Mode) Set(s string) error {
	p, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = p
	return nil
}

// Options configure NewStack.
type Options struct {
	// Mode (default ModeSelfManaged).
	Mode Mode
	// Service and Namespace are the webhook's Service: they give the DNS
	// names and, in self-managed mode, the Secret's namespace. Required.
	Service   string
	Namespace string
	// SecretName is the certificate Secret in self-managed mode (default
	// Service + "-certs").
	SecretName string
	// CertDir, in cert-manager mode, is the mounted certificate directory
	// (required). In self-managed mode it is optional: the served pair is
	// also written there.
	CertDir string
	// MutatingWebhookConfiguration and ValidatingWebhookConfiguration get the
	// CA bundle in self-managed mode; ignored in cert-manager mode.
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string
	// Policy sets validities and look-aheads (self-managed); DNSNames defaults
	// to DNSNames(Service, Namespace).
	Policy Policy
	// CheckInterval for the Rotator and the Keeper (default
	// DefaultCheckInterval).
	CheckInterval time.Duration
	// Registerer for the expiry gauge (default controller-runtime's
	// metrics.Registry).
	Registerer prometheus.Registerer
	// Logger (default: controller-runtime's logger named "certs").
	Logger logr.Logger
}

// Stack is the certificate machinery for one mode.
type Stack struct {
	Mode Mode
	// Keeper serves the certificate on every replica.
	Keeper *Keeper
	// Rotator issues, rotates and injects (self-managed mode only; nil
	// otherwise).
	Rotator *Rotator
}

// NewStack builds the pieces o.Mode needs. Wire them with ConfigureTLS (in
// the webhook server's TLSOpts) and AddToManager.
func NewStack(cfg *rest.Config, o Options) (*Stack, error) {
	if o.Mode == "" {
		o.Mode = ModeSelfManaged
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return nil, err
	}
	if o.Service == "" || o.Namespace == "" {
		return nil, errors.New("certificates: service and namespace are required")
	}
	if o.Policy.DNSNames == nil {
		o.Policy.DNSNames = DNSNames(o.Service, o.Namespace)
	}
	ko := KeeperOptions{
		DNSNames:      o.Policy.DNSNames,
		CheckInterval: o.CheckInterval,
		Registerer:    o.Registerer,
		Logger:        o.Logger,
	}
	s := &Stack{Mode: o.Mode}
	switch o.Mode {
	case ModeCertManager:
		if o.CertDir == "" {
			return nil, errors.New("certificates: cert-manager mode needs the mounted certificate directory")
		}
		ko.Dir = o.CertDir
	case ModeSelfManaged:
		if o.SecretName == "" {
			o.SecretName = o.Service + "-certs"
		}
		// Without a watch event, a replica loads a new certificate within
		// CheckInterval; the old CA must stay trusted longer than that.
		if interval, overlap := cmp.Or(o.CheckInterval, DefaultCheckInterval), o.Policy.WithDefaults().Overlap; interval >= overlap {
			return nil, fmt.Errorf("certificates: check interval %v must be less than the overlap %v", interval, overlap)
		}
		secret := types.NamespacedName{Namespace: o.Namespace, Name: o.SecretName}
		ko.Secret, ko.WriteDir = secret, o.CertDir
		r, err := NewRotator(cfg, RotatorOptions{
			Secret:                         secret,
			MutatingWebhookConfiguration:   o.MutatingWebhookConfiguration,
			ValidatingWebhookConfiguration: o.ValidatingWebhookConfiguration,
			Policy:                         o.Policy,
			CheckInterval:                  o.CheckInterval,
			Logger:                         o.Logger,
		})
		if err != nil {
			return nil, err
		}
		s.Rotator = r
	}
	k, err := NewKeeper(cfg, ko)
	if err != nil {
		return nil, err
	}
	s.Keeper = k
	return s, nil
}

// ConfigureTLS makes a TLS config serve the Keeper's certificate; pass it in
// webhook.Options.TLSOpts.
func (s *Stack) ConfigureTLS(c *tls.Config) { s.Keeper.ConfigureTLS(c) }

// AddToManager adds the Keeper (every replica), the Rotator (leader only)
// and a readiness check named "certs" to mgr.
func (s *Stack) AddToManager(mgr manager.Manager) error {
	if err := mgr.Add(s.Keeper); err != nil {
		return fmt.Errorf("adding certificate keeper: %w", err)
	}
	if s.Rotator != nil {
		if err := mgr.Add(s.Rotator); err != nil {
			return fmt.Errorf("adding certificate rotator: %w", err)
		}
	}
	if err := mgr.AddReadyzCheck("certs", s.Keeper.Ready); err != nil {
		return fmt.Errorf("adding certificate readiness check: %w", err)
	}
	return nil
}
