#!/bin/sh
# Generates a pipeline that keeps the store busy while timeouts run: W
# matrix instances of workflow `busy`, each S steps of `wait: WAIT` (two
# events per step, each committed before it is shown),
# and beside them the probes: workflow `probe` runs K steps `sleep 5`,
# each timed out after TIMEOUT (continue-on-error, so that all K run),
# then arrives at barrier `t`; workflow `early` arrives at `t` at once, so
# `t` breaks TIMEOUT after that. How late each timeout fires is read from
# the events (bench/busy-bench.sh).
# usage: bench/gen-busy.sh [W] [S] [WAIT] [K] [TIMEOUT] > pipeline.yml
#        (defaults 30, 50, 20ms, 5, 200ms; WAIT `run` makes the steps
#        `run: true` instead, a process each: the engine is then busy
#        spawning rather than committing)
set -eu
W=${1:-30}
S=${2:-50}
WAIT=${3:-20ms}
K=${4:-5}
TIMEOUT=${5:-200ms}
awk -v w="$W" -v s="$S" -v wait="$WAIT" -v k="$K" -v t="$TIMEOUT" 'BEGIN {
	print "name: bench-busy"
	print "barriers:"
	print "  t:"
	print "    timeout: " t
	print "stages:"
	print "  - workflow: busy"
	printf "    matrix: { i: [1"
	for (i = 2; i <= w; i++) printf ", %d", i
	print "] }"
	print "  - workflow: probe"
	print "    parallel: true"
	print "  - workflow: early"
	print "    parallel: true"
	print "workflows:"
	print "  busy:"
	print "    steps:"
	for (i = 0; i < s; i++) print (wait == "run" ? "      - run: true" : "      - wait: " wait)
	print "  probe:"
	print "    steps:"
	for (i = 1; i <= k; i++) {
		print "      - id: slow-" i
		print "        run: sleep 5"
		print "        timeout: " t
		print "        continue-on-error: true"
	}
	print "      - barrier: t"
	print "  early:"
	print "    steps:"
	print "      - barrier: t"
}'
