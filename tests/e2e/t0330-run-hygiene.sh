#!/bin/bash
# Process hygiene and terminal output of `lockstep run`: a daemon a step
# double-forked is killed and reaped with the run; steps see no file
# descriptor of lockstep's; on a terminal the live board is drawn, in CI
# logs plain lines without escape codes; a reader that goes away
# (`| head -1`) does not kill the run.
set -u
. "$(dirname "$0")/lib/common.sh"
case $LOCKSTEP in /*) ;; *) LOCKSTEP=$PWD/$LOCKSTEP ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$E2E_DIR"/run/t0330-*.yml "$tmp"/
export OUT=$tmp/out
mkdir -p "$OUT"

# ---- a double-forked daemon dies with the run; a leaked fd never reaches a step ----
exec 9>"$tmp/lockstep-private-fd"
timeout 30 "$LOCKSTEP" run "$tmp/t0330-daemon.yml" --state "$tmp/state" --json >"$tmp/events" 2>"$tmp/err"
rc=$?
exec 9>&-
expect_rc "the daemon pipeline runs" 0 "$rc"
pid=$(cat "$OUT/daemon.pid" 2>/dev/null)
if [ -z "$pid" ]; then
	fail "the step did not record its daemon's pid"
elif kill -0 "$pid" 2>/dev/null; then
	fail "daemon $pid is still there after the run (alive or an unreaped zombie)"
	kill -KILL "$pid" 2>/dev/null
else
	pass "the double-forked daemon was killed and reaped with the run"
fi
fds=$(tr '\n' ' ' <"$OUT/fds")
if [ "$fds" = "0 1 2 3 " ]; then
	pass "a step sees only stdin, stdout, stderr (and ls's own directory fd)"
else
	fail "a step sees file descriptors beyond 0-2: $fds"
fi

# ---- the same after an abort: SIGINT while the step runs ----
"$LOCKSTEP" run "$tmp/t0330-abort-daemon.yml" --state "$tmp/state" --json >"$tmp/abort-events" 2>&1 &
bg=$!
i=0
while [ ! -s "$OUT/abort-daemon.pid" ] && [ $i -lt 1000 ]; do
	i=$((i + 1))
	sleep 0.01
done
kill -INT "$bg"
i=0
while kill -0 "$bg" 2>/dev/null && [ $i -lt 1500 ]; do
	i=$((i + 1))
	sleep 0.01
done
if kill -0 "$bg" 2>/dev/null; then
	fail "lockstep did not exit within 15 s of SIGINT"
	kill -KILL "$bg"
fi
wait "$bg"
expect_rc "the aborted run exits 130" 130 $?
pid=$(cat "$OUT/abort-daemon.pid" 2>/dev/null)
if [ -z "$pid" ]; then
	fail "the aborted step did not record its daemon's pid"
elif kill -0 "$pid" 2>/dev/null; then
	fail "daemon $pid survived the aborted run"
	kill -KILL "$pid" 2>/dev/null
else
	pass "the double-forked daemon of an aborted run was killed and reaped"
fi

# ---- not a terminal: plain prefixed lines, no escape codes ----
"$LOCKSTEP" run "$tmp/t0330-board.yml" --state "$tmp/state" >"$tmp/plain" 2>&1
expect_rc "board pipeline, plain output" 0 $?
if grep -q $'\033' "$tmp/plain"; then
	fail "plain output holds escape codes"
else
	pass "plain output holds no escape codes"
fi
if grep -qx '\[a\] a line 3' "$tmp/plain" && grep -q '^\[b\] arrived at barrier X' "$tmp/plain"; then
	pass "plain output prefixes lines with the workflow name"
else
	fail "plain output lacks prefixed lines: $(head -5 "$tmp/plain")"
fi

# ---- a terminal: the live board (script(1) gives lockstep a pty) ----
if command -v script >/dev/null; then
	TERM=xterm NO_COLOR= COLUMNS=100 script -qfec "$LOCKSTEP run $tmp/t0330-board.yml --state $tmp/state" /dev/null \
		>"$tmp/tty" 2>&1 </dev/null
	expect_rc "board pipeline on a terminal" 0 $?
	if grep -q 'waiting .* at X for a' "$tmp/tty"; then
		pass "the board shows b waiting at X for a"
	else
		fail "the board never showed 'waiting at X for a'"
	fi
	if grep -q $'\033\\[[0-9]*F' "$tmp/tty"; then
		pass "the board is redrawn in place (cursor moves up)"
	else
		fail "no cursor movement: the board is not redrawn"
	fi
	if grep -q $'\033\\[3[0-9]m' "$tmp/tty"; then
		pass "the board has colours"
	else
		fail "the board has no colours"
	fi
	TERM=xterm NO_COLOR=1 script -qfec "$LOCKSTEP run $tmp/t0330-board.yml --state $tmp/state" /dev/null \
		>"$tmp/tty-nocolor" 2>&1 </dev/null
	if grep -q $'\033\\[3[0-9]m' "$tmp/tty-nocolor"; then
		fail "NO_COLOR=1 still gives colours"
	else
		pass "NO_COLOR=1 turns colours off"
	fi
	# The summary's status is coloured too.
	if grep -Eq $'run [0-9]+ (\033\\[[0-9;]*m)?succeeded' "$tmp/tty"; then
		pass "the summary follows the board"
	else
		fail "no summary after the board"
	fi
else
	fail "script(1) is needed to test the terminal board"
fi
# ---- the reader of lockstep's output goes away ----
# `lockstep run ... | head -1`: lockstep must not die of SIGPIPE half-way
# (its steps unwatched, its daemons orphaned, the run left interrupted): the
# run goes on, recorded, and stderr says where to read the rest.
for mode in json plain; do
	rm -f "$OUT/reader-gone" "$OUT/last-ran" "$OUT/pipe-daemon.pid"
	args=()
	[ "$mode" = json ] && args=(--json)
	# The reader takes one line, then closes the pipe for good and says so.
	timeout 30 "$LOCKSTEP" run "$tmp/t0330-pipe.yml" --state "$tmp/pipe-$mode" "${args[@]}" 2>"$tmp/pipe-$mode.err" |
		sh -c 'head -n 1 >"$1"; exec 0<&-; : >"$2"' sh "$tmp/pipe-$mode.first" "$OUT/reader-gone"
	rc=${PIPESTATUS[0]}
	expect_rc "$mode: with its reader gone, lockstep runs to the end (not killed by SIGPIPE)" 0 "$rc"
	if [ -s "$tmp/pipe-$mode.first" ]; then pass "$mode: the reader got its line"; else fail "$mode: the reader got nothing"; fi
	if [ -e "$OUT/last-ran" ]; then pass "$mode: the last step ran"; else fail "$mode: the last step never ran"; fi
	"$LOCKSTEP" runs --state "$tmp/pipe-$mode" --json >"$tmp/pipe-$mode.runs" 2>/dev/null
	if jq -e '.[0].status == "succeeded"' "$tmp/pipe-$mode.runs" >/dev/null 2>&1; then
		pass "$mode: the run is recorded succeeded"
	else
		fail "$mode: the run is recorded as $(jq -r '.[0].status' "$tmp/pipe-$mode.runs" 2>/dev/null)"
	fi
	pid=$(cat "$OUT/pipe-daemon.pid" 2>/dev/null)
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		pass "$mode: the step's daemon was killed with the run"
	else
		fail "$mode: daemon '${pid}' is still there (or never started)"
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	fi
	if grep -qF "standard output was closed during the run; the run went on: 'lockstep show 1' has all of it" "$tmp/pipe-$mode.err"; then
		pass "$mode: stderr says the output was cut and where the rest is"
	else
		fail "$mode: stderr does not say the output was cut: $(tail -c 300 "$tmp/pipe-$mode.err")"
	fi
done

finish
