# What the `lockstep run` scripts share, on top of lib/common.sh:
# scenarios with files of their own, bounded runs of the binary with
# --json, assertions on the event stream with jq, bounded waits on events,
# the processes steps leave.
#
# Pipelines under tests/e2e/run/ run their helpers as ./bin/NAME (steps run
# in the pipeline file's directory). The helpers write what they see into
# $OUT and read the run's events from $EVENTS; both are exported here and
# reach the steps through lockstep's own environment.
# shellcheck shell=bash

# Sourced after lib/common.sh. Sets, for the scripts: RUNDIR, STATE, OUT,
# EVENTS, ERR, rc, elapsed_ms, RUN_ID, BG, BG_END.
# shellcheck disable=SC2034
RUNDIR=$E2E_DIR/run
need jq

BG_PIDS=()
# At the end: kill a background run still going (only one not yet reaped,
# so its pid cannot have been reused).
_kill_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}
at_exit _kill_bg
at_exit '[ -n "$LOCK_PID" ] && kill -KILL "$LOCK_PID" 2>/dev/null'
STATE=$tmp/state
export OUT EVENTS
SHOWN=""
SCENARIOS_RUN=()

# scenario NAME: starts a scenario. Its files live in $tmp/NAME: out/ (what
# the steps write; $OUT), events (the --json stream; $EVENTS), err (stderr).
# With LOCKSTEP_SCENARIO=NAME (a glob) the script stops once the scenarios
# matching it have run (tests/README: one scenario).
scenario() {
	if [ -n "${LOCKSTEP_SCENARIO:-}" ] && [ ${#SCENARIOS_RUN[@]} -gt 0 ]; then
		# shellcheck disable=SC2254 # a glob on purpose
		case ${SCENARIOS_RUN[-1]} in
		$LOCKSTEP_SCENARIO)
			SCENARIO=""
			echo "# stopping after ${SCENARIOS_RUN[-1]} (LOCKSTEP_SCENARIO=$LOCKSTEP_SCENARIO)"
			finish
			exit
			;;
		esac
	fi
	SCENARIO=$1
	SCENARIOS_RUN+=("$1")
	SHOWN=""
	mkdir -p "$tmp/$1/out"
	OUT=$tmp/$1/out
	EVENTS=$tmp/$1/events
	ERR=$tmp/$1/err
	: >"$EVENTS"
	: >"$ERR"
	echo "# $1"
}

# run_json FILE [ARGS...]: runs `lockstep run FILE ARGS --state $STATE
# --json`, bounded by RUN_BOUND seconds; events in $EVENTS, stderr in $ERR,
# exit status in $rc, duration in $elapsed_ms, run id in $RUN_ID.
run_json() {
	local t0
	t0=$(now_ms)
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$@" --state "$STATE" --json >"$EVENTS" 2>"$ERR" </dev/null
	rc=$?
	elapsed_ms=$(($(now_ms) - t0))
	[ "$rc" -eq 124 ] && echo "  (lockstep run did not end within ${RUN_BOUND}s: killed)"
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" 2>/dev/null | head -1)
	LAST_CMD=run
}

# start_json FILE [ARGS...]: the same in the background; the pid in $BG.
start_json() {
	BG_T0=$(now_ms)
	"$LOCKSTEP" run "$@" --state "$STATE" --json >"$EVENTS" 2>"$ERR" </dev/null &
	BG=$!
	BG_PIDS+=("$BG")
	LAST_CMD=run
}

# finish_bg SECONDS: waits (bounded) for the background run to end; exit
# status in $rc (124 and a SIGKILL when it did not end in time), the time
# it ended in $BG_END (ms), duration since start_json in $elapsed_ms, run
# id in $RUN_ID.
finish_bg() {
	if ! wait_until "$1" not_running "$BG"; then
		echo "  (background lockstep run did not end within $1 s: killed)"
		kill -KILL "$BG" 2>/dev/null
		wait "$BG" 2>/dev/null
		rc=124
	else
		wait "$BG"
		rc=$?
	fi
	BG_PIDS=()
	BG_END=$(now_ms)
	elapsed_ms=$((BG_END - BG_T0))
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" 2>/dev/null | head -1)
}

# kill_bg: SIGKILLs the background run and reaps it (a crash of lockstep);
# exit status in $rc. Its supervisor goes too (as with a reboot): the
# steps in flight are lost, and a resume finds them interrupted (t0460
# checks a crash of lockstep alone, whose steps are adopted).
kill_bg() {
	crash_all "$BG" "$STATE"
	wait "$BG" 2>/dev/null
	rc=$?
	BG_PIDS=()
}

# gone PIDFILE...: none of the processes whose pids are in the files is
# left (kill -0 fails on each).
gone() {
	local f p
	for f in "$@"; do
		[ -s "$f" ] || { echo "  (no pid in $f)"; return 1; }
		p=$(cat "$f")
		if kill -0 "$p" 2>/dev/null; then
			echo "  (pid $p from ${f##*/} is still there: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))"
			return 1
		fi
	done
}

# pids_in_group PGID: the live (non-zombie) processes of that process
# group, read from /proc (no dependency on procps).
pids_in_group() {
	local want=$1 f s p
	for f in /proc/[0-9]*/stat; do
		read -r s 2>/dev/null <"$f" || continue
		p=${f#/proc/}
		s=${s##*) }
		# After the command name: state, ppid, pgrp, ...
		# shellcheck disable=SC2086
		set -- $s
		[ "$1" != Z ] && [ "$3" = "$want" ] && echo "${p%/stat}"
	done
	return 0
}

# group_gone PGIDFILE: no process is left in that process group.
group_gone() {
	local g left
	g=$(cat "$1") || return 1
	left=$(pids_in_group "$g")
	[ -z "$left" ] || { echo "  (left in group $g: $left)"; return 1; }
}

# reap_leftovers: after a failed check, kills what bin/long left behind
# (the processes of its recorded groups that still run bin/long or its
# sleep), so that a failure does not leave processes for a minute.
reap_leftovers() {
	local f p
	for f in "$OUT"/*.pgid; do
		[ -s "$f" ] || continue
		for p in $(pids_in_group "$(cat "$f")"); do
			case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
			*bin/long* | "sleep 60"*) kill -KILL "$p" 2>/dev/null ;;
			esac
		done
	done
	return 0
}

# has_event JQ_CONDITION: some event in $EVENTS satisfies it.
has_event() {
	jq -e -n "[inputs | select($1)] | length > 0" "$EVENTS" >/dev/null 2>&1
}

# wait_event SECONDS JQ_CONDITION: bounded wait for such an event.
wait_event() {
	wait_until "$1" has_event "$2"
}

# jq definitions for the checks; `.` is the array of all events. S, F, A,
# P, B, WS, WR and RF give the first such event, WF the last (a workflow
# that succeeded and is then rolled back by rollback-all finishes twice),
# or null when there is none; lt(X; Y) is true when both exist and X came
# first.
JQ_DEFS='
def ev(t): map(select(.event == t));
def one(c): [.[] | select(c)] | .[0];
def S(w; s): one(.event == "step.started" and .workflow == w and .step == s);
def F(w; s): one(.event == "step.finished" and .workflow == w and .step == s);
def A(b; w): one(.event == "barrier.arrived" and .barrier == b and .workflow == w);
def P(b): one(.event == "barrier.passed" and .barrier == b);
def B(b): one(.event == "barrier.broken" and .barrier == b);
def WS(w): one(.event == "workflow.started" and .workflow == w);
def WR(w): one(.event == "workflow.rollback" and .workflow == w);
def WF(w): [.[] | select(.event == "workflow.finished" and .workflow == w)] | .[-1];
def RF: one(.event == "run.finished");
def of(w): map(select(.workflow == w));
def ms: .ts | capture("^(?<s>[^.]+)\\.(?<ms>[0-9]{3})Z$") | ((.s + "Z" | fromdateiso8601) * 1000 + (.ms | tonumber));
def lt(a; b): (a | type) == "object" and (b | type) == "object" and a.seq < b.seq;
'

# check DESCRIPTION JQ_EXPRESSION: passes when the expression, given the
# array of the scenario's events, is true.
check() {
	local got
	if got=$(jq -e -s -c "$JQ_DEFS $2" "$EVENTS" 2>&1); then
		pass "$1"
	else
		fail "$1 (jq: ${got:-no result}; exit status ${rc:-?})"
		show_events
	fi
}

# explain (after a failed expectation): the events of the scenario's run,
# or what the last cmd printed when that came after the run.
explain() {
	if [ "${LAST_CMD:-}" = cmd ]; then
		explain_cmd
	else
		show_events
	fi
}

# show_events: the scenario's events in short form and its stderr, once.
show_events() {
	[ -n "$SHOWN" ] && return
	SHOWN=1
	jq -r '[.seq, .event, (.workflow // .barrier // .pipeline // .group // "" | tostring),
		(.step // ""), (.attempt // "" | tostring), (.status // ""), (.exit_code // "" | tostring),
		(.reason // ""), ((.participants // .workflows // []) | join(","))] | join(" ")' \
		"$EVENTS" 2>/dev/null | sed 's/^/     | /'
	head -c 1500 "$ERR" | sed 's/^/     ! /'
	echo
}

# log_of WORKFLOW STEP [ATTEMPT]: the log file of a step attempt of the
# current run.
log_of() {
	echo "$STATE/logs/$RUN_ID/$1/$2.${3:-1}.log"
}

# The order in which marks were made ($OUT/order), on one line.
marks() {
	[ -f "$OUT/order" ] && tr '\n' ' ' <"$OUT/order" | sed 's/ $//'
}

# expect_marks DESCRIPTION WANT: the marks were made in exactly this order.
expect_marks() {
	local got
	got=$(marks)
	[ "$got" = "$2" ]
	_result $? "$1" "marks '$got', want '$2'"
}

# The contract every event stream must meet (docs/events.md):
# run.started first,
# run.finished last and once, seq 1..N, one run id, RFC 3339 UTC times with
# milliseconds that never go back, every line a JSON object with an event.
check_stream() {
	local n
	n=$(wc -l <"$EVENTS")
	if [ "$n" -gt 0 ] && jq -e -c . "$EVENTS" >/dev/null 2>&1 &&
		[ "$(jq -c 'type' "$EVENTS" | sort -u)" = '"object"' ]; then
		pass "every stdout line is one JSON object ($n events)"
	else
		fail "stdout is not JSON lines"
		head -c 800 "$EVENTS" | sed 's/^/     | /'
		return
	fi
	check "run.started first, run.finished last and once" \
		'.[0].event == "run.started" and .[-1].event == "run.finished" and (ev("run.finished") | length) == 1 and (ev("run.started") | length) == 1'
	check "seq is 1..N without gaps" '[.[].seq] == [range(1; length + 1)]'
	check "one run id, a positive integer" '([.[].run] | unique | length) == 1 and (.[0].run | type) == "number" and .[0].run >= 1'
	check "ts is RFC 3339 UTC with milliseconds, never decreasing" \
		'all(.[]; .ts | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and ([.[] | ms] as $t | [range(1; $t | length) | $t[.] >= $t[. - 1]] | all)'
	check "each step attempt: step.started, then its step.finished" \
		'[.[] | select(.event == "step.started" or .event == "step.finished")] | group_by([.workflow, .step]) | all(.[]; map(.event) as $e | ($e | length) % 2 == 0 and all(range(0; $e | length); $e[.] == (if . % 2 == 0 then "step.started" else "step.finished" end)))'
	check "attempts of each step count 1, 2, ..." \
		'ev("step.started") | group_by([.workflow, .step]) | all(.[]; map(.attempt) == [range(1; length + 1)])'
	check "every started workflow ends with a workflow.finished" \
		'. as $all | [ev("workflow.started")[] | .workflow as $w | [$all[] | select(.workflow == $w)][-1].event == "workflow.finished"] | all'
	check "a workflow finishes again only after a workflow.rollback" \
		'[.[] | select(.event == "workflow.finished" or .event == "workflow.rollback")] | group_by(.workflow) | all(.[]; map(.event) | [range(1; length) as $i | if .[$i] == "workflow.finished" then .[$i - 1] == "workflow.rollback" else true end] | all)'
}

# ms_ports: sets MS_PORTS to the --var arguments that give the two local
# services of the multi-service example (127.0.0.1, ports in its vars)
# ports of their own: free now, picked at random outside the kernel's
# ephemeral range, so that scripts running at the same time do not share
# one. Unsets the proxy variables: the services are local.
ms_ports() {
	local p
	need python3
	p=$(python3 - <<'PY'
import random, socket
got = []
while len(got) < 2:
    port = random.randint(20000, 29999)
    if port in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    got.append(port)
print(got[0], got[1])
PY
	) || { echo "ms_ports: no free ports" >&2; exit 1; }
	MS_BACKEND_PORT=${p% *}
	MS_FRONTEND_PORT=${p#* }
	MS_PORTS=(--var "backend_port=$MS_BACKEND_PORT" --var "frontend_port=$MS_FRONTEND_PORT")
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
}

# env_is FILE NAME VALUE: FILE (the sorted `env` output a step wrote) has
# NAME=VALUE. env_unset FILE NAME: FILE has no NAME.
env_is() {
	if grep -qxF -- "$2=$3" "$1" 2>/dev/null; then
		pass "${1##*/}: $2=$3"
	else
		fail "${1##*/}: want $2=$3, got '$(grep "^$2=" "$1" 2>/dev/null)'"
	fi
}
env_unset() {
	if [ -f "$1" ] && ! grep -q "^$2=" "$1"; then
		pass "${1##*/}: no $2"
	else
		fail "${1##*/}: $2 should not be set: '$(grep "^$2=" "$1" 2>/dev/null)'"
	fi
}

# pids_with_env NAME=VALUE: the live (not zombie) processes with exactly
# NAME=VALUE in their environment: what a run started, found by a mark
# given to lockstep only (LOCKSTEP_RUN_TOKEN, or a variable of the
# script's own). none_with_env NAME=VALUE: there is none, else says which.
pids_with_env() {
	local f p
	# One grep for all of them: a loaded machine may have thousands.
	for f in $(grep -lzx -- "$1" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/environ}
		alive "$p" && echo "$p"
	done
	return 0
}
none_with_env() {
	local left
	left=$(pids_with_env "$1")
	[ -z "$left" ] || { echo "  (still there with $1: $left)"; return 1; }
}

# lock_take DB: the sqlite3 shell takes DB's write lock (BEGIN EXCLUSIVE,
# which in WAL mode leaves readers alone) and keeps it until
# lock_release: another process holding the lock, as lockstep sees it.
# Returns once the lock is held (bounded), a check of its own. The shell
# reads its commands from a fifo on fd 7 (cmd does not pass fd 7 on).
LOCK_PID=""
lock_take() {
	need sqlite3
	rm -f "$tmp/lock.fifo" "$tmp/locked"
	mkfifo "$tmp/lock.fifo"
	sqlite3 "$1" <"$tmp/lock.fifo" >"$tmp/lock.out" 2>&1 &
	LOCK_PID=$!
	exec 7>"$tmp/lock.fifo"
	# .bail: if BEGIN fails, the shell stops before saying it is locked.
	printf '.bail on\n.timeout 5000\nBEGIN EXCLUSIVE;\n.system touch "%s"\n' "$tmp/locked" >&7
	if wait_until 10 test -e "$tmp/locked"; then
		pass "another process holds the write lock"
	else
		fail "the sqlite3 shell did not get the lock: $(cat "$tmp/lock.out")"
	fi
}
lock_release() {
	printf 'COMMIT;\n.quit\n' >&7
	exec 7>&-
	wait_until 10 not_running "$LOCK_PID" || kill -KILL "$LOCK_PID"
	wait "$LOCK_PID" 2>/dev/null
	LOCK_PID=""
}
