// Command modeguard checks and fixes Grafana Agent / Alloy manifests offline
// with the same engine the modeguard webhook runs, and tests Rego policies.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // a finding denies (or warns, with --fail-on warn), or a Rego test fails
	exitUsage    = 2 // bad flags, unreadable or invalid input
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRoot(stdin, stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "modeguard:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors: unknown flags, wrong argument counts.
	fmt.Fprintln(stderr, "modeguard:", err)
	return exitUsage
}
