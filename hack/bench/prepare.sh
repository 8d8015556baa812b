#!/usr/bin/env bash
# prepare.sh BIN: build everything `make bench` runs, into BIN, at the same
# time: kube-apiserver (hack/k8s/build.sh, the long pole on a fresh machine)
# in the background, and meanwhile, in this order (both sides compete for the
# CPUs; overlapped, each one's serial stretches, links and downloads use the
# time the other leaves):
#   BIN/modeguard-webhook  the webhook measured end to end
#   BIN/opa                OPA's own command (`opa run --server`), built as a
#                          tool of this module (go.mod's tool directive), so
#                          it shares every compiled package with modeguard
#   BIN/benchstat          also a tool of this module
#   BIN/modeguard-bench    the benchmark driver (./bench)
#   BIN/bench/tests/       the benchmarked packages' test binaries
#   etcd                   (hack/k8s/build.sh again: its own lock)
# so that nothing is compiled while something is being measured.
#
# The control plane: BIN/k8s when make k8s-bins (make test, make demo) has
# built it; otherwise BIN/k8s-quick, built with --quick (no inlining: a
# third less compiling; the API server's own speed is not measured). The
# directory chosen is written to BIN/bench-k8s-dir for the bench command.
#
# On a fresh machine this takes roughly the kube-apiserver build (see
# hack/k8s/build.sh); on a warm one, seconds.
set -euo pipefail

die() { echo "bench-prepare: $*" >&2; exit 1; }
[[ $# -eq 1 ]] || die "usage: $0 BIN"

root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
bin=$(cd "$1" && pwd)
cd "$root"

log() { printf '[%s] bench-prepare: %s\n' "$(date +%H:%M:%S)" "$*"; }

start=$SECONDS
k8s=$bin/k8s quick=
# (No check without binaries: it would load hack/k8s's module graph first.)
if [[ ! -x $k8s/kube-apiserver ]] || ! hack/k8s/build.sh --check "$k8s" kube-apiserver etcd >/dev/null; then
	k8s=$bin/k8s-quick quick=--quick
fi
echo "$k8s" >"$bin/bench-k8s-dir"
log "building kube-apiserver into $k8s (background) and the Go side, then etcd (foreground) at once"
k8s_log=$bin/k8s-bins.log
mkdir -p "$k8s"
# The k8s build's lines go to the terminal as they come, prefixed. Its own
# process group (set -m), so that stopping it stops its go build too.
set -m
(
	set -o pipefail
	hack/k8s/build.sh $quick "$k8s" kube-apiserver 2>&1 | tee "$k8s_log" | sed -u 's/^/  [k8s] /'
) &
k8s_pid=$!
set +m
# Stop the background build if this script stops early.
trap 'kill -- "-$k8s_pid" 2>/dev/null || true' EXIT

# step NAME CMD...: run one Go-side build step, naming it on failure.
step() {
	local name=$1 t=$SECONDS rc=0
	shift
	"$@" || rc=$?
	if [[ $rc -ne 0 ]]; then
		die "$name failed (exit $rc): $*"
	fi
	log "$name: done in $((SECONDS - t))s"
}

step modeguard-webhook go build -o "$bin/modeguard-webhook" ./cmd/webhook
step opa go build -o "$bin/opa" github.com/open-policy-agent/opa
step benchstat go build -o "$bin/benchstat" golang.org/x/perf/cmd/benchstat
step modeguard-bench go build -o "$bin/modeguard-bench" ./bench
# The benchmarked packages' test binaries, where the bench command runs them.
step "benchmark test binaries" go test -c -o "$bin/bench/tests/" ./riverconfig ./policy ./mutate ./webhook/admit

# etcd last on this side: the Go side is done before kube-apiserver.
step etcd hack/k8s/build.sh $quick "$k8s" etcd
log "Go side and etcd done at $((SECONDS - start))s; waiting for kube-apiserver"
rc=0
wait "$k8s_pid" || rc=$?
trap - EXIT
[[ $rc -eq 0 ]] || die "hack/k8s/build.sh failed (exit $rc); its output: $k8s_log"
log "all built in $((SECONDS - start))s"
