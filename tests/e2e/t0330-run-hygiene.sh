#!/bin/bash
# Process hygiene and terminal output of `lockstep run`: a daemon a step
# double-forked is killed and reaped with the run; steps see no file
# descriptor of lockstep's; on a terminal the live board is drawn, in CI
# logs plain lines without escape codes; a reader that goes away
# (`| head -1`) does not kill the run.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq, timeout and
# script (util-linux).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
need script
unset LOCKSTEP_STATE

# daemon_gone PIDFILE: the daemon whose pid a step wrote there is gone
# (killed and reaped); one that is not is killed here, after saying so.
daemon_gone() {
	local pid
	pid=$(cat "$1" 2>/dev/null)
	[ -n "$pid" ] || { echo "  (no pid in ${1##*/})"; return 1; }
	kill -0 "$pid" 2>/dev/null || return 0
	echo "  (daemon $pid is still there, alive or an unreaped zombie)"
	kill -KILL "$pid" 2>/dev/null
	return 1
}

# ---- a double-forked daemon dies with the run; a leaked fd never reaches a step ----
scenario daemon
exec 9>"$tmp/lockstep-private-fd"
run_json "$RUNDIR/t0330-daemon.yml"
exec 9>&-
expect_rc 0 "the daemon pipeline runs"
expect "the double-forked daemon was killed and reaped with the run" daemon_gone "$OUT/daemon.pid"
expect "a step sees only stdin, stdout, stderr (and ls's own directory fd): $(tr '\n' ' ' <"$OUT/fds")" \
	test "$(tr '\n' ' ' <"$OUT/fds")" = "0 1 2 3 "

# ---- the same after an abort: SIGINT while the step runs ----
scenario abort
start_json "$RUNDIR/t0330-abort-daemon.yml"
expect "the step has started its daemon" wait_until 10 test -s "$OUT/abort-daemon.pid"
kill -INT "$BG"
finish_bg 15
expect_rc 130 "the aborted run exits 130"
expect "the double-forked daemon of an aborted run was killed and reaped" daemon_gone "$OUT/abort-daemon.pid"

# ---- not a terminal: plain prefixed lines, no escape codes ----
scenario plain
cmd run "$RUNDIR/t0330-board.yml" --state "$STATE"
expect_rc 0 "board pipeline, plain output"
cat "$COUT" "$CERR" >"$OUT/plain"
expect "plain output holds no escape codes" test -z "$(grep $'\033' "$OUT/plain")"
expect "plain output prefixes lines with the workflow name" \
	grep -qx '\[a\] a line 3' "$OUT/plain"
expect "... and says where a workflow waits" grep -q '^\[b\] arrived at barrier X' "$OUT/plain"

# ---- a terminal: the live board (script(1) gives lockstep a pty) ----
scenario board
TERM=xterm NO_COLOR='' COLUMNS=100 script -qfec "$LOCKSTEP run $RUNDIR/t0330-board.yml --state $STATE" /dev/null \
	>"$OUT/tty" 2>&1 </dev/null
rc=$?
expect_rc 0 "board pipeline on a terminal"
expect "the board shows b waiting at X for a" grep -q 'waiting .* at X for a' "$OUT/tty"
expect "the board is redrawn in place (cursor moves up)" grep -q $'\033\\[[0-9]*F' "$OUT/tty"
expect "the board has colours" grep -q $'\033\\[3[0-9]m' "$OUT/tty"
# The summary's status is coloured too.
expect "the summary follows the board" grep -Eq $'run [0-9]+ (\033\\[[0-9;]*m)?succeeded' "$OUT/tty"
TERM=xterm NO_COLOR=1 script -qfec "$LOCKSTEP run $RUNDIR/t0330-board.yml --state $STATE" /dev/null \
	>"$OUT/tty-nocolor" 2>&1 </dev/null
rc=$?
expect_rc 0 "board pipeline on a terminal, NO_COLOR=1"
expect "NO_COLOR=1 turns colours off" test -z "$(grep $'\033\\[3[0-9]m' "$OUT/tty-nocolor")"

# ---- the reader of lockstep's output goes away ----
# `lockstep run ... | head -1`: lockstep must not die of SIGPIPE half-way
# (its steps unwatched, its daemons orphaned, the run left interrupted): the
# run goes on, recorded, and stderr says where to read the rest.
for mode in json plain; do
	scenario "pipe-$mode"
	args=()
	[ "$mode" = json ] && args=(--json)
	# The reader takes one line, then closes the pipe for good and says so.
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$RUNDIR/t0330-pipe.yml" --state "$tmp/pipe-$mode" "${args[@]}" \
		2>"$ERR" </dev/null |
		sh -c 'head -n 1 >"$1"; exec 0<&-; : >"$2"' sh "$OUT/first" "$OUT/reader-gone"
	rc=${PIPESTATUS[0]}
	expect_rc 0 "with its reader gone, lockstep runs to the end (not killed by SIGPIPE)"
	expect "the reader got its line" test -s "$OUT/first"
	expect "the last step ran" test -e "$OUT/last-ran"
	cmd runs --state "$tmp/pipe-$mode" --json
	expect "the run is recorded succeeded" jq_true '.[0].status == "succeeded"' "$COUT"
	expect "the step's daemon was killed with the run" daemon_gone "$OUT/pipe-daemon.pid"
	expect "stderr says the output was cut and where the rest is" \
		grep -qF "standard output was closed during the run; the run went on: 'lockstep show 1' has all of it" "$ERR"
done

finish
