#!/bin/sh
# report.sh VERSION: join the parts written by write-part.sh into
# $RESULTS/compatibility-report.md and print it. The environments are the
# ones probe.sh registered ($RESULTS/expected) or probed. Exits 1 when an
# environment is incompatible, has no result (its probe failed: see its
# log), has a result but no part (its workflow failed after probing), or
# when there is no environment at all.
set -eu

prog=report.sh
if [ $# -ne 1 ]; then
	echo "usage: $prog VERSION" >&2
	exit 2
fi
version=$1
results=${RESULTS:-./results/manual}
report=$results/compatibility-report.md

# Every environment registered or probed, once each.
envs=$(for f in "$results"/expected/* "$results"/probes/*; do
	[ -f "$f" ] || continue
	case $f in *.tmp) continue ;; esac
	basename -- "$f"
done | sort -u)
if [ -z "$envs" ]; then
	echo "$prog: error: no probe results in $results/probes" >&2
	exit 1
fi

total=0
bad=0
{
	printf '# Compatibility of %s\n\n' "$version"
	printf '| OS | Java | Cloud | Result | Note |\n'
	printf '|---|---|---|---|---|\n'
	for env_id in $envs; do
		total=$((total + 1))
		probe=$results/probes/$env_id
		part=$results/parts/$env_id.row
		if [ ! -f "$probe" ] || grep -qx 'result=probing' "$probe"; then
			printf '| %s | | | unknown | no result: its probe failed (see its log) |\n' "$env_id"
			bad=$((bad + 1))
		elif [ -f "$part" ]; then
			cat "$part"
			grep -qF '| pass |' "$part" || bad=$((bad + 1))
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

if [ "$bad" -ne 0 ]; then
	echo "$prog: $bad of $total environments are not compatible with $version" >&2
	exit 1
fi
