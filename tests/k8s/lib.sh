# Helpers for tests that run the real kubectl against the fake Kubernetes
# API server (tests/k8s/fake-apiserver.py): start and stop the server,
# bounded kubectl calls, checks on their output and on the request log.
# Sourced after tests/e2e/lib/common.sh (pass, fail, expect_eq); needs
# python3, jq and timeout.
# shellcheck shell=bash

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAKE_APISERVER=$K8S_DIR/fake-apiserver.py
# The longest one kubectl call may take before it is killed and counted as
# a failure (rollout status calls pass a shorter --timeout themselves).
KUBECTL_BOUND=${KUBECTL_BOUND:-30}
FAKE_PIDS=()

# fake_start DIR [SERVER FLAGS...]: starts the server with its files in DIR
# (url, kubeconfig, requests.jsonl, server.out, server.err) and waits, at
# most 10 s, for it to write its URL. Sets FAKE_PID, FAKE_URL, FAKE_LOG;
# exports KUBECONFIG and HOME=DIR/home, so that kubectl's discovery and
# OpenAPI caches stay in DIR. Returns 1, saying why, when it did not start.
fake_start() {
	local dir=$1 _
	shift
	mkdir -p "$dir/home"
	rm -f "$dir/url"
	# --max-lifetime: a server that a killed test leaves behind ends by itself.
	python3 "$FAKE_APISERVER" --url-file "$dir/url" --kubeconfig "$dir/kubeconfig" \
		--log "$dir/requests.jsonl" --max-lifetime 600 "$@" \
		>"$dir/server.out" 2>"$dir/server.err" </dev/null &
	FAKE_PID=$!
	FAKE_PIDS+=("$FAKE_PID")
	for _ in $(seq 200); do
		[ -s "$dir/url" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/url" ]; then
		echo "  fake-apiserver did not start within 10 s:"
		sed 's/^/     ! /' "$dir/server.err"
		return 1
	fi
	# shellcheck disable=SC2034 # for the scripts
	FAKE_URL=$(cat "$dir/url")
	FAKE_LOG=$dir/requests.jsonl
	export KUBECONFIG=$dir/kubeconfig HOME=$dir/home
}

# fake_stop: stops the server started last (SIGTERM, then SIGKILL after
# 5 s); true when it exited by itself on SIGTERM.
fake_stop() {
	local _
	kill -TERM "$FAKE_PID" 2>/dev/null || return 1
	for _ in $(seq 100); do
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$FAKE_PID" 2>/dev/null; then
		kill -KILL "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
		return 1
	fi
	wait "$FAKE_PID" 2>/dev/null
	return 0
}

# fake_cleanup: for an EXIT trap; kills the servers still running (each
# started by this shell and not yet reaped, so its pid is still ours).
fake_cleanup() {
	local p
	for p in "${FAKE_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# kc ARGS...: the real kubectl ($KUBECTL), bounded by KUBECTL_BOUND s.
kc() {
	timeout -k 2 "$KUBECTL_BOUND" "$KUBECTL" "$@"
}

# run_kc ARGS...: kc with stdout and stderr together in $KOUT (a file) and
# the exit status in $krc.
run_kc() {
	kc "$@" >"$KOUT" 2>&1 </dev/null
	krc=$?
}

# show_kout: the output of the last run_kc, indented, at most 40 lines.
show_kout() {
	head -n 40 "$KOUT" | sed 's/^/     | /'
}

# expect_kc DESCRIPTION WANT_RC ARGS...: runs kubectl ARGS; passes when it
# exits with WANT_RC.
expect_kc() {
	local d=$1 want=$2
	shift 2
	run_kc "$@"
	if [ "$krc" -eq "$want" ]; then
		pass "$d"
	else
		fail "$d: kubectl $* exited $krc, want $want"
		show_kout
	fi
}

# expect_kout DESCRIPTION EXTENDED_REGEX: the output of the last run_kc
# matches.
expect_kout() {
	if grep -Eq -- "$2" "$KOUT"; then
		pass "$1"
	else
		fail "$1: no line matches /$2/ in the output of kubectl"
		show_kout
	fi
}

# kget ARGS...: kubectl get ARGS, stdout only ('' on failure).
kget() {
	kc get "$@" 2>/dev/null </dev/null
}

# image_of KIND/NAME NAMESPACE: the image of the first container.
image_of() {
	kget "$1" -n "$2" -o 'jsonpath={.spec.template.spec.containers[0].image}'
}

# revision_of deployment/NAME NAMESPACE: its deployment.kubernetes.io/revision.
revision_of() {
	kget "$1" -n "$2" -o 'jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}'
}

# log_jq JQ_FILTER: runs the filter over the request log as one array
# (strings come out raw).
log_jq() {
	jq -s -r "$1" "$FAKE_LOG"
}
