// Command bench is what `make bench` runs: the in-process benchmarks
// (summarized with benchstat when it is available, else a median table of
// its own), a CPU profile of the whole admission handler, and an end-to-end
// load test over HTTPS on loopback against the real webhook binary and a null
// webhook. It writes docs/benchmarks.md and the latency plot next to it;
// nothing in them is typed by hand.
//
//	go run ./bench [-out docs/benchmarks.md] [-count 5] [-benchstat bin/benchstat] [-e2e=false]
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
	"runtime"
	"strings"
	"time"
)

// benchPackages and benchRegexp select the in-process benchmarks: facts
// (parsing a config), decision, fix+patch and the whole handler.
var (
	benchPackages = []string{"./riverconfig", "./policy", "./mutate"}
	benchRegexp   = "^(BenchmarkParseSmall|BenchmarkParseLarge|BenchmarkDecision|BenchmarkConfigFix|BenchmarkPatch|BenchmarkHandler)$"
	// profileBench is the handler benchmark profiled: a typical ConfigMap.
	profileBench = "^BenchmarkHandler$/^mutate/ConfigMap$"
)

type options struct {
	root, out, raw, benchstat, gobin string
	count                            int
	benchtime                        string
	e2e                              bool
	e2eDuration                      time.Duration
	rates                            []int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "null-webhook" {
		os.Exit(runNull(os.Args[2:]))
	}
	var o options
	var rates string
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "Report to write (the plot goes next to it).")
	flag.StringVar(&o.raw, "raw", "bin/bench", "Directory for raw outputs (benchmark text, profiles).")
	flag.StringVar(&o.benchstat, "benchstat", "bin/benchstat", "benchstat binary; when missing, a median table is computed instead.")
	flag.StringVar(&o.gobin, "go", "go", "The go command.")
	flag.IntVar(&o.count, "count", 5, "Runs of each in-process benchmark (-count).")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime.")
	flag.BoolVar(&o.e2e, "e2e", true, "Run the end-to-end load test (needs bin/k8s and bin/modeguard-webhook).")
	flag.DurationVar(&o.e2eDuration, "e2e-duration", 5*time.Second, "Duration of each end-to-end load step.")
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
	root, err := findRoot()
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
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(root, o.out)
	}
	if err := os.MkdirAll(o.raw, 0o755); err != nil {
		return err
	}
	r := &report{Machine: machine(ctx, o.gobin), Count: o.count, Benchtime: o.benchtime}

	// 1. In-process benchmarks.
	logf("in-process benchmarks: -count=%d -benchtime=%s %s", o.count, o.benchtime, strings.Join(benchPackages, " "))
	t := time.Now()
	args := append([]string{"test", "-run=^$", "-bench=" + benchRegexp, "-benchmem", fmt.Sprintf("-count=%d", o.count), "-benchtime=" + o.benchtime}, benchPackages...)
	out, err := goCmd(ctx, o, io.Discard, args...)
	if err != nil {
		return fmt.Errorf("go test -bench: %w\n%s", err, out)
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
	testBin := filepath.Join(o.raw, "mutate.test")
	if out, err := goCmd(ctx, o, io.Discard, "test", "-run=^$", "-bench="+profileBench, "-benchtime=3s", "-count=1",
		"-cpuprofile="+prof, "-o="+testBin, "./mutate"); err != nil {
		return fmt.Errorf("profiling: %w\n%s", err, out)
	}
	for _, v := range []struct {
		dst  *string
		args []string
	}{
		{&r.ProfileFlat, []string{"-top", "-nodecount=10"}},
		{&r.ProfileCum, []string{"-top", "-cum", "-nodecount=15", "-show=modeguard|open-policy-agent|controller-runtime|encoding/json|apimachinery"}},
	} {
		out, err := goCmd(ctx, o, io.Discard, append(append([]string{"tool", "pprof"}, v.args...), testBin, prof)...)
		if err != nil {
			return fmt.Errorf("pprof: %w\n%s", err, out)
		}
		*v.dst = trimPprof(string(out))
	}

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
	var b bytes.Buffer
	r.write(&b)
	if err := os.WriteFile(o.out, b.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", o.out, r.Took.Round(time.Second))
	return nil
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

// trimPprof drops pprof's header lines up to the table.
func trimPprof(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return s
}

func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs      int
	CPUModel  string
	GoVersion string
	Date      time.Time
	Commit    string
}

func machine(ctx context.Context, gobin string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", GoVersion: runtime.Version(), Date: time.Now().UTC()}
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
