package main

import (
	"archive/tar"
	"bytes"
	"context"
	"embed"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// rootfs holds the image's /etc/passwd and /etc/group: the non-root user
// nonroot (65532, as in distroless) that the webhook runs as.
//
//go:embed rootfs
var rootfs embed.FS

const (
	// versionPkg is where -ldflags -X stamps the version and the commit.
	versionPkg = "github.com/modeguard/modeguard/internal/version"
	// binary is the webhook's path in the image and its entrypoint.
	binary = "/modeguard-webhook"
	// uid and gid of nonroot in rootfs/etc/passwd.
	uid, gid = 65532, 65532
)

// Options say what to build and how to label it.
type Options struct {
	Repo      string // root of the modeguard module
	Out       string // the OCI layout directory, replaced
	Platforms []v1.Platform
	Version   string // stamped into the binary, the labels and the layout's ref name
	Commit    string
	Source    string // org.opencontainers.image.source
	Licenses  string // org.opencontainers.image.licenses (SPDX)
	Created   time.Time
	// Stderr receives go build's output.
	Stderr io.Writer
}

// Build compiles the webhook for every platform, assembles one image per
// platform (a base layer: CA certificates, passwd, group, /tmp; an
// application layer: the binary) and writes their index as an OCI layout to
// o.Out. It returns the index's digest, which depends only on the sources,
// the toolchain and o: every timestamp is o.Created, every tar header is
// fixed, and the binaries are built with -trimpath and no build ID.
func Build(ctx context.Context, o Options) (v1.Hash, error) {
	base, err := baseLayer(o.Created)
	if err != nil {
		return v1.Hash{}, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "modeguard-webhook",
		"org.opencontainers.image.description": "Admission webhook keeping Grafana Agent and Alloy right for their deployment mode",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.revision":    o.Commit,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.licenses":    o.Licenses,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
	tmp, err := os.MkdirTemp("", "modeguard-image-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(tmp, p.OS+"-"+p.Architecture, "modeguard-webhook")
		if err := goBuild(ctx, o, p, bin); err != nil {
			return v1.Hash{}, err
		}
		app, err := appLayer(bin, o.Created)
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := image(base, app, p, labels, o.Created)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image for %s: %w", p, err)
		}
		pp := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
	}
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)

	if err := os.RemoveAll(o.Out); err != nil {
		return v1.Hash{}, fmt.Errorf("clearing %s: %w", o.Out, err)
	}
	lp, err := layout.Write(o.Out, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing the layout: %w", err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Version,
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the layout: %w", err)
	}
	return idx.Digest()
}

// goBuild builds a static webhook for p with the version stamped.
func goBuild(ctx context.Context, o Options, p v1.Platform, out string) error {
	ldflags := strings.Join([]string{
		"-s", "-w", "-buildid=",
		"-X", versionPkg + ".Version=" + o.Version,
		"-X", versionPkg + ".Commit=" + o.Commit,
	}, " ")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/webhook")
	cmd.Dir = o.Repo
	// Everything that changes the code generated is fixed here, so that the
	// environment of the caller cannot change the digest.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOWORK=off", "GOEXPERIMENT=")
	cmd.Stdout, cmd.Stderr = o.Stderr, o.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %w", p, err)
	}
	return nil
}

// image is one platform's image: base and app on an empty image, run as
// nonroot, labelled.
func image(base, app v1.Layer, p v1.Platform, labels map[string]string, created time.Time) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "modeguard hack/image: CA certificates, passwd, group, /tmp"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "modeguard hack/image: " + binary}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{binary},
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:     labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// entry is one file or directory of a layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// baseLayer is what a distroless static base holds: the CA certificates
// (Mozilla's, from the golang.org/x/crypto/x509roots/fallback module pinned
// in go.mod, so nothing is pulled), passwd and group from rootfs/, the
// user's home and /tmp.
func baseLayer(created time.Time) (v1.Layer, error) {
	var certs bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			// Trusted only for certificates issued before a date, which a
			// PEM bundle cannot say: left out rather than trusted fully.
			continue
		}
		if err := pem.Encode(&certs, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, fmt.Errorf("encoding a CA certificate: %w", err)
		}
	}
	passwd, err := fs.ReadFile(rootfs, "rootfs/etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := fs.ReadFile(rootfs, "rootfs/etc/group")
	if err != nil {
		return nil, err
	}
	return layer(created, []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: group},
		{name: "etc/passwd", mode: 0o644, data: passwd},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs.Bytes()},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: uid, gid: gid},
		{name: "tmp/", mode: 0o1777},
	})
}

// appLayer holds the binary at /modeguard-webhook.
func appLayer(bin string, created time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	return layer(created, []entry{{name: strings.TrimPrefix(binary, "/"), mode: 0o555, data: data}})
}

// layer writes entries, in order, into a gzipped OCI layer with fixed
// headers (owner, times, format), so the same entries give the same digest.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: created, Format: tar.FormatPAX,
		}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
