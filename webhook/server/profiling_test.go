package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProfilingHandlers: off, the metrics server gets no extra handler;
// on, /debug/pprof/ lists the profiles and /debug/pprof/heap serves one.
func TestProfilingHandlers(t *testing.T) {
	if hs := profilingHandlers(false); hs != nil {
		t.Errorf("off: %d handlers; want none", len(hs))
	}
	mux := http.NewServeMux()
	for path, h := range profilingHandlers(true) {
		mux.Handle(path, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{"/debug/pprof/": "heap", "/debug/pprof/heap?debug=1": "heap profile", "/debug/pprof/cmdline": ""} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, %.100q; want 200 with %q", path, resp.Status, body, want)
		}
	}
}
