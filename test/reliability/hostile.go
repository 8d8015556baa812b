package reliability

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/modeguard/modeguard/webhook/admit"
)

// webhookTimeout is the timeoutSeconds of deploy/'s webhook
// configurations: an answer later than this is no answer.
const webhookTimeout = 3 * time.Second

// marker is planted in the configs and env values sent to the webhook;
// it must never show up in the webhook's log.
const marker = "reliability-marker-5e1f0c"

// expect is what a hostile request must get.
type expect int

const (
	want4xx    expect = iota // a clean refusal: HTTP 4xx or an AdmissionResponse with a 4xx code
	wantAnswer               // a decision: an AdmissionResponse, allowed or denied, not an error
	wantEither               // either of those
)

// hostile is one request sent straight to the webhook's port.
type hostile struct {
	name        string
	body        []byte
	contentType string
	want        expect
}

// verdict is how one hostile request went.
type verdict struct {
	failed, wrong bool
	why           string
	took          time.Duration
}

// caPool trusts the CA the webhook configurations trust now.
func (s *suite) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.c.WebhookCA)
	return pool
}

func (s *suite) httpsClient(keepAlive bool) *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: s.caPool(), MinVersion: tls.VersionTLS12},
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: 16,
		},
	}
}

// send posts h to path and judges the answer.
func (s *suite) send(ctx context.Context, hc *http.Client, path string, h hostile) verdict {
	ct := h.contentType
	if ct == "" {
		ct = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+s.c.WebhookAddr+path, bytes.NewReader(h.body))
	if err != nil {
		return verdict{failed: true, why: err.Error()}
	}
	req.Header.Set("Content-Type", ct)
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return verdict{failed: true, why: err.Error(), took: time.Since(began)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	v := verdict{took: time.Since(began)}
	if err != nil {
		v.failed, v.why = true, "reading the answer: "+err.Error()
		return v
	}
	code := resp.StatusCode
	var ar admissionv1.AdmissionReview
	decided := false
	if code == http.StatusOK && json.Unmarshal(body, &ar) == nil && ar.Response != nil {
		if ar.Response.Result != nil && ar.Response.Result.Code >= 400 && !ar.Response.Allowed &&
			!strings.Contains(ar.Response.Result.Message, "denied") {
			code = int(ar.Response.Result.Code)
		} else {
			decided = true
		}
	}
	switch {
	case v.took > webhookTimeout:
		v.failed, v.why = true, fmt.Sprintf("answered after %s, past the %s webhook timeout", v.took.Round(time.Millisecond), webhookTimeout)
	case code >= 500:
		v.failed, v.why = true, fmt.Sprintf("HTTP/answer code %d: %.200s", code, body)
	case h.want == want4xx && (code < 400 || decided):
		v.wrong, v.why = true, fmt.Sprintf("want a 4xx refusal, got %d %.200s", code, body)
	case h.want == wantAnswer && !decided:
		v.wrong, v.why = true, fmt.Sprintf("want a decision, got %d %.200s", code, body)
	case h.want == wantEither && !decided && (code < 400 || code >= 500):
		v.wrong, v.why = true, fmt.Sprintf("want a decision or a 4xx, got %d %.200s", code, body)
	}
	return v
}

// hostileRun sends each request n times from a few clients at once and
// adds up the verdicts; afterwards the same process must still be
// running and answer a normal request correctly.
func (s *suite) hostileRun(ctx context.Context, r *Row, n int, hs ...hostile) {
	pid := s.c.WebhookPID()
	hc := s.httpsClient(true)
	var mu sync.Mutex
	slowest := map[string]time.Duration{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, h := range hs {
		for range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				v := s.send(ctx, hc, admit.MutatePath, h)
				mu.Lock()
				defer mu.Unlock()
				r.Requests++
				slowest[h.name] = max(slowest[h.name], v.took)
				if v.failed {
					r.Failed++
				}
				if v.wrong {
					r.Wrong++
				}
				if v.failed || v.wrong {
					if len(r.Problems) < 5 {
						r.problem("%s: %s", h.name, v.why)
					}
				}
			}()
		}
	}
	wg.Wait()
	names := make([]string, 0, len(slowest))
	for k := range slowest {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %s", k, slowest[k].Round(time.Millisecond)))
	}
	r.note("slowest answer: %s", strings.Join(parts, "; "))
	if s.c.WebhookPID() != pid {
		r.problem("the webhook process changed: it crashed or was restarted")
	}
	s.afterCheck(ctx, r)
}

// afterCheck sends every load case once more: still right.
func (s *suite) afterCheck(ctx context.Context, r *Row) {
	wrong := 0
	for _, c := range s.cases {
		got, err := do(ctx, s.cl, c)
		if err != nil || !got.Equal(c.Want) {
			wrong++
		}
	}
	if wrong > 0 {
		r.problem("%d of %d normal requests wrong afterwards", wrong, len(s.cases))
	} else {
		r.note("all %d normal requests right afterwards", len(s.cases))
	}
}

// agentConfigMap is an example ConfigMap an agent workload in the cluster
// reads (so the webhook parses and evaluates what is sent under its name),
// and the key of its config.
func (s *suite) agentConfigMap() (*corev1.ConfigMap, string) {
	c, _ := s.fixingPair()
	if c == nil {
		return nil, ""
	}
	cm := c.Obj.DeepCopyObject().(*corev1.ConfigMap)
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return cm, keys[0]
}

// reviewOf wraps obj in an AdmissionReview CREATE request.
func reviewOf(obj runtime.Object, gvk metav1.GroupVersionKind, resource string, ns, name string) []byte {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return reviewRaw(raw, gvk, resource, ns, name)
}

var uidSeq atomic.Int64

func reviewRaw(raw []byte, gvk metav1.GroupVersionKind, resource string, ns, name string) []byte {
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(fmt.Sprintf("reliability-%d", uidSeq.Add(1))),
			Kind:      gvk,
			Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resource},
			Namespace: ns, Name: name, Operation: admissionv1.Create,
			Object: runtime.RawExtension{Raw: raw},
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		panic(err)
	}
	return b
}

var cmGVK = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

// configReview is an AdmissionReview of the agent ConfigMap with config
// as its config key.
func (s *suite) configReview(config string) []byte {
	cm, key := s.agentConfigMap()
	cm.Data = map[string]string{key: config}
	return reviewOf(cm, cmGVK, "configmaps", cm.Namespace, cm.Name)
}

func (s *suite) malformed(ctx context.Context, r *Row) {
	cm, _ := s.agentConfigMap()
	if cm == nil {
		r.problem("no agent ConfigMap among the examples")
		return
	}
	valid := reviewOf(cm, cmGVK, "configmaps", cm.Namespace, cm.Name)
	nested := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	s.hostileRun(ctx, r, 10,
		hostile{name: "bad JSON", body: []byte(`{"apiVersion":`), want: want4xx},
		hostile{name: "truncated", body: valid[:len(valid)/2], want: want4xx},
		hostile{name: "wrong apiVersion/kind", body: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`), want: wantEither},
		hostile{name: "no request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), want: wantEither},
		hostile{name: "object not an object", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"version":"v1","kind":"ConfigMap"},"operation":"CREATE","object":"text"}}`), want: want4xx},
		hostile{name: "JSON nested 100,000 deep", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":` + nested + `}}`), want: want4xx},
		hostile{name: "wrong content type", body: valid, contentType: "text/plain", want: want4xx},
		hostile{name: "empty body", body: nil, want: want4xx},
	)
}

func (s *suite) huge(ctx context.Context, r *Row) {
	cm, key := s.agentConfigMap()
	if cm == nil {
		r.problem("no agent ConfigMap among the examples")
		return
	}
	big := cm.DeepCopy()
	big.Data["padding.txt"] = strings.Repeat("x", 5<<20)
	body := reviewOf(big, cmGVK, "configmaps", cm.Namespace, cm.Name)
	bigConfig := cm.DeepCopy()
	bigConfig.Data[key] += "\n// " + marker + "\n" + strings.Repeat("// padding comment line of a config grown past any sane size\n", (5<<20)/60)
	s.hostileRun(ctx, r, 5,
		hostile{name: "5 MiB ConfigMap (extra key)", body: body, want: wantAnswer},
		hostile{name: "5 MiB config", body: reviewOf(bigConfig, cmGVK, "configmaps", cm.Namespace, cm.Name), want: wantAnswer},
		hostile{name: "8 MiB body", body: append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":"`), append(bytes.Repeat([]byte("y"), 8<<20), `"}`...)...), want: want4xx},
	)
}

func (s *suite) deepRiver(ctx context.Context, r *Row) {
	if cm, _ := s.agentConfigMap(); cm == nil {
		r.problem("no agent ConfigMap among the examples")
		return
	}
	const n = 1000000
	s.hostileRun(ctx, r, 3,
		hostile{name: "list", body: s.configReview("// " + marker + "\na = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"), want: wantAnswer},
		hostile{name: "parentheses", body: s.configReview("a = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n"), want: wantAnswer},
		hostile{name: "blocks", body: s.configReview(strings.Repeat("a {\n", n/2) + strings.Repeat("}\n", n/2)), want: wantAnswer},
		hostile{name: "objects", body: s.configReview("a = " + strings.Repeat("{b = ", n/5) + "1" + strings.Repeat("}", n/5) + "\n"), want: wantAnswer},
	)
}

func (s *suite) wideRiver(ctx context.Context, r *Row) {
	if cm, _ := s.agentConfigMap(); cm == nil {
		r.problem("no agent ConfigMap among the examples")
		return
	}
	var b strings.Builder
	b.WriteString("// " + marker + "\n")
	for i := range 100000 {
		fmt.Fprintf(&b, "discovery.relabel \"r%d\" {\n  targets = []\n}\n", i)
	}
	body := s.configReview(b.String())
	r.note("config of %d bytes, request of %d bytes", b.Len(), len(body))
	s.hostileRun(ctx, r, 3, hostile{name: "100,000 components", body: body, want: wantAnswer})
}

func (s *suite) oddData(ctx context.Context, r *Row) {
	cm, key := s.agentConfigMap()
	if cm == nil {
		r.problem("no agent ConfigMap among the examples")
		return
	}
	// Invalid UTF-8 straight in the JSON text: json.Marshal would have
	// replaced it.
	raw, _ := json.Marshal(cm)
	config, _ := json.Marshal(cm.Data[key])
	bad := bytes.Replace(raw, config, append(append([]byte(`"\u00e9 `), 0xff, 0xfe, 0xc3, 0x28), []byte(` // `+marker+`\n"`)...), 1)
	bin := cm.DeepCopy()
	bin.Data = nil
	bin.BinaryData = map[string][]byte{key: {0xff, 0x00, 0xfe, 0x01}}
	s.hostileRun(ctx, r, 10,
		hostile{name: "non-UTF-8 config", body: reviewRaw(bad, cmGVK, "configmaps", cm.Namespace, cm.Name), want: wantEither},
		hostile{name: "binaryData only", body: reviewOf(bin, cmGVK, "configmaps", cm.Namespace, cm.Name), want: wantAnswer},
	)
}

// slowClients opens connections that trickle their headers or their body
// and holds them during a load through the API server: the load is not
// disturbed and the server cuts every slow connection off within its
// read timeouts.
func (s *suite) slowClients(ctx context.Context, r *Row) {
	const n = 200
	pool := s.caPool()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.c.WebhookAddr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			r.problem("opening slow connection %d: %v", i, err)
			break
		}
		if i%2 == 0 {
			_, err = io.WriteString(c, "POST /mutate HTTP/1.1\r\nHost: x\r\n")
		} else {
			_, err = io.WriteString(c, "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"apiVersion\":")
		}
		if err != nil {
			r.problem("writing on slow connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	opened := time.Now()
	l := runLoadFor(ctx, s, s.cases, s.o.Fault)
	count(r, l)
	// ReadHeaderTimeout (5 s) cuts the headers, ReadTimeout (10 s) the
	// bodies; wait for both and a margin.
	sleep(ctx, time.Until(opened.Add(13*time.Second)))
	var closed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err := io.ReadAll(c)
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	r.note("%d slow connections held during the load; %d closed by the server within 13 s", len(conns), closed.Load())
	if int(closed.Load()) != len(conns) {
		r.problem("%d slow connections still open after 13 s", len(conns)-int(closed.Load()))
	}
}

// connectionFlood opens 1,000 connections at once, each sending one
// review of an agent DaemonSet: each gets its answer or a clean 503.
func (s *suite) connectionFlood(ctx context.Context, r *Row) {
	var ds *appsv1.DaemonSet
	for _, c := range s.cases {
		if d, ok := c.Obj.(*appsv1.DaemonSet); ok && c.Update {
			ds = d.DeepCopy()
			break
		}
	}
	if ds == nil {
		r.problem("no DaemonSet among the examples")
		return
	}
	ds.Spec.Template.Spec.Containers[0].Env = append(ds.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "RELIABILITY", Value: marker})
	body := reviewOf(ds, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "daemonsets", ds.Namespace, ds.Name)
	const n = 1000
	hc := s.httpsClient(false)
	var ok, busy, bad atomic.Int64
	var slowest atomic.Int64
	var mu sync.Mutex
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+s.c.WebhookAddr+admit.MutatePath, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			began := time.Now()
			resp, err := hc.Do(req)
			took := time.Since(began)
			for {
				cur := slowest.Load()
				if int64(took) <= cur || slowest.CompareAndSwap(cur, int64(took)) {
					break
				}
			}
			if err != nil {
				bad.Add(1)
				mu.Lock()
				if len(r.Problems) < 3 {
					r.problem("%v", err)
				}
				mu.Unlock()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ar admissionv1.AdmissionReview
			switch {
			case resp.StatusCode == http.StatusServiceUnavailable:
				busy.Add(1)
			case resp.StatusCode == http.StatusOK && json.Unmarshal(b, &ar) == nil && ar.Response != nil && ar.Response.Allowed:
				ok.Add(1)
			default:
				bad.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	r.Requests += n
	r.Failed += bad.Load()
	r.note("%d answered, %d refused busy (503), %d failed; slowest %s (connections past the limit of 512 wait for a slot)",
		ok.Load(), busy.Load(), bad.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if bad.Load() > 0 {
		r.problem("%d of %d connections got no clean answer", bad.Load(), n)
	}
	s.afterCheck(ctx, r)
}

// tlsVersions dials the webhook with old protocol versions and weak
// suites (refused) and modern ones (accepted).
func (s *suite) tlsVersions(_ context.Context, r *Row) {
	pool := s.caPool()
	try := func(name string, cfg *tls.Config, wantOK bool) {
		cfg.RootCAs = pool
		r.Requests++
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.c.WebhookAddr, cfg)
		if err == nil {
			if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
				r.Wrong++
				r.problem("%s negotiated HTTP/2", name)
			}
			conn.Close()
		}
		switch {
		case wantOK && err != nil:
			r.Failed++
			r.problem("%s refused: %v", name, err)
		case !wantOK && err == nil:
			r.Wrong++
			r.problem("%s accepted", name)
		default:
			r.note("%s %s", name, map[bool]string{true: "accepted", false: "refused"}[wantOK])
		}
	}
	try("TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false)
	try("TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false)
	try("TLS 1.2 with CBC suites", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}, false)
	try("TLS 1.2 with RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}}, false)
	try("TLS 1.2 with ECDHE+AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true)
	try("TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true)
	try("HTTP/2 offered", &tls.Config{NextProtos: []string{"h2", "http/1.1"}}, true)
}

var configText = regexp.MustCompile(`forward_to\s*=|targets\s*=|url\s*=\s*"`)

// logsClean scans the webhook's log, after everything above, for the
// marker planted in configs and env values and for config syntax.
func (s *suite) logsClean(_ context.Context, r *Row) {
	b, err := os.ReadFile(s.c.WebhookLog)
	if err != nil {
		r.problem("reading the log: %v", err)
		return
	}
	lines := strings.Split(string(b), "\n")
	r.Requests = int64(len(lines))
	for i, l := range lines {
		if strings.Contains(l, marker) || configText.MatchString(l) {
			r.Wrong++
			if r.Wrong <= 3 {
				r.problem("log line %d shows request data: %.200s", i+1, l)
			}
		}
	}
	decisions := strings.Count(string(b), "Decision")
	r.note("%d log lines (%d decision lines) scanned for the planted marker and for config syntax", len(lines), decisions)
}
