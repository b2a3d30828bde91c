#!/bin/sh
# demo.sh LOCKSTEP [RUN-OPTION...]: a short tour of the multi-service example.
#   1. `lockstep check` accepts pipeline.yml and rejects pipeline-swapped.yml
#      (exit 3), whose barriers are crossed in opposite orders: a deadlock;
#   2. `lockstep run pipeline.yml` deploys backend and frontend for real
#      (local releases under build/demo/deploy-root, each served on
#      127.0.0.1 for the length of the run: ports 18081 and 18082),
#      verifies each service with an http-check and runs the smoke test;
#   3. `lockstep run pipeline-frontend-fails.yml` makes the frontend fail:
#      barrier FE breaks and the backend rolls back to its previous release.
# Each command is printed, after "$ ", exactly as it is run, so that it can
# be pasted; at the end, the commands that read the runs back. The
# RUN-OPTIONs go to every `lockstep run` (other ports:
# --var backend_port=28081 --var frontend_port=28082).
# Exits 0 only when all of this happens as described. Usage, from the
# repository root:
#   sh examples/multi-service/demo.sh build/lockstep
#   DEMO_DIR=/tmp/demo sh examples/multi-service/demo.sh build/lockstep
set -eu

if [ $# -lt 1 ]; then
	echo "usage: demo.sh LOCKSTEP [RUN-OPTION...]" >&2
	exit 2
fi
lockstep=$1
shift
here=$(dirname -- "$0")
work=${DEMO_DIR:-build/demo}
rm -rf "$work"
mkdir -p "$work"
# The deploy scripts install releases here; the run history goes here.
DEPLOY_ROOT=$(cd "$work" && pwd)/deploy-root
export DEPLOY_ROOT
state=$work/state

# quote WORD: WORD as the shell reads it back: as it is when that is safe,
# else in single quotes.
quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./=:,+@%-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# shown ARG...: the command line, quoted to be pasted.
shown() {
	line=
	for arg in "$@"; do
		line="$line${line:+ }$(quote "$arg")"
	done
	printf '%s' "$line"
}

# say NOTE ARG...: prints "$ COMMAND" (and NOTE), the command that follows.
say() {
	note=$1
	shift
	printf '\n$ %s%s\n' "$(shown "$@")" "${note:+   # $note}"
}

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

cat <<'BANNER'
lockstep demo: a backend and a frontend deployed in lockstep
  - backend-deploy and frontend-deploy run in parallel;
  - each starts its service and checks over HTTP that it serves the new version;
  - the frontend waits at barrier BE until the backend is deployed;
  - the backend waits at barrier FE until the frontend is deployed;
  - if the frontend fails, FE breaks and the backend rolls back.
BANNER

say "" "$lockstep" check "$here/pipeline.yml"
"$lockstep" check "$here/pipeline.yml" || fail "check rejected pipeline.yml"

say "a deadlock: must be rejected" "$lockstep" check "$here/pipeline-swapped.yml"
status=0
"$lockstep" check "$here/pipeline-swapped.yml" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "check of pipeline-swapped.yml exited $status, expected 3"
echo "(exit status $status: the file is invalid, as expected)"

# The runs: the deploy root is where deploy.sh installs (DEPLOY_ROOT is
# part of the command shown), the state directory where lockstep records.
run() {
	note=$1
	shift
	printf '\n$ DEPLOY_ROOT=%s %s%s\n' "$(quote "$DEPLOY_ROOT")" \
		"$(shown "$lockstep" run "$@" --state "$state")" "${note:+   # $note}"
	"$lockstep" run "$@" --state "$state"
}

run "" "$here/pipeline.yml" --var version=1.4.2 "$@" || fail "the run of pipeline.yml failed"
[ "$(cat "$DEPLOY_ROOT/backend/current/VERSION")" = 1.4.2 ] || fail "backend is not at 1.4.2"

run "an upgrade" "$here/pipeline.yml" --var version=1.5.0 "$@" || fail "the upgrade to 1.5.0 failed"

status=0
run "the frontend fails" "$here/pipeline-frontend-fails.yml" --var version=1.6.0 "$@" || status=$?
[ "$status" -eq 1 ] || fail "the failing run exited $status, expected 1"
backend=$(cat "$DEPLOY_ROOT/backend/current/VERSION")
[ "$backend" = 1.5.0 ] || fail "the backend was not rolled back: it serves $backend"
echo "(exit status 1; the backend was rolled back and serves $backend again)"

printf '\ndemo: ok. The runs are recorded in %s; to read them back:\n' "$state"
printf '$ %s\n' "$(shown "$lockstep" runs --state "$state")"
printf '$ %s\n' "$(shown "$lockstep" show last --state "$state")"
printf '$ %s\n' "$(shown "$lockstep" logs last frontend-deploy --state "$state")"
