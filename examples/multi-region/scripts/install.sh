#!/bin/sh
# install.sh REGION VERSION: install release VERSION in REGION without
# serving it yet (switch-traffic.sh does that). Creates $DEPLOY_ROOT/REGION/releases/VERSION/ (VERSION,
# index.html); DEPLOY_ROOT defaults to ./deploy-root. Fails on purpose,
# before changing anything, when FAIL_REGION names REGION.
set -eu

prog=install.sh
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

mkdir -p "$dir/releases" || die "$region: cannot create $dir/releases"
# A new deploy starts: forget the undo record of the last one, so that a
# rollback of this deploy never undoes an older, good one.
rm -f "$dir/previous" || die "$region: cannot remove $dir/previous"

if [ "${FAIL_REGION:-}" = "$region" ]; then
	die "$region: failing as asked (FAIL_REGION=$region); nothing was changed"
fi

if [ -d "$dir/releases/$version" ]; then
	echo "$prog: $region: release $version already installed"
	exit 0
fi
# Build under a temporary name, then rename: never a half-written release.
tmp=$dir/releases/.tmp-$version-$$
rm -rf "$tmp"
mkdir "$tmp" || die "$region: cannot create $tmp"
printf '%s\n' "$version" >"$tmp/VERSION"
printf '<!doctype html>\n<title>%s</title>\n<p>region %s, version %s</p>\n' \
	"$region $version" "$region" "$version" >"$tmp/index.html"
mv "$tmp" "$dir/releases/$version" || die "$region: cannot install release $version"
echo "$prog: $region: release $version installed"
