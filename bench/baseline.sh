#!/bin/sh
# The hand-written floor for `bench/gen-pipeline.sh N M K`: the same
# processes, with no orchestrator. For each of the M barrier rounds it
# starts N*K `/bin/sh -c true` in the background (K per workflow) and waits
# for all of them, which is what the M barriers enforce in lockstep.
# For K > 1 this is a slightly lower floor than lockstep can reach, because
# lockstep runs a workflow's K steps of a round one after another.
# usage: bench/baseline.sh N M K
set -eu
N=${1:?usage: baseline.sh N M K}
M=${2:?usage: baseline.sh N M K}
K=${3:?usage: baseline.sh N M K}
per_round=$((N * K))
r=0
while [ "$r" -lt "$M" ]; do
	i=0
	while [ "$i" -lt "$per_round" ]; do
		/bin/sh -c true &
		i=$((i + 1))
	done
	wait
	r=$((r + 1))
done
