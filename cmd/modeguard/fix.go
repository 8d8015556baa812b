package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
)

func newFix() *cobra.Command {
	var (
		in    inputFlags
		pf    policyFlags
		write bool
	)
	cmd := &cobra.Command{
		Use:   "fix [PATH ...] [-f PATH ...]",
		Short: "Apply modeguard's fixes to manifests",
		Long: `fix applies every fix the modeguard webhook would apply and writes the
manifests to stdout as YAML, in input order (-w rewrites the files in place).
Documents nothing changes are written byte for byte as they were; in changed
documents only the fixed fields change. What changed is reported on stderr;
findings no fix resolves are reported too and make the exit status 1.

As with check, all input is one set of objects and an object defined twice is
an input error (exit status 2); --per-file fixes each file on its own.`,
		Example: `  modeguard fix -f daemonset.yaml > fixed.yaml
  modeguard fix -w -f manifests/`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.addArgs(args)
			if err := in.validate(); err != nil {
				return err
			}
			if write && len(in.files) == 1 && in.files[0] == "-" {
				return usageErr("-w cannot rewrite stdin")
			}
			rv, err := pf.reviewer(cmd.Context())
			if err != nil {
				return err
			}
			c, err := load(cmd.Context(), in, rv, cmd.InOrStdin())
			if err != nil {
				return err
			}
			fixed, err := fixedDocs(c)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			stderr := cmd.ErrOrStderr()
			reportFixes(stderr, c)
			if write {
				if err := rewrite(c, fixed); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			} else {
				out := cmd.OutOrStdout()
				for i, d := range c.docs {
					if i > 0 {
						fmt.Fprintln(out, "---")
					}
					writeDoc(out, fixed[i], d)
				}
			}
			unresolved := 0
			for _, f := range c.result.Findings {
				if f.Action == policy.ActionDeny {
					unresolved++
					fmt.Fprintf(stderr, "not fixable: %s %s: %s\n", objectName(f.Object), f.Rule.ID, f.Message)
				}
			}
			if unresolved > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	in.add(cmd, "manifest file, directory or - for stdin; repeatable",
		"mode of ConfigMaps no workload in the input reads: daemonset, statefulset or deployment")
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite the files in place instead of writing to stdout")
	pf.add(cmd)
	return cmd
}

// writeDoc writes a document's text without the separator line structure
// of its file: the text as it is, ending in a newline.
func writeDoc(w io.Writer, text []byte, d manifest.Document) {
	text = bytes.TrimRight(text, "\n")
	if len(text) > 0 {
		w.Write(text)
		fmt.Fprintln(w)
	}
}

// fixedDocs returns each document's text after the fixes: unchanged
// documents keep their bytes; changed ones get the JSON patch applied to
// their YAML node tree (comments and key order stay).
func fixedDocs(c *checked) ([][]byte, error) {
	out := make([][]byte, len(c.docs))
	for i, d := range c.docs {
		out[i] = d.Raw
	}
	for oi, di := range c.objDocs {
		f := c.result.Fixed(oi)
		if f == nil {
			continue
		}
		d := c.docs[di]
		if d.InList {
			return nil, fmt.Errorf("%s: %s %s/%s is an item of a List: fix writes Lists unchanged; split the List into documents to fix it", d.Where(), d.Kind, d.Namespace, d.Name)
		}
		ops, err := mutate.Patch(d.Object, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Where(), err)
		}
		if len(ops) == 0 {
			continue
		}
		text, err := manifest.ApplyPatch(d.Raw, ops)
		if err != nil {
			return nil, fmt.Errorf("%s: applying the fix to the YAML: %w", d.Where(), err)
		}
		out[di] = text
	}
	return out, nil
}

// reportFixes says what was fixed, one line per edit: findings that asked
// for the same edit (MG001 once per collector of one discovery) share it.
// With --per-file the same object fixed in two files is two edits, so the
// document is part of what makes an edit.
func reportFixes(w io.Writer, c *checked) {
	type edit struct {
		doc  int
		line string
	}
	said := map[edit]bool{}
	for i, f := range c.result.Findings {
		if f.Action == policy.ActionFix && f.Applied {
			where := objectName(f.Object)
			if f.Component != "" {
				where += " " + f.Component
			}
			line := fmt.Sprintf("fixed: %s: %s %s (%s)\n", where, f.Rule.ID, f.Rule.Slug, f.Fix.Name)
			if e := (edit{c.findingDocs[i], line}); !said[e] {
				said[e] = true
				fmt.Fprint(w, line)
			}
		}
	}
}

// rewrite writes changed documents back into their files, leaving every
// other byte of the file as it was.
func rewrite(c *checked, fixed [][]byte) error {
	byFile := map[string][]int{}
	for i, d := range c.docs {
		if !bytes.Equal(fixed[i], d.Raw) {
			byFile[d.Path] = append(byFile[d.Path], i)
		}
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		idx := byFile[file]
		for k := len(idx) - 1; k >= 0; k-- {
			d := c.docs[idx[k]]
			text := fixed[idx[k]]
			if strings.HasSuffix(string(d.Raw), "\n") && !bytes.HasSuffix(text, []byte("\n")) {
				text = append(text, '\n')
			}
			data = append(data[:d.Start:d.Start], append(text, data[d.End:]...)...)
		}
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, data, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
