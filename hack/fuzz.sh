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
	# Go's fuzz coordinator can fail a target with a bare "context deadline
	# exceeded" at the -fuzztime boundary, having found nothing (it compares
	# its parent's and its own context's errors while the deadline cancels
	# them: golang/go's internal/fuzz CoordinateFuzzing). Such a run wrote no
	# failing input: it is run once more; any failure with an input stays one.
	for try in 1 2; do
		out=$(mktemp)
		if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg" 2>&1 | tee "$out"; then
			rm -f "$out"
			break
		fi
		if [[ $try -eq 1 ]] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
			echo "fuzz: $pkg $fn stopped on the fuzz coordinator's deadline race, with no failing input: once more"
			rm -f "$out"
			continue
		fi
		rm -f "$out"
		exit 1
	done
	found=$((found + 1))
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=bin --exclude-dir=hack . \
	| sed -E 's#^\./##; s#:func #:#' | sort -u)
echo "fuzz: $found target(s) ran"
