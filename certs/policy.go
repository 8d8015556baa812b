package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Default validities and timings of a Policy.
const (
	DefaultCAValidity      = 2 * 365 * 24 * time.Hour
	DefaultServingValidity = 90 * 24 * time.Hour
	DefaultOverlap         = 5 * time.Minute
)

// Policy says how long certificates live and when they are replaced. Its Next
// method is the rotation state machine, a pure function of what is stored and
// what has been observed.
type Policy struct {
	// DNSNames the serving certificate must cover (see DNSNames).
	DNSNames []string
	// CAValidity and ServingValidity are the lifetimes of new certificates
	// (defaults DefaultCAValidity, DefaultServingValidity).
	CAValidity      time.Duration
	ServingValidity time.Duration
	// CARenewBefore and ServingRenewBefore are the look-aheads: a certificate
	// with less validity left is replaced (default: a third of its validity).
	// The CA is also rotated once it has less than ServingValidity left, so
	// that every serving certificate gets its full lifetime.
	CARenewBefore      time.Duration
	ServingRenewBefore time.Duration
	// Overlap is how long a new CA bundle must have been injected before the
	// serving certificate switches to the new CA, and how long that serving
	// certificate must have been in the Secret before the old CA leaves the
	// bundle. It covers the kube-apiserver picking up the webhook
	// configuration and every replica loading the new certificate (default
	// DefaultOverlap; it must be less than ServingRenewBefore).
	Overlap time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	if p.CAValidity == 0 {
		p.CAValidity = DefaultCAValidity
	}
	if p.ServingValidity == 0 {
		p.ServingValidity = DefaultServingValidity
	}
	if p.CARenewBefore == 0 {
		p.CARenewBefore = p.CAValidity / 3
	}
	if p.ServingRenewBefore == 0 {
		p.ServingRenewBefore = p.ServingValidity / 3
	}
	if p.Overlap == 0 {
		p.Overlap = DefaultOverlap
	}
	return p
}

// Check reports settings that would make the rotator churn or stall.
func (p Policy) Check() error {
	var errs []error
	if len(p.DNSNames) == 0 {
		errs = append(errs, errors.New("no DNS names"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"CA validity", p.CAValidity}, {"serving validity", p.ServingValidity}, {"CA renew-before", p.CARenewBefore}, {"serving renew-before", p.ServingRenewBefore}, {"overlap", p.Overlap}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v is not positive", d.name, d.v))
		}
	}
	if p.CARenewBefore >= p.CAValidity {
		errs = append(errs, fmt.Errorf("CA renew-before %v must be less than the CA validity %v", p.CARenewBefore, p.CAValidity))
	}
	if p.ServingValidity >= p.CAValidity {
		errs = append(errs, fmt.Errorf("serving validity %v must be less than the CA validity %v", p.ServingValidity, p.CAValidity))
	}
	if p.ServingRenewBefore >= p.ServingValidity {
		errs = append(errs, fmt.Errorf("serving renew-before %v must be less than the serving validity %v", p.ServingRenewBefore, p.ServingValidity))
	}
	if p.Overlap >= p.ServingRenewBefore {
		errs = append(errs, fmt.Errorf("overlap %v must be less than the serving renew-before %v", p.Overlap, p.ServingRenewBefore))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("certificate policy: %w", err)
	}
	return nil
}

// Action is one step of the rotation state machine.
type Action string

// The steps Policy.Next can take. Each writes the whole Bundle; the rotator
// then injects its CABundle into the webhook configurations.
const (
	// ActionNone: nothing to write (possibly waiting, see Decision.RecheckAt).
	ActionNone Action = "none"
	// ActionCreate: there is no Secret: a new CA and serving certificate.
	ActionCreate Action = "create"
	// ActionReplace: the CA is unusable (corrupt, not a CA, expired): a new
	// CA and serving certificate, the bundle reset to the new CA.
	ActionReplace Action = "replace"
	// ActionRepairBundle: the CA is fine but the bundle is missing, corrupt
	// or lacks it: the bundle becomes the CA plus what was still usable.
	ActionRepairBundle Action = "repair-bundle"
	// ActionIssueServing: the serving certificate is unusable or within its
	// look-ahead: a new one from the current CA.
	ActionIssueServing Action = "issue-serving"
	// ActionAddCA: the CA is within its look-ahead: a new CA becomes the
	// signer and joins the bundle; the serving certificate stays as it is.
	ActionAddCA Action = "add-ca"
	// ActionSwitchServing: the bundle with both CAs has been injected for
	// Overlap: a serving certificate from the new CA.
	ActionSwitchServing Action = "switch-serving"
	// ActionDropCA: the serving certificate from the new CA has been in
	// place for Overlap (or an old CA expired): old CAs leave the bundle.
	ActionDropCA Action = "drop-ca"
)

// Observation is what the rotator knows when it calls Next.
type Observation struct {
	// Exists is false when there is no Secret.
	Exists bool
	// Bundle is the Secret's content.
	Bundle Bundle
	// InjectedAt is when every webhook configuration was first seen carrying
	// Bundle.CABundle; zero when some does not (yet).
	InjectedAt time.Time
	// ServingSeenAt is when Bundle.TLSCert was first seen in the Secret;
	// zero when unknown.
	ServingSeenAt time.Time
}

// Decision is the outcome of Next.
type Decision struct {
	Action Action
	// Reason says why, for the log.
	Reason string
	// Bundle is what to write when Action is not ActionNone.
	Bundle Bundle
	// RecheckAt, when not zero, is when a waiting stage can move on.
	RecheckAt time.Time
}

// Next decides the next step for what obs describes at now. The order of
// CA rotation is what keeps every TLS handshake working: the new CA enters
// the bundle (and the webhook configurations) first, the serving certificate
// changes issuer only after Overlap, and the old CA leaves after another
// Overlap. Errors come only from key generation.
//
// p must have passed Check (after WithDefaults).
func (p Policy) Next(obs Observation, now time.Time) (Decision, error) {
	if !obs.Exists {
		return p.fresh(ActionCreate, "no certificate Secret", now)
	}
	b := obs.Bundle

	// The signing CA.
	ca, err := ParseKeyPair(b.CACert, b.CAKey)
	if err != nil {
		return p.fresh(ActionReplace, "CA: "+err.Error(), now)
	}
	if !ca.Cert.IsCA || !ca.Cert.BasicConstraintsValid {
		return p.fresh(ActionReplace, "CA: "+ErrWrongCA.Error()+": it is not a CA", now)
	}
	if err := validityAt(ca.Cert, now); err != nil {
		return p.fresh(ActionReplace, "CA: "+err.Error(), now)
	}

	// The trusted bundle must hold the CA and nothing unusable.
	trusted, bundleErr := DecodeCerts(b.CABundle)
	if bundleErr != nil || !contains(trusted, ca.Cert) {
		reason := "CA bundle lacks the CA"
		if bundleErr != nil {
			reason = "CA bundle: " + bundleErr.Error()
		}
		kept := []*x509.Certificate{ca.Cert}
		for _, c := range trusted {
			if c.IsCA && !c.Equal(ca.Cert) && validityAt(c, now) == nil {
				kept = append(kept, c)
			}
		}
		nb := b
		nb.CABundle = EncodeCerts(kept...)
		return Decision{Action: ActionRepairBundle, Reason: reason, Bundle: nb}, nil
	}

	// The serving certificate must work now, whoever signed it.
	serving, err := ParseKeyPair(b.TLSCert, b.TLSKey)
	if err == nil {
		err = validateServing(serving.Cert, trusted, p.DNSNames, now, 0)
	}
	if err != nil {
		return p.issue(ActionIssueServing, "serving certificate: "+err.Error(), b, ca, now)
	}
	servingDue := serving.Cert.NotAfter.Sub(now) < p.ServingRenewBefore
	signedByCA := serving.Cert.CheckSignatureFrom(ca.Cert) == nil
	rotating := !signedByCA || len(trusted) > 1

	// Stage 1: a new CA joins the bundle and becomes the signer.
	caLeft := ca.Cert.NotAfter.Sub(now)
	if !rotating && (caLeft < p.CARenewBefore || caLeft < p.ServingValidity) {
		next, err := GenerateCA(now, p.CAValidity)
		if err != nil {
			return Decision{}, err
		}
		nb := b
		nb.CACert, nb.CAKey = next.CertPEM, next.KeyPEM
		nb.CABundle = EncodeCerts(next.Cert, ca.Cert)
		return Decision{Action: ActionAddCA, Reason: fmt.Sprintf("CA %s expires in %v", describe(ca.Cert), caLeft.Round(time.Second)), Bundle: nb}, nil
	}

	// Stage 2: once clients trust the new CA, the serving certificate
	// follows. A serving certificate that falls due switches as soon as
	// the bundle is injected.
	if !signedByCA {
		injected := !obs.InjectedAt.IsZero()
		if injected && (servingDue || !now.Before(obs.InjectedAt.Add(p.Overlap))) {
			return p.issue(ActionSwitchServing, "CA bundle with the new CA injected since "+obs.InjectedAt.UTC().Format(time.RFC3339), b, ca, now)
		}
		d := Decision{Action: ActionNone, Reason: "waiting for the CA bundle with the new CA to be injected"}
		if injected {
			d.Reason = "waiting for the CA bundle to propagate before switching the serving certificate"
			d.RecheckAt = obs.InjectedAt.Add(p.Overlap)
		}
		return d, nil
	}

	// Stage 3: once every replica serves the new certificate, old CAs go;
	// an expired one goes at once.
	if len(trusted) > 1 {
		settled := !obs.ServingSeenAt.IsZero() && !now.Before(obs.ServingSeenAt.Add(p.Overlap))
		kept := []*x509.Certificate{ca.Cert}
		for _, c := range trusted {
			if !c.Equal(ca.Cert) && !settled && validityAt(c, now) == nil {
				kept = append(kept, c)
			}
		}
		if len(kept) < len(trusted) {
			nb := b
			nb.CABundle = EncodeCerts(kept...)
			return Decision{Action: ActionDropCA, Reason: fmt.Sprintf("%d old CA(s) no longer needed", len(trusted)-len(kept)), Bundle: nb}, nil
		}
		if !servingDue {
			d := Decision{Action: ActionNone, Reason: "waiting for every replica to serve the new certificate before dropping the old CA"}
			if !obs.ServingSeenAt.IsZero() {
				d.RecheckAt = obs.ServingSeenAt.Add(p.Overlap)
			}
			return d, nil
		}
	}

	if servingDue {
		return p.issue(ActionIssueServing, fmt.Sprintf("serving certificate %s expires in %v", describe(serving.Cert), serving.Cert.NotAfter.Sub(now).Round(time.Second)), b, ca, now)
	}
	return Decision{Action: ActionNone, Reason: "certificates valid"}, nil
}

// fresh starts over: a new CA, a serving certificate from it, a bundle of it.
func (p Policy) fresh(a Action, reason string, now time.Time) (Decision, error) {
	ca, err := GenerateCA(now, p.CAValidity)
	if err != nil {
		return Decision{}, err
	}
	d, err := p.issue(a, reason, Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, CABundle: ca.CertPEM}, ca, now)
	return d, err
}

// issue replaces the serving certificate in b with a new one from ca.
func (p Policy) issue(a Action, reason string, b Bundle, ca *KeyPair, now time.Time) (Decision, error) {
	s, err := GenerateServing(ca, p.DNSNames, now, p.ServingValidity)
	if err != nil {
		return Decision{}, err
	}
	b.TLSCert, b.TLSKey = s.CertPEM, s.KeyPEM
	return Decision{Action: a, Reason: reason, Bundle: b}, nil
}
