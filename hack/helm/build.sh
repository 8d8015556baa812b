#!/usr/bin/env bash
# build.sh OUTDIR: build helm-template (a small offline `helm template`, see
# helm-template/main.go) from this tool module into OUTDIR. Skipped when
# OUTDIR/.stamp-helm-template matches a hash of go.mod, go.sum, main.go and
# `go version`; holds a lock so concurrent runs wait instead of racing.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
log() { printf '[%s] helm-template: %s\n' "$(date +%H:%M:%S)" "$*"; }

exec 9>"$out/.lock-helm-template"
flock 9

export CGO_ENABLED=0 GOWORK=off
bin=$out/helm-template stamp=$out/.stamp-helm-template
flags=(-trimpath -ldflags "-s -w")
want=$(cat "$here/go.mod" "$here/go.sum" "$here/helm-template/main.go" \
	<(echo "$(go version) CGO_ENABLED=$CGO_ENABLED ${flags[*]}") | sha256sum | cut -d' ' -f1)
if [[ -x $bin && -f $stamp && $(<"$stamp") == "$want" ]]; then
	log "up to date, skipped"
	exit 0
fi
log "building (cold: a few minutes on 2 busy cores)"
start=$SECONDS
rm -f "$stamp"
(cd "$here" && go build -buildvcs=false "${flags[@]}" -o "$bin.tmp" ./helm-template)
mv -f "$bin.tmp" "$bin"
echo "$want" >"$stamp"
log "built in $((SECONDS - start))s"
