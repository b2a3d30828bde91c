#!/bin/sh
# write-part.sh ENV_ID: write this environment's part of the report to
# $RESULTS/parts/ENV_ID.row, one Markdown table row. Reads the results of
# every environment: for a failure, it looks for the one dimension (OS,
# Java or cloud) whose value all failing environments share and no passing
# one has. That is why it runs only after barrier all-probed.
set -eu

prog=write-part.sh
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

if [ $# -ne 1 ]; then
	echo "usage: $prog ENV_ID" >&2
	exit 2
fi
env_id=$1
case $env_id in '' | . | .. | */* | .*) die "invalid environment id '$env_id'" ;; esac
results=${RESULTS:-./results/manual}
own=$results/probes/$env_id
[ -f "$own" ] || die "$env_id: no probe result ($own)"

field() { # field FILE KEY
	sed -n "s/^$2=//p" "$1"
}
os=$(field "$own" os)
java=$(field "$own" java)
cloud=$(field "$own" cloud)
result=$(field "$own" result)
issue=$(field "$own" issue)

note=compatible
if [ "$result" != pass ]; then
	note="$issue"
	for dim in os java cloud; do
		mine=$(field "$own" "$dim")
		explains=yes
		for f in "$results"/probes/*; do
			[ -f "$f" ] || continue
			case $f in *.tmp) continue ;; esac
			same=no
			[ "$(field "$f" "$dim")" = "$mine" ] && same=yes
			failed=no
			[ "$(field "$f" result)" != pass ] && failed=yes
			if [ "$same" != "$failed" ]; then
				explains=no
				break
			fi
		done
		if [ "$explains" = yes ]; then
			note="$note (every environment with $dim=$mine fails, and only those)"
			break
		fi
	done
fi

mkdir -p "$results/parts" || die "cannot create $results/parts"
printf '| %s | %s | %s | %s | %s |\n' "$os" "$java" "$cloud" "$result" "$note" \
	>"$results/parts/$env_id.row.tmp"
mv -f "$results/parts/$env_id.row.tmp" "$results/parts/$env_id.row"
echo "$prog: $env_id: $result: $note"
