#!/bin/sh
# rollback.sh SERVICE: undo the last deploy of SERVICE made by deploy.sh.
#
# Points SERVICE/current back at the release recorded in SERVICE/previous,
# atomically, or removes `current` when there was no release before. There
# is nothing to undo, and that is success, when there is no record (the
# deploy failed before it changed anything, or it was already rolled back)
# or when, under lockstep, the record was written by another run: a
# rollback never undoes an earlier run's good deploy. lockstep sets
# LOCKSTEP_FAILURE in rollback steps: it is printed as the reason.
set -eu

prog=rollback.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 1 ]; then
	echo "usage: $prog SERVICE" >&2
	exit 2
fi
service=$1
case $service in '' | . | .. | */* | .*) die "invalid service name '$service'" ;; esac
dir=${DEPLOY_ROOT:-./deploy-root}/$service

echo "$prog: $service: rolling back (reason: ${LOCKSTEP_FAILURE:-not given})"
if [ ! -f "$dir/previous" ]; then
	echo "$prog: $service: no deploy to undo"
	exit 0
fi
run=$(sed -n 's/^run=//p' "$dir/previous")
prev=$(sed -n 's/^previous=//p' "$dir/previous")
if [ -n "${LOCKSTEP_RUN_ID:-}" ] && [ "$run" != "$LOCKSTEP_RUN_ID" ]; then
	echo "$prog: $service: the last deploy was made by run ${run:-(none)}, not by run $LOCKSTEP_RUN_ID; nothing to undo"
	exit 0
fi

if [ -z "$prev" ]; then
	# There was no release before this deploy: stop serving anything.
	rm -f "$dir/current" || die "$service: cannot remove $dir/current"
	echo "$prog: $service: current removed (there was no earlier release)"
else
	[ -d "$dir/$prev" ] || die "$service: previous release $prev is missing"
	ln -sfn "$prev" "$dir/current.tmp-$$"
	mv -T "$dir/current.tmp-$$" "$dir/current" || die "$service: cannot switch current to $prev"
	echo "$prog: $service: current -> $prev"
fi
rm -f "$dir/previous"
