package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			var got []any
			for _, o := range r.objects(t) {
				if o.GetKind() == "CustomResourceDefinition" && o.GetName() == "reports.openreports.io" {
					got = append(got, o.Object)
				}
			}
			switch {
			case !r.reportsCRD && len(got) > 0:
				t.Errorf("renders the Report CRD, want none")
			case r.reportsCRD && len(got) != 1:
				t.Errorf("renders %d Report CRDs, want one", len(got))
			case r.reportsCRD && !reflect.DeepEqual(got[0], wantObjs[0].Object):
				t.Errorf("the rendered Report CRD differs from the module's")
			}
		})
	}
}
