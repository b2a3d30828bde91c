#!/bin/sh
# cleanup.sh REGION VERSION: delete release VERSION from REGION, unless
# REGION serves it (it was also the release before this deploy): then it
# is kept.
set -eu

prog=cleanup.sh
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

if [ ! -d "$dir/releases/$version" ]; then
	echo "$prog: $region: release $version is not installed; nothing to delete"
	exit 0
fi
if [ -L "$dir/current" ] && [ "$(readlink "$dir/current")" = "releases/$version" ]; then
	echo "$prog: $region: serves $version (it was also the release before); keeping it"
	exit 0
fi
rm -rf "$dir/releases/$version" || die "$region: cannot delete release $version"
echo "$prog: $region: release $version deleted"
