#!/bin/sh
# check-regions.sh VERSION REGION...: every REGION serves VERSION.
set -eu

prog=check-regions.sh
if [ $# -lt 2 ]; then
	echo "usage: $prog VERSION REGION..." >&2
	exit 2
fi
version=$1
shift
root=${DEPLOY_ROOT:-./deploy-root}
failed=0
for region in "$@"; do
	page=$root/$region/current/index.html
	if [ ! -f "$page" ]; then
		echo "$prog: FAIL: $region serves nothing ($page is missing)" >&2
		failed=1
	elif ! grep -qF "version $version<" "$page"; then
		echo "$prog: FAIL: $region does not serve $version" >&2
		failed=1
	else
		echo "$prog: ok: $region serves $version"
	fi
done
exit "$failed"
