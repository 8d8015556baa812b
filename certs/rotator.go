package certs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// DefaultCheckInterval is how often the Rotator and the Keeper look again
// when no watch event comes.
const DefaultCheckInterval = time.Minute

// RotatorOptions configure a Rotator.
type RotatorOptions struct {
	// Secret is the certificate Secret, the source of truth. Required.
	Secret types.NamespacedName
	// MutatingWebhookConfiguration and ValidatingWebhookConfiguration name
	// the configurations whose webhooks get the CA bundle; empty skips one.
	// A configuration that does not exist (yet) is injected when it appears.
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string
	// Policy sets validities and look-aheads; zero fields take defaults.
	// DNSNames is required.
	Policy Policy
	// CheckInterval is how often to look without a watch event (default
	// DefaultCheckInterval).
	CheckInterval time.Duration
	// Logger (default: controller-runtime's logger named "certs").
	Logger logr.Logger
}

// Rotator keeps the certificate Secret valid and the webhook configurations'
// caBundle equal to its CA bundle. Only the leader runs it (it needs leader
// election); every write carries the resourceVersion it read, so even two
// Rotators running at once only ever lose a conflict and look again.
type Rotator struct {
	o      RotatorOptions
	cfg    *rest.Config
	client client.Client
	log    logr.Logger
	now    func() time.Time

	mu sync.Mutex // guards what follows; Sync may be called concurrently with Start in tests
	// When the CA bundle with this hash was first seen injected everywhere.
	injectedHash [sha256.Size]byte
	injectedAt   time.Time
	// When the serving certificate with this hash was first seen.
	servingHash   [sha256.Size]byte
	servingSeenAt time.Time
	// Webhook configurations last seen missing, to log that once.
	missing map[string]bool
}

var (
	_ manager.Runnable               = (*Rotator)(nil)
	_ manager.LeaderElectionRunnable = (*Rotator)(nil)
)

// NewRotator returns a Rotator talking to the cluster at cfg. Add it to a
// manager (mgr.Add) to run it on the leader.
func NewRotator(cfg *rest.Config, o RotatorOptions) (*Rotator, error) {
	if o.Secret.Name == "" || o.Secret.Namespace == "" {
		return nil, errors.New("certificate rotator: Secret name and namespace are required")
	}
	o.Policy = o.Policy.WithDefaults()
	if err := o.Policy.Check(); err != nil {
		return nil, fmt.Errorf("certificate rotator: %w", err)
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logf.Log.WithName("certs")
	}
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("certificate rotator: %w", err)
	}
	return &Rotator{
		o:       o,
		cfg:     cfg,
		client:  c,
		log:     o.Logger.WithName("rotator").WithValues("secret", o.Secret.String()),
		now:     time.Now,
		missing: map[string]bool{},
	}, nil
}

// NeedLeaderElection is true: only the leader writes.
func (r *Rotator) NeedLeaderElection() bool { return true }

// Start syncs on every watch event on the Secret and the webhook
// configurations, and at least every CheckInterval, until ctx ends. Errors
// are logged and retried with backoff; Start returns nil when ctx ends.
func (r *Rotator) Start(ctx context.Context) error {
	r.log.Info("Starting certificate rotator", "interval", r.o.CheckInterval)
	defer r.log.Info("Stopped certificate rotator")

	scheme := r.client.Scheme()
	objs := []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: r.o.Secret.Name, Namespace: r.o.Secret.Namespace}}}
	if n := r.o.MutatingWebhookConfiguration; n != "" {
		objs = append(objs, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	if n := r.o.ValidatingWebhookConfiguration; n != "" {
		objs = append(objs, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	trigger, err := watchNamed(ctx, r.cfg, scheme, r.log, objs...)
	if err != nil {
		r.log.Error(err, "Cannot watch; checking every interval only")
	}

	var backoff time.Duration
	for {
		wait, err := r.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), r.o.CheckInterval)
			wait = backoff
			if isRace(err) {
				r.log.V(1).Info("Lost a write race; looking again", "reason", err.Error())
			} else {
				r.log.Error(err, "Certificate sync failed; retrying", "retryIn", backoff)
			}
		default:
			backoff = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-trigger:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// isRace reports an error from losing an optimistic-concurrency race.
func isRace(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

// Sync runs one step: it reads the Secret, writes what Policy.Next decides,
// and injects the Secret's CA bundle wherever it differs. It returns how
// long to wait before the next step (zero after a write: more may follow).
func (r *Rotator) Sync(ctx context.Context) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()

	var secret corev1.Secret
	exists := true
	if err := r.client.Get(ctx, r.o.Secret, &secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("reading Secret %s: %w", r.o.Secret, err)
		}
		exists = false
	}
	bundle := BundleFromData(secret.Data)
	r.seeServing(bundle, now)

	obs := Observation{Exists: exists, Bundle: bundle, ServingSeenAt: r.servingSeenAt}
	if r.injectedHash == sha256.Sum256(bundle.CABundle) {
		obs.InjectedAt = r.injectedAt
	}
	d, err := r.o.Policy.Next(obs, now)
	if err != nil {
		return 0, err
	}
	if d.Action != ActionNone {
		if err := r.write(ctx, &secret, exists, d.Bundle); err != nil {
			return 0, err
		}
		bundle = d.Bundle
		r.seeServing(bundle, now)
		r.log.Info("Wrote certificate Secret", append([]any{"action", d.Action, "reason", d.Reason}, summary(bundle)...)...)
	} else {
		r.log.V(1).Info("Certificates checked", "reason", d.Reason)
	}

	injected, err := r.inject(ctx, bundle.CABundle)
	if err != nil {
		return 0, err
	}
	if h := sha256.Sum256(bundle.CABundle); injected && (h != r.injectedHash || r.injectedAt.IsZero()) {
		r.injectedHash, r.injectedAt = h, now
	} else if !injected {
		r.injectedAt = time.Time{}
	}

	if d.Action != ActionNone {
		return 0, nil
	}
	wait := r.o.CheckInterval
	if !d.RecheckAt.IsZero() {
		wait = min(wait, max(d.RecheckAt.Sub(now), 0))
	}
	return wait, nil
}

func (r *Rotator) seeServing(b Bundle, now time.Time) {
	if h := sha256.Sum256(b.TLSCert); h != r.servingHash {
		r.servingHash, r.servingSeenAt = h, now
	}
}

// write creates or updates the Secret with b, keeping any other keys. An
// update carries the resourceVersion read, so a concurrent writer makes it
// fail with a conflict instead of being overwritten.
func (r *Rotator) write(ctx context.Context, secret *corev1.Secret, exists bool, b Bundle) error {
	if !exists {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      r.o.Secret.Name,
				Namespace: r.o.Secret.Namespace,
				Labels:    map[string]string{"app.kubernetes.io/managed-by": "modeguard"},
			},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{},
		}
		b.SetData(s.Data)
		if err := r.client.Create(ctx, s); err != nil {
			return fmt.Errorf("creating Secret %s: %w", r.o.Secret, err)
		}
		return nil
	}
	s := secret.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	b.SetData(s.Data)
	if err := r.client.Update(ctx, s); err != nil {
		return fmt.Errorf("updating Secret %s: %w", r.o.Secret, err)
	}
	return nil
}

// inject puts bundle into every webhook of the configured webhook
// configurations that differs, and reports whether all that exist now carry
// it.
func (r *Rotator) inject(ctx context.Context, bundle []byte) (bool, error) {
	if n := r.o.MutatingWebhookConfiguration; n != "" {
		var c admissionregistrationv1.MutatingWebhookConfiguration
		if err := r.injectOne(ctx, "MutatingWebhookConfiguration", n, &c, func() bool { return InjectMutating(&c, bundle) }); err != nil {
			return false, err
		}
	}
	if n := r.o.ValidatingWebhookConfiguration; n != "" {
		var c admissionregistrationv1.ValidatingWebhookConfiguration
		if err := r.injectOne(ctx, "ValidatingWebhookConfiguration", n, &c, func() bool { return InjectValidating(&c, bundle) }); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (r *Rotator) injectOne(ctx context.Context, kind, name string, obj client.Object, set func() bool) error {
	if err := r.client.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if !r.missing[kind+"/"+name] {
				r.log.Info("Webhook configuration not found; its caBundle is injected when it appears", "kind", kind, "name", name)
				r.missing[kind+"/"+name] = true
			}
			return nil
		}
		return fmt.Errorf("reading %s %q: %w", kind, name, err)
	}
	delete(r.missing, kind+"/"+name)
	if !set() {
		return nil
	}
	if err := r.client.Update(ctx, obj); err != nil {
		return fmt.Errorf("injecting caBundle into %s %q: %w", kind, name, err)
	}
	r.log.Info("Injected CA bundle", "kind", kind, "name", name)
	return nil
}

// summary describes b for the log: names, serials and expiry, no key
// material.
func summary(b Bundle) []any {
	var kv []any
	if certs, err := DecodeCerts(b.CACert); err == nil {
		kv = append(kv, "ca", describe(certs[0]), "caNotAfter", certs[0].NotAfter.UTC())
	}
	if certs, err := DecodeCerts(b.TLSCert); err == nil {
		kv = append(kv, "serving", describe(certs[0]), "servingNotAfter", certs[0].NotAfter.UTC())
	}
	if certs, err := DecodeCerts(b.CABundle); err == nil {
		kv = append(kv, "trustedCAs", len(certs))
	}
	return kv
}
