#!/bin/sh
# integration-tests.sh [SERVICE...]: check that the services (default:
# backend frontend) are deployed and serve the same version. When lockstep
# runs it, the version must also be the pipeline's var `version`
# (LOCKSTEP_VAR_VERSION).
set -eu

prog=integration-tests.sh
root=${DEPLOY_ROOT:-./deploy-root}
if [ $# -eq 0 ]; then
	set -- backend frontend
fi

want=${LOCKSTEP_VAR_VERSION:-}
failed=0
for service in "$@"; do
	current=$root/$service/current
	if [ ! -f "$current/VERSION" ]; then
		echo "$prog: FAIL: $service: nothing deployed ($current/VERSION is missing)" >&2
		failed=1
		continue
	fi
	got=$(cat "$current/VERSION")
	if ! grep -qF "version $got" "$current/index.html" 2>/dev/null; then
		echo "$prog: FAIL: $service: index.html does not serve version $got" >&2
		failed=1
	fi
	if [ -z "$want" ]; then
		want=$got # the first service sets the version the others must match
	fi
	if [ "$got" != "$want" ]; then
		echo "$prog: FAIL: $service serves $got, expected $want" >&2
		failed=1
	else
		echo "$prog: ok: $service serves $got"
	fi
done
if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "$prog: all services serve $want"
