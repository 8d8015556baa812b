package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/audit"
	"github.com/modeguard/modeguard/webhook/dryrun"
)

// Certificate modes (--cert-mode).
const (
	// CertSelfManaged: modeguard issues and rotates its certificate in a
	// Secret and injects the CA into the webhook configurations.
	CertSelfManaged = "self-managed"
	// CertManager: cert-manager writes the certificate into CertDir and
	// injects the CA; modeguard serves what is mounted.
	CertManager = "cert-manager"
	// CertDir: serve tls.crt and tls.key from CertDir, reloaded on change
	// (local runs, the demo, tests; `modeguard-webhook certs` writes them).
	CertDir = "dir"
)

// Defaults.
const (
	DefaultServiceName            = "modeguard-webhook"
	DefaultNamespace              = "modeguard-system"
	DefaultWebhookConfiguration   = "modeguard"
	DefaultCertSecret             = "modeguard-webhook-tls"
	DefaultWebhookPort            = 9443
	DefaultMetricsBindAddress     = ":8080"
	DefaultHealthProbeBindAddress = ":8081"
	DefaultLeaderElectionID       = "modeguard-webhook.modeguard.dev"
	DefaultShutdownDelay          = 5 * time.Second
	DefaultPolicyPollInterval     = 30 * time.Second
	DefaultCRDPollInterval        = 30 * time.Second
)

// Options configure a Server. cmd/webhook fills them from flags.
type Options struct {
	// PolicyDir holds custom .rego files, watched and reloaded; "" for the
	// built-in rules only.
	PolicyDir string
	// SettingsPath is the settings file; "" for the defaults. Settings are
	// read at start (a change needs a restart).
	SettingsPath string

	// CertMode is CertSelfManaged, CertManager or CertDir.
	CertMode string
	// CertDir holds tls.crt and tls.key (CertManager, CertDir); in
	// self-managed mode the served pair is also written there if set.
	CertDir string
	// ServiceName and Namespace are the webhook's Service, for the
	// certificate's names; Namespace is also where the leader election
	// Lease and the certificate Secret live.
	ServiceName string
	Namespace   string
	// MutatingWebhookConfiguration and ValidatingWebhookConfiguration get
	// the CA bundle in self-managed mode.
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string

	// WebhookHost and WebhookPort are where the webhook server listens
	// (host "" for every address).
	WebhookHost string
	WebhookPort int
	// MetricsBindAddress serves /metrics ("0" disables it).
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz ("0" disables it).
	HealthProbeBindAddress string
	// Profiling serves Go's profiles (net/http/pprof, /debug/pprof/) on
	// the metrics address.
	Profiling bool

	// LeaderElection elects the replica that runs the reconciler and the
	// certificate rotator; LeaderElectionID names its Lease.
	LeaderElection   bool
	LeaderElectionID string

	// FailurePolicy answers requests the engine fails on.
	FailurePolicy admit.FailurePolicy
	// RequestTimeout bounds each admission request, review included; past
	// it FailurePolicy answers. Keep it below the webhooks' timeoutSeconds.
	RequestTimeout time.Duration
	// Limits bound the HTTPS server's connections, requests in flight and
	// read/write times (zero fields: DefaultLimits).
	Limits Limits
	// ResultCacheSize bounds the entries of each handler's result cache
	// (0: the default; negative: no cache); admit.DefaultCacheBytes bounds
	// what they hold, and an answer is kept once asked for twice
	// (admit.Doorkeeper).
	ResultCacheSize int
	// DryRun bounds the dry-run overlay (zero fields: the dryrun defaults);
	// DryRunOverlayOff disables it (dry runs then see the cluster only).
	DryRun           dryrun.Options
	DryRunOverlayOff bool
	// DryRunPeers (host:port of the other replicas) or DryRunPeerService
	// (a headless Service selecting the replicas, in Namespace unless
	// qualified; its endpoints less $POD_IP, at WebhookPort) are asked for
	// a dry-run pair that reached another replica. Neither: not asked.
	DryRunPeers       []string
	DryRunPeerService string
	// ShutdownDelay is how long the server keeps answering, not ready,
	// after shutdown starts.
	ShutdownDelay time.Duration
	// PolicyPollInterval is how often the policy directory is re-read in
	// case a file change was not notified.
	PolicyPollInterval time.Duration
	// CRDPollInterval is how often the API server is asked whether a
	// custom resource modeguard reads (the Alloy CRD) is served yet, until
	// it is.
	CRDPollInterval time.Duration

	// Audit runs the audit loop (webhook/audit) on the leader: reports of
	// what already runs, on start, on changes, on a policy reload and every
	// AuditInterval.
	Audit         bool
	AuditInterval time.Duration
	// ReportFormat is the audit's report format: audit.FormatOpenReports
	// (the default) or audit.FormatWGPolicy.
	ReportFormat string

	// CertSecret is the certificate Secret in self-managed mode.
	CertSecret string
	// CertNames are the names the served certificate must cover (readiness
	// fails otherwise); default: the Service's DNS names. A local run or a
	// test reached at 127.0.0.1 sets its own.
	CertNames []string

	// Fixer carries out fixes (default mutate.Fixer).
	Fixer review.Fixer
}

// DefaultOptions returns the options the flags default to.
func DefaultOptions() Options {
	return Options{
		CertMode:                       CertSelfManaged,
		CertSecret:                     DefaultCertSecret,
		ServiceName:                    DefaultServiceName,
		Namespace:                      DefaultNamespace,
		MutatingWebhookConfiguration:   DefaultWebhookConfiguration,
		ValidatingWebhookConfiguration: DefaultWebhookConfiguration,
		WebhookPort:                    DefaultWebhookPort,
		MetricsBindAddress:             DefaultMetricsBindAddress,
		HealthProbeBindAddress:         DefaultHealthProbeBindAddress,
		LeaderElectionID:               DefaultLeaderElectionID,
		FailurePolicy:                  admit.FailAllow,
		RequestTimeout:                 admit.DefaultTimeout,
		ShutdownDelay:                  DefaultShutdownDelay,
		PolicyPollInterval:             DefaultPolicyPollInterval,
		CRDPollInterval:                DefaultCRDPollInterval,
		Audit:                          true,
		AuditInterval:                  audit.DefaultInterval,
		ReportFormat:                   audit.FormatOpenReports,
	}
}

// Validate reports every invalid option.
func (o *Options) Validate() error {
	var errs []error
	switch o.CertMode {
	case CertSelfManaged:
	case CertManager, CertDir:
		if o.CertDir == "" {
			errs = append(errs, fmt.Errorf("--cert-mode=%s needs --cert-dir", o.CertMode))
		}
	default:
		errs = append(errs, fmt.Errorf("--cert-mode=%q: want %s, %s or %s", o.CertMode, CertSelfManaged, CertManager, CertDir))
	}
	if o.ServiceName == "" {
		errs = append(errs, errors.New("--service-name must not be empty"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("--namespace must not be empty"))
	}
	if o.WebhookPort <= 0 || o.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port=%d: want 1-65535", o.WebhookPort))
	}
	switch o.FailurePolicy {
	case admit.FailAllow, admit.FailDeny:
	default:
		errs = append(errs, fmt.Errorf("--failure-policy=%q: want %s or %s", o.FailurePolicy, admit.FailAllow, admit.FailDeny))
	}
	if o.Limits.MaxConns < 0 || o.Limits.MaxInFlight < 0 {
		errs = append(errs, errors.New("--max-connections and --max-in-flight must not be negative"))
	}
	if o.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout=%v: want a positive duration like 2500ms", o.RequestTimeout))
	}
	if o.DryRun.TTL < 0 || o.DryRun.MaxEntries < 0 || o.DryRun.MaxBytes < 0 {
		errs = append(errs, errors.New("--dry-run-ttl, --dry-run-max-entries and --dry-run-max-bytes must not be negative"))
	}
	if !audit.ValidFormat(o.ReportFormat) {
		errs = append(errs, fmt.Errorf("--report-format=%q: want %s", o.ReportFormat, strings.Join(audit.Formats, " or ")))
	}
	if o.AuditInterval < 0 {
		errs = append(errs, errors.New("--audit-interval must not be negative"))
	}
	if o.ShutdownDelay < 0 {
		errs = append(errs, errors.New("--shutdown-delay must not be negative"))
	}
	return errors.Join(errs...)
}
