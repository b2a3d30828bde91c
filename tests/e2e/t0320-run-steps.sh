#!/bin/bash
# t0320-run-steps: what `lockstep run` does with steps (docs/pipeline-format.md#steps, docs/cli.md#lockstep-run):
# exit statuses and step/workflow statuses, retries and retry-delay with a
# log per attempt, step timeouts that kill the whole process tree,
# continue-on-error, wait steps, the environment of run steps, working
# directories and shells, spawn failures, matrix instance names,
# pipeline on-failure: rollback-all, --max-log, plain output and its
# summary, and the exit statuses of usage errors (2), invalid pipelines
# (3) and unusable state directories (4).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE

# ---- exit statuses ----
scenario exit-codes
run_json "$RUNDIR/t0320-exit.yml"
expect_rc 1
check_stream
check "exit 0: succeeded, exit_code 0" 'F("ok"; "zero").status == "succeeded" and F("ok"; "zero").exit_code == 0 and WF("ok").status == "succeeded" and WF("ok").reason == null'
check "exit 7: failed, exit_code 7, the next step never starts" \
	'F("fails"; "seven").status == "failed" and F("fails"; "seven").exit_code == 7 and S("fails"; "never") == null'
check "the workflow fails with the reason naming step and status" \
	'WF("fails").status == "failed" and WF("fails").reason == "failed at step '"'seven'"' (exit status 7)"'
check "killed by a signal: failed, exit_code null" \
	'F("signalled"; "killed").status == "failed" and F("signalled"; "killed").exit_code == null and WF("signalled").status == "failed" and (WF("signalled").reason | startswith("failed at step '"'killed'"' ("))'
check "a failing rollback step: failed (exit 6), the workflow ends rollback-failed" \
	'F("undo-fails"; "undo").status == "failed" and F("undo-fails"; "undo").exit_code == 6 and WR("undo-fails") != null and WF("undo-fails").status == "rollback-failed"'
check "the next group is skipped, the run fails" \
	'WF("after").status == "skipped" and WS("after") == null and RF.status == "failed"'
expect "stdout and stderr of a step both go to its log" file_has "$(log_of ok zero)" out-line
expect "... stderr too" file_has "$(log_of ok zero)" err-line
expect "the failing step's log" file_has "$(log_of fails seven)" "about to exit 7"
expect "nothing after a failure ran" test ! -e "$OUT/fails-never" -a ! -e "$OUT/after-ran"

# ---- retries and retry-delay ----
scenario retries
run_json "$RUNDIR/t0320-retries.yml"
expect_rc 1
check_stream
check "fetch: attempts 1, 2, 3 in step.started" \
	'[ev("step.started")[] | select(.workflow == "flaky" and .step == "fetch") | .attempt] == [1, 2, 3]'
check "fetch: failed, failed, succeeded" \
	'[ev("step.finished")[] | select(.workflow == "flaky" and .step == "fetch") | [.status, .exit_code]] == [["failed", 1], ["failed", 1], ["succeeded", 0]]'
# (Wall-clock event stamps: allow 20 ms for the time between the engine's
# clock reading and the moment it emits an event.)
check "each retry waits the 200ms retry-delay" \
	'[.[] | select(.workflow == "flaky" and .step == "fetch")] as $f | (($f[2] | ms) - ($f[1] | ms)) >= 180 and (($f[4] | ms) - ($f[3] | ms)) >= 180'
check "the workflow goes on and succeeds" 'lt(F("flaky"; "fetch"); S("flaky"; "next")) and WF("flaky").status == "succeeded"'
check "always: 2 attempts (retries: 1), both failed, then the workflow fails" \
	'[.[] | select(.workflow == "hopeless" and (.event | startswith("step."))) | [.event, .attempt // .status]] == [["step.started", 1], ["step.finished", "failed"], ["step.started", 2], ["step.finished", "failed"]] and WF("hopeless").reason == "failed at step '"'always'"' (exit status 2)"'
for n in 1 2 3; do
	expect "log per attempt: fetch.$n.log says attempt $n" file_has "$(log_of flaky fetch $n)" "attempt $n of fetch"
done
expect "... and only its own attempt" file_lacks "$(log_of flaky fetch 2)" "attempt 1"
expect "no fetch.4.log" test ! -e "$(log_of flaky fetch 4)"
expect "always.1.log and always.2.log" test -f "$(log_of hopeless always 1)" -a -f "$(log_of hopeless always 2)"

# ---- step timeout ----
scenario step-timeout
run_json "$RUNDIR/t0320-timeout.yml" --kill-grace 200ms
expect_rc 1
check_stream
check "hang: timed-out, exit_code null, after about 300ms" \
	'F("slow"; "hang").status == "timed-out" and F("slow"; "hang").exit_code == null and F("slow"; "hang").duration_ms >= 300 and F("slow"; "hang").duration_ms < 2000'
check "the workflow fails with the timeout as reason and rolls back" \
	'WR("slow").reason == "failed at step '"'hang'"' (timed out after 300ms)" and WF("slow").status == "rolled-back"'
check "stubborn (ignores SIGTERM): timed-out after timeout + grace (>= 500ms)" \
	'F("stubborn"; "hang").status == "timed-out" and F("stubborn"; "hang").exit_code == null and F("stubborn"; "hang").duration_ms >= 490 and F("stubborn"; "hang").duration_ms < 3000'
expect "hang got SIGTERM" test -f "$OUT/hang.term"
expect "the whole tree of hang is gone" gone "$OUT/hang.pid" "$OUT/hang.child"
expect "... its process group is empty" group_gone "$OUT/hang.pgid"
expect "stubborn got SIGTERM first" test -f "$OUT/stubborn.term"
expect "the whole tree of stubborn is gone (SIGKILL)" gone "$OUT/stubborn.pid" "$OUT/stubborn.child"
expect "... its process group is empty" group_gone "$OUT/stubborn.pgid"
expect "LOCKSTEP_FAILURE of the rollback" grep -qxF "failed at step 'hang' (timed out after 300ms)" "$OUT/slow-undo"
reap_leftovers

# ---- continue-on-error and wait ----
scenario continue-and-wait
run_json "$RUNDIR/t0320-continue.yml"
expect_rc 0
check_stream
check "purge fails (exit 9) and is recorded as failed" 'F("w"; "purge").status == "failed" and F("w"; "purge").exit_code == 9'
check "the workflow goes on: the wait step starts after it" 'lt(F("w"; "purge"); S("w"; "pause"))'
check "wait 300ms: succeeded, exit_code null, lasts 300ms" \
	'F("w"; "pause").status == "succeeded" and F("w"; "pause").exit_code == null and F("w"; "pause").duration_ms >= 300 and ((F("w"; "pause") | ms) - (S("w"; "pause") | ms)) >= 280'
check "then the last step; the workflow and the run succeed" \
	'lt(F("w"; "pause"); S("w"; "last")) and WF("w").status == "succeeded" and RF.status == "succeeded"'
expect "the last step ran" test -f "$OUT/last-ran"

# ---- the environment of run steps, matrix instance names ----
scenario env
# lockstep's own environment reaches the steps, except that the variables
# lockstep sets describe this run (a stale LOCKSTEP_RUN_ID or, outside
# rollback steps, LOCKSTEP_FAILURE, e.g. from an enclosing run, must not).
export FROM_OUTSIDE=outside FROM_OUTSIDE_2=outside LOCKSTEP_RUN_ID=999 LOCKSTEP_FAILURE=stale
run_json "$RUNDIR/t0320-env.yml" --var version=2.0.0
unset FROM_OUTSIDE FROM_OUTSIDE_2 LOCKSTEP_RUN_ID LOCKSTEP_FAILURE
expect_rc 1
check_stream
check "matrix instances in group.started" \
	'ev("group.started")[0].workflows == ["deploy[region=eu]", "deploy[region=us-east]"]'
check "matrix instance names in workflow and step events" \
	'WS("deploy[region=eu]") != null and WS("deploy[region=us-east]") != null and F("deploy[region=eu]"; "show-env").status == "succeeded" and F("deploy[region=us-east]"; "check-region").status == "failed" and WF("deploy[region=eu]").status == "succeeded" and WF("deploy[region=us-east]").status == "rolled-back"'
e=$OUT/env-eu
env_is "$e" LOCKSTEP_RUN_ID "$RUN_ID"
env_is "$e" LOCKSTEP_PIPELINE t0320-env
env_is "$e" LOCKSTEP_WORKFLOW "deploy[region=eu]"
env_is "$e" LOCKSTEP_STEP show-env
env_is "$e" LOCKSTEP_VAR_VERSION 2.0.0
env_is "$e" LOCKSTEP_VAR_IMAGE_TAG stable
env_is "$e" LOCKSTEP_MATRIX_REGION eu
env_is "$e" LOCKSTEP_INPUT_SERVICE api
env_is "$e" LOCKSTEP_INPUT_MY_KEY from-with
env_is "$e" WF_ONLY wf
env_is "$e" STEP_ONLY step
env_is "$e" BOTH step
env_is "$e" FROM_OUTSIDE outside
env_is "$e" FROM_OUTSIDE_2 wf-wins
env_is "$e" EXPR t0320-env/eu/2.0.0/api
env_is "$e" RUN_EXPR "run-$RUN_ID"
env_unset "$e" LOCKSTEP_FAILURE
env_is "$OUT/env-us-east" LOCKSTEP_WORKFLOW "deploy[region=us-east]"
env_is "$OUT/env-us-east" LOCKSTEP_MATRIX_REGION us-east
expect "expressions in run: run.id and workflow.name" grep -qsxF "run=$RUN_ID wf=deploy[region=eu]" "$OUT/expr-eu"
r=$OUT/rollback-env-us-east
env_is "$r" LOCKSTEP_FAILURE "failed at step 'check-region' (exit status 1)"
env_is "$r" LOCKSTEP_STEP undo
env_is "$r" LOCKSTEP_WORKFLOW "deploy[region=us-east]"
env_is "$r" WF_ONLY wf
env_unset "$r" STEP_ONLY
expect "the succeeded instance did not roll back" test ! -e "$OUT/rollback-env-eu"
expect "logs per instance: logs/RUN/deploy[region=eu]/show-env.1.log" \
	file_has "$(log_of "deploy[region=eu]" show-env)" "hello from deploy[region=eu]"

# ---- log paths of matrix instances whose values contain '/' ----
# Every log lives in the state directory (docs/cli.md#lockstep-run), one file per step
# attempt at STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log, WORKFLOW being one
# path component however the instance name is spelled.
scenario log-paths
mkdir -p "$tmp/lp"
cat >"$tmp/lp/pipe.yml" <<'YAML'
name: t0320-log-paths
stages:
  - workflow: d
    matrix:
      target: ["eu/west", "../../../../../escaped"]
workflows:
  d:
    steps:
      - id: s
        run: echo "log of $LOCKSTEP_WORKFLOW"
YAML
run_json "$tmp/lp/pipe.yml"
expect_rc 0
check "the instances are named after their values" \
	'ev("group.started")[0].workflows == ["d[target=eu/west]", "d[target=../../../../../escaped]"]'
expect "no log is written outside the state directory" test ! -e "$tmp/escaped]"
n=$(find "$STATE/logs/$RUN_ID" -mindepth 2 -maxdepth 2 -type f -name s.1.log 2>/dev/null | wc -l)
expect "each instance's log is STATE/logs/RUN/<one directory>/s.1.log (found $n of 2)" test "$n" -eq 2
rm -rf "$tmp/escaped]"

# ---- working directory and shell ----
scenario dirs
mkdir -p "$tmp/p/sub/leaf" "$tmp/abs dir" "$tmp/elsewhere"
cat >"$tmp/p/pipe.yml" <<YAML
name: t0320-dir
vars:
  leaf: leaf
stages:
  - dirs
  - workflow: broken
    parallel: true
workflows:
  dirs:
    steps:
      - id: default
        run: pwd -P >"\$OUT/pwd-default"
      - id: relative
        dir: sub
        run: pwd -P >"\$OUT/pwd-relative"
      - id: expr
        dir: sub/\${{ vars.leaf }}
        run: pwd -P >"\$OUT/pwd-expr"
      - id: absolute
        dir: $tmp/abs dir
        run: pwd -P >"\$OUT/pwd-absolute"
      - id: bash
        shell: bash
        run: 'arr=(x y z); echo "\${#arr[@]} \${BASH_VERSION:+bash}" >"\$OUT/bash"'
      - id: sh
        run: 'echo "\$0" >"\$OUT/sh"'
  broken:
    on-failure: stop
    steps:
      - id: nowhere
        dir: no-such-dir
        run: echo ran >"\$OUT/nowhere-ran"
YAML
cd "$tmp/elsewhere" || exit 1
run_json ../p/pipe.yml
cd "$tmp" || exit 1
p=$(cd "$tmp/p" && pwd -P)
expect_rc 1
check_stream
expect "default working directory: the pipeline file's directory" grep -qxF "$p" "$OUT/pwd-default"
expect "dir: sub is relative to the pipeline file's directory" grep -qxF "$p/sub" "$OUT/pwd-relative"
expect "dir: with an expression" grep -qxF "$p/sub/leaf" "$OUT/pwd-expr"
expect "an absolute dir: (with a space) is used as it is" grep -qxF "$(cd "$tmp/abs dir" && pwd -P)" "$OUT/pwd-absolute"
expect "shell: bash runs bash (arrays work)" grep -qxF "3 bash" "$OUT/bash"
expect "the default shell is /bin/sh" grep -qE '(^|/)sh$' "$OUT/sh"
check "the steps of dirs all succeeded" \
	'[ev("step.finished")[] | select(.workflow == "dirs") | .status] == ["succeeded", "succeeded", "succeeded", "succeeded", "succeeded", "succeeded"]'
check "a missing dir: the step starts and fails without an exit code (not 127)" \
	'S("broken"; "nowhere").attempt == 1 and F("broken"; "nowhere").status == "failed" and F("broken"; "nowhere").exit_code == null'
check "... and the reason says the directory does not exist" \
	'WF("broken").status == "failed" and (WF("broken").reason | startswith("failed at step '"'nowhere'"' (") and contains("no-such-dir") and contains("does not exist"))'
expect "the command did not run" test ! -e "$OUT/nowhere-ran"

# ---- pipeline on-failure: rollback-all ----
scenario rollback-all
run_json "$RUNDIR/t0320-rollback-all.yml"
expect_rc 1
check_stream
check "web fails after api succeeded" 'lt(one(.event == "workflow.finished" and .workflow == "api" and .status == "succeeded"); F("web"; "deploy")) and F("web"; "deploy").status == "failed"'
check "the failed group rolls back: web (its failure) and api (rollback-all)" \
	'WR("web") != null and WR("api") != null and WF("web").status == "rolled-back" and WF("api").status == "rolled-back"'
check "then the group before (config), after the failed group is done" \
	'lt(WF("web"); WR("config")) and lt(WF("api"); WR("config")) and WF("config").status == "rolled-back"'
check "then the first group (schema), after config is done: newest group first" \
	'lt(WF("config"); WR("schema")) and WF("schema").status == "rolled-back"'
check "verify is skipped; the run fails" 'WF("verify").status == "skipped" and WS("verify") == null and RF.status == "failed"'
order=$(marks)
case $order in
"schema-do config-do api-do "*"-undo "*"-undo config-undo schema-undo") pass "files: undone newest group first ($order)" ;;
*) fail "undo order '$order'" ;;
esac
expect "web and api were undone" test -f "$OUT/web-undo" -a -f "$OUT/api-undo"
WEB_FAIL="workflow web: failed at step 'deploy' (exit status 1)"
check "api's reason names the failure of its group" \
	"WR(\"api\").reason == \"the group failed (on-failure: rollback-all): $WEB_FAIL\""
check "config's and schema's name the failed group and its failure" \
	"WR(\"config\").reason == \"group 3 failed (on-failure: rollback-all): $WEB_FAIL\" and WR(\"schema\").reason == WR(\"config\").reason"
expect "schema's rollback got that reason as LOCKSTEP_FAILURE" \
	test "$(cat "$OUT/schema-undo" 2>/dev/null)" = "group 3 failed (on-failure: rollback-all): $WEB_FAIL"

scenario rollback-all-barrier
run_json "$RUNDIR/t0320-rollback-all-barrier.yml"
expect_rc 1
check "b fails while a waits at X; X breaks; a fails there" \
	'lt(A("X"; "a"); F("b"; "deploy")) and B("X").origin == "b" and WF("a").status == "failed"'
B_FAIL="workflow b: failed at step 'deploy' (exit status 3)"
check "base rolls back, naming b's failure (the first), not a's" \
	"WR(\"base\").reason == \"group 2 failed (on-failure: rollback-all): $B_FAIL\""
expect "base's rollback got it as LOCKSTEP_FAILURE" \
	test "$(cat "$OUT/base-undo" 2>/dev/null)" = "group 2 failed (on-failure: rollback-all): $B_FAIL"

scenario rollback-stop
mkdir -p "$tmp/stop"
ln -s "$RUNDIR/bin" "$tmp/stop/bin"
sed 's/^on-failure: rollback-all$/on-failure: stop/; s/^name: .*/name: t0320-stop/' \
	"$RUNDIR/t0320-rollback-all.yml" >"$tmp/stop/pipe.yml"
run_json "$tmp/stop/pipe.yml"
expect_rc 1
check "with on-failure: stop only the failed workflow rolls back" \
	'(ev("workflow.rollback") | map(.workflow)) == ["web"] and WF("api").status == "succeeded" and WF("config").status == "succeeded" and WF("schema").status == "succeeded" and WF("verify").status == "skipped"'
expect_marks "files: nothing else undone" "schema-do config-do api-do web-undo"

scenario no-rollback
run_json "$RUNDIR/t0320-rollback-all.yml" --no-rollback
expect_rc 1
check "--no-rollback: nothing rolls back, not even under rollback-all; web ends failed" \
	'(ev("workflow.rollback") | length) == 0 and WF("web").status == "failed" and WF("api").status == "succeeded" and WF("schema").status == "succeeded" and WF("verify").status == "skipped"'
expect_marks "files: no undo" "schema-do config-do api-do"

# ---- --max-log ----
scenario max-log
run_json "$RUNDIR/t0320-maxlog.yml" --max-log 1000
expect_rc 0
check "truncating the log does not fail the step" 'F("chatty"; "talk").status == "succeeded" and F("chatty"; "talk").exit_code == 0'
log=$(log_of chatty talk)
want=$(i=0; while [ $i -lt 20 ]; do printf 'line %03d 0123456789012345678901234567890123456789\n' $i; i=$((i + 1)); done)
expect "the log starts with exactly the first 1000 bytes of output" test "$(head -c 1000 "$log")" = "$want"
expect "then a truncation marker" bash -c "tail -c +1001 '$log' | grep -qi truncated"
expect "and nothing more of the output" file_lacks "$log" "line 020"
expect "the log stays small ($(wc -c <"$log") bytes)" test "$(wc -c <"$log")" -lt 1200

# ---- --max-parallel ----
# Six workflows run a step, meet at a barrier, run another. Exactly N step
# processes at once: never more, and, since six are ready at once, N at
# some point (each step stays until it has seen N running, or all six of
# its kind started). Workflows waiting at the barrier hold no slot, so
# even N = 1 cannot deadlock them.
# max_seen: the most step processes that ran at once, as the steps saw it.
max_seen() { sort -n "$OUT/concurrency" | tail -1; }
for n in 1 2 3; do
	scenario "max-parallel-$n"
	SLOT_AT_ONCE=$n run_json "$RUNDIR/t0320-parallel.yml" --max-parallel "$n"
	expect_rc 0
	check "all twelve steps succeeded; the barrier passed with all six" \
		'([ev("step.finished")[] | select(.status == "succeeded" and .exit_code == 0)] | length) == 12 and (P("all").participants | length) == 6'
	check "no b step started before the barrier passed" \
		'P("all") as $p | ([ev("step.started")[] | select(.step == "b")] | length) == 6 and all(ev("step.started")[] | select(.step == "b"); lt($p; .))'
	expect "twelve steps reported ($(wc -l <"$OUT/concurrency" 2>/dev/null))" test "$(wc -l <"$OUT/concurrency")" -eq 12
	expect "exactly $n at once at the most, never more, never fewer (saw $(max_seen))" test "$(max_seen)" -eq "$n"
done
scenario max-parallel-usage
# With N = 1 the steps ran one after the other: each span ends before the
# next one starts.
sort -k2,2n "$tmp/max-parallel-1/out/spans" | awk 'NR > 1 && $2 < end { bad = 1 } { end = $3 } END { exit bad }'
expect "max-parallel 1: the steps' spans do not overlap" test $? -eq 0
for bad in 0 -1 two 1.5 "" 1000001; do
	begin "--max-parallel '$bad' is a usage error"
	cmd run "$RUNDIR/t0320-mark.yml" --max-parallel "$bad" --state "$tmp/mp-state"
	expect_rc 2
	expect "it names the option and the value" err_has "bad --max-parallel '$bad'"
	end
done
expect "bad --max-parallel values create no state directory" test ! -e "$tmp/mp-state"

# ---- plain output ----
scenario plain
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$RUNDIR/t0320-plain.yml" --state "$STATE" >"$OUT/stdout" 2>"$OUT/stderr" </dev/null
rc=$?
expect_rc 1
so=$OUT/stdout
expect "no JSON events without --json" bash -c "! grep -q '^{' '$so'"
expect "step output is prefixed with [workflow]" grep -qxF "[be] be says hi" "$so"
expect "... stderr of steps too" grep -qxF "[fe] fe error" "$so"
expect "... and rollback steps" grep -qxF "[be] be undoing" "$so"
expect "no step output line goes unprefixed" bash -c "! grep -Eq '^(be says hi|fe about to fail|fe error|be undoing)' '$so'"
# The summary: the block after the last line that is live output.
last=$(grep -nE '^(\[|lockstep:)' "$so" | tail -1 | cut -d: -f1)
tail -n +"$((last + 1))" "$so" >"$OUT/summary"
ERR=$OUT/summary # shown when a check fails
expect "summary: be rolled-back, with a duration" grep -Eq '(^|[^a-z-])be[^a-z-].*rolled-back.*[0-9]+(ms|s)|(^|[^a-z-])be[^a-z-].*[0-9]+(ms|s).*rolled-back' "$OUT/summary"
expect "summary: fe failed" grep -Eq '(^|[^a-z-])fe[^a-z-].*failed' "$OUT/summary"
expect "summary: smoke skipped" grep -Eq '(^|[^a-z-])smoke[^a-z-].*skipped' "$OUT/summary"
expect "summary: barrier FE broken" grep -Eq '(^|[^A-Za-z])FE([^A-Za-z].*)?broken' "$OUT/summary"
expect "summary: the failure reason" grep -qF "failed at step 'deploy' (exit status 1)" "$OUT/summary"
expect "summary: the failure chain fe -> FE -> be" grep -Eq '(^|[^a-z-])fe[^a-z-].*FE.*(^|[^a-z-])be([^a-z-]|$)' "$OUT/summary"
expect "summary: the chain starts at the step that failed fe (deploy), not at the continue-on-error one (warm)" \
	bash -c "grep -q \"'deploy'\" '$OUT/summary' && ! grep -q warm '$OUT/summary'"

# ---- usage errors, invalid pipelines, state errors ----
scenario usage
mark=$RUNDIR/t0320-mark.yml
usage_case() { # WANT DESCRIPTION ARGS...
	local want=$1
	begin "$2: exit $want, a message on stderr, nothing ran"
	shift 2
	cmd run "$@"
	expect_rc "$want"
	expect_out_empty
	[ -s "$CERR" ] || flunk "stderr is empty"
	[ ! -e "$OUT/ran" ] || flunk "the pipeline ran"
	end
}
usage_case 2 "missing FILE" --state "$tmp/u-state"
usage_case 2 "missing FILE with --json" --json --state "$tmp/u-state"
usage_case 2 "bad --kill-grace" "$mark" --kill-grace soon --state "$tmp/u-state"
usage_case 2 "--kill-grace without a value" "$mark" --state "$tmp/u-state" --kill-grace
usage_case 2 "bad --max-log" "$mark" --max-log lots --state "$tmp/u-state"
usage_case 2 "unknown option" "$mark" --frobnicate --state "$tmp/u-state"
usage_case 2 "two files" "$mark" "$mark" --state "$tmp/u-state"
usage_case 2 "--var without =" "$mark" --var declared --state "$tmp/u-state"
expect "usage errors create no state directory" test ! -e "$tmp/u-state"
cmd run --help
expect "run --help: exit 0, usage on stdout" test "$rc" -eq 0 -a -s "$COUT" -a ! -s "$CERR"
expect "run --help names --kill-grace and --no-rollback" grep -q -- '--no-rollback' "$COUT"

printf 'name: bad\nstages:\n  - w\nworkflows:\n  w:\n    steps:\n      - run: echo "$OUT" >ran-bad\n        timout: 5m\n' >"$tmp/bad.yml"
usage_case 3 "invalid pipeline (unknown key)" "$tmp/bad.yml" --state "$tmp/u-state"
expect "... reported as FILE:LINE:COL: error" grep -Eq '^.*bad\.yml:8:9: error: ' "$CERR"
usage_case 3 "invalid pipeline with --json" "$tmp/bad.yml" --json --state "$tmp/u-state"
usage_case 3 "missing pipeline file" "$tmp/no-such.yml" --state "$tmp/u-state"
usage_case 3 "--var for an undeclared var" "$mark" --var undeclared=1 --state "$tmp/u-state"
expect "invalid pipelines create no state directory" test ! -e "$tmp/u-state"

echo plain-file >"$tmp/afile"
usage_case 4 "--state under a regular file" "$mark" --state "$tmp/afile/state"
usage_case 4 "--state is a regular file" "$mark" --json --state "$tmp/afile"
LOCKSTEP_STATE=$tmp/afile/env usage_case 4 "\$LOCKSTEP_STATE under a regular file" "$mark"

# --state DIR, else $LOCKSTEP_STATE, else ./.lockstep (docs/cli.md#state-directory).
mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && LOCKSTEP_STATE=$tmp/env-state timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$mark" >/dev/null 2>&1)
expect "\$LOCKSTEP_STATE is used without --state" test -f "$tmp/env-state/logs/1/only/step-1.1.log"
rm -f "$OUT/order" "$OUT/ran"
(cd "$tmp/cwd" && timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$mark" >/dev/null 2>&1)
expect "./.lockstep is the default" test -f "$tmp/cwd/.lockstep/logs/1/only/step-1.1.log"

finish
