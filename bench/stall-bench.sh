#!/bin/bash
# A reader that does not read: the same runs with a fast reader (`cat >
# /dev/null`, the baseline) and with a stalled one (a FIFO that nobody
# reads until the store says the run has finished, as with `lockstep run |
# (sleep 15; cat)`), side by side. Measures how late a 1 s step timeout
# fires, the recorded duration of a workflow that printed 5 MB, the peak
# RSS of lockstep, and how long until the run was recorded as finished.
# Prints a markdown table.
# usage: bench/stall-bench.sh [LOCKSTEP] [RUNS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/lockstep}
runs=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# plain: `a` prints 5 MB, `b` is timed out after 1 s.
cat >"$tmp/plain.yml" <<'YAML'
name: bench-stall
stages:
  - workflow: a
  - workflow: b
    parallel: true
workflows:
  a:
    steps:
      - id: chatter
        run: yes zzz | head -c 5000000
  b:
    steps:
      - id: hang
        run: sleep 100
        timeout: 1s
YAML
# json: 1,000 workflows x 30 wait steps (about 62,000 events, 8 MB of
# --json lines), and `slow`, timed out after 1 s.
{
	echo "name: bench-stall-json"
	echo "stages:"
	echo "  - workflow: w"
	printf '    matrix: { i: ['
	seq -s, 1 1000 | tr -d '\n'
	echo '] }'
	echo "  - workflow: slow"
	echo "    parallel: true"
	echo "workflows:"
	echo "  w:"
	echo "    steps:"
	for _ in $(seq 30); do echo "      - wait: 0s"; done
	echo "  slow:"
	echo "    steps:"
	echo "      - id: hang"
	echo "        run: sleep 100"
	echo "        timeout: 1s"
} >"$tmp/json.yml"

now_ms() { local ns; ns=$(date +%s%N); echo $((ns / 1000000)); }
status() { local s; s=$("$bin" runs --state "$1" --json 2>/dev/null | jq -r '.[0].status // "none"' 2>/dev/null); echo "${s:-none}"; }

# one KIND READER I: prints "timeout_late_ms a_ms rss_kib recorded_ms dropped"
one() {
	local kind=$1 reader=$2 st=$tmp/state-$1-$2-$3 args=() t0 i
	[ "$kind" = json ] && args=(--json)
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	exec 8<>"$tmp/fifo"
	if [ "$reader" = fast ]; then
		cat "$tmp/fifo" >"$tmp/out" 8<&- &
	fi
	t0=$(now_ms)
	/usr/bin/time -o "$tmp/rss" -f %M "$bin" run "$tmp/$kind.yml" --state "$st" "${args[@]}" \
		>"$tmp/fifo" 2>"$tmp/err" 8<&- &
	local bg=$!
	# Until the run is recorded as finished (at most 60 s).
	for ((i = 0; i < 1200; i++)); do
		case $(status "$st") in none | running) sleep 0.05 ;; *) break ;; esac
	done
	local recorded=$(($(now_ms) - t0))
	if [ "$reader" = stalled ]; then
		exec 9<"$tmp/fifo"
		cat <&9 >"$tmp/out" 8<&- 9<&- &
		exec 9<&-
	fi
	exec 8<&-
	wait "$bg"
	wait
	local show
	show=$("$bin" show 1 --state "$st" --json)
	local late a dropped
	late=$(jq -r '[.workflows[].steps[] | select(.step == "hang")][0].duration_ms - 1000' <<<"$show")
	a=$(jq -r '[.workflows[] | select(.workflow == "a") | .duration_ms][0] // "-"' <<<"$show")
	dropped=$(grep -ao '^\.\.\. [0-9]* lines dropped' "$tmp/out" "$tmp/err" 2>/dev/null |
		awk '{ n += $2 } END { print n + 0 }')
	echo "$late $a $(tail -1 "$tmp/rss") $recorded $dropped"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| output | reader | runs | timeout lateness ms, median (max) | a's duration ms | peak RSS KiB | recorded finished after ms | lines dropped |"
echo "|---|---|---:|---|---:|---:|---:|---:|"
for kind in plain json; do
	for reader in fast stalled; do
		: >"$tmp/rows"
		for ((r = 1; r <= runs; r++)); do
			one "$kind" "$reader" "$r" >>"$tmp/rows"
		done
		late_med=$(awk '{ print $1 }' "$tmp/rows" | median)
		late_max=$(awk '{ print $1 }' "$tmp/rows" | sort -n | tail -1)
		a_med=$(awk '{ print $2 }' "$tmp/rows" | median)
		rss_med=$(awk '{ print $3 }' "$tmp/rows" | median)
		rec_med=$(awk '{ print $4 }' "$tmp/rows" | median)
		drop_med=$(awk '{ print $5 }' "$tmp/rows" | median)
		label=$kind
		[ "$kind" = plain ] && label="plain lines (5 MB of step output)"
		[ "$kind" = json ] && label="--json (62,000 events)" && a_med=-
		echo "| $label | $reader | $runs | $late_med ($late_max) | $a_med | $rss_med | $rec_med | $drop_med |"
	done
done
