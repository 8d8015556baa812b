// Command helm-template renders a Helm chart the way `helm template` does,
// offline, with Helm's own chart loader, values coalescing, values.schema.json
// validation and template engine, and prints the manifests in Helm's install
// order. It exists so that modeguard's tests and `make` can render
// deploy/helm/modeguard without the full helm CLI.
//
//	helm-template [--name NAME] [--namespace NS] [-f values.yaml]... [--set k=v]... [--notes] CHART_DIR
//
// With --notes it prints the chart's rendered NOTES.txt instead of the
// manifests (what helm install shows).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("helm-template", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "modeguard", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	fs.StringVar(namespace, "n", "default", "release namespace (shorthand)")
	var files, sets list
	fs.Var(&files, "f", "values file (repeatable)")
	fs.Var(&files, "values", "values file (repeatable)")
	fs.Var(&sets, "set", "key=value (repeatable, Helm's --set syntax)")
	kubeVersion := fs.String("kube-version", "", "Kubernetes version for .Capabilities (default: Helm's)")
	notes := fs.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: helm-template [flags] CHART_DIR")
		return 2
	}
	out, err := render(fs.Arg(0), *name, *namespace, *kubeVersion, files, sets, *notes)
	if err != nil {
		fmt.Fprintf(stderr, "helm-template: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

func render(chartDir, name, namespace, kubeVersion string, files, sets []string, notes bool) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", fmt.Errorf("loading chart %s: %w", chartDir, err)
	}
	vals := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return "", fmt.Errorf("values %s: %w", f, err)
		}
		vals = mergeMaps(vals, m)
	}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return "", fmt.Errorf("--set %s: %w", s, err)
		}
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return "", err
		}
		caps.KubeVersion = *kv
	}
	opts := chartutil.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}
	// ToRenderValues coalesces the chart's values and validates them against
	// values.schema.json, as helm install/template do.
	rv, err := chartutil.ToRenderValues(chrt, vals, opts, caps)
	if err != nil {
		return "", err
	}
	rendered, err := engine.Render(chrt, rv)
	if err != nil {
		return "", err
	}
	// NOTES.txt and partials are not manifests.
	for k, v := range rendered {
		if strings.HasSuffix(k, "NOTES.txt") {
			if notes && k == chrt.Name()+"/templates/NOTES.txt" {
				return strings.TrimSpace(v) + "\n", nil
			}
			delete(rendered, k)
		}
	}
	if notes {
		return "", fmt.Errorf("chart %s has no templates/NOTES.txt", chartDir)
	}
	_, manifests, err := releaseutil.SortManifests(rendered, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, strings.TrimSpace(m.Content))
	}
	return b.String(), nil
}

// mergeMaps merges b into a, recursively for nested maps, as helm -f does.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := b[k]
		if vm, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
