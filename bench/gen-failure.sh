#!/bin/sh
# Generates a failure-propagation pipeline: N parallel workflows that all
# cross barrier `gate`. Workflow w1 first runs a step `fail` that sleeps
# SLEEP seconds (default 0.3, long enough for the others to arrive) and
# exits 1; w2..wN go straight to the barrier and wait there. When `fail`
# finishes, the barrier breaks, every waiting workflow fails at it and runs
# its rollback step (`true`).
# usage: bench/gen-failure.sh N [SLEEP] > pipeline.yml
set -eu
N=${1:?usage: gen-failure.sh N [SLEEP]}
SLEEP=${2:-0.3}
awk -v n="$N" -v sleep="$SLEEP" 'BEGIN {
	print "name: bench-failure-" n
	print "barriers:"
	print "  gate:"
	print "    name: Everyone ready"
	print "    timeout: 10m"
	print "stages:"
	for (w = 1; w <= n; w++) {
		print "  - workflow: w" w
		if (w > 1) print "    parallel: true"
	}
	print "workflows:"
	for (w = 1; w <= n; w++) {
		print "  w" w ":"
		print "    steps:"
		if (w == 1) {
			print "      - id: fail"
			print "        run: sleep " sleep "; exit 1"
		}
		print "      - barrier: gate"
		if (w > 1)
			print "      - run: true"
		print "    rollback:"
		print "      - run: true"
	}
}'
