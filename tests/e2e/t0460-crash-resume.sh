#!/bin/bash
# t0460-crash-resume: `lockstep run` killed with SIGKILL at random points
# of real pipelines, then `lockstep resume RUN`, against the contract of
# resume with step supervisors: the step processes of a run belong to its
# supervisor (`lockstep __supervise`, one per run, its pid in
# STATE/supervise/RUN/pid), which outlives `lockstep run`; resume adopts
# them again. A step that finished while lockstep was dead keeps its real
# result; a step still running is waited for (not killed, not run again;
# its timeout keeps its deadline; its output lands in its log). Only when
# the supervisor died too are the steps in flight interrupted: retried if
# they have retries left, else their workflow fails with the reason
# "failed at step 'ID' (interrupted)".
#
# Three pipelines, written here: crash-ok succeeds (three workflows meet at
# two barriers, then a later group); crash-fail has a step that fails for
# real (barrier `live` breaks, every workflow rolls back, in an order kept
# by the rollback barrier `reverted`, with rollback steps that sleep, and
# the later group is skipped); crash-retry has retries, a step that fails on
# its first attempt and one whose first attempt times out. Every run step
# is ./step (written below): it sleeps 0.1 to 0.6 s and appends
# "WF/STEP/ATTEMPT start" and, as its last action, "WF/STEP/ATTEMPT done"
# to the trial's ledger (ATTEMPT: the attempt lockstep recorded for it
# before starting it, read from the store), and writes "WF/STEP/ATTEMPT:
# ends N" to its output before its done line.
#
# A reference run of each pipeline without a crash gives its ledger, its
# statuses (run, workflows, steps, barriers), its attempts with their
# results, and its exit status. Then the trials, three at a time: each
# starts `lockstep run`, SIGKILLs it a random time after run.started
# (within the reference's duration), then resumes the run:
#   - at once, so that steps are in flight when resume takes over;
#   - once a step in flight at the kill has ended while lockstep was dead;
#   - with the resume SIGKILLed too, at a random point, then resumed again.
# After the resume, against the reference:
#   1. nothing of the run is alive once resume has returned: no process
#      with the run's LOCKSTEP_RUN_TOKEN or the trial's own mark in its
#      environment (every lockstep command of the trial gets it), nor the
#      supervisor;
#   2. no step that had finished ran again: no ledger line twice, no new
#      attempt of a step after one of its attempts ran to its end;
#   3. the steps ran as in the reference: the same attempts started and
#      ran to their end, none killed, none added;
#   4. every attempt was recorded with its real result (status, exit code);
#   5. no spurious failure: the same statuses of the run, the workflows,
#      the steps and the barriers, and resume's exit status is the
#      reference run's;
#   6. the run's events in the store are seq 1..N without a hole, and
#      they meet the contract of `run --json` (docs/events.md);
#   7. the output of every attempt that ran to its end is in its log.
# Then the supervisor killed with `lockstep run`: the steps in flight are
# interrupted, and exactly that: each is retried (crash-retry) or fails its
# workflow with the reason interrupted (crash-ok).
#
# Each trial prints its kill points. LOCKSTEP_SEED=N replays the kill
# points of the seed a run printed; LOCKSTEP_TRIAL=N runs that trial alone
# (with the seed, the same points). LOCKSTEP_KEEP=DIR keeps the scratch
# directory (ledgers, events, show documents, state directories).
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq and the sqlite3
# shell (Debian: sqlite3).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
need sqlite3
unset LOCKSTEP_STATE CRASH_MARK CRASH_DB CRASH_LEDGER CRASH_PIDS

SEED=${LOCKSTEP_SEED:-$(($(date +%s%N) / 1000 % 32768))}
RANDOM=$SEED
echo "# seed $SEED (LOCKSTEP_SEED=$SEED replays these kill points)"
# How many trials run at once: their steps mostly sleep.
LANES=3
# Every lockstep command of a trial has CRASH_MARK=$MARK_PREFIX<trial> in
# its environment, and so has everything it starts.
MARK_PREFIX="t0460-${tmp##*/}-"
PIPES=$tmp/pipes
mkdir -p "$PIPES"

# ---- the step and the pipelines ----

# step SECONDS [fail | flaky | retry-sleeps SECONDS]...: sleeps, then
# exits 0; `fail`: exits 1; `flaky`: exits 1 on its first attempt only;
# `retry-sleeps S`: sleeps S instead in the attempts after the first. Its
# attempt is the one lockstep recorded in the store before starting it.
# It ignores SIGPIPE: once its lockstep is dead, nobody may read its
# output, and it goes on to its end all the same.
cat >"$PIPES/step" <<'EOF'
#!/bin/sh
trap '' PIPE
set -u
w=$LOCKSTEP_WORKFLOW s=$LOCKSTEP_STEP
a=$(sqlite3 -cmd '.timeout 10000' "$CRASH_DB" "SELECT max(attempt) FROM step_attempts WHERE run = $LOCKSTEP_RUN_ID AND workflow = '$w' AND step = '$s'" 2>/dev/null)
[ -n "$a" ] || a=unknown
echo $$ >"$CRASH_PIDS/$w.$s.$a"
echo "$w/$s/$a start" >>"$CRASH_LEDGER"
echo "$w/$s/$a: starts"
secs=$1 code=0
shift
while [ $# -gt 0 ]; do
	case $1 in
	fail) code=1 ;;
	flaky) [ "$a" = 1 ] && code=1 ;;
	retry-sleeps) [ "$a" = 1 ] || secs=$2; shift ;;
	esac
	shift
done
sleep "$secs"
echo "$w/$s/$a: ends $code"
echo "$w/$s/$a done" >>"$CRASH_LEDGER"
exit "$code"
EOF
chmod +x "$PIPES/step"

cat >"$PIPES/crash-ok.yml" <<'EOF'
name: crash-ok
barriers:
  built: {timeout: 1m}
  live: {timeout: 1m}
stages:
  - a
  - {workflow: b, parallel: true}
  - {workflow: c, parallel: true}
  - d
workflows:
  a:
    steps:
      - {id: build, run: ./step 0.3}
      - barrier: built
      - {id: deploy, run: ./step 0.2, retries: 1, retry-delay: 100ms}
      - barrier: live
    rollback:
      - {id: undo, run: ./step 0.1}
  b:
    steps:
      - {id: fetch, run: ./step 0.1}
      - {id: build, run: ./step 0.2, retries: 1, retry-delay: 100ms}
      - barrier: built
      - {id: deploy, run: ./step 0.4}
      - barrier: live
    rollback:
      - {id: undo, run: ./step 0.1}
  c:
    steps:
      - {id: build, run: ./step 0.5}
      - barrier: built
      - {id: deploy, run: ./step 0.1}
      - barrier: live
  d:
    steps:
      - {id: smoke, run: ./step 0.2}
      - {id: report, run: ./step 0.1}
EOF

cat >"$PIPES/crash-fail.yml" <<'EOF'
name: crash-fail
barriers:
  built: {timeout: 1m}
  live: {timeout: 1m}
  reverted: {timeout: 1m}
stages:
  - a
  - {workflow: b, parallel: true}
  - {workflow: c, parallel: true}
  - d
workflows:
  a:
    steps:
      - {id: build, run: ./step 0.2}
      - barrier: built
      - {id: deploy, run: ./step 0.3}
      - barrier: live
    rollback:
      - {id: undo, run: ./step 0.3, retries: 1, retry-delay: 100ms}
      - barrier: reverted
  b:
    steps:
      - {id: build, run: ./step 0.3}
      - barrier: built
      - {id: deploy, run: ./step 0.2 fail}
      - barrier: live
    rollback:
      - {id: undo, run: ./step 0.2}
      - barrier: reverted
  c:
    steps:
      - {id: build, run: ./step 0.1}
      - barrier: built
      - {id: deploy, run: ./step 0.5, retries: 1, retry-delay: 100ms}
      - barrier: live
    rollback:
      - barrier: reverted
      - {id: undo, run: ./step 0.2}
      - {id: notify, run: ./step 0.1}
  d:
    steps:
      - {id: smoke, run: ./step 0.1}
EOF

cat >"$PIPES/crash-retry.yml" <<'EOF'
name: crash-retry
barriers:
  ready: {timeout: 1m}
stages:
  - a
  - {workflow: b, parallel: true}
workflows:
  a:
    steps:
      - {id: fetch, run: ./step 0.2 flaky, retries: 2, retry-delay: 200ms}
      - barrier: ready
      - {id: push, run: ./step 0.3, retries: 1, retry-delay: 100ms}
    rollback:
      - {id: undo, run: ./step 0.1}
  b:
    steps:
      - {id: fetch, run: ./step 0.4, retries: 1, retry-delay: 100ms}
      - barrier: ready
      - {id: push, run: ./step 0.6 retry-sleeps 0.1, timeout: 300ms, retries: 1, retry-delay: 100ms}
      - {id: verify, run: ./step 0.1 flaky, retries: 1, retry-delay: 200ms}
    rollback:
      - {id: undo, run: ./step 0.1}
EOF
PIPELINES="crash-ok crash-fail crash-retry"

# What a run ended as, one fact a line, from `show --json`: "status ...",
# "workflow W ...", "step W/S ...", "barrier B ..."; and "attempts W/S
# N:STATUS:EXIT ..." for every step that ran.
FACTS='"status \(.status)",
	(.workflows[] | "workflow \(.workflow) \(.status)",
		(.workflow as $w | .steps[] | "step \($w)/\(.step) \(.status)",
			(select(.attempts != []) | "attempts \($w)/\(.step) \([.attempts[] | "\(.attempt):\(.status):\(.exit_code)"] | join(" "))"))),
	(.barriers[] | "barrier \(.barrier) \(.status)")'

# What docs/events.md promises of a run's events (as check_stream in
# run/lib.sh, in one pass): the rules it breaks, or nothing.
CONTRACT='.events as $e | [
	(select($e[0].event != "run.started" or $e[-1].event != "run.finished" or ([$e[] | select(.event == "run.finished")] | length) != 1)
		| "run.started first, run.finished last and once"),
	(select([$e[] | select(.event == "step.started" or .event == "step.finished")] | group_by([.workflow, .step])
		| all(.[]; map(.event) as $v | ($v | length) % 2 == 0 and all(range(0; $v | length); $v[.] == (if . % 2 == 0 then "step.started" else "step.finished" end))) | not)
		| "each step attempt: step.started, then its step.finished"),
	(select([$e[] | select(.event == "step.started")] | group_by([.workflow, .step]) | all(.[]; map(.attempt) == [range(1; length + 1)]) | not)
		| "attempts of each step count 1, 2, ..."),
	(select([$e[] | select(.event == "workflow.started") | .workflow as $w | [$e[] | select(.workflow == $w)][-1].event == "workflow.finished"] | all | not)
		| "every started workflow ends with a workflow.finished"),
	(select([$e[] | select(.event == "workflow.finished" or .event == "workflow.rollback")] | group_by(.workflow)
		| all(.[]; map(.event) | [range(1; length) as $i | if .[$i] == "workflow.finished" then .[$i - 1] == "workflow.rollback" else true end] | all) | not)
		| "a workflow finishes again only after a workflow.rollback"),
	(select(([$e[] | select(.event == "barrier.arrived") | [.barrier, .workflow]] | length != (unique | length))
		or ([$e[] | select(.event == "barrier.passed" or .event == "barrier.broken") | .barrier] | length != (unique | length)))
		| "each workflow arrives at a barrier once, each barrier is decided once"),
	(select([$e[] | select(.event == "run.resumed")] == []) | "no run.resumed")
] | join("; ")'

# ---- helpers of a trial (each trial runs in a subshell of its own) ----

# joined: its input's lines on one line, "; " between them, the first 12
# only (then how many more there were).
joined() {
	awk '
		NR <= 12 { printf "%s%s", (NR > 1 ? "; " : ""), $0 }
		END { if (NR > 12) printf "; and %d more", NR - 12 }'
}

# differ WANT GOT: the facts that differ, "KEY: want X, got Y" (KEY: the
# first field, and the second when there are more), joined; false when it
# cannot tell.
differ() (
	set -o pipefail
	awk '
		{ k = (NF > 2) ? ($1 " " $2) : $1; v = substr($0, length(k) + 2) }
		NR == FNR { want[k] = v; order[++n] = k; next }
		!(k in want) { print k ": not wanted, got " v; next }
		{ got[k] = v }
		END {
			for (i = 1; i <= n; i++)
				if (!(order[i] in got))
					print order[i] ": want " want[order[i]] ", got nothing"
				else if (got[order[i]] != want[order[i]])
					print order[i] ": want " want[order[i]] ", got " got[order[i]]
		}' "$1" "$2" | joined
)

# sleep_ms MS
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# lockstep_bg OUT ERR ARGS...: `lockstep ARGS --state $ST --json` in the
# background with the trial's environment; its pid in $BGPID.
lockstep_bg() {
	local out=$1 err=$2
	shift 2
	CRASH_MARK=$MARK CRASH_DB=$ST/lockstep.db CRASH_LEDGER=$D/ledger CRASH_PIDS=$D/pids \
		"$LOCKSTEP" "$@" --state "$ST" --json >"$out" 2>"$err" </dev/null &
	BGPID=$!
}

# reap PID [BOUND]: waits (bounded, RUN_BOUND s by default) for the end
# of a background lockstep; its exit status in $rc (124, and a SIGKILL,
# when it did not end in time).
reap() {
	if wait_until "${2:-$RUN_BOUND}" not_running "$1"; then
		{ wait "$1"; } 2>/dev/null
		rc=$?
	else
		kill -KILL "$1" 2>/dev/null
		{ wait "$1"; } 2>/dev/null
		rc=124
	fi
}

# crash PID: SIGKILLs it (and the supervisor, with $KILL_SUP) and reaps
# it; true when it was still running then. The supervisor's pid, when its
# file is there, in $SUP.
crash() {
	SUP=$(cat "$ST/supervise/$RUN_ID/pid" 2>/dev/null)
	if [ -n "${KILL_SUP:-}" ]; then
		kill -KILL "$1" "$SUP" 2>/dev/null
	else
		kill -KILL "$1" 2>/dev/null
	fi
	{ wait "$1"; } 2>/dev/null
	[ $? -eq 137 ]
}

# run_status: the run's status in the store (running when its owner died).
run_status() {
	sqlite3 -cmd '.timeout 10000' "$ST/lockstep.db" "SELECT status FROM runs WHERE id = $RUN_ID" 2>&1
}

# started_only: the attempts of the ledger that started and did not run
# to their end. in_flight: those of them whose process is alive.
started_only() {
	awk '$2 == "start" { s[$1] = 1 } $2 == "done" { delete s[$1] } END { for (k in s) print k }' "$D/ledger"
}
in_flight() {
	local k p
	for k in $(started_only); do
		p=$(cat "$D/pids/$(tr / . <<<"$k")" 2>/dev/null)
		[ -n "$p" ] && alive "$p" && echo "$k"
	done
	return 0
}

# one_ended ATTEMPT...: one of these attempts has ended (its process is
# gone, or it wrote its done line).
one_ended() {
	local k p
	for k in "$@"; do
		grep -qx "$k done" "$D/ledger" && return 0
		p=$(cat "$D/pids/$(tr / . <<<"$k")" 2>/dev/null)
		[ -n "$p" ] && ! alive "$p" && return 0
	done
	return 1
}

# left: what of the trial's run is alive: processes with its mark or its
# token in their environment, and its supervisor.
left() {
	local token f p
	token=$(sqlite3 -cmd '.timeout 10000' "$ST/lockstep.db" "SELECT token FROM runs WHERE id = $RUN_ID" 2>/dev/null)
	{
		for f in $(grep -lzx -e "CRASH_MARK=$MARK" ${token:+-e "LOCKSTEP_RUN_TOKEN=$token"} /proc/[0-9]*/environ 2>/dev/null); do
			p=${f#/proc/}
			echo "${p%/environ}"
		done
		[ -n "$SUP" ] && echo "$SUP"
	} | sort -un | while read -r p; do
		alive "$p" && echo "$p"
	done
}

# resume_run K: `lockstep resume RUN` number K of the trial, to its end
# (bounded); $rc.
resume_run() {
	lockstep_bg "$D/resume.$1" "$D/resume.$1.err" resume "$RUN_ID"
	reap "$BGPID"
	[ "$rc" -ne 124 ] || fail "lockstep resume did not end within $RUN_BOUND s"
}

# after_resume PIPELINE: checks 1 to 7 once the run has been resumed
# (resume's exit status in $rc).
after_resume() {
	local ref=$tmp/ref/$1 resume_rc=$rc why pids q
	# 1. Nothing of the run is alive (first: the resume has just returned).
	pids=$(left)
	if [ -z "$pids" ]; then
		pass "nothing of the run is alive after the resume${SUP:+ (nor its supervisor, pid $SUP)}"
	else
		fail "alive after the resume: $(for q in $pids; do printf '[%s: %s] ' "$q" "$(tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null)"; done)"
		for q in $pids; do kill -KILL "$q" 2>/dev/null; done
	fi

	"$LOCKSTEP" show "$RUN_ID" --state "$ST" --json >"$D/after.json" 2>"$D/after.err"
	jq -r "$FACTS" "$D/after.json" >"$D/facts" 2>>"$D/after.err"
	echo "exit $resume_rc" >>"$D/facts"

	# 2. No step that had finished ran again.
	why=$(
		set -o pipefail
		awk '
		NR == FNR { ref[$0] = 1; next }
		{
			split($1, k, "/"); s = k[1] "/" k[2]; a = k[3] + 0
			if (++seen[$0] == 2)
				print $0 " twice"
			if ($2 == "start" && !($0 in ref) && (s in done) && done[s] < a)
				print $0 " after " s "/" done[s] " had run to its end"
			if ($2 == "done" && (!(s in done) || done[s] < a))
				done[s] = a
		}' "$ref.ledger" "$D/ledger" | joined
	) || why="cannot compare the ledgers"
	if [ -z "$why" ]; then
		pass "no step that had finished ran again"
	else
		fail "a step that had finished ran again: $why"
	fi

	# 3. The same attempts as in the reference, each run to its end as there.
	local missing extra
	missing=$(set -o pipefail; comm -23 <(sort "$ref.ledger") <(sort "$D/ledger") | joined) ||
		missing="cannot compare the ledgers"
	extra=$(set -o pipefail; comm -13 <(sort "$ref.ledger") <(sort "$D/ledger") | joined) ||
		extra="cannot compare the ledgers"
	if [ -z "$missing$extra" ]; then
		pass "the steps ran as in the reference: $(grep -c ' start$' "$D/ledger") attempts, none killed, none added"
	else
		fail "the steps did not run as in the reference (killed, or run again):${missing:+ not in the ledger: [$missing]}${extra:+ not in the reference: [$extra]}"
	fi

	# 4. Every attempt recorded with its real result.
	grep '^attempts ' "$ref.facts" >"$D/want.attempts"
	grep '^attempts ' "$D/facts" >"$D/got.attempts"
	why=$(differ "$D/want.attempts" "$D/got.attempts") || why="cannot compare the attempts"
	if [ -z "$why" ]; then
		pass "every attempt has its real result (status, exit code)"
	else
		fail "attempts recorded otherwise than in the reference (ATTEMPT:STATUS:EXIT): $why"
	fi

	# 5. No spurious failure.
	grep -v '^attempts ' "$ref.facts" >"$D/want.facts"
	grep -v '^attempts ' "$D/facts" >"$D/got.facts"
	why=$(differ "$D/want.facts" "$D/got.facts") || why="cannot compare the facts"
	if [ -z "$why" ]; then
		pass "ends as the reference: $(head -1 "$D/facts"), exit $resume_rc"
	else
		fail "ends otherwise than the reference (a spurious failure): $why"
		# What the resume said of the take-over.
		grep -h '^lockstep' "$D"/resume.*.err 2>/dev/null | head -8 | sed 's/^/     ! /'
	fi

	# 6. The events in the store: seq 1..N ...
	local seqs n
	seqs=$(sqlite3 -cmd '.timeout 10000' "$ST/lockstep.db" "SELECT seq FROM events WHERE run = $RUN_ID ORDER BY seq" 2>&1)
	n=$(grep -c . <<<"$seqs")
	if [ "$n" -gt 0 ] && [ "$seqs" = "$(seq 1 "$n")" ]; then
		pass "the $n events of the run are seq 1..$n"
	else
		fail "the events' seq have holes: $(tr '\n' ' ' <<<"$seqs" | head -c 400)"
	fi

	# ... and the stream meets the contract of `run --json`.
	why=$(jq -r "$CONTRACT" "$D/after.json" 2>&1) || why="cannot read the events (jq): $why"
	if [ -z "$why" ]; then
		pass "the run's events meet the contract of run --json"
	else
		fail "the run's events break the contract of run --json: $why"
	fi

	# 7. The output of every attempt that ran to its end is in its log.
	local k w s a
	while read -r k _; do
		IFS=/ read -r w s a <<<"$k"
		grep -qx "$k: ends [0-9]*" "$ST/logs/$RUN_ID/$w/$s.$a.log" 2>/dev/null || echo "$k"
	done < <(grep ' done$' "$D/ledger") >"$D/unlogged"
	if [ ! -s "$D/unlogged" ]; then
		pass "the output of every attempt that ran to its end is in its log"
	else
		fail "output missing from the logs of: $(joined <"$D/unlogged" || echo "(cannot tell)")"
	fi
}

# trial N: one crash and its resume(s), with the points drawn for N.
trial() {
	local n=$1 p=${T_PIPE[$1]} mode=${T_MODE[$1]} at=${T_AT[$1]} at2=${T_AT2[$1]}
	SCENARIO=$(printf 'trial-%02d' "$n")
	D=$tmp/$SCENARIO
	ST=$D/state
	MARK=$MARK_PREFIX$n
	SUP=""
	mkdir -p "$D/pids"
	: >"$D/ledger"
	case $mode in
	now) echo "# $SCENARIO: $p, run killed at +$at ms (of ${REF_MS[$p]}), resumed at once" ;;
	late) echo "# $SCENARIO: $p, run killed at +$at ms (of ${REF_MS[$p]}), resumed once a step in flight has ended" ;;
	twice) echo "# $SCENARIO: $p, run killed at +$at ms (of ${REF_MS[$p]}), its resume killed $at2 ms after its run.resumed, resumed again" ;;
	esac
	lockstep_bg "$D/events" "$D/err" run "$PIPES/$p.yml"
	local pid=$BGPID
	if ! wait_until 10 grep -q '"event":"run.started"' "$D/events"; then
		fail "no run.started within 10 s"
		kill -KILL "$pid" 2>/dev/null
		return
	fi
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$D/events" | head -1)
	sleep_ms "$at"
	local killed=1 st
	crash "$pid" || killed=""
	st=$(run_status)
	if [ -z "$killed" ] || [ "$st" != running ]; then
		# Not a crash of a live run: not counted as a trial.
		echo "  (void: the run had ended by +$at ms: $st)"
		return
	fi
	echo crashed >"$D/crashed"
	local flying
	flying=$(in_flight | sort | tr '\n' ' ')
	echo "  (recorded: $(event_count) events; in flight at the kill: ${flying:-nothing})"
	if [ "$mode" = late ] && [ -n "$flying" ]; then
		# shellcheck disable=SC2086
		wait_until 10 one_ended $flying || fail "no step in flight at the kill ended within 10 s"
	fi
	if [ "$mode" = twice ]; then
		lockstep_bg "$D/resume.1" "$D/resume.1.err" resume "$RUN_ID"
		local rpid=$BGPID
		if wait_until 10 grep -qs '"event":"run.resumed"' "$D/resume.1"; then
			sleep_ms "$at2"
			local rkilled=""
			crash "$rpid" && rkilled=1
			if [ "$rkilled" ] && [ "$(run_status)" = running ]; then
				echo "  (resume killed; in flight then: $(in_flight | sort | tr '\n' ' '))"
				resume_run 2
			elif [ "$rkilled" ]; then
				# Killed after it had recorded the run's end (it was
				# still on its way out): the run ended as recorded.
				st=$(run_status)
				case $st in succeeded) rc=0 ;; failed) rc=1 ;; aborted) rc=130 ;; *) rc=$st ;; esac
				echo "  (the resume had finished the run before the kill: $st)"
			else
				reap "$rpid"
				echo "  (the resume had ended by +$at2 ms: exit $rc)"
			fi
		else
			fail "the first resume printed no run.resumed within 10 s"
			reap "$rpid"
		fi
	else
		resume_run 1
	fi
	after_resume "$p"
}

# event_count: how many events of the run the store has.
event_count() {
	sqlite3 -cmd '.timeout 10000' "$ST/lockstep.db" "SELECT count(*) FROM events WHERE run = $RUN_ID" 2>&1
}

# ---- reference runs ----

declare -A REF_MS
mkdir -p "$tmp/ref"
for p in $PIPELINES; do
	scenario "reference-$p"
	D=$tmp/$SCENARIO
	ST=$STATE
	mkdir -p "$D/pids"
	: >"$D/ledger"
	CRASH_MARK=${MARK_PREFIX}ref CRASH_DB=$ST/lockstep.db CRASH_LEDGER=$D/ledger CRASH_PIDS=$D/pids \
		run_json "$PIPES/$p.yml"
	cp "$D/ledger" "$tmp/ref/$p.ledger"
	"$LOCKSTEP" show "$RUN_ID" --state "$ST" --json >"$D/show.json"
	{
		jq -r "$FACTS" "$D/show.json"
		echo "exit $rc"
	} >"$tmp/ref/$p.facts"
	check_stream
	REF_MS[$p]=$(jq -r "$JQ_DEFS"' (RF | ms) - (.[0] | ms)' -s "$EVENTS")
	expect "every attempt that started ran to its end, but the one a timeout killed" \
		test "$(started_only)" = "$([ "$p" = crash-retry ] && echo b/push/1)"
	case $p in
	crash-ok)
		want="succeeded a=succeeded b=succeeded c=succeeded d=succeeded built=passed live=passed"
		expect_rc 0 "the run succeeds"
		;;
	crash-fail)
		want="failed a=rolled-back b=rolled-back c=rolled-back d=skipped built=passed live=broken reverted=passed"
		expect_rc 1 "the run fails"
		check "b's deploy broke live; c's undo ran after reverted passed" \
			'B("live").origin == "b" and lt(P("reverted"); S("c"; "undo"))'
		;;
	crash-retry)
		want="succeeded a=succeeded b=succeeded ready=passed"
		expect_rc 0 "the run succeeds"
		expect_eq "a's fetch and b's verify failed once, b's push timed out once, then all succeeded" \
			"$(sed -n 's/^attempts \([ab]\/[a-z]*\) /\1 /p' "$tmp/ref/$p.facts" | tr '\n' ';')" \
			"a/fetch 1:failed:1 2:succeeded:0;a/push 1:succeeded:0;b/fetch 1:succeeded:0;b/push 1:timed-out:null 2:succeeded:0;b/verify 1:failed:1 2:succeeded:0;"
		;;
	esac
	got=$(jq -r '"\(.status) " + ([.workflows[] | "\(.workflow)=\(.status)"] + [.barriers[] | "\(.barrier)=\(.status)"] | join(" "))' "$D/show.json")
	expect_eq "ends as designed, in ${REF_MS[$p]} ms" "$got" "$want"
	"$LOCKSTEP" plan "$PIPES/$p.yml" --format json >"$tmp/ref/$p.plan.json"
done

# The scan for what is left finds a process by its mark (and only it).
scenario scan
MARK=${MARK_PREFIX}probe
ST=$STATE
SUP=""
CRASH_MARK=$MARK sleep 60 &
probe=$!
BG_PIDS+=("$probe")
expect "the scan of /proc finds a process by the mark in its environment" test "$(left)" = "$probe"
kill -KILL "$probe"
{ wait "$probe"; } 2>/dev/null
BG_PIDS=()
expect "... and nothing once it is gone" test -z "$(left)"

# ---- the trials ----

# 18 rounds of the three pipelines: in rounds 9 and 18 the resume is
# killed too; in the others the resume comes at once or once a step in
# flight has ended, in turn. The run is killed 2% to 90% into the
# reference's duration, the resume 0% to 90% into what was left of it.
T_PIPE=() T_MODE=() T_AT=() T_AT2=()
n=0
for round in $(seq 1 18); do
	i=0
	for p in $PIPELINES; do
		n=$((n + 1))
		i=$((i + 1))
		T_PIPE[n]=$p
		if [ $((round % 9)) -eq 0 ]; then
			T_MODE[n]=twice
		elif [ $(((round + i) % 2)) -eq 0 ]; then
			T_MODE[n]=now
		else
			T_MODE[n]=late
		fi
		T_AT[n]=$((REF_MS[$p] * (20 + RANDOM % 881) / 1000))
		T_AT2[n]=$(((REF_MS[$p] - T_AT[n]) * (RANDOM % 901) / 1000))
	done
done
mapfile -t TRIALS < <(seq 1 "$n")
if [ -n "${LOCKSTEP_TRIAL:-}" ]; then
	if ! [[ $LOCKSTEP_TRIAL =~ ^[1-9][0-9]*$ ]] || [ "$LOCKSTEP_TRIAL" -gt "$n" ]; then
		fail "LOCKSTEP_TRIAL=$LOCKSTEP_TRIAL: there are trials 1 to $n"
		finish
		exit 1
	fi
	TRIALS=("$LOCKSTEP_TRIAL")
fi

# At the end, whatever a trial left: its subshell, and every process with
# a mark of this script.
TRIAL_PIDS=()
cleanup_trials() {
	local p f
	for p in "${TRIAL_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for f in $(grep -lz "^CRASH_MARK=$MARK_PREFIX" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		kill -KILL "${p%/environ}" 2>/dev/null
	done
	return 0
}
at_exit cleanup_trials

# start_trial N: trial N in a subshell of its own, its output in a file.
declare -A TPID
start_trial() {
	(trial "$1") >"$tmp/trial.$1.out" 2>&1 &
	TPID[$1]=$!
	TRIAL_PIDS+=($!)
}
# absorb FILE: prints what a trial printed and counts its results here.
absorb() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"ok - "*) PASSED=$((PASSED + 1)) ;;
		"FAIL - "*)
			FAILED=$((FAILED + 1))
			FAILURES+=("${line#FAIL - }")
			;;
		esac
	done <"$1"
}

T0=$(now_ms)
for ((j = 0; j < ${#TRIALS[@]} && j < LANES; j++)); do
	start_trial "${TRIALS[j]}"
done
for ((j = 0; j < ${#TRIALS[@]}; j++)); do
	t=${TRIALS[j]}
	# A trial's own waits are bounded: this bound is a guard.
	if ! wait_until 120 not_running "${TPID[$t]}"; then
		kill -KILL "${TPID[$t]}"
		echo "FAIL - trial $t did not end within 120 s" >>"$tmp/trial.$t.out"
	fi
	wait "${TPID[$t]}"
	absorb "$tmp/trial.$t.out"
	[ $((j + LANES)) -lt ${#TRIALS[@]} ] && start_trial "${TRIALS[j + LANES]}"
done
SCENARIO=""
crashed=$(find "$tmp" -maxdepth 2 -name crashed | wc -l)
echo "# ${#TRIALS[@]} trials in $((($(now_ms) - T0) / 1000)) s, $crashed of them crashed a live run"
if [ -z "${LOCKSTEP_TRIAL:-}" ]; then
	expect "at least 50 trials crashed a live run ($crashed)" test "$crashed" -ge 50
fi
# How many trials failed each check (a check has a result only in the
# trials that crashed a live run).
tally() { # DESCRIPTION PATTERN
	local f k=0
	for f in "${FAILURES[@]}"; do
		case $f in trial-*": $2"*) k=$((k + 1)) ;; esac
	done
	echo "#   $1: $k"
}
echo "# trials that failed each check, of $crashed:"
tally "a step that had finished ran again" "a step that had finished ran again"
tally "steps in flight not waited for (killed, or run again)" "the steps did not run as"
tally "attempts without their real result" "attempts recorded otherwise"
tally "spurious failures (statuses, barriers, exit status)" "ends otherwise than the reference"
tally "processes left" "alive after the resume"
tally "holes in the events' seq" "the events' seq have holes"
tally "events against the contract of run --json" "the run's events break the contract"
tally "output missing from logs" "output missing from the logs"

# ---- the supervisor killed with lockstep run ----

# supervisor_case NAME PIPELINE ATTEMPT: runs the pipeline, and once
# ATTEMPT (W/S/A) runs, SIGKILLs `lockstep run` and the run's supervisor
# at once; then resumes the run. What was in flight then (the record's
# step.started without their step.finished) is interrupted: each run step
# in flight ends that attempt failed, without an exit code, and is
# retried if it has retries left, else its workflow fails with the reason
# "failed at step 'S' (interrupted)" and so does the run (exit 1). When
# every step in flight was retried, the run ends as the reference did.
supervisor_case() {
	scenario "$1"
	D=$tmp/$1
	ST=$D/state
	MARK=$MARK_PREFIX$1
	SUP=""
	local p=$2 pid
	mkdir -p "$D/pids"
	: >"$D/ledger"
	lockstep_bg "$D/events" "$D/err" run "$PIPES/$p.yml"
	pid=$BGPID
	BG_PIDS+=("$pid")
	if ! wait_until 10 grep -qsx "$3 start" "$D/ledger"; then
		fail "$3 did not start within 10 s"
		return
	fi
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$D/events" | head -1)
	if ! wait_until 2 test -s "$ST/supervise/$RUN_ID/pid"; then
		fail "no supervisor pid file (STATE/supervise/$RUN_ID/pid) while $3 runs: the steps' supervisor could not be killed, the interrupted path was not checked"
		crash "$pid"
		BG_PIDS=()
		resume_run 1
		local pids
		pids=$(left)
		expect "nothing of the run is alive after the resume ($pids)" test -z "$pids"
		return
	fi
	if KILL_SUP=1 crash "$pid"; then
		pass "lockstep run (pid $pid) and its supervisor (pid $SUP) killed while $3 ran"
	else
		fail "lockstep run had ended before $3 ended"
	fi
	BG_PIDS=()
	expect "the supervisor is gone" wait_until 5 not_running "$SUP"
	"$LOCKSTEP" show "$RUN_ID" --state "$ST" --json >"$D/before.json"
	K=$(jq '.events | length' "$D/before.json")
	resume_run 1
	local resume_rc=$rc
	"$LOCKSTEP" show "$RUN_ID" --state "$ST" --json >"$D/after.json"
	jq -r "$FACTS" "$D/after.json" >"$D/facts"
	echo "exit $resume_rc" >>"$D/facts"
	cp "$D/after.json" "$EVENTS.show"
	jq -c '.events[]' "$D/after.json" >"$EVENTS"
	# W/S A RETRIES of each run step in flight at the kill.
	local flying
	flying=$(jq -r --argjson k "$K" --slurpfile plan "$tmp/ref/$p.plan.json" '
		def key: "\(.workflow)/\(.step)";
		. as $d | .events[:$k] as $pre
		| [$pre[] | select(.event == "step.started")]
		| map(. as $s | select(all($pre[]; (.event == "step.finished" and key == ($s | key)) | not)))[]
		| select(. as $s | $d.workflows[] | select(.workflow == $s.workflow) | .steps[] | select(.step == $s.step) | .kind == "run")
		| . as $s | "\(key) \(.attempt) \($plan[0].workflows[] | select(.workflow == $s.workflow) | (.steps + .rollback)[] | select(.id == $s.step) | .retries)"' \
		"$D/after.json")
	expect "run steps were in flight at the kill: $(tr '\n' ',' <<<"$flying")" test -n "$flying"
	local k a r fatal=""
	while read -r k a r; do
		[ -n "$k" ] || continue
		expect "$k attempt $a, in flight, ended failed without an exit code" \
			jq_true --arg k "$k" --argjson a "$a" \
			'[.workflows[] | .workflow as $w | .steps[] | select("\($w)/\(.step)" == $k) | .attempts[] | select(.attempt == $a)][0] | .status == "failed" and .exit_code == null' \
			"$D/after.json"
		if [ "$a" -le "$r" ]; then
			expect "$k (retries: $r) was retried after the resume: attempt $((a + 1))" \
				jq_true --arg k "$k" --argjson a "$a" --argjson n "$K" \
				'any(.events[$n:][]; .event == "step.started" and "\(.workflow)/\(.step)" == $k and .attempt == $a + 1)' "$D/after.json"
		else
			fatal=1
			expect "${k%%/*} failed with the reason \"failed at step '${k#*/}' (interrupted)\"" \
				jq_true --arg w "${k%%/*}" --arg s "${k#*/}" \
				'.workflows[] | select(.workflow == $w) | .reason == "failed at step '"'"'\($s)'"'"' (interrupted)"' "$D/after.json"
		fi
	done <<<"$flying"
	if [ -n "$fatal" ]; then
		rc=$resume_rc
		expect_rc 1 "a step without retries was interrupted: the run fails (exit 1)"
		expect "... recorded failed" test "$(head -1 "$D/facts")" = "status failed"
	else
		grep -v '^attempts ' "$tmp/ref/$p.facts" >"$D/want.facts"
		grep -v '^attempts ' "$D/facts" >"$D/got.facts"
		expect_eq "every step in flight was retried: the run ends as the reference" "$(differ "$D/want.facts" "$D/got.facts" || echo "cannot compare the facts")" ""
	fi
	local pids seqs nev
	pids=$(left)
	expect "nothing of the run is alive after the resume ($pids)" test -z "$pids"
	seqs=$(sqlite3 -cmd '.timeout 10000' "$ST/lockstep.db" "SELECT seq FROM events WHERE run = $RUN_ID ORDER BY seq")
	nev=$(grep -c . <<<"$seqs")
	expect "the $nev events of the run are seq 1..$nev" test "$seqs" = "$(seq 1 "$nev")"
}

if [ -z "${LOCKSTEP_TRIAL:-}" ]; then
	# crash-ok: c's build has no retries (nor have the others in flight).
	supervisor_case supervisor-killed-no-retries crash-ok c/build/1
	# crash-retry: b's fetch (retries 1) and a's fetch (retries 2) in flight.
	supervisor_case supervisor-killed-retried crash-retry b/fetch/1
fi

finish
