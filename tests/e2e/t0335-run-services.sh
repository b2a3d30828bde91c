#!/bin/bash
# t0335-run-services: what a step leaves running in the background lives
# as long as the run. A server started with `&` is probed by the next step
# and by a workflow of a later stage; its request log, written after its
# step ended, is in that step's log; nothing of the run survives it
# (checked by pid and by LOCKSTEP_RUN_TOKEN in /proc/*/environ). A step
# that times out takes its background child with it at once. After SIGINT
# everything goes; after a crash, `lockstep abort` finds and kills the
# leftover of a finished step by its token.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq, timeout and python3.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE

# nothing_of_run: no process carries the run's token ($OUT/token).
nothing_of_run() {
	local t
	t=$(cat "$OUT/token" 2>/dev/null)
	[ -n "$t" ] || { echo "  (no token recorded)"; return 1; }
	none_with_env "LOCKSTEP_RUN_TOKEN=$t"
}
# dead PIDFILE...: none of the processes whose pids the files hold is
# alive (after a crash, a killed process may stay a zombie of an init
# that does not reap).
dead() {
	local f p
	for f in "$@"; do
		[ -s "$f" ] || { echo "  (no pid in $f)"; return 1; }
		p=$(cat "$f")
		alive "$p" && { echo "  (pid $p from ${f##*/} is alive)"; return 1; }
	done
	return 0
}
# kill_marked FILE...: after a failed check, kills the processes whose
# pids the files hold.
kill_marked() {
	local f
	for f in "$@"; do
		[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	return 0
}

# ---- a server started with & serves the next step and the next stage ----
scenario services
ms_ports
PORT=$MS_BACKEND_PORT
mkdir -p "$OUT/site"
echo "t0335-site" >"$OUT/site/index.html"
run_json "$RUNDIR/t0335-services.yml" --var "port=$PORT"
expect_rc 0
check_stream
check "serve ends when its shell exits, at once" \
	'F("web"; "serve").status == "succeeded" and F("web"; "serve").duration_ms < 5000'
check "the next step's http-check reaches the server" 'F("web"; "probe").status == "succeeded"'
check "a workflow of the next stage reaches it too" \
	'lt(WF("web"); S("later"; "probe")) and F("later"; "probe").status == "succeeded"'
expect "the server was alive in a later step" file_has "$OUT/server.state" alive
expect "its request log, written after serve ended, is in serve's log" \
	file_has "$(log_of web serve)" '"GET / HTTP/1.1" 200'
expect "serve's own output is in its log too" file_has "$(log_of web serve)" "serve: started pid"
expect "the server is gone after the run" gone "$OUT/server.pid"
expect "no process carries the run's token" nothing_of_run
kill_marked "$OUT/server.pid"

# ---- a step that times out takes its background child with it ----
scenario timeout
run_json "$RUNDIR/t0335-timeout.yml" --kill-grace 200ms
expect_rc 0
check "hang timed out" 'F("w"; "hang").status == "timed-out"'
expect "its background child was gone before the next step ran" file_has "$OUT/bg.state" gone
expect "and is gone now" gone "$OUT/bg.pid"
kill_marked "$OUT/bg.pid"

# ---- SIGINT: the running step and the leftover of the finished one go ----
scenario sigint
start_json "$RUNDIR/t0335-abort.yml" --kill-grace 500ms
expect "work runs" wait_until 10 test -s "$OUT/work.pid"
expect "the leftover of serve runs while work runs" alive "$(cat "$OUT/svc.pid" 2>/dev/null || echo 0)"
kill -INT "$BG"
finish_bg 15
expect_rc 130
check "work was aborted, serve had succeeded" \
	'F("w"; "work").status == "aborted" and F("w"; "serve").status == "succeeded" and RF.status == "aborted"'
expect "serve's background child is gone" gone "$OUT/svc.pid"
expect "work and its child are gone" gone "$OUT/work.pid" "$OUT/work.child"
expect "no process carries the run's token" nothing_of_run
kill_marked "$OUT/svc.pid" "$OUT/work.pid" "$OUT/work.child"

# ---- a crash: abort finds the leftover of a finished step by its token ----
scenario crash
start_json "$RUNDIR/t0335-abort.yml" --kill-grace 500ms
expect "work runs" wait_until 10 test -s "$OUT/work.pid"
kill_bg
RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
expect "the leftover of serve outlived its lockstep" alive "$(cat "$OUT/svc.pid" 2>/dev/null || echo 0)"
cmd abort "$RUN_ID" --state "$STATE" --kill-grace 500ms
expect_rc 0
expect "abort killed serve's background child" dead "$OUT/svc.pid"
expect "and what work left" dead "$OUT/work.pid" "$OUT/work.child"
expect "no process carries the run's token" nothing_of_run
kill_marked "$OUT/svc.pid" "$OUT/work.pid" "$OUT/work.child"

# ---- descriptors: ended steps whose leftovers hold their pipes count ----
# Under a 400-descriptor limit lockstep has 45 process slots of six
# descriptors. Each `serve` ends at once but leaves a child holding its
# pipes (and so its log open): three descriptors. (1) For 2 s: 130 of them
# at once would need more descriptors than there are, so the ended steps
# must count until their pipes close: every step runs and every log is
# written. (2) For the whole run, 100 of them: once they fill the slots,
# no running step can free one, so the next step starts anyway (there are
# descriptors enough for 100).
gen_fd_pipeline() { # NAME COUNT HOLD
	local i vals=""
	for i in $(seq 1 "$2"); do vals="$vals${vals:+, }$i"; done
	cat <<EOF2
name: $1
stages:
  - workflow: w
    matrix:
      i: [$vals]
workflows:
  w:
    steps:
      - id: serve
        run: sleep $3 & echo "serve \$LOCKSTEP_MATRIX_I"
      - id: after
        run: echo after
EOF2
}
# all_logs COUNT: every serve step's log has its line.
all_logs() {
	local i missing=""
	for i in $(seq 1 "$1"); do
		file_has "$(log_of "w[i=$i]" serve)" "serve $i" || missing="$missing $i"
	done
	[ -z "$missing" ] || { echo "  (logs missing or empty:$missing)"; return 1; }
}
need prlimit
for spec in "fd-short 130 2" "fd-held 100 1000"; do
	set -- $spec
	scenario "$1"
	gen_fd_pipeline "t0335-$1" "$2" "$3" >"$tmp/$1.yml"
	prlimit --nofile=400:400 timeout -k 2 60 "$LOCKSTEP" run "$tmp/$1.yml" --state "$STATE" --json \
		--kill-grace 500ms >"$EVENTS" 2>"$ERR" </dev/null
	rc=$?
	expect_rc 0
	check "all $(($2 * 2)) steps succeeded" \
		"[.[] | select(.event == \"step.finished\" and .status == \"succeeded\")] | length == $(($2 * 2))"
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
	expect "every serve step's log was written" all_logs "$2"
done

finish
