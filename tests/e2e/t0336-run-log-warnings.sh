#!/bin/bash
# t0336-run-log-warnings: a step log that cannot be written is never
# silent, and never changes the step's result. A log directory that
# cannot be written (read-only, or permissions), and a log file whose
# writes fail (/dev/full) each give a step.warning event, a `warnings:`
# line in the run's summary, and a warning in `show` (text and --json);
# the run goes on as if nothing happened, and a run resumed after a crash
# still lists it. (A full file system, freed during the step, needs root:
# t0337-run-log-disk-full.sh.)
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE

. "$RUNDIR/log-warnings.sh"

# ---- logs that work: no warning anywhere ----
scenario fine
: >"$OUT/freed"
run_json "$RUNDIR/t0336-log.yml"
expect_rc 0
check "no step.warning" '(ev("step.warning") | length) == 0'
"$LOCKSTEP" show "$RUN_ID" --state "$STATE" >"$tmp/fine/show" 2>&1
"$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json >"$tmp/fine/show.json" 2>&1
expect "the summary has no warnings section" test -z "$(grep -x 'warnings:' "$ERR")"
expect "show has none" test -z "$(grep -x 'warnings:' "$tmp/fine/show")"
expect "show --json has an empty list" jq -e '.warnings == []' "$tmp/fine/show.json"

# ---- the log directory cannot be written ----
scenario unwritable
next_run
mkdir -p "$NEXT_LOGS" && : >"$OUT/freed"
mounted=""
if mount_tmpfs "$NEXT_LOGS" ro,size=64k; then
	mounted=$NEXT_LOGS
	why="cannot create directory '$NEXT_LOGS/w': Read-only file system"
elif [ "$(id -u)" -ne 0 ]; then
	chmod 555 "$NEXT_LOGS"
	why="cannot create directory '$NEXT_LOGS/w': Permission denied"
else
	# Root, and no mounts: a file where the workflow's directory goes.
	: >"$NEXT_LOGS/w"
	why="'$NEXT_LOGS/w' is not a directory"
fi
run_json "$RUNDIR/t0336-log.yml"
expect_rc 0
check_stream
expect_warned "talk after" "the output of this attempt is not logged"
check "... where and why" \
	"[.[] | select(.event == \"step.warning\")] | all(.message | contains(\"'$NEXT_LOGS/w'\") and contains(\"$why\"))"
[ -n "$mounted" ] && umount "$mounted"

# ---- the log file cannot be written: /dev/full ----
scenario dev-full
next_run
mkdir -p "$NEXT_LOGS/w" && : >"$OUT/freed"
ln -s /dev/full "$NEXT_LOGS/w/talk.1.log"
run_json "$RUNDIR/t0336-log.yml"
expect_rc 0
check_stream
expect_warned "talk" "cannot write the log file $NEXT_LOGS/w/talk.1.log: No space left on device"
expect "the other step's log is whole" file_has "$(log_of w after)" after

# ---- a crash after the warning: the resumed run's summary has it ----
scenario resume
next_run
mkdir -p "$NEXT_LOGS/w"
ln -s /dev/full "$NEXT_LOGS/w/talk.1.log"
start_json "$RUNDIR/t0336-log.yml"
expect "a step.warning comes" wait_event 10 '.event == "step.warning" and .step == "talk"'
kill_bg
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" resume "$NEXT" --state "$STATE" --json >"$EVENTS" 2>"$ERR" </dev/null
rc=$?
expect_rc 1
expect "the resumed run's summary lists the warning recorded before the crash" \
	line_has "$ERR" "  w: step 'talk' (attempt 1): " "No space left on device"

finish
