#!/bin/sh
# demo.sh LOCKSTEP: a short tour of the multi-service example.
#   1. `lockstep check` accepts pipeline.yml;
#   2. `lockstep plan` shows its groups, workflows and barriers;
#   3. `lockstep check` rejects pipeline-swapped.yml (exit 3), whose
#      barriers are crossed in opposite orders: a deadlock.
# Exits 0 only when all three behave like this. Runs nothing: no deploy
# happens. Usage, from the repository root:
#   sh examples/multi-service/demo.sh build/lockstep
set -eu

if [ $# -ne 1 ]; then
	echo "usage: demo.sh LOCKSTEP" >&2
	exit 2
fi
lockstep=$1
here=$(dirname -- "$0")

say() {
	printf '\n==> %s\n' "$*"
}

cat <<'BANNER'
lockstep demo: a backend and a frontend deployed in lockstep
  - backend-deploy and frontend-deploy run in parallel;
  - the frontend waits at barrier BE until the backend is deployed;
  - the backend waits at barrier FE until the frontend is deployed;
  - if the frontend fails, FE breaks and the backend rolls back.
BANNER

say "$lockstep check $here/pipeline.yml"
if ! "$lockstep" check "$here/pipeline.yml"; then
	echo "demo: FAILED: check rejected pipeline.yml" >&2
	exit 1
fi

say "$lockstep plan $here/pipeline.yml"
if ! "$lockstep" plan "$here/pipeline.yml"; then
	echo "demo: FAILED: plan failed on pipeline.yml" >&2
	exit 1
fi

say "$lockstep check $here/pipeline-swapped.yml   (a deadlock: must be rejected)"
status=0
"$lockstep" check "$here/pipeline-swapped.yml" 2>&1 || status=$?
if [ "$status" -ne 3 ]; then
	echo "demo: FAILED: check of pipeline-swapped.yml exited $status, expected 3" >&2
	exit 1
fi
echo "(exit status $status: the file is invalid, as expected)"

say "demo: ok"
