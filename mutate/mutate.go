package mutate

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// ErrNotApplicable marks a fix request that does not fit its subject: an
// unknown fix or component, a wrong kind, a missing parameter, an expression
// that is not a literal where the fix would have to change it. The error's
// text says which component or container and why.
var ErrNotApplicable = errors.New("fix not applicable")

// notApplicable is an error that matches ErrNotApplicable and reads as its
// reason alone, so that callers can quote it without repeating "not
// applicable".
type notApplicable struct{ reason string }

func (e *notApplicable) Error() string        { return e.reason }
func (e *notApplicable) Is(target error) bool { return target == ErrNotApplicable }

func notApplicablef(format string, args ...any) error {
	return &notApplicable{reason: fmt.Sprintf(format, args...)}
}

// stringParam returns a non-empty string parameter of the fix.
func stringParam(fix policy.FixRequest, name string) (string, error) {
	v, ok := fix.Params[name]
	if !ok {
		return "", notApplicablef("fix %s: missing parameter %q", fix.Name, name)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", notApplicablef("fix %s: parameter %q must be a non-empty string, got %v", fix.Name, name, v)
	}
	return s, nil
}

// ConfigMap applies a River fix to the data key key of cm, in place. Only
// that key changes: binaryData, other keys, labels and annotations stay
// untouched. A key missing from data (or held in binaryData) is
// ErrNotApplicable.
func ConfigMap(cm *corev1.ConfigMap, key string, fix policy.FixRequest) error {
	return configMap(cm, key, fix, nil)
}

// configMap is ConfigMap, parsing with parse (nil: riverconfig.Parse).
func configMap(cm *corev1.ConfigMap, key string, fix policy.FixRequest, parse parseFunc) error {
	if cm == nil {
		return notApplicablef("fix %s: no ConfigMap", fix.Name)
	}
	src, ok := cm.Data[key]
	if !ok {
		return notApplicablef("fix %s: ConfigMap %s has no data key %q", fix.Name, objectName(cm.Namespace, cm.Name), key)
	}
	out, _, err := fixConfig(key, []byte(src), fix, parse)
	if err != nil {
		return fmt.Errorf("ConfigMap %s key %q: %w", objectName(cm.Namespace, cm.Name), key, err)
	}
	if string(out) != src {
		cm.Data[key] = string(out)
	}
	return nil
}

// Fixer carries out fix requests with the package's functions. Its zero value
// is ready to use; it exists for callers that take the fixer as an interface.
type Fixer struct{}

// Target says what the fix of that name edits (policy.TargetConfig or
// policy.TargetWorkload); ok is false for a fix the registry does not hold.
func (Fixer) Target(fix string) (target string, ok bool) {
	f, ok := Lookup(fix)
	return f.Target, ok
}

// ConfigMap is the package function ConfigMap, parsing the key's text and
// checking the fixed text with parse (riverconfig.Parse through a cache,
// see review.Fixer; nil parses as the package function does).
func (Fixer) ConfigMap(cm *corev1.ConfigMap, key string, fix policy.FixRequest, parse func(filename string, src []byte) *riverconfig.Facts) error {
	return configMap(cm, key, fix, parse)
}

// Workload calls the package function Workload.
func (Fixer) Workload(obj runtime.Object, facts *workload.Facts, fix policy.FixRequest) error {
	return Workload(obj, facts, fix)
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
