package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func testPolicy(t *testing.T) Policy {
	t.Helper()
	p := Policy{DNSNames: DNSNames("svc", "ns"), CAValidity: 30 * time.Second, ServingValidity: 10 * time.Second, Overlap: time.Second}.WithDefaults()
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	return p
}

func next(t *testing.T, p Policy, obs Observation, now time.Time) Decision {
	t.Helper()
	d, err := p.Next(obs, now)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if d.Action != ActionNone {
		if err := Validate(d.Bundle, p.DNSNames, now, 0); err != nil {
			t.Fatalf("%s wrote an invalid bundle: %v", d.Action, err)
		}
	}
	return d
}

func TestPolicyDefaultsAndCheck(t *testing.T) {
	t.Parallel()
	p := Policy{DNSNames: []string{"a"}}.WithDefaults()
	if p.CAValidity != DefaultCAValidity || p.ServingValidity != DefaultServingValidity || p.CARenewBefore != DefaultCAValidity/3 || p.ServingRenewBefore != DefaultServingValidity/3 || p.Overlap != DefaultOverlap {
		t.Errorf("defaults: got %+v", p)
	}
	if err := p.Check(); err != nil {
		t.Errorf("defaults do not pass Check: %v", err)
	}
	bad := map[string]Policy{
		"no names":                      {CAValidity: 3, ServingValidity: 2, CARenewBefore: 1, ServingRenewBefore: 1, Overlap: 0},
		"serving outlives CA":           {DNSNames: []string{"a"}, CAValidity: time.Hour, ServingValidity: time.Hour},
		"renew-before beyond validity":  {DNSNames: []string{"a"}, ServingRenewBefore: 100 * 24 * time.Hour},
		"overlap beyond serving renew":  {DNSNames: []string{"a"}, ServingValidity: time.Hour, Overlap: time.Hour / 2},
		"CA renew-before beyond the CA": {DNSNames: []string{"a"}, CAValidity: time.Hour, CARenewBefore: 2 * time.Hour, ServingValidity: time.Minute},
	}
	for name, p := range bad {
		if err := p.WithDefaults().Check(); err == nil {
			t.Errorf("%s: Check passed, want an error", name)
		}
	}
}

func TestPolicySteps(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	now := testNow
	created := next(t, p, Observation{}, now)
	if created.Action != ActionCreate {
		t.Fatalf("from nothing: got %s, want %s", created.Action, ActionCreate)
	}
	b := created.Bundle
	ca, _ := ParseKeyPair(b.CACert, b.CAKey)
	other := mustCA(t, now, time.Minute)
	expiredCA := mustCA(t, now.Add(-time.Hour), time.Minute)

	with := func(f func(*Bundle)) Bundle { c := b; f(&c); return c }
	cases := []struct {
		name   string
		b      Bundle
		at     time.Duration
		want   Action
		sameCA bool // the CA must survive the step
	}{
		{"steady", b, time.Second, ActionNone, true},
		{"serving due", b, 7 * time.Second, ActionIssueServing, true},
		{"serving expired", b, 11 * time.Second, ActionIssueServing, true},
		{"CA corrupt", with(func(b *Bundle) { b.CACert = []byte("junk") }), 0, ActionReplace, false},
		{"CA key mismatched", with(func(b *Bundle) { b.CAKey = other.KeyPEM }), 0, ActionReplace, false},
		{"CA is not a CA", with(func(b *Bundle) { b.CACert, b.CAKey = b.TLSCert, b.TLSKey }), 0, ActionReplace, false},
		{"CA expired", with(func(b *Bundle) {
			b.CACert, b.CAKey, b.CABundle = expiredCA.CertPEM, expiredCA.KeyPEM, expiredCA.CertPEM
		}), 0, ActionReplace, false},
		{"bundle missing", with(func(b *Bundle) { b.CABundle = nil }), 0, ActionRepairBundle, true},
		{"bundle corrupt", with(func(b *Bundle) { b.CABundle = []byte("junk") }), 0, ActionRepairBundle, true},
		{"bundle lacks the CA", with(func(b *Bundle) { b.CABundle = other.CertPEM }), 0, ActionRepairBundle, true},
		{"serving corrupt", with(func(b *Bundle) { b.TLSCert = []byte("junk") }), 0, ActionIssueServing, true},
		{"serving key missing", with(func(b *Bundle) { b.TLSKey = nil }), 0, ActionIssueServing, true},
		{"serving wrong DNS name", with(func(b *Bundle) {
			s := mustServing(t, ca, []string{"elsewhere"}, now, 10*time.Second)
			b.TLSCert, b.TLSKey = s.CertPEM, s.KeyPEM
		}), 0, ActionIssueServing, true},
		{"serving from a foreign CA", with(func(b *Bundle) {
			s := mustServing(t, other, p.DNSNames, now, 10*time.Second)
			b.TLSCert, b.TLSKey = s.CertPEM, s.KeyPEM
		}), 0, ActionIssueServing, true},
		{"CA due", b, 21 * time.Second, ActionAddCA, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := now.Add(tc.at)
			if tc.name == "CA due" {
				// Keep the serving certificate fresh so that only the CA is due.
				s := mustServing(t, ca, p.DNSNames, at, 10*time.Second)
				tc.b.TLSCert, tc.b.TLSKey = s.CertPEM, s.KeyPEM
			}
			d := next(t, p, Observation{Exists: true, Bundle: tc.b}, at)
			if d.Action != tc.want {
				t.Fatalf("got %s (%s), want %s", d.Action, d.Reason, tc.want)
			}
			if tc.want != ActionNone && tc.sameCA && !bytes.Equal(d.Bundle.CACert, tc.b.CACert) {
				t.Errorf("%s replaced the CA, want it kept", d.Action)
			}
			if tc.want == ActionNone {
				return
			}
			if d2 := next(t, p, Observation{Exists: true, Bundle: d.Bundle, InjectedAt: at, ServingSeenAt: at}, at); d2.Action != ActionNone && tc.want != ActionAddCA {
				t.Errorf("after %s: got %s (%s), want %s: one step must settle it", d.Action, d2.Action, d2.Reason, ActionNone)
			}
		})
	}
}

// TestPolicyCARotationStages walks one CA rotation and checks each wait.
func TestPolicyCARotationStages(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	t0 := testNow
	b := next(t, p, Observation{}, t0).Bundle
	oldCA, _ := DecodeCerts(b.CACert)

	// At 21s the CA has 9s left, less than a serving certificate's life:
	// stage 1. (The serving certificate is fresh, so only the CA is due.)
	at := t0.Add(21 * time.Second)
	ca, _ := ParseKeyPair(b.CACert, b.CAKey)
	fresh := mustServing(t, ca, p.DNSNames, at, p.ServingValidity)
	b.TLSCert, b.TLSKey = fresh.CertPEM, fresh.KeyPEM
	d := next(t, p, Observation{Exists: true, Bundle: b}, at)
	if d.Action != ActionAddCA {
		t.Fatalf("at 21s: got %s (%s), want %s", d.Action, d.Reason, ActionAddCA)
	}
	if !bytes.Equal(d.Bundle.TLSCert, b.TLSCert) {
		t.Error("add-ca changed the serving certificate")
	}
	trusted, _ := DecodeCerts(d.Bundle.CABundle)
	newCA, _ := DecodeCerts(d.Bundle.CACert)
	if len(trusted) != 2 || !trusted[0].Equal(newCA[0]) || !trusted[1].Equal(oldCA[0]) {
		t.Fatalf("bundle after add-ca: %d CAs, want [new, old]", len(trusted))
	}
	b = d.Bundle
	stage1 := b

	// Stage 2 waits for injection, then for Overlap.
	if d := next(t, p, Observation{Exists: true, Bundle: b}, at.Add(5*time.Second)); d.Action != ActionNone || !strings.Contains(d.Reason, "injected") {
		t.Errorf("not injected: got %s (%s), want to wait for injection", d.Action, d.Reason)
	}
	injected := at.Add(100 * time.Millisecond)
	d = next(t, p, Observation{Exists: true, Bundle: b, InjectedAt: injected}, injected.Add(500*time.Millisecond))
	if d.Action != ActionNone || !d.RecheckAt.Equal(injected.Add(p.Overlap)) {
		t.Errorf("injected 0.5s ago: got %s at %v, want to wait until %v", d.Action, d.RecheckAt, injected.Add(p.Overlap))
	}
	at = injected.Add(p.Overlap)
	d = next(t, p, Observation{Exists: true, Bundle: b, InjectedAt: injected}, at)
	if d.Action != ActionSwitchServing {
		t.Fatalf("after overlap: got %s (%s), want %s", d.Action, d.Reason, ActionSwitchServing)
	}
	serving, _ := DecodeCerts(d.Bundle.TLSCert)
	if serving[0].CheckSignatureFrom(newCA[0]) != nil || !bytes.Equal(d.Bundle.CABundle, b.CABundle) {
		t.Fatal("switch-serving: want a serving certificate from the new CA and the bundle unchanged")
	}
	b = d.Bundle

	// Stage 3 waits Overlap after the serving certificate appeared.
	seen := at
	d = next(t, p, Observation{Exists: true, Bundle: b, InjectedAt: injected, ServingSeenAt: seen}, seen.Add(time.Second/2))
	if d.Action != ActionNone || !d.RecheckAt.Equal(seen.Add(p.Overlap)) {
		t.Errorf("serving new for 0.5s: got %s at %v, want to wait until %v", d.Action, d.RecheckAt, seen.Add(p.Overlap))
	}
	d = next(t, p, Observation{Exists: true, Bundle: b, InjectedAt: injected, ServingSeenAt: seen}, seen.Add(p.Overlap))
	if d.Action != ActionDropCA {
		t.Fatalf("after overlap: got %s (%s), want %s", d.Action, d.Reason, ActionDropCA)
	}
	if !bytes.Equal(d.Bundle.CABundle, d.Bundle.CACert) {
		t.Error("drop-ca: want the bundle to be the new CA alone")
	}

	// An expired old CA goes at once, whatever the clock says.
	d = next(t, p, Observation{Exists: true, Bundle: b}, oldCA[0].NotAfter.Add(-time.Millisecond))
	if d.Action == ActionDropCA || (d.Action != ActionNone && !bytes.Equal(d.Bundle.CABundle, b.CABundle)) {
		t.Errorf("old CA valid, serving seen time unknown: got %s, want the old CA kept", d.Action)
	}
	if d := next(t, p, Observation{Exists: true, Bundle: b}, oldCA[0].NotAfter); d.Action != ActionDropCA {
		t.Errorf("old CA expired: got %s, want %s", d.Action, ActionDropCA)
	}

	// A serving certificate falling due (it was cut at the old CA's expiry,
	// 30s) while the bundle propagates switches as soon as the bundle is
	// injected, without waiting for Overlap.
	due := t0.Add(27 * time.Second)
	if d := next(t, p, Observation{Exists: true, Bundle: stage1}, due); d.Action != ActionNone {
		t.Errorf("due, not injected: got %s, want %s", d.Action, ActionNone)
	}
	if d := next(t, p, Observation{Exists: true, Bundle: stage1, InjectedAt: due.Add(-time.Millisecond)}, due); d.Action != ActionSwitchServing {
		t.Errorf("due, just injected: got %s, want %s", d.Action, ActionSwitchServing)
	}
}

// TestPolicySimulation runs the state machine over several CA lifetimes. The
// rotator injects each bundle as it writes it; clients (which trust the
// injected bundle) and replicas (which serve the Secret's certificate) may
// each see changes up to lag late, lag < Overlap. Every pair of what a
// replica may serve and what a client may trust must verify: that is "no
// failed handshake" during rotation.
func TestPolicySimulation(t *testing.T) {
	t.Parallel()
	p := testPolicy(t)
	const (
		step = 50 * time.Millisecond
		lag  = 900 * time.Millisecond
		span = 100 * time.Second
	)
	type write struct {
		at      time.Time
		b       Bundle
		leaf    *x509.Certificate
		trusted []*x509.Certificate
	}
	var hist []write
	asOf := func(at time.Time) int {
		i := len(hist) - 1
		for i > 0 && hist[i].at.After(at) {
			i--
		}
		return i
	}
	// Chain checks are memoised per (served, trusted) pair; validity
	// periods are checked at every step.
	issuers := map[[2]int]*x509.Certificate{}
	var (
		injectedAt, seenAt time.Time
		actions            []Action
		trustedCounts      []int
	)
	for now := testNow; now.Before(testNow.Add(span)); now = now.Add(step) {
		obs := Observation{Exists: len(hist) > 0}
		if obs.Exists {
			obs.Bundle, obs.InjectedAt, obs.ServingSeenAt = hist[len(hist)-1].b, injectedAt, seenAt
		}
		d := next(t, p, obs, now)
		if d.Action != ActionNone {
			if !bytes.Equal(obs.Bundle.CABundle, d.Bundle.CABundle) {
				injectedAt = now
			}
			if !bytes.Equal(obs.Bundle.TLSCert, d.Bundle.TLSCert) {
				seenAt = now
			}
			leaf, _ := DecodeCerts(d.Bundle.TLSCert)
			trusted, _ := DecodeCerts(d.Bundle.CABundle)
			hist = append(hist, write{now, d.Bundle, leaf[0], trusted})
			actions = append(actions, d.Action)
			trustedCounts = append(trustedCounts, len(trusted))
		}
		if now.Before(testNow.Add(lag)) {
			continue
		}
		for _, clientLag := range []time.Duration{0, lag / 2, lag} {
			for _, serverLag := range []time.Duration{0, lag / 2, lag} {
				pair := [2]int{asOf(now.Add(-serverLag)), asOf(now.Add(-clientLag))}
				served, trusted := hist[pair[0]].leaf, hist[pair[1]].trusted
				ca, seen := issuers[pair]
				if !seen {
					ca = issuer(served, trusted, now)
					issuers[pair] = ca
				}
				err := fmt.Errorf("%w: no trusted CA verifies it", ErrWrongCA)
				if ca != nil {
					if err = validityAt(served, now); err == nil {
						err = validityAt(ca, now)
					}
				}
				if err != nil {
					t.Fatalf("at %v (server %v late, client %v late): handshake would fail: %v\nactions so far: %v",
						now.Sub(testNow), serverLag, clientLag, err, actions)
				}
			}
		}
	}

	// Four CA rotations in 100s (CA 30s, rotated with 10s left), each in
	// order, and no churn: renewals every ~6.7s plus three steps per
	// rotation.
	var stages []Action
	for _, a := range actions {
		if a == ActionAddCA || a == ActionSwitchServing || a == ActionDropCA {
			stages = append(stages, a)
		}
	}
	want := slices.Repeat([]Action{ActionAddCA, ActionSwitchServing, ActionDropCA}, 4)
	if !slices.Equal(stages, want) {
		t.Errorf("CA rotation steps = %v, want %v", stages, want)
	}
	if actions[0] != ActionCreate || len(actions) > 40 {
		t.Errorf("%d writes %v: want a create first and at most 40", len(actions), actions)
	}
	if slices.Max(trustedCounts) != 2 {
		t.Errorf("bundle sizes %v: want at most 2 CAs", trustedCounts)
	}
}
