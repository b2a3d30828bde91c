#!/bin/sh
# deploy.sh SERVICE VERSION: install release VERSION of SERVICE on this
# machine and make it the current one in a single atomic step.
#
# Layout, under $DEPLOY_ROOT (default: ./deploy-root):
#   SERVICE/releases/VERSION/   the release: VERSION and index.html
#   SERVICE/current             symlink to releases/VERSION (what is served)
#   SERVICE/previous            the undo record, read by rollback.sh:
#                                 run=RUN ID of the deploy (LOCKSTEP_RUN_ID)
#                                 previous=what `current` pointed to before
#                                 (empty: nothing)
#
# Set FAIL=1 to make the deploy fail before it changes anything: the
# examples use it to show a failure and the rollbacks that follow.
set -eu

prog=deploy.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 2 ]; then
	echo "usage: $prog SERVICE VERSION" >&2
	exit 2
fi
service=$1
version=$2
case $service in '' | . | .. | */* | .*) die "invalid service name '$service'" ;; esac
case $version in '' | . | .. | */* | .*) die "invalid version '$version'" ;; esac

# Under lockstep, the workflow's environment (environments: in the
# pipeline file) says where the service goes. A real deploy would run
# kubectl --context "$LOCKSTEP_KUBE_CONTEXT" -n "$LOCKSTEP_NAMESPACE";
# this one deploys to local files and only reports it.
if [ -n "${LOCKSTEP_ENV:-}" ]; then
	echo "$prog: $service: environment $LOCKSTEP_ENV (context ${LOCKSTEP_KUBE_CONTEXT:-none}, namespace ${LOCKSTEP_NAMESPACE:-none})"
fi

dir=${DEPLOY_ROOT:-./deploy-root}/$service
mkdir -p "$dir/releases" || die "$service: cannot create $dir/releases"

# A new deploy starts: forget the undo record of the last one, so that a
# rollback after a failure below does not undo an older, good deploy.
rm -f "$dir/previous" || die "$service: cannot remove $dir/previous"

if [ "${FAIL:-0}" = 1 ]; then
	die "$service $version: failing as asked (FAIL=1); nothing was changed"
fi

# Build the release under a temporary name and rename it into place, so
# that releases/VERSION is never seen half written.
release=releases/$version
if [ ! -d "$dir/$release" ]; then
	tmp=$dir/releases/.tmp-$version-$$
	rm -rf "$tmp"
	mkdir "$tmp" || die "$service: cannot create $tmp"
	printf '%s\n' "$version" >"$tmp/VERSION"
	cat >"$tmp/index.html" <<HTML
<!doctype html>
<html><head><title>$service $version</title></head>
<body><h1>$service</h1><p>version $version</p></body></html>
HTML
	mv "$tmp" "$dir/$release" || die "$service: cannot install $release"
fi

# Record the undo information first, then switch. A crash in between
# leaves `previous` naming the release that is still current: harmless.
prev=
if [ -L "$dir/current" ]; then
	prev=$(readlink "$dir/current")
fi
printf 'run=%s\nprevious=%s\n' "${LOCKSTEP_RUN_ID:-}" "$prev" >"$dir/previous.tmp"
mv -f "$dir/previous.tmp" "$dir/previous" || die "$service: cannot record the previous release"

# rename(2) over the old symlink: readers see the old release or the new
# one, never a missing `current`.
ln -sfn "$release" "$dir/current.tmp-$$"
mv -T "$dir/current.tmp-$$" "$dir/current" || die "$service: cannot switch current to $release"

echo "$prog: $service: current -> $release (was: ${prev:-nothing})"
