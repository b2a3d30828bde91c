#!/bin/bash
# t0400-store: the history store (STATE/lockstep.db) and the commands that
# read it, on real runs of the multi-service example:
#   1. runs: table and --json after a successful and a failed run, newest
#      first, --limit, $LOCKSTEP_STATE;
#   2. show: the text report (workflows, steps, barriers, failure chain);
#      show --json has the same facts as the run's --json events, and its
#      events array is exactly what `run --json` printed;
#   3. logs: every run step attempt in order with a header, one workflow,
#      one step, unknown workflow/step;
#   4. bad run ids (exit 2), unknown runs (exit 1), missing state
#      directories (exit 4), an empty state directory, a database of a
#      newer lockstep (exit 4);
#   5. durable before visible: while a run is in progress, every event it
#      has printed is already in the database; a run whose lockstep was
#      killed shows as interrupted;
#   6. 8 concurrent `lockstep run` on one new state directory: all succeed
#      with run ids 1..8;
#   7. a read-only state directory: exit 4, a clear message, nothing runs
#      (readers still read it);
#   8. the disk fills up during a run (root only: a small tmpfs): exit 4,
#      the running step is terminated, nothing is left behind.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset DEPLOY_ROOT LOCKSTEP_STATE
cp -R "$SRC/examples/multi-service" "$tmp/ms"
ln -s "$RUNDIR/bin" "$tmp/bin"
MOUNTED=""
cleanup_store() {
	[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
	cleanup
}
trap cleanup_store EXIT

# cmd and expect_crc: run/lib.sh.
out_has() { grep -qF -- "$1" "$COUT"; }
err_has() { grep -qF -- "$1" "$CERR"; }
out_empty() { test ! -s "$COUT"; }
# jq_out DESCRIPTION EXPR: EXPR is true of the JSON on stdout.
jq_out() {
	local got
	if got=$(jq -e "$2" "$COUT" 2>&1); then
		pass "$SCENARIO: $1"
	else
		fail "$SCENARIO: $1 (jq: ${got:-no result})"
		head -c 600 "$COUT" | sed 's/^/     | /'
		echo
	fi
}

# Every fact of `show --json` agrees with its events: run, workflow and
# step statuses, exit codes, durations, attempts, barrier arrivals and
# outcomes; and every workflow named in an event is listed.
FACTS='
. as $d | $d.events as $e |
def all_of(c): [$e[] | select(c)];
($d.run == $e[0].run and $d.pipeline == $e[0].pipeline)
and ((all_of(.event == "run.finished") | last) as $rf |
	if $rf then $d.status == $rf.status and $d.finished != null
	else ($d.status | IN("running", "interrupted")) and $d.finished == null end)
and ($d.events | length) == $d.events[-1].seq
and all($d.workflows[]; . as $w |
	(all_of(.event == "workflow.finished" and .workflow == $w.workflow) | last) as $f |
	(if $f then ($f.status == $w.status and $f.reason == $w.reason)
	 else ($w.status | IN("pending", "running", "rolling-back")) end)
	and ($w.started == (all_of(.event == "workflow.started" and .workflow == $w.workflow) | first | .ts))
	and all($w.steps[]; . as $s |
		all_of(.event == "step.started" and .workflow == $w.workflow and .step == $s.step) as $st |
		all_of(.event == "step.finished" and .workflow == $w.workflow and .step == $s.step) as $fi |
		([$s.attempts[].attempt] == [$st[].attempt])
		and ([$s.attempts[] | select(.status != "running") | [.status, .exit_code, .duration_ms]]
		     == [$fi[] | [.status, .exit_code, .duration_ms]])
		and (if ($fi | length) > 0
		     then [$s.status, $s.exit_code, $s.duration_ms] == ($fi | last | [.status, .exit_code, .duration_ms])
		     else ($s.status | IN("pending", "running")) end)))
and all($d.barriers[]; . as $b |
	(all_of(.event == "barrier.passed" and .barrier == $b.barrier) | first) as $p |
	(all_of(.event == "barrier.broken" and .barrier == $b.barrier) | first) as $k |
	([all_of(.event == "barrier.arrived" and .barrier == $b.barrier)[] | [.workflow, .ts]]
	 == [$b.arrivals[] | [.workflow, .ts]])
	and (if $p then $b.status == "passed" and $b.passed == {ts: $p.ts, participants: $p.participants}
	     else $b.passed == null end)
	and (if $k then $b.status == "broken" and $b.broken == {ts: $k.ts, reason: $k.reason, origin: $k.origin}
	     else $b.broken == null end))
and ([$e[] | .workflow // empty] | unique) - [$d.workflows[].workflow] == []
'

# ---- two runs of the seed example ----
scenario seed-runs
ms_ports
run_json ms/pipeline.yml "${MS_PORTS[@]}"
expect_rc_is 0
cp "$EVENTS" "$tmp/ev1"
run_json ms/pipeline-frontend-fails.yml "${MS_PORTS[@]}"
expect_rc_is 1
cp "$EVENTS" "$tmp/ev2"
expect "the runs got ids 1 and 2" test "$(jq -s '.[0].run' "$tmp/ev1") $(jq -s '.[0].run' "$tmp/ev2")" = "1 2"
expect "the database is STATE/lockstep.db; logs stay in STATE/logs/RUN" \
	test -f "$STATE/lockstep.db" -a -d "$STATE/logs/1" -a -d "$STATE/logs/2"

# ---- runs ----
scenario runs
cmd runs --state "$STATE"
expect_crc "runs" 0
expect "a header, then one line per run" test "$(wc -l <"$COUT")" -eq 3
expect "the header names the columns" \
	grep -Eq '^ *ID +PIPELINE +STATUS +STARTED +DURATION$' "$COUT"
expect "newest first: run 2, failed, then run 1, succeeded" \
	test "$(awk 'NR > 1 { print $1, $2, $3 }' "$COUT" | tr '\n' ';')" = "2 multi-service-frontend-fails failed;1 multi-service succeeded;"
expect "start times are local date and time, durations are given" \
	grep -Eq '^ *1 +multi-service +succeeded +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} +[0-9.]+m?s$' "$COUT"
cmd runs --state "$STATE" --json
expect_crc "runs --json" 0
jq_out "one array of two runs, newest first" '(. | length) == 2 and [.[].run] == [2, 1]'
jq_out "each run: pipeline, file, status, start, end, duration, events" \
	'.[0].pipeline == "multi-service-frontend-fails" and .[0].status == "failed" and .[1].status == "succeeded" and (.[1].file | endswith("/ms/pipeline.yml")) and all(.[]; (.started | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$")) and (.finished | type) == "string" and (.duration_ms | type == "number" and . >= 0) and (.pid | type) == "number")'
n2=$(wc -l <"$tmp/ev2")
jq_out "events counts what run 2 printed ($n2)" ".[0].events == $n2"
cmd runs --state "$STATE" --json --limit 1
jq_out "--limit 1: only the newest" '[.[].run] == [2]'
cmd runs --state "$STATE" --limit 0
expect_crc "--limit 0 is a usage error" 2
cmd runs --state "$STATE" --limit many
expect_crc "--limit many is a usage error" 2
cmd runs --state "$STATE" extra
expect_crc "runs takes no arguments" 2
LOCKSTEP_STATE=$STATE cmd runs --json
jq_out "\$LOCKSTEP_STATE is the state directory without --state" 'length == 2'

# ---- show ----
scenario show
cmd show 2 --state "$STATE"
expect_crc "show 2" 0
expect "the run line" out_has "run 2 of multi-service-frontend-fails: failed"
expect "workflows with status and reason" grep -Eq '^  backend-deploy +rolled-back .*barrier FE \(Frontend service deployment done\) broken: workflow frontend-deploy failed at step' "$COUT"
expect "skipped smoke-tests and its pending step" grep -Eq '^  smoke-tests +skipped .*group 1 failed' "$COUT"
expect "the failed step with its exit code" grep -Eq '^    deploy +run +failed +exit 1 ' "$COUT"
expect "rollback steps are marked" grep -Eq '^    rollback-1 +run +succeeded +exit 0 .*\(rollback\)' "$COUT"
expect "BE passed, with arrival times" grep -Eq '^  BE \(Backend service deployment done\): passed at \+' "$COUT"
expect "FE broken, with its reason" grep -Eq "^  FE \(Frontend service deployment done\): broken at \+[0-9.]+m?s: workflow frontend-deploy failed at step 'deploy' \(exit status 1\)$" "$COUT"
expect "FE: the frontend never arrived and broke it" grep -Eq '^    frontend-deploy +did not arrive  \(broke it\)$' "$COUT"
expect "the failure chain" out_has "  frontend-deploy rolled-back: failed at step 'deploy' (exit status 1)"
expect "... through FE to the backend" out_has "    -> barrier FE broken -> backend-deploy rolled-back"
for id in 1 2; do
	cmd show "$id" --state "$STATE" --json
	expect_crc "show $id --json" 0
	jq_out "run $id: every fact agrees with the events" "$FACTS"
done
cmd show 2 --state "$STATE" --json
jq_out "shape: run, workflows with steps, barriers with participants and arrivals" \
	'.run == 2 and .status == "failed" and ([.workflows[].workflow] == ["backend-deploy", "frontend-deploy", "smoke-tests"]) and (.workflows[1].steps | map(.step)) == ["step-1", "deploy", "verify", "step-4", "rollback-1"] and .workflows[2].steps[0].status == "pending" and .workflows[2].steps[0].attempts == []'
jq_out "the failed step: exit 1, one attempt, a duration" \
	'(.workflows[1].steps[1] | .status == "failed" and .exit_code == 1 and (.attempts | length) == 1 and .attempts[0].exit_code == 1 and (.duration_ms | type) == "number" and .kind == "run")'
jq_out "FE: participants from the plan, one arrival, broken by frontend-deploy" \
	'(.barriers[] | select(.barrier == "FE") | (.participants | sort) == ["backend-deploy", "frontend-deploy"] and ([.arrivals[].workflow] == ["backend-deploy"]) and .broken.origin == "frontend-deploy" and .passed == null and .name == "Frontend service deployment done" and .timeout_ms == 600000)'

for id in 1 2; do
	"$LOCKSTEP" show "$id" --state "$STATE" --json >"$COUT" 2>"$CERR"
	if jq -e --slurpfile x "$tmp/ev$id" '.events == $x' "$COUT" >/dev/null; then
		pass "show: run $id --json events == run --json output, byte for byte as JSON"
	else
		fail "show: run $id --json events differ from run --json output"
	fi
done

# ---- logs ----
scenario logs
cmd logs 2 --state "$STATE"
expect_crc "logs 2" 0
"$LOCKSTEP" show 2 --state "$STATE" --json >"$tmp/show2"
want=$(jq -r '[.workflows[] | .workflow as $w | .steps[] | select(.kind | IN("run", "http-check")) | "\($w)/\(.step)"] as $run
	| [.events[] | select(.event == "step.started" and ("\(.workflow)/\(.step)" | IN($run[])))
	| "==> \(.workflow)/\(.step) attempt \(.attempt)"] | .[]' "$tmp/show2")
got=$(grep '^==> ' "$COUT" | sed -E 's/ attempt ([0-9]+).*/ attempt \1/')
expect "one header per run and http-check step attempt, in the order they started" test "$got" = "$want"
expect "a header says status, exit code and duration" \
	grep -Eq "^==> frontend-deploy/deploy attempt 1: failed, exit 1, [0-9.]+m?s <==$" "$COUT"
expect "rollback attempts are marked" grep -Eq '^==> backend-deploy/rollback-1 attempt 1 \(rollback\): succeeded, exit 0' "$COUT"
expect "the step's output follows its header" \
	grep -A1 '^==> frontend-deploy/deploy ' "$COUT" | grep -qF "failing as asked (FAIL=1)"
cmd logs 2 frontend-deploy/deploy --state "$STATE"
expect_crc "logs 2 WORKFLOW/STEP" 0
expect "exactly the header and the log file" \
	test "$(tail -n +2 "$COUT")" = "$(cat "$STATE/logs/2/frontend-deploy/deploy.1.log")"
cmd logs 2 frontend-deploy --state "$STATE"
expect_crc "logs 2 WORKFLOW" 0
expect "only that workflow's steps" test "$(grep '^==> ' "$COUT" | cut -d/ -f1 | sort -u)" = "==> frontend-deploy"
cmd logs 2 frontend-deploy/step-1 --state "$STATE"
expect_crc "a barrier step asked for by name" 0
expect "says it has no output" out_has "(a barrier or wait step: no output)"
cmd logs 2 nope --state "$STATE"
expect_crc "an unknown workflow" 1
expect "... is named" err_has "lockstep logs: run 2 has no workflow 'nope'"
cmd logs 2 frontend-deplyo --state "$STATE"
expect "a misspelt workflow gets a suggestion" err_has "did you mean 'frontend-deploy'?"
cmd logs 2 frontend-deploy/nope --state "$STATE"
expect_crc "an unknown step" 1
expect "... is named" err_has "workflow frontend-deploy of run 2 has no step 'nope'"
expect "... and nothing went to stdout" out_empty

# ---- bad run ids, unknown runs, missing and empty state directories ----
scenario bad-ids
for bad in abc 0 1.5 1x " 1"; do
	cmd show "$bad" --state "$STATE"
	expect_crc "show '$bad'" 2
	expect "'$bad': says it is not a run id" err_has "'$bad' is not a run id"
	cmd logs "$bad" --state "$STATE"
	expect_crc "logs '$bad'" 2
done
cmd show --state "$STATE"
expect_crc "show without RUN" 2
cmd show 1 2 --state "$STATE"
expect_crc "show with two RUNs" 2
cmd show 99 --state "$STATE"
expect_crc "show 99 (no such run)" 1
expect "... says so" err_has "lockstep show: no run 99 in state directory '$STATE'"
expect "... nothing on stdout" out_empty
cmd logs 99 --state "$STATE"
expect_crc "logs 99" 1
cmd show 99999999999999999999 --state "$STATE"
expect_crc "a run id out of range" 2

scenario missing-state
for c in "runs" "show 1" "logs 1"; do
	# shellcheck disable=SC2086
	cmd $c --state "$tmp/no-such-dir"
	expect_crc "$c, missing state directory" 4
	expect "$c: names the directory" err_has "no state directory '$tmp/no-such-dir'"
done
expect "looking did not create it" test ! -e "$tmp/no-such-dir"
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$LOCKSTEP" runs >"$COUT" 2>"$CERR")
crc=$?
expect_crc "the default ./.lockstep, missing" 4
expect "... is named" err_has "no state directory '.lockstep'"
mkdir -p "$tmp/empty-state"
cmd runs --state "$tmp/empty-state"
expect_crc "an empty state directory: runs" 0
expect "says there are no runs" err_has "no runs recorded in '$tmp/empty-state'"
cmd runs --json --state "$tmp/empty-state"
jq_out "runs --json: []" '. == []'
cmd show 1 --state "$tmp/empty-state"
expect_crc "an empty state directory: show 1" 1
expect "no database was created by reading" test ! -e "$tmp/empty-state/lockstep.db"

if command -v sqlite3 >/dev/null; then
	scenario newer-schema
	cp -R "$STATE" "$tmp/newer"
	sqlite3 "$tmp/newer/lockstep.db" 'PRAGMA user_version = 99' >/dev/null
	NEWER_MSG="$tmp/newer/lockstep.db was written by a newer lockstep (schema 99); this lockstep knows up to"
	cmd runs --state "$tmp/newer"
	expect_crc "runs on a newer database" 4
	expect "says it is newer, and what this lockstep knows" err_has "$NEWER_MSG"
	mkdir -p "$tmp/newer-out"
	OUT=$tmp/newer-out cmd run "$tmp/ms/pipeline.yml" "${MS_PORTS[@]}" --state "$tmp/newer"
	expect_crc "run on a newer database" 4
	expect "... the same message" err_has "lockstep run: $NEWER_MSG"
	expect "... and no run 3 started" test ! -e "$tmp/newer/logs/3"
fi

# ---- durable before visible; interrupted ----
cat >"$tmp/hold.yml" <<'EOF'
name: hold
barriers:
  X: {timeout: 1m}
stages:
  - workflow: a
  - workflow: b
    parallel: true
workflows:
  a:
    steps:
      - id: hold
        run: ./bin/long hold
      - barrier: X
  b:
    steps:
      - id: hello
        run: echo hello from b
      - barrier: X
EOF
scenario durable-before-visible
start_json "$tmp/hold.yml"
if wait_until 10 test -s "$OUT/hold.pgid" && wait_event 10 '.event == "barrier.arrived" and .workflow == "b"'; then
	pass "$SCENARIO: the run holds: a runs a long step, b waits at X"
else
	fail "$SCENARIO: the run never got there"
fi
shown=$(wc -l <"$EVENTS")
rid=$(head -1 "$EVENTS" | jq .run)
"$LOCKSTEP" show "$rid" --state "$STATE" --json >"$COUT" 2>"$CERR"
if jq -e --slurpfile x <(head -n "$shown" "$EVENTS") '.events[0:($x | length)] == $x' "$COUT" >/dev/null; then
	pass "$SCENARIO: all $shown events it printed are already in the database"
else
	fail "$SCENARIO: events printed but not in the database"
fi
jq_out "the run is running; a is running step hold; X is waiting" \
	'.status == "running" and .finished == null and (.workflows[0].steps[0] | .status == "running" and .attempts[0].status == "running") and .barriers[0].status == "waiting"'
cmd logs "$rid" --state "$STATE"
expect "logs of a run in progress: the running attempt says so" out_has "==> a/hold attempt 1: running <=="
expect "... and b's finished output is there" out_has "hello from b"
kill -TERM "$BG"
finish_bg 15
expect_rc_is 130
cmd show "$rid" --state "$STATE" --json
jq_out "after SIGTERM: aborted, every event recorded" "$FACTS"
jq_out "... status aborted" '.status == "aborted"'
expect "nothing of the step is left" group_gone "$OUT/hold.pgid"

scenario interrupted
start_json "$tmp/hold.yml"
wait_until 10 test -s "$OUT/hold.pgid"
wait_event 10 '.event == "barrier.arrived" and .workflow == "b"'
kill -KILL "$BG"
finish_bg 10
rid=$(head -1 "$EVENTS" | jq .run)
expect_rc_is 137
cmd runs --state "$STATE" --json --limit 1
jq_out "a run whose lockstep died shows as interrupted" ".[0].run == $rid and .[0].status == \"interrupted\" and .[0].finished == null"
cmd show "$rid" --state "$STATE"
expect "show says interrupted too" out_has "run $rid of hold: interrupted"
cmd show "$rid" --state "$STATE" --json
jq_out "the database is consistent and holds what was printed" "$FACTS"
# runs --status and --pipeline, interrupted included (recorded running).
cmd runs --state "$STATE" --json --status interrupted
jq_out "runs --status interrupted: exactly this run" "[.[].run] == [$rid]"
cmd runs --state "$STATE" --status running
expect_crc "runs --status running with none running" 0
expect "... says no run matches, on stderr" err_has "no run in '$STATE' matches --status running"
expect "... and prints nothing" out_empty
cmd runs --state "$STATE" --json --status failed
jq_out "runs --status failed: run 2 among them, all failed" 'any(.[]; .run == 2) and all(.[]; .status == "failed")'
cmd runs --state "$STATE" --json --pipeline multi-service
jq_out "runs --pipeline multi-service: run 1 only (not multi-service-frontend-fails)" '[.[].run] == [1]'
cmd runs --state "$STATE" --json --pipeline hold --status interrupted --limit 1
jq_out "the filters and --limit together" "[.[].run] == [$rid]"
cmd runs --state "$STATE" --status stuck
expect_crc "runs --status stuck is a usage error" 2
expect "... naming the statuses" err_has "bad --status 'stuck': running, succeeded, failed, aborted or interrupted"
# Taking over the steps of an interrupted run is for `lockstep resume`
# (not there yet): end the orphaned step here.
kill -KILL -- "-$(cat "$OUT/hold.pgid")" 2>/dev/null
wait_until 5 group_gone "$OUT/hold.pgid" >/dev/null

# ---- 8 concurrent runs on one new state directory ----
scenario concurrent
cat >"$tmp/par.yml" <<'EOF'
name: par
barriers:
  X: {timeout: 1m}
stages:
  - workflow: a
  - workflow: b
    parallel: true
workflows:
  a:
    steps:
      - run: echo a1
      - barrier: X
      - run: echo a2
  b:
    steps:
      - run: echo b1
      - barrier: X
      - run: echo b2
EOF
pids=()
for i in 1 2 3 4 5 6 7 8; do
	timeout -k 2 60 "$LOCKSTEP" run "$tmp/par.yml" --state "$tmp/conc" --json >"$tmp/conc.$i" 2>"$tmp/conc.$i.err" </dev/null &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do
	wait "$p" || bad=$((bad + 1))
done
expect "all 8 runs succeeded ($bad failed)" test "$bad" -eq 0
ids=$(for i in 1 2 3 4 5 6 7 8; do jq -r 'select(.event == "run.started") | .run' "$tmp/conc.$i"; done | sort -n | tr '\n' ' ')
expect "their ids are 1..8, each once (got: $ids)" test "$ids" = "1 2 3 4 5 6 7 8 "
expect "no 'database is locked' anywhere" test -z "$(cat "$tmp"/conc.*.err | grep -i 'locked')"
cmd runs --state "$tmp/conc" --json
jq_out "runs lists 8 succeeded runs" 'length == 8 and ([.[].status] | unique) == ["succeeded"] and ([.[].run] == [8, 7, 6, 5, 4, 3, 2, 1])'
for i in 1 5 8; do
	r=$(jq -r 'select(.event == "run.started") | .run' "$tmp/conc.$i")
	"$LOCKSTEP" show "$r" --state "$tmp/conc" --json >"$COUT" 2>"$CERR"
	if jq -e --slurpfile x "$tmp/conc.$i" '.events == $x' "$COUT" >/dev/null; then
		pass "$SCENARIO: run $r: its events are all there, its own only"
	else
		fail "$SCENARIO: run $r: recorded events differ from what it printed"
	fi
done

# ---- a read-only state directory ----
scenario read-only
# As root, permissions do not stop writes: run lockstep as nobody.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null; then
		as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	else
		as_user=(skip)
	fi
fi
if [ "${as_user[0]:-}" = skip ]; then
	echo "# skipped: root without setpriv"
else
	chmod 755 "$tmp"
	mkdir -p "$tmp/ro-out" && chmod 777 "$tmp/ro-out"
	cp -R "$STATE" "$tmp/ro-state"
	rm -rf "$tmp/ro-state/logs"
	# lockstep makes its state private (0700, 0600): an archive shared
	# with another user is opened up for reading on purpose.
	chmod -R a-w,a+rX "$tmp/ro-state"
	mkdir "$tmp/ro-empty" && chmod 555 "$tmp/ro-empty"
	for d in ro-state ro-empty; do
		OUT=$tmp/ro-out "${as_user[@]}" "$LOCKSTEP" run "$tmp/hold.yml" --state "$tmp/$d" --json \
			>"$COUT" 2>"$CERR" </dev/null
		crc=$?
		expect_crc "run with read-only $d" 4
		expect "$d: the message names the directory and the problem" \
			err_has "lockstep run: cannot write to state directory '$tmp/$d': Permission denied"
		expect "$d: no event, no step ran" test ! -s "$COUT" -a ! -e "$tmp/ro-out/hold.pid"
	done
	"${as_user[@]}" "$LOCKSTEP" runs --state "$tmp/ro-state" --json >"$COUT" 2>"$CERR" </dev/null
	crc=$?
	expect_crc "runs still reads a read-only state directory" 0
	jq_out "... all of its runs" "length == $(jq length <<<"$("$LOCKSTEP" runs --state "$STATE" --json)")"
	chmod -R u+w "$tmp/ro-state" "$tmp/ro-empty"
	chmod 700 "$tmp"
fi

# ---- the disk fills up during a run ----
scenario disk-full
if [ "$(id -u)" -ne 0 ] || ! mkdir -p "$tmp/full" || ! mount -t tmpfs -o size=4m tmpfs "$tmp/full" 2>/dev/null; then
	echo "# skipped: needs root and tmpfs mounts"
else
	MOUNTED=$tmp/full
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
	saved=$STATE
	STATE=$tmp/full/state
	start_json "$tmp/fill.yml"
	STATE=$saved
	if wait_until 10 test -s "$OUT/work.pgid" && wait_event 10 '.event == "barrier.arrived" and .barrier == "start"'; then
		pass "$SCENARIO: the run is under way"
	else
		fail "$SCENARIO: the run never got under way"
	fi
	dd if=/dev/zero of="$tmp/full/filler" bs=64k >/dev/null 2>&1
	touch "$GO"
	finish_bg 30
	expect_rc_is 4
	expect "the store's error is named" grep -q "lockstep run: state store error: $tmp/full/state/lockstep.db: cannot record events: database or disk is full" "$ERR"
	expect "it says it stops the run" grep -q "events from seq [0-9]* on are not recorded; stopping the run (no further steps, no rollbacks)" "$ERR"
	check "no step started after the store failed: no rollback ran" '[.[] | select(.event == "workflow.rollback" or (.event == "step.started" and .rollback == true))] | length == 0'
	expect "... and the rollback step of long never ran" test ! -e "$OUT/long.rolled-back"
	expect "the summary says what each workflow was left in" grep -Eq '^  long +aborted' "$ERR"
	expect "... and that the run was not fully recorded" grep -q "was not fully recorded" "$ERR"
	expect "the running step got SIGTERM" test -f "$OUT/work.term"
	expect "nothing of it is left" group_gone "$OUT/work.pgid"
	check "the events still reached stdout, to the end" '.[-1].event == "run.finished" and .[-1].status == "aborted"'
	unset GO
	umount "$tmp/full" && MOUNTED=""
fi

finish
