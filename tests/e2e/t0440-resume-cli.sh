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

# show_is DESCRIPTION JQ: the condition holds of `show $RUN_ID --json`.
show_is() {
	cmd show "$RUN_ID" --state "$STATE" --json
	jq_out "$1" "$2"
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
# busy: `long` runs its step and `waiter` waits at X.
busy() {
	wait_event 10 '.event == "barrier.arrived" and .workflow == "waiter"' &&
		wait_until 10 test -s "$OUT/work.child"
}
# start_killed [pid]: starts the pipeline, waits until it is busy (with
# "pid": until the step's process is recorded too), then SIGKILLs
# lockstep: the run is interrupted.
start_killed() {
	start_json "$P"
	expect "long runs its step, waiter waits at X" busy
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
	[ "${1:-}" = pid ] && expect "the step's process is recorded" wait_until 10 work_pid_recorded
	kill_bg
}

scenario usage
cmd resume
expect_rc 2 "resume without a run"
expect "says what is missing" err_has "missing RUN"
cmd resume abc --state "$STATE"
expect_rc 2 "resume of a malformed run id"
expect "says why" err_has "'abc' is not a run id"
cmd abort 0 --state "$STATE"
expect_rc 2 "abort of run 0"
cmd resume 1 2 --state "$STATE"
expect_rc 2 "two run ids"
cmd resume 1 --kill-grace soon
expect_rc 2 "a bad --kill-grace"
cmd abort 1 --frobnicate
expect_rc 2 "an unknown option"
cmd resume 1 --max-parallel 0
expect_rc 2 "a bad --max-parallel"
expect "says why" err_has "bad --max-parallel '0'"
cmd resume --help
expect_rc 0 "resume --help"
expect "resume --help prints the usage" out_has "usage: lockstep resume RUN"
cmd abort --help
expect_rc 0 "abort --help"

scenario state
cmd resume 1 --state "$tmp/nowhere"
expect_rc 4 "resume with a missing state directory"
expect "names the directory" err_has "nowhere"
cmd abort 1 --state "$tmp/nowhere"
expect_rc 4 "abort with a missing state directory"
expect "no state directory was created" test ! -e "$tmp/nowhere"
run_json "$RUNDIR/t0320-mark.yml"
expect_rc 0
cmd resume 99 --state "$STATE"
expect_rc 1 "resume of an unknown run"
expect "says there is no such run" err_has "no run 99"
cmd resume "$RUN_ID" --state "$STATE"
expect_rc 1 "resume of a finished run"
expect "says it has finished" err_has "has already finished (succeeded)"
cmd abort "$RUN_ID" --state "$STATE"
expect_rc 1 "abort of a finished run"
show_is "the finished run is unchanged" '.status == "succeeded" and ([.events[] | select(.event == "run.resumed")] | length) == 0'

scenario live
start_json "$P"
expect "long runs its step, waiter waits at X" busy
RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
cmd resume "$RUN_ID" --state "$STATE"
expect_rc 1 "resume of a run in progress is refused"
expect "says it is still running" err_has "is still running"
expect "points at abort" err_has "lockstep abort $RUN_ID"
expect "the run goes on" alive "$BG"
cmd abort "$RUN_ID" --state "$STATE"
expect_rc 0 "abort of a run in progress"
expect "says it asked the owner" err_has "asked run $RUN_ID"
finish_bg 20
expect_rc 130
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
expect "show names the process of the step in flight" grep -Eq "^    work +run +running .* pid $pgid( |\$)" "$COUT"
expect "a run never taken over does not say it was" test -z "$(grep "^  resumed " "$COUT")"
cmd abort "$RUN_ID" --state "$STATE"
expect_rc 0 "abort of the interrupted run"
expect "says what it terminated" err_has "left"
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
expect "show says the run was taken over once" \
	out_has "  resumed   1 time: its lockstep died and 'lockstep resume' or 'abort' took it over"
cmd runs --state "$STATE" --json
jq_out "runs --json counts the takeover" ".[] | select(.run == $RUN_ID) | .takeovers == 1"

scenario resume-interrupted
start_killed
# The file changes after the run started: the run keeps its own pipeline.
sed -i 's/waiter-undo/waiter-undo-CHANGED/' "$P"
cmd resume "$RUN_ID" --state "$STATE" --kill-grace 1s
expect_rc 1 "resume of the interrupted run (it fails: the step was interrupted)"
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
expect_rc 1 "a second resume is refused"
expect "it has finished" err_has "has already finished (failed)"

finish
