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

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configure a Cluster.
type Options struct {
	// Root is the repository root (where go.mod is).
	Root string
	// Assets is the directory of kube-apiserver, etcd and kubectl.
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
}

// Cluster is a running control plane with the webhook installed.
type Cluster struct {
	opts       Options
	env        *envtest.Environment
	webhook    *exec.Cmd
	waitDone   chan error
	Kubeconfig string
	// WebhookLog is the webhook process's log file.
	WebhookLog string
	// MetricsURL and ReadyURL are the webhook's endpoints; WebhookAddr is
	// host:port of its HTTPS server.
	MetricsURL, ReadyURL, WebhookAddr string
	// Ports are every port the cluster listens on, for leak checks.
	Ports []string
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) logf(format string, a ...any) {
	if c.opts.Log != nil {
		fmt.Fprintf(c.opts.Log, format+"\n", a...)
	}
}

// Start starts etcd and kube-apiserver, installs deploy/'s webhook
// configurations pointed at a local webhook process, starts that process
// and waits until it is ready.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	c = &Cluster{opts: o}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if o.WorkDir == "" {
		if c.opts.WorkDir, err = os.MkdirTemp("", "modeguard-e2e-"); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.Assets, b)); err != nil {
			return nil, fmt.Errorf("%s missing from %s: run make k8s-bins", b, o.Assets)
		}
	}
	if _, err := os.Stat(o.Webhook); err != nil {
		return nil, fmt.Errorf("webhook binary: %w (run make build)", err)
	}
	began := time.Now()
	c.logf("starting etcd and kube-apiserver (%s)", o.Assets)
	c.env = &envtest.Environment{
		BinaryAssetsDirectory:    o.Assets,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(o.Root, "deploy", "kustomize", "base", "webhooks.yaml")},
			LocalServingHost: "127.0.0.1",
		},
	}
	cfg, err := c.env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	c.Ports = append(c.Ports, strings.TrimPrefix(strings.TrimPrefix(cfg.Host, "https://"), "http://"))
	c.logf("control plane up in %s at %s", time.Since(began).Round(time.Millisecond), cfg.Host)

	user, err := c.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(c.opts.WorkDir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	if _, err := c.Kubectl(ctx, "", "create", "namespace", "modeguard-system"); err != nil {
		return nil, err
	}

	wo := c.env.WebhookInstallOptions
	mp, err := freePort()
	if err != nil {
		return nil, err
	}
	hp, err := freePort()
	if err != nil {
		return nil, err
	}
	c.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", mp)
	c.ReadyURL = fmt.Sprintf("http://127.0.0.1:%d/readyz", hp)
	c.WebhookAddr = fmt.Sprintf("%s:%d", wo.LocalServingHost, wo.LocalServingPort)
	c.Ports = append(c.Ports, c.WebhookAddr, fmt.Sprintf("127.0.0.1:%d", mp), fmt.Sprintf("127.0.0.1:%d", hp))
	policyDir := filepath.Join(c.opts.WorkDir, "policies")
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{
		"--cert-mode=dir", "--cert-dir=" + wo.LocalServingCertDir, "--cert-names=" + wo.LocalServingHost,
		"--webhook-host=" + wo.LocalServingHost, fmt.Sprintf("--webhook-port=%d", wo.LocalServingPort),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", mp), fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", hp),
		"--namespace=modeguard-system", "--leader-elect", "--policy-dir=" + policyDir,
		"--shutdown-delay=100ms", "--log-format=text",
	}, o.WebhookArgs...)
	c.WebhookLog = filepath.Join(c.opts.WorkDir, "webhook.log")
	logFile, err := os.Create(c.WebhookLog)
	if err != nil {
		return nil, err
	}
	c.webhook = exec.Command(o.Webhook, args...)
	c.webhook.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	c.webhook.Stdout, c.webhook.Stderr = logFile, logFile
	c.webhook.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.webhook.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the webhook: %w", err)
	}
	c.waitDone = make(chan error, 1)
	go func() { c.waitDone <- c.webhook.Wait(); logFile.Close() }()
	c.logf("webhook process %d serving https://%s:%d (log: %s)", c.webhook.Process.Pid, wo.LocalServingHost, wo.LocalServingPort, c.WebhookLog)
	if err := c.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	c.logf("webhook ready after %s in all", time.Since(began).Round(time.Millisecond))
	return c, nil
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
			return fmt.Errorf("the webhook was not ready after %s; its log:\n%s", timeout, tail(c.WebhookLog, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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

// KubectlAllowFail runs kubectl and returns its outcome, failure included.
func (c *Cluster) KubectlAllowFail(ctx context.Context, stdin string, args ...string) KubectlResult {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.opts.Assets, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	return KubectlResult{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// Stop stops the webhook (SIGTERM, then SIGKILL), the control plane, and
// removes the work directory.
func (c *Cluster) Stop() error {
	var errs []error
	if c.webhook != nil && c.webhook.Process != nil {
		_ = c.webhook.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.waitDone:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-c.webhook.Process.Pid, syscall.SIGKILL)
			<-c.waitDone
		}
		c.webhook = nil
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
