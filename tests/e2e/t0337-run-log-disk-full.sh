#!/bin/bash
# t0337-run-log-disk-full: a step log on a file system that is full when
# the step writes, and freed during the step (t0336 has the other ways a
# log cannot be written): a step.warning, the run goes on and succeeds,
# and the log says how many bytes were lost where they were lost, then
# goes on. It needs a small tmpfs of its own, so root: otherwise CTest
# reports it skipped.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout; root.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$RUNDIR/log-warnings.sh"
unset LOCKSTEP_STATE

mount_tmpfs "$tmp/can-mount" size=4k || skip_all "needs root and tmpfs mounts"
umount "$tmp/can-mount"

# A first run makes the store, so that the next run's id, and so its log
# directory, is known (a new store would go on past a log directory made
# beforehand).
scenario first
: >"$OUT/freed"
run_json "$RUNDIR/t0336-log.yml"
expect_rc 0

scenario disk-full
next_run
expect "a small tmpfs for the next run's logs" mount_tmpfs "$NEXT_LOGS" size=64k
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
expect_rc 0
check_stream
expect_warned "talk" "cannot write the log file $NEXT_LOGS/w/talk.1.log: No space left on device"
expect "the log marks what was lost, where it was lost" \
	test "$(cat "$(log_of w talk)" 2>/dev/null)" = "$(printf '\n[lockstep: log write failed: No space left on device; 11 bytes lost]\nsecond part')"

finish
