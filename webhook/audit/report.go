package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// Report identity.
const (
	// ReportName names modeguard's Report in each namespace.
	ReportName = "modeguard"
	// LabelManagedBy marks the reports modeguard owns; a report without it
	// (ManagedBy) is never touched.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "modeguard"
	// Source is the source of the reports and their results.
	Source = "modeguard"
	// Category of every result.
	Category = "Grafana Alloy deployment mode"
)

// Result values (the CRD's enum: pass, fail, warn, error, skip).
const (
	ResultFail = reportsv1alpha1.Result("fail")
	ResultWarn = reportsv1alpha1.Result("warn")
)

// Result properties.
const (
	PropAction    = "action"    // the action resolved for the finding: deny, fix, warn, audit
	PropComponent = "component" // the River component, when the finding is about one
	PropLocation  = "location"  // config file:line:column
	PropKey       = "key"       // the ConfigMap key of a config finding
	PropFix       = "fix"       // the fix modeguard would apply (its name)
	PropFixParams = "fixParams" // the fix's parameters, as JSON
	PropVia       = "via"       // the workload whose mode the finding depends on
	PropOwner     = "owner"     // the Alloy object owning the object
	PropValue     = "value"     // the Alloy object's value to change
)

// ResultOf maps an action to a report's result and severity. The CRD's
// results are pass, fail, warn, error and skip, with no info: a deny, and a
// fix (modeguard would change the object: it breaks the rule as it stands),
// are fail; a warn is warn; an audit finding is warn with severity info,
// the one place the CRD has an info.
func ResultOf(a policy.Action) (reportsv1alpha1.Result, reportsv1alpha1.ResultSeverity) {
	switch a {
	case policy.ActionDeny:
		return ResultFail, "high"
	case policy.ActionFix:
		return ResultFail, "medium"
	case policy.ActionWarn:
		return ResultWarn, "low"
	default:
		return ResultWarn, "info"
	}
}

// Results turns findings into report results, each stamped at now unless
// the same result (everything but the time) is in prev: then it keeps
// prev's time, so that an unchanged finding leaves the report unchanged.
// uids gives the UID of the objects the findings are about, when known.
func Results(findings []review.Finding, uids map[review.ObjectRef]types.UID, prev []reportsv1alpha1.ReportResult, now time.Time) []reportsv1alpha1.ReportResult {
	seen := map[string]metav1.Timestamp{}
	for _, r := range prev {
		seen[resultKey(r)] = r.Timestamp
	}
	out := make([]reportsv1alpha1.ReportResult, 0, len(findings))
	for _, f := range findings {
		r := result(f, uids[f.Object])
		r.Timestamp = metav1.Timestamp{Seconds: now.Unix()}
		if ts, ok := seen[resultKey(r)]; ok {
			r.Timestamp = ts
		}
		out = append(out, r)
	}
	return out
}

func result(f review.Finding, uid types.UID) reportsv1alpha1.ReportResult {
	res, sev := ResultOf(f.Action)
	props := map[string]string{PropAction: string(f.Action)}
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	set(PropComponent, f.Component)
	if f.File != "" && f.Line > 0 {
		props[PropLocation] = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	}
	set(PropKey, f.Key)
	if f.Fix != nil {
		props[PropFix] = f.Fix.Name
		if len(f.Fix.Params) > 0 {
			if b, err := json.Marshal(f.Fix.Params); err == nil {
				props[PropFixParams] = string(b)
			}
		}
	}
	if f.Via != nil {
		props[PropVia] = f.Via.Kind + " " + f.Via.Namespace + "/" + f.Via.Name
	}
	set(PropOwner, f.Owner)
	set(PropValue, f.Value)
	ref := corev1.ObjectReference{Kind: f.Object.Kind, Namespace: f.Object.Namespace, Name: f.Object.Name, UID: uid}
	if k := workload.KindNamed(f.Object.Kind); k != nil {
		ref.APIVersion = k.GVK.GroupVersion().String()
	}
	id, slug := "", ""
	if f.Rule != nil {
		id, slug = f.Rule.ID, f.Rule.Slug
	}
	return reportsv1alpha1.ReportResult{
		Source:      Source,
		Policy:      id,
		Rule:        slug,
		Category:    Category,
		Severity:    sev,
		Result:      res,
		Subjects:    []corev1.ObjectReference{ref},
		Description: f.Message,
		Properties:  props,
	}
}

// resultKey is a result without its time.
func resultKey(r reportsv1alpha1.ReportResult) string {
	r.Timestamp = metav1.Timestamp{}
	b, _ := json.Marshal(r) // a ReportResult always marshals
	return string(b)
}

// Summarize counts results by result.
func Summarize(rs []reportsv1alpha1.ReportResult) reportsv1alpha1.ReportSummary {
	var s reportsv1alpha1.ReportSummary
	for _, r := range rs {
		switch r.Result {
		case "pass":
			s.Pass++
		case "fail":
			s.Fail++
		case "warn":
			s.Warn++
		case "error":
			s.Error++
		case "skip":
			s.Skip++
		}
	}
	return s
}

// NewReport is the Report of namespace with results.
func NewReport(namespace string, results []reportsv1alpha1.ReportResult) *reportsv1alpha1.Report {
	return &reportsv1alpha1.Report{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ReportName,
			Namespace: namespace,
			Labels:    map[string]string{LabelManagedBy: ManagedBy},
		},
		Source:  Source,
		Results: results,
		Summary: Summarize(results),
	}
}

// Owned reports whether modeguard owns r.
func Owned(r *reportsv1alpha1.Report) bool { return r.Labels[LabelManagedBy] == ManagedBy }

// sameContent reports whether an existing report already says what want
// says: source, results (their times included: Results keeps them) and
// summary, and carries want's labels.
func sameContent(have, want *reportsv1alpha1.Report) bool {
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	return have.Source == want.Source &&
		equality.Semantic.DeepEqual(have.Summary, want.Summary) &&
		equality.Semantic.DeepEqual(normalized(have.Results), normalized(want.Results))
}

// normalized treats nil and empty alike, as the API server does.
func normalized(rs []reportsv1alpha1.ReportResult) []reportsv1alpha1.ReportResult {
	out := make([]reportsv1alpha1.ReportResult, len(rs))
	for i, r := range rs {
		if len(r.Properties) == 0 {
			r.Properties = nil
		} else {
			r.Properties = maps.Clone(r.Properties)
		}
		out[i] = r
	}
	return out
}
