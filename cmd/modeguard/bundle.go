package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// inputFlags select and relate the input documents.
type inputFlags struct {
	files     []string
	namespace string
	mode      string
}

func (f *inputFlags) validate() error {
	if len(f.files) == 0 {
		return usageErr("no input: give -f FILE, -f DIR or -f - (stdin)")
	}
	if f.mode != "" && !slices.Contains(workload.Modes(), f.mode) {
		return usageErr("--mode %q: want %s", f.mode, modeList())
	}
	return nil
}

// checked is a reviewed bundle with each object's document.
type checked struct {
	docs    []manifest.Document
	objDocs []int // objDocs[i] is the index in docs of objects[i]
	objects []runtime.Object
	result  *review.BundleResult
}

func load(ctx context.Context, in inputFlags, rv *review.Reviewer, stdin io.Reader) (*checked, error) {
	docs, err := manifest.ReadPaths(in.files, stdin)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return reviewDocs(ctx, docs, in, rv)
}

func reviewDocs(ctx context.Context, docs []manifest.Document, in inputFlags, rv *review.Reviewer) (*checked, error) {
	var err error
	manifest.DefaultNamespace(docs, in.namespace)
	c := &checked{docs: docs}
	for i, d := range docs {
		if d.Object != nil {
			c.objects = append(c.objects, d.Object)
			c.objDocs = append(c.objDocs, i)
		}
	}
	c.result, err = rv.ReviewBundle(ctx, c.objects, review.Options{Operation: "CHECK", DefaultMode: in.mode})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return c, nil
}

// docOf finds the document of the object a finding is about.
func (c *checked) docOf(ref review.ObjectRef) *manifest.Document {
	for i := range c.docs {
		d := &c.docs[i]
		// Kinds compared as review names them (from workload.Kinds), not as
		// the document writes them.
		if d.Object != nil && review.KindOf(d.Object) == ref.Kind && d.Name == ref.Name && d.Namespace == ref.Namespace {
			return d
		}
	}
	return nil
}

// configLine maps a line of a ConfigMap key's config to the line of the
// manifest file, when the key is written as a block scalar (key: |).
func configLine(d *manifest.Document, key string, line int) int {
	if d == nil || line <= 0 {
		return 0
	}
	re := regexp.MustCompile(`^\s+` + regexp.QuoteMeta(key) + `:\s*[|>][-+0-9]*\s*(#.*)?$`)
	for i, l := range strings.Split(string(d.Raw), "\n") {
		if re.MatchString(strings.TrimRight(l, "\r")) {
			return d.Line + i + line
		}
	}
	return 0
}

func objectName(ref review.ObjectRef) string {
	if ref.Namespace == "" {
		return fmt.Sprintf("%s %s", ref.Kind, ref.Name)
	}
	return fmt.Sprintf("%s %s/%s", ref.Kind, ref.Namespace, ref.Name)
}

// modeList lists the modes --mode takes: "daemonset, statefulset or
// deployment".
func modeList() string {
	m := workload.Modes()
	if len(m) < 2 {
		return strings.Join(m, "")
	}
	return strings.Join(m[:len(m)-1], ", ") + " or " + m[len(m)-1]
}
