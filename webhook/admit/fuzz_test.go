package admit_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// FuzzAdmissionReview sends arbitrary bodies through the whole HTTP path of
// both webhooks (controller-runtime's decoding of the AdmissionReview, then
// modeguard's handlers): never a panic, never a 5xx, and every 200 carries a
// well-formed AdmissionReview answering the request's UID.
func FuzzAdmissionReview(f *testing.F) {
	all := admittest.Example(f, "mg001-fires")
	all = append(all, admittest.Example(f, "mg004-fires")...)
	all = append(all, admittest.Example(f, "mg013-fires")...)
	for _, o := range all {
		req := admittest.Request(f, o, admissionv1.Create, false)
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: &req.AdmissionRequest,
		})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
		f.Add(body[:len(body)/2])
		f.Add(bytes.Replace(body, []byte(`"kind":"ConfigMap"`), []byte(`"kind":"Secret"`), 1))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":{"raw":"\xff"}}}`))
	f.Add([]byte("\x00\x01"))

	core, _ := admittest.Core(f, nil, all)
	handlers := map[string]http.Handler{
		"mutate":   &admission.Webhook{Handler: admit.NewMutating(core, admittest.Decoder(), -1)},
		"validate": &admission.Webhook{Handler: admit.NewValidating(core, admittest.Decoder(), -1)},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, h := range handlers {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: status %d for %q", name, rec.Code, body)
			}
			if rec.Code != http.StatusOK {
				continue
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("%s: 200 without an AdmissionReview response: %v %q", name, err, rec.Body.String())
			}
			var in admissionv1.AdmissionReview
			if json.Unmarshal(body, &in) == nil && in.Request != nil && out.Response.UID != in.Request.UID && !strings.Contains(rec.Body.String(), "error") {
				t.Fatalf("%s: response UID %q for request UID %q", name, out.Response.UID, in.Request.UID)
			}
		}
	})
}
