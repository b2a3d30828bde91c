#!/bin/bash
# Precision (docs/pipeline-format.md, B6 and B7): a failure reaches every waiting workflow, and
# barrier and step timeouts fire, within 50 ms, read from the events'
# own timestamps (lockstep's clock at emission, millisecond resolution).
set -u
. "$(dirname "$0")/lib/common.sh"
need jq
cp -r "$E2E_DIR"/run/t0340-*.yml "$E2E_DIR"/run/bin "$tmp"/

# ms since the epoch of the events matching a jq condition: one per line.
ms_of() {
	jq -r "select($1) | .ts" "$2" | while read -r ts; do
		date -u -d "$ts" +%s%3N
	done
}

within() { # NAME VALUE LOW HIGH
	if [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then
		pass "$1: $2 ms"
	else
		fail "$1: $2 ms, want $3 to $4"
	fi
}

# ---- failure propagation ----
export EVENTS=$tmp/prop.events
timeout 30 "$LOCKSTEP" run "$tmp/t0340-propagation.yml" --state "$tmp/state" --json >"$EVENTS" 2>"$tmp/prop.err"
rc=$?
expect_rc 1 "propagation run fails"
failed=$(ms_of '.event == "step.finished" and .workflow == "bad" and .step == "deploy"' "$EVENTS")
broken=$(ms_of '.event == "barrier.broken" and .barrier == "X"' "$EVENTS")
if [ -z "$failed" ] || [ -z "$broken" ]; then
	fail "propagation: missing step.finished of bad/deploy or barrier.broken X"
else
	within "step.finished -> barrier.broken" $((broken - failed)) 0 50
	n=0
	for w in w1 w2 w3 w4; do
		rb=$(ms_of ".event == \"workflow.rollback\" and .workflow == \"$w\"" "$EVENTS")
		if [ -z "$rb" ]; then
			fail "$w never started its rollback"
			continue
		fi
		n=$((n + 1))
		within "step.finished -> workflow.rollback of $w" $((rb - failed)) 0 50
	done
	[ "$n" -eq 4 ] && pass "all four waiting workflows rolled back"
fi

# ---- barrier and step timeouts ----
export EVENTS=$tmp/timeouts.events
timeout 30 "$LOCKSTEP" run "$tmp/t0340-timeouts.yml" --state "$tmp/state" --json >"$EVENTS" 2>"$tmp/to.err"
rc=$?
expect_rc 1 "timeouts run fails"
arrived=$(ms_of '.event == "barrier.arrived" and .barrier == "T"' "$EVENTS" | head -1)
broken=$(ms_of '.event == "barrier.broken" and .barrier == "T"' "$EVENTS")
if [ -n "$arrived" ] && [ -n "$broken" ]; then
	within "barrier T breaks 300ms after the first arrival" $((broken - arrived)) 300 350
else
	fail "barrier T: no arrival or no break"
fi
reason=$(jq -r 'select(.event == "barrier.broken" and .barrier == "T") | .reason' "$EVENTS")
case $reason in
"timed out after 300ms waiting for b (running step 'step-1')") pass "the timeout reason names who is missing and what it does" ;;
*) fail "timeout reason: $reason" ;;
esac
started=$(ms_of '.event == "step.started" and .workflow == "c" and .step == "s"' "$EVENTS")
ended=$(ms_of '.event == "step.finished" and .workflow == "c" and .step == "s"' "$EVENTS")
status=$(jq -r 'select(.event == "step.finished" and .workflow == "c" and .step == "s") | .status' "$EVENTS")
if [ -n "$started" ] && [ -n "$ended" ]; then
	within "step s times out after 300ms" $((ended - started)) 300 350
else
	fail "step s: no start or no finish"
fi
[ "$status" = timed-out ] && pass "step s is timed-out" || fail "step s status: $status"
finish
