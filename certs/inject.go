package certs

import (
	"bytes"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// InjectMutating sets caBundle on every webhook of c to bundle and reports
// whether anything changed.
func InjectMutating(c *admissionregistrationv1.MutatingWebhookConfiguration, bundle []byte) bool {
	changed := false
	for i := range c.Webhooks {
		changed = setCABundle(&c.Webhooks[i].ClientConfig, bundle) || changed
	}
	return changed
}

// InjectValidating sets caBundle on every webhook of c to bundle and reports
// whether anything changed.
func InjectValidating(c *admissionregistrationv1.ValidatingWebhookConfiguration, bundle []byte) bool {
	changed := false
	for i := range c.Webhooks {
		changed = setCABundle(&c.Webhooks[i].ClientConfig, bundle) || changed
	}
	return changed
}

func setCABundle(cc *admissionregistrationv1.WebhookClientConfig, bundle []byte) bool {
	if bytes.Equal(cc.CABundle, bundle) {
		return false
	}
	cc.CABundle = append([]byte(nil), bundle...)
	return true
}
