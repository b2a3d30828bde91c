#!/bin/sh
# probe.sh ENV_ID OS JAVA CLOUD VERSION: probe release VERSION in the
# environment OS / JAVA / CLOUD and record the result in
# $RESULTS/probes/ENV_ID (RESULTS defaults to ./results/manual).
#
# First of all it registers the environment ($RESULTS/expected/ENV_ID), so
# that report.sh names an environment whose probe failed before it could
# record anything, instead of leaving it out.
#
# The probe is local: it looks the combination up in known-issues.txt
# (KNOWN_ISSUES overrides the path). The result file is key=value lines;
# `result` is `probing` while the probe runs, then `pass` or `fail`, so a
# probe that dies half way is visible in the report.
set -eu

prog=probe.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 5 ]; then
	echo "usage: $prog ENV_ID OS JAVA CLOUD VERSION" >&2
	exit 2
fi
env_id=$1 os=$2 java=$3 cloud=$4 version=$5
case $env_id in '' | . | .. | */* | .*) die "invalid environment id '$env_id'" ;; esac
results=${RESULTS:-./results/manual}
{ mkdir -p "$results/expected" && : >"$results/expected/$env_id"; } ||
	die "cannot register $env_id in $results/expected"
issues=${KNOWN_ISSUES:-$(dirname -- "$0")/../known-issues.txt}
[ -r "$issues" ] || die "cannot read $issues"

mkdir -p "$results/probes" || die "cannot create $results/probes"
out=$results/probes/$env_id

record() { # record RESULT ISSUE: write the result file atomically
	printf 'env=%s\nos=%s\njava=%s\ncloud=%s\nversion=%s\nresult=%s\nissue=%s\n' \
		"$env_id" "$os" "$java" "$cloud" "$version" "$1" "$2" >"$out.tmp"
	mv -f "$out.tmp" "$out"
}

record probing ""
issue=$(awk -v v="$version" -v o="$os" -v j="$java" -v c="$cloud" '
	/^[ \t]*(#|$)/ { next }
	($1 == v || $1 == "*") && ($2 == o || $2 == "*") &&
	($3 == j || $3 == "*") && ($4 == c || $4 == "*") {
		$1 = $2 = $3 = $4 = ""
		sub(/^ +/, "")
		print
		exit
	}' "$issues") || die "cannot read $issues"

if [ -n "$issue" ]; then
	record fail "$issue"
	echo "$prog: $env_id: $version is NOT compatible: $issue"
else
	record pass ""
	echo "$prog: $env_id: $version is compatible"
fi
