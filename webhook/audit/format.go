package audit

import (
	"fmt"
	"slices"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Report formats (--report-format).
const (
	// FormatOpenReports writes openreports.io/v1alpha1 Reports, the API
	// Kyverno and Kubewarden moved to.
	FormatOpenReports = "openreports"
	// FormatWGPolicy writes wgpolicyk8s.io/v1alpha2 PolicyReports, which
	// Policy Reporter and older tools read.
	FormatWGPolicy = "wgpolicyk8s"
)

// Formats are the report formats, the default first.
var Formats = []string{FormatOpenReports, FormatWGPolicy}

// ValidFormat reports whether f names a report format ("" is the default).
func ValidFormat(f string) bool { return f == "" || slices.Contains(Formats, f) }

// GVK is the kind of the reports of format f.
//
// A wgpolicyk8s.io/v1alpha2 PolicyReport is the document an openreports.io
// Report is, less the report's top-level source and its configuration
// (openreports forked it and added those): scope, scopeSelector, summary,
// and results of source, policy, rule, category, severity, timestamp,
// result, scored, resources, resourceSelector, message and properties. So
// both are written from one Report under their own apiVersion and kind,
// with no Go types of the older API (the one module served here that
// carries them brings its whole project along).
func GVK(f string) schema.GroupVersionKind {
	if f == FormatWGPolicy {
		return schema.GroupVersionKind{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: "PolicyReport"}
	}
	return reportsv1alpha1.SchemeGroupVersion.WithKind("Report")
}

// Encode returns r as a report of format f.
func Encode(r *reportsv1alpha1.Report, f string) (*unstructured.Unstructured, error) {
	if r.Configuration != nil && f == FormatWGPolicy {
		return nil, fmt.Errorf("a %s report has no configuration", f)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the report of %s: %w", r.Namespace, err)
	}
	if f == FormatWGPolicy {
		delete(m, "source") // each result keeps its own
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(GVK(f))
	return u, nil
}

// Decode reads a report of any format as a Report.
func Decode(u *unstructured.Unstructured) (*reportsv1alpha1.Report, error) {
	r := &reportsv1alpha1.Report{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r); err != nil {
		return nil, fmt.Errorf("decoding %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	r.SetGroupVersionKind(GVK(FormatOpenReports))
	if u.GroupVersionKind() == GVK(FormatWGPolicy) && r.Source == "" && len(r.Results) > 0 {
		r.Source = r.Results[0].Source // what Encode dropped
	}
	return r, nil
}
