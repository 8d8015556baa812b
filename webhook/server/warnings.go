package server

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
)

// quietWarnings is the warning handler of modeguard's own API clients (the
// reconciler's re-submissions, the certificate rotator). The API server
// sends back the admission warnings modeguard's webhooks gave: fix lines
// with config positions, which the webhook already answered with and
// controller-runtime's default handler would log again at info level. They
// are logged at debug level, without their text.
type quietWarnings struct{ log logr.Logger }

var _ rest.WarningHandlerWithContext = quietWarnings{}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (q quietWarnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || text == "" { // only 299 is a warning (as client-go's handlers)
		return
	}
	q.log.V(1).Info("The API server answered a request of modeguard with a warning (text not logged)", "bytes", len(text))
}
