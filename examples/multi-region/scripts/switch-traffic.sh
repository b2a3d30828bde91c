#!/bin/sh
# switch-traffic.sh REGION VERSION: make REGION serve release VERSION.
# Records the undo information in REGION/previous for rollback.sh (run=the
# run id, LOCKSTEP_RUN_ID; previous=what REGION served before, empty for
# nothing), then replaces the REGION/current symlink atomically.
set -eu

prog=switch-traffic.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 2 ]; then
	echo "usage: $prog REGION VERSION" >&2
	exit 2
fi
region=$1
version=$2
case $region in '' | . | .. | */* | .*) die "invalid region '$region'" ;; esac
case $version in '' | . | .. | */* | .*) die "invalid version '$version'" ;; esac
dir=${DEPLOY_ROOT:-./deploy-root}/$region
release=releases/$version
[ -d "$dir/$release" ] || die "$region: release $version is not installed"

prev=
if [ -L "$dir/current" ]; then
	prev=$(readlink "$dir/current")
fi
printf 'run=%s\nprevious=%s\n' "${LOCKSTEP_RUN_ID:-}" "$prev" >"$dir/previous.tmp"
mv -f "$dir/previous.tmp" "$dir/previous" || die "$region: cannot record the previous release"
ln -sfn "$release" "$dir/current.tmp-$$"
mv -T "$dir/current.tmp-$$" "$dir/current" || die "$region: cannot switch traffic to $version"
echo "$prog: $region: serving $version (was: ${prev:-nothing})"
