// Package certs gives the modeguard webhook its TLS: a CA and serving
// certificate, kept valid, rotated without a failed handshake, and trusted
// by the kube-apiserver through the webhook configurations' caBundle.
//
// # Pieces
//
//   - Pure functions: GenerateCA and GenerateServing (ECDSA P-256, random
//     128-bit serials, CA limited to leaves, serving certificates for server
//     authentication only), PEM helpers, DNSNames for a Service, and
//     Validate, which says why a bundle cannot serve with sentinel errors
//     (ErrExpired, ErrNotYetValid, ErrWrongDNSName, ErrWrongCA, ErrRenewSoon,
//     ErrCorrupt).
//   - Policy.Next, the rotation state machine, also pure: given the Secret's
//     content and what the rotator has observed, the next Action.
//   - Rotator (leader only): keeps a Secret (ca.crt, ca.key, tls.crt,
//     tls.key, ca-bundle.crt) valid and injects ca-bundle.crt into every
//     webhook of the named MutatingWebhookConfiguration and
//     ValidatingWebhookConfiguration when it differs.
//   - Keeper (every replica): serves the current certificate through
//     GetCertificate, so a rotated one is served without a restart; Ready
//     for the readiness probe; the gauge modeguard_cert_expiry_timestamp_seconds;
//     loud logs that say what to do when the served certificate is unusable.
//   - WriteFiles: a CA and serving certificate on disk, for local runs.
//   - Mode and NewStack: the pieces a mode needs, wired into a manager.
//
// # Modes
//
// In ModeSelfManaged the leader's Rotator is the only writer and the Secret
// the source of truth; every replica's Keeper reads the Secret through the
// API (watch plus a periodic re-read), so the Secret need not be mounted and
// a replica can start before it exists. In ModeCertManager cert-manager
// writes a mounted directory and its cainjector fills caBundle; the Keeper
// serves what is mounted (reloaded by controller-runtime's certwatcher) and
// nothing is injected.
//
// # Rotation
//
// The serving certificate is renewed from the same CA once less than
// Policy.ServingRenewBefore is left: nothing changes for clients. A CA with
// less than Policy.CARenewBefore (or less than one serving lifetime) left is
// rotated in three steps, so that every replica always serves a certificate
// every client trusts:
//
//  1. a new CA becomes the signer and joins ca-bundle.crt next to the old
//     one; the bundle is injected;
//  2. Policy.Overlap after the bundle was injected everywhere, the serving
//     certificate is reissued by the new CA;
//  3. Policy.Overlap after that, the old CA leaves the bundle (at once if it
//     has expired).
//
// A corrupt or mismatched Secret is repaired with the least change: a bad CA
// means a new CA and serving certificate; a bad bundle is rebuilt around the
// CA; a bad serving certificate is reissued. Every write carries the
// resourceVersion that was read, so two writers never overwrite each other:
// the loser re-reads and finds nothing left to do. The Keeper never swaps a
// usable certificate for an unusable one.
//
// # Wiring
//
//	stack, err := certs.NewStack(cfg, certs.Options{Service: "modeguard", Namespace: ns, ...})
//	mgr, err := manager.New(cfg, manager.Options{
//		LeaderElection: true,
//		WebhookServer:  webhook.NewServer(webhook.Options{TLSOpts: []func(*tls.Config){stack.ConfigureTLS}}),
//	})
//	err = stack.AddToManager(mgr) // Keeper, Rotator (leader only), readyz check "certs"
//
// ConfigureTLS, rather than the webhook server's CertDir, lets the server
// start before any certificate exists: handshakes fail and the readiness
// check keeps the replica out of the Service until one is loaded.
//
// RBAC in self-managed mode: get, list, watch, create, update on Secrets in
// the namespace, and get, list, watch, update on the two webhook
// configurations; every list and watch selects metadata.name, so
// resourceNames can restrict all of them to the named objects.
//
// # Why not cert-controller
//
// open-policy-agent/cert-controller's rotator is the model (a Secret as the
// source of truth, a look-ahead, caBundle injection, readiness gated on
// certificates), and v0.16.0 builds against this module's
// controller-runtime. It is not used because it issues serials 0 and 1,
// replaces CA and serving certificate together with a caBundle of the new CA
// only (handshakes fail until every party has caught up), can os.Exit on
// refresh, updates webhook configurations on every reconcile, and pulls in
// apiextensions, kube-aggregator and Gatekeeper's framework for injection
// targets modeguard does not have.
//
// This package knows nothing of policy, River, admission requests or which
// objects the webhook handles: only certificates, one Secret and two webhook
// configurations by name.
package certs
