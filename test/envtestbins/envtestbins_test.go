package envtestbins_test

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/internal/freeport"
	"github.com/modeguard/modeguard/test/envtestbins"
)

// TestControlPlane starts the kube-apiserver and etcd built by make k8s-bins,
// writes through a client, reads back with the built kubectl, stops, and
// checks that nothing is left running or listening.
func TestControlPlane(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: envtestbins.Dir(t)}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		env.ControlPlaneStartTimeout = time.Minute // 2 shared cores: 20s is tight
	}
	// envtest picks etcd's peer port itself and keeps it private; choose it
	// here so that the test can check it is released.
	etcdPeer := net.JoinHostPort("127.0.0.1", freePort(t))
	env.ControlPlane.Etcd = &envtest.Etcd{}
	env.ControlPlane.Etcd.Configure().Set("listen-peer-urls", "http://"+etcdPeer)

	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = env.Stop()
		}
	})
	t.Logf("control plane up in %v", time.Since(start).Round(time.Millisecond))
	ports := map[string]string{
		"kube-apiserver": env.ControlPlane.APIServer.SecureServing.HostPort(),
		"etcd client":    env.ControlPlane.Etcd.URL.Host,
		"etcd peer":      etcdPeer,
	}
	for what, addr := range ports {
		if listening(addr) == nil {
			t.Errorf("%s: nothing listens on %s while running", what, addr)
		}
	}
	// The same check that must find nothing after stop finds both now.
	if running := children(t); running != nil {
		for _, name := range []string{"kube-apiserver", "etcd"} {
			if !slices.ContainsFunc(running, func(p string) bool { return strings.HasSuffix(p, "("+name+")") }) {
				t.Errorf("%s is not a child process while running; children: %v", name, running)
			}
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "envtestbins"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "smoke"},
		Data:       map[string]string{"config.alloy": "logging {}\n"},
	}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatalf("create configmap: %v", err)
	}

	kubeconfig := envtestbins.Kubeconfig(t, cfg)
	out := envtestbins.Kubectl(t, kubeconfig, "get", "configmap", "-n", ns.Name, "-o", "name")
	if !containsLine(out, "configmap/smoke") {
		t.Errorf("kubectl get configmap -o name = %q, want a line configmap/smoke", out)
	}
	t.Logf("kubectl version:\n%s", envtestbins.Kubectl(t, kubeconfig, "version"))

	start = time.Now()
	if err := env.Stop(); err != nil {
		t.Fatalf("stop control plane: %v", err)
	}
	stopped = true
	t.Logf("control plane stopped in %v", time.Since(start).Round(time.Millisecond))

	for what, addr := range ports {
		if err := listening(addr); err != nil {
			t.Errorf("%s: %s still in use after stop: %v", what, addr, err)
		}
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("processes left behind after stop: %s", strings.Join(kids, "; "))
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	p, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// listening returns nil if addr is free (it can be listened on), else why not.
func listening(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// children lists this process's child processes as "pid (name)", read from
// /proc; nil where there is no /proc (the check is then skipped).
func children(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	var kids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue // exited meanwhile
		}
		var name, ppid string
		for l := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(l, "Name:"); ok {
				name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
		}
		if ppid == self {
			kids = append(kids, e.Name()+" ("+name+")")
		}
	}
	return kids
}
