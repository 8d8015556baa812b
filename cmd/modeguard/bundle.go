package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// inputFlags select and relate the input documents.
type inputFlags struct {
	files []string
	// ignore are globs of files a directory walk leaves out.
	ignore []string
	// stdinFilename names stdin's documents that carry no Helm "# Source:".
	stdinFilename string
	namespace     string
	mode          string
	// perFile makes each input file its own bundle: objects relate only
	// to objects of their file.
	perFile bool
	// live is set when the objects come from a cluster (audit), not files.
	live bool
}

// perFileHelp is the --per-file flag's help, shared by check and fix.
const perFileHelp = "check each input file on its own: its objects relate only to objects of the same file (a repository holding several environments); without it all input is one set of objects and an object defined twice is an input error"

func (f *inputFlags) add(cmd *cobra.Command, fileHelp, modeHelp string) {
	cmd.Flags().StringArrayVarP(&f.files, "file", "f", nil, fileHelp)
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "default", "namespace of objects that name none")
	cmd.Flags().StringVar(&f.mode, "mode", "", modeHelp)
	cmd.Flags().BoolVar(&f.perFile, "per-file", false, perFileHelp)
	cmd.Flags().StringArrayVar(&f.ignore, "ignore", nil, "glob of files a directory walk leaves out (matched against the path and its trailing parts: 'testdata/*', '*.tmpl.yaml'); repeatable")
	cmd.Flags().StringVar(&f.stdinFilename, "stdin-filename", "", "file the documents of stdin come from, for locations (documents after Helm's '# Source:' comment are located in that template)")
}

// addArgs takes positional arguments as paths, after those of -f.
func (f *inputFlags) addArgs(args []string) { f.files = append(f.files, args...) }

func (f *inputFlags) validate() error {
	if len(f.files) == 0 && !f.live {
		return usageErr("no input: give paths (FILE, DIR or - for stdin) as arguments or with -f")
	}
	if f.mode != "" && !slices.Contains(workload.Modes(), f.mode) {
		return usageErr("--mode %q: want %s", f.mode, modeList())
	}
	return nil
}

// checked is the review of the input: one bundle, or one per file with
// --per-file.
type checked struct {
	// input is what was read: the inputs' bytes and what was skipped.
	input   *manifest.Input
	docs    []manifest.Document
	objDocs []int // objDocs[i] is the index in docs of objects[i]
	objects []runtime.Object
	// result holds the results of every bundle (Results in the order of
	// objects) and their findings, bundle after bundle.
	result *review.BundleResult
	// findingDocs[i] is the index in docs of the document of the object
	// result.Findings[i] is about (-1 when it is not in the input).
	findingDocs []int
}

func load(ctx context.Context, in inputFlags, rv *review.Reviewer, stdin io.Reader) (*checked, error) {
	input, err := manifest.Read(in.files, stdin, manifest.ReadOptions{StdinFilename: in.stdinFilename, Ignore: in.ignore})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	c, err := reviewDocs(ctx, input.Docs, in, rv)
	if err != nil {
		return nil, err
	}
	c.input = input
	return c, nil
}

// bundles splits docs into the sets of documents reviewed together: all of
// them, or with --per-file those of each file. Each holds indexes into docs.
func bundles(docs []manifest.Document, perFile bool) [][]int {
	var out [][]int
	byFile := map[string]int{}
	for i, d := range docs {
		key := ""
		if perFile {
			key = d.Path
		}
		b, ok := byFile[key]
		if !ok {
			b = len(out)
			byFile[key] = b
			out = append(out, nil)
		}
		out[b] = append(out[b], i)
	}
	return out
}

func reviewDocs(ctx context.Context, docs []manifest.Document, in inputFlags, rv *review.Reviewer) (*checked, error) {
	manifest.DefaultNamespace(docs, in.namespace)
	c := &checked{docs: docs, result: &review.BundleResult{}, input: &manifest.Input{Docs: docs}}
	groups := bundles(docs, in.perFile)
	// Objects of one bundle are applied together: one defined twice would
	// be replaced by the later copy, and the verdict would depend on the
	// order of the files.
	var dups []manifest.Duplicate
	for _, g := range groups {
		sub := make([]manifest.Document, len(g))
		for k, i := range g {
			sub[k] = docs[i]
		}
		if e := manifest.Duplicates(sub); e != nil {
			dups = append(dups, e.Duplicates...)
		}
	}
	if len(dups) > 0 {
		hint := "objects applied together replace each other: the verdict would depend on the order of the files. Check each environment in a run of its own"
		if !in.perFile {
			hint += ", or each file on its own with --per-file"
		}
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w\n%s", &manifest.DuplicateError{Duplicates: dups}, hint)}
	}
	for _, g := range groups {
		var objs []runtime.Object
		var objDocs []int
		for _, i := range g {
			if d := docs[i]; d.Object != nil {
				objs = append(objs, d.Object)
				objDocs = append(objDocs, i)
			}
		}
		res, err := rv.ReviewBundle(ctx, objs, review.Options{Operation: "CHECK", DefaultMode: in.mode})
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		c.objects = append(c.objects, objs...)
		c.objDocs = append(c.objDocs, objDocs...)
		c.result.Results = append(c.result.Results, res.Results...)
		for _, f := range res.Findings {
			c.result.Findings = append(c.result.Findings, f)
			c.findingDocs = append(c.findingDocs, docOf(docs, g, f.Object))
		}
	}
	return c, nil
}

// docOf finds, among the documents g of one bundle, the document of the
// object ref names; -1 when none.
func docOf(docs []manifest.Document, g []int, ref review.ObjectRef) int {
	for _, i := range g {
		d := &docs[i]
		// Kinds compared as review names them (from workload.Kinds), not as
		// the document writes them.
		if d.Object != nil && review.KindOf(d.Object) == ref.Kind && d.Name == ref.Name && d.Namespace == ref.Namespace {
			return i
		}
	}
	return -1
}

// findingDoc is the document of the object finding i is about (nil when it
// is not in the input).
func (c *checked) findingDoc(i int) *manifest.Document {
	if di := c.findingDocs[i]; di >= 0 {
		return &c.docs[di]
	}
	return nil
}

// configLine maps a line of a ConfigMap key's config to the line of the
// manifest file, when the key is written as a block scalar (key: |).
func configLine(d *manifest.Document, key string, line int) int {
	l, _ := configPos(d, key, line, 0)
	return l
}

// configPos maps a line and column of a ConfigMap key's config to the line
// and column of the manifest file, when the key is written as a block
// scalar (key: |): the column moves by the block's indentation.
func configPos(d *manifest.Document, key string, line, col int) (int, int) {
	if d == nil || line <= 0 {
		return 0, 0
	}
	if d.Kind == workload.KindAlloy.Name {
		key = "content" // an Alloy object's config is spec.alloy.configMap.content
	}
	re := regexp.MustCompile(`^\s+` + regexp.QuoteMeta(key) + `:\s*[|>][-+0-9]*\s*(#.*)?$`)
	lines := strings.Split(string(d.Raw), "\n")
	for i, l := range lines {
		if !re.MatchString(strings.TrimRight(l, "\r")) {
			continue
		}
		c := 0
		if col > 0 {
			for _, b := range lines[i+1:] {
				if t := strings.TrimLeft(b, " "); strings.TrimSpace(b) != "" {
					c = len(b) - len(t) + col
					break
				}
			}
		}
		return d.RawLine + i + line, c
	}
	return 0, 0
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
