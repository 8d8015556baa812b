package policy

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/modeguard/modeguard/workload"
)

// RulesMarkdown renders the rules reference (docs/rules.md) from the rules'
// METADATA, so the document cannot drift from the policy. Only the tests use
// it (make docs writes the file through TestRulesDoc), hence a test file.
func RulesMarkdown(rules []*Rule) []byte {
	var b bytes.Buffer
	b.WriteString("# modeguard rules\n\n")
	b.WriteString("<!-- Generated from the METADATA of policy/rules/*.rego by `make docs`; do not edit. -->\n\n")
	b.WriteString("Every rule is Rego in `policy/rules/<slug>.rego`. Change a rule's action in the settings file,\n")
	b.WriteString("per namespace with the label `modeguard.dev/enforcement`, per object with the annotation\n")
	b.WriteString("`modeguard.dev/skip` (where settings allow), or replace the rule with your own Rego (README: Policies).\n\n")
	b.WriteString("| id | slug | applies to | default | fix | title |\n|---|---|---|---|---|---|\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | %s | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Slug,
			strings.Join(r.AppliesTo, ", "), r.Action, orDash(strings.Join(r.Fixes, ", ")), r.Title)
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "\n## %s\n\n**%s** — `%s`, default action `%s`", r.ID, r.Title, r.Slug, r.Action)
		if len(r.Fixes) > 0 {
			fmt.Fprintf(&b, ", fix `%s`", strings.Join(r.Fixes, "`, `"))
		}
		fmt.Fprintf(&b, ".\n\n%s\n\nSource: [`%s`](../policy/%s).\n", r.Description, r.File, r.File)
	}
	alloySection(&b, rules)
	return b.Bytes()
}

// alloySection says how Alloy objects are judged and fixed, with the value
// of an Alloy object each rule's findings name (workload.AlloyValue).
func alloySection(b *bytes.Buffer, rules []*Rule) {
	b.WriteString(alloyIntro)
	b.WriteString("| rule | its workload side: the value to change | its config side: inline `content` | its config side: `configMap.create: false` |\n|---|---|---|---|\n")
	for _, r := range rules {
		fmt.Fprintf(b, "| [%s](#%s) | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID),
			code(workload.AlloyValue(r.ID, TargetWorkload, true)), code(workload.AlloyValue(r.ID, TargetConfig, true)),
			orDash(code(workload.AlloyValue(r.ID, TargetConfig, false)), "the ConfigMap"))
	}
	b.WriteString(alloyExample)
}

func code(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + s + "`"
}

const alloyIntro = `
## Alloy objects

An ` + "`Alloy`" + ` object (` + "`collectors.grafana.com/v1alpha1`" + `, what Grafana's k8s-monitoring chart
renders since 3.0) is a workload: the alloy-operator renders the Alloy Helm chart with the
object's ` + "`spec`" + ` as values and its name as the release name. modeguard renders the same
facts from the spec (` + "`workload/alloy.go`" + `, following the chart's defaults): the kind from
` + "`controller.type`" + ` (default daemonset), replicas and the chart's HPA, claim templates,
hostNetwork, the args (` + "`run /etc/alloy/<key>`" + `, ` + "`--storage.path`" + `, the cluster flags when
` + "`alloy.clustering.enabled`" + `, ` + "`extraArgs`" + `), the env (` + "`HOSTNAME`" + ` and ` + "`K8S_NODE_NAME`" + ` from the node
name, ` + "`extraEnv`" + `), the mounts and the config: ` + "`alloy.configMap.content`" + ` when the chart
creates the ConfigMap, else the ConfigMap ` + "`alloy.configMap.name`" + ` (default: the chart's full
name) and ` + "`key`" + `. What it cannot know (a Helm template in ` + "`content`" + `, an empty
` + "`content`" + `, an unknown ` + "`controller.type`" + `, a config in a Secret through ` + "`alloy.secret`" + `, which
modeguard does not read) is a note, never a guess.

Every rule applies. A finding names the Alloy object and the value of its spec to change;
fixes change those values, where the operator will not undo them:

- a config fix edits ` + "`spec.alloy.configMap.content`" + ` (or the user's ConfigMap when
  ` + "`configMap.create: false`" + `);
- ` + "`node-name-env`" + ` adds the variable to ` + "`spec.alloy.extraEnv`" + `;
- ` + "`cluster-flags`" + ` sets ` + "`spec.alloy.clustering.enabled: true`" + ` (the chart then runs the
  agent with ` + "`--cluster.enabled=true`" + ` and joins its ` + "`<fullname>-cluster`" + ` Service).

A workload or ConfigMap that an ` + "`Alloy`" + ` object owns (its ownerReference) is never patched:
the operator re-renders it. Its fix becomes a warning naming the owner and the value to change
there (JSON: ` + "`owner`" + `, ` + "`value`" + `).

`

const alloyExample = `
A worked example, [` + "`examples/alloy-mg006-fires`" + `](../examples/alloy-mg006-fires/manifest.yaml): a
StatefulSet of 3 replicas scraping the cluster's services without clustering.

` + "```yaml" + `
apiVersion: collectors.grafana.com/v1alpha1
kind: Alloy
metadata: {name: metrics, namespace: alloy-mg006-fires}
spec:
  controller: {type: statefulset, replicas: 3}
  alloy:
    configMap:
      content: |
        discovery.kubernetes "services" { role = "service" }
        prometheus.scrape "services" {
          targets    = discovery.kubernetes.services.targets
          forward_to = [prometheus.remote_write.default.receiver]
        }
` + "```" + `

` + "`modeguard check`" + ` reports MG006 (fix, ` + "`change: spec.alloy.configMap.content of Alloy alloy-mg006-fires/metrics`" + `)
and MG007 (fix, ` + "`change: spec.alloy.clustering.enabled`" + `); ` + "`modeguard fix`" + ` (and the mutating webhook)
write both into the object:

` + "```yaml" + `
spec:
  alloy:
    clustering:
      enabled: true
    configMap:
      content: |
        prometheus.scrape "services" {
          ...
          clustering {
            enabled = true
          }
        }
` + "```" + `
`

// orDash is s, or else (default "—") when s is empty or a dash.
func orDash(s string, or ...string) string {
	if s == "" || s == "—" {
		if len(or) > 0 {
			return or[0]
		}
		return "—"
	}
	return s
}
