// Package metricstest reads metrics back, for tests and the reliability
// harness: the families gathered from a registry or parsed from a /metrics
// scrape, and the sum of a metric's series by label. Only tests and test
// tools import it, so the webhook binary does not carry the text parser.
package metricstest
