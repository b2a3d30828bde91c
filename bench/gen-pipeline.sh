#!/bin/sh
# Generates a pipeline of N parallel workflows that each cross M barriers,
# with K cheap run steps before each barrier: N*M*(K+1) steps in all.
# usage: bench/gen-pipeline.sh N M K > pipeline.yml
set -eu
N=${1:?usage: gen-pipeline.sh N M K}
M=${2:?usage: gen-pipeline.sh N M K}
K=${3:?usage: gen-pipeline.sh N M K}
awk -v n="$N" -v m="$M" -v k="$K" 'BEGIN {
	print "name: bench-" n "x" m "x" k
	print "barriers:"
	for (b = 1; b <= m; b++) {
		print "  round-" b ":"
		print "    name: Round " b " done"
		print "    timeout: 10m"
	}
	print "stages:"
	for (w = 1; w <= n; w++) {
		print "  - workflow: w" w
		if (w > 1) print "    parallel: true"
	}
	print "workflows:"
	for (w = 1; w <= n; w++) {
		print "  w" w ":"
		print "    steps:"
		for (b = 1; b <= m; b++) {
			for (s = 1; s <= k; s++)
				print "      - run: true"
			print "      - barrier: round-" b
		}
	}
}'
