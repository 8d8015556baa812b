package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"

	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/internal/gomem"
	"github.com/modeguard/modeguard/internal/version"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/webhook/server"
)

const name = "modeguard-webhook"

func main() { os.Exit(run()) }

func run() int {
	return runArgs(ctrl.SetupSignalHandler(), os.Args[1:], os.Stdout, os.Stderr)
}

// runArgs runs the command line args until ctx ends and returns the exit
// code: 0, 1 on failure, 2 on bad usage.
func runArgs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "certs" {
		return runCerts(args[1:], stdout, stderr)
	}
	fs, o, lo := flags(stdout)
	showVersion := fs.Bool("version", false, "Print the version and commit, then exit.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v (see --help)\n", name, err)
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "%s %s\n", name, version.Long())
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see --help)\n", name, fs.Arg(0))
		return 2
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	ctrl.SetLogger(lazyValues(lo.logger(stderr)))
	log := ctrl.Log.WithName("setup")
	log.Info("Build", "version", version.String(), "commit", version.CommitString())
	goMemoryLimit(ctx, lo.memoryTarget, log)
	cfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Reading the Kubernetes client configuration")
		return 1
	}
	if err := server.Run(ctx, cfg, *o); err != nil {
		log.Error(err, "Webhook stopped")
		return 1
	}
	return 0
}

// flags defines the command's flags on a new set that prints --help to out.
func flags(out io.Writer) (*flag.FlagSet, *server.Options, *procOptions) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	o := server.DefaultOptions()
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		o.Namespace = ns
	}
	fs.StringVar(&o.PolicyDir, "policy-dir", "", "Directory of custom .rego policies, compiled next to the built-in rules and reloaded when it changes (a reload that fails keeps the last good policy). Empty: built-in rules only.")
	fs.StringVar(&o.SettingsPath, "settings", "", "Settings file (per-rule actions, allowed skips, dry run, exempt namespaces, agent image patterns). Read at start. Empty: defaults.")
	fs.StringVar(&o.CertMode, "cert-mode", o.CertMode, "Who provides the serving certificate: self-managed (modeguard issues and rotates it in the Secret --cert-secret and injects the CA into the webhook configurations; needs leader election with several replicas), cert-manager (mounted in --cert-dir by cert-manager, which injects the CA), or dir (tls.crt and tls.key in --cert-dir, reloaded on change; see the certs subcommand).")
	fs.StringVar(&o.CertDir, "cert-dir", "", "Certificate directory (tls.crt, tls.key). Required with --cert-mode=cert-manager or dir; with self-managed, the served pair is also written there.")
	fs.StringVar(&o.CertSecret, "cert-secret", o.CertSecret, "The certificate Secret in --namespace (self-managed mode).")
	fs.Func("cert-names", "Comma-separated names the served certificate must cover (readiness fails otherwise). Default: the Service's DNS names (<service>.<namespace>.svc, ...).", func(s string) error {
		o.CertNames = nil
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.CertNames = append(o.CertNames, n)
			}
		}
		return nil
	})
	fs.StringVar(&o.ServiceName, "service-name", o.ServiceName, "The webhook's Service: the serving certificate covers <service>.<namespace>.svc.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "modeguard's namespace (the Service's, the certificate Secret's, the leader election Lease's). Default: $POD_NAMESPACE, else modeguard-system.")
	fs.StringVar(&o.MutatingWebhookConfiguration, "mutating-webhook-configuration", o.MutatingWebhookConfiguration, "MutatingWebhookConfiguration whose caBundle is kept (self-managed mode).")
	fs.StringVar(&o.ValidatingWebhookConfiguration, "validating-webhook-configuration", o.ValidatingWebhookConfiguration, "ValidatingWebhookConfiguration whose caBundle is kept (self-managed mode).")
	fs.StringVar(&o.WebhookHost, "webhook-host", "", "Address the webhook server listens on (empty: all).")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "Port of the webhook server (HTTPS; /mutate and /validate).")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address of the Prometheus metrics endpoint (/metrics); 0 disables it.")
	fs.BoolVar(&o.Profiling, "profiling", false, "Serve Go's CPU, heap and other profiles (net/http/pprof: /debug/pprof/) on the metrics address. Off by default: a profile shows the process's state, so turn it on only where the metrics address is not reachable by untrusted clients.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "Address of /healthz and /readyz (ready once the certificate, the informer cache and the policy are loaded); 0 disables it.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader (Lease in --namespace) to run the reconciler and the certificate rotator. Required with more than one replica.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "Name of the leader election Lease.")
	fs.Var(&o.FailurePolicy, "failure-policy", "What a request gets when it cannot be reviewed (a lookup of the objects around it or the policy engine failed, or it timed out; logged with the request UID): allow (admit unchanged, with a warning) or deny (reject). The API server's own failurePolicy (Ignore in deploy/) covers an unreachable webhook.")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "How long one admission request may take, review included; past it, --failure-policy answers (the review stops at its next stage). Keep it below the webhooks' timeoutSeconds (3s in deploy/).")
	fs.IntVar(&o.Limits.MaxConns, "max-connections", server.DefaultLimits().MaxConns, "Open connections the HTTPS server accepts at once; more wait in the listen backlog.")
	fs.IntVar(&o.Limits.MaxInFlight, "max-in-flight", server.DefaultLimits().MaxInFlight, "Admission requests reviewed at once (each may hold a body of up to 7 MiB); more wait up to 5 s, then get 503 and the API server's failurePolicy applies.")
	fs.IntVar(&o.ResultCacheSize, "result-cache-size", 0, "Entries in each handler's result cache (identical Pods of a rollout cost two evaluations: an answer is kept once asked for twice); 0: 4096; negative: no cache.")
	fs.DurationVar(&o.DryRun.TTL, "dry-run-ttl", dryrun.DefaultTTL, "How long a server-side dry run's objects are remembered for the same user's next dry-run requests (the ConfigMap of a bundle seen by its workload, and the reverse).")
	fs.IntVar(&o.DryRun.MaxEntries, "dry-run-max-entries", dryrun.DefaultMaxEntries, "Objects the dry-run overlay holds at most (the oldest go first).")
	fs.Int64Var(&o.DryRun.MaxBytes, "dry-run-max-bytes", dryrun.DefaultMaxBytes, "Bytes of objects the dry-run overlay holds at most (the oldest go first).")
	fs.StringVar(&o.DryRunPeerService, "dry-run-peer-service", "", "Headless Service selecting the webhook's replicas (in --namespace unless qualified): a replica asks the others, over the webhook port and authenticated by the shared serving certificate, for a dry-run pair that reached them. Empty: replicas do not share dry-run objects.")
	fs.Func("dry-run-peers", "Comma-separated host:port of the other replicas, instead of --dry-run-peer-service (local runs, tests).", func(s string) error {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.DryRunPeers = append(o.DryRunPeers, a)
			}
		}
		return nil
	})
	fs.BoolVar(&o.DryRunOverlayOff, "no-dry-run-overlay", false, "Judge each dry-run object against the cluster only (a dry run of a new install then sees no pair).")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", o.ShutdownDelay, "On SIGTERM, keep answering (not ready) this long before draining in-flight requests and stopping.")
	fs.DurationVar(&o.PolicyPollInterval, "policy-poll-interval", o.PolicyPollInterval, "How often --policy-dir is re-read in case a change was not notified.")
	fs.DurationVar(&o.CRDPollInterval, "crd-poll-interval", o.CRDPollInterval, "How often the API server is asked whether the Alloy CRD (alloys.collectors.grafana.com) is served yet, until it is; Alloy objects are checked from then on.")
	fs.BoolVar(&o.Audit, "audit", o.Audit, "Audit what already runs (the leader only): review every agent workload and agent ConfigMap on start, on their changes, on a policy reload and every --audit-interval, and write a report per namespace (--report-format), Events and the modeguard_audit_findings gauge. false turns it off.")
	fs.StringVar(&o.ReportFormat, "report-format", o.ReportFormat, "The audit's reports: openreports (openreports.io/v1alpha1 Report, the API Kyverno and Kubewarden moved to) or wgpolicyk8s (wgpolicyk8s.io/v1alpha2 PolicyReport, which older Policy Reporter versions read). Its CRD must be installed.")
	fs.DurationVar(&o.AuditInterval, "audit-interval", o.AuditInterval, "Time between full audit passes (besides the passes on changes).")
	config.RegisterFlags(fs)
	lo := &procOptions{format: "json"}
	fs.IntVar(&lo.verbosity, "v", 0, "Log verbosity: 0 logs decisions and problems, 1 also why objects were not evaluated, higher is noisier.")
	fs.Func("log-format", "Log format: json or text (default json).", func(s string) error {
		if s != "json" && s != "text" {
			return fmt.Errorf("want json or text")
		}
		lo.format = s
		return nil
	})
	fs.Func("memory-target", "Resident memory to stay under, normally the container's memory request (a quantity: 128Mi, or bytes as the downward API's resourceFieldRef gives them). Go's memory limit is set to it less the binary's mapped code ("+gomemReserve+"), so the garbage collector works harder near it; it rises above that only while what stays live needs more (logged), up to 90% of the container's memory limit. Empty: 90% of the container's memory limit alone. GOMEMLIMIT, or AUTOMEMLIMIT=off, in the environment take precedence.", func(s string) error {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return err
		}
		if q.Sign() < 0 {
			return fmt.Errorf("negative")
		}
		lo.memoryTarget = q.Value()
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(out, `%s: the modeguard admission webhook for Grafana Agent (Flow) and Alloy.

Usage:
  %s [flags]
  %s certs --dir DIR [--service S] [--namespace N] [--validity D]
      write a CA (ca.crt) and a serving pair (tls.crt, tls.key) for
      --cert-mode=dir; put ca.crt in the webhook configurations' caBundle

Flags:
`, name, name, name)
		fs.PrintDefaults()
	}
	return fs, &o, lo
}

// procOptions are the process's own: its structured logger (log/slog
// behind logr) and its memory target.
type procOptions struct {
	verbosity int
	format    string
	// memoryTarget is the resident memory to stay under (bytes; 0: none).
	memoryTarget int64
}

func (lo *procOptions) logger(w io.Writer) logr.Logger {
	// logr's V(n) is slog level -n.
	ho := &slog.HandlerOptions{Level: slog.Level(-lo.verbosity)}
	if lo.format == "text" {
		return logr.FromSlogHandler(slog.NewTextHandler(w, ho))
	}
	return logr.FromSlogHandler(slog.NewJSONHandler(w, ho))
}

// gomemReserve is gomem.DefaultReserve for the flag's help.
var gomemReserve = resource.NewQuantity(gomem.DefaultReserve, resource.BinarySI).String()

// goMemoryLimit sets Go's soft memory limit: kept under target (bytes; 0:
// none) by gomem.Keep until ctx ends, never above 90% of the container's
// memory limit (its cgroup's). GOMEMLIMIT, or AUTOMEMLIMIT=off, in the
// environment leave it to the runtime.
func goMemoryLimit(ctx context.Context, target int64, log logr.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" || os.Getenv("AUTOMEMLIMIT") == "off" {
		log.Info("Go memory limit left to the environment", "GOMEMLIMIT", v)
		return
	}
	l := gomem.Limits{Target: target, Reserve: gomem.DefaultReserve, Cap: math.MaxInt64}
	if c, err := memlimit.FromCgroup(); err != nil {
		log.Info("Go memory limit not capped by the container's", "reason", err.Error())
	} else {
		l.Cap = int64(float64(c) * 0.9)
	}
	if target > 0 {
		go gomem.Keep(ctx, l, 5*time.Second, log)
		return
	}
	if l.Cap < math.MaxInt64 {
		debug.SetMemoryLimit(l.Cap)
		log.Info("Go memory limit set from the container's", "bytes", l.Cap)
	}
}

// runCerts writes a CA and a serving pair with certs.WriteFiles.
func runCerts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name+" certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "Directory to write ca.crt, tls.crt and tls.key into (created if missing). Required.")
	service := fs.String("service", server.DefaultServiceName, "The webhook's Service name.")
	namespace := fs.String("namespace", server.DefaultNamespace, "The webhook's namespace.")
	validity := fs.Duration("validity", 365*24*time.Hour, "How long the CA and the serving certificate are valid.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" {
		fmt.Fprintf(stderr, "%s certs: --dir is required\n", name)
		return 2
	}
	if err := certs.WriteFiles(*dir, *service, *namespace, *validity); err != nil {
		fmt.Fprintf(stderr, "%s certs: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s/ca.crt, tls.crt and tls.key for %v\n", *dir, certs.DNSNames(*service, *namespace))
	return 0
}
