#!/bin/bash
# Durable before visible, seen from a step: while a step runs, the store
# already holds its step.started (and, for a step after a barrier, the
# barrier's pass). A process never starts before the events that announce
# it are recorded.
set -u
. "$(dirname "$0")/lib/common.sh"
need jq
cp "$E2E_DIR"/run/t0360-self-check.yml "$tmp"/
export OUT=$tmp/out STATE_DIR=$tmp/state LS_BIN=$LOCKSTEP
mkdir -p "$OUT"
for round in 1 2 3; do
	timeout 60 "$LOCKSTEP" run "$tmp/t0360-self-check.yml" --state "$STATE_DIR" --json >"$tmp/events" 2>"$tmp/err"
	rc=$?
	expect_rc 0 "round $round: the run succeeds"
	for w in a b; do
		if jq -e --arg w "$w" '[.events[] | select(.event == "step.started" and .workflow == $w and .step == "look")] | length == 1' \
			"$OUT/$w.json" >/dev/null 2>&1; then
			pass "round $round: $w's first step saw its own step.started in the store"
		else
			fail "round $round: $w's first step ran before its step.started was recorded"
		fi
		if jq -e '[.events[] | select(.event == "barrier.passed" and .barrier == "X")] | length == 1' \
			"$OUT/$w.again.json" >/dev/null 2>&1; then
			pass "round $round: $w's step after X saw the barrier's pass in the store"
		else
			fail "round $round: $w's step after X ran before X's pass was recorded"
		fi
	done
done
finish
