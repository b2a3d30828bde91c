#!/bin/bash
# t0440-resume-cli: `lockstep resume` and `lockstep abort` as commands:
#   1. usage: bad or missing run ids, bad options (exit 2), --help;
#   2. state problems: a missing state directory (exit 4), an unknown run
#      (exit 1), a finished run (exit 1, nothing changes);
#   3. a run whose owner is alive: resume refuses (exit 1, points at
#      abort); abort asks the owner to abort and waits: the run ends
#      aborted with its rollbacks, abort exits 0;
#   4. a run whose `lockstep run` was killed (SIGKILL) while a step ran
#      and another workflow waited at a barrier:
#      - abort: the leftover step processes are terminated, the barrier
#        breaks with "run aborted", both workflows roll back, the later
#        group is skipped, the run is recorded aborted, exit 0;
#      - resume: the same run continues from the recorded pipeline even
#        though the file changed since; the interrupted step fails with
#        "interrupted", the barrier breaks, both roll back, exit 1; a
#        second resume is refused (the run has finished).
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
cp "$RUNDIR"/t0310-abort.yml "$tmp/p.yml"
ln -s "$RUNDIR/bin" "$tmp/bin"
P=$tmp/p.yml

err_has() { # DESCRIPTION TEXT
	if grep -qF -- "$2" "$CERR"; then
		pass "$SCENARIO: $1"
	else
		fail "$SCENARIO: $1: stderr lacks '$2'"
		sed 's/^/     ! /' "$CERR" | head -8
	fi
}
# show_is DESCRIPTION JQ: the condition holds of `show $RUN_ID --json`.
show_is() {
	local got
	if got=$("$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json 2>&1 | jq -e -c "$2" 2>&1); then
		pass "$SCENARIO: $1"
	else
		fail "$SCENARIO: $1 (jq: ${got:-no result})"
		"$LOCKSTEP" show "$RUN_ID" --state "$STATE" 2>&1 | sed 's/^/     | /' | head -40
	fi
}
# Every event recorded for the run, as `show --json` has them, into $EVENTS.
recorded_events() {
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json | jq -c '.events[]' >"$EVENTS"
}
# no_leftovers: nothing the run's `long` step started is alive.
no_leftovers() {
	local f p
	for f in "$OUT"/work.pid "$OUT"/work.child; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		alive "$p" && { echo "  (pid $p from ${f##*/} still alive)"; return 1; }
	done
	return 0
}
# work_pid_recorded: the store has the process of `long`'s step `work`
# (recorded just after it started, with the next commit).
work_pid_recorded() {
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json 2>/dev/null |
		jq -e '.workflows[] | select(.workflow == "long") | .steps[] | select(.step == "work") | .attempts[-1].pid | type == "number"' >/dev/null
}
# start_killed [pid]: starts the pipeline, waits until `long` runs and
# `waiter` waits at X (with "pid": until the step's process is recorded),
# then SIGKILLs lockstep: the run is interrupted.
start_killed() {
	start_json "$P"
	wait_event 10 '.event == "barrier.arrived" and .workflow == "waiter"' &&
		wait_until 10 test -s "$OUT/work.child"
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
	[ "${1:-}" = pid ] && wait_until 10 work_pid_recorded
	kill -KILL "$BG"
	wait "$BG" 2>/dev/null
	BG_PIDS=()
}

scenario usage
cmd resume
expect_crc "resume without a run" 2
err_has "says what is missing" "missing RUN"
cmd resume abc --state "$STATE"
expect_crc "resume of a malformed run id" 2
err_has "says why" "'abc' is not a run id"
cmd abort 0 --state "$STATE"
expect_crc "abort of run 0" 2
cmd resume 1 2 --state "$STATE"
expect_crc "two run ids" 2
cmd resume 1 --kill-grace soon
expect_crc "a bad --kill-grace" 2
cmd abort 1 --frobnicate
expect_crc "an unknown option" 2
cmd resume 1 --max-parallel 0
expect_crc "a bad --max-parallel" 2
err_has "says why" "bad --max-parallel '0'"
cmd resume --help
expect_crc "resume --help" 0
grep -q "usage: lockstep resume RUN" "$COUT" && pass "usage: resume --help prints the usage" ||
	fail "usage: resume --help prints the usage"
cmd abort --help
expect_crc "abort --help" 0

scenario state
cmd resume 1 --state "$tmp/nowhere"
expect_crc "resume with a missing state directory" 4
err_has "names the directory" "nowhere"
cmd abort 1 --state "$tmp/nowhere"
expect_crc "abort with a missing state directory" 4
test ! -e "$tmp/nowhere" && pass "state: no state directory was created" ||
	fail "state: a state directory was created"
run_json "$RUNDIR/t0320-mark.yml"
expect_rc_is 0
cmd resume 99 --state "$STATE"
expect_crc "resume of an unknown run" 1
err_has "says there is no such run" "no run 99"
cmd resume "$RUN_ID" --state "$STATE"
expect_crc "resume of a finished run" 1
err_has "says it has finished" "has already finished (succeeded)"
cmd abort "$RUN_ID" --state "$STATE"
expect_crc "abort of a finished run" 1
show_is "the finished run is unchanged" '.status == "succeeded" and ([.events[] | select(.event == "run.resumed")] | length) == 0'

scenario live
start_json "$P"
wait_event 10 '.event == "barrier.arrived" and .workflow == "waiter"' &&
	wait_until 10 test -s "$OUT/work.child"
RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
cmd resume "$RUN_ID" --state "$STATE"
expect_crc "resume of a run in progress is refused" 1
err_has "says it is still running" "is still running"
err_has "points at abort" "lockstep abort $RUN_ID"
alive "$BG" && pass "live: the run goes on" || fail "live: the run died"
cmd abort "$RUN_ID" --state "$STATE"
expect_crc "abort of a run in progress" 0
err_has "says it asked the owner" "asked run $RUN_ID"
finish_bg 20
expect_rc_is 130
check "the barrier broke: run aborted" 'B("X").reason == "run aborted"'
check "both workflows rolled back" 'WF("long").status == "rolled-back" and WF("waiter").status == "rolled-back"'
check "the later group was skipped" 'WF("later").status == "skipped"'
expect "no process of the run is left" no_leftovers

scenario abort-interrupted
start_killed pid
show_is "the killed run is interrupted" '.status == "interrupted" and .takeovers == 0'
expect "the step's processes outlived lockstep" alive "$(cat "$OUT/work.child")"
# The step's process is its group's leader: the recorded pid is the pgid.
pgid=$(cat "$OUT/work.pgid")
show_is "the running attempt names its process; a barrier step has none" \
	"(.workflows[] | select(.workflow == \"long\") | .steps[] | select(.step == \"work\") | .attempts[-1].pid) == $pgid and
	 ([.workflows[] | .steps[] | select(.kind == \"barrier\") | .attempts[].pid] | all(. == null))"
cmd show "$RUN_ID" --state "$STATE"
grep -Eq "^    work +run +running .* pid $pgid( |\$)" "$COUT" &&
	pass "$SCENARIO: show names the process of the step in flight" ||
	fail "$SCENARIO: show names the process of the step in flight: $(grep ' work ' "$COUT")"
grep -q "^  resumed " "$COUT" && fail "$SCENARIO: a run never taken over says it was" ||
	pass "$SCENARIO: a run never taken over does not say it was"
cmd abort "$RUN_ID" --state "$STATE"
expect_crc "abort of the interrupted run" 0
err_has "says what it terminated" "left"
expect "no process of the run is left" no_leftovers
recorded_events
check "run.resumed (abort) follows what was recorded" \
	'(ev("run.resumed") | length) == 1 and ev("run.resumed")[0].mode == "abort" and ([.[].seq] == [range(1; length + 1)])'
check "the interrupted step ended aborted" \
	'[.[] | select(.event == "step.finished" and .workflow == "long" and .step == "work")] | length == 1 and .[0].status == "aborted"'
check "the barrier broke: run aborted" 'B("X").reason == "run aborted"'
check "both workflows rolled back" 'WF("long").status == "rolled-back" and WF("waiter").status == "rolled-back"'
check "the later group was skipped" 'WF("later").status == "skipped"'
check "the run ended aborted" 'RF.status == "aborted"'
expect "the rollbacks ran" test -s "$OUT/long-undo" -a -s "$OUT/waiter-undo"
show_is "the run is recorded aborted, taken over once" '.status == "aborted" and .takeovers == 1'
cmd show "$RUN_ID" --state "$STATE"
grep -qF "  resumed   1 time: its lockstep died and 'lockstep resume' or 'abort' took it over" "$COUT" &&
	pass "$SCENARIO: show says the run was taken over once" ||
	fail "$SCENARIO: show says the run was taken over once"
cmd runs --state "$STATE" --json
jq -e --argjson id "$RUN_ID" '.[] | select(.run == $id) | .takeovers == 1' "$COUT" >/dev/null &&
	pass "$SCENARIO: runs --json counts the takeover" || fail "$SCENARIO: runs --json counts the takeover"

scenario resume-interrupted
start_killed
# The file changes after the run started: the run keeps its own pipeline.
sed -i 's/waiter-undo/waiter-undo-CHANGED/' "$P"
cmd resume "$RUN_ID" --state "$STATE" --kill-grace 1s
expect_crc "resume of the interrupted run (it fails: the step was interrupted)" 1
expect "no process of the run is left" no_leftovers
recorded_events
check "run.resumed (resume) right after the recorded events" \
	'(ev("run.resumed") | length) == 1 and ev("run.resumed")[0].mode == "resume" and ([.[].seq] == [range(1; length + 1)])'
check "the interrupted step failed: interrupted" \
	'F("long"; "work").status == "failed" and F("long"; "work").exit_code == null and (WF("long").reason | test("interrupted"))'
check "the barrier broke because of it" 'B("X").origin == "long" and (B("X").reason | test("interrupted"))'
check "both workflows rolled back" 'WF("long").status == "rolled-back" and WF("waiter").status == "rolled-back"'
check "the run failed" 'RF.status == "failed"'
expect "the recorded pipeline ran, not the changed file" test -s "$OUT/waiter-undo" -a ! -e "$OUT/waiter-undo-CHANGED"
cmd resume "$RUN_ID" --state "$STATE"
expect_crc "a second resume is refused" 1
err_has "it has finished" "has already finished (failed)"

finish
