#!/bin/sh
# Generates a timeout-accuracy pipeline: workflow `early` arrives at barrier
# `t` (timeout BARRIER) at once; workflow `late` never arrives in time
# because its step `slow` runs `sleep 5` with a step timeout STEP. The
# barrier breaks BARRIER after the first arrival, and `slow` is timed out
# STEP after it started; how late each fires is the accuracy.
# usage: bench/gen-timeout.sh [BARRIER] [STEP] > pipeline.yml
#        (durations as in the pipeline format; default 200ms and 500ms)
set -eu
BARRIER=${1:-200ms}
STEP=${2:-500ms}
cat <<YAML
name: bench-timeout
barriers:
  t:
    name: Timeout probe
    timeout: $BARRIER
stages:
  - workflow: early
  - workflow: late
    parallel: true
workflows:
  early:
    steps:
      - barrier: t
  late:
    steps:
      - id: slow
        run: sleep 5
        timeout: $STEP
      - barrier: t
YAML
