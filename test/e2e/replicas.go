package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Proxy spreads the connections made to the webhook's address over the
// replicas in turn: what a Service does (kube-proxy balances connections,
// not requests; round robin is its IPVS mode's default). In turn rather
// than at random, so that two connections always reach both replicas (at
// random, five went to one replica in one run of sixteen).
type Proxy struct {
	ln       net.Listener
	backends []string
	// Conns counts the connections sent to each backend.
	Conns []atomic.Int64
	next  int // the backend of the next connection
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  map[net.Conn]bool
}

func startProxy(addr string, backends []string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy on %s: %w", addr, err)
	}
	p := &Proxy{ln: ln, backends: backends, Conns: make([]atomic.Int64, len(backends)), open: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		i := p.next
		p.next = (p.next + 1) % len(p.backends)
		p.Conns[i].Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			out, err := net.DialTimeout("tcp", p.backends[i], 5*time.Second)
			if err != nil {
				in.Close()
				return
			}
			p.track(in, out)
			var both sync.WaitGroup
			both.Add(2)
			pipe := func(dst, src net.Conn) {
				defer both.Done()
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			go pipe(out, in)
			go pipe(in, out)
			both.Wait()
			p.untrack(in, out)
			in.Close()
			out.Close()
		}()
	}
}

func (p *Proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.open[c] = true
	}
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.open, c)
	}
}

// Close stops accepting, closes every proxied connection and waits.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// replica is a webhook process past the first, behind the Proxy.
type replica struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// setupReplicas plans n webhook processes, each on a port of its own
// (the first, startWebhook's, included), and puts a Proxy on the webhook's
// address in front of them. Call before startWebhook.
func (c *Cluster) setupReplicas(n int) error {
	var backends []string
	for i := 0; i < n; i++ {
		wp, err := freePort()
		if err != nil {
			return err
		}
		backends = append(backends, fmt.Sprintf("127.0.0.1:%d", wp))
	}
	p, err := startProxy(c.WebhookAddr, backends)
	if err != nil {
		return err
	}
	c.Proxy = p
	c.webhookArgs = withFlag(c.webhookArgs, "--webhook-port", strings.TrimPrefix(backends[0], "127.0.0.1:"))
	c.backends = backends
	c.webhookArgs = c.peerFlag(c.webhookArgs, 0)
	return nil
}

// peerFlag adds --dry-run-peers (every backend but the i-th) to args when
// Options.Peers asks for it.
func (c *Cluster) peerFlag(args []string, i int) []string {
	if !c.opts.Peers {
		return args
	}
	var others []string
	for j, b := range c.backends {
		if j != i {
			others = append(others, b)
		}
	}
	return withFlag(args, "--dry-run-peers", strings.Join(others, ","))
}

// startReplicas starts the processes setupReplicas planned past the first.
func (c *Cluster) startReplicas(ctx context.Context) error {
	if len(c.backends) < 2 {
		return nil
	}
	for i, b := range c.backends[1:] {
		mp, err := freePort()
		if err != nil {
			return err
		}
		hp, err := freePort()
		if err != nil {
			return err
		}
		args := withFlag(c.webhookArgs, "--webhook-port", strings.TrimPrefix(b, "127.0.0.1:"))
		args = withFlag(args, "--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", mp))
		args = withFlag(args, "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", hp))
		args = c.peerFlag(args, i+1)
		log := filepath.Join(c.opts.WorkDir, fmt.Sprintf("webhook-%d.log", i+2))
		f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd := exec.Command(c.opts.Webhook, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			f.Close()
			return err
		}
		r := &replica{cmd: cmd, done: make(chan error, 1), log: log}
		go func() { r.done <- cmd.Wait(); f.Close() }()
		c.replicas = append(c.replicas, r)
		c.logf("webhook replica %d (process %d) serving https://%s (log: %s)", i+2, cmd.Process.Pid, b, log)
		ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", hp)
		for deadline := time.Now().Add(time.Minute); ; {
			select {
			case err := <-r.done:
				r.done <- err
				return fmt.Errorf("replica %d exited before it was ready (%v); its log:\n%s", i+2, err, tail(log, 30))
			default:
			}
			resp, err := httpGet(ctx, ready)
			if err == nil && resp == 200 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("replica %d not ready after a minute; its log:\n%s", i+2, tail(log, 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func (c *Cluster) stopReplicas() {
	for _, r := range c.replicas {
		terminate(r.cmd.Process, r.done, 15*time.Second)
	}
	c.replicas = nil
	if c.Proxy != nil {
		c.Proxy.Close()
		c.Proxy = nil
	}
}

// withFlag returns args with --name=value in place of any --name=...
func withFlag(args []string, name, value string) []string {
	out := make([]string, 0, len(args)+1)
	for _, a := range args {
		if !strings.HasPrefix(a, name+"=") {
			out = append(out, a)
		}
	}
	return append(out, name+"="+value)
}
