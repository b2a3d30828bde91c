#!/bin/bash
# t0510-environments: environments (docs/pipeline-format.md, Environments)
# while running and in `plan`:
#   1. run/t0510-environments.yml: from files the steps write, exactly
#      which LOCKSTEP_ENV, LOCKSTEP_NAMESPACE, LOCKSTEP_KUBE_CONTEXT,
#      KUBECONFIG and layered variables each step saw: a workflow's
#      environment, a stage entry's environment winning over it, no
#      environment, environments named from the matrix, an environment
#      without kubernetes (rollback steps included), and the precedence
#      lockstep's own environment < environment env < workflow env <
#      step env < LOCKSTEP_*;
#   2. plan: the environment of each instance in text, json and dot;
#   3. the multi-service example: each deploy reports its environment.
#
# lockstep strips inherited LOCKSTEP_* variables from steps: $OUT reaches
# them under its own name (run/lib.sh).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs jq and timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
unset LOCKSTEP_STATE KUBECONFIG DEPLOY_ROOT

pipeline=$RUNDIR/t0510-environments.yml
# Steps run in the pipeline file's directory, resolved as lockstep does.
pdir=$(cd "$RUNDIR" && pwd -P)

# env_exactly FILE LINE...: FILE holds exactly these lines (sorted).
env_exactly() {
	local f=$1 want got
	shift
	want=$(printf '%s\n' "$@" | sort)
	got=$(cat "$f" 2>/dev/null)
	if [ "$got" = "$want" ]; then
		pass "${f##*/}: exactly what it should see"
	else
		fail "${f##*/}: saw:"
		diff <(echo "$want") <(echo "$got") | sed 's/^/     | /'
	fi
}

# ---- 1. what steps see ----
scenario run
# The outside layer: every P_* is set here, so each layer above it shows;
# stale LOCKSTEP_ENV/LOCKSTEP_NAMESPACE must not reach any step.
export P_OUTSIDE=outside P_ENV=outside P_WF=outside P_STEP=outside \
	KUBECONFIG=/outside/kubeconfig LOCKSTEP_ENV=stale LOCKSTEP_NAMESPACE=stale \
	LOCKSTEP_KUBE_CONTEXT=stale
run_json "$pipeline" --var cluster=kind-local
unset P_OUTSIDE P_ENV P_WF P_STEP KUBECONFIG LOCKSTEP_ENV LOCKSTEP_NAMESPACE LOCKSTEP_KUBE_CONTEXT
expect_rc 1
check_stream
check "every workflow ran; qa-check failed at 'fail' and rolled back" \
	'(ev("workflow.started") | map(.workflow) | sort) == ["backend-deploy", "frontend-deploy", "plain", "qa-check", "regional[region=eu]", "regional[region=us]"] and F("qa-check"; "fail").exit_code == 3 and WF("qa-check").status == "rolled-back"'

# The workflow's own environment; each layer wins over the ones below it.
env_exactly "$OUT/backend-deploy.show" \
	LOCKSTEP_ENV=backend LOCKSTEP_NAMESPACE=backend LOCKSTEP_KUBE_CONTEXT=kind-local \
	"KUBECONFIG=$pdir/kube/backend.yaml" \
	P_OUTSIDE=outside P_ENV=backend-env P_WF=workflow P_STEP=step
# The stage entry's environment wins over the workflow's (backend); the
# workflow's env sets KUBECONFIG, over the environment's kubeconfig.
env_exactly "$OUT/frontend-deploy.show" \
	LOCKSTEP_ENV=frontend LOCKSTEP_NAMESPACE=frontend LOCKSTEP_KUBE_CONTEXT=local \
	KUBECONFIG=/wf/kubeconfig \
	P_OUTSIDE=outside P_ENV=frontend-env P_WF=workflow P_STEP=frontend-env
# No environment: nothing of one, and lockstep's own environment as it is.
env_exactly "$OUT/plain.show" \
	KUBECONFIG=/outside/kubeconfig \
	P_OUTSIDE=outside P_ENV=outside P_WF=outside P_STEP=outside
# Named from the matrix, one environment per instance.
env_exactly "$OUT/regional[region=eu].show" \
	LOCKSTEP_ENV=prod-eu LOCKSTEP_NAMESPACE=shop-eu LOCKSTEP_KUBE_CONTEXT=eu-cluster \
	KUBECONFIG=/outside/kubeconfig \
	P_OUTSIDE=outside P_ENV=outside P_WF=outside P_STEP=outside
env_exactly "$OUT/regional[region=us].show" \
	LOCKSTEP_ENV=prod-us LOCKSTEP_NAMESPACE=shop-us LOCKSTEP_KUBE_CONTEXT=us-cluster \
	KUBECONFIG=/outside/kubeconfig \
	P_OUTSIDE=outside P_ENV=outside P_WF=outside P_STEP=outside
# Without kubernetes: LOCKSTEP_ENV only; ${{ run.id }} in its env.
env_exactly "$OUT/qa-check.show" \
	LOCKSTEP_ENV=qa KUBECONFIG=/outside/kubeconfig "RELEASE=r$RUN_ID" \
	P_OUTSIDE=outside P_ENV=qa-env P_WF=outside P_STEP=outside
env_exactly "$OUT/qa-check.undo" \
	LOCKSTEP_ENV=qa KUBECONFIG=/outside/kubeconfig "RELEASE=r$RUN_ID" \
	P_OUTSIDE=outside P_ENV=qa-env P_WF=outside P_STEP=outside
env_unset "$OUT/qa-check.show" LOCKSTEP_NAMESPACE

# ---- 2. plan ----
scenario plan
NO_COLOR=1 "$LOCKSTEP" plan "$pipeline" --format json >"$tmp/plan.json" 2>"$tmp/plan.err"
rc=$?
expect_rc 0 "plan --format json"
jplan() { # DESCRIPTION FILTER
	if jq -e "$2" "$tmp/plan.json" >/dev/null 2>&1; then
		pass "$1"
	else
		fail "$1"
	fi
}
jplan "each instance has its environment (null: none)" \
	'[.workflows[] | {(.name): .environment}] | add == {"backend-deploy": "backend", "frontend-deploy": "frontend", "plain": null, "regional[region=eu]": "prod-eu", "regional[region=us]": "prod-us", "qa-check": "qa"}'
jplan "environments: every declared one, in order" \
	'.environments | map(.name) == ["backend", "frontend", "qa", "prod-eu", "prod-us"]'
jplan "environments: kubernetes values after expansion, null when not given" \
	'.environments[0].kubernetes == {"context": "local", "namespace": "backend", "kubeconfig": "kube/backend.yaml"} and .environments[2].kubernetes == null and .environments[1].env.P_ENV == "frontend-env" and .environments[2].env.RELEASE == "r${{ run.id }}"'
"$LOCKSTEP" plan "$pipeline" --var cluster=kind-local --format json >"$tmp/plan.json" 2>/dev/null
jplan "--var reaches the environments" '.environments[0].kubernetes.context == "kind-local"'

NO_COLOR=1 "$LOCKSTEP" plan "$pipeline" >"$tmp/plan.txt" 2>&1
rc=$?
expect_rc 0 "plan (text)"
# section START: the lines of the text plan from a line matching START to the next blank line.
section() { awk -v a="$1" '$0 ~ a {on = 1} on && /^$/ {exit} on' "$tmp/plan.txt"; }
expect "text: frontend-deploy runs in frontend, with its settings" \
	grep -qx '    environment  frontend (context local, namespace frontend, kubeconfig /etc/kube/frontend.yaml)' \
	<(section '^  workflow frontend-deploy$')
expect "text: qa-check runs in qa" grep -qx '    environment  qa' <(section '^  workflow qa-check$')
expect "text: plain has no environment line" \
	bash -c '! grep -q environment' < <(section '^  workflow plain$')
NO_COLOR=1 "$LOCKSTEP" plan "$pipeline" --format dot >"$tmp/plan.dot" 2>&1
expect "dot: the lane of backend-deploy names its environment" \
	grep -qF 'backend-deploy (group 1, environment backend)' "$tmp/plan.dot"
NO_COLOR=1 "$LOCKSTEP" check "$pipeline" >"$tmp/check.out" 2>&1
expect "check: the pipeline is valid, without warnings" \
	test "$(cat "$tmp/check.out")" = "$pipeline: ok"

# ---- 3. the multi-service example ----
scenario example
copy_example multi-service "$tmp/ms"
ms_ports
run_json "$tmp/ms/pipeline.yml" "${MS_PORTS[@]}"
expect_rc 0
expect "the backend deploy reports its environment" \
	grep -qxF "deploy.sh: backend: environment backend (context local, namespace backend)" \
	"$(log_of backend-deploy step-1)"
expect "the frontend deploy reports its environment" \
	grep -qxF "deploy.sh: frontend: environment frontend (context local, namespace frontend)" \
	"$(log_of frontend-deploy step-2)"

finish
