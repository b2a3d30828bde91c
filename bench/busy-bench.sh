#!/bin/bash
# Timeouts while other runs write to the same store: how late step and
# barrier timeouts fire when 8 `lockstep run` share one state directory,
# each committing about 3,000 events a second (bench/gen-busy.sh), side
# by side with the same pipeline run alone (the baseline) and with 8 runs
# that have a state directory each (the cost of sharing the machine, not
# the store). Lateness is read from each run's events: a timed-out step's
# `duration_ms` minus its timeout, and `barrier.broken` ts minus
# `early`'s `barrier.arrived` ts minus the barrier's timeout. Prints a
# markdown table; exits 1 when a run did not end as expected.
# usage: bench/busy-bench.sh [LOCKSTEP] [REPS] [STATE_ROOT]
#   REPS rounds (default 5), each: one run alone, 8 at once with a state
#   directory each, 8 at once on one state directory. State directories
#   are made under STATE_ROOT (default: a new directory under build/, on
#   the disk a state directory usually lives on, removed at the end).
#   BUSY_W, BUSY_S, BUSY_WAIT: bench/gen-busy.sh's W, S and WAIT
#   (defaults 30, 50, 20ms).
set -uo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/lockstep}
reps=${2:-5}
root=${3:-}
CONCURRENT=8 TIMEOUT_MS=200 K=5 W=${BUSY_W:-30} S=${BUSY_S:-50} WAIT=${BUSY_WAIT:-20ms}
tmp=$(mktemp -d)
if [ -z "$root" ]; then
	mkdir -p "$here/../build"
	root=$(mktemp -d "$here/../build/busy-bench.XXXXXX")
	trap 'rm -rf "$tmp" "$root"' EXIT
else
	trap 'rm -rf "$tmp"' EXIT
fi
"$here/gen-busy.sh" "$W" "$S" "$WAIT" "$K" "${TIMEOUT_MS}ms" >"$tmp/busy.yml"


# one OUT STATE: a run of the pipeline in state directory STATE; its
# events in OUT.json, "rc start end" in OUT.rc.
one() {
	local t0
	t0=$EPOCHREALTIME
	"$bin" run "$tmp/busy.yml" --state "$2" --json >"$1.json" 2>"$1.err"
	echo "$? $t0 $EPOCHREALTIME" >"$1.rc"
}

# analyse KIND OUT: appends its samples to $tmp/KIND.{step,barrier,events,wall,bad}
analyse() {
	local kind=$1 out=$2 rc t0 t1
	read -r rc t0 t1 <"$out.rc"
	# 1: the probe arrives at the barrier that broke, which fails the run.
	[ "$rc" = 1 ] || echo "$out exited $rc: $(tail -n 1 "$out.err")" >>"$tmp/$kind.bad"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$tmp/$kind.wall"
	jq -rs --argjson t "$TIMEOUT_MS" -f "$here/busy-late.jq" "$out.json" >"$out.late" 2>>"$tmp/$kind.bad" ||
		echo "$out: cannot analyse its events" >>"$tmp/$kind.bad"
	awk '$1 == "step" { print $2 } $1 == "step" && $3 != "timed-out" { print FILENAME ": a probe ended " $3 > "/dev/stderr" }' \
		"$out.late" >>"$tmp/$kind.step" 2>>"$tmp/$kind.bad"
	awk '$1 == "barrier" { print $2 }' "$out.late" >>"$tmp/$kind.barrier"
	awk '$1 == "events" { print $2 }' "$out.late" >>"$tmp/$kind.events"
}

: >"$tmp/alone.bad"
: >"$tmp/apart.bad"
: >"$tmp/shared.bad"
# together KIND R: round R's CONCURRENT runs at once, each on a state
# directory of its own (apart) or all on one (shared).
together() {
	local kind=$1 r=$2 i st
	for ((i = 1; i <= CONCURRENT; i++)); do
		st=$root/$kind-$r
		[ "$kind" = apart ] && st=$root/$kind-$r-$i
		one "$tmp/$kind-$r-$i" "$st" &
	done
	wait
	for ((i = 1; i <= CONCURRENT; i++)); do
		analyse "$kind" "$tmp/$kind-$r-$i"
	done
}
for ((r = 1; r <= reps; r++)); do
	printf 'busy-bench: round %d/%d: one run alone\n' "$r" "$reps" >&2
	one "$tmp/alone-$r" "$root/alone-$r"
	analyse alone "$tmp/alone-$r"
	printf 'busy-bench: round %d/%d: %d runs, each its own state directory\n' "$r" "$reps" "$CONCURRENT" >&2
	together apart "$r"
	printf 'busy-bench: round %d/%d: %d runs sharing one state directory\n' "$r" "$reps" "$CONCURRENT" >&2
	together shared "$r"
done

# pcts FILE: "p50 / p99 / max" by nearest rank
pcts() {
	sort -g "$1" | awk '
		{ a[NR] = $1 }
		function pct(p, i) { i = int((p * NR + 99) / 100); if (i < 1) i = 1; return a[i] }
		END { if (NR == 0) print "-"; else printf "%s / %s / %s", pct(50), pct(99), a[NR] }'
}
median() { sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

echo "| runs at once | runs measured | events per run (median) | step timeouts | step lateness ms p50 / p99 / max | barrier timeouts | barrier lateness ms p50 / p99 / max | wall s per run (median) |"
echo "|---|---:|---:|---:|---|---:|---|---:|"
for kind in alone apart shared; do
	case $kind in
	alone) label="1 (the baseline)" ;;
	apart) label="$CONCURRENT, each its own state directory" ;;
	shared) label="$CONCURRENT, one state directory" ;;
	esac
	echo "| $label | $(wc -l <"$tmp/$kind.wall") | $(median "$tmp/$kind.events") | $(wc -l <"$tmp/$kind.step") |" \
		"$(pcts "$tmp/$kind.step") | $(wc -l <"$tmp/$kind.barrier") | $(pcts "$tmp/$kind.barrier") |" \
		"$(median "$tmp/$kind.wall") |"
done
if [ -s "$tmp/alone.bad" ] || [ -s "$tmp/apart.bad" ] || [ -s "$tmp/shared.bad" ]; then
	echo
	echo "Problems:"
	cat "$tmp/alone.bad" "$tmp/apart.bad" "$tmp/shared.bad" | sort | uniq -c | head -n 10 | sed 's/^ */- /'
	exit 1
fi
