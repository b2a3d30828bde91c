#!/bin/bash
# t0300-run-seed: `lockstep run` on the seed scenario (docs/pipeline-format.md#a-complete-example), the
# multi-service example, copied into a scratch directory:
#   1. pipeline.yml succeeds: exit 0, a well-formed event stream, both
#      barriers passed by both deploys, the frontend deploy only after BE
#      passed, the releases really installed, each service started by its
#      deploy and verified by an http-check before its barrier, and
#      stopped when the run ends;
#   2. pipeline-frontend-fails.yml: the frontend deploy fails, FE breaks,
#      the backend fails at FE, both roll back (the backend's `current`
#      really goes back to the release of run 1), smoke-tests is skipped,
#      exit 1;
#   3. the same file with --var fail_frontend=0 succeeds; then, with
#      another program on the backend's port, the backend deploy fails at
#      once, changing nothing;
#   4. pipeline-swapped.yml (a barrier deadlock) is refused with exit 3
#      before anything runs.
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset DEPLOY_ROOT LOCKSTEP_STATE
copy_example multi-service "$tmp/ms"
root=$tmp/ms/deploy-root
# The services listen on ports of this script's own (--var).
ms_ports
BE_FE_MSG="barrier FE (Frontend service deployment done) broken: workflow frontend-deploy failed at step 'deploy' (exit status 1)"

# ---- 1. success ----
scenario success
# A relative FILE, from a directory that is not the pipeline's: steps must
# still run in ms/, where ./scripts is.
run_json ms/pipeline.yml "${MS_PORTS[@]}" --var version=1.4.1
expect_rc 0
check_stream
check "run 1 of pipeline multi-service, succeeded" \
	'.[0].run == 1 and .[0].pipeline == "multi-service" and RF.status == "succeeded"'
check "group 0 runs both deploys, group 1 smoke-tests" \
	'ev("group.started") | map([.group, (.workflows | sort)]) == [[0, ["backend-deploy", "frontend-deploy"]], [1, ["smoke-tests"]]]'
check "each workflow starts after its group.started" \
	'lt(first(ev("group.started")[] | select(.group == 0)); WS("backend-deploy")) and lt(first(ev("group.started")[] | select(.group == 0)); WS("frontend-deploy")) and lt(first(ev("group.started")[] | select(.group == 1)); WS("smoke-tests"))'
check "BE: both arrive, then it passes with both participants" \
	'lt(A("BE"; "backend-deploy"); P("BE")) and lt(A("BE"; "frontend-deploy"); P("BE")) and (P("BE").participants | sort) == ["backend-deploy", "frontend-deploy"]'
check "FE: both arrive, then it passes with both participants" \
	'lt(A("FE"; "backend-deploy"); P("FE")) and lt(A("FE"; "frontend-deploy"); P("FE")) and (P("FE").participants | sort) == ["backend-deploy", "frontend-deploy"]'
check "each barrier passes once; nothing breaks, nothing rolls back" \
	'(ev("barrier.passed") | map(.barrier) | sort) == ["BE", "FE"] and (ev("barrier.broken") | length) == 0 and (ev("workflow.rollback") | length) == 0'
check "the backend arrives at BE only after its deploy succeeded" \
	'F("backend-deploy"; "step-1").status == "succeeded" and F("backend-deploy"; "step-1").exit_code == 0 and lt(F("backend-deploy"; "step-1"); A("BE"; "backend-deploy"))'
check "the backend's service is verified after its deploy, before BE" \
	'lt(F("backend-deploy"; "step-1"); S("backend-deploy"; "verify")) and F("backend-deploy"; "verify").status == "succeeded" and F("backend-deploy"; "verify").exit_code == null and lt(F("backend-deploy"; "verify"); A("BE"; "backend-deploy"))'
check "the frontend deploy starts only after BE passed" \
	'lt(P("BE"); S("frontend-deploy"; "step-2"))'
check "the frontend's service is verified after its deploy, before FE" \
	'lt(F("frontend-deploy"; "step-2"); S("frontend-deploy"; "verify")) and F("frontend-deploy"; "verify").status == "succeeded" and lt(F("frontend-deploy"; "verify"); A("FE"; "frontend-deploy"))'
check "FE passes after the frontend deploy succeeded; the backend's FE step ends after that" \
	'F("frontend-deploy"; "step-2").status == "succeeded" and lt(F("frontend-deploy"; "step-2"); P("FE")) and lt(P("FE"); F("backend-deploy"; "step-4"))'
check "the barrier steps end after their barrier passed" \
	'lt(P("BE"); F("frontend-deploy"; "step-1")) and lt(P("BE"); F("backend-deploy"; "step-3")) and lt(P("FE"); F("frontend-deploy"; "step-4"))'
check "every step succeeded; run steps exit 0; durations are non-negative integers" \
	'all(ev("step.finished")[]; .status == "succeeded" and (.duration_ms | type == "number" and . >= 0 and . == floor)) and ([ev("step.finished")[] | select(.exit_code != null) | .exit_code] | unique) == [0] and (ev("step.finished") | length) == 9'
check "smoke-tests starts only after both deploys succeeded" \
	'lt(WF("backend-deploy"); first(ev("group.started")[] | select(.group == 1))) and lt(WF("frontend-deploy"); first(ev("group.started")[] | select(.group == 1))) and S("smoke-tests"; "step-1").attempt == 1'
check "all three workflows succeeded, reason null" \
	'(ev("workflow.finished") | map([.workflow, .status, .reason]) | sort) == [["backend-deploy", "succeeded", null], ["frontend-deploy", "succeeded", null], ["smoke-tests", "succeeded", null]]'
expect "backend current -> releases/1.4.1" link_is "$root/backend/current" releases/1.4.1
expect "frontend current -> releases/1.4.1" link_is "$root/frontend/current" releases/1.4.1
expect "the installed release says 1.4.1" file_has "$root/frontend/current/VERSION" 1.4.1
expect "steps ran in the pipeline's directory, not in lockstep's" test ! -e "$tmp/deploy-root"
expect "deploy log: STATE/logs/1/backend-deploy/step-1.1.log" \
	file_has "$(log_of backend-deploy step-1)" "backend: current -> releases/1.4.1 (was: nothing)"
expect "deploy log of the frontend" \
	file_has "$(log_of frontend-deploy step-2)" "frontend: current -> releases/1.4.1"
expect "smoke-tests log" file_has "$(log_of smoke-tests step-1)" "all services serve 1.4.1"
expect "the backend deploy started its service on its port" \
	file_has "$(log_of backend-deploy step-1)" "backend: serving releases/1.4.1 on http://127.0.0.1:$MS_BACKEND_PORT/ (pid "
expect "the backend's check got 'version 1.4.1' from it" \
	grep -Eq '^[0-9T:.Z-]+ #[0-9]+ status 200 in [0-9]+ms, body ".*version 1\.4\.1.*": as expected$' "$(log_of backend-deploy verify)"
expect "... asking the backend's port for 'version 1.4.1'" \
	file_has "$(log_of backend-deploy verify)" "http-check GET http://127.0.0.1:$MS_BACKEND_PORT/: expect status 200..399, body matching 'version 1.4.1'"
expect "the frontend's check got 'version 1.4.1' from it" \
	file_has "$(log_of frontend-deploy verify)" "http-check GET http://127.0.0.1:$MS_FRONTEND_PORT/: expect status 200..399, body matching 'version 1.4.1'"
expect "the services logged the checks' requests" \
	grep -q '"GET / HTTP/1.1" 200' "$root/backend/service.log" "$root/frontend/service.log"
# service_stopped SERVICE: the process in SERVICE/service.pid is gone.
service_stopped() {
	gone "$root/$1/service.pid"
}
expect "the run's end stopped the backend's service" service_stopped backend
expect "the run's end stopped the frontend's service" service_stopped frontend
expect "human output went to stderr" grep -q 'backend-deploy' "$ERR"

# ---- 2. the frontend deploy fails ----
scenario frontend-fails
run_json "$tmp/ms/pipeline-frontend-fails.yml" "${MS_PORTS[@]}"
expect_rc 1
check_stream
check "run 2, failed" '.[0].run == 2 and .[0].pipeline == "multi-service-frontend-fails" and RF.status == "failed"'
check "BE passed with both participants" '(P("BE").participants | sort) == ["backend-deploy", "frontend-deploy"]'
check "the frontend deploy starts after BE and fails with exit code 1" \
	'lt(P("BE"); S("frontend-deploy"; "deploy")) and F("frontend-deploy"; "deploy").status == "failed" and F("frontend-deploy"; "deploy").exit_code == 1'
check "FE breaks: reason and origin" \
	'B("FE").reason == "workflow frontend-deploy failed at step '"'deploy'"' (exit status 1)" and B("FE").origin == "frontend-deploy"'
check "FE breaks after the deploy failed, and only FE breaks" \
	'lt(F("frontend-deploy"; "deploy"); B("FE")) and (ev("barrier.broken") | map(.barrier)) == ["FE"] and (ev("barrier.passed") | map(.barrier)) == ["BE"]'
check "the frontend never arrives at FE" '[.[] | select(.event == "barrier.arrived" and .barrier == "FE") | .workflow] == ["backend-deploy"]'
check "the backend's service was verified before BE" \
	'F("backend-deploy"; "verify").status == "succeeded" and lt(F("backend-deploy"; "verify"); A("BE"; "backend-deploy"))'
check "the frontend's check never starts" '[ev("step.started")[] | select(.workflow == "frontend-deploy" and .step == "verify")] == []'
check "the backend, waiting at FE, fails there after the break" \
	'lt(A("FE"; "backend-deploy"); B("FE")) and lt(B("FE"); F("backend-deploy"; "step-4")) and F("backend-deploy"; "step-4").status == "failed"'
check "backend-deploy rolls back with the barrier's reason" \
	"WR(\"backend-deploy\").reason == \"$BE_FE_MSG\" and lt(B(\"FE\"); WR(\"backend-deploy\"))"
check "frontend-deploy rolls back with its own failure" \
	'(WR("frontend-deploy").reason | contains("failed at step '"'deploy'"' (exit status 1)")) and lt(F("frontend-deploy"; "deploy"); WR("frontend-deploy"))'
check "each runs its rollback step after workflow.rollback, and it succeeds" \
	'lt(WR("backend-deploy"); S("backend-deploy"; "rollback-1")) and lt(WR("frontend-deploy"); S("frontend-deploy"; "rollback-1")) and F("backend-deploy"; "rollback-1").status == "succeeded" and F("frontend-deploy"; "rollback-1").status == "succeeded"'
check "both end rolled-back; the backend with the barrier's reason" \
	"WF(\"backend-deploy\").status == \"rolled-back\" and WF(\"backend-deploy\").reason == \"$BE_FE_MSG\" and WF(\"frontend-deploy\").status == \"rolled-back\""
check "smoke-tests is skipped: never started, no group 1" \
	'WF("smoke-tests").status == "skipped" and (of("smoke-tests") | map(.event)) == ["workflow.finished"] and ([ev("group.started")[].group]) == [0]'
check "run.finished comes after every workflow.finished" 'lt(WF("smoke-tests"); RF) and lt(WF("backend-deploy"); RF)'
expect "the backend was really deployed (releases/1.4.2 exists)" test -f "$root/backend/releases/1.4.2/VERSION"
expect "the backend rollback restored current -> releases/1.4.1" link_is "$root/backend/current" releases/1.4.1
expect "the backend rollback consumed its undo record" test ! -e "$root/backend/previous"
expect "the frontend kept current -> releases/1.4.1" link_is "$root/frontend/current" releases/1.4.1
expect "the frontend never installed 1.4.2" test ! -e "$root/frontend/releases/1.4.2"
expect "the frontend deploy log has the script's error" \
	file_has "$(log_of frontend-deploy deploy)" "failing as asked (FAIL=1)"
expect "the backend rollback log shows LOCKSTEP_FAILURE and the switch back" \
	file_has "$(log_of backend-deploy rollback-1)" "reason: $BE_FE_MSG"
expect "... and the switch back" file_has "$(log_of backend-deploy rollback-1)" "backend: current -> releases/1.4.1"
expect "no smoke-tests logs in run 2" test ! -e "$STATE/logs/2/smoke-tests"
expect "the run's end stopped the backend's service" service_stopped backend

# ---- 3. the same file, told not to fail ----
scenario frontend-fails-off
run_json "$tmp/ms/pipeline-frontend-fails.yml" "${MS_PORTS[@]}" --var fail_frontend=0 --var version=1.4.3
expect_rc 0
check "run 3 succeeded, all three workflows succeeded" \
	'.[0].run == 3 and RF.status == "succeeded" and (ev("workflow.finished") | map(.status) | unique) == ["succeeded"] and (ev("workflow.finished") | length) == 3'
expect "backend current -> releases/1.4.3" link_is "$root/backend/current" releases/1.4.3
expect "frontend current -> releases/1.4.3" link_is "$root/frontend/current" releases/1.4.3

# ---- 3b. the backend's port is taken: the deploy says so at once ----
scenario port-in-use
# (SO_REUSEADDR: the port may still hold connections of the runs above.)
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").close()
time.sleep(60)' "$MS_BACKEND_PORT" "$tmp/listening" &
squatter=$!
BG_PIDS+=("$squatter")
expect "another program listens on the backend's port" wait_until 10 test -e "$tmp/listening"
run_json "$tmp/ms/pipeline.yml" "${MS_PORTS[@]}" --var version=1.4.4
kill "$squatter" 2>/dev/null
expect_rc 1
check "the backend deploy fails, before its check ever starts" \
	'F("backend-deploy"; "step-1").status == "failed" and F("backend-deploy"; "step-1").exit_code == 1 and S("backend-deploy"; "verify") == null'
check "BE breaks; both roll back" 'B("BE") != null and WF("backend-deploy").status == "rolled-back" and WF("frontend-deploy").status == "rolled-back"'
expect "the deploy log names the port" \
	file_has "$(log_of backend-deploy step-1)" "backend: port $MS_BACKEND_PORT on 127.0.0.1 is in use by another program; nothing was changed"
expect "nothing was changed: the backend still serves 1.4.3" link_is "$root/backend/current" releases/1.4.3
expect "and 1.4.4 was never installed" test ! -e "$root/backend/releases/1.4.4"

# ---- 4. the swapped form: refused before anything runs ----
scenario swapped
copy_example multi-service "$tmp/sw"
run_json "$tmp/sw/pipeline-swapped.yml"
expect_rc 3
expect "nothing on stdout" test ! -s "$EVENTS"
expect "stderr names the barrier deadlock at FILE:LINE:COL" \
	grep -Eq '^[^:]*pipeline-swapped\.yml:[0-9]+:[0-9]+: error: barrier deadlock' "$ERR"
expect "no run 5 in the state directory" test ! -e "$STATE/logs/5"
expect "no step ran (no deploy-root)" test ! -e "$tmp/sw/deploy-root"
saved=$STATE
STATE=$tmp/fresh-state
run_json "$tmp/sw/pipeline-swapped.yml"
STATE=$saved
expect_rc 3
expect "a fresh state directory is not even created" test ! -e "$tmp/fresh-state"

finish
