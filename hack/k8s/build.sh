#!/usr/bin/env bash
# build.sh [--quick] [--check] OUTDIR [NAME...]: build kube-apiserver, etcd,
# kubectl, kube-controller-manager, cert-manager-controller and
# cert-manager-cainjector (or the NAMEs given) from Go modules into OUTDIR,
# for envtest (KUBEBUILDER_ASSETS), test/e2e's controller and cert-manager
# scenarios and the demo; with cert-manager-controller, also
# OUTDIR/cert-manager-crds.yaml, cert-manager's CRDs of the same version.
#
#   --quick  compile without inlining (-l): about 30% less compile time for
#            a slower control plane. make bench uses it for the one figure
#            that needs an API server (the webhook's memory with a full
#            cache), where the API server's own speed is not measured.
#   --check  build nothing; exit 0 when every NAME is current, 1 if not.
#
# Versions are pinned by the tool modules next to this script:
#   hack/k8s/go.mod       k8s.io/kubernetes (kube-apiserver,
#                         kube-controller-manager) and k8s.io/kubectl
#   hack/k8s/etcd/go.mod  go.etcd.io/etcd/server/v3 (its own module: see there)
#   hack/k8s/cert-manager/go.mod  github.com/cert-manager/cert-manager (the
#                         controller and cainjector, cert-manager-controller
#                         and cert-manager-cainjector; its own module)
# Re-pin with hack/k8s/pin.sh. A binary is skipped when OUTDIR/.stamp-<name>
# matches a hash of its module's go.mod and go.sum, its main.go, the build
# flags and `go version`. Each binary's build holds a lock (OUTDIR/.lock-NAME),
# so concurrent runs building the same binary wait instead of racing, and
# runs building different ones (make bench's) go side by side.
set -euo pipefail

die() { echo "k8s-bins: $*" >&2; exit 1; }
quick= check=
while [[ $# -gt 0 && $1 == --* ]]; do
	case $1 in
	--quick) quick=1 ;;
	--check) check=1 ;;
	*) die "unknown flag $1" ;;
	esac
	shift
done
[[ $# -ge 1 ]] || die "usage: $0 [--quick] [--check] OUTDIR [NAME...]"
outarg=$1
shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(kube-apiserver etcd kubectl kube-controller-manager cert-manager-controller cert-manager-cainjector)
for n in "${names[@]}"; do
	case $n in kube-apiserver | etcd | kubectl | kube-controller-manager | cert-manager-controller | cert-manager-cainjector) ;;
	*) die "unknown binary $n" ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$outarg"
out=$(cd "$outarg" && pwd)

log() { printf '[%s] k8s-bins: %s\n' "$(date +%H:%M:%S)" "$*"; }

# run CMD...: run a command; on failure, name it and stop.
run() {
	local rc=0
	"$@" || rc=$?
	if [[ $rc -ne 0 ]]; then
		printf 'k8s-bins: FAILED (exit %d, in %s): ' "$rc" "$PWD" >&2
		printf '%q ' "$@" >&2
		printf '\n' >&2
		exit "$rc"
	fi
}

goversion=$(go version) || die "go not found"
# Static binaries; the tool modules alone decide versions (no go.work).
export CGO_ENABLED=0 GOWORK=off

k8s_version=$(cd "$here" && run go list -m -f '{{.Version}}' k8s.io/kubernetes)
[[ $k8s_version =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "unexpected k8s.io/kubernetes version $k8s_version"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version"
	k8s_ldflags+=" -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]}"
	k8s_ldflags+=" -X $pkg.gitTreeState=clean"
done
etcd_ldflags="-s -w"
cm_version=$(cd "$here/cert-manager" && run go list -m -f '{{.Version}}' github.com/cert-manager/cert-manager)
cm_ldflags="-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$cm_version"

# build NAME MODULEDIR PKG LDFLAGS: build PKG of the module in MODULEDIR
# (relative to here) into $out/NAME, unless its stamp is current.
build() {
	local name=$1 moddir=$here/$2 pkg=$3 ldflags=$4
	local bin=$out/$name stamp=$out/.stamp-$name
	# -dwarf=false: the linker drops DWARF anyway (-s -w), so the compiler
	# need not make it; that cuts a cold build by about a fifth.
	local flags=(-trimpath -gcflags=all=-dwarf=false -ldflags "$ldflags")
	# Quick: no inlining, but the standard library as make bench's Go side
	# compiles it (same flags, -trimpath, no cgo), so it is compiled once.
	[[ -z $quick ]] || flags+=("-gcflags=all=-dwarf=false -l" -gcflags=std=-dwarf=false)
	local want lock
	if [[ -z $check ]]; then
		exec {lock}>"$out/.lock-$name"
		if ! flock -n "$lock"; then
			log "$name: another build holds $out/.lock-$name; waiting for it"
			flock "$lock"
		fi
	fi
	want=$(cat "$moddir/go.mod" "$moddir/go.sum" "$moddir/$pkg/main.go" \
		<(echo "$goversion CGO_ENABLED=$CGO_ENABLED ${flags[*]}") | sha256sum | cut -d' ' -f1)
	if [[ -x $bin && -f $stamp && $(<"$stamp") == "$want" ]]; then
		[[ -n $check ]] || log "$name: up to date, skipped"
		return
	fi
	if [[ -n $check ]]; then
		stale+=("$name")
		return
	fi
	if [[ -z ${cold_said:-} ]]; then
		log "a cold build takes many minutes (kube-apiserver alone: 4+ on 2 idle cores, far more on busy ones); later runs skip"
		cold_said=1
	fi
	log "$name: building"
	local start=$SECONDS
	rm -f "$stamp"
	(cd "$moddir" && run go build -buildvcs=false "${flags[@]}" -o "$bin.tmp" "$pkg")
	mv -f "$bin.tmp" "$bin"
	echo "$want" >"$stamp"
	log "$name: built in $((SECONDS - start))s"
}

total=$SECONDS
stale=()
[[ -n $check ]] || log "building into $out with $goversion${quick:+ (quick: no inlining)}"
for n in "${names[@]}"; do
	case $n in
	kube-apiserver) build kube-apiserver . ./kube-apiserver "$k8s_ldflags" ;;
	etcd) build etcd etcd . "$etcd_ldflags" ;;
	kubectl) build kubectl . ./kubectl "$k8s_ldflags" ;;
	kube-controller-manager) build kube-controller-manager . ./kube-controller-manager "$k8s_ldflags" ;;
	cert-manager-controller)
		build cert-manager-controller cert-manager ./controller "$cm_ldflags"
		# Its CRDs, of the same module version, for test/e2e to install.
		[[ -n $check ]] || crds=$(cd "$here/cert-manager" && run go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)/deploy/crds
		[[ -n $check ]] || for f in "$crds"/*.yaml; do echo ---; cat "$f"; done >"$out/cert-manager-crds.yaml"
		;;
	cert-manager-cainjector) build cert-manager-cainjector cert-manager ./cainjector "$cm_ldflags" ;;
	esac
done
if [[ -n $check ]]; then
	[[ ${#stale[@]} -eq 0 ]] || { echo "k8s-bins: not current in $out: ${stale[*]}"; exit 1; }
	exit 0
fi

versions=()
for n in "${names[@]}"; do
	case $n in
	kubectl) v=$(run "$out/kubectl" version --client) ;;
	*) v=$(run "$out/$n" --version) ;;
	esac
	versions+=("${v%%$'\n'*}") # first line
done
log "done in $((SECONDS - total))s: $(IFS='|'; echo "${versions[*]}" | sed 's/|/ | /g')"
