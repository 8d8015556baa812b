package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// deniedBuiltins may not be called by any policy: they reach the network or
// leak the process environment.
var deniedBuiltins = map[string]bool{
	"http.send":          true,
	"net.lookup_ip_addr": true,
	"opa.runtime":        true,
}

// Capabilities are OPA's, less the network and environment builtins.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	kept := c.Builtins[:0]
	for _, b := range c.Builtins {
		if !deniedBuiltins[b.Name] {
			kept = append(kept, b)
		}
	}
	c.Builtins = kept
	c.AllowNet = []string{}
	return c
}

// Options configure an Engine.
type Options struct {
	// PolicyDir holds custom .rego files; "" for built-ins only.
	PolicyDir string
	// Settings tune actions; nil means defaults.
	Settings *Settings
	// FileCacheEntries and FileCacheBytes bound the engine's FileCache
	// (see ParseConfig): 0 for DefaultFileCacheEntries and
	// DefaultFileCacheBytes; a negative FileCacheEntries for no cache.
	FileCacheEntries int
	FileCacheBytes   int64
	// MemoEntries and MemoBytes bound the engine's Memo of evaluations: 0
	// for DefaultMemoEntries and DefaultMemoBytes; a negative MemoEntries
	// for no memo.
	MemoEntries int
	MemoBytes   int64
	// RegoOnly evaluates the built-in rules through OPA too, not their Go
	// forms (nativeRules).
	RegoOnly bool
	// CrossCheck evaluates every input both ways, the built-in rules in
	// Go and the whole policy through OPA, and fails the evaluation
	// (ErrEvaluation) when the violations differ: a check for tests.
	CrossCheck bool
}

// Engine evaluates the rule catalog: the built-in packages in Go where no
// custom module replaces them (nativeRules), the others through OPA. It
// compiles once per (re)load and prepares its queries (compiled); Evaluate
// is safe for concurrent use.
type Engine struct {
	settings  *Settings
	policyDir string
	files     *FileCache // nil: no cache
	memo      *Memo      // nil: no memo
	regoOnly  bool
	cross     bool

	mu  sync.RWMutex
	cur *compiled
}

type compiled struct {
	// byMode are the queries for an input of each of queryModes and of any
	// other mode (modeOther): entryQuery's array in catalog.list's order,
	// with the packages that cannot fire in that mode (packageModes) as
	// empty sets, not evaluated. Those evaluated in Go (native) are empty
	// sets too; a mode whose every package is skipped or native has no
	// query.
	byMode map[string]rego.PreparedEvalQuery
	// whole are the queries of every package, native or not
	// (EvaluateValue, CrossCheck; wholeQuery). When every mode runs in Go,
	// nothing else needs OPA's compiler: whole is then prepared on first
	// use by prepareWhole, which compiles the policy again (the built-in
	// modules parsed afresh, the custom ones kept), so that the engine
	// holds neither parsed modules nor a compiler in the meantime.
	whole        map[string]rego.PreparedEvalQuery
	wholeOnce    sync.Once
	wholeErr     error
	prepareWhole func() (map[string]rego.PreparedEvalQuery, error)
	// skip are the packages that cannot fire in each mode.
	skip map[string]map[string]bool
	// native are the packages evaluated in Go.
	native  map[string]nativeRule
	catalog *catalog
	version string
	loaded  time.Time
	// nondeterministic are the builtins of the policy whose results may
	// differ for one input: when there are any, nothing is memoized.
	nondeterministic []string
}

// New compiles the built-in rules and the custom ones in opts.PolicyDir.
func New(ctx context.Context, opts Options) (*Engine, error) {
	s := opts.Settings
	if s == nil {
		s = &Settings{}
	}
	e := &Engine{settings: s, policyDir: opts.PolicyDir, regoOnly: opts.RegoOnly, cross: opts.CrossCheck}
	if opts.FileCacheEntries >= 0 {
		e.files = NewFileCache(opts.FileCacheEntries, opts.FileCacheBytes)
	}
	if opts.MemoEntries >= 0 {
		e.memo = NewMemo(opts.MemoEntries, opts.MemoBytes)
	}
	c, err := e.compile(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkRuleIDs(func(id string) bool { return c.catalog.byID[id] != nil }); err != nil {
		return nil, err
	}
	e.cur = c
	return e, nil
}

// Reload re-reads the custom policy directory. If it does not compile, the
// last good policy stays in force and the error says why (file:line).
func (e *Engine) Reload(ctx context.Context) error {
	c, err := e.compile(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.cur = c
	e.mu.Unlock()
	return nil
}

// Version identifies the policy in force (a hash of every module and the
// settings); it changes whenever a decision could.
func (e *Engine) Version() string { return e.current().version }

// LoadedAt is when the policy in force was compiled.
func (e *Engine) LoadedAt() time.Time { return e.current().loaded }

// Settings returns the settings in force.
func (e *Engine) Settings() *Settings { return e.settings }

// Rules lists the rules in force, sorted by id.
func (e *Engine) Rules() []*Rule { return e.current().catalog.list }

// Rule returns the rule with that id.
func (e *Engine) Rule(id string) (*Rule, bool) {
	r, ok := e.current().catalog.byID[id]
	return r, ok
}

func (e *Engine) current() *compiled {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cur
}

func (e *Engine) compile(ctx context.Context) (*compiled, error) {
	builtin, err := builtinSources(false)
	if err != nil {
		return nil, err
	}
	custom, err := customSources(e.policyDir)
	if err != nil {
		return nil, err
	}
	srcs := merge(builtin, custom)
	cat, modules, compiler, err := compilePolicy(srcs)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, modules[n].String())
	}
	sj, _ := json.Marshal(e.settings)
	h.Write(sj)

	prepare := func(ctx context.Context, compiler *ast.Compiler, query string) (rego.PreparedEvalQuery, error) {
		pq, err := rego.New(
			rego.Compiler(compiler),
			rego.Query(query),
			rego.StrictBuiltinErrors(false),
			// The result as OPA's term: EvaluateValue decodes the violations
			// from it, without a Go value tree in between.
			rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
		).PrepareForEval(ctx)
		if err != nil {
			return pq, fmt.Errorf("preparing policy query: %w", err)
		}
		return pq, nil
	}
	c := &compiled{byMode: map[string]rego.PreparedEvalQuery{}, whole: map[string]rego.PreparedEvalQuery{},
		skip: map[string]map[string]bool{}, native: map[string]nativeRule{}, catalog: cat,
		version: hex.EncodeToString(h.Sum(nil))[:16], loaded: time.Now(), nondeterministic: nondeterministic(compiler)}
	if !e.regoOnly {
		c.native = nativeEligible(srcs, cat)
	}
	pkgs := make([]string, len(cat.list))
	for i, r := range cat.list {
		pkgs[i] = r.Package
	}
	modes := packageModes(compiler, pkgs)
	allModes := append(slices.Clone(queryModes), modeOther)
	for _, mode := range allModes {
		skip := map[string]bool{}
		for pkg, in := range modes {
			if !slices.Contains(in, mode) {
				skip[pkg] = true
			}
		}
		c.skip[mode] = skip
		rest := maps.Clone(skip)
		for p := range c.native {
			rest[p] = true
		}
		if len(rest) < len(pkgs) {
			if c.byMode[mode], err = prepare(ctx, compiler, entryQuery(cat, modules, rest)); err != nil {
				return nil, err
			}
		}
	}
	whole := func(ctx context.Context, modules map[string]*ast.Module, compiler *ast.Compiler) (map[string]rego.PreparedEvalQuery, error) {
		out := make(map[string]rego.PreparedEvalQuery, len(allModes))
		for _, mode := range allModes {
			if q, ok := c.byMode[mode]; ok && len(c.native) == 0 {
				out[mode] = q // the same query
				continue
			}
			var err error
			if out[mode], err = prepare(ctx, compiler, entryQuery(cat, modules, c.skip[mode])); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if len(c.byMode) > 0 || e.cross {
		// OPA's compiler stays anyway (or every input is checked both
		// ways): the whole queries now.
		if c.whole, err = whole(ctx, modules, compiler); err != nil {
			return nil, err
		}
		c.wholeOnce.Do(func() {})
		return c, nil
	}
	c.prepareWhole = func() (map[string]rego.PreparedEvalQuery, error) {
		builtin, err := builtinSources(false)
		if err != nil {
			return nil, err
		}
		_, modules, compiler, err := compilePolicy(merge(builtin, custom))
		if err != nil {
			return nil, err
		}
		return whole(context.Background(), modules, compiler)
	}
	return c, nil
}

// wholeQuery is the query of every package for an input of mode (one of
// queryModes or modeOther), prepared on first use when compile left it
// out.
func (c *compiled) wholeQuery(mode string) (rego.PreparedEvalQuery, error) {
	c.wholeOnce.Do(func() {
		c.whole, c.wholeErr = c.prepareWhole()
		c.prepareWhole = nil
	})
	if c.wholeErr != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("preparing the policy's query: %w", c.wholeErr)
	}
	return c.whole[mode], nil
}

// queryFor is the query of every package for an input (a value ToValue
// made): the one of its mode.
func (c *compiled) queryFor(input ast.Value) (rego.PreparedEvalQuery, error) {
	return c.wholeQuery(modeOf(input))
}

// modeOf is the query mode of an input ToValue made.
func modeOf(input ast.Value) string {
	if obj, ok := input.(ast.Object); ok {
		if t := obj.Get(modeKey); t != nil {
			if s, ok := t.Value.(ast.String); ok {
				return queryMode(string(s))
			}
		}
	}
	return modeOther
}

// queryMode is the mode whose queries serve an input of mode m.
func queryMode(m string) string {
	if slices.Contains(queryModes, m) {
		return m
	}
	return modeOther
}

var modeKey = ast.StringTerm("mode")

// compilePolicy compiles the rule modules of srcs (test files left out) as
// the engine loads them: every rule package needs its METADATA (the
// catalog), the entry point is generated, and the compiler is strict. Both
// the engine and `modeguard test` (RunTests) go through it, so a policy the
// tests accept is one the webhook loads.
func compilePolicy(srcs []source) (*catalog, map[string]*ast.Module, *ast.Compiler, error) {
	var policy []source
	for _, s := range srcs {
		if !s.test {
			policy = append(policy, s)
		}
	}
	cat, err := newCatalog(policy)
	if err != nil {
		return nil, nil, nil, err
	}
	modules := make(map[string]*ast.Module, len(policy))
	for _, s := range policy {
		modules[s.name] = s.module
	}
	compiler := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithStrict(true).
		WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, nil, nil, fmt.Errorf("compiling policy: %w", compiler.Errors)
	}
	return cat, modules, compiler, nil
}

// entryQuery is the query of a decision: one array, the violations of each
// rule package in the catalog's order (catalog.list), so that
// evaluation touches only the rules' violations (data.modeguard.rules would
// evaluate every helper rule of every package as well) and costs one
// expression besides the rules' own. A package's violations defined only
// by "contains" rules is a set even when none fires; any other form may be
// undefined, which would make the whole array undefined, so it is read
// through a comprehension (empty when undefined).
//
// The packages in skip are empty sets in the array: not evaluated.
func entryQuery(cat *catalog, modules map[string]*ast.Module, skip map[string]bool) string {
	multi := map[string]bool{} // package -> every violations rule is "contains"
	for _, m := range modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, r := range m.Rules {
			if r.Head.Ref().String() != "violations" {
				continue
			}
			ok, seen := multi[pkg]
			multi[pkg] = (ok || !seen) && r.Head.RuleKind() == ast.MultiValue
		}
	}
	parts := make([]string, len(cat.list))
	for i, r := range cat.list {
		if skip[r.Package] {
			parts[i] = "set()"
		} else if multi[r.Package] {
			parts[i] = "data." + r.Package + ".violations"
		} else {
			parts[i] = "{v | some v in data." + r.Package + ".violations}"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Violation is one finding of one rule, before its action is resolved.
type Violation struct {
	Rule      *Rule       `json:"-"`
	Message   string      `json:"msg"`
	Component string      `json:"component,omitempty"`
	File      string      `json:"file,omitempty"`
	Line      int         `json:"line,omitempty"`
	Column    int         `json:"column,omitempty"`
	Target    string      `json:"target,omitempty"` // TargetConfig or TargetWorkload: what the finding is about, the object its fix edits
	Fix       *FixRequest `json:"fix,omitempty"`
	// Action, when a rule sets it, replaces the rule's default action for
	// this violation (e.g. an inert clustering block is only audit).
	Action  Action `json:"action,omitempty"`
	Package string `json:"package"`
}

// Targets of a violation.
const (
	// TargetConfig is a config file: the text of one ConfigMap key.
	TargetConfig = "config"
	// TargetWorkload is the workload or Pod (its agent container, for a
	// fix).
	TargetWorkload = "workload"
)

// FixRequest names a fix and its parameters, as a rule asks for it. The
// fixes and the parameters each takes are mutate's (mutate.Fixes).
type FixRequest struct {
	Name   string         `json:"name"`
	Params map[string]any `json:"params,omitempty"`
}

// ErrEvaluation marks a failed evaluation (timeout, bad rule output).
var ErrEvaluation = errors.New("policy evaluation failed")

// ParseConfig is riverconfig.Parse through the engine's FileCache: the
// facts of a text parsed recently under the same name are returned again,
// shared (nothing may modify them), and Evaluate finds their Rego value
// already built.
func (e *Engine) ParseConfig(filename string, src []byte) *riverconfig.Facts {
	return e.files.Parse(filename, src)
}

// FileCache is the engine's cache of parsed files (nil when disabled).
func (e *Engine) FileCache() *FileCache { return e.files }

// Memo is the engine's memo of evaluations (nil when disabled).
func (e *Engine) Memo() *Memo { return e.memo }

// Nondeterministic lists the builtins of the policy in force whose result
// may differ between evaluations of one input; while there are any, the
// engine's Memo is bypassed.
func (e *Engine) Nondeterministic() []string { return e.current().nondeterministic }

// Evaluate runs every rule on the input and returns the violations sorted by
// rule id, file, line and message (then the rest: sortViolations). The
// built-in packages run in Go (nativeRules); where OPA evaluates, config
// files that came from ParseConfig are converted to Rego values once, and
// an input evaluated recently by the same (deterministic) policy is
// answered from the engine's Memo; the
// violations returned may be shared with it, so callers copy a violation
// before modifying it (its Fix among them).
func (e *Engine) Evaluate(ctx context.Context, in *Input) ([]Violation, error) {
	if in.APIVersion == "" {
		in.APIVersion = InputAPIVersion
	}
	c := e.current()
	var key memoKey
	// The memo serves evaluations through OPA: the Go forms of the
	// built-ins decide in less time than the memo's key takes to hash.
	_, viaOPA := c.byMode[queryMode(in.Mode)]
	memo := e.memo != nil && len(c.nondeterministic) == 0 && viaOPA
	if memo {
		if key, memo = e.memoKeyOf(c.version, in); memo {
			if vs, hit := e.memo.get(key); hit {
				return slices.Clone(vs), nil
			}
		}
	}
	vs, err := e.evaluateInput(ctx, c, in)
	if err != nil {
		return nil, err
	}
	if in.Subject.Kind == workload.KindPod.Name {
		// Pods are made by controllers: only rules that name Pod in
		// appliesTo act on them; the others already acted on the workload.
		kept := vs[:0]
		for _, v := range vs {
			if slices.ContainsFunc(v.Rule.AppliesTo, workload.KindPod.Is) {
				kept = append(kept, v)
			}
		}
		vs = kept
	}
	if memo {
		e.memo.put(key, slices.Clone(vs))
	}
	return vs, nil
}

// evaluateInput evaluates in: the packages of c.native in Go, the others
// through OPA (none when its mode has no query), both through OPA as well
// under CrossCheck.
func (e *Engine) evaluateInput(ctx context.Context, c *compiled, in *Input) ([]Violation, error) {
	mode := queryMode(in.Mode)
	var out []Violation
	if len(c.native) > 0 {
		out = evaluateNative(in, c.catalog, c.native, c.skip[mode])
	}
	q, needed := c.byMode[mode]
	if !needed && !e.cross {
		sortViolations(out)
		return out, nil
	}
	v, err := e.inputValue(in)
	if err != nil {
		return nil, err
	}
	if needed {
		vs, err := e.evaluate(ctx, c, q, v)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	sortViolations(out)
	if e.cross {
		want, err := e.evaluateWhole(ctx, c, mode, v)
		if err != nil {
			return nil, err
		}
		if d := diffViolations(out, want); d != "" {
			return nil, fmt.Errorf("%w: the built-in rules in Go and in Rego disagree on %s %s/%s (mode %q):\n%s",
				ErrEvaluation, in.Subject.Kind, in.Subject.Namespace, in.Subject.Name, in.Mode, d)
		}
	}
	return out, nil
}

// inputValue is in as a Rego value, through the FileCache when there is
// one.
func (e *Engine) inputValue(in *Input) (ast.Value, error) {
	if e.files != nil {
		return e.files.inputValue(in)
	}
	return ToValue(in)
}

// ToValue converts the input once into the AST value OPA evaluates.
func ToValue(in *Input) (ast.Value, error) {
	if in.APIVersion == "" {
		in.APIVersion = InputAPIVersion
	}
	if in.Config != nil {
		in.Config.index()
	}
	in.Derived = derive(in)
	v, err := toAST(reflect.ValueOf(in))
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: %w", err)
	}
	return v, nil
}

// EvaluateValue is Evaluate on an input already converted with ToValue.
func (e *Engine) EvaluateValue(ctx context.Context, input ast.Value) ([]Violation, error) {
	return e.evaluateWhole(ctx, e.current(), modeOf(input), input)
}

// evaluateWhole runs the whole policy's query of mode (every package,
// native or not) on input: the violations, sorted.
func (e *Engine) evaluateWhole(ctx context.Context, c *compiled, mode string, input ast.Value) ([]Violation, error) {
	q, err := c.wholeQuery(mode)
	if err != nil {
		return nil, err
	}
	vs, err := e.evaluate(ctx, c, q, input)
	if err != nil {
		return nil, err
	}
	sortViolations(vs)
	return vs, nil
}

// evaluate runs query q on input and decodes the violations, unsorted.
func (e *Engine) evaluate(ctx context.Context, c *compiled, q rego.PreparedEvalQuery, input ast.Value) ([]Violation, error) {
	ctx, cancel := context.WithTimeout(ctx, e.settings.Timeout())
	defer cancel()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input),
		rego.EvalVirtualCache(newFlatCache()), rego.EvalMetrics(metrics.NoOp()))
	if err != nil {
		// OPA's error wraps the context's when evaluation stops between
		// expressions, but not when a builtin (numbers.range, http.send)
		// stops on it: wrap it here so that errors.Is finds it either way.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return nil, fmt.Errorf("%w: %w: %w", ErrEvaluation, err, cerr)
		}
		return nil, fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	var out []Violation
	for _, r := range rs {
		for _, ex := range r.Expressions {
			t, _ := ex.Value.(*ast.Term)
			var arr *ast.Array
			if t != nil {
				arr, _ = t.Value.(*ast.Array)
			}
			if arr == nil || arr.Len() != len(c.catalog.list) {
				return nil, fmt.Errorf("%w: the query's result is %v, want an array of %d sets", ErrEvaluation, ex.Value, len(c.catalog.list))
			}
			for i, r := range c.catalog.list {
				set, ok := arr.Elem(i).Value.(ast.Set)
				if !ok {
					return nil, fmt.Errorf("%w: %s.violations is %v, want a set", ErrEvaluation, r.Package, arr.Elem(i))
				}
				// Set order (sorted), as the JSON form lists the elements.
				for _, it := range set.Slice() {
					if _, ok := it.Value.(ast.Object); !ok {
						continue // not a violation: left out, as ever
					}
					v, err := c.violation(it, r)
					if err != nil {
						return nil, err
					}
					out = append(out, v)
				}
			}
		}
	}
	return out, nil
}

func (c *compiled) violation(it *ast.Term, r *Rule) (Violation, error) {
	var v Violation
	if !decodeViolation(it, &v) {
		v = Violation{}
		raw, err := violationJSON(it)
		if err != nil {
			return v, fmt.Errorf("%w: %w", ErrEvaluation, err)
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, fmt.Errorf("%w: violation %s: %w", ErrEvaluation, raw, err)
		}
	}
	v.Package, v.Rule = r.Package, r
	if v.Action != "" && (!v.Action.Valid() || v.Action == ActionOff) {
		return v, fmt.Errorf("%w: rule %s yielded action %q, want deny, fix, warn or audit", ErrEvaluation, r.ID, v.Action)
	}
	if v.Message == "" {
		raw, _ := violationJSON(it)
		return v, fmt.Errorf("%w: rule %s yielded a violation without msg: %s", ErrEvaluation, r.ID, raw)
	}
	if v.Target == "" {
		v.Target = TargetConfig
		if v.Component == "" {
			v.Target = TargetWorkload
		}
	}
	return v, nil
}

// violationJSON is the JSON form of a violation, as OPA gives it.
func violationJSON(t *ast.Term) ([]byte, error) {
	x, err := ast.JSON(t.Value)
	if err != nil {
		return nil, err
	}
	return json.Marshal(x)
}
