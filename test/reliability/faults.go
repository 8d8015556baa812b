package reliability

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// background runs the load until the returned func is called; that func
// returns what the load counted.
func (s *suite) background(ctx context.Context, o loadOptions) func() *Load {
	if o.workers == 0 {
		o.workers = s.o.Workers
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan *Load, 1)
	go func() { done <- runLoad(lctx, s.cl, s.cases, o) }()
	return func() *Load {
		cancel()
		return <-done
	}
}

// count adds a load's figures to r; failures and wrong answers are
// problems, with samples.
func count(r *Row, l *Load) {
	r.Requests += l.Requests.Load()
	r.Failed += l.Failed.Load()
	r.Wrong += l.Wrong.Load()
	r.note("%.0f req/s through kube-apiserver", l.Rate())
	if l.Failed.Load() > 0 || l.Wrong.Load() > 0 {
		r.problem("%d failed, %d wrong; first: %s", l.Failed.Load(), l.Wrong.Load(), strings.Join(l.Samples(), " | "))
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitFor polls cond every 100ms until it holds or timeout passes; it
// returns how long that took, or false.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) (time.Duration, bool) {
	began := time.Now()
	for {
		if cond() {
			return time.Since(began), true
		}
		if time.Since(began) > timeout || ctx.Err() != nil {
			return time.Since(began), false
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// soak is the sustained load: no failure, no wrong answer, memory and
// goroutines flat once warm.
func (s *suite) soak(ctx context.Context, r *Row) {
	from := time.Now()
	lctx, cancel := context.WithTimeout(ctx, s.o.Soak)
	defer cancel()
	l := runLoad(lctx, s.cl, s.cases, loadOptions{workers: s.o.Workers})
	count(r, l)
	pts := s.smp.series(from, time.Now())
	flatness(r, pts)
	overlaySize(r, pts)
}

// overlaySize notes the largest size of the dry-run overlay (the load's
// requests are dry runs: each admitted one is remembered for a minute) and
// fails past its bounds.
func overlaySize(r *Row, pts []point) {
	entries, bytes, n := -1.0, -1.0, 0
	for _, p := range pts {
		if p.overlayEntries >= 0 {
			n++
			entries, bytes = max(entries, p.overlayEntries), max(bytes, p.overlayBytes)
		}
	}
	if n == 0 {
		r.note("dry-run overlay size not read (no %s on /metrics)", metrics.DryRunOverlayEntries)
		return
	}
	r.note("dry-run overlay at most %.0f entries, %.0f KiB over %d samples (bounds %d entries, %d MiB)", entries, bytes/1024, n, dryrun.DefaultMaxEntries, dryrun.DefaultMaxBytes>>20)
	if entries > dryrun.DefaultMaxEntries || bytes > dryrun.DefaultMaxBytes {
		r.problem("the dry-run overlay went past its bounds: %.0f entries, %.0f bytes", entries, bytes)
	}
}

// flatness compares the first and the last quarter of the samples after a
// fifth of warm-up: resident memory and goroutines must not keep growing.
func flatness(r *Row, pts []point) {
	if len(pts) < 10 {
		r.note("too few samples (%d) to judge growth", len(pts))
		return
	}
	pts = pts[len(pts)/5:]
	q := len(pts) / 4
	avg := func(ps []point, f func(point) (float64, bool)) float64 {
		var sum float64
		n := 0
		for _, p := range ps {
			if v, ok := f(p); ok {
				sum += v
				n++
			}
		}
		if n == 0 {
			return -1
		}
		return sum / float64(n)
	}
	rss := func(p point) (float64, bool) { return float64(p.rss) / (1 << 20), p.rss > 0 }
	gor := func(p point) (float64, bool) { return float64(p.goroutines), p.goroutines >= 0 }
	r1, r2 := avg(pts[:q], rss), avg(pts[len(pts)-q:], rss)
	g1, g2 := avg(pts[:q], gor), avg(pts[len(pts)-q:], gor)
	r.note("RSS %.0f → %.0f MiB (%+.0f%%), goroutines %.0f → %.0f, first vs last quarter after warm-up", r1, r2, 100*(r2-r1)/r1, g1, g2)
	if r2 > r1*1.25 && r2-r1 > 16 {
		r.problem("resident memory grew from %.0f to %.0f MiB", r1, r2)
	}
	if g1 >= 0 && g2 > g1*1.1 && g2-g1 > 20 {
		r.problem("goroutines grew from %.0f to %.0f", g1, g2)
	}
}

// readiness samples /readyz every 200ms until stop is called and returns
// how many samples failed.
func (s *suite) readiness(ctx context.Context) func() (int, int) {
	rctx, cancel := context.WithCancel(ctx)
	type res struct{ n, bad int }
	done := make(chan res, 1)
	go func() {
		var r res
		for rctx.Err() == nil {
			r.n++
			if err := s.ready(rctx); err != nil && rctx.Err() == nil {
				r.bad++
			}
			sleep(rctx, 200*time.Millisecond)
		}
		done <- r
	}()
	return func() (int, int) {
		cancel()
		r := <-done
		return r.n, r.bad
	}
}

func (s *suite) reloads(ctx context.Context, result string) float64 {
	return scrape(ctx, s.c.MetricsURL, metrics.PolicyReloadsTotal, map[string]string{"result": result})
}

// writeAtomic writes data to path through a rename, so that a watcher
// never reads half a file.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// brokenPolicy replaces a working custom policy by Rego that does not
// compile, during the load: the last good policy (the custom rule
// included) keeps answering, the webhook stays ready, the error is
// counted in a metric; restoring the file is picked up again.
func (s *suite) brokenPolicy(ctx context.Context, r *Row) {
	pc := s.probe()
	if pc == nil {
		r.problem("no passing DaemonSet among the examples to build the probe from")
		return
	}
	file := filepath.Join(s.c.PolicyDir(), "reliability_probe.rego")
	if err := writeAtomic(file, []byte(probePolicy)); err != nil {
		r.problem("writing the custom policy: %v", err)
		return
	}
	defer os.Remove(file)
	if _, ok := waitFor(ctx, time.Minute, func() bool { return s.probeDenied(ctx, pc) }); !ok {
		r.problem("the custom policy did not take effect within a minute")
		return
	}
	before := s.reloads(ctx, metrics.ReloadError)
	stop := s.background(ctx, loadOptions{})
	readyStop := s.readiness(ctx)
	sleep(ctx, s.o.Fault/4)
	broken := strings.Replace(probePolicy, "violations contains", "violations contains {\"msg\": x} if {\n", 1)
	if err := writeAtomic(file, []byte(broken)); err != nil {
		r.problem("writing the broken policy: %v", err)
	}
	if took, ok := waitFor(ctx, time.Minute, func() bool { return s.reloads(ctx, metrics.ReloadError) > before }); ok {
		r.note("reload error counted (%s) %s after the file was broken", metrics.PolicyReloadsTotal, took.Round(time.Millisecond))
	} else {
		r.problem("no reload error counted within a minute of writing broken Rego")
	}
	probes, kept := 0, 0
	for end := time.Now().Add(s.o.Fault / 2); time.Now().Before(end) && ctx.Err() == nil; sleep(ctx, 200*time.Millisecond) {
		probes++
		if s.probeDenied(ctx, pc) {
			kept++
		}
	}
	r.Requests += int64(probes)
	if kept != probes {
		r.Wrong += int64(probes - kept)
		r.problem("the last good custom rule answered only %d of %d probes while the file was broken", kept, probes)
	} else {
		r.note("the last good policy (custom rule REL001 included) answered all %d probes while the file was broken", probes)
	}
	okBefore := s.reloads(ctx, metrics.ReloadSuccess)
	if err := writeAtomic(file, []byte(probePolicy)); err != nil {
		r.problem("restoring the policy: %v", err)
	}
	if _, ok := waitFor(ctx, time.Minute, func() bool { return s.reloads(ctx, metrics.ReloadSuccess) > okBefore }); !ok {
		r.problem("no successful reload within a minute of restoring the file")
	}
	sleep(ctx, s.o.Fault/4)
	n, bad := readyStop()
	count(r, stop())
	r.note("/readyz polled %d times during the fault, %d not ready", n, bad)
	if bad > 0 {
		r.problem("/readyz failed %d of %d times while the broken policy was in the directory", bad, n)
	}
	if err := os.Remove(file); err != nil {
		r.problem("removing the policy: %v", err)
	}
	if _, ok := waitFor(ctx, time.Minute, func() bool { return !s.probeDenied(ctx, pc) }); !ok {
		r.problem("the custom rule still denied a minute after its file was removed")
	}
}

// probeDenied reports whether the probe is denied by REL001 alone.
func (s *suite) probeDenied(ctx context.Context, pc *Case) bool {
	got, err := do(ctx, s.pcl, pc)
	return err == nil && got.Denied && len(got.Rules) == 1 && got.Rules[0] == "REL001"
}

const probeLabel = "reliability.modeguard.dev/probe"

const probePolicy = `# METADATA
# title: Reliability probe
# description: Denies agent workloads labelled reliability.modeguard.dev/probe=deny. make reliability adds and removes it under load.
# custom:
#   id: REL001
#   action: deny
#   appliesTo: [DaemonSet, StatefulSet, Deployment]
package modeguard.rules.reliability_probe

import data.modeguard.lib

violations contains {"msg": "denied by the reliability probe policy", "target": "workload"} if {
	lib.has_workload
	input.workload.labels["` + probeLabel + `"] == "deny"
}
`

// probe is a DaemonSet that the load's passing DaemonSet copies, labelled
// for the probe policy.
func (s *suite) probe() *Case {
	for _, c := range s.cases {
		ds, ok := c.Obj.(*appsv1.DaemonSet)
		if !ok || !c.Update || c.Want.Denied || c.Expect != "none" {
			continue
		}
		p := ds.DeepCopy()
		p.Name += "-probe"
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[probeLabel] = "deny"
		return &Case{Name: "DaemonSet " + p.Namespace + "/" + p.Name + " (create)", Obj: p}
	}
	return nil
}

// newPolicy adds a valid custom rule during the load: its decisions take
// effect without a restart, and stop when it is removed; the load's
// answers do not change.
func (s *suite) newPolicy(ctx context.Context, r *Row) {
	pc := s.probe()
	if pc == nil {
		r.problem("no passing DaemonSet among the examples to build the probe from")
		return
	}
	if got, err := do(ctx, s.pcl, pc); err != nil || got.Denied {
		r.problem("probe before the policy: %s, err=%v; want admitted", got, err)
		return
	}
	pid := s.c.WebhookPID()
	stop := s.background(ctx, loadOptions{})
	sleep(ctx, s.o.Fault/4)
	file := filepath.Join(s.c.PolicyDir(), "reliability_probe.rego")
	if err := writeAtomic(file, []byte(probePolicy)); err != nil {
		r.problem("writing the policy: %v", err)
	}
	probes := 0
	if took, ok := waitFor(ctx, time.Minute, func() bool { probes++; return s.probeDenied(ctx, pc) }); ok {
		r.note("new rule REL001 denying %s %s after the file was written", pc.Name, took.Round(time.Millisecond))
	} else {
		r.problem("the new rule did not take effect within a minute")
	}
	sleep(ctx, s.o.Fault/2)
	if err := os.Remove(file); err != nil {
		r.problem("removing the policy: %v", err)
	}
	if took, ok := waitFor(ctx, time.Minute, func() bool {
		probes++
		got, err := do(ctx, s.pcl, pc)
		return err == nil && !got.Denied
	}); ok {
		r.note("probe admitted again %s after the file was removed", took.Round(time.Millisecond))
	} else {
		r.problem("the removed rule still denied after a minute")
	}
	sleep(ctx, s.o.Fault/4)
	count(r, stop())
	r.Requests += int64(probes)
	if s.c.WebhookPID() != pid {
		r.problem("the webhook process changed (restarted?) during the policy change")
	} else {
		r.note("same webhook process throughout (no restart)")
	}
}

// rotateCert rotates the serving certificate to one from a new CA during
// the load, the way a CA rotation must go: the new CA is added to the
// webhook configurations' caBundle, the served pair is replaced (the
// webhook reloads it from --cert-dir), then the old CA is dropped.
func (s *suite) rotateCert(ctx context.Context, r *Row) {
	ca, err := certs.GenerateCA(time.Now(), 24*time.Hour)
	if err != nil {
		r.problem("new CA: %v", err)
		return
	}
	certPEM, keyPEM, serial, err := servingFor(ca, "127.0.0.1")
	if err != nil {
		r.problem("new serving certificate: %v", err)
		return
	}
	stop := s.background(ctx, loadOptions{})
	sleep(ctx, s.o.Fault/4)
	old := s.c.WebhookCA
	if err := s.setCABundle(ctx, append(append([]byte{}, old...), ca.CertPEM...)); err != nil {
		r.problem("adding the new CA to the caBundle: %v", err)
	}
	sleep(ctx, 2*time.Second) // the API server's webhook configuration informer
	began := time.Now()
	if err := writeAtomic(filepath.Join(s.c.WebhookCertDir, "tls.key"), keyPEM); err != nil {
		r.problem("writing tls.key: %v", err)
	}
	if err := writeAtomic(filepath.Join(s.c.WebhookCertDir, "tls.crt"), certPEM); err != nil {
		r.problem("writing tls.crt: %v", err)
	}
	if took, ok := waitFor(ctx, time.Minute, func() bool { return servedSerial(s.c.WebhookAddr) == serial.String() }); ok {
		r.note("new certificate served %s after the files changed", took.Round(time.Millisecond))
	} else {
		r.problem("the webhook still served the old certificate a minute after the files changed")
	}
	_ = began
	sleep(ctx, 2*time.Second)
	if err := s.setCABundle(ctx, ca.CertPEM); err != nil {
		r.problem("dropping the old CA: %v", err)
	}
	s.c.WebhookCA = ca.CertPEM
	sleep(ctx, s.o.Fault/2)
	count(r, stop())
	r.note("caBundle old → old+new → new; pair replaced in the middle")
}

// servingFor issues an ECDSA serving certificate for an IP address.
func servingFor(ca *certs.KeyPair, ip string) (certPEM, keyPEM []byte, serial *big.Int, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err = certs.EncodeKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return certs.EncodeCerts(leaf), keyPEM, serial, nil
}

// servedSerial is the serial of the certificate addr serves ("" if none).
func servedSerial(addr string) string {
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the served certificate only
	if err != nil {
		return ""
	}
	defer conn.Close()
	if pc := conn.ConnectionState().PeerCertificates; len(pc) > 0 {
		return pc[0].SerialNumber.String()
	}
	return ""
}

// setCABundle sets the caBundle of both webhook configurations.
func (s *suite) setCABundle(ctx context.Context, bundle []byte) error {
	var m admissionregistrationv1.MutatingWebhookConfigurationList
	if err := s.cl.List(ctx, &m); err != nil {
		return err
	}
	for i := range m.Items {
		if certs.InjectMutating(&m.Items[i], bundle) {
			if err := s.cl.Update(ctx, &m.Items[i]); err != nil {
				return err
			}
		}
	}
	var v admissionregistrationv1.ValidatingWebhookConfigurationList
	if err := s.cl.List(ctx, &v); err != nil {
		return err
	}
	for i := range v.Items {
		if certs.InjectValidating(&v.Items[i], bundle) {
			if err := s.cl.Update(ctx, &v.Items[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// killWebhook kills the webhook process during the load and starts it
// again. While it is down the API server applies the webhook
// configurations' failurePolicy: deploy/ ships Ignore, so those requests
// are admitted unreviewed (counted apart, not as wrong); nothing may fail
// and everything after the restart must be right.
func (s *suite) killWebhook(ctx context.Context, r *Row) {
	down := &windows{}
	stop := s.background(ctx, loadOptions{webhookDown: down})
	sleep(ctx, s.o.Fault/4)
	closeWindow := down.open()
	killed := time.Now()
	if err := s.c.KillWebhook(); err != nil {
		r.problem("killing the webhook: %v", err)
	}
	sleep(ctx, time.Second)
	if err := s.c.RestartWebhook(ctx); err != nil {
		r.problem("restarting the webhook: %v", err)
	}
	readyAfter := time.Since(killed)
	// Connections the API server opened before the kill fail over to new
	// ones within a moment.
	sleep(ctx, time.Second)
	closeWindow()
	sleep(ctx, s.o.Fault/2)
	l := stop()
	count(r, l)
	r.note("down for %s (killed, restarted after 1 s, ready again %s after the kill)", readyAfter.Round(time.Millisecond), readyAfter.Round(time.Millisecond))
	r.note("%d requests admitted unreviewed while it was down, as failurePolicy: Ignore (deploy/ default) says; the fail-closed overlay rejects them instead", l.Unreviewed.Load())
}

// restartAPIServer restarts kube-apiserver during the load. Requests the
// API server cannot take while down are counted apart; afterwards the
// webhook's informer cache must catch up: a workload created right after
// the restart, then its ConfigMap, must get the ConfigMap fixed at once.
func (s *suite) restartAPIServer(ctx context.Context, r *Row) {
	down := &windows{}
	stop := s.background(ctx, loadOptions{apiDown: down})
	sleep(ctx, s.o.Fault/4)
	closeWindow := down.open()
	unavailable, how, err := s.c.RestartAPIServer(ctx)
	if err != nil {
		r.problem("restarting kube-apiserver: %v", err)
		closeWindow()
		count(r, stop())
		return
	}
	// Clients reconnect; give their connections a moment.
	sleep(ctx, time.Second)
	closeWindow()
	r.note("kube-apiserver unavailable for %s (stopped by %s; SIGKILL follows SIGTERM after 20 s)", unavailable.Round(time.Millisecond), how)
	staleBefore := scrape(ctx, s.c.MetricsURL, metrics.StaleReadsTotal, nil)
	s.freshness(ctx, r)
	if n := scrape(ctx, s.c.MetricsURL, metrics.StaleReadsTotal, nil) - staleBefore; n > 0 {
		r.note("%.0f lookups read live while the webhook's watches were catching up (%s)", n, metrics.StaleReadsTotal)
	}
	sleep(ctx, s.o.Fault/2)
	l := stop()
	count(r, l)
	r.note("%d requests refused by the API server while it was down (not admissions)", l.Unavailable.Load())
}

// freshness creates a DaemonSet and then its ConfigMap (copies of a fixing
// example, in a new namespace) and checks the ConfigMap was fixed by the
// webhook's first answer: the cache saw the DaemonSet.
func (s *suite) freshness(ctx context.Context, r *Row) {
	cmCase, ds := s.fixingPair()
	if cmCase == nil {
		r.problem("no example ConfigMap fixed because of its DaemonSet")
		return
	}
	ns := fmt.Sprintf("reliability-fresh-%d", time.Now().UnixNano()%100000)
	if err := s.cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		r.problem("creating %s: %v", ns, err)
		return
	}
	d := ds.DeepCopy()
	d.Namespace = ns
	if err := s.cl.Create(ctx, d); err != nil {
		r.problem("creating DaemonSet %s/%s: %v", ns, d.Name, err)
		return
	}
	cm := cmCase.Obj.DeepCopyObject().(*corev1.ConfigMap)
	cm.Namespace = ns
	warnings := &collectWarnings{}
	cfg := rest.CopyConfig(s.cfg)
	cfg.WarningHandler = warnings
	wcl, err := client.New(cfg, client.Options{Scheme: s.cl.Scheme()})
	if err != nil {
		r.problem("client: %v", err)
		return
	}
	if err := wcl.Create(ctx, cm); err != nil {
		r.problem("creating ConfigMap %s/%s: %v", ns, cm.Name, err)
		return
	}
	r.Requests += 2
	if got := contentHash(cm); got == cmCase.Want.Hash {
		r.note("a ConfigMap created right after its DaemonSet, after the restart, was fixed on admission")
		return
	}
	// Not fixed on admission: acceptable only if the answer said it saw
	// no workload reading the ConfigMap, and the reconciler then fixed it
	// once the cache saw the DaemonSet.
	said := warnings.contains("no agent workload reads this ConfigMap")
	took, ok := waitFor(ctx, 30*time.Second, func() bool {
		live := &corev1.ConfigMap{}
		return s.cl.Get(ctx, client.ObjectKeyFromObject(cm), live) == nil && contentHash(live) == cmCase.Want.Hash
	})
	switch {
	case said && ok:
		r.note("a ConfigMap created right after its DaemonSet, after the restart, was admitted before the cache saw the DaemonSet, with a warning saying no workload was known to read it; the reconciler fixed it %s later", took.Round(time.Millisecond))
	case ok:
		r.Wrong++
		r.problem("the ConfigMap created after the restart was admitted unfixed without a warning saying why; the reconciler fixed it %s later", took.Round(time.Millisecond))
	default:
		r.Wrong++
		r.problem("the ConfigMap created after the restart was admitted unfixed (warned: %v) and still was 30 s later", said)
	}
}

// collectWarnings keeps the warnings the API server relays.
type collectWarnings struct {
	mu   sync.Mutex
	seen []string
}

func (c *collectWarnings) HandleWarningHeader(_ int, _ string, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, text)
}

func (c *collectWarnings) contains(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.seen {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// fixingPair finds an example ConfigMap that is fixed because of the one
// DaemonSet of its namespace.
func (s *suite) fixingPair() (*Case, *appsv1.DaemonSet) {
	for _, c := range s.cases {
		cm, ok := c.Obj.(*corev1.ConfigMap)
		if !ok || !c.Update || c.Want.Denied || c.Want.Hash == contentHash(cm) {
			continue
		}
		var ds []*appsv1.DaemonSet
		for _, o := range s.cases {
			if d, ok := o.Obj.(*appsv1.DaemonSet); ok && o.Update && d.Namespace == cm.Namespace {
				ds = append(ds, d)
			}
		}
		if len(ds) == 1 {
			return c, ds[0]
		}
	}
	return nil, nil
}

// exempt sends, during the load, the ConfigMap of a fixing example in a
// namespace the settings exempt, next to a real copy of its DaemonSet:
// neither is ever changed, while the same ConfigMap in its own namespace
// is.
func (s *suite) exempt(ctx context.Context, r *Row) {
	cmCase, ds := s.fixingPair()
	if cmCase == nil {
		r.problem("no example ConfigMap fixed because of its DaemonSet")
		return
	}
	d := ds.DeepCopy()
	d.Namespace = exemptNamespace
	if err := s.cl.Create(ctx, d); err != nil {
		r.problem("creating DaemonSet %s/%s: %v", d.Namespace, d.Name, err)
		return
	}
	if !sameContainers(ds, d) {
		r.Wrong++
		r.problem("the DaemonSet created in the exempt namespace was changed")
	}
	cm := cmCase.Obj.DeepCopyObject().(*corev1.ConfigMap)
	cm.Namespace = exemptNamespace
	exemptCase := &Case{Name: "ConfigMap " + exemptNamespace + "/" + cm.Name + " (create)", Obj: cm, Want: Outcome{Hash: contentHash(cm)}}
	l := runLoadFor(ctx, s, []*Case{exemptCase, cmCase}, s.o.Fault)
	count(r, l)
	r.note("%s admitted unchanged every time, while %s was fixed every time", exemptCase.Name, cmCase.Name)
}

func runLoadFor(ctx context.Context, s *suite, cases []*Case, d time.Duration) *Load {
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return runLoad(lctx, s.cl, cases, loadOptions{workers: s.o.Workers})
}

// sameContainers compares the command lines and env of two DaemonSets.
func sameContainers(a, b *appsv1.DaemonSet) bool {
	ca, cb := a.Spec.Template.Spec.Containers, b.Spec.Template.Spec.Containers
	if len(ca) != len(cb) {
		return false
	}
	for i := range ca {
		if fmt.Sprint(ca[i].Command, ca[i].Args, envOf(ca[i])) != fmt.Sprint(cb[i].Command, cb[i].Args, envOf(cb[i])) {
			return false
		}
	}
	return true
}

// envOf renders a container's env without what the API server defaults
// (a fieldRef's apiVersion).
func envOf(c corev1.Container) []string {
	out := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			v = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		} else if e.ValueFrom != nil {
			v = "valueFrom"
		}
		out = append(out, e.Name+"="+v)
	}
	return out
}
