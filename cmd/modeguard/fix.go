package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

func newFix() *cobra.Command {
	var (
		in         inputFlags
		pf         policyFlags
		write      bool
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "fix [PATH ...] [-f PATH ...]",
		Short: "Apply modeguard's fixes to manifests",
		Long: `fix applies every fix the modeguard webhook would apply and writes the
manifests to stdout, in input order (-w rewrites the files in place, each
through a temporary file renamed over it). The output differs from the input
only inside the edits: comments, quoting, list indentation, block scalars
(config.alloy: | keeps its header and indentation; only changed config lines
are rewritten), CRLF line breaks, "---" and "..." stay as written. Settings,
policy and ignores come from .modeguard.yaml as for check. What changed is reported on stderr;
findings no fix resolves are reported too and make the exit status 1.

As with check, all input is one set of objects and an object defined twice is
an input error (exit status 2); --per-file fixes each file on its own.`,
		Example: `  modeguard fix daemonset.yaml > fixed.yaml
  modeguard fix -w manifests/`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return usageErr("%v", err)
			}
			cfg.apply(cmd, &in, &pf, nil)
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
			} else if err := writeFixed(cmd.OutOrStdout(), c, fixed); err != nil {
				return err
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
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite the files in place (atomically) instead of writing to stdout")
	cmd.Flags().StringVar(&configPath, "config", "", "project file to read instead of the "+configName+" found upward from the working directory (settings, policy, ignore)")
	pf.add(cmd)
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	_ = cmd.MarkFlagFilename("settings", "yaml", "yml")
	_ = cmd.MarkFlagDirname("policy")
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(workload.Modes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// writeFixed writes every input, in order, with its fixed documents
// spliced in: every other byte as it was. Inputs follow each other as one
// YAML stream: a "---" line between two when the next does not start with
// one.
func writeFixed(w io.Writer, c *checked, fixed [][]byte) error {
	texts, err := fixedFiles(c, fixed)
	if err != nil {
		return err
	}
	for i, f := range c.input.Files {
		data := texts[f.Path]
		if data == nil {
			data = f.Data
		}
		if i > 0 {
			if !startsWithSeparator(data) {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if len(data) > 0 && data[len(data)-1] != '\n' && i < len(c.input.Files)-1 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

func startsWithSeparator(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return bytes.HasPrefix(bytes.TrimRight(line, "\r"), []byte("---"))
}

// fixedFiles is the text of each input (by path) that a fix changes, with
// the changed documents spliced into the bytes read.
func fixedFiles(c *checked, fixed [][]byte) (map[string][]byte, error) {
	byFile := map[string][]int{}
	for i, d := range c.docs {
		if !bytes.Equal(fixed[i], d.Raw) {
			byFile[d.Path] = append(byFile[d.Path], i)
		}
	}
	out := map[string][]byte{}
	for _, f := range c.input.Files {
		idx := byFile[f.Path]
		if len(idx) == 0 {
			continue
		}
		data := bytes.Clone(f.Data)
		for k := len(idx) - 1; k >= 0; k-- {
			d := c.docs[idx[k]]
			data = append(data[:d.Start:d.Start], append(bytes.Clone(fixed[idx[k]]), data[d.End:]...)...)
		}
		out[f.Path] = data
	}
	return out, nil
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

// rewrite writes the inputs a fix changes back, each atomically (a
// temporary file beside it, renamed over it), leaving every other byte of
// the file as it was.
func rewrite(c *checked, fixed [][]byte) error {
	texts, err := fixedFiles(c, fixed)
	if err != nil {
		return err
	}
	files := make([]string, 0, len(texts))
	for f := range texts {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		if err := writeAtomic(file, texts[file]); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic replaces file by data: readers see the old or the new file,
// never a part of it, and an error leaves the old one.
func writeAtomic(file string, data []byte) error {
	mode := os.FileMode(0o644) // a new file
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".modeguard-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is none
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
