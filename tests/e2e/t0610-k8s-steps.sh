#!/bin/bash
# t0610-k8s-steps: the Kubernetes step kinds, k8s-rolling and k8s-rollback,
# with the real kubectl against the fake API server (tests/k8s/):
#   1. check and plan of the seed example (examples/kubernetes-multi-service):
#      valid, the steps and their default rollbacks in the plan; without
#      kubectl on PATH, check says so; --kubectl names another one;
#   2. the example deploys: apply into the right namespaces (request log),
#      rollouts waited for, the smoke tests see both services;
#   3. the example's frontend-failure form: the frontend's rollout stalls
#      and the step fails with the workload's reason
#      (ProgressDeadlineExceeded, ImagePullBackOff), FE breaks, both
#      workflows run their default k8s-rollback, which undoes exactly the
#      recorded workloads (not the unchanged cache) to their previous
#      revisions (images and revisions back, json-patch undo requests);
#   4. a StatefulSet and a DaemonSet (tests/e2e/k8s-steps/infra.yml): the
#      step's namespace wins over its environment's; a partner's failure
#      breaks READY and both are undone; a stalled StatefulSet or
#      DaemonSet fails the step before its timeout with the pods' reason,
#      and is undone (a StatefulSet's stuck pod deleted: forced rollback);
#      an apply that changes nothing leaves nothing to roll back;
#   5. a run killed (SIGKILL) while its rollout is waited for, then
#      `lockstep resume`d: the interrupted step's record (a file) tells
#      the resumed run's k8s-rollback what to undo; the run's --kubectl
#      is used again;
#   6. a run aborted (SIGTERM) while it waits: the step ends aborted and
#      the default rollback undoes the rollout.
#
# kubectl must be on PATH (make deps): without it this test fails.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs python3, jq, timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
. "$SRC/tests/k8s/lib.sh"
at_exit fake_cleanup
unset LOCKSTEP_STATE KUBECONFIG
need kubectl python3
KUBECTL=$(command -v kubectl)
KOUT=$tmp/kubectl.out
EXAMPLE=$SRC/examples/kubernetes-multi-service
FIX=$E2E_DIR/k8s-steps
RUN_BOUND=60

if ! fake_start "$tmp/fake" --context local --progress-deadline 2 --pod-ready-seconds 0.1 --nodes 2; then
	fail "the fake API server starts"
	finish
	exit 1
fi

# log_mark: where the request log is now; writes_since MARK: the writes
# after it that created, deleted or changed the spec of something (an
# apply that only updates kubectl's last-applied annotation moves no
# generation), as "VERB namespace/resource/name", sorted and unique.
log_mark() { if [ -f "$FAKE_LOG" ]; then wc -l <"$FAKE_LOG"; else echo 0; fi; }
writes_since() {
	tail -n +"$(($1 + 1))" "$FAKE_LOG" |
		jq -r 'select(.method != "GET" and .verb != null and (.verb == "create" or .verb == "delete" or .generation != null)) | "\(.verb) \(.namespace)/\(.resource)/\(.name)"' |
		sort -u | tr '\n' ';'
}
# step_reason WORKFLOW: the reason of the workflow's last workflow.finished.
wf_reason() { jq -r --arg w "$1" 'select(.event == "workflow.finished" and .workflow == $w) | .reason' "$EVENTS" | tail -1; }

# ---- 1. check and plan ----
scenario check
for f in pipeline.yml pipeline-frontend-fails.yml; do
	out=$("$LOCKSTEP" check "$EXAMPLE/$f" 2>&1)
	expect_eq "check $f" "$out (rc $?)" "$EXAMPLE/$f: ok (rc 0)"
done
"$LOCKSTEP" plan "$EXAMPLE/pipeline.yml" >"$tmp/plan.txt" 2>&1
expect_eq "plan exits 0" "$?" 0
expect "plan: the backend's k8s-rolling step, its namespace and timeout" \
	grep -qE '^ +1 +deploy +k8s-rolling +Rolling deploy +k8s-rolling manifests/backend/, namespace backend, context local, timeout 5m$' "$tmp/plan.txt"
expect "plan: each deploy workflow has the default rollback" \
	test "$(grep -cE '^ +1 +rollback-1 +k8s-rollback +k8s-rollback \(default\)' "$tmp/plan.txt")" -eq 2
"$LOCKSTEP" plan "$EXAMPLE/pipeline.yml" --format json >"$tmp/plan.json" 2>/dev/null
expect "plan --format json: manifests, namespace, context; the default rollback" \
	jq_true '[.workflows[] | select(.name == "frontend-deploy")][0] | (.steps[1] | .kind == "k8s-rolling" and .manifests == ["manifests/frontend/"] and .namespace == "frontend" and .context == "local") and (.rollback[0] | .kind == "k8s-rollback" and .default == true)' "$tmp/plan.json"
out=$(PATH=/nonexistent "$LOCKSTEP" check "$EXAMPLE/pipeline.yml" 2>&1)
rc=$?
expect_eq "without kubectl on PATH, check fails (exit 3)" "$rc" 3
expect_match "... naming kubectl and --kubectl, at the first Kubernetes step" "$out" \
	'pipeline\.yml:46:9: error: kubectl not found on PATH: the Kubernetes steps of this pipeline run it \(install kubectl, or give its path with --kubectl PATH\)'
out=$(PATH=/nonexistent "$LOCKSTEP" check "$EXAMPLE/pipeline.yml" --kubectl "$KUBECTL" 2>&1)
expect_eq "--kubectl PATH instead of PATH" "$out (rc $?)" "$EXAMPLE/pipeline.yml: ok (rc 0)"
out=$("$LOCKSTEP" plan "$EXAMPLE/pipeline.yml" --kubectl /nonexistent/kubectl 2>&1 >/dev/null)
expect_eq "plan --kubectl with a wrong path: exit 3" "$?" 3
expect_match "... saying so" "$out" "error: --kubectl '/nonexistent/kubectl' does not exist"

# ---- 2. the example deploys ----
scenario deploy
mark=$(log_mark)
run_json "$EXAMPLE/pipeline.yml"
expect_rc 0
check_stream
check "both deploys, then the smoke tests, succeeded" \
	'WF("backend-deploy").status == "succeeded" and WF("frontend-deploy").status == "succeeded" and WF("smoke-tests").status == "succeeded" and lt(F("frontend-deploy"; "deploy"); A("FE"; "frontend-deploy"))'
check "the k8s steps' step.finished have exit_code null" \
	'F("backend-deploy"; "deploy").exit_code == null and F("backend-deploy"; "deploy").status == "succeeded"'
expect_eq "writes: the namespaces, then each service's objects in its own namespace" \
	"$(writes_since "$mark")" \
	"create /namespaces/backend;create /namespaces/frontend;create backend/deployments/backend;create backend/deployments/cache;create backend/services/backend;create frontend/deployments/frontend;create frontend/services/frontend;"
expect_eq "backend runs 1.4.2, revision 1" \
	"$(image_of deployment/backend backend) $(revision_of deployment/backend backend)" "registry.example.com/shop/backend:1.4.2 1"
expect_eq "frontend runs 1.4.2" "$(image_of deployment/frontend frontend)" "registry.example.com/shop/frontend:1.4.2"
expect_eq "the manifest's \${{ run.id }} was rendered" \
	"$(kget deployment/backend -n backend -o json | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "DEPLOYED_BY") | .value')" \
	"lockstep run $RUN_ID"
log=$(log_of backend-deploy deploy)
expect "the log says what the apply created" grep -qxF "created: deployment/backend in backend" "$log"
expect "the log shows the rollout waited for" grep -qF 'deployment "backend" successfully rolled out' "$log"
expect "the record lists both Deployments as created" \
	jq_true '.phase == "done" and .outcome == "succeeded" and ([.workloads[] | select(.changed and (.existed | not)) | .name] | sort) == ["backend", "cache"]' \
	"$STATE/logs/$RUN_ID/backend-deploy/deploy.1.k8s.json"
out=$(kget pods -n frontend -l app=frontend -o name | wc -l)
expect_eq "rolled out: 2 frontend pods" "$out" 2

# ---- 3. the frontend fails: default rollbacks undo exactly what was recorded ----
scenario frontend-fails
mark=$(log_mark)
cache_gen=$(kget deployment/cache -n backend -o 'jsonpath={.metadata.generation}')
run_json "$EXAMPLE/pipeline-frontend-fails.yml" --var version=1.5.0
expect_rc 1
check_stream
reason=$(jq -r 'select(.event == "barrier.broken" and .barrier == "FE") | .reason' "$EVENTS")
expect_match "the stalled rollout fails the step with the workload's own reason" "$reason" \
	"^workflow frontend-deploy failed at step 'deploy' \\(deployment/frontend in frontend: ProgressDeadlineExceeded: pod frontend-[a-z0-9]+-[a-z0-9]+: ImagePullBackOff: Back-off pulling image \"registry.example.com/shop/frontend:1.5.0-bad\"\\)$"
check "order: the frontend's step fails, FE breaks (origin frontend-deploy), the backend fails at FE and rolls back" \
	'F("frontend-deploy"; "deploy").status == "failed" and lt(F("frontend-deploy"; "deploy"); B("FE")) and B("FE").origin == "frontend-deploy" and lt(B("FE"); F("backend-deploy"; "step-3")) and F("backend-deploy"; "step-3").status == "failed" and lt(F("backend-deploy"; "step-3"); WR("backend-deploy"))'
check "both ran their default rollback, which succeeded: rolled-back; smoke-tests skipped" \
	'WF("backend-deploy").status == "rolled-back" and WF("frontend-deploy").status == "rolled-back" and F("backend-deploy"; "rollback-1").status == "succeeded" and F("frontend-deploy"; "rollback-1").status == "succeeded" and WF("smoke-tests").status == "skipped"'
expect_match "the backend's reason names the broken barrier and the frontend's cause" "$(wf_reason backend-deploy)" \
	"^barrier FE \\(Frontend service deployment done\\) broken: workflow frontend-deploy failed at step 'deploy' \\(deployment/frontend in frontend: ProgressDeadlineExceeded: "
expect_eq "backend back at 1.4.2" "$(image_of deployment/backend backend)" "registry.example.com/shop/backend:1.4.2"
expect_eq "... revision 1 renumbered 3 (1, 2 the run's, 3 the undo)" "$(revision_of deployment/backend backend)" 3
expect_eq "frontend back at 1.4.2" "$(image_of deployment/frontend frontend)" "registry.example.com/shop/frontend:1.4.2"
expect_eq "... its rollout complete again" \
	"$(kc rollout status deployment/frontend -n frontend --timeout=10s >/dev/null 2>&1; echo $?)" 0
expect_eq "writes: an apply patch and an undo (json-patch) of exactly the two changed Deployments, nothing else" \
	"$(tail -n +"$((mark + 1))" "$FAKE_LOG" | jq -r 'select(.method != "GET" and .verb != null) | "\(.namespace)/\(.resource)/\(.name) \(.patch_type // .verb)"' | sort | tr '\n' ';')" \
	"backend/deployments/backend application/json-patch+json;backend/deployments/backend application/strategic-merge-patch+json;frontend/deployments/frontend application/json-patch+json;frontend/deployments/frontend application/strategic-merge-patch+json;"
expect_eq "the unchanged cache was left alone (same generation)" \
	"$(kget deployment/cache -n backend -o 'jsonpath={.metadata.generation}')" "$cache_gen"
log=$(log_of backend-deploy rollback-1)
expect "the backend's k8s-rollback says what it undoes, to which revision" \
	grep -qxF "rolling back deployment/backend in backend to revision 1, its revision before the run changed it" "$log"
expect "the record of the backend's apply: backend changed from revision 1; cache unchanged" \
	jq_true '[.workloads[] | {name, changed, revision}] == [{"name": "backend", "changed": true, "revision": 1}, {"name": "cache", "changed": false, "revision": 1}]' \
	"$STATE/logs/$RUN_ID/backend-deploy/deploy.1.k8s.json"
expect "the frontend's record: failed, with the reason" \
	jq_true '.outcome == "failed" and (.reason | startswith("deployment/frontend in frontend: ProgressDeadlineExceeded"))' \
	"$STATE/logs/$RUN_ID/frontend-deploy/deploy.1.k8s.json"
"$LOCKSTEP" logs "$RUN_ID" frontend-deploy --state "$STATE" >"$tmp/logs.out" 2>&1
expect "lockstep logs lists the k8s steps' logs" \
	grep -qE '^==> frontend-deploy/rollback-1 attempt 1 \(rollback\): succeeded, [0-9.]+m?s <==$' "$tmp/logs.out"

# ---- 4. StatefulSet and DaemonSet ----
scenario infra-create
mark=$(log_mark)
run_json "$FIX/infra.yml"
expect_rc 0
expect_eq "writes go to the step's namespace (infra), not the environment's (ops)" \
	"$(writes_since "$mark")" "create /namespaces/infra;create infra/daemonsets/agent;create infra/statefulsets/db;"
expect_eq "db and agent run 1.0" "$(image_of statefulset/db infra) $(image_of daemonset/agent infra)" \
	"example/db:1.0 example/agent:1.0"

scenario infra-partner-fails
mark=$(log_mark)
run_json "$FIX/infra.yml" --var db=2.0 --var agent=2.0 --var gate=3
expect_rc 1
check "infra rolled out, then failed at the broken READY and rolled back" \
	'F("infra"; "deploy").status == "succeeded" and B("READY").origin == "gate" and WF("infra").status == "rolled-back" and F("infra"; "rollback-1").status == "succeeded"'
expect_eq "db and agent back at 1.0" "$(image_of statefulset/db infra) $(image_of daemonset/agent infra)" \
	"example/db:1.0 example/agent:1.0"
log=$(log_of infra rollback-1)
expect "the rollback undid, newest first, the StatefulSet (applied last), then the DaemonSet, each to revision 1" \
	test "$(grep -E '^rolling back ' "$log")" = "rolling back statefulset/db in infra to revision 1, its revision before the run changed it
rolling back daemonset/agent in infra to revision 1, its revision before the run changed it"
expect "... waited for both" test "$(grep -c '^rolled back: ' "$log")" -eq 2
expect_eq "statefulset db: 2 pods ready on the old revision" \
	"$(kget statefulset/db -n infra -o json | jq -r '[.status.readyReplicas, (.status.currentRevision == .status.updateRevision)] | join(" ")')" "2 true"

scenario infra-stalls
mark=$(log_mark)
t0=$(now_ms)
run_json "$FIX/infra.yml" --var db=2.1-bad
expect_rc 1
check "the step failed (not timed-out) before its 6s timeout, and rolled back" \
	'F("infra"; "deploy").status == "failed" and F("infra"; "deploy").duration_ms < 6000 and WF("infra").status == "rolled-back"'
expect_match "a StatefulSet has no progress deadline: not rolled out in time, with the pod's reason" \
	"$(wf_reason infra)" \
	"^failed at step 'deploy' \\(statefulset/db in infra: not rolled out within [0-9a-z]+ \\(1 of 2 pods updated, 1 ready\\): pod db-1: ImagePullBackOff: Back-off pulling image \"example/db:2.1-bad\"\\)$"
expect_eq "db back at 1.0, its 2 pods ready" \
	"$(image_of statefulset/db infra) $(kget statefulset/db -n infra -o 'jsonpath={.status.readyReplicas}')" "example/db:1.0 2"
expect "the rollback deleted the pod stuck at the bad revision (forced rollback)" \
	grep -qE '^deleting pod db-1: stuck at revision db-[a-z0-9]+, not ready' "$(log_of infra rollback-1)"
expect_eq "writes: the db apply, its undo and the stuck pod's deletion; nothing on the agent" \
	"$(writes_since "$mark")" "delete infra/pods/db-1;patch infra/statefulsets/db;"

scenario infra-agent-stalls
mark=$(log_mark)
run_json "$FIX/infra.yml" --var agent=2.2-bad
expect_rc 1
expect_match "a stalled DaemonSet: not rolled out in time, with the pod's reason" "$(wf_reason infra)" \
	"^failed at step 'deploy' \\(daemonset/agent in infra: not rolled out within [0-9a-z]+ \\(1 of 2 pods updated, 1 available\\): pod agent-[a-z0-9]+: ImagePullBackOff: Back-off pulling image \"example/agent:2.2-bad\"\\)$"
check "... and its rollback completed" 'WF("infra").status == "rolled-back" and F("infra"; "rollback-1").status == "succeeded"'
expect_eq "agent back at 1.0 on both nodes" \
	"$(image_of daemonset/agent infra) $(kget daemonset/agent -n infra -o 'jsonpath={.status.numberReady}')" "example/agent:1.0 2"

scenario infra-unchanged
mark=$(log_mark)
run_json "$FIX/infra.yml" --var gate=4
expect_rc 1
check "the partner failed; infra's rollback succeeded with nothing to do" \
	'WF("infra").status == "rolled-back" and F("infra"; "rollback-1").status == "succeeded"'
expect "... and said so" grep -qF "nothing to roll back: no k8s-rolling step of infra changed a Deployment, StatefulSet or DaemonSet in this run" \
	"$(log_of infra rollback-1)"
expect_eq "an apply that changes nothing changes no spec" "$(writes_since "$mark")" ""

# ---- 5. killed while waiting, then resumed ----
scenario resume
cat >"$tmp/kubectl-wrapper" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/wrapper.log"
exec "$KUBECTL" "\$@"
EOF
chmod +x "$tmp/kubectl-wrapper"
run_json "$FIX/slow.yml"
expect_rc 0
start_json "$FIX/slow.yml" --var version=2 --var ready=30 --kubectl "$tmp/kubectl-wrapper"
waiting() { [ -n "$(ls "$STATE"/logs/*/web/deploy.1.log 2>/dev/null)" ] && grep -qh "waiting for the rollout of deployment/web" "$STATE"/logs/*/web/deploy.1.log 2>/dev/null && grep -q 'rollout status' "$tmp/wrapper.log" 2>/dev/null; }
if wait_until 30 waiting; then
	pass "the run waits for the slow rollout"
else
	fail "the run never got to wait for the rollout"
fi
crash_all "$BG" "$STATE"
finish_bg 10
run_id=$RUN_ID
# waiting_run: the run of $EVENTS waits for its rollout (for scenario abort).
waiting_run() {
	local id
	id=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" 2>/dev/null | head -1)
	[ -n "$id" ] && grep -q "waiting for the rollout of deployment/web" "$STATE/logs/$id/web/deploy.1.log" 2>/dev/null
}
expect_eq "image 2 applied before the kill" "$(image_of deployment/web web)" "example/web:2"
: >"$tmp/wrapper.log"
timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" resume "$run_id" --state "$STATE" --json >"$EVENTS.resume" 2>"$ERR" </dev/null
rc=$?
cat "$EVENTS.resume" >>"$EVENTS"
expect_rc 1
check "resumed: the interrupted step failed and the workflow rolled back" \
	'(ev("run.resumed") | length) == 1 and WF("web").status == "rolled-back" and F("web"; "rollback-1").status == "succeeded" and (WF("web").reason == "failed at step '"'"'deploy'"'"' (interrupted)")'
expect_eq "the resumed run's k8s-rollback found the killed run's record: web back at 1" \
	"$(image_of deployment/web web)" "example/web:1"
expect "... with the run's --kubectl" grep -q "rollout undo deployment/web" "$tmp/wrapper.log"

# ---- 6. aborted while waiting: the rollback still runs ----
scenario abort
start_json "$FIX/slow.yml" --var version=3 --var ready=30 --kill-grace 2s
if wait_until 30 grep -q '"attempt":1' "$EVENTS" && wait_until 30 waiting_run; then
	pass "the run waits for the slow rollout"
else
	fail "the run never got to wait for the rollout"
fi
kill -TERM "$BG"
finish_bg 30
expect_rc 130
check "the step was aborted, then the default rollback ran and succeeded" \
	'F("web"; "deploy").status == "aborted" and F("web"; "rollback-1").status == "succeeded" and WF("web").status == "rolled-back"'
expect_eq "web back at 1" "$(image_of deployment/web web)" "example/web:1"

if [ -s "$tmp/fake/server.err" ]; then
	fail "the fake API server wrote to stderr"
	head -n 20 "$tmp/fake/server.err" | sed 's/^/     ! /'
fi
fake_stop
finish
