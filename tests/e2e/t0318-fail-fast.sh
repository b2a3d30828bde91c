#!/bin/bash
# fail-fast barriers: when one breaks, participants still on their way stop
# the step they are running (SIGTERM to its process group, the kill grace,
# then SIGKILL), do not start another, and roll back at once; without it
# (the default, or a barrier that opts out) they finish their current
# steps first and fail when they arrive. Pipelines: tests/e2e/run/t0318-*.yml.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

msg='barrier deployed (Deployed in every region) broken: timed out after 1s waiting for ap'

# ---- a deploy in progress is stopped at once ----
scenario process
run_json "$RUNDIR/t0318-fail-fast.yml"
expect_rc 1 "the run fails"
check "deployed times out, waiting for ap's running deploy" \
	"B(\"deployed\").reason == \"timed out after 1s waiting for ap (running step 'deploy')\""
check "ap's deploy is stopped right after the break, not finished" \
	'F("ap"; "deploy").status == "aborted" and lt(B("deployed"); F("ap"; "deploy")) and (F("ap"; "deploy") | ms) - (B("deployed") | ms) < 1000'
expect "ap's deploy got SIGTERM" [ -s "$OUT/ap-deploy.term" ]
expect "ap's deploy left nothing running" group_gone "$OUT/ap-deploy.pgid"
check "ap starts no further step: no verify, never arrives" \
	'S("ap"; "verify") == null and A("deployed"; "ap") == null'
expect "verify never ran" [ ! -e "$OUT/verify-ap" ]
check "ap rolls back with the barrier's reason, saying fail-fast stopped its deploy" \
	"WR(\"ap\").reason == \"$msg (running step 'deploy') (fail-fast: step 'deploy' stopped)\" and WF(\"ap\").status == \"rolled-back\""
expect "ap's rollback saw the reason" grep -q "fail-fast: step 'deploy' stopped" "$OUT/undo-ap"
check "eu and us, waiting, fail at the barrier and roll back" \
	'WF("eu").status == "rolled-back" and WF("us").status == "rolled-back"'
check "the run is over about a second after it started, not after ap's 60 s deploy" \
	'(RF | ms) - (ev("run.started")[0] | ms) < 5000'

# ---- a barrier that opts out: ap finishes its steps, then fails on arrival ----
scenario opt-out
run_json "$RUNDIR/t0318-fail-fast.yml" --var barrier=lenient --var 'ap_deploy=sleep 2'
expect_rc 1 "the run fails"
check "lenient breaks while ap deploys" 'B("lenient").reason | startswith("timed out after 1s waiting for ap")'
check "ap's deploy runs to its end and succeeds" \
	'F("ap"; "deploy").status == "succeeded" and F("ap"; "deploy").duration_ms >= 2000'
check "ap verifies, then arrives and fails there" \
	'F("ap"; "verify").status == "succeeded" and lt(F("ap"; "verify"); A("lenient"; "ap")) and WR("ap").reason == "barrier lenient (Deployed everywhere, no fail-fast) broken: timed out after 1s waiting for ap (running step '"'"'deploy'"'"')"'

# ---- a wait step is cut short ----
scenario wait
run_json "$RUNDIR/t0318-wait.yml"
expect_rc 1 "the run fails"
check "ap's 30 s wait ends at the break, aborted" \
	'F("ap"; "settle").status == "aborted" and (F("ap"; "settle") | ms) - (B("deployed") | ms) < 1000'
check "ap rolls back, fail-fast named" \
	"WR(\"ap\").reason == \"$msg (running step 'settle') (fail-fast: step 'settle' stopped)\" and WF(\"ap\").status == \"rolled-back\""
check "the run is over in seconds" '(RF | ms) - (ev("run.started")[0] | ms) < 5000'

# ---- a retry that was waiting out its delay never comes ----
scenario retry
run_json "$RUNDIR/t0318-retry.yml"
expect_rc 1 "the run fails"
check "one attempt only: the retry, 30 s later, is given up" \
	'([.[] | select(.event == "step.started" and .workflow == "ap" and (.rollback | not))] | length) == 1'
expect "ap's deploy ran once" [ "$(grep -c ap-attempt "$OUT/order")" = 1 ]
check "ap rolls back right after the break" \
	"WR(\"ap\").reason == \"$msg (running step 'deploy') (fail-fast: step 'deploy' stopped before its retry)\" and (WR(\"ap\") | ms) - (B(\"deployed\") | ms) < 1000"

# ---- plan shows it ----
scenario plan
"$LOCKSTEP" plan "$RUNDIR/t0318-fail-fast.yml" >"$tmp/plan.txt" 2>&1
expect "plan says which barrier is fail-fast" grep -q 'fail-fast     yes' "$tmp/plan.txt"
"$LOCKSTEP" plan "$RUNDIR/t0318-fail-fast.yml" --format json >"$tmp/plan.json" 2>/dev/null
expect "plan --format json has fail_fast per barrier" \
	jq -e '(.barriers[] | select(.id == "deployed") | .fail_fast) == true' "$tmp/plan.json"
"$LOCKSTEP" plan "$RUNDIR/t0318-fail-fast.yml" --var barrier=lenient --format json >"$tmp/plan2.json" 2>/dev/null
expect "a barrier's fail-fast: false wins over the pipeline's" \
	jq -e '(.barriers[] | select(.id == "lenient") | .fail_fast) == false' "$tmp/plan2.json"

finish
