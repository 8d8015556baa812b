package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/audit"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// auditSettings makes MG001 (a fix by default) a warn, so that the
// reconciler does not fix it before the audit sees it, and the three
// results (fail, warn, and an audit finding's warn of severity info) all
// show.
const auditSettings = `rules:
  MG001:
    action: warn
`

// auditProbePolicy is a custom rule added while the webhook runs: it warns
// on every agent DaemonSet.
const auditProbePolicy = `# METADATA
# title: Audit probe
# description: Warns on every agent DaemonSet. The audit test adds it while the webhook runs.
# custom:
#   id: AUD001
#   action: warn
#   appliesTo: [DaemonSet]
package modeguard.rules.audit_probe

import data.modeguard.lib

violations contains {"msg": "an agent DaemonSet (audit probe)", "target": "workload"} if {
	lib.has_workload
	lib.daemonset
}
`

// TestAudit runs the audit loop on a cluster of its own: agents that break
// MG001, MG004 and MG011 are in the cluster before the webhook starts
// (created while it is down: deploy/'s webhooks fail open); after start one
// Report per namespace lists exactly the findings a review of the same
// manifests makes (rule, object, component, result), the gauge counts the
// same, Events are on the objects; a fixed manifest, a deletion and a new
// custom policy show in the reports.
func TestAudit(t *testing.T) {
	ctx := t.Context()
	settings := auditSettingsFile(t)
	c, root := ownCluster(t, Options{WebhookArgs: []string{"--settings=" + settings}})
	if err := installReportCRD(ctx, c.Config); err != nil {
		t.Fatal(err)
	}
	cl := reportClient(t, c)
	rv := auditReviewer(t, settings)

	// The agents are there before the webhook (and its audit) starts.
	if err := c.KillWebhook(); err != nil {
		t.Fatal(err)
	}
	// The killed leader did not release its Lease: without it the next
	// process would wait for the Lease to expire before auditing.
	if r := c.KubectlAllowFail(ctx, "", "delete", "lease", "-n", "modeguard-system", "--all"); r.Err != nil {
		t.Fatalf("kubectl delete lease: %v\n%s", r.Err, r.Stderr)
	}
	fires := map[string]string{"mg001-fires": "MG001", "mg004-fires": "MG004", "mg011-fires": "MG011"}
	for ns := range fires {
		applyExample(t, c, ns, ns)
	}
	if err := c.RestartWebhook(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("reports of what was there before", func(t *testing.T) {
		for ns, rule := range fires {
			want := expectedResults(t, rv, ns, ns)
			if ids := rules(want); !slices.Contains(ids, rule) {
				t.Fatalf("a review of %s finds rules %v, want %s among them", ns, ids, rule)
			}
			got := waitReport(t, cl, ns, 30*time.Second, func(got []string) bool { return slices.Equal(got, want) })
			if !slices.Equal(got, want) {
				t.Errorf("report of %s:\n got %q\nwant %q", ns, got, want)
			}
		}
	})

	t.Run("the report is modeguard's", func(t *testing.T) {
		r := &reportsv1alpha1.Report{}
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "mg004-fires", Name: audit.ReportName}, r); err != nil {
			t.Fatal(err)
		}
		if r.Labels[audit.LabelManagedBy] != audit.ManagedBy || r.Source != audit.Source {
			t.Errorf("report labels %v, source %q: want %s=%s, source %s", r.Labels, r.Source, audit.LabelManagedBy, audit.ManagedBy, audit.Source)
		}
		if r.Summary.Fail != 1 || r.Summary.Warn != 0 {
			t.Errorf("summary %+v, want one fail", r.Summary)
		}
		res := r.Results[0]
		if res.Policy != "MG004" || res.Rule == "" || res.Severity != "high" || res.Properties[audit.PropAction] != "deny" || res.Timestamp.Seconds == 0 || res.Subjects[0].UID == "" {
			t.Errorf("result %+v: want policy MG004, a slug, severity high, action deny, a time and the object's UID", res)
		}
	})

	t.Run("modeguard audit prints the findings of the reports", func(t *testing.T) {
		cli := filepath.Join(t.TempDir(), "modeguard")
		if out, err := runGo(root, "build", "-o", cli, "./cmd/modeguard"); err != nil {
			t.Fatalf("go build ./cmd/modeguard: %v\n%s", err, out)
		}
		nss := slices.Sorted(maps.Keys(fires))
		cmd := exec.CommandContext(ctx, cli, "audit", "--kubeconfig", c.Kubeconfig, "--settings", settings,
			"-n", strings.Join(nss, ","), "-o", "json", "--fail-on", "never", "-q")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("modeguard audit: %v\n%s", err, stderr.String())
		}
		var got struct {
			Findings []struct {
				Rule, Action, Kind, Namespace, Name, Component string
			}
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("modeguard audit -o json: %v\n%s", err, out)
		}
		cliLines := map[string][]string{}
		for _, f := range got.Findings {
			r, _ := audit.ResultOf(policy.Action(f.Action))
			cliLines[f.Namespace] = append(cliLines[f.Namespace], fmt.Sprintf("%s|%s/%s|%s|%s", f.Rule, f.Kind, f.Name, f.Component, r))
		}
		for _, ns := range nss {
			var report []string
			for _, r := range readReport(t, cl, audit.FormatOpenReports, ns).Results {
				report = append(report, resultLine(r))
			}
			sort.Strings(report)
			sort.Strings(cliLines[ns])
			if !slices.Equal(cliLines[ns], report) {
				t.Errorf("%s: modeguard audit finds\n %q\nthe report holds\n %q", ns, cliLines[ns], report)
			} else {
				t.Logf("%s: modeguard audit and the report agree: %q", ns, report)
			}
		}
	})

	t.Run("gauge", func(t *testing.T) {
		for ns := range fires {
			want := map[metrics.AuditKey]int{}
			for _, f := range expectedFindings(t, rv, ns, ns) {
				want[metrics.AuditKey{Rule: f.Rule.ID, Action: string(f.Action)}]++
			}
			got := auditGauge(t, c.MetricsURL, ns)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s{namespace=%q} = %v, want %v", metrics.AuditFindings, ns, got, want)
			}
		}
	})

	t.Run("events on deny and warn findings", func(t *testing.T) {
		for _, o := range []struct{ ns, kind, name string }{{"mg004-fires", "ConfigMap", "alloy"}, {"mg001-fires", "ConfigMap", "alloy"}} {
			if !waitEvent(t, cl, o.ns, o.kind, o.name, 10*time.Second) {
				t.Errorf("no %s Event on %s %s/%s", audit.ReasonViolation, o.kind, o.ns, o.name)
			}
		}
	})

	t.Run("a fixed manifest updates the report within 10 s", func(t *testing.T) {
		ns := "mg001-fires"
		want := expectedResults(t, rv, "mg001-passes", ns)
		began := time.Now()
		applyExample(t, c, "mg001-passes", ns)
		got := waitReport(t, cl, ns, 10*time.Second, func(got []string) bool { return slices.Equal(got, want) })
		if !slices.Equal(got, want) {
			t.Errorf("report of %s after the fix:\n got %q\nwant %q", ns, got, want)
		}
		t.Logf("report of %s is %q %s after the fix began", ns, got, time.Since(began).Round(time.Millisecond))
		if len(want) == 0 {
			err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: audit.ReportName}, &reportsv1alpha1.Report{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("the report of the clean namespace %s: %v, want it deleted", ns, err)
			}
		}
	})

	t.Run("deleting the object removes its results", func(t *testing.T) {
		ns := "mg011-fires"
		if r := c.KubectlAllowFail(ctx, "", "delete", "statefulset", "-n", ns, "--all", "--wait=false"); r.Err != nil {
			t.Fatalf("kubectl delete: %v\n%s", r.Err, r.Stderr)
		}
		got := waitReport(t, cl, ns, 10*time.Second, func(got []string) bool { return len(got) == 0 })
		if len(got) != 0 {
			t.Errorf("report of %s after deleting its StatefulSet: %q, want none", ns, got)
		}
	})

	t.Run("a new custom policy shows after its reload", func(t *testing.T) {
		ns := "mg001-fires"
		if err := os.WriteFile(filepath.Join(c.PolicyDir(), "audit_probe.rego"), []byte(auditProbePolicy), 0o644); err != nil {
			t.Fatal(err)
		}
		probe := "AUD001|DaemonSet/alloy||warn"
		got := waitReport(t, cl, ns, 30*time.Second, func(got []string) bool { return slices.Contains(got, probe) })
		if !slices.Contains(got, probe) {
			t.Errorf("report of %s after the new policy: %q, want %q among them", ns, got, probe)
		}
	})
}

// installReportCRD installs the Report CRD of the reports-api module the
// webhook is built with.
// auditSettingsFile writes the audit tests' settings to a file of the
// test's.
func auditSettingsFile(t *testing.T) string {
	t.Helper()
	settings := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(settings, []byte(auditSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	return settings
}

func installReportCRD(ctx context.Context, cfg *rest.Config) error {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/openreports/reports-api").Output()
	if err != nil {
		return fmt.Errorf("finding the reports-api module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(dir, "config", "crd", "openreports.io_reports.yaml")},
		ErrorIfPathMissing: true,
		MaxTime:            time.Minute,
		PollInterval:       100 * time.Millisecond,
	})
	return err
}

func reportClient(t *testing.T, c *Cluster) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := reportsv1alpha1.Install(s); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func auditReviewer(t *testing.T, settingsPath string) *review.Reviewer {
	t.Helper()
	s, err := policy.LoadSettings(settingsPath)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.New(context.Background(), policy.Options{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
}

// applyExample applies the example's objects (less its Namespace) in
// namespace ns (created if missing) with kubectl.
func applyExample(t *testing.T, c *Cluster, example, ns string) {
	t.Helper()
	c.KubectlAllowFail(t.Context(), "", "create", "namespace", ns) // exists already after the first apply
	for _, d := range examples.Load(t, example) {
		if d.Kind == "Namespace" {
			continue
		}
		raw := strings.ReplaceAll(string(d.Raw), "namespace: "+example, "namespace: "+ns)
		if r := c.KubectlAllowFail(t.Context(), raw, "apply", "-f", "-"); r.Err != nil {
			t.Fatalf("kubectl apply %s %s of %s in %s: %v\n%s", d.Kind, d.Name, example, ns, r.Err, r.Stderr)
		}
	}
}

// expectedFindings reviews the example's objects, put in namespace ns, as
// the CLI does (one bundle, CHECK).
func expectedFindings(t *testing.T, rv *review.Reviewer, example, ns string) []review.Finding {
	t.Helper()
	var objs []runtime.Object
	for _, d := range examples.Load(t, example) {
		if d.Object == nil || d.Kind == "Namespace" {
			continue
		}
		o := d.Object.DeepCopyObject().(client.Object)
		o.SetNamespace(ns)
		objs = append(objs, o)
	}
	res, err := rv.ReviewBundle(context.Background(), objs, review.Options{Operation: "CHECK"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings
}

// expectedResults are expectedFindings as report lines (resultLine).
func expectedResults(t *testing.T, rv *review.Reviewer, example, ns string) []string {
	t.Helper()
	var out []string
	for _, f := range expectedFindings(t, rv, example, ns) {
		r, _ := audit.ResultOf(f.Action)
		out = append(out, fmt.Sprintf("%s|%s/%s|%s|%s", f.Rule.ID, f.Object.Kind, f.Object.Name, f.Component, r))
	}
	sort.Strings(out)
	return out
}

// resultLine is what the test compares of a result: rule, object,
// component and result.
func resultLine(r reportsv1alpha1.ReportResult) string {
	obj := ""
	if len(r.Subjects) > 0 {
		obj = r.Subjects[0].Kind + "/" + r.Subjects[0].Name
	}
	return fmt.Sprintf("%s|%s|%s|%s", r.Policy, obj, r.Properties[audit.PropComponent], r.Result)
}

func rules(lines []string) []string {
	var out []string
	for _, l := range lines {
		id, _, _ := strings.Cut(l, "|")
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// waitReport polls the namespace's openreports.io report until done says
// its results (as sorted resultLines; none when there is no report) are as
// wanted, or the timeout passes; it returns the last seen.
func waitReport(t *testing.T, cl client.Client, ns string, timeout time.Duration, done func([]string) bool) []string {
	t.Helper()
	return waitReportOf(t, cl, audit.FormatOpenReports, ns, timeout, done)
}

// waitReportOf is waitReport for the reports of a format.
func waitReportOf(t *testing.T, cl client.Client, format, ns string, timeout time.Duration, done func([]string) bool) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(timeout); ; {
		got = nil
		if r := readReport(t, cl, format, ns); r != nil {
			for _, res := range r.Results {
				got = append(got, resultLine(res))
			}
			sort.Strings(got)
		}
		if done(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readReport reads modeguard's report of a format in ns (nil when none).
func readReport(t *testing.T, cl client.Client, format, ns string) *reportsv1alpha1.Report {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(audit.GVK(format))
	err := cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: audit.ReportName}, u)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		t.Fatal(err)
	}
	r, err := audit.Decode(u)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitEvent(t *testing.T, cl client.Client, ns, kind, name string, timeout time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		evs := &eventsv1.EventList{}
		if err := cl.List(t.Context(), evs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == audit.ReasonViolation && e.Regarding.Kind == kind && e.Regarding.Name == name {
				return true
			}
		}
	}
	return false
}

// auditGauge reads modeguard_audit_findings of namespace ns from /metrics.
func auditGauge(t *testing.T, url, ns string) map[metrics.AuditKey]int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[metrics.AuditKey]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		rest, ok := strings.CutPrefix(l, metrics.AuditFindings+"{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		kv := map[string]string{}
		for _, p := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(p, "=")
			kv[k] = strings.Trim(v, `"`)
		}
		if kv["namespace"] != ns {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if n != 0 {
			out[metrics.AuditKey{Rule: kv["rule"], Action: kv["action"]}] = int(n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditPassDone is what the audit logs after a complete pass (webhook/audit).
const auditPassDone = "Audit pass complete"

// auditStatefulSetProbe warns on every agent StatefulSet: the policy whose
// reload starts the full pass the leader is killed in.
const auditStatefulSetProbe = `# METADATA
# title: Audit probe (StatefulSets)
# description: Warns on every agent StatefulSet. The leader-kill test adds it.
# custom:
#   id: AUD002
#   action: warn
#   appliesTo: [StatefulSet]
package modeguard.rules.audit_probe_sts

import data.modeguard.lib

violations contains {"msg": "an agent StatefulSet (audit probe)", "target": "workload"} if {
	lib.has_workload
	lib.statefulset
}
`

// TestAuditLeaderKilled runs two replicas: only the leader audits; the
// leader is killed during the full pass a policy reload starts, and the
// other replica, once leader, finishes: every namespace's report then holds
// exactly its findings, each once.
func TestAuditLeaderKilled(t *testing.T) {
	ctx := t.Context()
	settings := auditSettingsFile(t)
	c, _ := ownCluster(t, Options{Replicas: 2, WebhookArgs: []string{"--settings=" + settings}})
	if err := installReportCRD(ctx, c.Config); err != nil {
		t.Fatal(err)
	}
	cl := reportClient(t, c)
	rv := auditReviewer(t, settings)
	if len(c.replicas) != 1 {
		t.Fatalf("%d replicas besides the first, want 1", len(c.replicas))
	}
	standby := c.replicas[0].log

	// Namespaces of MG011 agents (an audit finding: admitted).
	const n = 40
	var nss []string
	for i := range n {
		ns := fmt.Sprintf("audit-leader-%02d", i)
		nss = append(nss, ns)
		objs := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}}
		for _, d := range examples.Load(t, "mg011-fires") {
			if d.Object == nil || d.Kind == "Namespace" {
				continue
			}
			o := d.Object.DeepCopyObject().(client.Object)
			o.SetNamespace(ns)
			objs = append(objs, o)
		}
		if err := c.Create(ctx, objs); err != nil {
			t.Fatal(err)
		}
	}
	want := expectedResults(t, rv, "mg011-fires", nss[0])
	for _, ns := range nss {
		got := waitReport(t, cl, ns, 30*time.Second, func(got []string) bool { return slices.Equal(got, want) })
		if !slices.Equal(got, want) {
			t.Fatalf("report of %s before the kill:\n got %q\nwant %q", ns, got, want)
		}
	}
	if !logSays(t, c.WebhookLog, auditPassDone, 10*time.Second) {
		t.Fatalf("the first webhook (the leader) logged no %q", auditPassDone)
	}
	if logContains(t, standby, auditPassDone) {
		t.Fatalf("the standby replica audited while not the leader (its log has %q)", auditPassDone)
	}

	// A new policy: both replicas reload it, the leader starts a full pass
	// (after the 300 ms debounce) and is killed in it.
	if err := os.WriteFile(filepath.Join(c.PolicyDir(), "audit_probe_sts.rego"), []byte(auditStatefulSetProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := "AUD002|StatefulSet/alloy||warn"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if reportHas(t, cl, nss, probe) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader wrote no report with the new policy's finding in 20 s")
		}
	}
	if err := c.KillWebhook(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the leader was killed with %d of %d reports holding the new finding", reportHas(t, cl, nss, probe), n)
	// The killed leader did not release its Lease (137 s): delete it, so
	// that the standby takes over at its next try (26 s at most).
	if r := c.KubectlAllowFail(ctx, "", "delete", "lease", "-n", "modeguard-system", "--all"); r.Err != nil {
		t.Fatalf("kubectl delete lease: %v\n%s", r.Err, r.Stderr)
	}

	wantAfter := append(slices.Clone(want), probe)
	sort.Strings(wantAfter)
	for _, ns := range nss {
		got := waitReport(t, cl, ns, 90*time.Second, func(got []string) bool { return slices.Equal(got, wantAfter) })
		if !slices.Equal(got, wantAfter) {
			t.Errorf("report of %s after the takeover:\n got %q\nwant %q (each once)", ns, got, wantAfter)
		}
	}
	if !logSays(t, standby, auditPassDone, 10*time.Second) {
		t.Errorf("the new leader logged no %q", auditPassDone)
	}
}

// reportHas counts the namespaces whose report has the result line.
func reportHas(t *testing.T, cl client.Client, nss []string, line string) int {
	t.Helper()
	n := 0
	for _, ns := range nss {
		r := &reportsv1alpha1.Report{}
		if err := cl.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: audit.ReportName}, r); err != nil {
			continue
		}
		for _, res := range r.Results {
			if resultLine(res) == line {
				n++
				break
			}
		}
	}
	return n
}

// logSays waits up to d for file to contain s: a pass logs its completion
// after its last report is written (and its garbage returned), so the
// reports may be right a moment before the log says so.
func logSays(t *testing.T, file, s string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); !logContains(t, file, s); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func logContains(t *testing.T, file, s string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), s)
}

// wgpolicyCRDFile is the PolicyReport CRD the chart installs.
const wgpolicyCRDFile = "deploy/helm/modeguard/files/wgpolicyk8s.io_policyreports.yaml"

// TestAuditWGPolicy is TestAudit's first scenario with --report-format
// wgpolicyk8s: PolicyReports, written with strict field validation against
// their CRD (a field the schema lacks fails the write instead of being
// dropped), list the same findings.
func TestAuditWGPolicy(t *testing.T) {
	ctx := t.Context()
	settings := auditSettingsFile(t)
	c, root := ownCluster(t, Options{WebhookArgs: []string{"--settings=" + settings, "--report-format=" + audit.FormatWGPolicy}})
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(root, wgpolicyCRDFile)}, ErrorIfPathMissing: true, MaxTime: time.Minute, PollInterval: 100 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	cl := reportClient(t, c)
	rv := auditReviewer(t, settings)
	if err := c.KillWebhook(); err != nil {
		t.Fatal(err)
	}
	if r := c.KubectlAllowFail(ctx, "", "delete", "lease", "-n", "modeguard-system", "--all"); r.Err != nil {
		t.Fatalf("kubectl delete lease: %v\n%s", r.Err, r.Stderr)
	}
	fires := []string{"mg001-fires", "mg004-fires", "mg011-fires"}
	for _, ns := range fires {
		applyExample(t, c, ns, ns)
	}
	if err := c.RestartWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range fires {
		want := expectedResults(t, rv, ns, ns)
		got := waitReportOf(t, cl, audit.FormatWGPolicy, ns, 30*time.Second, func(got []string) bool { return slices.Equal(got, want) })
		if !slices.Equal(got, want) {
			t.Errorf("PolicyReport of %s:\n got %q\nwant %q", ns, got, want)
		}
	}
	if t.Failed() {
		t.Logf("webhook log:\n%s", tail(c.WebhookLog, 40))
	}
	// The Report CRD is not installed here: the openreports API is not
	// served, so no Report was written (TestAudit checks the reverse).
	// Nothing of a result was dropped by the CRD's schema.
	r := readReport(t, cl, audit.FormatWGPolicy, "mg004-fires")
	if r == nil || len(r.Results) != 1 {
		t.Fatalf("PolicyReport of mg004-fires: %+v, want one result", r)
	}
	if res := r.Results[0]; res.Timestamp.Seconds == 0 || res.Severity != "high" || res.Properties[audit.PropLocation] == "" || res.Subjects[0].UID == "" || r.Summary.Fail != 1 {
		t.Errorf("PolicyReport result %+v, summary %+v: want a time, severity high, a location, the object's UID and one fail", res, r.Summary)
	}
}
