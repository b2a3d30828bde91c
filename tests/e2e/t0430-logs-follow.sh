#!/bin/bash
# t0430-logs-follow: `lockstep logs RUN [WORKFLOW[/STEP]] --follow` on runs
# in progress, started in the background, whose steps print when the test
# opens their gates (files under $GATES), never after a sleep:
#   1. live: what plain logs prints, then output written after --follow
#      started, then a step that starts later with its header; exit 0
#      when the run finishes; no byte twice; a WORKFLOW/STEP filter waits
#      for its step to start;
#   2. parallel: attempts that run at the same time come one after the
#      other in the order they started, as plain logs prints them; a
#      WORKFLOW filter follows that workflow only;
#   3. interrupted: the run's lockstep is SIGKILLed: --follow ends with
#      exit 1 and says how to continue the run (also when started after);
#   4. finished: --follow on finished runs prints exactly what logs prints;
#   5. signals and bad input: SIGINT (exit 130, no noise), a closed pipe
#      (`| head -n 1` ends it, quietly), unknown runs, workflows and steps,
#      bad run ids, a missing state directory.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
ln -s "$RUNDIR/bin" "$tmp/bin"
copy_example multi-service "$tmp/ms"

# Steps wait at a gate until the test creates $GATES/NAME (at most 20 s,
# then the step fails). Steps do not see LOCKSTEP_* variables: GATES it is.
export GATES=$tmp/gates
mkdir -p "$GATES"
cat >"$tmp/gate" <<'EOF'
#!/bin/sh
i=0
while [ ! -e "$GATES/$1" ]; do
	i=$((i + 1))
	[ "$i" -le 400 ] || { echo "gate $1: not opened within 20 s" >&2; exit 1; }
	sleep 0.05
done
EOF
chmod +x "$tmp/gate"
open_gate() { touch "$GATES/$1"; }

# follow NAME ARGS...: starts `lockstep logs ARGS --state $STATE --follow`
# in the background; stdout in $tmp/NAME.out, stderr in $tmp/NAME.err.
declare -A FPID
FOLLOWERS=()
follow() {
	local name=$1
	shift
	"$LOCKSTEP" logs "$@" --state "$STATE" --follow >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
	FPID[$name]=$!
	FOLLOWERS+=($!)
}
# follow_end NAME SECONDS: waits (bounded) for that follower to end; its
# exit status in $rc (124, and a SIGKILL, when it did not end in time).
follow_end() {
	local p=${FPID[$1]}
	if wait_until "$2" not_running "$p"; then
		wait "$p"
		rc=$?
	else
		echo "  (lockstep logs --follow ($1) did not end within $2 s: killed)"
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rc=124
	fi
}
cleanup_follow() {
	local p
	for p in "${FOLLOWERS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	# Let the gated steps of a run whose lockstep was killed end.
	mkdir -p "$GATES" && touch "$GATES"/{g1,g2,g3,pa,s1} 2>/dev/null
	return 0
}
at_exit cleanup_follow

# has NAME LINE: the follower's stdout has that exact line.
has() { grep -qsxF -- "$2" "$tmp/$1.out"; }
# logged FILE LINE: a log file has that exact line.
logged() { [ -f "$1" ] && grep -qxF -- "$2" "$1"; }
# same DESCRIPTION FILE WANT_FILE: the two files are byte for byte equal.
same() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1"
		diff "$3" "$2" | head -20 | sed 's/^/     | /'
	fi
}
# plain OUTFILE ARGS...: plain `lockstep logs ARGS`, stdout in OUTFILE;
# exit status in $prc.
plain() {
	local o=$1
	shift
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" logs "$@" --state "$STATE" >"$o" 2>"$o.err" </dev/null
	prc=$?
}
# A header says "running" when it was printed while its attempt ran and
# the final status when printed after: headers without their status.
unstatus() {
	sed -E 's/^(==> .* attempt [0-9]+( \(rollback\))?): .* <==$/\1 <==/' "$1"
}
# run_id: the id of the background run, once it has started.
run_id() {
	wait_event 10 '.event == "run.started"' && jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1
}

# ---- 1. live: a run whose steps print over time ----
cat >"$tmp/live.yml" <<'EOF'
name: live
barriers:
  X: {timeout: 1m}
stages:
  - workflow: a
  - workflow: quiet
    parallel: true
workflows:
  a:
    steps:
      - id: first
        run: |
          echo "first: before"
          ./gate g1
          echo "first: after g1"
          ./gate g2
          printf 'first: no newline at the end'
      - barrier: X
      - id: second
        run: |
          echo "second: hello"
          ./gate g3
          echo "second: done"
  quiet:
    steps:
      - barrier: X
EOF
scenario live
start_json "$tmp/live.yml"
rid=$(run_id)
expect "the run started (run ${rid:-none})" test -n "$rid"
if wait_until 10 logged "$STATE/logs/$rid/a/first.1.log" "first: before"; then
	pass "run $rid is under way, first waits at gate g1"
else
	fail "the run never got to gate g1"
fi
follow all "$rid"
follow second "$rid" a/second
expect "--follow prints what logs prints: the header, the output so far" \
	wait_until 10 has all "first: before"
expect "... the header says the attempt is running" \
	test "$(head -1 "$tmp/all.out")" = "==> a/first attempt 1: running <=="
open_gate g1
expect "output written after --follow started appears" wait_until 10 has all "first: after g1"
expect "... and --follow goes on while the run does" alive "${FPID[all]}"
expect "a/second has not started: its follower printed nothing" test ! -s "$tmp/second.out"
open_gate g2
expect "a step that starts later appears, with its header" wait_until 10 has all "second: hello"
expect "... the filtered follower shows it too" wait_until 10 has second "second: hello"
printf '%s\n' "==> a/first attempt 1: running <==" "first: before" "first: after g1" \
	"first: no newline at the end" "==> a/second attempt 1: running <==" "second: hello" >"$tmp/want"
same "so far: the whole first attempt (its last line ended), then the second's header and output" \
	"$tmp/all.out" "$tmp/want"
open_gate g3
finish_bg 15
expect_rc 0
follow_end all 10
expect_rc 0 "--follow ends when the run has finished"
follow_end second 10
expect_rc 0 "... with a WORKFLOW/STEP filter too"
echo "second: done" >>"$tmp/want"
same "every byte once, in order; barrier steps and the quiet workflow print nothing" "$tmp/all.out" "$tmp/want"
expect "nothing on stderr" test ! -s "$tmp/all.err"
plain "$tmp/plain" "$rid"
unstatus "$tmp/plain" >"$tmp/plain.n"
unstatus "$tmp/all.out" >"$tmp/all.n"
same "the same as plain logs, but for the status in the headers" "$tmp/all.n" "$tmp/plain.n"
printf '%s\n' "==> a/second attempt 1: running <==" "second: hello" "second: done" >"$tmp/want"
same "WORKFLOW/STEP: only that step, from its start" "$tmp/second.out" "$tmp/want"

# ---- 2. parallel: attempts at the same time, in the order they started ----
# b0 ends once a1 has started, so b1 starts after a1 and, while a1 waits
# at its gate, ends: --follow holds b1 back until a1 has ended.
cat >"$tmp/parallel.yml" <<'EOF'
name: parallel
stages:
  - workflow: a
  - workflow: b
    parallel: true
workflows:
  a:
    steps:
      - id: a1
        run: |
          echo "a1: start"
          ./gate pa
          echo "a1: end"
  b:
    steps:
      - id: b0
        run: ./bin/await-event '.event == "step.started" and .step == "a1"'
      - id: b1
        run: |
          echo "b1: out"
EOF
scenario parallel
start_json "$tmp/parallel.yml"
rid=$(run_id)
expect "the run started (run ${rid:-none})" test -n "$rid"
if wait_event 10 '.event == "step.finished" and .step == "b1"' &&
	wait_until 10 logged "$STATE/logs/$rid/a/a1.1.log" "a1: start"; then
	pass "b1 has ended while a1 waits at its gate"
else
	fail "the run never got there"
	show_events
fi
follow all "$rid"
follow b "$rid" b
follow a1 "$rid" a/a1
expect "a1 is followed" wait_until 10 has all "a1: start"
expect "a WORKFLOW filter shows that workflow's attempts" wait_until 10 has b "b1: out"
expect "... and nothing of the others" test -z "$(grep -F 'a1' "$tmp/b.out")"
expect "... and goes on while the run does" alive "${FPID[b]}"
open_gate pa
finish_bg 15
expect_rc 0
for f in all b a1; do
	follow_end "$f" 10
	expect_rc 0 "$f: ends with the run"
done
expect "b1 comes after the end of a1, which started first" \
	test "$(grep -nxF 'a1: end' "$tmp/all.out" | cut -d: -f1)" -lt "$(grep -nxF 'b1: out' "$tmp/all.out" | cut -d: -f1)"
plain "$tmp/plain" "$rid"
unstatus "$tmp/plain" >"$tmp/plain.n"
unstatus "$tmp/all.out" >"$tmp/all.n"
same "in the order plain logs prints, each attempt whole" "$tmp/all.n" "$tmp/plain.n"
expect "b1, printed after it had ended, has the final header" \
	grep -qxF "$(grep '^==> b/b1 ' "$tmp/plain")" "$tmp/all.out"
plain "$tmp/plain" "$rid" b
unstatus "$tmp/plain" >"$tmp/plain.n"
unstatus "$tmp/b.out" >"$tmp/b.n"
same "WORKFLOW: the same as plain logs of that workflow" "$tmp/b.n" "$tmp/plain.n"
printf '%s\n' "==> a/a1 attempt 1: running <==" "a1: start" "a1: end" >"$tmp/want"
same "WORKFLOW/STEP: that attempt only" "$tmp/a1.out" "$tmp/want"

# ---- 3. interrupted: the run's lockstep is killed ----
scenario interrupted
start_json "$RUNDIR/t0400-hold.yml"
rid=$(run_id)
expect "the run started (run ${rid:-none})" test -n "$rid"
if wait_until 10 test -s "$OUT/hold.pgid" && wait_event 10 '.event == "barrier.arrived" and .workflow == "b"'; then
	pass "a runs a long step, b waits at X"
else
	fail "the run never got there"
fi
follow all "$rid"
expect "the long step is followed" wait_until 10 grep -q '^long hold: pid ' "$tmp/all.out"
kill -KILL "$BG"
finish_bg 10
follow_end all 10
expect_rc 1 "--follow ends when the run's lockstep is gone"
expect "it says the run was interrupted and how to continue it" \
	grep -qF "lockstep logs: run $rid was interrupted: the lockstep process that ran it (pid $BG on " "$tmp/all.err"
expect "... lockstep resume RUN --state DIR" grep -qE "continue it with: lockstep resume $rid --state '?$STATE'?\$" "$tmp/all.err"
expect "... in one line" test "$(wc -l <"$tmp/all.err")" -eq 1
expect "what was logged was printed, the message is not on stdout" \
	test -z "$(grep -F interrupted "$tmp/all.out")" -a -n "$(grep -xF 'hello from b' "$tmp/all.out")"
follow late "$rid"
follow_end late 10
expect_rc 1 "--follow on a run already interrupted"
plain "$tmp/plain" "$rid"
same "... prints what logs prints" "$tmp/late.out" "$tmp/plain"
expect "... then says it was interrupted" grep -qF "run $rid was interrupted" "$tmp/late.err"
expect "plain logs of it still exits 0, silently" test "$prc" -eq 0 -a ! -s "$tmp/plain.err"
# Taking over the steps of an interrupted run is for `lockstep resume`:
# end the orphaned step here.
kill -KILL -- "-$(cat "$OUT/hold.pgid")" 2>/dev/null
expect "the orphaned step is gone" wait_until 5 group_gone "$OUT/hold.pgid"

# ---- 4. finished runs: --follow prints what logs prints ----
scenario finished
ms_ports
run_json ms/pipeline-frontend-fails.yml "${MS_PORTS[@]}"
expect_rc 1
for sel in "" frontend-deploy frontend-deploy/deploy frontend-deploy/step-1; do
	# shellcheck disable=SC2086
	plain "$tmp/plain" "$RUN_ID" $sel
	# shellcheck disable=SC2086
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" logs "$RUN_ID" $sel --state "$STATE" -f >"$tmp/f.out" 2>"$tmp/f.err" </dev/null
	rc=$?
	expect_rc 0 "logs $RUN_ID ${sel:-(all)} -f on a failed run"
	same "... byte for byte what plain logs prints ($(wc -l <"$tmp/plain") lines)" "$tmp/f.out" "$tmp/plain"
	expect "... nothing on stderr" test ! -s "$tmp/f.err"
done
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" logs "$RUN_ID" --state "$STATE" -f >"$tmp/f.out" 2>/dev/null </dev/null
expect "... rollback attempts and all" \
	grep -q '^==> frontend-deploy/rollback-1 attempt 1 (rollback): succeeded' "$tmp/f.out"

# ---- 5. signals and bad input, on a run in progress ----
cat >"$tmp/sig.yml" <<'EOF'
name: sig
stages:
  - workflow: service
workflows:
  service:
    steps:
      - id: wait
        run: |
          echo "s: start"
          ./gate s1
          echo "s: end"
EOF
scenario signals
start_json "$tmp/sig.yml"
rid=$(run_id)
expect "the run started (run ${rid:-none})" test -n "$rid"
expect "the run waits at gate s1" wait_until 10 logged "$STATE/logs/$rid/service/wait.1.log" "s: start"

follow int "$rid"
expect "following" wait_until 10 has int "s: start"
kill -INT "${FPID[int]}"
follow_end int 10
expect_rc 130 "SIGINT ends --follow"
expect "... without a word on stderr" test ! -s "$tmp/int.err"

rm -f "$tmp/pipe.rc" "$tmp/pipe.pid"
{
	sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$tmp/pipe.pid" \
		"$LOCKSTEP" logs "$rid" --state "$STATE" -f 2>"$tmp/pipe.err" </dev/null
	echo $? >"$tmp/pipe.rc"
} | head -n 1 >"$tmp/pipe.out" &
pipe_bg=$!
expect "the piped follower runs" wait_until 5 test -s "$tmp/pipe.pid"
[ -s "$tmp/pipe.pid" ] && FOLLOWERS+=("$(cat "$tmp/pipe.pid")")
if wait_until 10 test -s "$tmp/pipe.rc"; then
	pass "| head -n 1: --follow ends when head does"
else
	fail "| head -n 1: --follow went on after head had ended"
fi
wait "$pipe_bg" 2>/dev/null
expect "... while the run still goes on" alive "$BG"
expect "... as by SIGPIPE, like any filter (exit $(cat "$tmp/pipe.rc" 2>/dev/null))" test "$(cat "$tmp/pipe.rc" 2>/dev/null)" = 141
expect "... quietly" test ! -s "$tmp/pipe.err"
expect "head got the header" test "$(cat "$tmp/pipe.out")" = "==> service/wait attempt 1: running <=="

# Bad input keeps its handling: nothing on stdout, the same messages.
bad() { # DESCRIPTION WANT_RC STDERR_TEXT ARGS...
	local d=$1 want=$2 text=$3
	shift 3
	cmd logs "$@" --follow
	expect_rc "$want" "$d"
	expect "... says: $text" err_has "$text"
	expect "... nothing on stdout" test ! -s "$COUT"
}
bad "an unknown workflow of a running run" 1 "lockstep logs: run $rid has no workflow 'nope'" "$rid" nope --state "$STATE"
bad "a misspelt workflow" 1 "did you mean 'service'?" "$rid" servcie --state "$STATE"
bad "an unknown step" 1 "workflow service of run $rid has no step 'nope'" "$rid" service/nope --state "$STATE"
bad "an unknown run" 1 "no run 99 in state directory '$STATE'" 99 --state "$STATE"
bad "a bad run id" 2 "'abc' is not a run id" abc --state "$STATE"
bad "too many arguments" 2 "takes RUN and at most one WORKFLOW[/STEP]" "$rid" service x --state "$STATE"
bad "a missing state directory" 4 "no state directory '$tmp/none'" "$rid" --state "$tmp/none"
bad "an unknown option" 2 "unknown option '--folow'" "$rid" --folow --state "$STATE"

open_gate s1
finish_bg 15
expect_rc 0

cmd logs --help
expect "logs --help documents --follow" out_has "-f, --follow"

finish
