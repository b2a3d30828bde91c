#!/bin/bash
# t0415-store-locked-timers: a commit that waits never delays a timer.
# Events are committed on a thread of their own (docs/store.md, "Durable
# before visible"), so while another process holds the store's write
# lock (another `lockstep run` sharing the state directory, or here the
# sqlite3 shell), the run's step timeouts and barrier deadlines still
# fire on time; what they decide is recorded, then shown, once the lock
# is released.
#
#   step     a step becomes due while the lock is held: its timeout
#            (300 ms) ends it on time although its step.started waits
#            for the commit (its process never starts);
#   barrier  a workflow arrives at a barrier while the lock is held: the
#            barrier's timeout (300 ms) breaks it on time;
#   output   an http-check starts while the lock is held and prints its
#            lines at once: they are shown only after its step.started,
#            which waits for the commit (step output never overtakes the
#            step.started that announces it; output of a step shown
#            started is not held).
#
# Each scenario holds the lock for LOCK_MS (2 s, the stimulus) from
# before the moment the timer is armed; the timer must fire within
# 300 ms + SLACK_MS, far below that. A lockstep that commits on its loop
# thread waits for the lock there, and fires the timer about 2 s late.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq, python3 and the
# sqlite3 shell (Debian: sqlite3).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$E2E_DIR/http/lib.sh"
need sqlite3
unset LOCKSTEP_STATE LOCKSTEP_BUSY_TIMEOUT_MS
LOCK_MS=2000
# How late a timer may be on a loaded machine; far below LOCK_MS.
SLACK_MS=700

# locked [ARGS...]: runs the scenario's pipeline (run/t0415-SCENARIO.yml). Once
# its step `hold` runs, takes the write lock, lets hold end ($OUT/go),
# keeps the lock LOCK_MS, releases it and creates $OUT/release. Sets
# LOCKED_AT and RELEASED_AT (ms).
locked() {
	start_json "$RUNDIR/t0415-$SCENARIO.yml" "$@"
	expect "hold runs" wait_until 10 test -e "$OUT/hold.running"
	lock_take "$STATE/lockstep.db"
	LOCKED_AT=$(now_ms)
	: >"$OUT/go"
	sleep "$((LOCK_MS / 1000)).$((LOCK_MS % 1000 / 100))"
	lock_release
	RELEASED_AT=$(now_ms)
	: >"$OUT/release"
	finish_bg 30
	check_stream
}

scenario step
locked
expect_rc 1 "the run fails (a timeout), and is recorded: exit 1"
check "late timed out" 'F("a"; "late").status == "timed-out" and F("a"; "late").exit_code == null'
check "late started after the lock was taken and ended before it was released" \
	"(S(\"a\"; \"late\") | ms) >= $LOCKED_AT and (F(\"a\"; \"late\") | ms) < $RELEASED_AT"
check "its timeout fired on time: duration_ms within 300..$((300 + SLACK_MS))" \
	"F(\"a\"; \"late\").duration_ms >= 300 and F(\"a\"; \"late\").duration_ms < $((300 + SLACK_MS))"
check "... and by the events' times" \
	"(F(\"a\"; \"late\") | ms) - (S(\"a\"; \"late\") | ms) < $((300 + SLACK_MS))"
expect "late's process never started: no log file" test ! -e "$(log_of a late)"

scenario barrier
locked
expect_rc 1 "the run fails (a timeout), and is recorded: exit 1"
check "X broke by its timeout" 'B("X").reason | startswith("timed out after 300ms")'
check "a arrived after the lock was taken; X broke before it was released" \
	"(A(\"X\"; \"a\") | ms) >= $LOCKED_AT and (B(\"X\") | ms) < $RELEASED_AT"
check "X's timeout fired on time: within 300..$((300 + SLACK_MS)) ms of a's arrival" \
	"(B(\"X\") | ms) - (A(\"X\"; \"a\") | ms) >= 299 and (B(\"X\") | ms) - (A(\"X\"; \"a\") | ms) < $((300 + SLACK_MS))"
check "b arrived at the broken barrier and failed" 'WF("b").status == "failed"'

# line_of ERE: the number of the first line of stderr that matches, or 0.
line_of() { grep -nE -- "$1" "$ERR" | head -n 1 | cut -d: -f1 | grep . || echo 0; }

scenario output
serve python3 -m http.server 0 --bind 127.0.0.1 --directory "$SRV"
locked --var "port=$PORT"
expect_rc 0 "the run succeeds"
check "the check succeeded while the lock was held" \
	"F(\"a\"; \"check\").status == \"succeeded\" and (F(\"a\"; \"check\") | ms) < $RELEASED_AT"
started=$(line_of '^\[a\] check started$')
first=$(line_of '^\[a\] [0-9]{4}-.* http-check GET ')
answer=$(line_of '^\[a\] [0-9]{4}-.* #1 status 200 ')
ended=$(line_of '^\[a\] check succeeded ')
expect "its lines are shown after its start, in order, before its end (lines $started < $first < $answer < $ended)" \
	test "$started" -gt 0 -a "$first" -gt "$started" -a "$answer" -gt "$first" -a "$ended" -gt "$answer"
stop_server

finish
