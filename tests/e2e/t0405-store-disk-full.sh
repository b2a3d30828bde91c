#!/bin/bash
# t0405-store-disk-full: the disk holding the state directory fills up
# during a run (t0400 has the rest of the store): the commit that fails
# stops the run with exit 4 and says why, the running step is terminated,
# nothing is left behind and no rollback runs (nothing could record it);
# the events still reach stdout. It needs a small tmpfs of its own, so
# root: otherwise CTest reports it skipped.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq; root.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE
ln -s "$RUNDIR/bin" "$tmp/bin"

mount_tmpfs "$tmp/full" size=4m || skip_all "needs root and tmpfs mounts"

scenario disk-full
# gate holds 60 workflows at barrier start until $GO exists; long runs
# a long step; after start, 60 workflows cross 10 barriers: many
# events, while the file system is full.
{
	echo "name: fill"
	echo "barriers:"
	echo "  start: {timeout: 1m}"
	for b in 1 2 3 4 5 6 7 8 9 10; do echo "  r$b: {timeout: 1m}"; done
	echo "stages:"
	echo "  - workflow: gate"
	echo "  - workflow: long"
	echo "    parallel: true"
	for w in $(seq 1 60); do printf '  - workflow: w%s\n    parallel: true\n' "$w"; done
	echo "workflows:"
	echo "  gate:"
	echo "    steps:"
	echo "      - run: i=0; while [ ! -e \"\$GO\" ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i+1)); done"
	echo "      - barrier: start"
	echo "  long:"
	echo "    steps:"
	echo "      - id: work"
	echo "        run: ./bin/long work"
	# A rollback that must not run: nothing could record it.
	echo "    rollback:"
	echo "      - run: touch \"\$OUT/long.rolled-back\""
	for w in $(seq 1 60); do
		echo "  w$w:"
		echo "    steps:"
		echo "      - barrier: start"
		for b in 1 2 3 4 5 6 7 8 9 10; do echo "      - run: \"true\""; echo "      - barrier: r$b"; done
	done
} >"$tmp/fill.yml"
export GO=$tmp/go
STATE=$tmp/full/state
start_json "$tmp/fill.yml"
under_way() {
	wait_until 10 test -s "$OUT/work.pgid" && wait_event 10 '.event == "barrier.arrived" and .barrier == "start"'
}
expect "the run is under way" under_way
dd if=/dev/zero of="$tmp/full/filler" bs=64k >/dev/null 2>&1
touch "$GO"
finish_bg 30
expect_rc 4
expect "the store's error is named" grep -q "lockstep run: state store error: $tmp/full/state/lockstep.db: cannot record events: database or disk is full" "$ERR"
expect "it says it stops the run" grep -q "events from seq [0-9]* on are not recorded; stopping the run (no further steps, no rollbacks)" "$ERR"
check "no step started after the store failed: no rollback ran" '[.[] | select(.event == "workflow.rollback" or (.event == "step.started" and .rollback == true))] | length == 0'
expect "... and the rollback step of long never ran" test ! -e "$OUT/long.rolled-back"
expect "the summary says what each workflow was left in" grep -Eq '^  long +aborted' "$ERR"
expect "... and that the run was not fully recorded" grep -q "was not fully recorded" "$ERR"
expect "the running step got SIGTERM" test -f "$OUT/work.term"
expect "nothing of it is left" group_gone "$OUT/work.pgid"
check "the events still reached stdout, to the end" '.[-1].event == "run.finished" and .[-1].status == "aborted"'

finish
