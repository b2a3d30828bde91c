#!/bin/bash
# smoke.sh: the real kubectl against tests/k8s/fake-apiserver.py, doing
# what lockstep's Kubernetes steps will do:
#   1. namespaces backend and frontend (kubectl create, and apply), a
#      Deployment in each, `kubectl rollout status` until rolled out;
#      the request log shows which namespaces and objects were written;
#   2. a new image (revision 2), `rollout history`, `rollout undo
#      --to-revision=1`, the image is back (revision 3); the other
#      namespace was not touched; re-applying unchanged writes nothing;
#   3. a stalled rollout (image `...:bad`): `rollout status` fails with
#      "exceeded its progress deadline", the Deployment has Progressing
#      False ProgressDeadlineExceeded, its new pods ImagePullBackOff; a
#      rollout slower than --timeout fails with a timeout instead;
#   4. a StatefulSet and a DaemonSet: roll out, new revision, undo;
#   5. server-side apply, `kubectl diff` and `apply --dry-run=server`;
#   6. deleting a namespace; the server stops cleanly.
#
# Usage: tests/k8s/smoke.sh [KUBECTL]  (default: $KUBECTL, else kubectl on
# PATH). Sourced (by tests/e2e/t0600-k8s-fake-apiserver.sh) it only
# defines k8s_smoke. Needs python3, jq, timeout, diff. Runs in ~15 s.
# shellcheck shell=bash

# deploy_yaml KIND NAMESPACE NAME IMAGE [REPLICAS [TEMPLATE_ANNOTATIONS]]:
# a workload manifest on stdout.
deploy_yaml() {
	local kind=$1 ns=$2 name=$3 image=$4 replicas=${5:-2} ann=${6:-}
	echo "apiVersion: apps/v1"
	echo "kind: $kind"
	echo "metadata: {name: $name, namespace: $ns, labels: {app: $name}}"
	echo "spec:"
	[ "$kind" = DaemonSet ] || echo "  replicas: $replicas"
	[ "$kind" = StatefulSet ] && echo "  serviceName: $name"
	echo "  selector: {matchLabels: {app: $name}}"
	echo "  template:"
	echo "    metadata:"
	echo "      labels: {app: $name}"
	[ -n "$ann" ] && echo "      annotations: {$ann}"
	echo "    spec:"
	echo "      containers:"
	echo "      - name: $name"
	echo "        image: $image"
	echo "        ports: [{containerPort: 8080}]"
	echo "        env: [{name: MODE, value: smoke}, {name: EXTRA, value: \"1\"}]"
}

# history_revisions KIND/NAME NAMESPACE: the revisions `rollout history`
# lists, on one line.
history_revisions() {
	kc rollout history "$1" -n "$2" 2>&1 | awk '$1 ~ /^[0-9]+$/ { printf "%s%s", sep, $1; sep = " " }'
}

# k8s_smoke KUBECTL: every scenario above against one kubectl binary.
k8s_smoke() {
	KUBECTL=$1
	local W t0 t1 out wrote n
	W=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-k8s.XXXXXX")
	# shellcheck disable=SC2034 # read by run_kc and show_kout (lib.sh)
	KOUT=$W/kubectl.out
	echo "# kubectl: $(command -v "$KUBECTL")"
	kc version --client 2>&1 | sed 's/^/#   /'
	if ! fake_start "$W" --progress-deadline 3 --pod-ready-seconds 0.1 --nodes 2; then
		fail "fake-apiserver starts and writes its URL and kubeconfig"
		rm -rf "$W"
		return
	fi
	pass "fake-apiserver listens at $FAKE_URL"
	expect_kc "kubectl version reaches the server" 0 version
	expect_kout "server version v1.32.0" "Server Version: .*v1\.32\.0"

	echo "# 1. namespaces and first rollouts"
	expect_kc "kubectl create namespace backend" 0 create namespace backend
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: frontend}\n' >"$W/ns.yaml"
	expect_kc "kubectl apply a Namespace (frontend)" 0 apply -f "$W/ns.yaml"
	deploy_yaml Deployment backend api example/api:1.0 3 >"$W/api-1.yaml"
	deploy_yaml Deployment backend api example/api:2.0 3 >"$W/api-2.yaml"
	deploy_yaml Deployment frontend web example/web:1.0 2 >"$W/web-1.yaml"
	deploy_yaml Deployment frontend web example/web:bad 2 >"$W/web-bad.yaml"
	deploy_yaml Deployment frontend web example/web:1.1 2 "fake-apiserver.lockstep.dev/pod-ready-seconds: '30'" >"$W/web-slow.yaml"
	expect_kc "apply backend/api" 0 apply -f "$W/api-1.yaml"
	expect_kout "apply says created" "^deployment.apps/api created"
	expect_kc "apply frontend/web" 0 apply -f "$W/web-1.yaml"
	expect_kc "rollout status backend/api" 0 rollout status deployment/api -n backend --timeout=20s
	expect_kout "rollout status waits, then succeeds" 'deployment "api" successfully rolled out'
	expect_kc "rollout status frontend/web" 0 rollout status deployment/web -n frontend --timeout=20s
	expect_eq "api: 3 ready replicas" "$(kget deployment/api -n backend -o 'jsonpath={.status.readyReplicas}')" 3
	expect_eq "api: revision 1" "$(revision_of deployment/api backend)" 1
	n=$(kget pods -n backend -l app=api -o name | wc -l)
	expect_eq "api: 3 pods (label selector)" "$n" 3
	if jq -e -s 'length > 0 and all(.[]; has("method") and has("path") and has("query") and has("content_type"))' \
		"$FAKE_LOG" >/dev/null 2>&1; then
		pass "request log: one JSON object per request, with method, path, query, content_type"
	else
		fail "request log is not JSON lines with method, path, query, content_type"
	fi
	expect_eq "request log: objects written (namespace/resource/name)" \
		"$(log_jq '[.[] | select(.verb == "create" or .verb == "patch" or .verb == "update") | "\(.namespace)/\(.resource)/\(.name)"] | unique | join(" ")')" \
		"/namespaces/backend /namespaces/frontend backend/deployments/api frontend/deployments/web"
	expect_eq "request log: rollout status watched the deployment" \
		"$(log_jq '[.[] | select(.verb == "watch" and .resource == "deployments") | .namespace] | unique | join(" ")')" \
		"backend frontend"

	echo "# 2. new revision, history, undo"
	wrote=$(wc -l <"$FAKE_LOG")
	expect_kc "re-apply unchanged backend/api" 0 apply -f "$W/api-1.yaml"
	expect_kout "apply says unchanged" "^deployment.apps/api unchanged"
	expect_eq "unchanged apply writes nothing" \
		"$(tail -n +"$((wrote + 1))" "$FAKE_LOG" | jq -s -c '[.[] | select(.method != "GET")] | length')" 0
	expect_kc "apply image example/api:2.0" 0 apply -f "$W/api-2.yaml"
	expect_kout "apply says configured" "^deployment.apps/api configured"
	expect_eq "request log: strategic merge PATCH of backend/api" \
		"$(tail -n +"$((wrote + 1))" "$FAKE_LOG" | jq -s -r '[.[] | select(.method == "PATCH") | "\(.namespace)/\(.name) \(.content_type)"] | join(",")')" \
		"backend/api application/strategic-merge-patch+json"
	expect_eq "generation 2 at once (spec changed)" "$(kget deployment/api -n backend -o 'jsonpath={.metadata.generation}')" 2
	expect_kc "rollout status revision 2" 0 rollout status deployment/api -n backend --timeout=20s
	expect_kout "old replicas drained" "old replicas are pending termination|successfully rolled out"
	expect_eq "api: revision 2" "$(revision_of deployment/api backend)" 2
	expect_eq "rollout history lists 1 2" "$(history_revisions deployment/api backend)" "1 2"
	expect_kc "rollout undo --to-revision=1" 0 rollout undo deployment/api -n backend --to-revision=1
	expect_kout "undo says rolled back" "rolled back"
	expect_kc "rollout status after undo" 0 rollout status deployment/api -n backend --timeout=20s
	expect_eq "image is back to example/api:1.0" "$(image_of deployment/api backend)" example/api:1.0
	expect_eq "revision 1 became revision 3" "$(revision_of deployment/api backend)" 3
	expect_eq "rollout history lists 2 3" "$(history_revisions deployment/api backend)" "2 3"
	expect_eq "2 ReplicaSets, the current one with 3 replicas" \
		"$(kget rs -n backend -l app=api -o json | jq -c '[.items[].spec.replicas] | sort')" "[0,3]"
	expect_eq "frontend/web untouched (generation 1)" "$(kget deployment/web -n frontend -o 'jsonpath={.metadata.generation}')" 1
	expect_kc "undo to a revision that does not exist fails" 1 rollout undo deployment/api -n backend --to-revision=9
	expect_kout "... saying so" "unable to find specified revision 9"

	echo "# 3. stalled rollout"
	expect_kc "apply image example/web:bad" 0 apply -f "$W/web-bad.yaml"
	t0=$(date +%s%N)
	expect_kc "rollout status of a stalled rollout fails" 1 rollout status deployment/web -n frontend --timeout=20s
	t1=$(date +%s%N)
	expect_kout "... with 'exceeded its progress deadline'" 'deployment "web" exceeded its progress deadline'
	if [ $(((t1 - t0) / 1000000)) -lt 15000 ]; then
		pass "... at the progress deadline (3 s), not at --timeout (20 s)"
	else
		fail "rollout status took $(((t1 - t0) / 1000000)) ms"
	fi
	expect_eq "Progressing=False ProgressDeadlineExceeded" \
		"$(kget deployment/web -n frontend -o json | jq -r '.status.conditions[] | select(.type == "Progressing") | "\(.status) \(.reason)"')" \
		"False ProgressDeadlineExceeded"
	expect_eq "old pods stay available (2 of 2)" "$(kget deployment/web -n frontend -o 'jsonpath={.status.availableReplicas}')" 2
	out=$(kget pods -n frontend -l app=web -o json |
		jq -r '[.items[].status.containerStatuses[]?.state.waiting | select(. != null) | "\(.reason): \(.message)"] | unique | join(";")')
	expect_eq "new pod waits: ImagePullBackOff, with the image" "$out" 'ImagePullBackOff: Back-off pulling image "example/web:bad"'
	run_kc get pods -n frontend -l app=web
	expect_kout "kubectl get pods shows ImagePullBackOff" "0/1 +ImagePullBackOff"
	expect_kc "rollout undo (to the previous revision)" 0 rollout undo deployment/web -n frontend
	expect_kc "rollout status after undo" 0 rollout status deployment/web -n frontend --timeout=20s
	expect_eq "image back to example/web:1.0" "$(image_of deployment/web frontend)" example/web:1.0
	expect_eq "Progressing=True NewReplicaSetAvailable again" \
		"$(kget deployment/web -n frontend -o json | jq -r '.status.conditions[] | select(.type == "Progressing") | "\(.status) \(.reason)"')" \
		"True NewReplicaSetAvailable"
	expect_kc "apply a slow rollout (pods ready after 30 s)" 0 apply -f "$W/web-slow.yaml"
	expect_kc "rollout status --timeout=1s times out" 1 rollout status deployment/web -n frontend --timeout=1s
	expect_kout "... with 'timed out waiting for the condition'" "timed out waiting for the condition"
	expect_kc "undo the slow rollout" 0 rollout undo deployment/web -n frontend

	echo "# 4. StatefulSet and DaemonSet"
	deploy_yaml StatefulSet backend db example/db:1.0 2 >"$W/db-1.yaml"
	deploy_yaml StatefulSet backend db example/db:2.0 2 >"$W/db-2.yaml"
	deploy_yaml DaemonSet frontend agent example/agent:1.0 >"$W/agent-1.yaml"
	deploy_yaml DaemonSet frontend agent example/agent:2.0 >"$W/agent-2.yaml"
	expect_kc "apply statefulset backend/db" 0 apply -f "$W/db-1.yaml"
	expect_kc "rollout status statefulset" 0 rollout status statefulset/db -n backend --timeout=20s
	expect_kc "apply statefulset image example/db:2.0" 0 apply -f "$W/db-2.yaml"
	expect_kc "rollout status statefulset revision 2" 0 rollout status statefulset/db -n backend --timeout=20s
	expect_eq "statefulset: currentRevision == updateRevision" \
		"$(kget statefulset/db -n backend -o json | jq -r '.status.currentRevision == .status.updateRevision and .status.updatedReplicas == 2')" true
	expect_eq "statefulset history lists 1 2" "$(history_revisions statefulset/db backend)" "1 2"
	expect_kc "statefulset rollout undo --to-revision=1" 0 rollout undo statefulset/db -n backend --to-revision=1
	expect_kc "rollout status statefulset after undo" 0 rollout status statefulset/db -n backend --timeout=20s
	expect_eq "statefulset image back to example/db:1.0" "$(image_of statefulset/db backend)" example/db:1.0
	expect_kc "apply daemonset frontend/agent" 0 apply -f "$W/agent-1.yaml"
	expect_kc "rollout status daemonset" 0 rollout status daemonset/agent -n frontend --timeout=20s
	expect_eq "daemonset: a pod on each of 2 nodes" "$(kget daemonset/agent -n frontend -o 'jsonpath={.status.numberReady}')" 2
	expect_kc "apply daemonset image example/agent:2.0" 0 apply -f "$W/agent-2.yaml"
	expect_kc "rollout status daemonset revision 2" 0 rollout status daemonset/agent -n frontend --timeout=20s
	expect_kc "daemonset rollout undo --to-revision=1" 0 rollout undo daemonset/agent -n frontend --to-revision=1
	expect_kc "rollout status daemonset after undo" 0 rollout status daemonset/agent -n frontend --timeout=20s
	expect_eq "daemonset image back to example/agent:1.0" "$(image_of daemonset/agent frontend)" example/agent:1.0

	echo "# 5. server-side apply, diff, dry-run"
	expect_kc "kubectl diff of an unchanged manifest: exit 0" 0 diff -f "$W/api-1.yaml"
	expect_kc "kubectl diff of a changed manifest: exit 1" 1 diff -f "$W/api-2.yaml"
	expect_kout "... showing the image change" '^\+ +image: example/api:2.0'
	expect_kc "apply --dry-run=server" 0 apply --dry-run=server -f "$W/api-2.yaml"
	expect_eq "dry run changed nothing" "$(image_of deployment/api backend) $(kget deployment/api -n backend -o 'jsonpath={.metadata.generation}')" \
		"example/api:1.0 3"
	deploy_yaml Deployment backend ssa example/ssa:1.0 2 >"$W/ssa-1.yaml"
	deploy_yaml Deployment backend ssa example/ssa:2.0 2 >"$W/ssa-2.yaml"
	sed -i 's/env: \[{name: MODE, value: smoke}, {name: EXTRA, value: "1"}\]/env: [{name: MODE, value: smoke}]/' "$W/ssa-2.yaml"
	expect_kc "apply --server-side (create)" 0 apply --server-side -f "$W/ssa-1.yaml"
	expect_kout "... serverside-applied" "serverside-applied"
	expect_kc "apply --server-side (new image, one env var fewer)" 0 apply --server-side -f "$W/ssa-2.yaml"
	expect_kc "rollout status after server-side apply" 0 rollout status deployment/ssa -n backend --timeout=20s
	expect_eq "server-side apply: image and env as applied" \
		"$(kget deployment/ssa -n backend -o json | jq -c '[.spec.template.spec.containers[0] | .image, [.env[].name]]')" \
		'["example/ssa:2.0",["MODE"]]'
	expect_eq "request log: apply patches" \
		"$(log_jq '[.[] | select(.content_type == "application/apply-patch+yaml") | .params.fieldManager] | unique | join(",")')" "kubectl"

	echo "# 6. delete, stop"
	expect_kc "delete namespace frontend" 0 delete namespace frontend --timeout=20s
	expect_eq "frontend's objects are gone" "$(kget deployments,pods -n frontend -o name | wc -l)" 0
	expect_eq "backend's are not" "$(kget deployments -n backend -o name | sort | tr '\n' ' ')" \
		"deployment.apps/api deployment.apps/ssa "
	if [ -s "$W/server.err" ]; then
		fail "fake-apiserver wrote to stderr"
		head -n 20 "$W/server.err" | sed 's/^/     ! /'
	else
		pass "fake-apiserver wrote nothing to stderr"
	fi
	if fake_stop; then
		pass "fake-apiserver exits on SIGTERM"
	else
		fail "fake-apiserver did not exit within 5 s of SIGTERM"
	fi
	rm -rf "$W"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	E2E_NO_LOCKSTEP=1
	# shellcheck source=../e2e/lib/common.sh
	. "$(cd "$(dirname "$0")" && pwd)/../e2e/lib/common.sh"
	# shellcheck source=lib.sh
	. "$SRC/tests/k8s/lib.sh"
	at_exit fake_cleanup
	KUBECTL=${1:-${KUBECTL:-kubectl}}
	if ! command -v "$KUBECTL" >/dev/null 2>&1; then
		echo "smoke.sh: no kubectl ($KUBECTL): install it (make deps) or pass its path" >&2
		exit 1
	fi
	k8s_smoke "$KUBECTL"
	finish
fi
