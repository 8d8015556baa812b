package certs

import (
	"errors"
	"testing"
	"time"
)

// bundleOf makes a self-managed Bundle from a CA and a serving pair, trusting
// the given CAs (default: ca).
func bundleOf(ca, serving *KeyPair, trusted ...*KeyPair) Bundle {
	if len(trusted) == 0 {
		trusted = []*KeyPair{ca}
	}
	var pem []byte
	for _, c := range trusted {
		pem = append(pem, c.CertPEM...)
	}
	return Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, TLSCert: serving.CertPEM, TLSKey: serving.KeyPEM, CABundle: pem}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	names := DNSNames("svc", "ns")
	day := 24 * time.Hour
	ca := mustCA(t, testNow.Add(-day), 30*day)
	other := mustCA(t, testNow.Add(-day), 30*day)
	good := mustServing(t, ca, names, testNow.Add(-time.Hour), 10*day)
	expiredCA := mustCA(t, testNow.Add(-10*day), day)

	cases := []struct {
		name      string
		b         Bundle
		names     []string
		lookAhead time.Duration
		want      error
	}{
		{"valid", bundleOf(ca, good), names, 0, nil},
		{"valid within look-ahead", bundleOf(ca, good), names, 9 * day, nil},
		{"valid without CA key (cert-manager)", Bundle{CACert: ca.CertPEM, TLSCert: good.CertPEM, TLSKey: good.KeyPEM}, names, 0, nil},
		{"valid without any CA (chain unchecked)", Bundle{TLSCert: good.CertPEM, TLSKey: good.KeyPEM}, names, 0, nil},
		{"valid during CA rotation: old issuer still trusted", bundleOf(other, good, other, ca), names, 0, nil},
		{"valid for a subset of names", bundleOf(ca, good), names[:1], 0, nil},

		{"expired", bundleOf(ca, mustServing(t, ca, names, testNow.Add(-3*day), day)), names, 0, ErrExpired},
		{"expired exactly now", bundleOf(ca, mustServing(t, ca, names, testNow.Add(-day), day)), names, 0, ErrExpired},
		{"not yet valid", bundleOf(ca, mustServing(t, ca, names, testNow.Add(time.Hour), day)), names, 0, ErrNotYetValid},
		{"wrong DNS name", bundleOf(ca, mustServing(t, ca, DNSNames("other", "ns"), testNow, day)), names, 0, ErrWrongDNSName},
		{"missing one DNS name", bundleOf(ca, mustServing(t, ca, names[:3], testNow, day)), names, 0, ErrWrongDNSName},
		{"wrong CA", bundleOf(ca, mustServing(t, other, names, testNow, day)), names, 0, ErrWrongCA},
		{"CA not in bundle", bundleOf(ca, good, other), names, 0, ErrWrongCA},
		{"CA is not a CA", Bundle{CACert: good.CertPEM, CAKey: good.KeyPEM, TLSCert: good.CertPEM, TLSKey: good.KeyPEM, CABundle: good.CertPEM}, names, 0, ErrWrongCA},
		{"CA expired", bundleOf(expiredCA, good, expiredCA, ca), names, 0, ErrExpired},
		{"CA not yet valid", bundleOf(mustCA(t, testNow.Add(day), day), good), names, 0, ErrNotYetValid},
		{"renew soon", bundleOf(ca, good), names, 10 * day, ErrRenewSoon},
		{"renew soon: cut at the CA's expiry", bundleOf(ca, mustServing(t, ca, names, testNow, 40*day)), names, 30 * day, ErrRenewSoon},

		{"corrupt: empty", Bundle{}, names, 0, ErrCorrupt},
		{"corrupt: serving PEM", Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, TLSCert: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), TLSKey: good.KeyPEM, CABundle: ca.CertPEM}, names, 0, ErrCorrupt},
		{"corrupt: serving key", Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, TLSCert: good.CertPEM, TLSKey: []byte("nope"), CABundle: ca.CertPEM}, names, 0, ErrCorrupt},
		{"corrupt: serving key mismatched", Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, TLSCert: good.CertPEM, TLSKey: ca.KeyPEM, CABundle: ca.CertPEM}, names, 0, ErrCorrupt},
		{"corrupt: CA key", Bundle{CACert: ca.CertPEM, CAKey: other.KeyPEM, TLSCert: good.CertPEM, TLSKey: good.KeyPEM, CABundle: ca.CertPEM}, names, 0, ErrCorrupt},
		{"corrupt: CA cert", Bundle{CACert: []byte("x"), TLSCert: good.CertPEM, TLSKey: good.KeyPEM, CABundle: ca.CertPEM}, names, 0, ErrCorrupt},
		{"corrupt: bundle", Bundle{CACert: ca.CertPEM, CAKey: ca.KeyPEM, TLSCert: good.CertPEM, TLSKey: good.KeyPEM, CABundle: []byte("garbage")}, names, 0, ErrCorrupt},
	}
	sentinels := []error{ErrExpired, ErrNotYetValid, ErrWrongDNSName, ErrWrongCA, ErrRenewSoon, ErrCorrupt}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.b, tc.names, testNow, tc.lookAhead)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate: got %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("Validate: %v also matches %v", err, s)
				}
			}
		})
	}
}

func TestBundleData(t *testing.T) {
	t.Parallel()
	b := Bundle{CACert: []byte("1"), CAKey: []byte("2"), TLSCert: []byte("3"), TLSKey: []byte("4"), CABundle: []byte("5")}
	data := map[string][]byte{"other": []byte("kept")}
	b.SetData(data)
	if got := BundleFromData(data); !got.Equal(b) {
		t.Errorf("round trip: got %+v, want %+v", got, b)
	}
	if string(data["other"]) != "kept" || len(data) != 6 {
		t.Errorf("SetData touched other keys: %v", data)
	}
	if got := (Bundle{CACert: []byte("ca")}).Trusted(); string(got) != "ca" {
		t.Errorf("Trusted without bundle = %q, want ca.crt", got)
	}
}
