#!/bin/bash
# t0336-run-log-warnings: a step log that cannot be written is never
# silent, and never changes the step's result. A log directory that
# cannot be written (read-only, or permissions), and a log file whose
# writes fail (/dev/full) each give a step.warning event, a `warnings:`
# line in the run's summary, and a warning in `show` (text and --json);
# the run goes on as if nothing happened, and a run resumed after a crash
# still lists it. As root, a full tmpfs that is freed during the step: the
# log says how many bytes were lost where they were, and goes on.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE

MOUNTS=()
unmount_all() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	MOUNTS=()
}
trap 'unmount_all; cleanup' EXIT
# mount_tmpfs DIR OPTIONS: mounts a tmpfs (root only); false when it cannot.
mount_tmpfs() {
	[ "$(id -u)" -eq 0 ] && mount -t tmpfs -o "$2" tmpfs "$1" 2>/dev/null || return 1
	MOUNTS+=("$1")
}
file_has() { [ -f "$1" ] && grep -qF -- "$2" "$1"; }
# line_has FILE PREFIX TEXT: a line of FILE starts with PREFIX and holds TEXT.
line_has() {
	awk -v p="$2" -v t="$3" 'index($0, p) == 1 && index($0, t) { f = 1 } END { exit !f }' "$1"
}

# expect_warned WANT_STEPS MESSAGE: the run's step.warning events are one
# per step in WANT_STEPS (w's, attempt 1), each with MESSAGE in it; the
# summary and `show` (text and --json) list the same.
expect_warned() {
	local steps=$1 msg=$2 s line
	check "one step.warning per step whose log failed: $steps" \
		"[.[] | select(.event == \"step.warning\") | .step] == ($(printf '%s\n' $steps | jq -R . | jq -s -c .))"
	check "each names its workflow, step and attempt and says what failed" \
		"all(.[] | select(.event == \"step.warning\"); .workflow == \"w\" and .attempt == 1 and (.message | contains(\"$msg\")))"
	check "the steps succeeded all the same, and so did the run" \
		'F("w"; "talk").status == "succeeded" and F("w"; "after").status == "succeeded" and RF.status == "succeeded"'
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" >"$tmp/$SCENARIO/show" 2>&1
	"$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json >"$tmp/$SCENARIO/show.json" 2>&1
	expect "the summary has a warnings section" grep -qx "warnings:" "$ERR"
	expect "show has a warnings section" grep -qx "warnings:" "$tmp/$SCENARIO/show"
	for s in $steps; do
		line="  w: step '$s' (attempt 1): "
		expect "the summary names the warning of $s, with its message" line_has "$ERR" "$line" "$msg"
		expect "show names it" line_has "$tmp/$SCENARIO/show" "$line" "$msg"
		expect "show --json has it" jq -e --arg s "$s" --arg m "$msg" \
			'[.warnings[] | select(.workflow == "w" and .step == $s and .attempt == 1 and .rollback == false and (.message | contains($m)))] | length == 1' \
			"$tmp/$SCENARIO/show.json"
	done
}

# next_run: the id the next run of $STATE gets, in NEXT (the store goes on
# from the last one), and its log directory, in NEXT_LOGS.
next_run() {
	NEXT=$(("$("$LOCKSTEP" runs --state "$STATE" --json --limit 1 | jq '.[0].run')" + 1))
	NEXT_LOGS=$STATE/logs/$NEXT
}

# ---- logs that work: no warning anywhere ----
scenario fine
: >"$OUT/freed"
run_json "$RUNDIR/t0336-log.yml"
expect_rc_is 0
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
if mount_tmpfs "$NEXT_LOGS" ro,size=64k; then
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
expect_rc_is 0
check_stream
expect_warned "talk after" "the output of this attempt is not logged"
check "... where and why" \
	"[.[] | select(.event == \"step.warning\")] | all(.message | contains(\"'$NEXT_LOGS/w'\") and contains(\"$why\"))"
unmount_all

# ---- the log file cannot be written: /dev/full ----
scenario dev-full
next_run
mkdir -p "$NEXT_LOGS/w" && : >"$OUT/freed"
ln -s /dev/full "$NEXT_LOGS/w/talk.1.log"
run_json "$RUNDIR/t0336-log.yml"
expect_rc_is 0
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
kill -KILL "$BG"
wait "$BG" 2>/dev/null
BG_PIDS=()
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" resume "$NEXT" --state "$STATE" --json >"$EVENTS" 2>"$ERR" </dev/null
rc=$?
expect_rc_is 1
expect "the resumed run's summary lists the warning recorded before the crash" \
	line_has "$ERR" "  w: step 'talk' (attempt 1): " "No space left on device"

# ---- a full file system, freed during the step (root: tmpfs) ----
scenario disk-full
next_run
mkdir -p "$NEXT_LOGS"
if ! mount_tmpfs "$NEXT_LOGS" size=64k; then
	echo "# skipped: needs root and tmpfs mounts"
else
	mkdir -p "$NEXT_LOGS/w"
	dd if=/dev/zero of="$NEXT_LOGS/filler" bs=4k >/dev/null 2>&1
	start_json "$RUNDIR/t0336-log.yml"
	# The warning says lockstep tried to write "first part" and could not;
	# then the space comes back and the step goes on.
	expect "a step.warning comes while the disk is full" \
		wait_event 10 '.event == "step.warning" and .step == "talk"'
	rm -f "$NEXT_LOGS/filler"
	: >"$OUT/freed"
	finish_bg 20
	expect_rc_is 0
	check_stream
	expect_warned "talk" "cannot write the log file $NEXT_LOGS/w/talk.1.log: No space left on device"
	expect "the log marks what was lost, where it was lost" \
		test "$(cat "$(log_of w talk)" 2>/dev/null)" = "$(printf '\n[lockstep: log write failed: No space left on device; 11 bytes lost]\nsecond part')"
fi
unmount_all

finish
