package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modeguard/modeguard/webhook/admit"
)

func TestRequestTimeoutFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fs, o, _ := flags(&out)
	if o.RequestTimeout != admit.DefaultTimeout {
		t.Errorf("default --request-timeout %v, want %v", o.RequestTimeout, admit.DefaultTimeout)
	}
	if err := fs.Parse([]string{"--request-timeout=1500ms"}); err != nil {
		t.Fatal(err)
	}
	if o.RequestTimeout != 1500*time.Millisecond {
		t.Errorf("--request-timeout=1500ms: got %v", o.RequestTimeout)
	}
	fs.Usage()
	if !strings.Contains(out.String(), "request-timeout") {
		t.Errorf("--help does not mention request-timeout")
	}
	for _, bad := range []string{"0", "-1s", "soon"} {
		var stdout, stderr bytes.Buffer
		if code := runArgs(context.Background(), []string{"--request-timeout=" + bad}, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("--request-timeout=%s: exit %d, stderr %q, want 2 and a message", bad, code, stderr.String())
		}
	}
}

func TestProfilingFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	fs, o, _ := flags(&out)
	if o.Profiling {
		t.Error("profiling on by default; want off")
	}
	if err := fs.Parse([]string{"--profiling"}); err != nil {
		t.Fatal(err)
	}
	if !o.Profiling {
		t.Error("--profiling did not turn profiling on")
	}
}
