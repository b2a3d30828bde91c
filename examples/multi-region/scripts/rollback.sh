#!/bin/sh
# rollback.sh REGION: make REGION serve again what it served before the
# last switch-traffic.sh, atomically; remove `current` when it served
# nothing before. Without a record (traffic was never switched, or it was
# already moved back), or, under lockstep, with a record written by another
# run, there is nothing to do: a rollback never undoes an earlier run.
set -eu

prog=rollback.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 1 ]; then
	echo "usage: $prog REGION" >&2
	exit 2
fi
region=$1
case $region in '' | . | .. | */* | .*) die "invalid region '$region'" ;; esac
dir=${DEPLOY_ROOT:-./deploy-root}/$region

echo "$prog: $region: rolling back (reason: ${LOCKSTEP_FAILURE:-not given})"
if [ ! -f "$dir/previous" ]; then
	echo "$prog: $region: traffic was not switched; nothing to move back"
	exit 0
fi
run=$(sed -n 's/^run=//p' "$dir/previous")
prev=$(sed -n 's/^previous=//p' "$dir/previous")
if [ -n "${LOCKSTEP_RUN_ID:-}" ] && [ "$run" != "$LOCKSTEP_RUN_ID" ]; then
	echo "$prog: $region: traffic was last switched by run ${run:-(none)}, not by run $LOCKSTEP_RUN_ID; nothing to move back"
	exit 0
fi
if [ -z "$prev" ]; then
	rm -f "$dir/current" || die "$region: cannot remove $dir/current"
	echo "$prog: $region: serving nothing (there was no earlier release)"
else
	[ -d "$dir/$prev" ] || die "$region: previous release $prev is missing"
	ln -sfn "$prev" "$dir/current.tmp-$$"
	mv -T "$dir/current.tmp-$$" "$dir/current" || die "$region: cannot switch back to $prev"
	echo "$prog: $region: serving $prev again"
fi
rm -f "$dir/previous"
