package envtestbins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/modeguard/modeguard/internal/testutil"
)

// Binaries are the programs envtest runs from [Dir], and kubectl.
var Binaries = []string{"kube-apiserver", "etcd", "kubectl"}

// AssetsEnv is the variable envtest reads the binaries' directory from.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// KubectlTimeout bounds one [Kubectl] run.
const KubectlTimeout = time.Minute

// Dir returns the directory holding the kube-apiserver, etcd and kubectl built
// by `make k8s-bins`: $KUBEBUILDER_ASSETS if set, else <repo>/bin/k8s, where
// <repo> is the nearest directory above the working directory with a go.mod
// (a test runs in its package's directory). If a binary is missing, the test
// is skipped under -short and fails otherwise.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := dir()
	if err != nil {
		t.Fatalf("envtestbins: %v", err)
	}
	var missing []string
	for _, name := range Binaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("envtestbins: %s missing from %s: run make k8s-bins",
			strings.Join(missing, ", "), dir)
		if testing.Short() {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return dir
}

func dir() (string, error) {
	if d := os.Getenv(AssetsEnv); d != "" {
		return filepath.Abs(d)
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%s is unset and %w to find bin/k8s from", AssetsEnv, err)
	}
	return filepath.Join(root, "bin", "k8s"), nil
}

// Kubeconfig writes a kubeconfig equivalent to cfg (server, CA, client
// certificate, token or basic auth, as data or files) into a temporary file
// removed after the test, and returns its path. cfg is typically what
// envtest.Environment.Start returned.
func Kubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	data, err := kubeconfig(cfg)
	if err != nil {
		t.Fatalf("envtestbins: kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("envtestbins: %v", err)
	}
	return path
}

func kubeconfig(cfg *rest.Config) ([]byte, error) {
	if cfg == nil {
		return nil, errors.New("nil rest.Config")
	}
	server, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	const name = "envtest"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   server.String(),
		CertificateAuthority:     cfg.CAFile,
		CertificateAuthorityData: cfg.CAData,
		TLSServerName:            cfg.ServerName,
		InsecureSkipTLSVerify:    cfg.Insecure,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificate:     cfg.CertFile,
		ClientCertificateData: cfg.CertData,
		ClientKey:             cfg.KeyFile,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = name, name
	kc.Contexts[name] = kctx
	kc.CurrentContext = name
	return clientcmd.Write(*kc)
}

// Kubectl runs the kubectl from [Dir] with --kubeconfig=kubeconfig and args,
// and returns its standard output. The test fails, showing the command and
// its standard error, if kubectl fails or runs longer than [KubectlTimeout].
func Kubectl(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), KubectlTimeout)
	defer cancel()
	argv := append([]string{"--kubeconfig=" + kubeconfig}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(Dir(t), "kubectl"), argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("envtestbins: kubectl %s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return stdout.String()
}
