#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME, default 10s each).
# Targets are found by name, so a new Fuzz function is picked up without edits.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
found=0
while IFS=: read -r file fn; do
	pkg="./$(dirname "$file")"
	echo "fuzz: $pkg $fn ($fuzztime)"
	go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg"
	found=$((found + 1))
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=bin --exclude-dir=hack . \
	| sed -E 's#^\./##; s#:func #:#' | sort -u)
echo "fuzz: $found target(s) ran"
