package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/audit"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/resubmit"
	"github.com/modeguard/modeguard/workload"
)

// gracefulShutdownTimeout bounds how long the manager waits for its
// runnables (in-flight admission requests among them) once stopping.
const gracefulShutdownTimeout = 30 * time.Second

// Leader election timing. The leader runs only the reconciler and the
// certificate rotator, neither urgent, while losing the lease ends the
// process (controller-runtime cannot stop leader-only work and go on), so
// the lease is generous: the leader keeps it through a minute and more of
// API server downtime (a restart, an upgrade) instead of exiting, at the
// cost of a slower takeover when a leader dies without releasing it.
const (
	leaseDuration = 137 * time.Second
	renewDeadline = 107 * time.Second
	retryPeriod   = 26 * time.Second
)

// Server is the webhook, wired and ready to Start.
type Server struct {
	opts     Options
	mgr      manager.Manager
	engine   *policy.Engine
	metrics  *metrics.Metrics
	lookup   *lookup.Cache
	log      logr.Logger
	stopping atomic.Bool
}

// New builds the Server: it loads the settings and the policy (failing if
// they do not compile: there is no last good policy yet), and wires the
// manager. Nothing runs until Start.
func New(ctx context.Context, cfg *rest.Config, o Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.PolicyPollInterval <= 0 {
		o.PolicyPollInterval = DefaultPolicyPollInterval
	}
	if o.CRDPollInterval <= 0 {
		o.CRDPollInterval = DefaultCRDPollInterval
	}
	if o.Fixer == nil {
		o.Fixer = mutate.Fixer{}
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	log := logf.Log.WithName("modeguard")
	settings, err := policy.LoadSettings(o.SettingsPath)
	if err != nil {
		return nil, err
	}
	engine, err := policy.New(ctx, policy.Options{PolicyDir: o.PolicyDir, Settings: settings})
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	m, err := metrics.New(ctrlmetrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	m.PolicyLoaded(engine.LoadedAt())
	if err := metrics.WatchMemo(ctrlmetrics.Registry, engine.Memo().Stats); err != nil {
		return nil, err
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := workload.AddAlloyToScheme(scheme); err != nil {
		return nil, err
	}
	if err := reportsv1alpha1.Install(scheme); err != nil {
		return nil, err
	}
	watches := lookup.NewWatches()
	watches.OnStaleRead = m.StaleRead
	watches.Log = log.WithName("lookup")
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(watches.Transport)
	cfg.WarningHandler, cfg.WarningHandlerWithContext = nil, quietWarnings{log: log.WithName("apiserver")}
	stack, err := certStack(cfg, o)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, engine: engine, metrics: m, log: log}
	s.mgr, err = ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Logger:                        log,
		Cache:                         lookup.CacheOptions(watches, settings.Agents()),
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress, ExtraHandlers: profilingHandlers(o.Profiling), HandlerOpts: metricsHandlerOpts},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 ptr.To(leaseDuration),
		RenewDeadline:                 ptr.To(renewDeadline),
		RetryPeriod:                   ptr.To(retryPeriod),
		GracefulShutdownTimeout:       ptr.To(gracefulShutdownTimeout),
		WebhookServer:                 newHTTPSServer(o.WebhookHost, o.WebhookPort, o.Limits, log.WithName("https"), tlsOpts(stack, o)...),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := stack.AddToManager(s.mgr); err != nil {
		return nil, err
	}
	s.lookup, err = lookup.Setup(ctx, s.mgr.GetCache(), s.mgr.GetAPIReader(), log.WithName("lookup"), watches, settings.Agents())
	if err != nil {
		return nil, err
	}
	// Custom resources (Alloy objects) are watched once their CRD is
	// served: found at start, or later when it is installed.
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	if err := s.mgr.Add(everyReplica(func(ctx context.Context) error {
		if err := s.lookup.WatchCRDs(ctx, lookup.ServedBy(disc), o.CRDPollInterval); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})); err != nil {
		return nil, err
	}

	reviewer := &review.Reviewer{Engine: engine, Fixer: o.Fixer}
	core := &admit.Core{Reviewer: reviewer, Lookup: s.lookup, Metrics: m, FailurePolicy: o.FailurePolicy, Timeout: o.RequestTimeout}
	if !o.DryRunOverlayOff {
		core.Overlay = dryrun.New(o.DryRun, settings.Agents())
		if err := metrics.RegisterOverlay(ctrlmetrics.Registry, core.Overlay.Len); err != nil {
			return nil, fmt.Errorf("registering the dry-run overlay metrics: %w", err)
		}
		if addrs := peerAddrs(o); addrs != nil {
			current := func() (*tls.Certificate, error) { return stack.Keeper.GetCertificate(nil) }
			core.Overlay.Peers = &dryrun.Peers{Addrs: addrs, Certificate: current}
			s.mgr.GetWebhookServer().Register(dryrun.PeerPath, core.Overlay.PeerHandler(dryrun.SameKey(current)))
		}
	}
	decoder := admission.NewDecoder(scheme)
	srv := s.mgr.GetWebhookServer()
	srv.Register(admit.MutatePath, &webhook.Admission{Handler: admit.NewMutating(core, decoder, o.ResultCacheSize), RecoverPanic: ptr.To(true)})
	srv.Register(admit.ValidatePath, &webhook.Admission{Handler: admit.NewValidating(core, decoder, o.ResultCacheSize), RecoverPanic: ptr.To(true)})

	resync := make(chan event.GenericEvent, 1)
	rec := &resubmit.Reconciler{
		Client:   s.mgr.GetClient(),
		Lookup:   s.lookup,
		Reviewer: reviewer,
		Recorder: s.mgr.GetEventRecorder("modeguard"),
		Metrics:  m,
	}
	if err := rec.SetupWithManager(s.mgr, resync); err != nil {
		return nil, fmt.Errorf("setting up the reconciler: %w", err)
	}
	var reloaded func()
	if o.Audit {
		a := &audit.Auditor{
			Cache:    s.mgr.GetCache(),
			Lookup:   s.lookup,
			Reader:   s.mgr.GetAPIReader(),
			Client:   s.mgr.GetClient(),
			Reviewer: reviewer,
			Recorder: s.mgr.GetEventRecorder("modeguard-audit"),
			Metrics:  m,
			Log:      log.WithName("audit"),
			Interval: o.AuditInterval,
			Format:   o.ReportFormat,
		}
		if err := s.mgr.Add(a); err != nil {
			return nil, err
		}
		reloaded = a.Reload
	}
	if o.PolicyDir != "" {
		w := &policyWatcher{dir: o.PolicyDir, engine: engine, metrics: m, interval: o.PolicyPollInterval, log: log.WithName("policy"), resync: resync, reloaded: reloaded}
		if err := s.mgr.Add(w); err != nil {
			return nil, err
		}
	}

	checks := map[string]healthz.Checker{
		"webhook":  srv.StartedChecker(),
		"cache":    s.lookup.Ready,
		"policy":   s.policyReady,
		"shutdown": s.notStopping,
	}
	for name, c := range checks {
		if err := s.mgr.AddReadyzCheck(name, c); err != nil {
			return nil, err
		}
	}
	if err := s.mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	return s, nil
}

// tlsOpts are the webhook server's TLS options: the certificate stack's,
// and, when the replicas share their dry-run overlays, a request for the
// client certificate a peer presents (the API server presents none, and
// needs none: nothing but PeerPath reads it).
func tlsOpts(stack *certs.Stack, o Options) []func(*tls.Config) {
	opts := []func(*tls.Config){stack.ConfigureTLS}
	if peerAddrs(o) != nil {
		opts = append(opts, func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert })
	}
	return opts
}

// peerAddrs finds the other replicas for the dry-run overlay: the static
// list, or the headless Service's endpoints less this pod's address
// ($POD_IP); nil when neither is set (or the overlay is off).
func peerAddrs(o Options) func(context.Context) ([]string, error) {
	switch {
	case o.DryRunOverlayOff:
		return nil
	case len(o.DryRunPeers) > 0:
		return dryrun.StaticPeers(o.DryRunPeers)
	case o.DryRunPeerService != "":
		name := o.DryRunPeerService
		if !strings.Contains(name, ".") {
			name += "." + o.Namespace + ".svc"
		}
		return dryrun.ServicePeers(name, o.WebhookPort, []string{os.Getenv("POD_IP")})
	}
	return nil
}

// certStack builds the certificate machinery of o.CertMode.
func certStack(cfg *rest.Config, o Options) (*certs.Stack, error) {
	co := certs.Options{
		Service:                        o.ServiceName,
		Namespace:                      o.Namespace,
		SecretName:                     o.CertSecret,
		Policy:                         certs.Policy{DNSNames: o.CertNames},
		CertDir:                        o.CertDir,
		MutatingWebhookConfiguration:   o.MutatingWebhookConfiguration,
		ValidatingWebhookConfiguration: o.ValidatingWebhookConfiguration,
	}
	switch o.CertMode {
	case CertSelfManaged:
		co.Mode = certs.ModeSelfManaged
	case CertManager, CertDir:
		// Both serve a directory someone else fills; only who differs.
		co.Mode = certs.ModeCertManager
	}
	s, err := certs.NewStack(cfg, co)
	if err != nil {
		return nil, fmt.Errorf("certificates (%s): %w", o.CertMode, err)
	}
	return s, nil
}

func (s *Server) policyReady(*http.Request) error {
	if s.engine.Version() == "" {
		return errors.New("no policy loaded")
	}
	return nil
}

func (s *Server) notStopping(*http.Request) error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	return nil
}

// Start runs the webhook until ctx ends. Then readiness fails at once, the
// server keeps answering for ShutdownDelay (the API server and the Service
// endpoints catch up), and the manager stops: the webhook server drains
// in-flight requests, the leader releases its Lease.
func (s *Server) Start(ctx context.Context) error {
	mgrCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case <-mgrCtx.Done():
			return
		case <-ctx.Done():
		}
		s.stopping.Store(true)
		s.log.Info("Shutting down: not ready any more, still answering", "delay", s.opts.ShutdownDelay)
		t := time.NewTimer(s.opts.ShutdownDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-mgrCtx.Done():
		}
		stop()
	}()
	s.log.Info("Starting modeguard webhook", "policyVersion", s.engine.Version(), "certMode", s.opts.CertMode,
		"failurePolicy", s.opts.FailurePolicy, "leaderElection", s.opts.LeaderElection)
	return s.mgr.Start(mgrCtx)
}

// Run builds a Server from o and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	s, err := New(ctx, cfg, o)
	if err != nil {
		return err
	}
	return s.Start(ctx)
}

// everyReplica is a Runnable every replica runs, leader or not (each
// replica answers admission requests from its own cache).
type everyReplica func(ctx context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (everyReplica) NeedLeaderElection() bool { return false }

// profilingHandlers are net/http/pprof's handlers, under /debug/pprof/ of
// the metrics server, when on.
func profilingHandlers(on bool) map[string]http.Handler {
	if !on {
		return nil
	}
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}

// metricsHandlerOpts serve the metrics uncompressed: a gzip writer (the
// Prometheus handler pools them) held 1.8 MiB of the webhook's 8 MiB live
// heap after make bench's load, twice that resident at the default GOGC;
// an uncompressed scrape is some hundred KiB inside the cluster.
var metricsHandlerOpts = []func(*promhttp.HandlerOpts){func(o *promhttp.HandlerOpts) { o.DisableCompression = true }}
