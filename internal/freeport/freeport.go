// Package freeport hands out TCP ports for the processes tests and
// benchmarks start, each port at most once per process.
package freeport

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// handedOut holds every port On has returned in this process. The kernel
// may give a port just closed to the next bind to port 0, so two plain
// "listen on port 0, close, return the port" calls in a row can return
// the same port: a webhook once got its metrics and health addresses on
// one port and could not start.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// On returns a port on host's address that no listener holds now and that
// no earlier call in this process returned. Another process may still
// take it before the caller binds it.
func On(host string) (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port on %s that was not handed out already, after 100 tries", host)
}

// Loopback is On("127.0.0.1").
func Loopback() (int, error) { return On("127.0.0.1") }

// Addr is a "127.0.0.1:port" address from Loopback.
func Addr() (string, error) {
	p, err := Loopback()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}
