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
# (The disk filling up during a run needs root: t0405-store-disk-full.sh.)
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset DEPLOY_ROOT LOCKSTEP_STATE
copy_example multi-service "$tmp/ms"
ln -s "$RUNDIR/bin" "$tmp/bin"
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
expect_rc 0
cp "$EVENTS" "$tmp/ev1"
run_json ms/pipeline-frontend-fails.yml "${MS_PORTS[@]}"
expect_rc 1
cp "$EVENTS" "$tmp/ev2"
expect "the runs got ids 1 and 2" test "$(jq -s '.[0].run' "$tmp/ev1") $(jq -s '.[0].run' "$tmp/ev2")" = "1 2"
expect "the database is STATE/lockstep.db; logs stay in STATE/logs/RUN" \
	test -f "$STATE/lockstep.db" -a -d "$STATE/logs/1" -a -d "$STATE/logs/2"

# ---- runs ----
scenario runs
cmd runs --state "$STATE"
expect_rc 0 "runs"
expect "a header, then one line per run" test "$(wc -l <"$COUT")" -eq 3
expect "the header names the columns" \
	grep -Eq '^ *ID +PIPELINE +STATUS +STARTED +DURATION$' "$COUT"
expect "newest first: run 2, failed, then run 1, succeeded" \
	test "$(awk 'NR > 1 { print $1, $2, $3 }' "$COUT" | tr '\n' ';')" = "2 multi-service-frontend-fails failed;1 multi-service succeeded;"
expect "start times are local date and time, durations are given" \
	grep -Eq '^ *1 +multi-service +succeeded +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} +[0-9.]+m?s$' "$COUT"
cmd runs --state "$STATE" --json
expect_rc 0 "runs --json"
jq_out "one array of two runs, newest first" '(. | length) == 2 and [.[].run] == [2, 1]'
jq_out "each run: pipeline, file, status, start, end, duration, events" \
	'.[0].pipeline == "multi-service-frontend-fails" and .[0].status == "failed" and .[1].status == "succeeded" and (.[1].file | endswith("/ms/pipeline.yml")) and all(.[]; (.started | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$")) and (.finished | type) == "string" and (.duration_ms | type == "number" and . >= 0) and (.pid | type) == "number")'
n2=$(wc -l <"$tmp/ev2")
jq_out "events counts what run 2 printed ($n2)" ".[0].events == $n2"
cmd runs --state "$STATE" --json --limit 1
jq_out "--limit 1: only the newest" '[.[].run] == [2]'
cmd runs --state "$STATE" --limit 0
expect_rc 2 "--limit 0 is a usage error"
cmd runs --state "$STATE" --limit many
expect_rc 2 "--limit many is a usage error"
cmd runs --state "$STATE" extra
expect_rc 2 "runs takes no arguments"
LOCKSTEP_STATE=$STATE cmd runs --json
jq_out "\$LOCKSTEP_STATE is the state directory without --state" 'length == 2'

# ---- show ----
scenario show
cmd show 2 --state "$STATE"
expect_rc 0 "show 2"
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
	expect_rc 0 "show $id --json"
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
	cmd show "$id" --state "$STATE" --json
	expect "run $id: show --json events == run --json output, byte for byte as JSON" \
		jq_true --slurpfile x "$tmp/ev$id" '.events == $x' "$COUT"
done

# ---- logs ----
scenario logs
cmd logs 2 --state "$STATE"
expect_rc 0 "logs 2"
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
expect_rc 0 "logs 2 WORKFLOW/STEP"
expect "exactly the header and the log file" \
	test "$(tail -n +2 "$COUT")" = "$(cat "$STATE/logs/2/frontend-deploy/deploy.1.log")"
cmd logs 2 frontend-deploy --state "$STATE"
expect_rc 0 "logs 2 WORKFLOW"
expect "only that workflow's steps" test "$(grep '^==> ' "$COUT" | cut -d/ -f1 | sort -u)" = "==> frontend-deploy"
cmd logs 2 frontend-deploy/step-1 --state "$STATE"
expect_rc 0 "a barrier step asked for by name"
expect "says it has no output" out_has "(a barrier or wait step: no output)"
cmd logs 2 nope --state "$STATE"
expect_rc 1 "an unknown workflow"
expect "... is named" err_has "lockstep logs: run 2 has no workflow 'nope'"
cmd logs 2 frontend-deplyo --state "$STATE"
expect "a misspelt workflow gets a suggestion" err_has "did you mean 'frontend-deploy'?"
cmd logs 2 frontend-deploy/nope --state "$STATE"
expect_rc 1 "an unknown step"
expect "... is named" err_has "workflow frontend-deploy of run 2 has no step 'nope'"
expect "... and nothing went to stdout" test ! -s "$COUT"

# ---- bad run ids, unknown runs, missing and empty state directories ----
scenario bad-ids
for bad in abc 0 1.5 1x " 1"; do
	cmd show "$bad" --state "$STATE"
	expect_rc 2 "show '$bad'"
	expect "'$bad': says it is not a run id" err_has "'$bad' is not a run id"
	cmd logs "$bad" --state "$STATE"
	expect_rc 2 "logs '$bad'"
done
cmd show --state "$STATE"
expect_rc 2 "show without RUN"
cmd show 1 2 --state "$STATE"
expect_rc 2 "show with two RUNs"
cmd show 99 --state "$STATE"
expect_rc 1 "show 99 (no such run)"
expect "... says so" err_has "lockstep show: no run 99 in state directory '$STATE'"
expect "... nothing on stdout" test ! -s "$COUT"
cmd logs 99 --state "$STATE"
expect_rc 1 "logs 99"
cmd show 99999999999999999999 --state "$STATE"
expect_rc 2 "a run id out of range"

scenario missing-state
for c in "runs" "show 1" "logs 1"; do
	# shellcheck disable=SC2086
	cmd $c --state "$tmp/no-such-dir"
	expect_rc 4 "$c, missing state directory"
	expect "$c: names the directory" err_has "no state directory '$tmp/no-such-dir'"
done
expect "looking did not create it" test ! -e "$tmp/no-such-dir"
mkdir -p "$tmp/elsewhere"
cd "$tmp/elsewhere" && cmd runs
cd "$tmp" || exit 1
expect_rc 4 "the default ./.lockstep, missing"
expect "... is named" err_has "no state directory '.lockstep'"
mkdir -p "$tmp/empty-state"
cmd runs --state "$tmp/empty-state"
expect_rc 0 "an empty state directory: runs"
expect "says there are no runs" err_has "no runs recorded in '$tmp/empty-state'"
cmd runs --json --state "$tmp/empty-state"
jq_out "runs --json: []" '. == []'
cmd show 1 --state "$tmp/empty-state"
expect_rc 1 "an empty state directory: show 1"
expect "no database was created by reading" test ! -e "$tmp/empty-state/lockstep.db"

need sqlite3
scenario newer-schema
cp -R "$STATE" "$tmp/newer"
sqlite3 "$tmp/newer/lockstep.db" 'PRAGMA user_version = 99' >/dev/null
NEWER_MSG="$tmp/newer/lockstep.db was written by a newer lockstep (schema 99); this lockstep knows up to"
cmd runs --state "$tmp/newer"
expect_rc 4 "runs on a newer database"
expect "says it is newer, and what this lockstep knows" err_has "$NEWER_MSG"
mkdir -p "$tmp/newer-out"
OUT=$tmp/newer-out cmd run "$tmp/ms/pipeline.yml" "${MS_PORTS[@]}" --state "$tmp/newer"
expect_rc 4 "run on a newer database"
expect "... the same message" err_has "lockstep run: $NEWER_MSG"
expect "... and no run 3 started" test ! -e "$tmp/newer/logs/3"

# ---- durable before visible; interrupted ----
# holding: the run of t0400-hold.yml is where the scenarios below look at it:
# a runs its long step, b waits at X.
holding() {
	wait_until 10 test -s "$OUT/hold.pgid" && wait_event 10 '.event == "barrier.arrived" and .workflow == "b"'
}
scenario durable-before-visible
start_json "$RUNDIR/t0400-hold.yml"
expect "the run holds: a runs a long step, b waits at X" holding
shown=$(wc -l <"$EVENTS")
rid=$(head -1 "$EVENTS" | jq .run)
cmd show "$rid" --state "$STATE" --json
expect "all $shown events it printed are already in the database" \
	jq_true --slurpfile x <(head -n "$shown" "$EVENTS") '.events[0:($x | length)] == $x' "$COUT"
jq_out "the run is running; a is running step hold; X is waiting" \
	'.status == "running" and .finished == null and (.workflows[0].steps[0] | .status == "running" and .attempts[0].status == "running") and .barriers[0].status == "waiting"'
cmd logs "$rid" --state "$STATE"
expect "logs of a run in progress: the running attempt says so" out_has "==> a/hold attempt 1: running <=="
expect "... and b's finished output is there" out_has "hello from b"
kill -TERM "$BG"
finish_bg 15
expect_rc 130
cmd show "$rid" --state "$STATE" --json
jq_out "after SIGTERM: aborted, every event recorded" "$FACTS"
jq_out "... status aborted" '.status == "aborted"'
expect "nothing of the step is left" group_gone "$OUT/hold.pgid"

scenario interrupted
start_json "$RUNDIR/t0400-hold.yml"
expect "the run holds: a runs a long step, b waits at X" holding
kill -KILL "$BG"
finish_bg 10
rid=$(head -1 "$EVENTS" | jq .run)
expect_rc 137
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
expect_rc 0 "runs --status running with none running"
expect "... says no run matches, on stderr" err_has "no run in '$STATE' matches --status running"
expect "... and prints nothing" test ! -s "$COUT"
cmd runs --state "$STATE" --json --status failed
jq_out "runs --status failed: run 2 among them, all failed" 'any(.[]; .run == 2) and all(.[]; .status == "failed")'
cmd runs --state "$STATE" --json --pipeline multi-service
jq_out "runs --pipeline multi-service: run 1 only (not multi-service-frontend-fails)" '[.[].run] == [1]'
cmd runs --state "$STATE" --json --pipeline hold --status interrupted --limit 1
jq_out "the filters and --limit together" "[.[].run] == [$rid]"
cmd runs --state "$STATE" --status stuck
expect_rc 2 "runs --status stuck is a usage error"
expect "... naming the statuses" err_has "bad --status 'stuck': running, succeeded, failed, aborted or interrupted"
# Taking over the steps of an interrupted run is for `lockstep resume`
# (not there yet): end the orphaned step here.
kill -KILL -- "-$(cat "$OUT/hold.pgid")" 2>/dev/null
expect "the orphaned step is gone" wait_until 5 group_gone "$OUT/hold.pgid"

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
	cmd show "$r" --state "$tmp/conc" --json
	expect "run $r: its events are all there, its own only" \
		jq_true --slurpfile x "$tmp/conc.$i" '.events == $x' "$COUT"
done

# ---- a read-only state directory ----
scenario read-only
# As root, permissions do not stop writes: lockstep runs as nobody then.
mkdir -p "$tmp/ro-out" && chmod 777 "$tmp/ro-out"
cp -R "$STATE" "$tmp/ro-state"
rm -rf "$tmp/ro-state/logs"
# lockstep makes its state private (0700, 0600): an archive shared
# with another user is opened up for reading on purpose.
chmod -R a-w,a+rX "$tmp/ro-state"
mkdir "$tmp/ro-empty" && chmod 555 "$tmp/ro-empty"
for d in ro-state ro-empty; do
	OUT=$tmp/ro-out cmd_as_nobody run "$RUNDIR/t0400-hold.yml" --state "$tmp/$d" --json
	expect_rc 4 "run with read-only $d"
	expect "$d: the message names the directory and the problem" \
		err_has "lockstep run: cannot write to state directory '$tmp/$d': Permission denied"
	expect "$d: no event, no step ran" test ! -s "$COUT" -a ! -e "$tmp/ro-out/hold.pid"
done
nruns=$(jq length <<<"$("$LOCKSTEP" runs --state "$STATE" --json)")
cmd_as_nobody runs --state "$tmp/ro-state" --json
expect_rc 0 "runs still reads a read-only state directory"
jq_out "... all of its runs ($nruns)" "length == $nruns"
chmod -R u+w "$tmp/ro-state" "$tmp/ro-empty"

finish
