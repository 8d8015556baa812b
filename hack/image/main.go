// Command image builds the modeguard webhook's container image without a
// container engine: a static binary per platform on an empty base with CA
// certificates and a passwd entry (all from this repository and its pinned
// Go modules: nothing is pulled), written as a multi-platform OCI layout.
// make image runs it; test TestImage (image_test.go) checks what it writes.
//
// It uses go-containerregistry rather than ko: ko builds on the same
// library but resolves a base image (a registry pull unless configured
// otherwise) and owns the go build; here the base is empty and the build
// flags (-trimpath, no build ID, the version stamp) are ours, which keeps
// the digest reproducible and the dependency small.
//
// Usage (from this directory, a module of its own):
//
//	go run . -repo ../.. -out ../../bin/image -version v1.2.3 -commit SHA
//
// It prints the index digest and writes it to OUT.digest. Pushing is the
// release workflow's: `go tool crane push --index OUT REF` (crane is a tool
// of this module).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// defaultLicenses is the org.opencontainers.image.licenses label: the SPDX
// expression of the repository's LICENSE file (TestLicensesLabel reads it).
const defaultLicenses = "Apache-2.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	o := Options{Stderr: os.Stderr}
	fs.StringVar(&o.Repo, "repo", "../..", "Root of the modeguard module.")
	fs.StringVar(&o.Out, "out", "../../bin/image", "OCI layout directory to write (replaced).")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "Comma-separated os/arch list.")
	fs.StringVar(&o.Version, "version", "dev", "Version stamped into the binary and the labels.")
	fs.StringVar(&o.Commit, "commit", "unknown", "Commit stamped into the binary and the labels.")
	fs.StringVar(&o.Source, "source", "https://github.com/modeguard/modeguard", "Label org.opencontainers.image.source.")
	fs.StringVar(&o.Licenses, "licenses", defaultLicenses, "Label org.opencontainers.image.licenses (SPDX expression).")
	epoch := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "Creation time of the image and its files, in seconds since 1970 (default $SOURCE_DATE_EPOCH, else 0): the commit's time keeps rebuilds identical.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs := int64(0)
	if *epoch != "" {
		var err error
		if secs, err = strconv.ParseInt(*epoch, 10, 64); err != nil {
			return fmt.Errorf("-created: %w", err)
		}
	}
	o.Created = time.Unix(secs, 0).UTC()
	var err error
	if o.Platforms, err = parsePlatforms(*platforms); err != nil {
		return err
	}
	if o.Repo, err = filepath.Abs(o.Repo); err != nil {
		return err
	}
	start := time.Now()
	d, err := Build(ctx, o)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Clean(o.Out)+".digest", []byte(d.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the digest: %w", err)
	}
	fmt.Fprintf(os.Stderr, "image: %s %s (%s) in %s\n", o.Out, o.Version, *platforms, time.Since(start).Round(time.Second))
	fmt.Println(d)
	return nil
}

func parsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, f := range strings.Split(s, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-platforms: %w", err)
		}
		if p.OS != "linux" {
			return nil, fmt.Errorf("-platforms: %s: only linux images", f)
		}
		ps = append(ps, *p)
	}
	return ps, nil
}
