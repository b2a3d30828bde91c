#!/bin/bash
# A reader that does not read (a pipe nobody drains, a paused terminal)
# never holds up a run: timeouts and abort keep their precision, durations
# are the steps' own, the run is recorded as finished while the reader
# still sleeps. Plain lines beyond what lockstep buffers are dropped with a
# note; --json keeps every event (read back from the store).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
cp "$RUNDIR"/t0345-*.yml "$tmp"/

# The output goes into a FIFO that this shell holds open without reading
# (fd 8), so lockstep's writes fill it and then block, as with `| (sleep
# 15; cat)`. reader_start drains it into a file afterwards.
stall_start() { # FILE ARGS...
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	exec 8<>"$tmp/fifo"
	BG_T0=$(now_ms)
	"$LOCKSTEP" run "$@" --state "$STATE" >"$tmp/fifo" 2>"$ERR" </dev/null 8<&- &
	BG=$!
	BG_PIDS+=("$BG")
}
reader_start() { # OUTFILE
	# Opened here, before fd 8 closes, so the FIFO never lacks a reader
	# (lockstep would see EPIPE).
	exec 9<"$tmp/fifo"
	cat <&9 >"$1" 8<&- 9<&- &
	READER=$!
	exec 8<&- 9<&-
}

# run_status RUN: the run's status in the store ("running" while it runs);
# from `runs`, which is cheap (polling `show` of a big run would take the
# CPU the run needs).
run_status() {
	"$LOCKSTEP" runs --state "$STATE" --json 2>/dev/null | jq -r ".[] | select(.run == $1) | .status"
}
finished() { # RUN
	local s
	s=$(run_status "$1")
	[ -n "$s" ] && [ "$s" != running ] && [ "$s" != null ]
}
# jq over `show RUN --json`
shown() { # RUN FILTER
	"$LOCKSTEP" show "$1" --state "$STATE" --json | jq -r "$2"
}
step_ms() { # RUN WORKFLOW STEP
	shown "$1" ".workflows[] | select(.workflow == \"$2\") | .steps[] | select(.step == \"$3\") | .duration_ms"
}
in_range() { # WHAT VALUE MIN MAX
	if [ -n "$2" ] && [ "$2" != null ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then
		pass "$1 ($2 ms)"
	else
		fail "$1: $2 ms, not within $3..$4"
	fi
}

# ---- plain lines, nobody reading: the run goes on and ends on time ----
scenario plain
stall_start t0345-stall.yml
if wait_until 30 finished 1; then
	pass "the run ended while nobody read its output"
else
	fail "the run did not end within 30 s while its output was not read (status $(run_status 1))"
fi
reader_start "$tmp/plain.out"
finish_bg 30
expect_rc 1 "b timed out, the run failed"
in_range "b's 2 s timeout fired on time" "$(step_ms 1 b hang)" 2000 2400
in_range "a's time is its own" "$(step_ms 1 a chatter)" 0 1500
expect "b timed out" [ "$(shown 1 '.workflows[] | select(.workflow == "b") | .steps[0].status')" = timed-out ]
wait "$READER"
if grep -Eq "^\\.\\.\\. [0-9]+ lines dropped; the reader fell behind; 'lockstep logs 1' and 'lockstep show 1' have them$" "$tmp/plain.out"; then
	pass "the output says how many lines were dropped and where they are"
else
	fail "no note of dropped lines in the output"
	tail -5 "$tmp/plain.out" | sed 's/^/     | /'
fi
expect "the progress lines after the drop are there" grep -q '^\[b\] hang timed-out in 2\.' "$tmp/plain.out"
expect "the summary is there, last" grep -q '^run 1 failed in ' "$tmp/plain.out"
# What was dropped from the terminal is in the step's log.
expect "the log has every byte" [ "$("$LOCKSTEP" logs 1 a/chatter --state "$STATE" 2>/dev/null | grep -c '^zzz$')" -ge 1250000 ]

# ---- abort while nobody reads: SIGINT takes effect at once ----
scenario abort
stall_start t0345-abort.yml
a_done() { [ "$(shown 2 '.workflows[] | select(.workflow == "a") | .status' 2>/dev/null)" = succeeded ]; }
b_running() { [ "$(shown 2 '.workflows[] | select(.workflow == "b") | .steps[0].status' 2>/dev/null)" = running ]; }
if wait_until 30 a_done && wait_until 10 b_running; then
	t_int=$(now_ms)
	kill -INT "$BG"
	if wait_until 10 finished 2; then
		t_end=$(now_ms)
		in_range "the abort was recorded soon after SIGINT" $((t_end - t_int)) 0 3000
	else
		fail "SIGINT did not end the run within 10 s while its output was not read"
	fi
else
	fail "a did not finish or b did not start (a: $(shown 2 '.workflows[0].status'))"
fi
reader_start "$tmp/abort.out"
finish_bg 30
expect_rc 130 "the aborted run"
expect "a, done before the abort, stays succeeded" [ "$(shown 2 '.workflows[] | select(.workflow == "a") | .status')" = succeeded ]
expect "b is aborted" [ "$(shown 2 '.workflows[] | select(.workflow == "b") | .status')" = aborted ]
wait "$READER"

# ---- a terminal nobody reads (a paused terminal): the live board ----
scenario board
# A pty whose master is not read until the run is recorded as finished.
cat >"$tmp/stallterm.py" <<'PY'
import os, pty, subprocess, sys, time, json
lockstep, state, pipeline, out, run = sys.argv[1:6]
master, slave = pty.openpty()
env = dict(os.environ, TERM="xterm", COLUMNS="100")
p = subprocess.Popen([lockstep, "run", pipeline, "--state", state], stdin=subprocess.DEVNULL,
                     stdout=slave, stderr=slave, env=env, start_new_session=True)
os.close(slave)
def status():
    r = subprocess.run([lockstep, "runs", "--state", state, "--json"], capture_output=True, text=True)
    try:
        return [x for x in json.loads(r.stdout) if x["run"] == int(run)][0]["status"]
    except Exception:
        return None
ended = False
for _ in range(600):  # 30 s
    if status() not in (None, "running"):
        ended = True
        break
    time.sleep(0.05)
print("ended" if ended else "stuck", flush=True)
got = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    got += chunk
rc = p.wait(timeout=30)
open(out, "wb").write(got)
print("rc", rc)
PY
python3 "$tmp/stallterm.py" "$LOCKSTEP" "$STATE" t0345-stall.yml "$tmp/board.out" 3 >"$tmp/board.res" 2>&1
expect "the run ended while nobody read the terminal" grep -qx ended "$tmp/board.res"
expect "b failed: exit 1" grep -qx 'rc 1' "$tmp/board.res"
in_range "b's 2 s timeout fired on time" "$(step_ms 3 b hang)" 2000 2400
in_range "a's time is its own" "$(step_ms 3 a chatter)" 0 1500
expect "the terminal got the note of dropped lines" grep -aq "lines dropped; the reader fell behind; 'lockstep logs 3'" "$tmp/board.out"
expect "the terminal got the summary" grep -aq '^run 3 failed in ' "$tmp/board.out"

# ---- --json, nobody reading: every event, in order, none twice ----
# 62,000 events keep the loop busy for a while (seconds under the
# sanitizers): the timeout is set past that, so its precision measures
# the reader's effect, not the engine's own load.
scenario json
{
	echo "name: many-events"
	echo "stages:"
	echo "  - workflow: w"
	printf '    matrix: { i: ['
	seq -s, 1 1000 | tr -d '\n'
	echo '] }'
	echo "  - workflow: slow"
	echo "    parallel: true"
	echo "workflows:"
	echo "  w:"
	echo "    steps:"
	for _ in $(seq 30); do echo "      - wait: 0s"; done
	echo "  slow:"
	echo "    steps:"
	echo "      - id: hang"
	echo "        run: sleep 100"
	echo "        timeout: 6s"
} >"$tmp/many.yml"
stall_start many.yml --json
if wait_until 60 finished 4; then
	pass "the run ended while nobody read its events"
else
	fail "the run did not end within 60 s while its events were not read"
fi
reader_start "$EVENTS"
finish_bg 60
wait "$READER"
expect_rc 1 "slow timed out, the run failed"
in_range "the 6 s timeout fired on time" "$(step_ms 4 slow hang)" 6000 6400
last=$(shown 4 '.events | length')
expect "more event text than lockstep keeps in memory (4 MiB)" [ "$(wc -c <"$EVENTS")" -gt 6000000 ]
if jq -e -s --argjson n "$last" '(map(.seq) == [range(1; $n + 1)]) and (.[-1].event == "run.finished")' \
	"$EVENTS" >/dev/null; then
	pass "all $last events, in order, each once, ending with run.finished"
else
	fail "the event stream is not seq 1..$last ($(wc -l <"$EVENTS") lines)"
fi
if "$LOCKSTEP" show 4 --state "$STATE" --json | jq -c '.events[]' | cmp -s - <(jq -c . "$EVENTS"); then
	pass "the stream is exactly what the store recorded"
else
	fail "the stream differs from the recorded events"
fi
nothing_lost() { ! grep -q 'could not be read back' "$ERR"; }
expect "nothing was said about lost events" nothing_lost

finish
