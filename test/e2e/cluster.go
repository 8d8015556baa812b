package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/internal/freeport"
)

// Options configure a Cluster.
type Options struct {
	// Root is the repository root (where go.mod is).
	Root string
	// Assets is the directory of kube-apiserver, etcd and kubectl (kubectl
	// is needed only by the Kubectl methods).
	Assets string
	// Webhook is the modeguard-webhook binary.
	Webhook string
	// WorkDir holds the kubeconfig, logs and policy directory; removed by
	// Stop unless Keep.
	WorkDir string
	Keep    bool
	// Log receives progress lines.
	Log io.Writer
	// WebhookArgs are extra flags for the webhook.
	WebhookArgs []string
	// Replicas is the number of webhook processes (0 or 1: one). With more,
	// a Proxy on the webhook's address spreads connections over them.
	Replicas int
	// Peers makes the replicas share their dry-run overlays
	// (--dry-run-peers: each is given the others' addresses).
	Peers bool
	// Controllers adds kube-controller-manager (from Assets) with the
	// DaemonSet, Deployment, ReplicaSet and StatefulSet controllers, and
	// the Nodes, so that workloads get Pods as in a cluster (see
	// controllers.go: no kubelet, no scheduler).
	Controllers bool
	// CertManager serves the webhook with the certificate cert-manager
	// issues (its controller and cainjector from Assets, the overlay
	// CertManagerOverlay), through the Service the webhook configurations
	// name, instead of envtest's local certificate and URL (see
	// certmanager.go).
	CertManager bool
}

// Cluster is a running control plane with the webhook installed.
type Cluster struct {
	opts       Options
	env        *envtest.Environment
	webhook    *exec.Cmd
	waitDone   chan error
	Kubeconfig string
	// Config and Client reach the API server as an administrator.
	Config *rest.Config
	Client client.Client
	// WebhookLog is the webhook process's log file.
	WebhookLog string
	// MetricsURL and ReadyURL are the webhook's endpoints; WebhookAddr is
	// host:port of its HTTPS server.
	MetricsURL, ReadyURL, WebhookAddr string
	// Ports are every port the cluster listens on, for leak checks.
	Ports []string
	// WebhookCA is the CA bundle the webhook configurations trust;
	// WebhookCertDir holds the served tls.crt and tls.key (reloaded on
	// change).
	WebhookCA      []byte
	WebhookCertDir string

	webhookArgs []string
	apiHost     string    // host:port of kube-apiserver
	apiserver   *exec.Cmd // kube-apiserver when RestartAPIServer started it
	apiDone     chan error
	// ControllerManagerLog is kube-controller-manager's log file
	// (Options.Controllers).
	ControllerManagerLog string
	kcm                  *exec.Cmd
	kcmDone              chan error
	certManager          []*certManagerProc
	stopMirror           context.CancelFunc
	// Proxy spreads connections over the replicas (Options.Replicas > 1).
	Proxy    *Proxy
	backends []string
	replicas []*replica
}

// FindRoot returns the nearest directory above the working directory with
// a go.mod.
func FindRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above " + wd)
		}
	}
}

// freePort is a loopback port no listener holds and no earlier call in
// this process returned.
func freePort() (int, error) { return freeport.Loopback() }

// freePortOn is freePort on host's address.
func freePortOn(host string) (int, error) { return freeport.On(host) }

func (c *Cluster) logf(format string, a ...any) {
	if c.opts.Log != nil {
		fmt.Fprintf(c.opts.Log, format+"\n", a...)
	}
}

// Start starts etcd and kube-apiserver, installs deploy/'s webhook
// configurations pointed at a local webhook process, starts that process
// and waits until it is ready.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	c := &Cluster{opts: o}
	if err := c.start(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) (err error) {
	o := c.opts
	if o.WorkDir == "" {
		if c.opts.WorkDir, err = os.MkdirTemp("", "modeguard-e2e-"); err != nil {
			return err
		}
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(o.Assets, b)); err != nil {
			return fmt.Errorf("%s missing from %s: run make k8s-bins", b, o.Assets)
		}
	}
	if _, err := os.Stat(o.Webhook); err != nil {
		return fmt.Errorf("webhook binary: %w (run make build)", err)
	}
	began := time.Now()
	c.logf("starting etcd and kube-apiserver (%s)", o.Assets)
	apiServer := &envtest.APIServer{Path: filepath.Join(o.Assets, "kube-apiserver")}
	webhooks := envtest.WebhookInstallOptions{
		Paths:            []string{filepath.Join(o.Root, "deploy", "kustomize", "base", "webhooks.yaml")},
		LocalServingHost: "127.0.0.1",
	}
	if o.CertManager {
		// Webhook calls go to the Service's endpoints, not its cluster
		// IP (nothing routes one here): the local webhook process.
		apiServer.Configure().Set("enable-aggregator-routing", "true")
		webhooks = envtest.WebhookInstallOptions{} // the overlay's, applied later
	}
	c.env = &envtest.Environment{
		BinaryAssetsDirectory: o.Assets,
		// The paths themselves: KUBEBUILDER_ASSETS (which the Makefile
		// exports) would otherwise win over BinaryAssetsDirectory.
		ControlPlane: envtest.ControlPlane{
			APIServer:   apiServer,
			Etcd:        &envtest.Etcd{Path: filepath.Join(o.Assets, "etcd")},
			KubectlPath: filepath.Join(o.Assets, "kubectl"),
		},
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		WebhookInstallOptions:    webhooks,
	}
	cfg, err := c.env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	c.apiHost = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(cfg.Host, "https://"), "http://"), "/")
	c.Ports = append(c.Ports, c.apiHost)
	c.logf("control plane up in %s at %s", time.Since(began).Round(time.Millisecond), cfg.Host)

	user, err := c.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.opts.WorkDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return err
	}
	c.Config = cfg
	if c.Client, err = client.New(cfg, client.Options{}); err != nil {
		return err
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "modeguard-system"}}); err != nil {
		return fmt.Errorf("creating namespace modeguard-system: %w", err)
	}

	wo := c.env.WebhookInstallOptions
	certArgs := []string{"--cert-mode=dir", "--cert-dir=" + wo.LocalServingCertDir, "--cert-names=" + wo.LocalServingHost}
	if o.CertManager {
		// An EndpointSlice may not hold a loopback address: the webhook
		// listens on the host's own.
		if wo.LocalServingHost, err = hostIP(); err != nil {
			return err
		}
		if wo.LocalServingPort, err = freePortOn(wo.LocalServingHost); err != nil {
			return err
		}
		wo.LocalServingCertDir = filepath.Join(c.opts.WorkDir, "certs")
		if err := c.setupCertManager(ctx, wo.LocalServingHost, wo.LocalServingPort, wo.LocalServingCertDir); err != nil {
			return err
		}
		certArgs = []string{"--cert-mode=cert-manager", "--cert-dir=" + wo.LocalServingCertDir}
	}
	mp, err := freePort()
	if err != nil {
		return err
	}
	hp, err := freePort()
	if err != nil {
		return err
	}
	c.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", mp)
	c.ReadyURL = fmt.Sprintf("http://127.0.0.1:%d/readyz", hp)
	c.WebhookAddr = fmt.Sprintf("%s:%d", wo.LocalServingHost, wo.LocalServingPort)
	c.Ports = append(c.Ports, c.WebhookAddr, fmt.Sprintf("127.0.0.1:%d", mp), fmt.Sprintf("127.0.0.1:%d", hp))
	policyDir := c.PolicyDir()
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		return err
	}
	c.webhookArgs = append(append(certArgs,
		"--webhook-host="+wo.LocalServingHost, fmt.Sprintf("--webhook-port=%d", wo.LocalServingPort),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", mp), fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", hp),
		"--namespace=modeguard-system", "--leader-elect", "--policy-dir="+policyDir,
		"--shutdown-delay=100ms", "--log-format=text", "--crd-poll-interval="+crdPollInterval.String(),
	), o.WebhookArgs...)
	c.WebhookCA, c.WebhookCertDir = wo.LocalServingCAData, wo.LocalServingCertDir
	c.WebhookLog = filepath.Join(c.opts.WorkDir, "webhook.log")
	if o.Replicas > 1 {
		if err := c.setupReplicas(o.Replicas); err != nil {
			return err
		}
	}
	if err := c.startWebhook(ctx); err != nil {
		return err
	}
	if err := c.startReplicas(ctx); err != nil {
		return err
	}
	c.logf("webhook ready after %s in all", time.Since(began).Round(time.Millisecond))
	if o.Controllers {
		// After the webhook: every Pod a controller creates is admitted
		// by it.
		if err := c.startControllerManager(ctx); err != nil {
			return err
		}
	}
	return nil
}

// PolicyDir is the webhook's --policy-dir (reloaded on change).
func (c *Cluster) PolicyDir() string { return filepath.Join(c.opts.WorkDir, "policies") }

// startWebhook starts the webhook process (its log appended to WebhookLog)
// and waits until it is ready.
func (c *Cluster) startWebhook(ctx context.Context) error {
	logFile, err := os.OpenFile(c.WebhookLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.opts.Webhook, c.webhookArgs...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting the webhook: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	c.webhook, c.waitDone = cmd, done
	c.logf("webhook process %d serving https://%s (log: %s)", cmd.Process.Pid, c.WebhookAddr, c.WebhookLog)
	return c.waitReady(ctx, time.Minute)
}

// WebhookPID is the webhook process's id (0 when it is not running).
func (c *Cluster) WebhookPID() int {
	if c.webhook == nil || c.webhook.Process == nil {
		return 0
	}
	return c.webhook.Process.Pid
}

// WebhookRunning reports whether the webhook process is alive.
func (c *Cluster) WebhookRunning() bool {
	if c.webhook == nil {
		return false
	}
	select {
	case err := <-c.waitDone:
		c.waitDone <- err
		return false
	default:
		return true
	}
}

// KillWebhook kills the webhook process with SIGKILL, as a crash or an
// OOM kill would, and waits until it is gone.
func (c *Cluster) KillWebhook() error {
	if c.webhook == nil {
		return errors.New("no webhook process")
	}
	_ = syscall.Kill(-c.webhook.Process.Pid, syscall.SIGKILL) // fails only if it is gone already
	<-c.waitDone
	c.webhook = nil
	return nil
}

// RestartWebhook starts the webhook process again with the same flags
// (after KillWebhook) and waits until it is ready.
func (c *Cluster) RestartWebhook(ctx context.Context) error {
	if c.webhook != nil {
		return errors.New("the webhook is still running")
	}
	return c.startWebhook(ctx)
}

// apiServerGrace is how long RestartAPIServer waits after SIGTERM before
// SIGKILL.
const apiServerGrace = 20 * time.Second

// RestartAPIServer stops kube-apiserver (SIGTERM, as a rolling restart
// does) and starts it again with the same command line, certificates and
// etcd, then waits until it answers /readyz. It returns how long the API
// server was unavailable and how it stopped ("SIGTERM", or "SIGKILL" when
// it was still running apiServerGrace after SIGTERM).
func (c *Cluster) RestartAPIServer(ctx context.Context) (time.Duration, string, error) {
	pid, args, err := c.apiServerProcess()
	if err != nil {
		return 0, "", err
	}
	began := time.Now()
	how := "SIGTERM"
	// envtest's process or the one a previous restart started: either way
	// its parent reaps it, so waiting on the pid is enough.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return 0, "", err
	}
	for deadline := time.Now().Add(apiServerGrace); processAlive(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.logf("kube-apiserver %d still running %s after SIGTERM: killing it", pid, apiServerGrace)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			how = "SIGKILL"
			deadline = time.Now().Add(time.Minute)
		}
	}
	c.logf("kube-apiserver %d stopped after %s", pid, time.Since(began).Round(time.Millisecond))
	cmd := exec.Command(args[0], args[1:]...)
	logFile, err := os.OpenFile(filepath.Join(c.opts.WorkDir, "kube-apiserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, "", err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return 0, "", fmt.Errorf("restarting kube-apiserver: %w", err)
	}
	done := make(chan error, 1)
	c.apiserver, c.apiDone = cmd, done
	go func() { done <- cmd.Wait(); logFile.Close() }()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		r := c.KubectlAllowFail(ctx, "", "get", "--raw=/readyz")
		if r.Err == nil && strings.TrimSpace(r.Stdout) == "ok" {
			break
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("kube-apiserver not ready 2 minutes after its restart: %s", r.Stderr)
		}
		select {
		case <-ctx.Done():
			return 0, "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	down := time.Since(began)
	c.logf("kube-apiserver restarted (process %d), unavailable for %s", cmd.Process.Pid, down.Round(time.Millisecond))
	return down, how, nil
}

// apiServerProcess finds the running kube-apiserver serving c's port and
// its command line.
func (c *Cluster) apiServerProcess() (int, []string, error) {
	if c.apiserver != nil {
		return c.apiserver.Process.Pid, c.apiserver.Args, nil
	}
	_, port, err := net.SplitHostPort(c.apiHost)
	if err != nil {
		return 0, nil, err
	}
	bin := filepath.Join(c.opts.Assets, "kube-apiserver")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if args[0] != bin {
			continue
		}
		for _, a := range args[1:] {
			if a == "--secure-port="+port {
				return pid, args, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("no %s process serving port %s", bin, port)
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited; only its parent has not reaped it.
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-c.waitDone:
			c.waitDone <- err
			return fmt.Errorf("the webhook exited before it was ready (%v); its log:\n%s", err, tail(c.WebhookLog, 30))
		default:
		}
		resp, err := http.Get(c.ReadyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook was not ready after %s; its log:\n%s", timeout, tailExcept(c.WebhookLog, 30, "healthz check failed"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func httpGet(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// tailExcept is the last n lines of file that do not contain skip.
func tailExcept(file string, n int, skip string) string {
	b, _ := os.ReadFile(file)
	var lines []string
	for l := range strings.Lines(string(b)) {
		if !strings.Contains(l, skip) {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// KubectlResult is what one kubectl run printed.
type KubectlResult struct {
	Stdout, Stderr string
	Err            error
}

// Kubectl runs the built kubectl against the cluster with stdin.
func (c *Cluster) Kubectl(ctx context.Context, stdin string, args ...string) (KubectlResult, error) {
	r := c.KubectlAllowFail(ctx, stdin, args...)
	if r.Err != nil {
		return r, fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r, nil
}

// KubeconfigFor writes a kubeconfig of another user (in system:masters),
// for kubectl's --kubeconfig: requests of another user name.
func (c *Cluster) KubeconfigFor(name string) (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.opts.WorkDir, "kubeconfig-"+name)
	return path, os.WriteFile(path, kc, 0o600)
}

// KubectlAllowFail runs kubectl and returns its outcome, failure included.
// A first argument --kubeconfig=PATH replaces the administrator's.
func (c *Cluster) KubectlAllowFail(ctx context.Context, stdin string, args ...string) KubectlResult {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kubectl := filepath.Join(c.opts.Assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		return KubectlResult{Err: fmt.Errorf("kubectl missing from %s: run make k8s-bins", c.opts.Assets)}
	}
	if len(args) == 0 || !strings.HasPrefix(args[0], "--kubeconfig=") {
		args = append([]string{"--kubeconfig", c.Kubeconfig}, args...)
	}
	cmd := exec.CommandContext(ctx, kubectl, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	return KubectlResult{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// Create creates objs in order through the API server (and so through the
// webhook's admission), as an administrator: what `kubectl create` would do,
// without kubectl.
func (c *Cluster) Create(ctx context.Context, objs []runtime.Object) error {
	for _, o := range objs {
		co, ok := o.(client.Object)
		if !ok {
			return fmt.Errorf("%T is not an API object", o)
		}
		if err := c.Client.Create(ctx, co); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", o.GetObjectKind().GroupVersionKind().Kind, co.GetNamespace(), co.GetName(), err)
		}
	}
	return nil
}

// Stop stops the webhook (SIGTERM, then SIGKILL), the control plane, and
// removes the work directory.
func (c *Cluster) Stop() error {
	var errs []error
	c.stopControllerManager()
	c.stopCertManager()
	c.stopReplicas()
	if c.webhook != nil && c.webhook.Process != nil {
		terminate(c.webhook.Process, c.waitDone, 15*time.Second)
		c.webhook = nil
	}
	if c.apiserver != nil {
		terminate(c.apiserver.Process, c.apiDone, time.Minute)
		c.apiserver = nil
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the control plane: %w", err))
		}
		c.env = nil
	}
	if !c.opts.Keep && c.opts.WorkDir != "" {
		if err := os.RemoveAll(c.opts.WorkDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// terminate stops a process started in a group of its own: SIGTERM, then
// SIGKILL to the whole group after grace; it returns once done (the
// process's Wait result) has been received.
func terminate(p *os.Process, done <-chan error, grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-done
	}
}

// PortsFree reports the ports still accepting connections.
func (c *Cluster) PortsFree() []string {
	var busy []string
	for _, p := range c.Ports {
		conn, err := net.DialTimeout("tcp", p, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			busy = append(busy, p)
		}
	}
	return busy
}
