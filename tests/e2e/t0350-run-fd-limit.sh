#!/bin/bash
# More parallel workflows than file descriptors allow running steps for:
# with an open-files limit of 200, 300 workflows meeting at barriers must
# all run (steps wait for a free process slot), not fail with "too many
# open files".
set -u
. "$(dirname "$0")/lib/common.sh"
need prlimit jq
sh "$SRC/bench/gen-pipeline.sh" 300 2 1 >"$tmp/p.yml"
prlimit --nofile=200:200 timeout 120 "$LOCKSTEP" run "$tmp/p.yml" --state "$tmp/state" --json \
	>"$tmp/events" 2>"$tmp/err"
rc=$?
expect_rc 0 "300 workflows under a 200-descriptor limit"
n=$(jq -s '[.[] | select(.event == "step.finished" and .status == "succeeded" and .exit_code == 0)] | length' "$tmp/events")
if [ "$n" = 600 ]; then
	pass "all 600 run steps succeeded"
else
	fail "$n of 600 run steps succeeded: $(grep -m1 'too many' "$tmp/events")"
fi
passed=$(jq -s '[.[] | select(.event == "barrier.passed" and (.participants | length) == 300)] | length' "$tmp/events")
[ "$passed" = 2 ] && pass "both barriers passed with all 300 participants" || fail "barriers passed with 300: $passed"
finish
