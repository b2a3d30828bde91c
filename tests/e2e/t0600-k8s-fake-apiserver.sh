#!/bin/bash
# t0600-k8s-fake-apiserver: the fake Kubernetes API server that the
# Kubernetes step kinds are tested against (tests/k8s/fake-apiserver.py),
# driven by the real kubectl: apply, rollout status, history and undo of
# Deployments, StatefulSets and DaemonSets in two namespaces, a stalled
# rollout (ProgressDeadlineExceeded, ImagePullBackOff), server-side apply,
# diff, dry run, and the request log (tests/k8s/smoke.sh has the checks).
#
# kubectl must be on PATH (`make deps` installs Debian's kubernetes-client
# when it is not): without it this test fails, it does not skip.
# LOCKSTEP_EXTRA_KUBECTLS, a colon-separated list of kubectl binaries, runs
# the same checks with each of them too (e.g. a kubectl 1.20 extracted from
# the Debian package, see docs/testing-kubernetes.md).
#
# Environment: LOCKSTEP_SOURCE_DIR. Needs python3, jq, timeout, diff.
set -u
E2E_NO_LOCKSTEP=1 # the fixture's own test: lockstep is not needed
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=../k8s/lib.sh
. "$SRC/tests/k8s/lib.sh"
# shellcheck source=../k8s/smoke.sh
. "$SRC/tests/k8s/smoke.sh"
at_exit fake_cleanup
# kubectl: the real one, from Debian's kubernetes-client or another package.
need kubectl python3 jq diff

k8s_smoke kubectl
IFS=: read -r -a extra <<<"${LOCKSTEP_EXTRA_KUBECTLS:-}"
for k in "${extra[@]}"; do
	[ -n "$k" ] || continue
	if [ -x "$k" ]; then
		k8s_smoke "$k"
	else
		fail "LOCKSTEP_EXTRA_KUBECTLS names $k, which is not an executable"
	fi
done
finish
