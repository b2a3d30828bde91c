#!/bin/bash
# The benchmark suite: measures `lockstep run` against the
# hand-written floor (bench/baseline.sh) and prints ONE markdown document on
# standard output (progress goes to standard error). `make bench` runs it
# and writes build/bench-results.md.
#
# usage: bench/run-bench.sh [LOCKSTEP]          (default: build/lockstep)
#
# Environment (defaults keep the suite under 5 minutes on 2 cores):
#   BENCH_FULL=1     also N = 5,000 in figure 1 (about 40 s per lockstep run)
#   RUNS_SMALL=5     runs per point at N <= 100
#   RUNS_LARGE=3     runs per point at N = 1,000
#   RUNS_HUGE=1      runs per point at N = 5,000 (BENCH_FULL only)
#   TIMEOUT_REPS=10  repetitions of the timeout pipeline (figure 4)
#   CHECK_RUNS=5     runs per pipeline of bench/check-bench.sh (figure 6)
#   STALL_RUNS=3     runs per row of bench/stall-bench.sh (figure 9)
#   BUSY_REPS=5      rounds of bench/busy-bench.sh (figure 10)
#   SV_REPS=3        rounds of figure 11 (each: with and without supervisor)
#   LOAD_REPS=5      rounds of figure 12 (each: with and without supervisor)
#   BENCH_QUICK=1    a smoke run of the script itself: N <= 100 only,
#                    N = 1,000 instead of 10,000 in figure 5, and no plan
#                    at the expansion limit in figure 8 (numbers are not
#                    comparable to the targets)
#
# Needs bash, jq, awk, a C compiler (cc, for bench/svmeter.c) and GNU time
# (/usr/bin/time, Debian package `time`, used by bench/check-bench.sh).
# lockstep runs with its supervisor (the default); LOCKSTEP_SUPERVISOR=0
# is set only where a figure compares with lockstep running the steps itself.
# Performance goals live here, never in timed tests (STYLE.md).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
src_bin=${1:-$repo/build/lockstep}

RUNS_SMALL=${RUNS_SMALL:-5}
RUNS_LARGE=${RUNS_LARGE:-3}
RUNS_HUGE=${RUNS_HUGE:-1}
TIMEOUT_REPS=${TIMEOUT_REPS:-10}
CHECK_RUNS=${CHECK_RUNS:-5}
STALL_RUNS=${STALL_RUNS:-3}
BUSY_REPS=${BUSY_REPS:-5}
SV_REPS=${SV_REPS:-3}
LOAD_REPS=${LOAD_REPS:-5}
unset LOCKSTEP_SUPERVISOR
BENCH_FULL=${BENCH_FULL:-0}
BENCH_QUICK=${BENCH_QUICK:-0}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------
missing=()
[ -x /usr/bin/time ] || missing+=("time (GNU time, for /usr/bin/time -f %M)")
command -v jq >/dev/null 2>&1 || missing+=("jq")
command -v awk >/dev/null 2>&1 || missing+=("gawk or mawk (awk)")
command -v timeout >/dev/null 2>&1 || missing+=("coreutils (timeout)")
command -v cc >/dev/null 2>&1 || missing+=("a C compiler as cc (gcc)")
if [ ${#missing[@]} -gt 0 ]; then
	printf 'bench: error: missing prerequisites:\n' >&2
	printf 'bench:   - %s\n' "${missing[@]}" >&2
	printf 'bench: install them with: sudo apt-get install time jq gawk coreutils gcc\n' >&2
	exit 1
fi
[ -x "$src_bin" ] || die "no lockstep binary at $src_bin (run: make build)"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is needed (EPOCHREALTIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-bench.XXXXXX")
disk_state=$repo/build/bench-state/$$
shm_state=/dev/shm/lockstep-bench.$$
cleanup() { rm -rf "$tmp" "$disk_state" "$shm_state"; rmdir "$repo/build/bench-state" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$disk_state" "$shm_state" || die "cannot create $disk_state or $shm_state"

# Measure a private copy: other people rebuild build/lockstep while this runs.
bin=$tmp/lockstep
cp "$src_bin" "$bin" || die "cannot copy $src_bin"
svmeter=$tmp/svmeter
cc -O2 -o "$svmeter" "$here/svmeter.c" || die "cannot compile bench/svmeter.c"
: >"$tmp/leftovers"

# 10,000 parallel workflows need tens of thousands of descriptors: raise the
# soft limit as far as the hard limit allows.
fd_soft_before=$(ulimit -Sn)
fd_hard=$(ulimit -Hn)
ulimit -Sn "$fd_hard" 2>/dev/null || true
fd_soft=$(ulimit -Sn)

started=$EPOCHREALTIME
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- helpers -------------------------------------------------------------------

# measure OUT CMD...: runs CMD once under bench/svmeter.c, stdout to
# OUT.out, stderr to OUT.err, svmeter's whole line to OUT.sv. Prints
# "rc wall_s cpu_s rss_kib": wall clock from start to CMD's exit, user+sys
# CPU of every process of the run (CMD, the supervisor it started, which
# CMD does not always wait for, and the steps: svmeter is their
# subreaper), and CMD's peak RSS (ru_maxrss, as GNU time's %M). With
# `--state DIR` among the arguments, svmeter also samples the supervisor
# of the run (its pid from DIR/supervise/RUN/pid), and a supervisor that
# outlives CMD by more than 10 s, or a supervise/ directory left behind,
# is written to $tmp/leftovers.
measure() {
	local out=$1 st="" prev="" a
	shift
	for a in "$@"; do
		[ "$prev" = --state ] && st=$a
		prev=$a
	done
	"$svmeter" ${st:+-s "$st"} -o "$out.out" -e "$out.err" -- "$@" >"$out.sv" 2>>"$out.err"
	awk '{ printf "%d %.6f %.3f %s\n", $1, $2, $3, $6 }' "$out.sv"
	if [ -n "$st" ]; then
		awk -v o="$out" '$11 == -2 { print o ": the supervisor (pid " $10 ") was still running 10 s after lockstep exited; killed" }' \
			"$out.sv" >>"$tmp/leftovers"
		for a in "$st"/supervise/*; do
			[ -e "$a" ] && echo "$out: $a was left behind" >>"$tmp/leftovers"
		done
	fi
}

# sv OUT FIELD: one field of OUT.sv (svmeter's line: 1 rc, 2 wall s, 3 CPU
# s of every process, 4 lockstep's own CPU s, 5 the supervisor's own CPU s,
# 6 lockstep's ru_maxrss KiB, 7 its peak Rss, 8 its peak Pss, 9 the
# supervisor's peak Pss KiB, 10 its pid, 11 ms it ran on after lockstep)
sv() { awk -v f="$2" '{ print $f }' "$1.sv"; }

# stats FILE: numbers one per line -> "n median min max p50 p99"
# (median = lower middle for even n; percentiles by nearest rank).
stats() {
	sort -g "$1" | awk '
		{ a[NR] = $1 }
		function pct(p, i) { i = int((p * NR + 99) / 100); if (i < 1) i = 1; return a[i] }
		END {
			if (NR == 0) { print "0 - - - - -"; exit }
			print NR, a[int((NR + 1) / 2)], a[1], a[NR], pct(50), pct(99)
		}'
}

# col FILE FIELD: one field of every line
col() { awk -v f="$2" '{ print $f }' "$1"; }

# fmt_mmm FILE SCALE DIGITS: "median (min–max)" of FILE's numbers times SCALE
fmt_mmm() {
	local n med min max p50 p99
	read -r n med min max p50 p99 < <(stats "$1")
	if [ "$n" = 0 ]; then echo "-"; return; fi
	awk -v s="$2" -v d="$3" -v a="$med" -v b="$min" -v c="$max" \
		'BEGIN { printf "%.*f (%.*f–%.*f)", d, a * s, d, b * s, d, c * s }'
}

median_of() { local n med rest; read -r n med rest < <(stats "$1"); echo "$med"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

ms_ts='def ms: (.ts[0:19] + "Z" | fromdateiso8601) * 1000 + (.ts[20:23] | tonumber);'

# Barrier release (figure 2): one line per passed barrier that has a next
# step: "pass_ms pass_seq next_ms next_seq", from the last barrier.arrived
# to barrier.passed and to the moment the last participant started its next
# step (the latest of the participants' first step.started after the pass).
jq_release="$ms_ts"'
map(. + {ms: ms}) as $ev
| ($ev | map(select(.event == "step.started" and (.rollback | not)))
       | group_by(.workflow) | map({key: .[0].workflow, value: map([.seq, .ms])})
       | from_entries) as $starts
| ($ev | map(select(.event == "barrier.arrived")) | group_by(.barrier)
       | map({key: .[0].barrier, value: max_by(.seq)}) | from_entries) as $last
| $ev[] | select(.event == "barrier.passed") | . as $p | $last[$p.barrier] as $a
| [$p.participants[] | ($starts[.] // [] | map(select(.[0] > $p.seq)) | first)] as $next
| [$p.ms - $a.ms, $p.seq - $a.seq,
   (if ($next | all(. != null)) then ($next | map(.[1]) | max) - $a.ms else "-" end),
   (if ($next | all(. != null)) then ($next | map(.[0]) | max) - $a.seq else "-" end)]
| @tsv'

# Failure propagation (figure 3): first line "last_ms last_seq waiting
# rollbacks", then one line per waiting participant: ms from the failing
# step.finished to its workflow.rollback.
jq_failure="$ms_ts"'
map(. + {ms: ms}) as $ev
| ($ev | map(select(.event == "step.finished" and .step == "fail")) | first) as $f
| ($ev | map(select(.event == "workflow.rollback" and .workflow != $f.workflow))) as $rb
| ($ev | map(select(.event == "barrier.arrived" and .seq < $f.seq)) | length) as $waiting
| ([($rb | map(.ms) | max) - $f.ms, ($rb | map(.seq) | max) - $f.seq, $waiting, ($rb | length)] | @tsv),
  ($rb[] | .ms - $f.ms)'

# Timeouts (figure 4): "barrier_late_ms step_late_duration_ms step_late_ts_ms"
jq_timeout="$ms_ts"'
map(. + {ms: ms}) as $ev
| ($ev | map(select(.event == "barrier.arrived")) | min_by(.seq)) as $a
| ($ev | map(select(.event == "barrier.broken")) | first) as $b
| ($ev | map(select(.event == "step.started" and .step == "slow")) | first) as $s
| ($ev | map(select(.event == "step.finished" and .step == "slow")) | first) as $f
| [$b.ms - $a.ms - $btimeout, $f.duration_ms - $stimeout, $f.ms - $s.ms - $stimeout, $f.status] | @tsv'

# newstate ROOT: sets $st to a new, empty state directory under ROOT. Nothing
# is deleted before the suite ends: on ext4 without a journal, creating
# files within ~30 s of deleting many others scans the inode table
# (find_inode_bit/recently_deleted), which made lockstep's own CPU 2x
# slower when each run's logs were removed before the next run.
nstate=0
newstate() { nstate=$((nstate + 1)); st=$1/run-$nstate; mkdir -p "$st"; }

# --- figure 1 (and 7): lockstep on disk, lockstep on tmpfs, baseline ----------
Ns=(10 100 1000)
[ "$BENCH_FULL" = 1 ] && Ns+=(5000)
FN=1000 BIG=10000 MID=1000
if [ "$BENCH_QUICK" = 1 ]; then Ns=(10 100) FN=100 BIG=1000 MID=100; fi
runs_for() {
	if [ "$1" -le 100 ]; then echo "$RUNS_SMALL"
	elif [ "$1" -le 1000 ]; then echo "$RUNS_LARGE"
	else echo "$RUNS_HUGE"; fi
}

failures=()
for N in "${Ns[@]}"; do
	R=$(runs_for "$N")
	p=$tmp/pipeline-$N.yml
	"$here/gen-pipeline.sh" "$N" 5 1 >"$p"
	: >"$tmp/f1-$N-disk" ; : >"$tmp/f1-$N-shm" ; : >"$tmp/f1-$N-base"
	for ((i = 1; i <= R; i++)); do
		say "figure 1/7: N=$N run $i/$R (lockstep, store on disk)"
		newstate "$disk_state"
		res=$(measure "$tmp/f1-$N-disk-$i" "$bin" run "$p" --state "$st" --json)
		echo "$res" >>"$tmp/f1-$N-disk"
		[ "${res%% *}" = 0 ] || failures+=("N=$N disk run $i exited ${res%% *}: $(tail -n 1 "$tmp/f1-$N-disk-$i.err")")

		say "figure 1/7: N=$N run $i/$R (lockstep, store on tmpfs)"
		newstate "$shm_state"
		res=$(measure "$tmp/f1-$N-shm-$i" "$bin" run "$p" --state "$st" --json)
		echo "$res" >>"$tmp/f1-$N-shm"
		[ "${res%% *}" = 0 ] || failures+=("N=$N tmpfs run $i exited ${res%% *}: $(tail -n 1 "$tmp/f1-$N-shm-$i.err")")
		rm -f "$tmp/f1-$N-shm-$i.out"

		say "figure 1/7: N=$N run $i/$R (baseline)"
		res=$(measure "$tmp/f1-$N-base-$i" "$here/baseline.sh" "$N" 5 1)
		echo "$res" >>"$tmp/f1-$N-base"
	done
done

# --- figure 2: barrier release latency, from figure 1's disk runs -----------------
relN=()
for N in "${Ns[@]}"; do [ "$N" -le 1000 ] && relN+=("$N"); done
for N in "${relN[@]}"; do
	: >"$tmp/f2-$N"
	for f in "$tmp"/f1-"$N"-disk-*.out; do
		jq -rs "$jq_release" "$f" >>"$tmp/f2-$N" || failures+=("figure 2: cannot analyse $f")
	done
done

# --- figure 3: failure propagation at N = 1,000 ----------------------------------
"$here/gen-failure.sh" "$FN" >"$tmp/failure.yml"
: >"$tmp/f3-last"; : >"$tmp/f3-each"; : >"$tmp/f3-wall"
for ((i = 1; i <= RUNS_LARGE; i++)); do
	say "figure 3: failure propagation N=$FN run $i/$RUNS_LARGE"
	newstate "$disk_state"
	res=$(measure "$tmp/f3-$i" "$bin" run "$tmp/failure.yml" --state "$st" --json)
	[ "${res%% *}" = 1 ] || failures+=("figure 3 run $i exited ${res%% *} (expected 1)")
	echo "$res" >>"$tmp/f3-wall"
	jq -rs "$jq_failure" "$tmp/f3-$i.out" >"$tmp/f3-$i.tsv" || failures+=("figure 3: cannot analyse run $i")
	head -n 1 "$tmp/f3-$i.tsv" >>"$tmp/f3-last"
	tail -n +2 "$tmp/f3-$i.tsv" >>"$tmp/f3-each"
done

# --- figure 4: timeout accuracy -------------------------------------------------------
BT=200 ST=500
"$here/gen-timeout.sh" "${BT}ms" "${ST}ms" >"$tmp/timeout.yml"
: >"$tmp/f4"; : >"$tmp/f4-base"
for ((i = 1; i <= TIMEOUT_REPS; i++)); do
	say "figure 4: timeouts run $i/$TIMEOUT_REPS"
	newstate "$disk_state"
	"$bin" run "$tmp/timeout.yml" --state "$st" --json --kill-grace 1s \
		>"$tmp/f4-$i.out" 2>"$tmp/f4-$i.err"
	jq -rs --argjson btimeout "$BT" --argjson stimeout "$ST" "$jq_timeout" "$tmp/f4-$i.out" >>"$tmp/f4" ||
		failures+=("figure 4: cannot analyse run $i")
	# The floor for a step timeout: coreutils timeout(1) on the same command.
	t0=$EPOCHREALTIME
	timeout 0.5 sleep 5
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v s="$ST" 'BEGIN { printf "%.3f\n", (b - a) * 1000 - s }' >>"$tmp/f4-base"
done

# --- figure 5: peak memory, lockstep + its supervisor -------------------------------------
# The last field: 1 with the supervisor (the default), 0 with
# LOCKSTEP_SUPERVISOR=0 (lockstep runs the steps itself).
: >"$tmp/f5"
for spec in "$MID 5 0 1" "$BIG 5 0 1" "$BIG 5 1 1" "$BIG 5 1 0"; do
	set -- $spec
	say "figure 5: peak memory, gen-pipeline.sh $1 $2 $3, supervisor $4"
	"$here/gen-pipeline.sh" "$1" "$2" "$3" >"$tmp/rss.yml"
	newstate "$disk_state"
	res=$(LOCKSTEP_SUPERVISOR=$4 measure "$tmp/f5-$1-$3-$4" "$bin" run "$tmp/rss.yml" --state "$st" --json)
	echo "$spec $(cat "$tmp/f5-$1-$3-$4.sv")" >>"$tmp/f5"
done

# --- figure 11: the supervisor's cost per step --------------------------------------------
# The same pipelines with and without the supervisor, alternating (which
# goes first alternates too): "deep", 1,000 workflows x 5 barriers (1,000
# steps in flight at a time), and "wide", one round of WIDE workflows.
WIDE=5000
[ "$BENCH_QUICK" = 1 ] && WIDE=500
"$here/gen-pipeline.sh" "$MID" 5 1 >"$tmp/sv-deep.yml"
"$here/gen-pipeline.sh" "$WIDE" 1 1 >"$tmp/sv-wide.yml"
: >"$tmp/f11"
for ((i = 1; i <= SV_REPS; i++)); do
	order="1 0"
	[ $((i % 2)) = 0 ] && order="0 1"
	for p in deep wide; do
		for mode in $order; do
			say "figure 11: $p run $i/$SV_REPS, supervisor $mode"
			newstate "$disk_state"
			res=$(LOCKSTEP_SUPERVISOR=$mode measure "$tmp/f11-$p-$mode-$i" "$bin" run "$tmp/sv-$p.yml" --state "$st" --json)
			[ "${res%% *}" = 0 ] || failures+=("figure 11: $p run $i (supervisor $mode) exited ${res%% *}: $(tail -n 1 "$tmp/f11-$p-$mode-$i.err")")
			echo "$p $mode $i $(cat "$tmp/f11-$p-$mode-$i.sv")" >>"$tmp/f11"
			rm -f "$tmp/f11-$p-$mode-$i.out"
		done
	done
done

# --- figure 12: timeouts while the engine spawns 3,000 steps --------------------------------
LT=300
"$here/gen-busy.sh" "$MID" 3 run 3 "${LT}ms" >"$tmp/spawnload.yml"
for mode in 1 0; do : >"$tmp/f12-$mode-step"; : >"$tmp/f12-$mode-barrier"; : >"$tmp/f12-$mode-wall"; : >"$tmp/f12-$mode-status"; done
for ((i = 1; i <= LOAD_REPS; i++)); do
	order="1 0"
	[ $((i % 2)) = 0 ] && order="0 1"
	for mode in $order; do
		say "figure 12: timeouts under spawn load, run $i/$LOAD_REPS, supervisor $mode"
		newstate "$disk_state"
		o=$tmp/f12-$mode-$i
		res=$(LOCKSTEP_SUPERVISOR=$mode measure "$o" "$bin" run "$tmp/spawnload.yml" --state "$st" --json)
		# 1: the probe arrives at the barrier that broke, which fails the run.
		[ "${res%% *}" = 1 ] || failures+=("figure 12: run $i (supervisor $mode) exited ${res%% *} (expected 1): $(tail -n 1 "$o.err")")
		echo "$res" | awk '{ print $2 }' >>"$tmp/f12-$mode-wall"
		jq -rs --argjson t "$LT" -f "$here/busy-late.jq" "$o.out" >"$o.late" || failures+=("figure 12: cannot analyse run $i (supervisor $mode)")
		awk '$1 == "step" { print $2 }' "$o.late" >>"$tmp/f12-$mode-step"
		awk '$1 == "step" { print $3 }' "$o.late" >>"$tmp/f12-$mode-status"
		awk '$1 == "barrier" { print $2 }' "$o.late" >>"$tmp/f12-$mode-barrier"
	done
done

# --- figure 6: lockstep check ----------------------------------------------------------
say "figure 9: a stalled reader (bench/stall-bench.sh, $STALL_RUNS runs per row)"
"$here/stall-bench.sh" "$bin" "$STALL_RUNS" >"$tmp/f9" 2>"$tmp/f9.err" ||
	failures+=("figure 9: stall-bench.sh failed: $(tail -n 1 "$tmp/f9.err")")
say "figure 10: timeouts while 8 runs share one store (bench/busy-bench.sh, $BUSY_REPS rounds)"
"$here/busy-bench.sh" "$bin" "$BUSY_REPS" "$disk_state" >"$tmp/f10" 2>"$tmp/f10.err" ||
	failures+=("figure 10: busy-bench.sh found problems (listed under its table)")
say "figure 6: lockstep check (bench/check-bench.sh, $CHECK_RUNS runs)"
"$here/check-bench.sh" "$bin" "$CHECK_RUNS" >"$tmp/f6" 2>"$tmp/f6.err" ||
	failures+=("figure 6: check-bench.sh failed: $(tail -n 1 "$tmp/f6.err")")

# --- figure 8: expansion limits -----------------------------------------------------------
# bench/gen-matrix.sh A B S: an A x B matrix entry whose S steps each use
# ${{ workflow.name }}. The bomb is refused from its matrix sizes; the
# others are expanded, so the growth between two sizes is the cost of one
# expanded step.
LIMIT_A=1000
[ "$BENCH_QUICK" = 1 ] && LIMIT_A=100
"$here/gen-matrix.sh" 1000 100 20 >"$tmp/bomb.yml"
"$here/gen-matrix.sh" "$LIMIT_A" 100 10 >"$tmp/limit.yml"
"$here/gen-matrix.sh" 10 100 10 >"$tmp/small.yml"
"$here/gen-matrix.sh" 100 100 10 'wait: 0s' >"$tmp/run-big.yml"
"$here/gen-matrix.sh" 10 100 10 'wait: 0s' >"$tmp/run-small.yml"
: >"$tmp/f8"
for f in bomb limit small; do
	for ((i = 1; i <= 3; i++)); do
		say "figure 8: check $f.yml run $i/3"
		echo "check $f $(measure "$tmp/f8-check-$f-$i" "$bin" check "$tmp/$f.yml")" >>"$tmp/f8"
	done
done
for f in limit small; do
	say "figure 8: plan --format json $f.yml"
	echo "plan $f $(measure "$tmp/f8-plan-$f" "$bin" plan --format json "$tmp/$f.yml") $(wc -c <"$tmp/f8-plan-$f.out")" >>"$tmp/f8"
	rm -f "$tmp/f8-plan-$f.out"
done
for f in run-big run-small; do
	say "figure 8: run $f.yml"
	newstate "$disk_state"
	echo "run $f $(measure "$tmp/f8-run-$f" "$bin" run "$tmp/$f.yml" --state "$st" --json)" >>"$tmp/f8"
done
grep -q '^check bomb 3 ' "$tmp/f8" || failures+=("figure 8: check did not refuse the bomb with exit 3")

finished=$EPOCHREALTIME
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report ------------------------------------------------------------------------------
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
[ -n "$cpu_model" ] || cpu_model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
git -C "$repo" diff --quiet HEAD -- src CMakeLists.txt 2>/dev/null || dirty=" plus uncommitted changes in src/"
version=$("$bin" --version 2>/dev/null | head -n 1)
disk_fs=$(stat -f -c %T "$repo/build" 2>/dev/null)
shm_fs=$(stat -f -c %T /dev/shm 2>/dev/null)

cat <<EOF
# lockstep benchmark results

Generated by \`bench/run-bench.sh\` (\`make bench\`) on $(date -u +%Y-%m-%dT%H:%MZ),
in $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.0f", b - a }') s.

## Machine

| | |
|---|---|
| cores | $(nproc) |
| CPU | $cpu_model |
| kernel | $(uname -sr) ($(uname -m)) |
| memory | $mem_total |
| load average (1, 5, 15 min) | before: $load_before; after: $load_after |
| open files limit | soft $fd_soft_before raised to the hard limit $fd_hard (now $fd_soft) |
| lockstep | $version, commit $commit$dirty |
| shells | $(bash --version | head -n 1 | sed 's/ (.*//'); /bin/sh is $(readlink -f /bin/sh) |
| state on disk | \`build/bench-state/PID/\` ($disk_fs on $(df --output=source "$repo/build" 2>/dev/null | tail -n 1)) |
| state on tmpfs | \`/dev/shm/lockstep-bench.PID/\` ($shm_fs) |

## Method

- Every point is the median of R runs, with (min–max); R = $RUNS_SMALL at
  N <= 100, $RUNS_LARGE at N = 1,000$( [ "$BENCH_FULL" = 1 ] && echo ", $RUNS_HUGE at N = 5,000").
  lockstep (store on disk), lockstep (store on tmpfs) and the baseline run
  interleaved, so slow drift of the machine hits all three alike.
- lockstep runs with its supervisor (\`lockstep __supervise\`, the
  default) unless a table says \`LOCKSTEP_SUPERVISOR=0\`.
- Every command runs under \`bench/svmeter.c\` (compiled when the suite
  starts): a child subreaper that reaps every process of the run.
  **wall**: from its start to the command's exit. **CPU**: user + sys of
  every process of the run: lockstep, its supervisor and the steps (or
  the baseline's shells), so the steps' own CPU is included on both
  sides. **RSS**: the command's \`ru_maxrss\` (as \`/usr/bin/time -f %M\`:
  lockstep itself, not its steps). The supervisor's memory is its peak
  **Pss** (\`/proc/PID/smaps_rollup\`, sampled every 50 ms), its own CPU
  time from \`/proc/PID/stat\` (sampled likewise, or read from the zombie).
- Every lockstep run gets a new, empty \`--state\` directory, and none is
  deleted before the suite ends (see figure 7); lockstep
  runs with \`--json\` (events to a file) and its human output to a file.
- Latencies come from the \`--json\` events with \`jq\`: \`ts\` has
  **millisecond resolution**, so every latency is a whole number of ms and
  0 means "under 1 ms"; the same spans are also given in \`seq\` steps
  (how many events the engine emitted in between). p50/p99 are by nearest
  rank over all samples (with few samples p99 is the maximum).
- The binary measured is a copy of \`$(realpath --relative-to="$repo" "$src_bin" 2>/dev/null || echo "$src_bin")\` taken when the suite started.

EOF

echo "## Figure 1: wall and CPU time, lockstep vs the baseline (M = 5, K = 1)"
echo
echo "Commands, per N (store on disk; lockstep with its supervisor, the default):"
echo
echo '```sh'
echo 'bench/gen-pipeline.sh N 5 1 > pipeline.yml     # N workflows x 5 barriers x 1 step per round'
echo 'lockstep run pipeline.yml --state build/bench-state/PID/run-I --json > events.json 2> human.txt'
echo 'bench/baseline.sh N 5 1                           # the floor: 5 rounds of N `/bin/sh -c true` & + wait'
echo '```'
echo
echo "| N | processes | runs | lockstep wall s | baseline wall s | wall ratio | lockstep CPU s | baseline CPU s | CPU ratio | lockstep peak RSS KiB |"
echo "|---:|---:|---:|---|---|---:|---|---|---:|---|"
for N in "${Ns[@]}"; do
	col "$tmp/f1-$N-disk" 2 >"$tmp/x-lw"; col "$tmp/f1-$N-base" 2 >"$tmp/x-bw"
	col "$tmp/f1-$N-disk" 3 >"$tmp/x-lc"; col "$tmp/f1-$N-base" 3 >"$tmp/x-bc"
	col "$tmp/f1-$N-disk" 4 >"$tmp/x-lr"
	echo "| $N | $((N * 5)) | $(wc -l <"$tmp/f1-$N-disk") | $(fmt_mmm "$tmp/x-lw" 1 3) | $(fmt_mmm "$tmp/x-bw" 1 3) |" \
		"$(ratio "$(median_of "$tmp/x-lw")" "$(median_of "$tmp/x-bw")") |" \
		"$(fmt_mmm "$tmp/x-lc" 1 3) | $(fmt_mmm "$tmp/x-bc" 1 3) |" \
		"$(ratio "$(median_of "$tmp/x-lc")" "$(median_of "$tmp/x-bc")") | $(fmt_mmm "$tmp/x-lr" 1 0) |"
done
echo
echo "Target: wall ratio <= 1.25 at N = 1,000. Ratios are of the medians."
[ "$BENCH_FULL" = 1 ] || echo "N = 5,000 is left out unless \`BENCH_FULL=1\` (about 40 s per lockstep run)."
echo

echo "## Figure 2: barrier release latency (from figure 1's runs on disk)"
echo
echo "Per passed barrier: from its last \`barrier.arrived\` to \`barrier.passed\`,"
echo "and to the moment the last participant started its next step (the"
echo "latest of the participants' first \`step.started\` after the pass; the"
echo "fifth barrier has no next step and only counts in the first column)."
echo "Milliseconds at the 1 ms resolution of \`ts\`; seq = events in between."
echo
echo "| N | barriers | to passed p50 / p99 ms | to passed p50 / p99 seq | to last next step.started p50 / p99 ms | to last next step.started p50 / p99 seq |"
echo "|---:|---:|---|---|---|---|"
for N in "${relN[@]}"; do
	col "$tmp/f2-$N" 1 >"$tmp/x1"; col "$tmp/f2-$N" 2 >"$tmp/x2"
	awk '$3 != "-" { print $3 }' "$tmp/f2-$N" >"$tmp/x3"
	awk '$4 != "-" { print $4 }' "$tmp/f2-$N" >"$tmp/x4"
	row="| $N | $(wc -l <"$tmp/f2-$N") |"
	for x in x1 x2 x3 x4; do
		read -r n med min max p50 p99 < <(stats "$tmp/$x")
		row="$row $p50 / $p99 |"
	done
	echo "$row"
done
echo
for N in "${relN[@]}"; do
	read -r _ med _ < <(stats <(awk '$3 != "-" { print $3 }' "$tmp/f2-$N"))
	echo "At N = $N the last participant starts its next step $(awk -v m="$med" -v n="$N" 'BEGIN { printf "%.2f", m / n }') ms per participant after the release (median); the baseline needs $(awk -v w="$(median_of <(col "$tmp/f1-$N-base" 2))" -v n="$N" 'BEGIN { printf "%.2f", w * 1000 / (5 * n) }') ms per process, start to exit."
done
echo
echo "Target: release p99 <= 2 ms of engine time at N = 1,000."
echo

read -r _ _ _ _ fp50 fp99 < <(stats "$tmp/f3-each")
col "$tmp/f3-last" 1 >"$tmp/x-fl"; col "$tmp/f3-last" 2 >"$tmp/x-fs"
col "$tmp/f3-wall" 2 >"$tmp/x-fw"
cat <<EOF
## Figure 3: failure propagation (N = $FN)

\`\`\`sh
bench/gen-failure.sh $FN > failure.yml   # w1 runs 'sleep 0.3; exit 1'; w2..w$FN wait at barrier gate
lockstep run failure.yml --state build/bench-state/PID/run-I --json > events.json
\`\`\`

From w1's failing \`step.finished\` to the last waiting participant's
\`workflow.rollback\` ($RUNS_LARGE runs; waiting participants at the failure:
$(col "$tmp/f3-last" 3 | sort -u | paste -sd/ -) of $((FN - 1)); rollbacks of waiting participants seen: $(col "$tmp/f3-last" 4 | sort -u | paste -sd/ -)).

| measure | value |
|---|---|
| to the last workflow.rollback, ms, median (min–max) | $(fmt_mmm "$tmp/x-fl" 1 0) |
| to the last workflow.rollback, seq, median (min–max) | $(fmt_mmm "$tmp/x-fs" 1 0) |
| per waiting participant, ms, p50 / p99 (all runs) | $fp50 / $fp99 |
| whole run wall s, median (min–max) | $(fmt_mmm "$tmp/x-fw" 1 3) |

Target: p99 <= 5 ms at N = 1,000.

EOF

col "$tmp/f4" 1 >"$tmp/x-bl"; col "$tmp/f4" 2 >"$tmp/x-sd"; col "$tmp/f4" 3 >"$tmp/x-st"
read -r _ _ _ _ bp50 bp99 < <(stats "$tmp/x-bl")
read -r _ _ _ _ sdp50 sdp99 < <(stats "$tmp/x-sd")
read -r _ _ _ _ stp50 stp99 < <(stats "$tmp/x-st")
read -r _ _ _ _ fbp50 fbp99 < <(stats "$tmp/f4-base")
cat <<EOF
## Figure 4: timeout accuracy ($TIMEOUT_REPS runs)

\`\`\`sh
bench/gen-timeout.sh ${BT}ms ${ST}ms > timeout.yml   # barrier t: timeout ${BT}ms, 'late' runs 'sleep 5' with timeout ${ST}ms
lockstep run timeout.yml --state build/bench-state/PID/run-I --json --kill-grace 1s > events.json
timeout 0.5 sleep 5                                 # the floor for a step timeout
\`\`\`

| lateness | p50 ms | p99 ms | min–max ms |
|---|---:|---:|---|
| barrier: \`barrier.broken\` ts - first \`barrier.arrived\` ts - $BT | $bp50 | $bp99 | $(fmt_mmm "$tmp/x-bl" 1 0 | sed 's/.*(//; s/)//') |
| step: \`duration_ms\` of the timed-out step - $ST (kill and reap included) | $sdp50 | $sdp99 | $(fmt_mmm "$tmp/x-sd" 1 0 | sed 's/.*(//; s/)//') |
| step: its \`step.finished\` ts - \`step.started\` ts - $ST | $stp50 | $stp99 | $(fmt_mmm "$tmp/x-st" 1 0 | sed 's/.*(//; s/)//') |
| floor: \`timeout 0.5 sleep 5\` wall - $ST (µs clock) | $fbp50 | $fbp99 | $(fmt_mmm "$tmp/f4-base" 1 1 | sed 's/.*(//; s/)//') |

Statuses of the timed-out step: $(col "$tmp/f4" 4 | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }').
Event times are truncated to the millisecond, so a difference of two
\`ts\` is exact only to ±1 ms (a lateness of -1 is that, not an early fire).
Target: lateness p99 <= 10 ms ([B7](pipeline-format.md#b7-timeout): within 50 ms). Both timeouts run on
an idle engine here; figure 12 measures them while the engine spawns 3,000 steps.

EOF

echo "## Figure 5: peak memory, lockstep and its supervisor"
echo
echo '```sh'
echo 'bench/gen-pipeline.sh N 5 K > pipeline.yml'
echo 'lockstep run pipeline.yml --state build/bench-state/PID/run-I --json > events.json   # under bench/svmeter.c'
echo 'LOCKSTEP_SUPERVISOR=0 lockstep run ...                                              # the steps under lockstep itself'
echo '```'
echo
echo "lockstep: its peak RSS (\`ru_maxrss\`); supervisor: its peak Pss (private memory"
echo "and its share of the shared pages, \`/proc/PID/smaps_rollup\` sampled every 50 ms);"
echo "sum: the two peaks added (an upper bound of their peak together). Bytes per"
echo "workflow are of the sum. One run per row."
echo
echo "| pipeline | supervisor | workflows | run steps | events | exit | wall s | lockstep peak RSS KiB | supervisor peak Pss KiB | sum KiB | bytes per workflow | notes |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
rss1k=$(median_of <(col "$tmp/f1-$MID-disk" 4))
pss1k=$(median_of <(for f in "$tmp"/f1-"$MID"-disk-*.sv; do sv "${f%.sv}" 9; done))
ev1k=$(wc -l <"$tmp/f1-$MID-disk-1.out")
echo "| gen-pipeline.sh $MID 5 1 (figure 1, median) | yes | $MID | $((MID * 5)) | $ev1k | 0 | $(median_of <(col "$tmp/f1-$MID-disk" 2) | xargs printf %.2f) | $rss1k | $pss1k | $((rss1k + pss1k)) | $(((rss1k + pss1k) * 1024 / MID)) | |"
sum_k0_1k=""
while read -r n m k mode rc wall cpu cpul cpus rss rssp pssl psss supid after samples; do
	note=""
	if [ "$k" = 0 ]; then note="barriers only: no processes"; fi
	f=$tmp/f5-$n-$k-$mode.out
	if [ "$rc" != 0 ]; then
		ok=$(jq -r 'select(.event == "step.finished" and .status == "succeeded" and .exit_code == 0) | .workflow' "$f" 2>/dev/null | wc -l)
		# Workflows that failed at their own step (the others failed at the
		# barrier that this broke), grouped by reason.
		why=$(jq -r 'select(.event == "workflow.finished" and .status == "failed") | .reason' "$f" 2>/dev/null |
			grep '^failed at step' | sed 's/^failed at step [^(]*(//; s/)$//' |
			sort | uniq -c | sort -rn | head -n 2 | awk '{ n = $1; $1 = ""; printf "%s%s workflows:%s", (NR > 1 ? "; " : ""), n, $0 }')
		note="did not complete: $ok run steps succeeded; failed at their own step: ${why:-none (see events)}; the others failed at the broken barrier; fd limit $fd_soft"
	fi
	sum=$((rss + psss))
	ev=$(wc -l <"$f")
	if [ "$k" = 0 ] && [ "$n" = "$MID" ]; then sum_k0_1k=$sum; fi
	if [ "$k" = 0 ] && [ "$n" = "$BIG" ] && [ -n "$sum_k0_1k" ]; then
		note="$note; marginal $(((sum - sum_k0_1k) * 1024 / (BIG - MID))) B/workflow from N=$MID"
	fi
	if [ "$mode" = 1 ]; then
		[ "$supid" != 0 ] || note="${note:+$note; }supervisor not sampled (it lived less than one sample)"
		what=yes
	else
		what="no (\`LOCKSTEP_SUPERVISOR=0\`)"; psss="-"
	fi
	[ "$mode" = 1 ] && [ "$n" = "$BIG" ] && [ "$k" = 1 ] && { big_sum=$sum; big_rss=$rss; big_pss=$psss; }
	[ "$mode" = 0 ] && [ "$n" = "$BIG" ] && [ "$k" = 1 ] && big_rss0=$rss
	echo "| gen-pipeline.sh $n $m $k | $what | $n | $((n * m * k)) | $ev | $rc | $(printf %.2f "$wall") | $rss | $psss | $sum | $((sum * 1024 / n)) | $note |"
done <"$tmp/f5"
echo
echo "Target: lockstep's peak RSS + the supervisor's peak Pss <= 64 MiB (65536 KiB)"
echo "at N = 10,000 (here: ${big_sum:--} KiB with the supervisor, ${big_rss0:--} KiB"
echo "without), and 10,000 parallel"
echo "workflows must run. lockstep starts every workflow's first step at once,"
echo "and each running step holds 3 descriptors (stdout and stderr pipes and"
echo "its log file), so N = 10,000 needs about 30,000 descriptors; the hard"
echo "limit here is $fd_hard and cannot be raised without privileges"
echo "(/proc/sys/fs/nr_open is $(cat /proc/sys/fs/nr_open))."
echo

echo "## Figure 6: \`lockstep check\` on large pipelines"
echo
echo '```sh'
echo "bench/check-bench.sh build/lockstep $CHECK_RUNS"
echo '```'
echo
tail -n +3 "$tmp/f6"
echo
echo "Target: <= 500 ms for 20,000 steps (the 2,000-workflow rows)."
echo

echo "## Figure 7: store cost, state on disk vs tmpfs (figure 1's runs)"
echo
echo '```sh'
echo 'lockstep run pipeline.yml --state build/bench-state/PID/run-I --json > events.json          # disk'
echo 'lockstep run pipeline.yml --state /dev/shm/lockstep-bench.PID/run-I --json > events.json # tmpfs'
echo '```'
echo
echo "| N | runs | disk wall s | tmpfs wall s | disk / tmpfs wall | disk CPU s | tmpfs CPU s | disk / tmpfs CPU |"
echo "|---:|---:|---|---|---:|---|---|---:|"
for N in "${Ns[@]}"; do
	col "$tmp/f1-$N-disk" 2 >"$tmp/x-dw"; col "$tmp/f1-$N-shm" 2 >"$tmp/x-sw"
	col "$tmp/f1-$N-disk" 3 >"$tmp/x-dc"; col "$tmp/f1-$N-shm" 3 >"$tmp/x-sc"
	echo "| $N | $(wc -l <"$tmp/f1-$N-shm") | $(fmt_mmm "$tmp/x-dw" 1 3) | $(fmt_mmm "$tmp/x-sw" 1 3) |" \
		"$(ratio "$(median_of "$tmp/x-dw")" "$(median_of "$tmp/x-sw")") |" \
		"$(fmt_mmm "$tmp/x-dc" 1 3) | $(fmt_mmm "$tmp/x-sc" 1 3) |" \
		"$(ratio "$(median_of "$tmp/x-dc")" "$(median_of "$tmp/x-sc")") |"
done
echo
echo "Both state directories hold the SQLite database and one log file per"
echo "step attempt (\`logs/RUN/WORKFLOW/STEP.ATTEMPT.log\`); CPU includes the"
echo "steps' own CPU, which does not depend on where the state is. On ext4"
echo "without a journal, creating files soon after many others were deleted"
echo "on the same file system is slow (the inode allocator skips recently"
echo "deleted inodes), so other activity on the machine moves the disk column."
echo

# f8 KIND FILE FIELD: the median of FIELD over the lines "KIND FILE rc wall cpu rss [bytes]"
f8() { awk -v k="$1" -v f="$2" -v n="$3" '$1 == k && $2 == f { print $n }' "$tmp/f8" >"$tmp/x8"; median_of "$tmp/x8"; }
# f8s KIND FILE: the median wall time in seconds, 3 decimals
f8s() { printf %.3f "$(f8 "$1" "$2" 4)"; }
# per_step RSS_BIG RSS_SMALL STEPS: bytes of peak RSS per expanded step between two sizes
per_step() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.0f", (a - b) * 1024 / s }'; }
limit_steps=$((LIMIT_A * 100 * 10))
echo "## Figure 8: expansion limits"
echo
echo '```sh'
echo "bench/gen-matrix.sh 1000 100 20 > bomb.yml     # 2,000,000 steps from $(wc -c <"$tmp/bomb.yml") bytes: refused"
echo "bench/gen-matrix.sh $LIMIT_A 100 10 > limit.yml    # $limit_steps steps$( [ "$LIMIT_A" = 1000 ] && echo ': the most the limit allows')"
echo 'bench/gen-matrix.sh 10 100 10 > small.yml      # 10,000 steps'
echo "bench/gen-matrix.sh 100 100 10 'wait: 0s' > run-big.yml; bench/gen-matrix.sh 10 100 10 'wait: 0s' > run-small.yml"
echo 'lockstep check FILE; lockstep plan --format json FILE; lockstep run FILE --state DIR --json'
echo '```'
echo
echo 'Each step of these files uses `${{ workflow.name }}`, so every instance has text of'
echo "its own. check: median of 3 runs; plan and run: 1 run."
echo
echo "| command | file | expanded steps | exit | wall s | peak RSS KiB | output bytes |"
echo "|---|---|---:|---:|---:|---:|---:|"
for f in bomb limit small; do
	case $f in bomb) n=2000000 ;; limit) n=$limit_steps ;; small) n=10000 ;; esac
	echo "| check | $f.yml | $n | $(f8 check $f 3) | $(f8s check $f) | $(f8 check $f 6) | |"
done
for f in limit small; do
	case $f in limit) n=$limit_steps ;; small) n=10000 ;; esac
	echo "| plan --format json | $f.yml | $n | $(f8 plan $f 3) | $(f8s plan $f) | $(f8 plan $f 6) | $(f8 plan $f 7) |"
done
echo "| run --json | run-big.yml | 100000 | $(f8 run run-big 3) | $(f8s run run-big) | $(f8 run run-big 6) | |"
echo "| run --json | run-small.yml | 10000 | $(f8 run run-small 3) | $(f8s run run-small) | $(f8 run run-small 6) | |"
echo
echo "Bytes of peak RSS per expanded step, from the growth between the two sizes:"
echo "check $(per_step "$(f8 check limit 6)" "$(f8 check small 6)" $((limit_steps - 10000))),"
echo "plan --format json $(per_step "$(f8 plan limit 6)" "$(f8 plan small 6)" $((limit_steps - 10000)))"
echo "(of which the output itself: $(awk -v a="$(f8 plan limit 7)" -v b="$(f8 plan small 7)" -v s=$((limit_steps - 10000)) 'BEGIN { printf "%.0f", (a - b) / s }')),"
echo "run $(per_step "$(f8 run run-big 6)" "$(f8 run run-small 6)" 90000)."
echo "Target: the bomb is refused in milliseconds and a few MB; memory grows linearly"
echo "with the expanded steps, and is bounded by the limits of docs/pipeline-format.md."
echo

echo "## Figure 9: a reader that does not read"
echo
echo '```sh'
echo "bench/stall-bench.sh build/lockstep $STALL_RUNS"
echo 'lockstep run stall.yml --state DIR > fifo     # fast: cat fifo > /dev/null; stalled: nobody reads fifo until the run is recorded as finished'
echo '```'
echo
echo "Side by side, the same pipelines with a fast reader (the baseline) and"
echo "with one that reads nothing until the store says the run has finished."
echo "Timeout lateness: the recorded \`duration_ms\` of a step with \`timeout: 1s\`"
echo "minus 1,000. With the stalled reader, lockstep keeps at most 1 MiB (step"
echo "output) or 2 MiB (its own lines) of plain output, dropping the rest with a"
echo "note, and at most 4 MiB of \`--json\` lines, reading the rest back from the"
echo "store when the reader gets there (none dropped)."
echo
cat "$tmp/f9"
echo
echo "Target: the stalled rows equal the fast ones (timeout lateness, durations,"
echo "the time until the run is recorded), and peak RSS stays within a few MiB"
echo "of the fast reader's."
echo

echo "## Figure 10: timeouts while other runs write to the same store"
echo
echo '```sh'
echo "bench/busy-bench.sh build/lockstep $BUSY_REPS build/bench-state/PID"
echo 'bench/gen-busy.sh 30 50 20ms 5 200ms > busy.yml   # 30 workflows x 50 steps of wait: 20ms; probe: 5 x sleep 5 with timeout 200ms; barrier t: timeout 200ms'
echo 'lockstep run busy.yml --state DIR --json > events.json   # alone; 8 at once, each its own DIR; 8 at once, one DIR'
echo '```'
echo
echo "Each round runs the pipeline alone (the baseline), then 8 times at once"
echo "with a state directory each (what sharing the machine costs), then 8"
echo "times at once on one state directory (what sharing the store adds: the"
echo "runs queue for its write lock). Lateness: the \`duration_ms\` of each"
echo "timed-out step minus 200 (kill and reap included), and \`barrier.broken\`"
echo "ts minus \`early\`'s \`barrier.arrived\` ts minus 200; p50 / p99 / max by"
echo "nearest rank over all runs of the row."
echo
cat "$tmp/f10"
echo
echo "Target: step lateness p99 <= 10 ms with 8 runs on one state directory:"
echo "commits run on a thread of their own, so a run that waits for the write"
echo "lock does not wait with its timers."
echo

# f11 P MODE FIELD: FIELD of figure 11's lines of pipeline P and MODE, by round
# (fields: 1 pipeline, 2 mode, 3 round, then svmeter's line from 4 on)
f11() { awk -v p="$1" -v m="$2" -v f="$3" '$1 == p && $2 == m { print $3, $f }' "$tmp/f11" | sort -n | awk '{ print $2 }'; }
# f11own P MODE: lockstep's + the supervisor's own CPU, by round
f11own() { awk -v p="$1" -v m="$2" '$1 == p && $2 == m { print $3, $7 + $8 }' "$tmp/f11" | sort -n | awk '{ print $2 }'; }
# per_step WITH WITHOUT STEPS SCALE: the median of the paired differences
# (round by round) divided by STEPS, times SCALE
per_step_diff() {
	paste "$1" "$2" | awk -v n="$3" -v s="$4" '{ printf "%.6f\n", ($1 - $2) / n * s }' >"$tmp/x-diff"
	median_of "$tmp/x-diff" | xargs printf '%.1f'
}
echo "## Figure 11: the supervisor's cost per step"
echo
echo '```sh'
echo "bench/gen-pipeline.sh $MID 5 1 > deep.yml    # $((MID * 5)) steps, $MID in flight at a time"
echo "bench/gen-pipeline.sh $WIDE 1 1 > wide.yml    # $WIDE steps, all in flight at once"
echo 'lockstep run FILE --state DIR --json > events.json                         # with the supervisor'
echo 'LOCKSTEP_SUPERVISOR=0 lockstep run FILE --state DIR --json > events.json   # without: the steps are children of lockstep'
echo '```'
echo
echo "$SV_REPS rounds; each round runs both pipelines with and without the supervisor,"
echo "alternating (which goes first alternates too). CPU, all processes: user +"
echo "sys of lockstep, the supervisor and the steps, reaped by svmeter; own CPU:"
echo "each process's own user + sys (the supervisor's from its last sample,"
echo "so it may miss up to 50 ms of its last moments). Medians (min–max)."
echo
echo "| pipeline | supervisor | runs | wall s | CPU s, all processes | lockstep's own CPU s | supervisor's own CPU s | lockstep + supervisor own CPU s | lockstep peak RSS KiB | supervisor peak Pss KiB |"
echo "|---|---|---:|---|---|---|---|---|---|---|"
for p in deep wide; do
	for mode in 1 0; do
		f11 $p $mode 5 >"$tmp/x-w"; f11 $p $mode 6 >"$tmp/x-c"; f11 $p $mode 7 >"$tmp/x-cl"
		f11 $p $mode 8 >"$tmp/x-cs"; f11own $p $mode >"$tmp/x-co"; f11 $p $mode 9 >"$tmp/x-r"; f11 $p $mode 12 >"$tmp/x-p"
		if [ "$mode" = 1 ]; then what=yes; cs=$(fmt_mmm "$tmp/x-cs" 1 3); ps=$(fmt_mmm "$tmp/x-p" 1 0)
		else what=no; cs=-; ps=-; fi
		echo "| $p | $what | $(wc -l <"$tmp/x-w") | $(fmt_mmm "$tmp/x-w" 1 3) | $(fmt_mmm "$tmp/x-c" 1 3) | $(fmt_mmm "$tmp/x-cl" 1 3) | $cs | $(fmt_mmm "$tmp/x-co" 1 3) | $(fmt_mmm "$tmp/x-r" 1 0) | $ps |"
	done
done
echo
echo "The cost per step: the median over the rounds of (with - without) / steps;"
echo "memory: the supervisor's peak Pss / the steps in flight, and the growth of"
echo "its peak Pss between the two pipelines / the growth of the steps in flight."
echo
echo "| pipeline | steps | in flight | wall µs per step | CPU µs per step, all processes | CPU µs per step, lockstep + supervisor own | supervisor Pss KiB per step in flight |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for p in deep wide; do
	if [ $p = deep ]; then n=$((MID * 5)); fl=$MID; else n=$WIDE; fl=$WIDE; fi
	f11 $p 1 5 >"$tmp/x-w1"; f11 $p 0 5 >"$tmp/x-w0"; f11 $p 1 6 >"$tmp/x-c1"; f11 $p 0 6 >"$tmp/x-c0"
	f11own $p 1 >"$tmp/x-o1"; f11own $p 0 >"$tmp/x-o0"
	pss=$(median_of <(f11 $p 1 12))
	eval "pss_$p=$pss"
	echo "| $p | $n | $fl | $(per_step_diff "$tmp/x-w1" "$tmp/x-w0" "$n" 1000000) | $(per_step_diff "$tmp/x-c1" "$tmp/x-c0" "$n" 1000000) |" \
		"$(per_step_diff "$tmp/x-o1" "$tmp/x-o0" "$n" 1000000) | $(awk -v a="$pss" -v f="$fl" 'BEGIN { printf "%.2f", a / f }') |"
done
echo
echo "Marginal supervisor Pss per step in flight, wide against deep: $(awk -v a="$pss_wide" -v b="$pss_deep" -v n=$((WIDE - MID)) 'BEGIN { printf "%.2f", (a - b) / n }') KiB."
echo

echo "## Figure 12: timeouts while the engine spawns $((MID * 3)) steps"
echo
echo '```sh'
echo "bench/gen-busy.sh $MID 3 run 3 ${LT}ms > spawnload.yml   # $MID workflows x 3 steps 'run: true'; probe: 3 x 'sleep 5' with timeout ${LT}ms; barrier t: timeout ${LT}ms"
echo 'lockstep run spawnload.yml --state DIR --json > events.json   # with the supervisor, and with LOCKSTEP_SUPERVISOR=0'
echo '```'
echo
echo "All $MID workflows and the probes start at once, so the first probe and"
echo "the barrier time out while the engine is still spawning the first round"
echo "of $MID steps, the next probes while it spawns the rest. $LOAD_REPS rounds,"
echo "with and without the supervisor alternating. Lateness: each timed-out"
echo "step's \`duration_ms\` minus $LT (kill and reap included; with the"
echo "supervisor, the kill goes to it over the socket and the exit comes back),"
echo "and \`barrier.broken\` ts minus \`early\`'s \`barrier.arrived\` ts minus $LT;"
echo "p50 / p99 / max by nearest rank over all runs."
echo
echo "| supervisor | runs | step timeouts | step lateness ms p50 / p99 / max | barrier timeouts | barrier lateness ms p50 / p99 / max | wall s per run, median (min–max) | probe statuses |"
echo "|---|---:|---:|---|---:|---|---|---|"
for mode in 1 0; do
	read -r sn _ _ smax _ sp99 < <(stats "$tmp/f12-$mode-step")
	read -r _ _ _ _ sp50 _ < <(stats "$tmp/f12-$mode-step")
	read -r bn _ _ bmax bp50 bp99 < <(stats "$tmp/f12-$mode-barrier")
	[ "$mode" = 1 ] && what=yes || what="no (\`LOCKSTEP_SUPERVISOR=0\`)"
	echo "| $what | $(wc -l <"$tmp/f12-$mode-wall") | $sn | $sp50 / $sp99 / $smax | $bn | $bp50 / $bp99 / $bmax | $(fmt_mmm "$tmp/f12-$mode-wall" 1 3) |" \
		"$(sort "$tmp/f12-$mode-status" | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }') |"
done
echo
echo "Target: lateness p99 <= 10 ms."
echo

while read -r line; do failures+=("$line"); done <"$tmp/leftovers"
if [ ${#failures[@]} -gt 0 ]; then
	echo "## Problems during this run"
	echo
	printf -- '- %s\n' "${failures[@]}"
	echo
fi
say "done in $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.0f", b - a }') s"
