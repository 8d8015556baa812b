package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Nodes are the Node objects a cluster with Options.Controllers holds.
var Nodes = []string{"node-a", "node-b", "node-c"}

// controllers are the kube-controller-manager controllers the cluster runs:
// those that turn workloads into Pods. The DaemonSet and StatefulSet
// controllers keep their own ControllerRevisions; the Deployment controller
// needs the ReplicaSet one. No garbage collector: the tests delete
// namespaces with their objects, never owners alone.
var controllers = []string{"daemonset", "deployment", "replicaset", "statefulset"}

// startControllerManager creates the Nodes and starts kube-controller-manager
// against the API server, as a user in system:masters, and waits until its
// informers are synced (the DaemonSet controller then sees the Nodes).
func (c *Cluster) startControllerManager(ctx context.Context) error {
	bin := filepath.Join(c.opts.Assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("kube-controller-manager missing from %s: run make k8s-bins", c.opts.Assets)
	}
	if err := c.createNodes(ctx); err != nil {
		return err
	}
	kc, err := c.KubeconfigFor("kube-controller-manager")
	if err != nil {
		return err
	}
	// The key the API server verifies service account tokens with
	// (envtest's --service-account-key-file is its public half): the
	// controller manager signs with it, as in a real control plane.
	saKey := filepath.Join(c.env.ControlPlane.APIServer.CertDir, "sa-signer.key")
	if _, err := os.Stat(saKey); err != nil {
		return fmt.Errorf("the API server's service account key: %w", err)
	}
	args := []string{
		"--kubeconfig=" + kc,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		// No HTTPS endpoint: nothing scrapes it, and no port to leak.
		"--secure-port=0",
		"--service-account-private-key-file=" + saKey,
		"--use-service-account-credentials=false",
		"--v=2",
	}
	c.ControllerManagerLog = filepath.Join(c.opts.WorkDir, "kube-controller-manager.log")
	logFile, err := os.OpenFile(c.ControllerManagerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	c.kcm, c.kcmDone = cmd, done
	c.logf("kube-controller-manager process %d running %v with %d Nodes (log: %s)", cmd.Process.Pid, controllers, len(Nodes), c.ControllerManagerLog)
	return nil
}

// createNodes creates Nodes, each Ready, untainted, with room for Pods. No
// kubelet renews their status, and no node lifecycle controller runs to
// mark them NotReady for it.
func (c *Cluster) createNodes(ctx context.Context) error {
	for _, name := range Nodes {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		}}}
		if err := c.Client.Create(ctx, n); err != nil {
			return fmt.Errorf("creating Node %s: %w", name, err)
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("4"),
			corev1.ResourceMemory: resource.MustParse("16Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		n.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "no kubelet: set by test/e2e", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
		if err := c.Client.Status().Update(ctx, n); err != nil {
			return fmt.Errorf("setting Node %s Ready: %w", name, err)
		}
		// The API server's TaintNodesByCondition admission taints a new
		// Node node.kubernetes.io/not-ready:NoSchedule, which keeps
		// DaemonSet Pods off it; the node lifecycle controller lifts it
		// once the Node is Ready. It does not run here, so do as it does.
		n.Spec.Taints = nil
		if err := c.Client.Update(ctx, n); err != nil {
			return fmt.Errorf("untainting Node %s: %w", name, err)
		}
	}
	return nil
}

// stopControllerManager stops kube-controller-manager (SIGTERM, then
// SIGKILL).
func (c *Cluster) stopControllerManager() {
	if c.kcm == nil {
		return
	}
	terminate(c.kcm.Process, c.kcmDone, 15*time.Second)
	c.kcm = nil
}

// ControllerManagerRunning reports whether kube-controller-manager is
// alive (false when the cluster has none).
func (c *Cluster) ControllerManagerRunning() bool {
	if c.kcm == nil {
		return false
	}
	select {
	case err := <-c.kcmDone:
		c.kcmDone <- err
		return false
	default:
		return true
	}
}

// MarkPodsReady stands in for the kubelet until ctx is done: every Pod in
// namespaces is set Running and Ready, so that rollouts that wait for
// available Pods (a StatefulSet's next ordinal, a Deployment's surge, a
// DaemonSet's maxUnavailable batch) progress. No container runs, no
// scheduler binds the Pods (DaemonSet Pods carry their node in their node
// affinity), and nothing resolves their env or mounts their ConfigMap.
// Errors other than conflicts and vanished Pods are sent on the returned
// channel, which is closed when the loop ends.
func (c *Cluster) MarkPodsReady(ctx context.Context, namespaces ...string) <-chan error {
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			for _, ns := range namespaces {
				if err := c.markReady(ctx, ns); err != nil && ctx.Err() == nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return errs
}

func (c *Cluster) markReady(ctx context.Context, ns string) error {
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || podReady(p) {
			continue
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &now
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		p.Status.ContainerStatuses = nil
		for _, ct := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: ct.Name, Image: ct.Image, Ready: true, Started: new(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		if err := c.Client.Status().Update(ctx, p); err != nil && !isGoneOrConflict(err) {
			return fmt.Errorf("marking Pod %s/%s Ready: %w", ns, p.Name, err)
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, cd := range p.Status.Conditions {
		if cd.Type == corev1.PodReady {
			return cd.Status == corev1.ConditionTrue
		}
	}
	return false
}

func isGoneOrConflict(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}
