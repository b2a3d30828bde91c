#!/bin/sh
# report.sh VERSION: join the parts written by write-part.sh into
# $RESULTS/compatibility-report.md and print it. Exits 1 when an
# environment is incompatible, or was probed but has no part (its workflow
# failed after probing), or when there is no result at all. An environment
# whose workflow failed before its probe started has no file: not listed.
set -eu

prog=report.sh
if [ $# -ne 1 ]; then
	echo "usage: $prog VERSION" >&2
	exit 2
fi
version=$1
results=${RESULTS:-./results/manual}
report=$results/compatibility-report.md

if [ ! -d "$results/probes" ]; then
	echo "$prog: error: no probe results in $results/probes" >&2
	exit 1
fi

total=0
bad=0
{
	printf '# Compatibility of %s\n\n' "$version"
	printf '| OS | Java | Cloud | Result | Note |\n'
	printf '|---|---|---|---|---|\n'
	for probe in "$results"/probes/*; do
		[ -f "$probe" ] || continue
		case $probe in *.tmp) continue ;; esac
		env_id=$(basename -- "$probe")
		total=$((total + 1))
		part=$results/parts/$env_id.row
		if [ -f "$part" ]; then
			cat "$part"
			grep -q '| pass |' "$part" || bad=$((bad + 1))
		else
			printf '| %s | | | unknown | no part written: the workflow failed after probing |\n' "$env_id"
			bad=$((bad + 1))
		fi
	done
	printf '\n%d environments, %d compatible, %d not compatible or unknown.\n' \
		"$total" "$((total - bad))" "$bad"
} >"$report.tmp"
mv -f "$report.tmp" "$report"
cat "$report"

if [ "$total" -eq 0 ]; then
	echo "$prog: error: no probe results in $results/probes" >&2
	exit 1
fi
if [ "$bad" -ne 0 ]; then
	echo "$prog: $bad of $total environments are not compatible with $version" >&2
	exit 1
fi
