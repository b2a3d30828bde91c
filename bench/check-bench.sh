#!/bin/bash
# Measures `lockstep check` on a generated pipeline of 2,000 parallel
# workflows and 20,000 steps (10 per workflow: 5 barrier rounds, 1 run step
# before each), and on a pipeline where 2,000 workflows cross 10 barriers.
# Prints a markdown table: median, min and max wall time of RUNS runs.
# usage: bench/check-bench.sh [LOCKSTEP] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/lockstep}
runs=${2:-11}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # FILE -> prints "median min max" in ms
	local f=$1 i t0 t1
	local -a ms=()
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		"$bin" check "$f" >/dev/null 2>&1
		t1=$(date +%s%N)
		ms+=($(((t1 - t0) / 1000000)))
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)], a[1], a[NR]}'
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| pipeline | workflows | steps | bytes | median ms | min ms | max ms | peak RSS KiB |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "2000 5 1" "2000 10 0" "200 100 1"; do
	set -- $spec
	f=$tmp/p-$1-$2-$3.yml
	"$here/gen-pipeline.sh" "$1" "$2" "$3" >"$f"
	steps=$(($1 * $2 * ($3 + 1)))
	read -r med min max < <(measure "$f")
	rss=-
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$tmp/rss" -f %M "$bin" check "$f" >/dev/null 2>&1 || true
		rss=$(tail -1 "$tmp/rss")
	fi
	echo "| gen-pipeline.sh $1 $2 $3 | $1 | $steps | $(wc -c <"$f") | $med | $min | $max | $rss |"
done
