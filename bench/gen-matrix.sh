#!/bin/sh
# Generates one stage entry of workflow w over an A x B matrix (A * B
# instances), whose S steps each print the instance's name:
# A * B * S expanded steps from a file of a few kilobytes. With
# A = 1000, B = 100 and S = 20 it is the expansion bomb that `check`
# must refuse (2,000,000 steps); S = 10 is the largest plan of this
# shape within the limit (1,000,000 steps).
# usage: bench/gen-matrix.sh A B S [STEP] > pipeline.yml
#   STEP: the step, default 'run: echo ${{ workflow.name }}'
set -eu
A=${1:?usage: gen-matrix.sh A B S [STEP]}
B=${2:?usage: gen-matrix.sh A B S [STEP]}
S=${3:?usage: gen-matrix.sh A B S [STEP]}
STEP=${4:-'run: echo ${{ workflow.name }}'}
awk -v a="$A" -v b="$B" -v s="$S" -v step="$STEP" 'BEGIN {
	print "name: matrix-" a "x" b "x" s
	print "stages:"
	print "  - workflow: w"
	print "    matrix:"
	printf "      a: [a0"
	for (i = 1; i < a; i++) printf ", a%d", i
	print "]"
	printf "      b: [b0"
	for (i = 1; i < b; i++) printf ", b%d", i
	print "]"
	print "workflows:"
	print "  w:"
	print "    steps:"
	for (i = 0; i < s; i++) print "      - " step
}'
