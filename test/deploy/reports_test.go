package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/modeguard/modeguard/internal/testutil"
)

// reportsModule is the module whose Report CRD deploy/ ships.
const reportsModule = "github.com/openreports/reports-api"

// reportCRDCopies are deploy/'s copies of the module's Report CRD.
var reportCRDCopies = []string{
	"deploy/helm/modeguard/files/openreports.io_reports.yaml",
	"deploy/kustomize/components/openreports-crd/openreports.io_reports.yaml",
}

// moduleReportCRD is the Report CRD of the reports-api version in go.mod.
func moduleReportCRD(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", reportsModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", reportsModule, err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReportCRD checks that deploy/'s copies of the Report CRD are the
// module's (the webhook is built with its types), and that a render has the
// CRD exactly when it asks for it (reports.installCRDs, the openreports-crd
// component).
func TestReportCRD(t *testing.T) {
	want := moduleReportCRD(t)
	root := testutil.Root(t)
	for _, p := range reportCRDCopies {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		var body []string
		for l := range strings.Lines(string(data)) {
			if len(body) == 0 && strings.HasPrefix(l, "#") {
				continue // the header naming the source
			}
			body = append(body, l)
		}
		if strings.Join(body, "") != want {
			t.Errorf("%s is not %s's config/crd/openreports.io_reports.yaml: copy it again", p, reportsModule)
		}
	}
	wantObjs, err := decode(want)
	if err != nil || len(wantObjs) != 1 {
		t.Fatalf("decoding the module's CRD: %v (%d objects)", err, len(wantObjs))
	}
	wg, err := os.ReadFile(filepath.Join(root, wgpolicyCRDFile))
	if err != nil {
		t.Fatal(err)
	}
	wgObjs, err := decode(string(wg))
	if err != nil || len(wgObjs) != 1 || wgObjs[0].GetName() != "policyreports.wgpolicyk8s.io" {
		t.Fatalf("decoding %s: %v (%d objects), want the CRD policyreports.wgpolicyk8s.io", wgpolicyCRDFile, err, len(wgObjs))
	}
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			objs := r.objects(t)
			checkCRD(t, objs, wantObjs[0].Object, r.reportsCRD)
			checkCRD(t, objs, wgObjs[0].Object, r.wgpolicyCRD)
		})
	}
}

// wgpolicyCRDFile is the chart's copy of the PolicyReport CRD (kyverno
// v1.19.1's, a module not in go.mod: checked as a CRD only).
const wgpolicyCRDFile = "deploy/helm/modeguard/files/wgpolicyk8s.io_policyreports.yaml"

// checkCRD checks that objs hold the CRD want exactly when rendered.
func checkCRD(t *testing.T, objs []*unstructured.Unstructured, want map[string]any, rendered bool) {
	t.Helper()
	name, _, _ := unstructured.NestedString(want, "metadata", "name")
	var got []map[string]any
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" && o.GetName() == name {
			got = append(got, o.Object)
		}
	}
	switch {
	case !rendered && len(got) > 0:
		t.Errorf("renders the CRD %s, want none", name)
	case rendered && len(got) != 1:
		t.Errorf("renders %d CRDs %s, want one", len(got), name)
	case rendered && !reflect.DeepEqual(got[0], want):
		t.Errorf("the rendered CRD %s differs from its source", name)
	}
}
