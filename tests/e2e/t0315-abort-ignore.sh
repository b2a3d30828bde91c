#!/bin/bash
# t0315-abort-ignore: SIGINT aborts a workflow whose on-failure is
# `ignore` like any other (B10). The ignore branch turns a step's failure
# into "succeeded (failure ignored: ...)"; an abort must not take it: the
# workflow ends `aborted`, the run ends `aborted`, exit status 130. Both
# ways a workflow can be caught by the abort: running a step, and waiting
# at a barrier (which breaks with "run aborted").
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE

# interrupt_when_busy SIGNAL: once tolerant's step runs (its step.started
# and the pid it wrote) and patient waits at X, sends SIGNAL to the run.
interrupt_when_busy() {
	if wait_event 10 '.event == "step.started" and .workflow == "tolerant" and .step == "work"' &&
		wait_until 10 test -s "$OUT/work.pid" &&
		wait_event 10 '.event == "barrier.arrived" and .workflow == "patient"'; then
		pass "tolerant's step runs and patient waits at X"
	else
		fail "the run never got busy"
	fi
	kill "-$1" "$BG"
}

for sig in INT TERM; do
	scenario "abort-ignore-$sig"
	start_json "$RUNDIR/t0315-abort-ignore.yml"
	interrupt_when_busy "$sig"
	finish_bg 15
	expect_rc 130
	check_stream
	check "tolerant's running step ends aborted" \
		'F("tolerant"; "work").status == "aborted" and F("tolerant"; "work").exit_code == null'
	check "tolerant ends aborted, at its step, not as an ignored failure" \
		'WF("tolerant").status == "aborted" and WF("tolerant").reason == "aborted at step '"'work'"'" and (ev("workflow.finished") | map(select(.workflow == "tolerant")) | length) == 1'
	check "X breaks with \"run aborted\"" 'B("X").reason == "run aborted" and (ev("barrier.passed") | length) == 0'
	check "patient, waiting at X, ends aborted too" \
		'WF("patient").status == "aborted" and (WF("patient").reason | contains("failure ignored") | not)'
	check "no workflow succeeded; the later group never starts; the run ends aborted" \
		'([ev("workflow.finished")[] | select(.status == "succeeded")] | length) == 0 and WS("later") == null and WF("later").status == "skipped" and RF.status == "aborted"'
	expect "no step after the abort ran" test ! -e "$OUT/tolerant-after" -a ! -e "$OUT/patient-after" -a ! -e "$OUT/later-ran"
	expect "the step's processes are gone" gone "$OUT/work.pid" "$OUT/work.child"
	cmd show "$RUN_ID" --state "$STATE" --json
	expect "the store records the run and both workflows as aborted" \
		jq_true '.status == "aborted" and ([.workflows[] | select(.workflow != "later") | .status] | unique) == ["aborted"]' "$COUT"
	reap_leftovers
done

finish
