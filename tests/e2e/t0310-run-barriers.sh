#!/bin/bash
# t0310-run-barriers: the barrier rules (docs/pipeline-format.md#barrier-semantics) while running, one
# scenario per rule, each on a pipeline of tests/e2e/run/:
#   B5 release; B6 break before arrival, failure after passing, withdrawal
#   of ignored failures; B7 timeout; B8 deadlocks refused before running;
#   B9 rollback barriers and withdrawal from them; B10 abort by SIGINT and
#   SIGTERM, a second SIGINT, --no-rollback, --kill-grace.
# Steps never sleep to order themselves: they wait (bounded) for the run's
# own events (bin/await-event reads the --json stream).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LONG_MODE LOCKSTEP_STATE

# ---- B5: release ----
scenario B5-release
run_json "$RUNDIR/t0310-release.yml"
expect_rc 0
check_stream
check "arrivals in the order a, b, c" \
	'[.[] | select(.event == "barrier.arrived") | .workflow] == ["a", "b", "c"]'
check "the barrier passes once, after the last arrival, with all three participants" \
	'(ev("barrier.passed") | length) == 1 and lt(A("all-ready"; "c"); P("all-ready")) and (P("all-ready").participants | sort) == ["a", "b", "c"]'
check "nobody's next step starts before barrier.passed" \
	'lt(P("all-ready"); S("a"; "go")) and lt(P("all-ready"); S("b"; "go")) and lt(P("all-ready"); S("c"; "go"))'
check "a and b waited: their barrier steps end only after the pass" \
	'lt(P("all-ready"); F("a"; "meet")) and lt(P("all-ready"); F("b"; "meet")) and lt(P("all-ready"); F("c"; "meet")) and all(ev("step.finished")[] | select(.step == "meet"); .status == "succeeded")'
check "all three succeed" '(ev("workflow.finished") | map(.status) | unique) == ["succeeded"] and RF.status == "succeeded"'
got=$(marks)
case $got in
"a-prepared b-prepared c-prepared "*) pass "marks: the three prepared in order, then the go steps ($got)" ;;
*) fail "marks '$got'" ;;
esac
expect "all three go steps ran" test -f "$OUT/a-go" -a -f "$OUT/b-go" -a -f "$OUT/c-go"

# ---- B6: a failure before arrival breaks the barrier ----
scenario B6-break
run_json "$RUNDIR/t0310-break.yml"
msg="barrier X (Everyone deployed) broken: workflow b failed at step 'boom' (exit status 3)"
expect_rc 1
check_stream
check "b fails at boom (exit 3) while a waits at X" \
	'lt(A("X"; "a"); F("b"; "boom")) and F("b"; "boom").status == "failed" and F("b"; "boom").exit_code == 3'
check "X breaks at once, reason and origin name b" \
	'lt(F("b"; "boom"); B("X")) and B("X").reason == "workflow b failed at step '"'boom'"' (exit status 3)" and B("X").origin == "b" and (ev("barrier.passed") | length) == 0 and (ev("barrier.broken") | length) == 1'
check "a, waiting, fails at X right after the break" \
	'lt(B("X"); F("a"; "meet")) and F("a"; "meet").status == "failed" and S("a"; "after") == null'
check "a rolls back with the barrier's message" "WR(\"a\").reason == \"$msg\" and WF(\"a\").status == \"rolled-back\""
check "c arrives after the break and fails on arrival" \
	'lt(B("X"); A("X"; "c")) and lt(A("X"; "c"); F("c"; "meet")) and F("c"; "meet").status == "failed" and S("c"; "after") == null'
check "c fails with the same message and rolls back" "WR(\"c\").reason == \"$msg\" and WF(\"c\").status == \"rolled-back\" and WF(\"c\").reason == \"$msg\""
check "b (on-failure: stop) ends failed, with its own reason, without rollback" \
	'WF("b").status == "failed" and WF("b").reason == "failed at step '"'boom'"' (exit status 3)" and WR("b") == null and S("b"; "undo") == null'
check "the run failed" 'RF.status == "failed"'
expect "LOCKSTEP_FAILURE of c's rollback is the barrier's message" grep -qxF "$msg" "$OUT/c-undo"
expect "no step after X ran" test ! -e "$OUT/a-after" -a ! -e "$OUT/c-after" -a ! -e "$OUT/b-undo"

# ---- B6: a failure after passing does not affect the passed barrier ----
scenario B6-after-pass
run_json "$RUNDIR/t0310-after-pass.yml"
expect_rc 1
check_stream
check "X passes with a and b" '(P("X").participants | sort) == ["a", "b"]'
check "b fails after X: X stays passed (decided once), Y breaks with origin b" \
	'lt(P("X"); F("b"; "boom")) and ([.[] | select((.event == "barrier.passed" or .event == "barrier.broken") and .barrier == "X") | .event]) == ["barrier.passed"] and B("Y").origin == "b" and B("Y").reason == "workflow b failed at step '"'boom'"' (exit status 4)"'
check "a passed X (its step succeeded) and fails at Y" \
	'F("a"; "meet-x").status == "succeeded" and F("a"; "meet-y").status == "failed" and WR("a").reason == "barrier Y broken: workflow b failed at step '"'boom'"' (exit status 4)"'
check "both roll back" 'WF("a").status == "rolled-back" and WF("b").status == "rolled-back"'

# ---- B6: an ignored failure withdraws (the others wait already) ----
scenario B6-ignore-late
run_json "$RUNDIR/t0310-ignore.yml" --var order=late
expect_rc 0
check_stream
check "c fails (exit 5) while a and b wait at X" \
	'lt(A("X"; "a"); F("c"; "flaky")) and lt(A("X"; "b"); F("c"; "flaky")) and F("c"; "flaky").status == "failed" and F("c"; "flaky").exit_code == 5'
check "X passes with a and b only, right after c's failure, and never breaks" \
	'lt(F("c"; "flaky"); P("X")) and (P("X").participants | sort) == ["a", "b"] and (ev("barrier.broken") | length) == 0'
check "c never arrives; it counts as succeeded" \
	'A("X"; "c") == null and WF("c").status == "succeeded" and WR("c") == null'
check "a and b go on and succeed; the run succeeds" \
	'lt(P("X"); S("a"; "after")) and lt(P("X"); S("b"; "after")) and WF("a").status == "succeeded" and WF("b").status == "succeeded" and RF.status == "succeeded"'
expect "c's later steps did not run" test ! -e "$OUT/c-after"

# ---- B6: an ignored failure withdraws (before anyone arrives) ----
scenario B6-ignore-early
run_json "$RUNDIR/t0310-ignore.yml" --var order=early
expect_rc 0
check "c fails first; then a and b arrive and X passes with them only" \
	'lt(WF("c"); A("X"; "a")) and lt(WF("c"); A("X"; "b")) and (P("X").participants | sort) == ["a", "b"] and (ev("barrier.broken") | length) == 0'
check "all three count as succeeded; the run succeeds" \
	'(ev("workflow.finished") | map(.status) | unique) == ["succeeded"] and RF.status == "succeeded"'

# ---- B7: barrier timeout ----
scenario B7-timeout
run_json "$RUNDIR/t0310-timeout.yml"
expect_rc 1
check_stream
check "T breaks with the timeout reason naming b and its running step" \
	'B("T").reason == "timed out after 300ms waiting for b (running step '"'slow'"')" and B("T").origin == null'
# Event times are wall-clock stamps taken when each event is emitted; the
# spec allows the timeout 50 ms of precision. Early by more than that is
# wrong; late is allowed 150 ms, for loaded CI machines.
d=$(jq -s "$JQ_DEFS (B(\"T\") | ms) - (A(\"T\"; \"a\") | ms)" "$EVENTS" 2>/dev/null)
expect "T breaks 300ms after the first arrival (${d:-?} ms; 250 to 450 allowed)" \
	test "${d:-0}" -ge 250 -a "${d:-0}" -le 450
check "it did not wait for the slow step: T broke before slow ended" \
	'lt(B("T"); F("b"; "slow"))'
check "a fails at T and rolls back with the barrier's message" \
	'F("a"; "meet").status == "failed" and lt(B("T"); F("a"; "meet")) and WR("a").reason == "barrier T (Quick meeting) broken: timed out after 300ms waiting for b (running step '"'slow'"')" and WF("a").status == "rolled-back"'
check "the slow step was ended by its 1s timeout, not after its 5 s" \
	'F("b"; "slow").status == "timed-out" and F("b"; "slow").duration_ms >= 1000 and F("b"; "slow").duration_ms < 4000'
expect "the whole run took less than the slow step's 5 s ($elapsed_ms ms)" test "$elapsed_ms" -lt 4500
expect "a's rollback got the timeout as LOCKSTEP_FAILURE" grep -q 'timed out after 300ms waiting for b' "$OUT/a-undo"

# ---- B8: deadlocks cannot reach the engine ----
for f in t0310-deadlock-3 t0310-deadlock-rollback; do
	scenario "B8-$f"
	before=$(ls "$STATE/logs" | sort -n | tail -1)
	run_json "$RUNDIR/$f.yml"
	expect_rc 3
	expect "nothing on stdout" test ! -s "$EVENTS"
	expect "the deadlock is reported at FILE:LINE:COL" grep -Eq "^.*$f\.yml:[0-9]+:[0-9]+: error: barrier deadlock" "$ERR"
	expect "no step ran" test ! -e "$OUT/order"
	expect "no run was created in the state directory" test "$(ls "$STATE/logs" | sort -n | tail -1)" = "$before"
done

# ---- B9: rollback barriers order the rollbacks ----
scenario B9-rollback-order
run_json "$RUNDIR/t0310-rollback-order.yml"
expect_rc 1
check_stream
check "fe fails, FE breaks, both roll back" \
	'B("FE").origin == "fe" and WR("be") != null and WR("fe") != null'
check "be waits at frontend-reverted before fe undoes" \
	'lt(A("frontend-reverted"; "be"); S("fe"; "undo")) and lt(A("frontend-reverted"; "be"); F("fe"; "undo"))'
check "frontend-reverted passes with both, after fe's undo" \
	'(P("frontend-reverted").participants | sort) == ["be", "fe"] and lt(F("fe"; "undo"); P("frontend-reverted")) and (ev("barrier.broken") | map(.barrier)) == ["FE"]'
check "be's undo starts only after the rollback barrier passed" \
	'lt(P("frontend-reverted"); S("be"; "undo")) and F("be"; "wait-fe").status == "succeeded"'
check "both end rolled-back" 'WF("be").status == "rolled-back" and WF("fe").status == "rolled-back"'
expect_marks "files: be deployed, fe undone, then be undone" "be-deployed fe-undo be-undo"

# ---- B9: a workflow that does not roll back withdraws ----
scenario B9-rollback-withdraw
run_json "$RUNDIR/t0310-rollback-withdraw.yml"
expect_rc 1
check_stream
check "fe (on-failure: stop) fails without rolling back" \
	'WF("fe").status == "failed" and WR("fe") == null and S("fe"; "undo") == null'
check "frontend-reverted passes with be alone; it never breaks" \
	'P("frontend-reverted").participants == ["be"] and ([.[] | select(.event == "barrier.broken" and .barrier == "frontend-reverted")] | length) == 0'
check "be rolls back completely" \
	'lt(P("frontend-reverted"); S("be"; "undo")) and WF("be").status == "rolled-back"'
expect_marks "files: be deployed, be undone, fe never undone" "be-deployed be-undo"
expect "it did not wait for the 10m barrier timeout ($elapsed_ms ms)" test "$elapsed_ms" -lt 10000

# ---- B10: SIGINT aborts: SIGTERM to steps, barriers break, rollbacks run ----
# abort_when_busy SIGNAL: waits until work is running and waiter waits at X,
# then sends SIGNAL to the run; the time it was sent in $t_sig.
abort_when_busy() {
	if wait_until 10 test -s "$OUT/work.pid" && wait_event 10 '.event == "barrier.arrived" and .workflow == "waiter"'; then
		pass "the long step runs and waiter waits at X"
	else
		fail "the run never got busy"
	fi
	t_sig=$(now_ms)
	kill "-$1" "$BG"
}

scenario B10-sigint
start_json "$RUNDIR/t0310-abort.yml"
abort_when_busy INT
finish_bg 15
expect_rc 130
check_stream
expect "the running step got SIGTERM (its trap ran)" test -f "$OUT/work.term"
expect "no process of the step is left (shell and background child)" gone "$OUT/work.pid" "$OUT/work.child"
expect "its process group is empty" group_gone "$OUT/work.pgid"
check "X breaks with reason \"run aborted\", no origin" \
	'B("X").reason == "run aborted" and B("X").origin == null and (ev("barrier.passed") | length) == 0'
check "the killed step ends aborted" 'F("long"; "work").status == "aborted" and F("long"; "work").exit_code == null'
check "waiter's barrier step fails when X breaks" \
	'lt(B("X"); F("waiter"; "meet")) and (F("waiter"; "meet").status | IN("aborted", "failed"))'
check "both roll back, and end rolled-back" \
	'WR("long") != null and WR("waiter") != null and F("long"; "undo").status == "succeeded" and F("waiter"; "undo").status == "succeeded" and WF("long").status == "rolled-back" and WF("waiter").status == "rolled-back"'
check "waiter's rollback reason names the abort" 'WR("waiter").reason | contains("run aborted")'
check "the later group never starts; the run ends aborted" \
	'WS("later") == null and (WF("later").status == "skipped") and RF.status == "aborted" and ([ev("group.started")[].group] == [0])'
expect "both rollbacks ran" test -f "$OUT/long-undo" -a -f "$OUT/waiter-undo"
expect "no later step ran" test ! -e "$OUT/later-ran"
expect "it ended without waiting for the 10s kill grace ($((BG_END - t_sig)) ms after SIGINT)" test $((BG_END - t_sig)) -lt 8000
reap_leftovers

scenario B10-sigterm
start_json "$RUNDIR/t0310-abort.yml"
abort_when_busy TERM
finish_bg 15
expect_rc 130
check "SIGTERM aborts like SIGINT" 'B("X").reason == "run aborted" and RF.status == "aborted" and WF("long").status == "rolled-back"'
expect "the step got SIGTERM and is gone" test -f "$OUT/work.term"
expect "no process of the step is left" gone "$OUT/work.pid" "$OUT/work.child"
reap_leftovers

# SIGHUP (the terminal went away) aborts too, rather than killing lockstep
# with its steps left running unwatched.
scenario B10-sighup
start_json "$RUNDIR/t0310-abort.yml"
abort_when_busy HUP
finish_bg 15
expect_rc 130
check "SIGHUP aborts like SIGTERM" 'B("X").reason == "run aborted" and RF.status == "aborted" and WF("long").status == "rolled-back" and WF("waiter").status == "rolled-back"'
expect "the step got SIGTERM and is gone" test -f "$OUT/work.term"
expect "no process of the step is left" gone "$OUT/work.pid" "$OUT/work.child"
expect "stderr says why" grep -qF "lockstep: hangup: aborting the run" "$ERR"
reap_leftovers

# Under nohup (SIGHUP ignored when lockstep starts), a hangup changes
# nothing: the run goes on to its end.
scenario B10-sighup-nohup
cat >"$tmp/hup.yml" <<'YAML'
name: hup
stages:
  - w
workflows:
  w:
    steps:
      - id: gate
        run: |
          echo started >"$OUT/hup-started"
          i=0
          while [ ! -e "$OUT/hup-sent" ] && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
          test -e "$OUT/hup-sent"
YAML
nohup "$LOCKSTEP" run "$tmp/hup.yml" --state "$STATE" --json >"$EVENTS" 2>"$ERR" </dev/null &
BG=$!
BG_PIDS+=("$BG")
BG_T0=$(now_ms)
expect "the step runs" wait_until 10 test -s "$OUT/hup-started"
kill -HUP "$BG"
: >"$OUT/hup-sent"
finish_bg 15
expect_rc 0
check "the run succeeded, nothing aborted" 'RF.status == "succeeded" and F("w"; "gate").status == "succeeded"'

# ---- B10: a second SIGINT kills at once and skips rollbacks ----
scenario B10-second-sigint
export LONG_MODE=stubborn
start_json "$RUNDIR/t0310-abort.yml"
abort_when_busy INT
if wait_until 10 test -f "$OUT/work.term"; then
	pass "the first SIGINT reached the step as SIGTERM (ignored by it)"
else
	fail "the step never got SIGTERM"
fi
t2=$(now_ms)
kill -INT "$BG"
finish_bg 15
unset LONG_MODE
expect_rc 130
expect "it ended soon after the second SIGINT, not after the 10s grace ($((BG_END - t2)) ms)" test $((BG_END - t2)) -lt 5000
expect "the stubborn step and its child were killed" gone "$OUT/work.pid" "$OUT/work.child"
expect "its process group is empty" group_gone "$OUT/work.pgid"
check "long's rollback never started; it ends aborted" \
	'WR("long") == null and S("long"; "undo") == null and WF("long").status == "aborted" and RF.status == "aborted"'
expect "long's rollback did not run" test ! -e "$OUT/long-undo"
reap_leftovers

# ---- B10: --no-rollback ----
scenario B10-no-rollback
start_json "$RUNDIR/t0310-abort.yml" --no-rollback
abort_when_busy INT
finish_bg 15
expect_rc 130
check_stream
check "X breaks with \"run aborted\"" 'B("X").reason == "run aborted"'
check "no workflow rolls back; long ends aborted, waiter aborted or failed" \
	'(ev("workflow.rollback") | length) == 0 and ([.[] | select(.event == "step.started" and .rollback == true)] | length) == 0 and WF("long").status == "aborted" and (WF("waiter").status | IN("aborted", "failed"))'
expect "no rollback step ran" test ! -e "$OUT/long-undo" -a ! -e "$OUT/waiter-undo"
expect "no process of the step is left" gone "$OUT/work.pid" "$OUT/work.child"
reap_leftovers

# ---- B10: --kill-grace: SIGKILL after the grace period ----
scenario B10-kill-grace
export LONG_MODE=stubborn
start_json "$RUNDIR/t0310-abort.yml" --kill-grace 200ms --no-rollback
abort_when_busy INT
finish_bg 15
unset LONG_MODE
expect_rc 130
expect "the step got SIGTERM first (and ignored it)" test -f "$OUT/work.term"
expect "the step and its child (both ignoring SIGTERM) are gone" gone "$OUT/work.pid" "$OUT/work.child"
expect "its process group is empty" group_gone "$OUT/work.pgid"
check "the step ends 200ms to 1.5 s after the interrupt" \
	"((F(\"long\"; \"work\") | ms) - $t_sig) as \$d | \$d >= 190 and \$d < 1500"
check "... as aborted, without exit code" 'F("long"; "work").status == "aborted" and F("long"; "work").exit_code == null'
expect "the run ended well before the default 10s grace ($((BG_END - t_sig)) ms after SIGINT)" test $((BG_END - t_sig)) -lt 3000
reap_leftovers

# --kill-grace 0: either refused as a usage error, or no grace at all. It
# must not silently mean the default 10s.
scenario B10-kill-grace-zero
export LONG_MODE=stubborn
start_json "$RUNDIR/t0310-abort.yml" --kill-grace 0 --no-rollback
work_started_or_run_ended() { test -s "$OUT/work.pid" || not_running "$BG"; }
expect "the step starts, or the run ends at once" wait_until 10 work_started_or_run_ended
if test -s "$OUT/work.pid"; then
	t_sig=$(now_ms)
	kill -INT "$BG"
	finish_bg 15
	expect "a 0 grace: SIGKILL at once, not after the default 10s (ended $((BG_END - t_sig)) ms after SIGINT)" \
		test $((BG_END - t_sig)) -lt 3000
	expect_rc 130
	expect "the step and its child are gone" gone "$OUT/work.pid" "$OUT/work.child"
else
	finish_bg 5
	expect "--kill-grace 0 refused as a usage error before running anything" test "$rc" -eq 2 -a ! -s "$EVENTS"
fi
unset LONG_MODE
reap_leftovers

# ---- B10: an abort ends wait steps and retry delays at once ----
scenario B10-idle
start_json "$RUNDIR/t0310-abort-idle.yml"
if wait_event 10 '.event == "step.finished" and .workflow == "retry"' && wait_event 10 '.event == "step.started" and .step == "nap"'; then
	pass "nap waits and flaky waits for its retry"
else
	fail "the run never got there"
fi
t_sig=$(now_ms)
kill -INT "$BG"
finish_bg 15
expect_rc 130
check_stream
expect "it ended at once, not after 30s ($((BG_END - t_sig)) ms after SIGINT)" test $((BG_END - t_sig)) -lt 5000
check "the wait step ends aborted" 'F("pause"; "nap").status == "aborted"'
check "no further attempt of flaky starts" '[ev("step.started")[] | select(.step == "flaky") | .attempt] == [1]'
check "both roll back" 'WF("pause").status == "rolled-back" and WF("retry").status == "rolled-back" and RF.status == "aborted"'
expect "both rollbacks ran" test -f "$OUT/pause-undo" -a -f "$OUT/retry-undo"

finish
