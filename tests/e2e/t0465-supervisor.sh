#!/bin/bash
# t0465-supervisor: the run's supervisor (docs/cli.md, resume; docs/design.md,
# "Executors and the supervisor"), in the cases t0460's random crashes do
# not aim at:
#   1. life: it lives in a session of its own while the run runs, with the
#      steps as its children; a stranger on its socket (another protocol
#      version, or one that says nothing) does not disturb the run; after
#      the run it is gone with its directory;
#   2. a crash of lockstep alone, then the step ends while lockstep is dead:
#      the supervisor, idle, exits and leaves its journal; the resume takes
#      the step's real result from it (ran once, exit status, output in its
#      log) and the run goes on; the directory is then removed;
#   3. abort of an interrupted run whose step still runs under the
#      supervisor: the step is stopped by its process group (it gets
#      SIGTERM), ends aborted, and the rollback runs;
#   4. a step whose timeout passes while lockstep is dead times out when the
#      resume takes over (its deadline counts from its start), never later;
#   5. a supervisor that dies under a live lockstep: the step in flight is
#      killed and ends "interrupted (the run's supervisor died)".
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE LOCKSTEP_SUPERVISOR
# After a failed check, nothing of the steps may stay behind: every step
# writes its pid into its scenario's out/.
_kill_steps() {
	local f
	for f in "$tmp"/*/out/*.pid; do
		[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	return 0
}
at_exit _kill_steps

# sup_pid: the pid of run $RUN_ID's supervisor (empty when none).
sup_pid() { cat "$STATE/supervise/$RUN_ID/pid" 2>/dev/null; }
sup_alive() { local p; p=$(sup_pid); [ -n "$p" ] && alive "$p"; }
sup_gone() { local p; p=$(pgrep -f -- "__supervise $STATE/supervise/$RUN_ID\$"); [ -z "$p" ]; }
# resume_json [ARGS]: resume (or abort with ABORT=1) of $RUN_ID, bounded; events
# appended to $EVENTS.
resume_json() {
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" "${VERB:-resume}" "$RUN_ID" --state "$STATE" --json "$@" \
		>>"$EVENTS" 2>"$ERR" </dev/null
	rc=$?
}
# run_id_of_bg: waits for run.started of the background run.
wait_run_id() {
	wait_event 10 '.event == "run.started"' || return 1
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
}

# ---- 1. life ----
scenario life
cat >"$tmp/life.yml" <<'EOF'
name: life
stages:
  - workflow: w
workflows:
  w:
    steps:
      - id: hold
        run: echo $$ >"$OUT/hold.pid"; while [ ! -e "$OUT/go" ]; do sleep 0.05; done; echo held
EOF
start_json "$tmp/life.yml"
expect "the step runs" wait_until 10 test -s "$OUT/hold.pid"
wait_run_id
SUP=$(sup_pid)
expect "the supervisor's pid is in STATE/supervise/RUN/pid" test -n "$SUP"
expect "the step is the supervisor's child" \
	test "$(awk '{print $4}' "/proc/$(cat "$OUT/hold.pid")/stat" 2>/dev/null)" = "$SUP"
expect "the supervisor leads a session of its own" \
	test "$(awk '{print $6}' "/proc/$SUP/stat" 2>/dev/null)" = "$SUP"
expect "its directory is private" test "$(stat -c %a "$STATE/supervise/$RUN_ID")" = 700
# stranger VERSION: connects to the supervisor's socket and says HELLO in
# that protocol version; prints "cut" when the supervisor hangs up, or
# "answered" when it sends anything back.
stranger() {
	python3 - "$STATE/supervise/$RUN_ID/sock" "$1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
body = bytes([1]) + struct.pack("=Q", int(sys.argv[2])) + struct.pack("=Q", 0)
s.sendall(struct.pack("=I", len(body)) + body)
print("cut" if s.recv(64) == b"" else "answered")
PY
}
expect_eq "a HELLO in another protocol version is cut off" "$(stranger 999)" cut
expect "a connection that says nothing leaves the run alone" python3 -c "
import socket; s = socket.socket(socket.AF_UNIX); s.connect('$STATE/supervise/$RUN_ID/sock'); s.close()"
expect "the step still runs under the supervisor" alive "$(cat "$OUT/hold.pid")"
touch "$OUT/go"
finish_bg 20
expect_rc 0
expect "after the run the supervisor is gone" wait_until 5 not_running "$SUP"
expect "... and its directory" test ! -e "$STATE/supervise/$RUN_ID"

# ---- 2. the step ends while lockstep is dead ----
scenario ended-while-dead
cat >"$tmp/dead.yml" <<'EOF'
name: dead
stages:
  - workflow: w
workflows:
  w:
    steps:
      - id: quick
        run: echo run >>"$OUT/quick.runs"; while [ ! -e "$OUT/go" ]; do sleep 0.05; done; echo printed-while-dead; exit 3
      - id: after
        run: echo after >>"$OUT/after.runs"
EOF
start_json "$tmp/dead.yml"
expect "quick runs" wait_until 10 test -s "$OUT/quick.runs"
wait_run_id
SUP=$(sup_pid)
kill -KILL "$BG"
wait "$BG" 2>/dev/null
BG_PIDS=()
expect "the supervisor outlives lockstep" alive "$SUP"
touch "$OUT/go"
expect "once its step has ended, the idle supervisor exits" wait_until 10 not_running "$SUP"
expect "... leaving its journal with the step's exit" \
	grep -q "^exit	0/s/0/1	1	3	" "$STATE/supervise/$RUN_ID/journal"
resume_json
expect_rc 1 "resume: the run fails as it would have (quick exited 3)"
check "quick kept its real result: failed, exit status 3" \
	'[.[] | select(.event == "step.finished" and .step == "quick")] | length == 1 and .[0].status == "failed" and .[0].exit_code == 3'
expect "quick ran once" test "$(wc -l <"$OUT/quick.runs")" -eq 1
expect "what it printed while lockstep was dead is in its log" file_has "$(log_of w quick)" printed-while-dead
expect "after never ran (w failed at quick)" test ! -e "$OUT/after.runs"
expect "the supervisor's directory is removed" test ! -e "$STATE/supervise/$RUN_ID"

# ---- 3. abort of an interrupted run stops the adopted step ----
scenario abort-adopted
cat >"$tmp/abort.yml" <<'EOF'
name: abort-adopted
stages:
  - workflow: w
workflows:
  w:
    steps:
      - id: long
        run: trap 'echo term >"$OUT/long.term"; exit 143' TERM; echo $$ >"$OUT/long.pid"; while :; do sleep 0.05; done
    rollback:
      - id: undo
        run: echo undone >"$OUT/undo"
EOF
start_json "$tmp/abort.yml" --kill-grace 5s
expect "long runs" wait_until 10 test -s "$OUT/long.pid"
wait_run_id
kill -KILL "$BG"
wait "$BG" 2>/dev/null
BG_PIDS=()
LONG=$(cat "$OUT/long.pid")
expect "long outlives lockstep" alive "$LONG"
VERB=abort resume_json
expect_rc 0 "abort of the interrupted run: aborted, its rollback succeeded"
expect "long got SIGTERM (stopped by its process group)" test -s "$OUT/long.term"
expect "long is gone" not_running "$LONG"
check "long ended aborted" \
	'[.[] | select(.event == "step.finished" and .step == "long")] | length == 1 and .[0].status == "aborted"'
expect "the rollback ran" test -s "$OUT/undo"
check "the run ended aborted" 'RF.status == "aborted"'
expect "no supervisor is left" sup_gone

# ---- 4. a timeout that passed while lockstep was dead ----
scenario timeout-while-dead
cat >"$tmp/timeout.yml" <<'EOF'
name: timeout-while-dead
stages:
  - workflow: w
workflows:
  w:
    steps:
      - id: slow
        timeout: 1s
        run: echo $$ >"$OUT/slow.pid"; while :; do sleep 0.05; done
EOF
start_json "$tmp/timeout.yml" --kill-grace 1s
expect "slow runs" wait_until 10 test -s "$OUT/slow.pid"
started=$(now_ms)
wait_run_id
kill -KILL "$BG"
wait "$BG" 2>/dev/null
BG_PIDS=()
# Past its deadline (1 s after its start) while nothing enforces it.
past_deadline() { [ $(($(now_ms) - started)) -gt 1300 ]; }
wait_until 5 past_deadline
t0=$(now_ms)
resume_json
took=$(($(now_ms) - t0))
expect_rc 1 "resume: the run fails (slow timed out)"
check "slow timed out" '[.[] | select(.event == "step.finished" and .step == "slow")] | .[0].status == "timed-out"'
expect "at once, when the resume took over (${took} ms; the grace is 1 s)" test "$took" -lt 4000
expect "its process is gone" not_running "$(cat "$OUT/slow.pid")"

# ---- 5. the supervisor dies under a live lockstep ----
scenario supervisor-dies
cat >"$tmp/dies.yml" <<'EOF'
name: supervisor-dies
stages:
  - workflow: w
workflows:
  w:
    steps:
      - id: work
        run: echo $$ >"$OUT/work.pid"; while :; do sleep 0.05; done
EOF
start_json "$tmp/dies.yml"
expect "work runs" wait_until 10 test -s "$OUT/work.pid"
wait_run_id
kill -KILL "$(sup_pid)"
finish_bg 20
expect_rc 1 "the run fails"
check "work ended interrupted" \
	'F("w"; "work").status == "failed" and F("w"; "work").exit_code == null and (WF("w").reason | test("interrupted \\(the run.s supervisor died\\)"))'
expect "its process was killed" wait_until 5 not_running "$(cat "$OUT/work.pid")"

finish
