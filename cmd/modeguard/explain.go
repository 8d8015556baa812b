package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/policy"
)

func newExplain() *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "explain [RULE]",
		Short: "Explain a rule: what it catches, why it matters, and an example before and after",
		Long: `explain shows a rule (by id or slug): what it catches, why, its default
action and fix, and its examples checked and fixed. Without RULE it lists the
catalog, as modeguard rules does.`,
		Example: `  modeguard explain MG001
  modeguard explain daemonset-node-local-discovery
  modeguard explain            # the catalog`,
		Args: cobra.MaximumNArgs(1),
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
			if len(args) == 0 {
				writeCatalog(cmd.OutOrStdout(), rv.Engine.Rules())
				return nil
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
					writeText(w, c, false, true)
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

func newRules() *cobra.Command {
	var (
		pf     policyFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the rule catalog: id, slug, default action, what each applies to",
		Long: `rules lists the rules in force (the built-ins and those of --policy, with
the actions of --settings): id, slug, action, the kinds each applies to and
its fix. modeguard explain RULE tells more about one.`,
		Example: `  modeguard rules
  modeguard rules -o json
  modeguard rules --policy ./policies --settings settings.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rv, err := pf.reviewer(cmd.Context())
			if err != nil {
				return err
			}
			rules := rv.Engine.Rules()
			switch output {
			case "text":
				writeCatalog(cmd.OutOrStdout(), rules)
			case "json":
				type entry struct {
					*policy.Rule
					Action        policy.Action `json:"action"`
					DefaultAction policy.Action `json:"defaultAction"`
				}
				out := make([]entry, len(rules))
				for i, r := range rules {
					out[i] = entry{r, actionInForce(rv.Engine.Settings(), r), r.Action}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			default:
				return usageErr("-o %q: want text or json", output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	pf.add(cmd)
	return cmd
}

// actionInForce is a rule's action after the settings (before namespace
// labels and annotations, which depend on the object).
func actionInForce(s *policy.Settings, r *policy.Rule) policy.Action {
	a, _ := s.Resolve(r.ID, r.Action, policy.Scope{})
	return a
}

// writeCatalog writes the rules as a table.
func writeCatalog(w io.Writer, rules []*policy.Rule) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSLUG\tDEFAULT\tAPPLIES TO\tFIX\tTITLE")
	for _, r := range rules {
		fix := strings.Join(r.Fixes, ", ")
		if fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Slug, r.Action, strings.Join(r.AppliesTo, ","), fix, r.Title)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%s; modeguard explain RULE for one\n", plural(len(rules), "rule", "rules"))
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
