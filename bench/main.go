// Command bench is what `make bench` runs: the in-process benchmarks
// (summarized with benchstat when it is available, else a median table of
// its own), a CPU profile of the whole admission handler, and an end-to-end
// load test over HTTPS on loopback against the real webhook binary and a null
// webhook. It writes docs/benchmarks.md and the latency plot next to it;
// nothing in them is typed by hand.
//
//	go run ./bench [-out docs/benchmarks.md] [-count 6] [-benchstat bin/benchstat] [-e2e=false]
//
// `bench null-webhook --cert-dir D --port P` serves the null webhook (every
// request allowed) on the same controller-runtime webhook server and TLS
// stack the real one uses.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/modeguard/modeguard/test/e2e"
)

// benchPackages and benchRegexp select the in-process benchmarks: facts
// (parsing a config), decision, fix+patch and the whole handler.
var (
	benchPackages = []string{"./riverconfig", "./policy", "./mutate", "./webhook/admit"}
	benchRegexp   = "^(BenchmarkParseSmall|BenchmarkParseLarge|BenchmarkDecision|BenchmarkConfigFix|BenchmarkPatch|BenchmarkHandler)$"
	// profileBench is the handler benchmark profiled (in profilePackage): a
	// typical ConfigMap.
	profileBench   = "^BenchmarkHandler$/^mutate/ConfigMap$"
	profilePackage = "./webhook/admit"
)

type options struct {
	root, out, raw, benchstat, gobin string
	opa                              string
	k8s                              string // kube-apiserver and etcd
	count                            int
	benchtime                        string
	e2e                              bool
	e2eDuration                      time.Duration
	scaleConfigMaps, scaleWorkloads  int
	rates                            []int
	// buildTook is how long make bench spent building before running this
	// command (hack/bench/prepare.sh); 0 when not given.
	buildTook time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "null-webhook" {
		os.Exit(runNull(os.Args[2:]))
	}
	// controller-runtime's client (through test/e2e) logs nothing here.
	ctrllog.SetLogger(logr.Discard())
	var o options
	var rates string
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "Report to write (the plot goes next to it).")
	flag.StringVar(&o.raw, "raw", "bin/bench", "Directory for raw outputs (benchmark text, profiles).")
	flag.StringVar(&o.benchstat, "benchstat", "bin/benchstat", "benchstat binary; when missing, a median table is computed instead.")
	flag.StringVar(&o.gobin, "go", "go", "The go command.")
	flag.StringVar(&o.opa, "opa", "bin/opa", "OPA binary for the end-to-end comparison (opa run --server with bench/opa/policy.rego); when missing, left out.")
	flag.StringVar(&o.k8s, "k8s", "bin/k8s", "Directory of kube-apiserver and etcd (make bench passes the one hack/bench/prepare.sh chose).")
	flag.IntVar(&o.count, "count", 6, "Runs of each in-process benchmark (-count).")
	flag.StringVar(&o.benchtime, "benchtime", "300ms", "go test -benchtime (6 runs of 300ms: enough for benchstat's confidence intervals, short enough for make bench's 15 minutes).")
	flag.BoolVar(&o.e2e, "e2e", true, "Run the end-to-end load test (needs bin/k8s and bin/modeguard-webhook).")
	flag.DurationVar(&o.e2eDuration, "e2e-duration", 4*time.Second, "Duration of each end-to-end load step.")
	flag.IntVar(&o.scaleConfigMaps, "scale-configmaps", 10000, "ConfigMaps created for the memory measurement with a full cache (0: none).")
	flag.IntVar(&o.scaleWorkloads, "scale-workloads", 1000, "Agent DaemonSets created with them.")
	flag.DurationVar(&o.buildTook, "build-took", 0, "How long the build before this run took (make bench passes hack/bench/prepare.sh's time), for the report.")
	flag.StringVar(&rates, "rates", "100,200,400", "Fixed request rates (req/s) of the end-to-end steps.")
	flag.Parse()
	var err error
	if o.rates, err = parseRates(rates); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseRates(s string) ([]int, error) {
	var rs []int
	for _, f := range strings.Split(s, ",") {
		var r int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &r); err != nil || r <= 0 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	root, err := e2e.FindRoot()
	if err != nil {
		return err
	}
	o.root = root
	if !filepath.IsAbs(o.raw) {
		o.raw = filepath.Join(root, o.raw)
	}
	if !filepath.IsAbs(o.benchstat) && strings.ContainsRune(o.benchstat, filepath.Separator) {
		o.benchstat = filepath.Join(root, o.benchstat)
	}
	if !filepath.IsAbs(o.k8s) {
		o.k8s = filepath.Join(root, o.k8s)
	}
	if o.opa != "" && !filepath.IsAbs(o.opa) {
		o.opa = filepath.Join(root, o.opa)
	}
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(root, o.out)
	}
	// Both directories now, not after minutes of measuring.
	for _, d := range []string{o.raw, filepath.Dir(o.out)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	r := &report{Machine: machine(ctx, o.gobin), Count: o.count, Benchtime: o.benchtime, BuildTook: o.buildTook}

	// 1. In-process benchmarks, from test binaries built first (go test -c,
	// which make bench's prepare step has done already: then it only checks
	// them), run one package after another: nothing is compiled or linked
	// while a benchmark runs.
	tests := filepath.Join(o.raw, "tests")
	if out, err := goCmd(ctx, o, io.Discard, append([]string{"test", "-c", "-o", tests + string(filepath.Separator)}, benchPackages...)...); err != nil {
		return fmt.Errorf("building the benchmarks' test binaries: %w\n%s", err, out)
	}
	logf("in-process benchmarks: -count=%d -benchtime=%s %s", o.count, o.benchtime, strings.Join(benchPackages, " "))
	t := time.Now()
	var out []byte
	for _, pkg := range benchPackages {
		b, err := testCmd(ctx, o, tests, pkg, "-test.run=^$", "-test.bench="+benchRegexp, "-test.benchmem",
			fmt.Sprintf("-test.count=%d", o.count), "-test.benchtime="+o.benchtime)
		if err != nil {
			return fmt.Errorf("benchmarks of %s: %w\n%s", pkg, err, b)
		}
		out = append(out, b...)
	}
	inproc := filepath.Join(o.raw, "inprocess.txt")
	if err := os.WriteFile(inproc, out, 0o644); err != nil {
		return err
	}
	r.InProcessTook = time.Since(t)
	r.Benchmarks = parseBench(out)
	bsCmd := exec.CommandContext(ctx, o.benchstat, filepath.Base(inproc))
	bsCmd.Dir = o.raw
	if bs, err := bsCmd.CombinedOutput(); err == nil {
		r.Benchstat = string(bs)
	} else {
		logf("benchstat unavailable (%v): median table only", err)
	}

	// 2. CPU profile of the handler on a typical ConfigMap.
	logf("profiling %s", profileBench)
	prof := filepath.Join(o.raw, "handler.cpu.pprof")
	if out, err := testCmd(ctx, o, tests, profilePackage, "-test.run=^$", "-test.bench="+profileBench, "-test.benchtime=3s", "-test.count=1",
		"-test.cpuprofile="+prof); err != nil {
		return fmt.Errorf("profiling: %w\n%s", err, out)
	}
	cp, err := readCPUProfile(prof)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	r.ProfileFlat = cp.top(10, false, nil)
	r.ProfileCum = cp.top(15, true, regexp.MustCompile("modeguard|open-policy-agent|controller-runtime|encoding/json|apimachinery"))
	r.CostParts, r.GC, r.Cost = biggestCost(cp)

	// 3. End to end.
	if o.e2e {
		t := time.Now()
		res, err := runE2E(ctx, o)
		if err != nil {
			return fmt.Errorf("end to end: %w", err)
		}
		r.E2E = res
		r.E2ETook = time.Since(t)
		plot := strings.TrimSuffix(o.out, filepath.Ext(o.out)) + "-latency.svg"
		if err := os.WriteFile(plot, plotSVG(res), 0o644); err != nil {
			return err
		}
		r.Plot = filepath.Base(plot)
	}

	r.Took = time.Since(began)
	r.Machine.LoadEnd = loadavg()
	var b bytes.Buffer
	r.write(&b)
	if err := os.WriteFile(o.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", o.out, r.Took.Round(time.Second))
	return nil
}

// testCmd runs the test binary of pkg (built into dir by go test -c) in
// the package's directory, as go test would, and returns its output.
func testCmd(ctx context.Context, o options, dir, pkg string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(dir, filepath.Base(pkg)+".test"), args...)
	cmd.Dir = filepath.Join(o.root, pkg)
	return cmd.CombinedOutput()
}

// goCmd runs the go command in the repository root and returns its combined
// output (progress is echoed to progress).
func goCmd(ctx context.Context, o options, progress io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, o.gobin, args...)
	cmd.Dir = o.root
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, progress)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	return buf.Bytes(), err
}

// costPart is a part of the handler's work, found in a profile by function.
type costPart struct {
	Name  string
	Match func(fn string) bool
	// Unless leaves out the samples it matches too (nil: none).
	Unless func(fn string) bool
	Share  float64 // % of the CPU time of the whole it is a part of
}

func fnIs(names ...string) func(string) bool {
	return func(fn string) bool {
		for _, n := range names {
			if fn == n {
				return true
			}
		}
		return false
	}
}

// isOPA is a function of OPA's evaluator.
func isOPA(fn string) bool {
	return strings.Contains(fn, "open-policy-agent/opa/v1/topdown.") || strings.Contains(fn, "open-policy-agent/opa/v1/rego.")
}

// handlerParts are the parts reported, the first one enclosing the next two.
func handlerParts() []costPart {
	const mg = "github.com/modeguard/modeguard/"
	convert := fnIs(mg+"policy.ToValue", mg+"policy.toAST", mg+"policy.(*FileCache).inputValue")
	evaluate := fnIs(mg+"policy.(*Engine).Evaluate", mg+"policy.(*Engine).EvaluateValue")
	return []costPart{
		{Name: "policy evaluation (`policy.(*Engine).Evaluate`), of which:", Match: func(fn string) bool { return evaluate(fn) || isOPA(fn) || convert(fn) }},
		{Name: "— OPA's query evaluation (`rego`, `topdown`)", Match: isOPA},
		{Name: "— converting the input to Rego values (`policy.ToValue`, through the file cache)", Match: convert},
		{Name: "facts: parsing the config (`riverconfig.Parse`)", Match: fnIs(mg + "riverconfig.Parse")},
		{Name: "the fix (`mutate.ConfigMap`)", Match: fnIs(mg+"mutate.ConfigMap", mg+"mutate.Fixer.ConfigMap")},
		{Name: "the JSON patch (`admit.createPatch`)", Match: fnIs(mg + "webhook/admit.createPatch")},
		{Name: "JSON encoding and decoding (`encoding/json`)", Match: fnIs("encoding/json.Unmarshal", "encoding/json.Marshal")},
		{Name: "allocation (`runtime.mallocgc`, inside the above)", Match: fnIs("runtime.mallocgc")},
	}
}

// webhookCost is where the webhook process's CPU goes under load: each
// part's share of all its samples, a part counted wherever it is on a
// stack.
func webhookCost(p *cpuProfile) []costPart {
	const mg = "github.com/modeguard/modeguard/"
	prefix := func(ps ...string) func(string) bool {
		return func(fn string) bool {
			for _, x := range ps {
				if strings.HasPrefix(fn, x) {
					return true
				}
			}
			return false
		}
	}
	handler := func(fn string) bool { return fn == mg+"webhook/admit.(*Handler).Handle" || isOPA(fn) }
	parts := []costPart{
		{Name: "the admission handler (`admit.(*Handler).Handle`) and OPA's evaluation (`rego`, `topdown`: Go keeps 64 frames, so OPA's deep stacks lose the handler's)", Match: handler},
		{Name: "— OPA's query evaluation", Match: isOPA},
		{Name: "— the input converted to Rego values and hashed for the memo and the result cache", Match: fnIs(mg+"policy.(*FileCache).inputValue", mg+"policy.ToValue", mg+"policy.(*Engine).memoKeyOf", mg+"webhook/admit.(*Core).Key")},
		{Name: "— the object decoded (`admit.Decode`)", Match: fnIs(mg + "webhook/admit.Decode")},
		{Name: "the AdmissionReview read and written (controller-runtime's `admission.(*Webhook).ServeHTTP`, less the handler)",
			Match: fnIs("sigs.k8s.io/controller-runtime/pkg/webhook/admission.(*Webhook).ServeHTTP"), Unless: handler},
		{Name: "TLS (`crypto/tls`)", Match: prefix("crypto/tls.")},
		{Name: "logs (`log/slog`, logr)", Match: prefix("log/slog.", "github.com/go-logr/")},
		{Name: "Prometheus metrics", Match: prefix("github.com/prometheus/")},
		{Name: "the informers and the API server's watch (client-go)", Match: prefix("k8s.io/client-go/")},
		{Name: "the garbage collector (background marking and assists)", Match: fnIs("runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge")},
		{Name: "allocation (`runtime.mallocgc`, inside the above)", Match: fnIs("runtime.mallocgc")},
	}
	for i := range parts {
		parts[i].Share = 100 * float64(p.where(parts[i].Match, parts[i].Unless)) / float64(max(p.total, 1))
	}
	return parts
}

// summary is "name: N%", the part's name up to its first parenthesis.
func (c costPart) summary() string {
	name, _, _ := strings.Cut(c.Name, " (")
	return fmt.Sprintf("%s %.0f%%", name, c.Share)
}

// background is the runtime's work beside the benchmark's goroutine.
var background = fnIs("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge")

// biggestCost names where the handler's CPU goes: each part's share of the
// handler's time (every sample but the runtime's background work: the
// benchmark's goroutine does nothing but call the handler), a part counted
// wherever it is on a stack, and the garbage collector's background
// marking's share of the whole profile.
func biggestCost(p *cpuProfile) (parts []costPart, gc float64, sentence string) {
	handler := p.total - p.where(background, nil)
	if handler <= 0 {
		return nil, 0, ""
	}
	for _, part := range handlerParts() {
		part.Share = 100 * float64(p.where(part.Match, background)) / float64(handler)
		parts = append(parts, part)
	}
	gc = 100 * float64(p.where(fnIs("runtime.gcBgMarkWorker"), nil)) / float64(p.total)
	top := parts[0]
	for _, part := range parts[3 : len(parts)-1] {
		if part.Share > top.Share {
			top = part
		}
	}
	sentence = fmt.Sprintf("The biggest cost per request is **%s: %.0f%% of the handler's CPU time**", strings.TrimSuffix(top.Name, ", of which:"), top.Share)
	if top.Name == parts[0].Name {
		sentence += fmt.Sprintf(" (OPA's query evaluation %.0f%%, converting the input to Rego values %.0f%%)", parts[1].Share, parts[2].Share)
	}
	sentence += fmt.Sprintf("; allocation is %.0f%% of the handler's time, and the garbage collector's background marking adds %.0f%% of the whole profile on other threads.", parts[len(parts)-1].Share, gc)
	return parts, gc, sentence
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs      int
	CPUModel  string
	GoVersion string
	Date      time.Time
	Commit    string
	// LoadStart and LoadEnd are /proc/loadavg's 1-minute figure when the
	// run began and ended: other work on the machine shows there.
	LoadStart, LoadEnd string
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b) + " unknown")[0]
}

func machine(ctx context.Context, gobin string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", GoVersion: runtime.Version(), Date: time.Now().UTC(), LoadStart: loadavg()}
	if out, err := exec.CommandContext(ctx, "nproc").Output(); err == nil {
		fmt.Sscan(string(out), &m.CPUs)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.CommandContext(ctx, gobin, "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.Commit += " (with uncommitted changes)"
		}
	}
	return m
}
