package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/test/e2e"
)

// Options configure a run.
type Options struct {
	// Root is the repository root; Assets holds kube-apiserver, etcd and
	// kubectl; Webhook is the modeguard-webhook binary.
	Root, Assets, Webhook string
	// Short is the form make test runs: every scenario, shorter loads.
	Short bool
	// Soak is how long the sustained load runs (default 10m, short 30s).
	Soak time.Duration
	// Fault is how long the load runs around each fault (default 30s,
	// short 8s).
	Fault time.Duration
	// Workers are the concurrent clients of the load (default 4).
	Workers int
	// Keep leaves the work directory (webhook log, kubeconfig) behind.
	Keep bool
	// Only, when set, runs the scenarios whose "section: name" it matches.
	Only *regexp.Regexp
	// Log receives progress lines.
	Log io.Writer
}

func (o *Options) defaults() {
	if o.Soak <= 0 {
		o.Soak = 10 * time.Minute
		if o.Short {
			o.Soak = 30 * time.Second
		}
	}
	if o.Fault <= 0 {
		o.Fault = 30 * time.Second
		if o.Short {
			o.Fault = 8 * time.Second
		}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Row is one scenario's result.
type Row struct {
	Section  string
	Scenario string
	// Requests sent; Failed: errors and hangs (not a clean answer);
	// Wrong: answers other than the expected one.
	Requests, Failed, Wrong int64
	MaxRSS                  uint64
	Notes                   []string
	// Problems say why the scenario failed; none: it passed.
	Problems []string
	Took     time.Duration
}

// Pass reports whether the scenario met its bar.
func (r *Row) Pass() bool { return len(r.Problems) == 0 }

func (r *Row) note(format string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, a...)) }

func (r *Row) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// Report is a whole run.
type Report struct {
	Short                      bool
	Options                    Options
	Started                    time.Time
	Took                       time.Duration
	GoVersion, Machine, Commit string
	Cases                      int
	SetupNotes                 []string
	Rows                       []*Row
}

// Passed reports whether every scenario passed.
func (r *Report) Passed() bool {
	for _, row := range r.Rows {
		if !row.Pass() {
			return false
		}
	}
	return true
}

type suite struct {
	o   Options
	c   *e2e.Cluster
	cfg *rest.Config
	cl  client.Client
	// pcl sends the policy probes as another user, so that the dry-run
	// overlay (keyed by user) never pairs a probe with the load's objects.
	pcl     client.Client
	cases   []*Case
	smp     *sampler
	rep     *Report
	workDir string
}

func (s *suite) logf(format string, a ...any) {
	fmt.Fprintf(s.o.Log, "[%s] reliability: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// exemptNamespace is exempt in the settings the webhook runs with.
const exemptNamespace = "reliability-exempt"

// Run starts the control plane and the webhook, runs every scenario and
// stops everything again.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{Short: o.Short, Options: o, Started: time.Now(), GoVersion: runtime.Version(), Machine: machine()}
	rep.Commit = commit(o.Root)
	work, err := os.MkdirTemp("", "modeguard-reliability-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		fmt.Fprintf(o.Log, "reliability: keeping %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	settings := filepath.Join(work, "settings.yaml")
	if err := os.WriteFile(settings, []byte("apiVersion: modeguard.dev/v1\nkind: Settings\nexemptNamespaces: ["+exemptNamespace+"]\n"), 0o644); err != nil {
		return nil, err
	}
	s := &suite{o: o, rep: rep, workDir: work}
	if err := os.MkdirAll(filepath.Join(work, "cluster"), 0o755); err != nil {
		return nil, err
	}
	s.logf("starting the control plane and the webhook")
	s.c, err = e2e.Start(ctx, e2e.Options{
		Root: o.Root, Assets: o.Assets, Webhook: o.Webhook, Log: prefixed{o.Log},
		WorkDir: filepath.Join(work, "cluster"), Keep: o.Keep, WebhookArgs: []string{"--settings=" + settings},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if s.c != nil {
			stopErr := s.c.Stop()
			if busy := s.c.PortsFree(); len(busy) > 0 {
				stopErr = errors.Join(stopErr, fmt.Errorf("ports still open after stopping: %s", strings.Join(busy, ", ")))
			}
			if stopErr != nil {
				rep.SetupNotes = append(rep.SetupNotes, "stopping: "+stopErr.Error())
			}
		}
	}()
	s.cfg, err = clientcmd.BuildConfigFromFlags("", s.c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	s.cfg.QPS, s.cfg.Burst = 5000, 5000
	s.cfg.WarningHandler = rest.NoWarnings{}
	s.cl, err = client.New(s.cfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		return nil, err
	}
	pcfg := rest.CopyConfig(s.cfg)
	pcfg.Impersonate = rest.ImpersonationConfig{UserName: "reliability-probe", Groups: []string{"system:masters"}}
	s.pcl, err = client.New(pcfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		return nil, err
	}
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	s.smp = &sampler{pid: s.c.WebhookPID, metricsURL: s.c.MetricsURL}
	go s.smp.run(sctx, 500*time.Millisecond)

	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	for _, sc := range s.scenarios() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if o.Only != nil && !o.Only.MatchString(sc.section+": "+sc.name) {
			continue
		}
		s.logf("%s: %s", sc.section, sc.name)
		row := &Row{Section: sc.section, Scenario: sc.name}
		from := s.smp.now(ctx)
		began := time.Now()
		sc.run(ctx, row)
		row.Took = time.Since(began)
		to := s.smp.now(ctx)
		row.MaxRSS = s.smp.maxRSS(from.at, to.at)
		if !s.c.WebhookRunning() {
			// Restart it, so that one crash does not fail every later
			// scenario too.
			row.problem("the webhook process died during the scenario")
			_ = s.c.KillWebhook()
			if err := s.c.RestartWebhook(ctx); err != nil {
				return nil, fmt.Errorf("restarting the webhook after %s: %w", sc.name, err)
			}
		} else if err := s.ready(ctx); err != nil {
			row.problem("not ready after the scenario: %v", err)
		}
		verdict := "pass"
		if !row.Pass() {
			verdict = "FAIL: " + strings.Join(row.Problems, "; ")
		}
		s.logf("  %d requests, %d failed, %d wrong, max RSS %s: %s", row.Requests, row.Failed, row.Wrong, mib(row.MaxRSS), verdict)
		rep.Rows = append(rep.Rows, row)
	}
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

type prefixed struct{ w io.Writer }

func (p prefixed) Write(b []byte) (int, error) {
	fmt.Fprintf(p.w, "[%s] cluster: %s", time.Now().Format("15:04:05"), b)
	return len(b), nil
}

type scenario struct {
	section, name string
	run           func(ctx context.Context, r *Row)
}

func (s *suite) scenarios() []scenario {
	return []scenario{
		{"Load", fmt.Sprintf("sustained mixed load through kube-apiserver (%s, %d clients)", s.o.Soak, s.o.Workers), s.soak},
		{"Faults during load", "custom policy replaced by broken Rego, then restored", s.brokenPolicy},
		{"Faults during load", "new valid policy added, then removed", s.newPolicy},
		{"Faults during load", "serving certificate and CA rotated", s.rotateCert},
		{"Faults during load", "webhook killed (SIGKILL) and restarted", s.killWebhook},
		{"Faults during load", "kube-apiserver restarted", s.restartAPIServer},
		{"Hostile input", "malformed requests (bad JSON, truncated, wrong kind, no request, wrong content type, empty)", s.malformed},
		{"Hostile input", "bodies over the API server's 3 MiB limit (5 MiB ConfigMap, 8 MiB body)", s.huge},
		{"Hostile input", "River nested 1,000,000 deep (lists, blocks)", s.deepRiver},
		{"Hostile input", "River config of 100,000 components", s.wideRiver},
		{"Hostile input", "non-UTF-8 config, binaryData-only ConfigMap", s.oddData},
		{"Hostile input", "slow clients holding connections (headers and bodies trickling)", s.slowClients},
		{"Hostile input", "1,000 concurrent connections", s.connectionFlood},
		{"Security", "TLS 1.2 minimum, AEAD suites only", s.tlsVersions},
		{"Security", "exempt namespace never mutated (under load)", s.exempt},
		{"Security", "no config text or Secret data in the log", s.logsClean},
	}
}

// ready checks the webhook's /readyz.
func (s *suite) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.c.ReadyURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("readyz %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// setup applies every example (as `make demo` does) and records the answer
// of each request of the load at rest.
func (s *suite) setup(ctx context.Context) error {
	all, err := exampleDocs()
	if err != nil {
		return err
	}
	began := time.Now()
	for name, docs := range all {
		var b strings.Builder
		for _, d := range docs {
			b.Write(d.Raw)
			b.WriteString("\n---\n")
		}
		r := s.c.KubectlAllowFail(ctx, b.String(), "apply", "-f", "-")
		if r.Err != nil {
			for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
				if strings.HasPrefix(l, "Error") && !strings.Contains(l, "denied the request") {
					return fmt.Errorf("applying example %s: %s", name, r.Stderr)
				}
			}
		}
	}
	for _, ns := range []string{exemptNamespace} {
		if _, err := s.c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
			return err
		}
	}
	s.logf("applied %d examples in %s", len(all), time.Since(began).Round(time.Millisecond))
	s.cases, err = buildCases(ctx, s.cl, all)
	if err != nil {
		return err
	}
	if err := record(ctx, s.cl, s.cases); err != nil {
		return err
	}
	kinds := map[string]int{}
	denied := 0
	for _, c := range s.cases {
		kinds[c.Obj.GetObjectKind().GroupVersionKind().Kind]++
		if c.Want.Denied {
			denied++
		}
	}
	s.rep.Cases = len(s.cases)
	s.rep.SetupNotes = append(s.rep.SetupNotes, fmt.Sprintf(
		"The load sends %d distinct requests round robin: a server-side dry-run update of every object the %d examples left in the cluster, a dry-run create of every object they had denied, and a dry-run create of a Pod of every DaemonSet (%d ConfigMaps, %d DaemonSets, %d StatefulSets, %d Deployments, %d Pods; %d denied at rest).",
		len(s.cases), len(all), kinds["ConfigMap"], kinds["DaemonSet"], kinds["StatefulSet"], kinds["Deployment"], kinds["Pod"], denied))
	s.logf("%d requests recorded at rest", len(s.cases))
	return nil
}

// machine describes the host.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb uint64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s)%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, mem)
}

// commit is the repository's HEAD, if git knows it.
func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}
