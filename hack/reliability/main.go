// Command reliability is `make reliability`: it runs the scenarios of
// package test/reliability (load and soak through kube-apiserver, faults
// during the load, hostile input, security checks) and writes their table
// to docs/reliability.md. It exits non-zero if a scenario failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/modeguard/modeguard/test/e2e"
	"github.com/modeguard/modeguard/test/reliability"
)

func main() { os.Exit(run()) }

func run() int {
	short := flag.Bool("short", false, "the short form make test runs (30 s soak, 8 s around each fault)")
	soak := flag.Duration("soak", 0, "length of the sustained load (default 10m; 30s with -short)")
	fault := flag.Duration("fault", 0, "load kept around each fault (default 30s; 8s with -short)")
	workers := flag.Int("workers", 4, "concurrent clients of the load")
	only := flag.String("only", "", "run only the scenarios whose \"section: name\" matches this regular expression")
	keep := flag.Bool("keep", false, "keep the work directory (webhook log, kubeconfig) for a look afterwards")
	out := flag.String("out", "docs/reliability.md", "where the report goes (relative to the repository root); - for stdout")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := e2e.FindRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 2
	}
	var onlyRE *regexp.Regexp
	if *only != "" {
		if onlyRE, err = regexp.Compile(*only); err != nil {
			fmt.Fprintln(os.Stderr, "reliability: -only:", err)
			return 2
		}
	}
	began := time.Now()
	rep, err := reliability.Run(ctx, reliability.Options{
		Root: root, Assets: filepath.Join(root, "bin", "k8s"), Webhook: filepath.Join(root, "bin", "modeguard-webhook"),
		Short: *short, Soak: *soak, Fault: *fault, Workers: *workers, Only: onlyRE, Keep: *keep, Log: os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	md := rep.Markdown()
	if *out == "-" {
		os.Stdout.Write(md)
	} else {
		path := *out
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := os.WriteFile(path, md, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "reliability:", err)
			return 1
		}
		fmt.Printf("reliability: wrote %s (%s)\n", path, time.Since(began).Round(time.Second))
	}
	if !rep.Passed() {
		fmt.Fprintln(os.Stderr, "reliability: some scenarios failed; see the report")
		return 1
	}
	return 0
}
