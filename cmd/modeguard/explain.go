package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
)

func newExplain() *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "explain RULE",
		Short: "Explain a rule: what it catches, why it matters, and an example before and after",
		Example: `  modeguard explain MG001
  modeguard explain daemonset-node-local-discovery`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			rv, err := pf.reviewer(cmd.Context())
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			var ids []string
			for _, r := range rv.Engine.Rules() {
				ids = append(ids, r.ID+"\t"+r.Title)
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			rv, err := pf.reviewer(cmd.Context())
			if err != nil {
				return err
			}
			want := strings.ToUpper(args[0])
			for _, r := range rv.Engine.Rules() {
				if r.ID != want && !strings.EqualFold(r.Slug, args[0]) {
					continue
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s %s — %s\n\n", r.ID, r.Slug, r.Title)
				fmt.Fprintf(w, "Applies to: %s\nDefault action: %s\n", strings.Join(r.AppliesTo, ", "), r.Action)
				if len(r.Fixes) > 0 {
					fmt.Fprintf(w, "Fix: %s\n", strings.Join(r.Fixes, ", "))
				}
				src := r.File
				if r.Builtin {
					src = "policy/" + src + " (built in)"
				}
				fmt.Fprintf(w, "Source: %s\n\n%s\n", src, r.Description)
				for _, variant := range []string{"fires", "passes"} {
					name := strings.ToLower(r.ID) + "-" + variant
					data, err := fs.ReadFile(examples.FS, name+"/manifest.yaml")
					if err != nil {
						continue
					}
					docs, err := manifest.Parse("examples/"+name+"/manifest.yaml", data)
					if err != nil {
						return err
					}
					c, err := reviewDocs(cmd.Context(), docs, inputFlags{namespace: "default"}, rv)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "\n── Example: examples/%s/manifest.yaml\n%s\n\n", name, strings.TrimPrefix(firstLine(data), "# "))
					writeText(w, c, false)
					fixed, err := fixedDocs(c)
					if err != nil {
						return err
					}
					for i, d := range c.docs {
						if bytes.Equal(fixed[i], d.Raw) {
							continue
						}
						diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
							A: difflib.SplitLines(string(d.Raw)), B: difflib.SplitLines(string(fixed[i])),
							FromFile: fmt.Sprintf("before: %s %s", d.Kind, d.Name), ToFile: fmt.Sprintf("after:  %s %s", d.Kind, d.Name), Context: 2,
						})
						fmt.Fprintf(w, "\n%s", diff)
					}
				}
				return nil
			}
			return usageErr("no rule %q: see modeguard explain MG001 … MG015, or docs/rules.md", args[0])
		},
	}
	pf.add(cmd)
	return cmd
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
