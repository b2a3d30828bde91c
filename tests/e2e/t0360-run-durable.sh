#!/bin/bash
# t0360-run-durable: durable before visible, seen from a step: a process
# never starts before the events that announce it (its step.started, and
# for a step after a barrier the barrier's pass) are in the store.
#
#   self-check  each step reads the run from the store while it runs
#               (`lockstep show`): its own step.started is there, and
#               after X, X's pass; three rounds;
#   locked-*    the same, made certain: another process holds the store's
#               write lock from before a step's end, so that the commit of
#               the next step's step.started cannot happen (lockstep waits
#               LOCKSTEP_BUSY_TIMEOUT_MS, then stops the run, exit 4). A
#               lockstep that spawned before committing would start the
#               next step while the lock is held, every time: the step
#               would find its step.started missing, leave its mark and
#               have a log file. None of that may happen.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq and the sqlite3
# shell (Debian: sqlite3).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
need sqlite3
unset LOCKSTEP_STATE LOCKSTEP_BUSY_TIMEOUT_MS
# Steps do not see LOCKSTEP_* variables: the binary and the state
# directory reach them under names of their own.
export LS_BIN=$LOCKSTEP STATE_DIR=$STATE

for round in 1 2 3; do
	scenario "self-check-$round"
	run_json "$RUNDIR/t0360-self-check.yml"
	expect_rc 0 "the run succeeds"
	for w in a b; do
		expect "$w's first step saw its own step.started in the store" \
			jq_true --arg w "$w" '[.events[] | select(.event == "step.started" and .workflow == $w and .step == "look")] | length == 1' "$OUT/$w.json"
		expect "$w's step after X saw the barrier's pass in the store" \
			jq_true '[.events[] | select(.event == "barrier.passed" and .barrier == "X")] | length == 1' "$OUT/$w.again.json"
	done
done

# locked READY RUN_STEPS...: the scenario's run of its pipeline
# (run/t0360-SCENARIO.yml), whose step `hold` waits for $OUT/go. Once hold
# runs and an event matching READY (a jq condition) is out, the write lock
# is taken, then hold is let go. RUN_STEPS are the WORKFLOW/STEP that the
# end of hold makes due: none of them may start.
locked() {
	local s ready=$1
	shift
	start_json "$RUNDIR/t0360-$SCENARIO.yml"
	expect "hold runs" wait_until 10 test -e "$OUT/hold.running"
	expect "the run is ready: $ready" wait_event 10 "$ready"
	lock_take "$STATE/lockstep.db"
	: >"$OUT/go"
	finish_bg 30
	lock_release
	expect_rc 4 "the run stops: its events cannot be recorded"
	expect "it says why: another process holds the write lock" \
		grep -qF "cannot record events: database is locked (another process holds its write lock" "$ERR"
	check "hold ended" 'F("a"; "hold").status == "succeeded"'
	for s in "$@"; do
		expect "${s%/*}'s step ${s#*/} never started: no mark" test ! -e "$OUT/${s%/*}-${s#*/}.json"
		expect "... and no log file" test ! -e "$(log_of "${s%/*}" "${s#*/}")"
	done
}

# LOCKSTEP_BUSY_TIMEOUT_MS: how long a lockstep that spawned first would
# give the step to show itself.
export LOCKSTEP_BUSY_TIMEOUT_MS=2000
# The step after a step.
scenario locked-step
locked '.event == "step.started" and .step == "hold"' a/next
# The steps after a barrier that the end of hold lets pass.
scenario locked-barrier
locked '.event == "barrier.arrived" and .workflow == "b"' a/after b/after
unset LOCKSTEP_BUSY_TIMEOUT_MS

finish
