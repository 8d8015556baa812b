// Command modeguard-webhook is the modeguard admission webhook: a mutating
// webhook (/mutate) that fixes Grafana Agent (Flow) and Alloy workloads and
// their ConfigMaps for their deployment mode, and a validating webhook
// (/validate) that denies what cannot be fixed. See package server for what
// runs, and `modeguard-webhook --help` for the flags.
//
//	modeguard-webhook [flags]
//	modeguard-webhook certs --dir DIR [--service S] [--namespace N] [--validity D]
//
// The certs subcommand writes a CA (ca.crt) and a serving pair (tls.crt,
// tls.key) for local runs and the demo (--cert-mode=dir --cert-dir DIR); put
// ca.crt into the webhook configurations' caBundle.
//
// main is wiring only: flags, then construction, then Run.
package main
