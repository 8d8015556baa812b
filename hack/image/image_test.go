package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImage builds the image twice (the second build reuses Go's build
// cache: it only links) and reads the first one back with
// go-containerregistry: both platforms, the non-root user, the labels, no
// shell, a static binary of the right architecture that prints the stamped
// version, and the same digest both times.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the webhook for two platforms")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := Options{
		Repo:      repo,
		Out:       filepath.Join(dir, "a"),
		Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
		Version:   "v0.0.0-imagetest",
		Commit:    "0123456789abcdef0123456789abcdef01234567",
		Source:    "https://github.com/modeguard/modeguard",
		Licenses:  defaultLicenses,
		Created:   time.Unix(1700000000, 0).UTC(),
		Stderr:    os.Stderr,
	}
	ctx := context.Background()
	start := time.Now()
	d1, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first build %s in %s", d1, time.Since(start).Round(time.Second))
	o.Out = filepath.Join(dir, "b")
	start = time.Now()
	d2, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuild %s in %s", d2, time.Since(start).Round(time.Second))
	if d1 != d2 {
		t.Errorf("rebuild: got digest %s, want %s (not reproducible)", d2, d1)
	}

	p, err := layout.FromPath(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != d1 || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != o.Version {
		t.Fatalf("index.json: got %+v, want one index %s named %s", tm.Manifests, d1, o.Version)
	}
	idx, err := top.ImageIndex(d1)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		platforms = append(platforms, m.Platform.String())
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(m.Platform.String(), func(t *testing.T) { checkImage(t, img, *m.Platform, o) })
	}
	slices.Sort(platforms)
	if got, want := strings.Join(platforms, ","), "linux/amd64,linux/arm64"; got != want {
		t.Errorf("platforms: got %s, want %s", got, want)
	}
}

func checkImage(t *testing.T, img v1.Image, p v1.Platform, o Options) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("config platform: got %s/%s, want %s", cf.OS, cf.Architecture, p)
	}
	if got, want := cf.Config.User, "65532:65532"; got != want {
		t.Errorf("user: got %q, want %q (non-root)", got, want)
	}
	if got, want := cf.Config.Entrypoint, []string{binary}; !slices.Equal(got, want) {
		t.Errorf("entrypoint: got %q, want %q", got, want)
	}
	if !cf.Created.Time.Equal(o.Created) {
		t.Errorf("created: got %s, want %s", cf.Created.Time, o.Created)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.revision": o.Commit,
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.licenses": o.Licenses,
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s: got %q, want %q", k, got, want)
		}
	}

	files := map[string][]byte{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")
		if h.Typeflag == tar.TypeReg {
			if files[name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		} else {
			files[name] = nil
		}
		if base := filepath.Base(name); base == "sh" || base == "bash" || base == "busybox" || strings.HasPrefix(name, "bin") {
			t.Errorf("the image holds %s: want no shell", h.Name)
		}
	}
	if !bytes.Contains(files["etc/passwd"], []byte("nonroot:x:65532:65532:")) {
		t.Errorf("/etc/passwd lacks the nonroot user:\n%s", files["etc/passwd"])
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"]) || len(files["etc/ssl/certs/ca-certificates.crt"]) < 100_000 {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: %d bytes, want a CA bundle", len(files["etc/ssl/certs/ca-certificates.crt"]))
	}
	bin := files[strings.TrimPrefix(binary, "/")]
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s: %v", binary, err)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	if f.Machine != machine {
		t.Errorf("%s: got machine %s, want %s", binary, f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has %s, want a static binary (CGO_ENABLED=0)", binary, prog.Type)
		}
	}

	if p.Architecture != runtime.GOARCH || runtime.GOOS != "linux" {
		return
	}
	exe := filepath.Join(t.TempDir(), "modeguard-webhook")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", binary, err, out)
	}
	if got, want := string(out), "modeguard-webhook "+o.Version+" (commit "+o.Commit+")\n"; got != want {
		t.Errorf("%s --version: got %q, want %q", binary, got, want)
	}
}
