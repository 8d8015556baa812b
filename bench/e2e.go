package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/internal/freeport"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/test/e2e"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
)

// Step is one load step against one target.
type Step struct {
	Target     string
	Rate       int // requests/s asked for; 0: as fast as Workers connections go
	Workers    int
	Duration   time.Duration
	Requests   uint64
	Throughput float64 // successful requests/s
	Success    float64
	P50, P99   time.Duration
	Max        time.Duration
	Errors     []string
	RSS        int64         // the target's resident set after the step (bytes)
	CPU        time.Duration // the target process's CPU time (user+system) during the step
	// PerKind is the latency of each request kind (by kind.short).
	PerKind map[string]KindStat
	// MemoHits and MemoMisses are the policy memo's answers during the
	// step (modeguard only: modeguard_policy_memo_total).
	MemoHits, MemoMisses int64
	// CacheHits are the requests the handlers' result cache answered
	// before any evaluation (modeguard_evaluations_skipped_total
	// {reason="cache-hit"}): a repeated request never reaches the memo.
	CacheHits int64
}

// MemoRate is the share of evaluations the memo answered ("–" without any).
func (s Step) MemoRate() string {
	if n := s.MemoHits + s.MemoMisses; n > 0 {
		return fmt.Sprintf("%.0f%% (%d of %d)", 100*float64(s.MemoHits)/float64(n), s.MemoHits, n)
	}
	return "–"
}

// memoCounts reads the policy memo's counters from t's /metrics (0, 0
// for a target without one).
func memoCounts(ctx context.Context, t *target) (hits, misses int64) {
	return metricSum(ctx, t, metrics.PolicyMemoTotal, map[string]string{"result": "hit"}),
		metricSum(ctx, t, metrics.PolicyMemoTotal, map[string]string{"result": "miss"})
}

// metricSum reads the sum of a metric's series matching labels from t's
// /metrics (0 for a target without one, or when unreadable).
func metricSum(ctx context.Context, t *target, name string, labels map[string]string) int64 {
	if t.metrics == "" {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.metrics, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	f, err := metricstest.Parse(resp.Body)
	if err != nil {
		return 0
	}
	return int64(f.Sum(name, labels))
}

// KindStat is one request kind's share of a step.
type KindStat struct {
	Requests uint64
	P50, P99 time.Duration
}

// Probe is what a target answered to one request of each kind.
type Probe struct {
	Target, Kind string
	Allowed      bool
	Patch        bool
	Warnings     int
	Message      string
}

// E2EResult is every step of the end-to-end run.
type E2EResult struct {
	Mix []string
	// GitOps is the GitOps steady state at the maximum rate, per target,
	// over the request kinds GitOpsMix.
	GitOps    []Step
	GitOpsMix []string
	Kinds     []string
	Probes    []Probe
	Steps     []Step
	RSSIdle   map[string]int64
	RSSPeak   map[string]int64
	Startup   time.Duration
	OPA       bool // an OPA server was compared
	// Rollout is the DaemonSet rollout scenario: RolloutPods Pod admissions
	// of one template, per target.
	Rollout     []Step
	RolloutPods int
	// Scale is modeguard with many objects in its informer cache.
	Scale    *Scale
	Targets  []string
	MaxConns int
	K8s      string // directory of the kube-apiserver and etcd run
	// MemoryTarget is modeguard's --memory-target: the Helm chart's
	// default memory request, as the chart passes it.
	MemoryTarget string
	// ProfileParts and ProfileTop read the webhook's CPU profile at the
	// worst case's maximum rate (none when it could not be taken), taken
	// over ProfileSeconds.
	ProfileParts   []costPart
	ProfileTop     string
	ProfileSeconds string
	// Rounds are the rounds of each maximum-rate step (the worst case's
	// and the GitOps steady state's), the webhooks alternating in each:
	// Steps and GitOps hold the round of the median modeguard/null ratio,
	// MaxRounds and GitOpsRounds every round's throughput by webhook.
	Rounds       int
	MaxRounds    map[string][]float64
	GitOpsRounds map[string][]float64
}

// maxRounds is how many rounds each maximum-rate step runs, the webhooks
// alternating: the machine's speed drifts over seconds (its CPUs are
// shared), and a webhook measured in one stretch of a few seconds can be
// a fifth faster or slower than the same binary a minute later; the round
// of the median ratio compares them over the same stretch.
const maxRounds = 5

// medianRounds runs step for every target, rounds times, alternating, and
// returns the steps of the round where the first target's throughput over
// the null webhook's is the median (all from one round: a ratio compares
// webhooks measured back to back), in targets' order, and every round's
// throughput by target.
func medianRounds(targets []*target, rounds int, step func(t *target) Step) ([]Step, map[string][]float64) {
	all := make([][]Step, rounds)
	tps := map[string][]float64{}
	for r := range rounds {
		for _, t := range targets {
			s := step(t)
			all[r] = append(all[r], s)
			tps[t.name] = append(tps[t.name], s.Throughput)
		}
	}
	null := slices.IndexFunc(targets, func(t *target) bool { return t.name == "null" })
	ratio := func(r int) float64 {
		if null < 0 || all[r][null].Throughput == 0 {
			return all[r][0].Throughput
		}
		return all[r][0].Throughput / all[r][null].Throughput
	}
	order := make([]int, rounds)
	for r := range order {
		order[r] = r
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ratio(a), ratio(b)) })
	return all[order[rounds/2]], tps
}

func (e *E2EResult) max(target string) *Step {
	for i := range e.Steps {
		if s := &e.Steps[i]; s.Target == target && s.Rate == 0 {
			return s
		}
	}
	return nil
}

func (e *E2EResult) step(target string, rate int) *Step {
	for i := range e.Steps {
		if s := &e.Steps[i]; s.Target == target && s.Rate == rate {
			return s
		}
	}
	return nil
}

// seq is the placeholder each request's body carries where it differs from
// the others; it is replaced by a number of the same width.
const seq = "SEQ0000000"

// maxWorkers bounds the load generator's concurrency at a fixed rate.
const maxWorkers = 256

// kind is one request kind of the mix: an AdmissionReview body with seq
// placeholders.
type kind struct {
	name, short, path string
	body              []byte
}

// mix builds the request kinds of the worst case: the ConfigMap of
// examples/mg001-fires (read by a DaemonSet: the node selector fix), the
// DaemonSet of mg002-fires with an annotation that differs per request (a
// new input each time: evaluated), and a Pod of that DaemonSet's rollout
// (name and node differ per request: answered from the result cache, as in
// a rollout); and of the GitOps steady state: the ConfigMap and the
// DaemonSet re-applied as they are, the rollout's Pods, and one request in
// ten a ConfigMap with new text.
func mix(root string) (worst, gitops []kind, err error) {
	read := func(name string) ([]kruntime.Object, error) {
		docs, err := manifest.ReadPaths([]string{filepath.Join(root, "examples", name, "manifest.yaml")}, nil)
		if err != nil {
			return nil, err
		}
		return manifest.Objects(docs), nil
	}
	mg001, err := read("mg001-fires")
	if err != nil {
		return nil, nil, err
	}
	mg002, err := read("mg002-fires")
	if err != nil {
		return nil, nil, err
	}
	var cm *corev1.ConfigMap
	for _, o := range mg001 {
		if v, ok := o.(*corev1.ConfigMap); ok && cm == nil {
			cm = v
		}
	}
	var ds *appsv1.DaemonSet
	for _, o := range mg002 {
		if v, ok := o.(*appsv1.DaemonSet); ok && ds == nil {
			ds = v
		}
	}
	if cm == nil || ds == nil {
		return nil, nil, errors.New("examples: no ConfigMap in mg001-fires or no DaemonSet in mg002-fires")
	}
	cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	ds.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}
	dsv := ds.DeepCopy()
	if dsv.Annotations == nil {
		dsv.Annotations = map[string]string{}
	}
	dsv.Annotations["bench.modeguard.dev/seq"] = seq
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ds.Namespace, Name: ds.Name + "-" + strings.ToLower(seq), GenerateName: ds.Name + "-",
			Labels: ds.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: "ds-uid", Controller: ptr.To(true),
			}},
		},
		Spec: *ds.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-" + seq}}},
		}}},
	}}
	// The GitOps steady state's new ConfigMap: a comment new each time.
	cmNew := cm.DeepCopy()
	for k, v := range cmNew.Data {
		cmNew.Data[k] = "// applied " + seq + "\n" + v
	}
	var kinds []kind
	for _, o := range []struct {
		obj      kruntime.Object
		resource metav1.GroupVersionResource
		label    string
		short    string
	}{
		{cm, metav1.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap (mg001-fires: node selector patch)", ""},
		{dsv, metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet (mg002-fires, an annotation new each time: evaluated)", ""},
		{pod, metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod of that DaemonSet (name and node new each time: a rollout, result cache hit)", ""},
		{ds, metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet (mg002-fires, the same each time: re-applied)", ""},
		{cmNew, metav1.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap (mg001-fires with a comment new each time: a new config)", "ConfigMap-new"},
	} {
		raw, err := json.Marshal(o.obj)
		if err != nil {
			return nil, nil, err
		}
		m := o.obj.(metav1.Object)
		gvk := o.obj.GetObjectKind().GroupVersionKind()
		dry := false
		review := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID:       types.UID("bench-" + seq),
				Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
				Resource:  o.resource,
				Namespace: m.GetNamespace(),
				Name:      m.GetName(),
				Operation: admissionv1.Create,
				UserInfo:  authenticationv1.UserInfo{Username: "bench"},
				Object:    kruntime.RawExtension{Raw: raw},
				DryRun:    &dry,
			},
		}
		body, err := json.Marshal(review)
		if err != nil {
			return nil, nil, err
		}
		// The query names the kind in vegeta's results; the server routes
		// by path only.
		short := gvk.Kind
		if o.short != "" {
			short = o.short
		}
		kinds = append(kinds, kind{name: o.label, short: short, path: admit.MutatePath + "?bench=" + short, body: body})
	}
	worst = kinds[:3]
	// Nine of ten requests re-apply what the cluster has (the ConfigMap, the
	// DaemonSet, a rollout's Pod), one in ten is a new ConfigMap.
	cmSame, dsSame, podNew, cmNewK := kinds[0], kinds[3], kinds[2], kinds[4]
	for range 3 {
		gitops = append(gitops, cmSame, dsSame, podNew)
	}
	gitops = append(gitops, cmNewK)
	return worst, gitops, nil
}

// body is kind k's body for request number n.
func (k kind) bodyFor(n uint64) []byte {
	return bytes.ReplaceAll(k.body, []byte(seq), fmt.Appendf(nil, "%0*d", len(seq), n%1e10))
}

// target is a webhook under test.
type target struct {
	name string
	base string // https://127.0.0.1:port
	pid  int
	opa  bool // OPA's server: the decision at POST /
	// metrics is modeguard's /metrics, read for the memo's hit rate.
	metrics string
}

// url is where t takes requests of kind k.
func (t *target) url(k kind) string {
	if t.opa {
		return t.base + "/?bench=" + k.short
	}
	return t.base + k.path
}

func runE2E(ctx context.Context, o options) (*E2EResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res := &E2EResult{RSSIdle: map[string]int64{}, RSSPeak: map[string]int64{}, MaxConns: 8, K8s: o.k8s}
	kinds, gitops, err := mix(o.root)
	if err != nil {
		return nil, err
	}
	if res.MemoryTarget, err = chartMemoryRequest(o.root); err != nil {
		return nil, err
	}
	for _, k := range gitops {
		if !slices.Contains(res.GitOpsMix, k.name) {
			res.GitOpsMix = append(res.GitOpsMix, k.name)
		}
	}
	for _, k := range kinds {
		res.Mix = append(res.Mix, k.name)
		res.Kinds = append(res.Kinds, k.short)
	}

	nullPort, err := freePort()
	if err != nil {
		return nil, err
	}

	// The control plane and the real webhook binary, served where the
	// control plane's webhook configurations send admission requests (the
	// harness's port and certificates): objects created through the API
	// server are admitted as in a cluster, and the reconciler's
	// re-submissions are fixed.
	began := time.Now()
	logf("end to end: starting a control plane and %s", filepath.Join(o.root, "bin", "modeguard-webhook"))
	c, err := e2e.Start(ctx, e2e.Options{
		Root: o.root, Assets: o.k8s, Webhook: filepath.Join(o.root, "bin", "modeguard-webhook"),
		Log:         os.Stderr,
		WebhookArgs: []string{"--profiling", "--memory-target=" + res.MemoryTarget},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			logf("stopping the control plane: %v", err)
		}
	}()
	// The audit writes openreports.io Reports, as where the chart installs
	// their CRD (reports.installCRDs).
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(o.root, "deploy", "kustomize", "components", "openreports-crd", "openreports.io_reports.yaml")},
		ErrorIfPathMissing: true, MaxTime: time.Minute, PollInterval: 100 * time.Millisecond,
	}); err != nil {
		return nil, fmt.Errorf("installing the Report CRD: %w", err)
	}
	for _, ex := range []string{"mg001-fires", "mg002-fires"} {
		docs, err := manifest.ReadPaths([]string{filepath.Join(o.root, "examples", ex, "manifest.yaml")}, nil)
		if err != nil {
			return nil, err
		}
		if err := c.Create(ctx, manifest.Objects(docs)); err != nil {
			return nil, fmt.Errorf("example %s: %w", ex, err)
		}
	}
	mg := &target{name: "modeguard", base: "https://" + c.WebhookAddr, pid: c.WebhookPID(), metrics: c.MetricsURL}
	// The null webhook and OPA's server serve the same certificate, for
	// "localhost" among others.
	certDir := c.WebhookCertDir
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.WebhookCA) {
		return nil, errors.New("the control plane's webhook CA bundle holds no certificate")
	}

	// The null webhook: this program again, serving "allow" on the same
	// controller-runtime webhook server.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	null := exec.CommandContext(ctx, self, "null-webhook", "--cert-dir="+certDir, fmt.Sprintf("--port=%d", nullPort))
	null.Stdout, null.Stderr = os.Stderr, os.Stderr
	null.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := null.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = null.Process.Signal(syscall.SIGTERM); _ = null.Wait() }()
	nt := &target{name: "null", base: fmt.Sprintf("https://127.0.0.1:%d", nullPort), pid: null.Process.Pid}
	targets := []*target{mg, nt}

	// OPA's server with the equivalent workload rule, when its binary is there.
	if o.opa != "" {
		if _, err := os.Stat(o.opa); err != nil {
			logf("no OPA server (%v): the comparison with OPA is left out", err)
		} else {
			opaPort, err := freePort()
			if err != nil {
				return nil, err
			}
			cmd := exec.CommandContext(ctx, o.opa, "run", "--server", fmt.Sprintf("--addr=127.0.0.1:%d", opaPort),
				"--tls-cert-file="+filepath.Join(certDir, "tls.crt"), "--tls-private-key-file="+filepath.Join(certDir, "tls.key"),
				"--log-level=error", "--skip-version-check", filepath.Join(o.root, "bench", "opa", "policy.rego"))
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
			targets = append(targets, &target{name: "opa", base: fmt.Sprintf("https://127.0.0.1:%d", opaPort), pid: cmd.Process.Pid, opa: true})
			res.OPA = true
		}
	}

	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	// Wait until modeguard's informer cache holds the examples: the
	// ConfigMap's review is patched once the DaemonSet reading it is known.
	for _, t := range targets {
		deadline := time.Now().Add(time.Minute)
		for {
			p, err := probe(ctx, client, t, kinds[0])
			if err == nil && (t.name != "modeguard" || p.Patch) {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s never answered the ConfigMap with a patch (last: %+v, %v)", t.name, p, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	res.Startup = time.Since(began)
	for _, t := range targets {
		res.Targets = append(res.Targets, t.name)
	}
	for _, t := range targets {
		for _, k := range kinds {
			p, err := probe(ctx, client, t, k)
			if err != nil {
				return nil, err
			}
			res.Probes = append(res.Probes, p)
		}
		res.RSSIdle[t.name] = rss(t.pid, "VmRSS")
	}
	client.CloseIdleConnections()

	// Warm up both, then the fixed rates side by side, then the maximum.
	var n atomic.Uint64
	for _, t := range targets {
		attack(ctx, t, kinds, &n, tlsConf, 50, 2*time.Second, res.MaxConns)
	}
	for _, rate := range o.rates {
		for _, t := range targets {
			s := attack(ctx, t, kinds, &n, tlsConf, rate, o.e2eDuration, res.MaxConns)
			logf("%-9s rate %4d/s: %6.0f req/s ok, p50 %v, p99 %v, success %.1f%%", t.name, rate, s.Throughput, s.P50, s.P99, 100*s.Success)
			res.Steps = append(res.Steps, s)
		}
	}
	res.Rounds = maxRounds
	maxSteps, maxTps := medianRounds(targets, maxRounds, func(t *target) Step {
		s := attack(ctx, t, kinds, &n, tlsConf, 0, o.e2eDuration, res.MaxConns)
		logf("%-9s maximum rate: %6.0f req/s ok, p50 %v, p99 %v, success %.1f%%", t.name, s.Throughput, s.P50, s.P99, 100*s.Success)
		return s
	})
	res.Steps, res.MaxRounds = append(res.Steps, maxSteps...), maxTps

	// The GitOps steady state at the maximum rate, side by side.
	for _, t := range targets {
		attack(ctx, t, gitops, &n, tlsConf, 50, time.Second, res.MaxConns)
	}
	res.GitOps, res.GitOpsRounds = medianRounds(targets, maxRounds, func(t *target) Step {
		s := attack(ctx, t, gitops, &n, tlsConf, 0, o.e2eDuration, res.MaxConns)
		logf("%-9s GitOps steady state: %6.0f req/s ok, p50 %v, p99 %v, memo hits %d of %d, result cache hits %d of %d requests", t.name, s.Throughput, s.P50, s.P99, s.MemoHits, s.MemoHits+s.MemoMisses, s.CacheHits, s.Requests)
		return s
	})

	// A DaemonSet rollout: RolloutPods Pods of one template (names and
	// nodes differ) at 200/s.
	res.RolloutPods = 1000
	const rolloutRate = 200
	for _, t := range targets {
		s := attack(ctx, t, kinds[2:3], &n, tlsConf, rolloutRate, time.Duration(res.RolloutPods)*time.Second/rolloutRate, res.MaxConns)
		logf("%-9s rollout of %d Pods: p99 %v, CPU %v", t.name, s.Requests, s.P99, s.CPU)
		res.Rollout = append(res.Rollout, s)
	}
	// The peak resident memory under the load steps above, read before the
	// profiles: the profiler is the bench's instrument (off unless
	// --profiling), and taking and encoding a profile allocates in the
	// webhook.
	for _, t := range targets {
		res.RSSPeak[t.name] = rss(t.pid, "VmHWM")
	}

	// The webhook's own CPU profile at the worst case's maximum rate, in a
	// step of its own (the profiler's cost stays out of the figures
	// above): where a request's time goes with HTTPS, the informers, the
	// logs and the metrics around the handler.
	profiled := make(chan error, 1)
	prof, secs := filepath.Join(o.raw, "webhook.cpu.pprof"), profileSeconds(o.e2eDuration)
	go func() { profiled <- fetchProfile(ctx, c.MetricsURL, fmt.Sprintf("profile?seconds=%d", secs), prof) }()
	attack(ctx, mg, kinds, &n, tlsConf, 0, o.e2eDuration, res.MaxConns)
	// What stays live after the load (a GC first): bin/bench/webhook.heap.pprof.
	if err := fetchProfile(ctx, c.MetricsURL, "heap?gc=1", filepath.Join(o.raw, "webhook.heap.pprof")); err != nil {
		logf("the webhook's heap profile: %v", err)
	}
	if err := <-profiled; err != nil {
		logf("the webhook's CPU profile: %v", err)
	} else if cp, err := readCPUProfile(prof); err != nil {
		logf("the webhook's CPU profile: %v", err)
	} else {
		res.ProfileParts, res.ProfileTop = webhookCost(cp), cp.top(10, false, nil)
		res.ProfileSeconds = fmt.Sprintf("%ds", secs)
		logf("the webhook's CPU at the maximum rate: %s", res.ProfileParts[0].summary())
	}

	// Many objects in the cluster, so in modeguard's informer cache.
	if o.scaleConfigMaps > 0 {
		audited := func() int64 {
			return metricSum(ctx, mg, metrics.EvaluationsTotal, map[string]string{"webhook": "audit"})
		}
		resubmitted := func(result string) int64 {
			return metricSum(ctx, mg, metrics.ResubmissionsTotal, map[string]string{"result": result})
		}
		audited0, resubmitted0, unfixed0 := audited(), resubmitted("resubmitted"), resubmitted("unchanged")
		sc, err := populate(ctx, c.Config, kinds, o.scaleConfigMaps, o.scaleWorkloads, mg.pid)
		if err != nil {
			return nil, fmt.Errorf("populating the cluster: %w", err)
		}
		sc.AuditReviews = audited() - audited0
		sc.Resubmitted, sc.Unfixed = resubmitted("resubmitted")-resubmitted0, resubmitted("unchanged")-unfixed0
		logf("the reconciler re-submitted %d objects (%d came back unfixed)", sc.Resubmitted, sc.Unfixed)
		logf("the audit reviewed %d objects while they were created", sc.AuditReviews)
		sc.Audit, err = auditPass(ctx, c, mg)
		if err != nil {
			logf("audit pass with a full cache: %v", err)
		} else {
			logf("audit pass over %d ConfigMaps and %d workloads: %s, %d findings, RSS %s -> %s", sc.ConfigMaps, sc.Workloads, sc.Audit.Took.Round(time.Millisecond), sc.Audit.Findings, fmtBytes(float64(sc.Audit.RSSBefore)), fmtBytes(float64(sc.Audit.RSSAfter)))
		}
		s := attack(ctx, mg, kinds, &n, tlsConf, 0, o.e2eDuration, res.MaxConns)
		logf("%-9s with %d ConfigMaps and %d workloads cached: max %6.0f req/s, p99 %v, RSS %s", mg.name, sc.ConfigMaps, sc.Workloads, s.Throughput, s.P99, fmtBytes(float64(s.RSS)))
		sc.Load = s
		sc.Peak = rss(mg.pid, "VmHWM")
		res.Scale = sc
		// What stays live with the full cache (a GC first):
		// bin/bench/webhook-scale.heap.pprof.
		if err := fetchProfile(ctx, c.MetricsURL, "heap?gc=1", filepath.Join(o.raw, "webhook-scale.heap.pprof")); err != nil {
			logf("the webhook's heap profile with a full cache: %v", err)
		}
	}
	return res, ctx.Err()
}

// attack fires kinds round-robin at t at rate requests/s (0: as fast as
// workers connections go) for d.
func attack(ctx context.Context, t *target, kinds []kind, n *atomic.Uint64, tlsConf *tls.Config, rate int, d time.Duration, workers int) Step {
	opts := []func(*vegeta.Attacker){
		vegeta.TLSConfig(tlsConf), vegeta.KeepAlive(true), vegeta.HTTP2(false), vegeta.Timeout(10 * time.Second),
		vegeta.Workers(uint64(workers)),
	}
	var pacer vegeta.Pacer = vegeta.Rate{Freq: rate, Per: time.Second}
	if rate == 0 {
		// As fast as workers connections go, each one request at a time.
		opts = append(opts, vegeta.MaxWorkers(uint64(workers)), vegeta.Connections(workers))
	} else {
		// At a fixed rate, more workers when answers lag; every connection
		// they open is kept (no TLS handshake per request).
		opts = append(opts, vegeta.MaxWorkers(maxWorkers), vegeta.Connections(maxWorkers))
	}
	atk := vegeta.NewAttacker(opts...)
	hits0, misses0 := memoCounts(ctx, t)
	cached0 := metricSum(ctx, t, metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit})
	cpu0 := cpuTime(t.pid)
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	targeter := func(tg *vegeta.Target) error {
		i := n.Add(1)
		k := kinds[i%uint64(len(kinds))]
		*tg = vegeta.Target{Method: http.MethodPost, URL: t.url(k), Body: k.bodyFor(i), Header: hdr}
		return nil
	}
	var m vegeta.Metrics
	per := map[string]*vegeta.Metrics{}
	for _, k := range kinds {
		per[t.url(k)] = &vegeta.Metrics{}
	}
	name := fmt.Sprintf("%s@%d", t.name, rate)
	for r := range atk.Attack(targeter, pacer, d, name) {
		m.Add(r)
		if pm := per[r.URL]; pm != nil {
			pm.Add(r)
		}
		if ctx.Err() != nil {
			atk.Stop()
		}
	}
	m.Close()
	cpu := cpuTime(t.pid) - cpu0
	hits, misses := memoCounts(ctx, t)
	cached := metricSum(ctx, t, metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipCacheHit})
	s := Step{CPU: cpu, MemoHits: hits - hits0, MemoMisses: misses - misses0, CacheHits: cached - cached0, Target: t.name, Rate: rate, Workers: workers, Duration: d, Requests: m.Requests, Throughput: m.Throughput, Success: m.Success,
		P50: m.Latencies.P50, P99: m.Latencies.P99, Max: m.Latencies.Max, RSS: rss(t.pid, "VmRSS")}
	s.PerKind = map[string]KindStat{}
	for _, k := range kinds {
		pm := per[t.url(k)]
		pm.Close()
		s.PerKind[k.short] = KindStat{Requests: pm.Requests, P50: pm.Latencies.P50, P99: pm.Latencies.P99}
	}
	for i, e := range m.Errors {
		if i == 3 {
			s.Errors = append(s.Errors, fmt.Sprintf("… %d kinds of error in all", len(m.Errors)))
			break
		}
		s.Errors = append(s.Errors, e)
	}
	return s
}

// probe sends one request of k to t and reads the answer.
func probe(ctx context.Context, client *http.Client, t *target, k kind) (Probe, error) {
	p := Probe{Target: t.name, Kind: k.name}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(k), bytes.NewReader(k.bodyFor(1)))
	if err != nil {
		return p, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return p, err
	}
	if resp.StatusCode != http.StatusOK {
		return p, fmt.Errorf("%s: HTTP %d: %s", t.name, resp.StatusCode, data)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil || review.Response == nil {
		return p, fmt.Errorf("%s: not an AdmissionReview response: %v", t.name, err)
	}
	r := review.Response
	p.Allowed, p.Patch, p.Warnings = r.Allowed, len(r.Patch) > 0, len(r.Warnings)
	if r.Result != nil {
		p.Message = r.Result.Message
	}
	return p, nil
}

// chartMemoryRequest is the Helm chart's default memory request
// (resources.requests.memory in its values.yaml), which the chart passes to
// the webhook as --memory-target.
func chartMemoryRequest(root string) (string, error) {
	file := filepath.Join(root, "deploy", "helm", "modeguard", "values.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var v struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	q, ok := v.Resources.Requests[corev1.ResourceMemory]
	if !ok {
		return "", fmt.Errorf("%s: no resources.requests.memory", file)
	}
	return q.String(), nil
}

func freePort() (int, error) { return freeport.Loopback() }

// profileSeconds is how long a profile taken during a load step of d
// lasts: its whole seconds but the last (the step's start and end are
// outside), at least one.
func profileSeconds(d time.Duration) int { return max(1, int(d/time.Second)-1) }

// fetchProfile writes the profile that the webhook's --profiling serves
// beside metricsURL (its /metrics) under /debug/pprof/ as name (with its
// query) to path.
func fetchProfile(ctx context.Context, metricsURL, name, path string) error {
	url := strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	return os.WriteFile(path, body, 0o644)
}

// rss reads a memory field (VmRSS, VmHWM) of pid in bytes (0: unknown).
func rss(pid int, field string) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is pid's CPU time so far, user and system (0: unknown).
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses: state is the first,
	// utime the 12th and stime the 13th, in clock ticks (USER_HZ, 100 on
	// Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// Scale is what populate did and what modeguard's memory then was.
type Scale struct {
	ConfigMaps, Workloads int
	Took                  time.Duration
	RSSBefore, RSSSynced  int64
	SettleTook            time.Duration
	// AuditReviews are the audit's reviews while the objects were created
	// and the cache settled (modeguard_evaluations_total{webhook="audit"}):
	// each change audits its namespace again, at most busyShare of a CPU.
	AuditReviews int64
	// Resubmitted and Unfixed are the reconciler's re-submissions by then
	// (modeguard_resubmissions_total): resubmitted, and unchanged (a fix
	// the mutating webhook did not apply).
	Resubmitted, Unfixed int64
	Load                 Step  // the maximum rate, then
	Peak                 int64 // VmHWM after that
	// Audit is the full audit pass a policy reload started once the
	// objects were cached (nil when it did not complete).
	Audit *AuditPass
}

// AuditPass is one complete audit pass of the whole cluster, as the
// webhook's metrics report it, and the resident set around it.
type AuditPass struct {
	Took                time.Duration // modeguard_audit_pass_duration_seconds
	Findings            int           // modeguard_audit_findings summed
	RSSBefore, RSSAfter int64         // VmRSS before the reload, after the pass
	Peak                int64         // VmHWM after the pass
}

// populate creates configMaps ConfigMaps holding the mix's config and
// workloads DaemonSets of the agent reading them, in namespace bench-scale,
// then waits for modeguard's resident set to settle (its informers caching
// them).
func populate(ctx context.Context, admin *rest.Config, kinds []kind, configMaps, workloads int, pid int) (*Scale, error) {
	sc := &Scale{RSSBefore: rss(pid, "VmRSS")}
	began := time.Now()
	cfg := rest.CopyConfig(admin)
	cfg.QPS, cfg.Burst = 2000, 4000
	cl, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	// The mix's ConfigMap and DaemonSet, from their review bodies.
	var review struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	var cm corev1.ConfigMap
	var ds appsv1.DaemonSet
	if err := json.Unmarshal(kinds[0].bodyFor(0), &review); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(review.Request.Object, &cm); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(kinds[1].bodyFor(0), &review); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(review.Request.Object, &ds); err != nil {
		return nil, err
	}
	const ns = "bench-scale"
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return nil, err
	}
	objs := make(chan client.Object, 64)
	go func() {
		defer close(objs)
		for i := range configMaps {
			o := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("alloy-%05d", i), Labels: cm.Labels}, Data: cm.Data}
			select {
			case objs <- o:
			case <-ctx.Done():
				return
			}
		}
		for i := range workloads {
			d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("alloy-%04d", i), Labels: ds.Labels}, Spec: *ds.Spec.DeepCopy()}
			for j := range d.Spec.Template.Spec.Volumes {
				if v := &d.Spec.Template.Spec.Volumes[j]; v.ConfigMap != nil {
					v.ConfigMap.Name = fmt.Sprintf("alloy-%05d", i*configMaps/max(workloads, 1))
				}
			}
			select {
			case objs <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	var created, failed atomic.Int64
	var firstErr atomic.Value
	done := make(chan struct{})
	const workers = 16
	var running atomic.Int32
	running.Store(workers)
	for range workers {
		go func() {
			defer func() {
				if running.Add(-1) == 0 {
					close(done)
				}
			}()
			for o := range objs {
				if err := cl.Create(ctx, o); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				created.Add(1)
			}
		}()
	}
	<-done
	if err, _ := firstErr.Load().(error); err != nil && failed.Load() > int64(configMaps+workloads)/100 {
		return nil, fmt.Errorf("%d creations failed, the first: %w", failed.Load(), err)
	}
	sc.ConfigMaps, sc.Workloads = configMaps, workloads
	sc.Took = time.Since(began)
	logf("created %d objects in %s (%d failed)", created.Load(), sc.Took.Round(time.Millisecond), failed.Load())
	// Settled: the resident set moved by less than 1 MiB over 3 s.
	settle := time.Now()
	last, stable := rss(pid, "VmRSS"), 0
	for stable < 3 && time.Since(settle) < time.Minute && ctx.Err() == nil {
		time.Sleep(time.Second)
		cur := rss(pid, "VmRSS")
		if d := cur - last; d < 1<<20 && d > -(1<<20) {
			stable++
		} else {
			stable = 0
		}
		last = cur
	}
	sc.RSSSynced, sc.SettleTook = last, time.Since(settle)
	return sc, ctx.Err()
}

// auditPass starts a full audit pass the way a policy change does (a
// policy file written to the webhook's --policy-dir: its reload audits every
// namespace again) and waits for the pass to complete, reading its duration
// and findings from the webhook's metrics.
func auditPass(ctx context.Context, c *e2e.Cluster, mg *target) (*AuditPass, error) {
	ap := &AuditPass{RSSBefore: rss(mg.pid, "VmRSS")}
	began := time.Now()
	const rule = "# METADATA\n# title: Bench no-op\n# description: Finds nothing; make bench writes it to start a full audit pass.\n# custom:\n#   id: BENCH001\n#   action: warn\n#   appliesTo: [ConfigMap]\npackage modeguard.rules.bench_noop\n\nviolations contains {\"msg\": \"never\"} if {\n\tinput.never_set_by_modeguard\n}\n"
	if err := os.MkdirAll(c.PolicyDir(), 0o755); err != nil {
		return nil, err
	}
	file := filepath.Join(c.PolicyDir(), "bench-noop.rego")
	if err := os.WriteFile(file, []byte(rule), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(file)
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f, err := scrape(ctx, mg.metrics)
		if err != nil {
			continue
		}
		if last := f.Sum(metrics.AuditLastPassSeconds, nil); last >= float64(began.UnixNano())/1e9 {
			ap.Took = time.Duration(f.Sum(metrics.AuditPassDuration, nil) * float64(time.Second))
			ap.Findings = int(f.Sum(metrics.AuditFindings, nil))
			ap.RSSAfter, ap.Peak = rss(mg.pid, "VmRSS"), rss(mg.pid, "VmHWM")
			return ap, nil
		}
	}
	return nil, fmt.Errorf("no complete audit pass within 5 minutes of the policy reload")
}

// scrape reads a /metrics page.
func scrape(ctx context.Context, url string) (metricstest.Families, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return metricstest.Families{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metricstest.Families{}, err
	}
	defer resp.Body.Close()
	return metricstest.Parse(resp.Body)
}
