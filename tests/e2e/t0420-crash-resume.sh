#!/bin/bash
# t0420-crash-resume: `lockstep run` killed with SIGKILL (a crash, an OOM
# kill) at 23 points of tests/e2e/crash/pipeline.yml (p01-p22, p30), then
# taken over by `lockstep resume`: three workflows meeting at two barriers,
# retries, a wait step, rollbacks ordered by a rollback barrier, and a
# second group whose two workflows meet at a third barrier; with --var
# fail=web-deploy (`live` breaks) and --var fail=api-build (`ready` breaks)
# for the points where barriers break and workflows roll back.
#
# The kill comes right after the Nth event of a type (optionally of one
# workflow, step or barrier) that `run --json` printed, read from a fifo.
# What is in flight then is decided by the test: every run step waits at
# its gate (tests/e2e/crash/bin/step) unless the test opened it before the
# run; the others are opened once the resume has ended what the dead run
# left running. For each point:
#   1. the database opens: `runs --json` and `show RUN --json` work;
#   2. the run shows as interrupted;
#   3. every event printed before the kill is recorded, the same, at the
#      same seq;
#   4. `lockstep resume` ends the run as docs/pipeline-format.md (barrier semantics, on-failure) says: the expected
#      status of the run, of each workflow and of each barrier, and the
#      exit status (a run step interrupted without retries fails with a
#      reason saying "interrupted"; barrier and wait steps go on);
#   5. no step that had finished before the kill runs again (each step
#      counts its runs in a marker file), and nothing runs behind
#      lockstep's back (runs <= attempts);
#   6. nothing of the run is alive afterwards: not the steps the dead run
#      left waiting at their gates, not the daemon db's migration started
#      in a new session (every step process carries CR_MARK=$MARK in its
#      environment, found in /proc/*/environ);
#   7. the events go on after the recorded ones: run.resumed first, seq
#      without gaps or duplicates, what resume printed is what is
#      recorded, and the whole stream meets the contract of `run --json`.
# Then: `lockstep abort` of an interrupted run, compared with `lockstep
# abort` of the same run alive (p23), and with a rollback that fails
# (p24); an abort interrupted, then resumed (p25, p26); a run killed
# twice, its resume too, and resumed again (p27); a leftover that ignores
# SIGTERM (p28); a barrier timeout across the crash (p29,
# crash/timeout.yml); some points again with every event committed alone
# (LOCKSTEP_EVENT_BATCH=1), so that the kill lands half-way through the
# engine's reactions; a kill right after run.finished (p31: the daemons
# are already gone); resume and abort of runs that are not interrupted.
# Reference runs without a kill check the expectations against the
# pipeline as it really behaves.
#
# Bugs this test found in lockstep e2ddbbb: p25, p26 (a resumed abort
# ended `failed`) and p30-batch1 (the resume aborted on a workflow
# released by a rollback barrier); see there.
#
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR; LOCKSTEP_KEEP=DIR keeps a
# copy of the scratch directory (events, show documents, markers) in DIR.
# Needs jq, timeout, setsid.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"
need setsid

unset LOCKSTEP_STATE CR_MARK
cp -R "$E2E_DIR/crash" "$tmp/crash"
PIPE=$tmp/crash/pipeline.yml
# Every process of these runs has this in its environment, and only they:
# it is given to each lockstep command, never exported to the test's tools.
MARK="t0420-${tmp##*/}"
STEPS="db-migrate api-build web-build api-deploy web-deploy db-undo api-undo web-undo smoke-test smoke-undo report-send report-undo"
export CR_OUT CR_GATES
WAITING=""
ON_EVENT=""
STUBBORN=""

# marked_pids: the live (not zombie) processes carrying $MARK.
marked_pids() { pids_with_env "CR_MARK=$MARK"; }
none_alive() { # PID...: none of them is alive
	local p
	for p in "$@"; do
		alive "$p" && return 1
	done
	return 0
}
cleanup_crash() {
	local p
	for p in $(marked_pids); do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}
at_exit cleanup_crash

# Expected ends: the run's status, each workflow's, each barrier's (in the
# order of `show --json`). OK: everything succeeds. FW: web's deploy fails,
# `live` breaks, group 1 rolls back in order (`reverted` passes), group 2
# is skipped. FA: api's build fails, `ready` (and `live`, which api can no
# longer reach) break.
OK="succeeded db=succeeded api=succeeded web=succeeded smoke=succeeded report=succeeded ready=passed live=passed checked=passed reverted=passed"
FW="failed db=rolled-back api=rolled-back web=rolled-back smoke=skipped report=skipped ready=passed live=broken checked=passed reverted=passed"
FA="failed db=rolled-back api=rolled-back web=rolled-back smoke=skipped report=skipped ready=broken live=broken checked=passed reverted=passed"

SUMMARY='"\(.status) " + ([.workflows[] | "\(.workflow)=\(.status)"] + [.barriers[] | "\(.barrier)=\(.status)"] | join(" "))'

# jq definitions over a `show --json` document and $k, the number of
# events recorded when the run was killed.
CR_DEFS='
def key: [.workflow, .step, (.rollback // false)];
def kind($d): key as $x | first($d.workflows[] | select(.workflow == $x[0]) | .steps[] | select(.step == $x[1] and .rollback == $x[2]) | .kind);
def pre($k): .events[:$k];
def post($k): .events[$k:];
def inflight($k): pre($k) as $b | [$b[] | select(.event == "step.started")]
	| map(. as $s | select(all($b[]; (.event == "step.finished" and key == ($s | key) and .seq > $s.seq) | not)));
def done_ok($k): [pre($k)[] | select(.event == "step.finished" and .status == "succeeded")];
def t: .ts | capture("^(?<s>[^.]+)\\.(?<ms>[0-9]{3})Z$") | ((.s + "Z" | fromdateiso8601) * 1000 + (.ms | tonumber));
'

# point NAME VARIANT "HELD..." EVENT N FILTER ["WAITING..." [RUN_ARGS...]]:
# a scenario.
# Opens every gate but those of the HELD steps, runs the pipeline
# (VARIANT: ok, or the step to fail) and kills it right after the Nth
# EVENT whose line contains FILTER; or, when WAITING steps are named, once
# they also wait at their gates (so that they are certainly running).
# Then checks 1-3 and records what the dead run left running.
point() {
	setup_point "$1" "$2" "$3"
	WAITING=${7:-}
	run_and_kill "$4" "$5" "$6" "$EVENTS" "$ERR" run "$PIPE" "${VAR[@]}" "${@:8}"
	WAITING=""
	RUN_ID=$(head -1 "$EVENTS" | jq -r .run 2>/dev/null)
	after_kill
}

# setup_point NAME VARIANT "HELD...": the scenario, its gates, VAR; the
# steps in $STUBBORN ignore SIGTERM.
setup_point() {
	scenario "$1"
	CR_OUT=$OUT
	CR_GATES=$tmp/$1/gates
	mkdir -p "$CR_GATES"
	local s
	for s in $STEPS; do
		case " $3 " in *" $s "*) ;; *) : >"$CR_GATES/$s" ;; esac
	done
	for s in $STUBBORN; do
		: >"$CR_GATES/$s.stubborn"
	done
	VAR=()
	[ "$2" = ok ] || VAR=(--var "fail=$2")
	KILLS=()
}

# runs_of STEP: how many times the step ran (its marker file's lines).
runs_of() {
	if [ -f "$OUT/$1.runs" ]; then
		grep -c . "$OUT/$1.runs"
	else
		echo 0
	fi
}

# run_and_kill EVENT N FILTER OUT ERR ARGS...: `lockstep ARGS --json` with
# its events read from a fifo, line by line, into OUT; SIGKILL right after
# the Nth EVENT whose line contains FILTER (and once the steps in $WAITING
# wait at their gates). KILLED says whether it came to that (else it is
# killed when it prints nothing for RUN_BOUND s, or ends). With ON_EVENT
# set, that function is called with the pid instead of the SIGKILL.
# (The shell's notice that the job was killed goes to /dev/null.)
run_and_kill() { run_and_kill_ "$@" 2>/dev/null; }
run_and_kill_() {
	local ev=$1 want=$2 filt=$3 out=$4 err=$5 n=0 line pid
	shift 5
	local fifo=$tmp/$SCENARIO/fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	CR_MARK=$MARK "$LOCKSTEP" "$@" --state "$STATE" --json >"$fifo" 2>"$err" </dev/null &
	pid=$!
	BG_PIDS+=("$pid")
	exec 3<"$fifo"
	: >"$out"
	KILLED=""
	while IFS= read -r -t "$RUN_BOUND" line <&3; do
		printf '%s\n' "$line" >>"$out"
		case $line in *"\"event\":\"$ev\""*) ;; *) continue ;; esac
		case $line in *"$filt"*) ;; *) continue ;; esac
		n=$((n + 1))
		if [ "$n" -eq "$want" ]; then
			# shellcheck disable=SC2086
			[ -z "$WAITING" ] || wait_until 10 waiting_at_gates $WAITING ||
				fail "$WAITING never waited at their gates"
			if [ -n "${ON_EVENT:-}" ]; then
				"$ON_EVENT" "$pid"
			else
				# The steps are lost with it (t0460 checks their adoption).
				crash_all "$pid" "$STATE"
			fi
			KILLED=1
			break
		fi
	done
	[ -n "$KILLED" ] || kill -KILL "$pid" 2>/dev/null
	# What it printed between the event and the signal (or the end).
	timeout "$RUN_BOUND" cat <&3 >>"$out"
	exec 3<&-
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	BG_PIDS=()
	if [ -n "$KILLED" ]; then
		pass "${ON_EVENT:-killed with SIGKILL} after $ev #$want${filt:+ ($filt)} ($(wc -l <"$out") events printed)"
	else
		fail "never saw $ev #$want${filt:+ ($filt)} (exit $rc)"
		show_events
	fi
}

# after_kill [PRINTED OFFSET]: checks 1-3 on the killed run: the events
# in PRINTED (default $EVENTS) are recorded from index OFFSET (default 0)
# on. K is then the number of events recorded, LEFT the processes the
# dead run left.
after_kill() {
	local printed=${1:-$EVENTS} off=${2:-0}
	cmd runs --state "$STATE" --json
	if [ "$rc" -eq 0 ] && jq -e --argjson r "$RUN_ID" '[.[] | select(.run == $r)] | length == 1' "$COUT" >/dev/null 2>&1; then
		pass "the database opens: runs --json lists run $RUN_ID"
	else
		fail "runs --json after the kill (exit $rc): $(head -c 300 "$CERR")"
	fi
	expect "runs: run $RUN_ID is interrupted" \
		jq_true --argjson r "$RUN_ID" '.[] | select(.run == $r) | .status == "interrupted" and .finished == null' "$COUT"
	cmd show "$RUN_ID" --state "$STATE" --json
	cp "$COUT" "$tmp/$SCENARIO/before.json"
	expect_rc 0 "show $RUN_ID --json after the kill"
	expect "show: interrupted" jq_true '.status == "interrupted"' "$COUT"
	local n
	n=$(grep -c . "$printed")
	if jq -e --slurpfile p "$printed" --argjson o "$off" '.events[$o:$o + ($p | length)] == $p' "$COUT" >/dev/null 2>&1; then
		pass "the $n events printed before the kill are all recorded, the same at the same seq"
	else
		fail "events printed before the kill are not all recorded as printed"
		jq -c --slurpfile p "$printed" --argjson o "$off" '[.events[$o:$o + ($p | length)][] | [.seq, .event]] as $r | [$p[] | [.seq, .event]] - $r' "$COUT" | head -c 600
		echo
	fi
	K=$(jq '.events | length' "$COUT")
	KILLS+=("$K")
	local s
	for s in $STEPS; do
		echo "$s $(runs_of "$s")"
	done >"$tmp/$SCENARIO/runs.$K"
	expect "the recorded events are seq 1..$K" jq_true '[.events[].seq] == [range(1; (.events | length) + 1)]' "$COUT"
	LEFT=$(marked_pids | tr '\n' ' ')
	# Sanity of the scan: the steps waiting at their gates are among them.
	# CR_HELD: those steps ("WF/STEP"), as a JSON array, for the checks.
	local f p held=""
	for f in "$OUT"/*.held; do
		[ -f "$f" ] || continue
		p=$(tail -n 1 "$f")
		if alive "$p"; then
			local n=${f##*/}
			n=${n%.held}
			held="$held${held:+,}\"${n%%-*}/${n#*-}\""
		fi
		for p in $(cat "$f"); do
			alive "$p" || continue
			case " $LEFT " in
			*" $p "*) ;;
			*) fail "step ${f##*/} (pid $p) is alive but not found by its mark" ;;
			esac
		done
	done
	export CR_HELD="[$held]"
	echo "  (recorded $K events; running then: $(jq -r --argjson k "$K" "$CR_DEFS"' [inflight($k)[] | "\(.workflow)/\(.step)#\(.attempt)"] | join(" ")' "$COUT"); left running: ${LEFT:-nothing}; held at gates: ${held:-none})"
}

# waiting_at_gates STEP...: the last run of each step waits at its gate.
waiting_at_gates() {
	local s p
	for s in "$@"; do
		p=$(tail -n 1 "$OUT/$s.held" 2>/dev/null)
		[ -n "$p" ] && alive "$p" || return 1
	done
}

# take_over resume|abort: runs `lockstep resume|abort RUN --json` in the
# background; waits until the processes the dead run left are gone (their
# gates are still closed: only a signal ends them), then opens the gates
# ($OPEN_GATES, by default every gate) and waits for the end. Exit status
# in $rc, events printed in $RES. With RIVAL set, a second `lockstep
# resume` starts at the same time: one of the two must take the run over,
# the other find it running (exit 1).
OPEN_GATES=open_all_gates
RIVAL=""
take_over() {
	MODE=$1
	local pids=() who
	for who in a ${RIVAL:+b}; do
		CR_MARK=$MARK "$LOCKSTEP" "$1" "$RUN_ID" --state "$STATE" --json >"$tmp/$SCENARIO/resumed.$who" \
			2>"$tmp/$SCENARIO/resumed.$who.err" </dev/null &
		pids+=($!)
		BG_PIDS+=($!)
	done
	if [ -n "$LEFT" ]; then
		# shellcheck disable=SC2086
		if wait_until 15 none_alive $LEFT; then
			pass "$1 ended the processes the dead run left ($LEFT)"
		else
			fail "$1 did not end the processes the dead run left: $(for p in $LEFT; do alive "$p" && printf '%s ' "$p"; done)"
		fi
	fi
	"$OPEN_GATES"
	local rcs=() p
	for p in "${pids[@]}"; do
		if wait_until 30 not_running "$p"; then
			wait "$p"
			rcs+=($?)
		else
			fail "$1 did not end within 30 s"
			kill -KILL "$p"
			wait "$p"
			rcs+=(124)
		fi
	done
	BG_PIDS=()
	RES=$tmp/$SCENARIO/resumed.a
	rc=${rcs[0]}
	[ -n "$RIVAL" ] || return 0
	local lost=""
	if [ "${rcs[1]}" -eq 1 ] && grep -q "is still running" "$tmp/$SCENARIO/resumed.b.err"; then
		lost=b
	elif [ "${rcs[0]}" -eq 1 ] && grep -q "is still running" "$tmp/$SCENARIO/resumed.a.err"; then
		lost=a
		RES=$tmp/$SCENARIO/resumed.b
		rc=${rcs[1]}
	fi
	if [ -n "$lost" ] && [ ! -s "$tmp/$SCENARIO/resumed.$lost" ]; then
		pass "of two resumes at once, one took the run over, the other found it running (exit 1, nothing printed)"
	else
		fail "two resumes at once: exit ${rcs[*]}; $(cat "$tmp/$SCENARIO"/resumed.?.err | grep 'lockstep resume:' | head -4)"
	fi
}

open_all_gates() {
	local s
	for s in $STEPS; do
		: >"$CR_GATES/$s"
	done
}

# xcheck DESCRIPTION JQ_EXPRESSION: true of the final `show --json`
# document ($tmp/SCENARIO/after.json), with $k the events recorded at the
# kill (K).
xcheck() {
	local got
	if got=$(jq -e -c --argjson k "$K" "$JQ_DEFS $CR_DEFS $2" "$AFTER" 2>&1); then
		pass "$1"
	else
		fail "$1 (jq: ${got:-no result})"
		show_events
	fi
}

# after_resume WANT_RC WANT_SUMMARY: checks 4-7 once the resume (or
# abort) has ended.
after_resume() {
	local want_rc=$1 want=$2
	expect_rc "$want_rc"
	AFTER=$tmp/$SCENARIO/after.json
	cmd show "$RUN_ID" --state "$STATE" --json
	cp "$COUT" "$AFTER"
	# From here on, $EVENTS is the whole stream as recorded (for lib.sh).
	jq -c '.events[]' "$AFTER" >"$EVENTS" 2>/dev/null
	local got
	got=$(jq -r "$SUMMARY" "$AFTER" 2>/dev/null)
	if [ "$got" = "$want" ]; then
		pass "ends as expected: $got"
	else
		fail "ends '$got', want '$want'"
		show_events
		sed 's/^/     ! /' "$RES.err" | head -30
	fi
	cmd runs --state "$STATE" --json
	expect "runs: the run is ${want%% *}, finished, with all its events" \
		jq_true --argjson r "$RUN_ID" --arg s "${want%% *}" --argjson n "$(grep -c . "$EVENTS")" \
		'.[] | select(.run == $r) | .status == $s and .finished != null and .events == $n' "$COUT"

	# logs and show read the run back: every attempt of every run step,
	# the dead run's and the resume's, in the order they started.
	cmd logs "$RUN_ID" --state "$STATE"
	local want_logs got_logs
	want_logs=$(jq -r '[.workflows[] | .workflow as $w | .steps[] | select(.kind == "run") | "\($w)/\(.step)"] as $run
		| .events[] | select(.event == "step.started" and ("\(.workflow)/\(.step)" | IN($run[])))
		| "==> \(.workflow)/\(.step) attempt \(.attempt)"' "$AFTER")
	got_logs=$(grep '^==> ' "$COUT" | sed -E 's/ attempt ([0-9]+).*/ attempt \1/')
	expect "logs: exit 0, one header per run step attempt, in the order they started" \
		test "$rc" -eq 0 -a "$got_logs" = "$want_logs"
	cmd show "$RUN_ID" --state "$STATE"
	expect "show: exit 0, the run ${want%% *}" grep -q "^run $RUN_ID of [a-z-]*: ${want%% *}$" "$COUT"

	# 7. The events go on.
	local istat=failed mode=$MODE
	[ "$MODE" = abort ] && istat=aborted
	xcheck "the first event after the kill is run.resumed (mode $mode), seq $((K + 1))" \
		".events[\$k] | .event == \"run.resumed\" and .mode == \"$mode\" and .seq == \$k + 1"
	check_stream
	xcheck "each workflow arrives at a barrier once; each barrier is decided once" \
		'([.events[] | select(.event == "barrier.arrived") | [.barrier, .workflow]] | length == (unique | length)) and ([.events[] | select(.event == "barrier.passed" or .event == "barrier.broken") | .barrier] | length == (unique | length))'
	# A step waiting at its gate when lockstep and its supervisor died was
	# lost with them: interrupted. One whose gate was open may have run to
	# its end before they died (its end journaled by the supervisor): it
	# then keeps its real result, with its exit code.
	xcheck "run steps running at the kill end right after the resume: $istat, no exit code (or, not held at a gate, their real end)" \
		". as \$d | (\$ENV.CR_HELD | fromjson) as \$held | all(inflight(\$k)[] | select(kind(\$d) == \"run\"); key as \$x | (\"\\(.workflow)/\\(.step)\" | IN(\$held[])) as \$h | first(\$d | post(\$k)[] | select(key == \$x and (.event == \"step.started\" or .event == \"step.finished\"))) | .event == \"step.finished\" and ((.exit_code == null and (.status == \"$istat\" or (.status == \"failed\" and .rollback == true))) or ((\$h | not) and .exit_code != null)))"
	xcheck "barrier and wait steps in progress at the kill go on: not started again, finished later" \
		'. as $d | all(inflight($k)[] | select(kind($d) != "run"); key as $x | ([$d | post($k)[] | select(key == $x and .event == "step.started")] | length == 0) and ([$d | post($k)[] | select(key == $x and .event == "step.finished")] | length == 1))'
	xcheck "a wait step in progress keeps its deadline: 400 ms after it started, or at once if past" \
		'. as $d | (.events[$k] | t) as $r | all(inflight($k)[] | select(.step == "settle"); key as $x | t as $s | (first($d | post($k)[] | select(key == $x and .event == "step.finished")) | t) as $f | $f - $s >= 390 and $f - ([$s + 400, $r] | max) < 400)'
	xcheck "no step that had finished starts again" \
		'. as $d | all(done_ok($k)[]; key as $x | [$d | post($k)[] | select(.event == "step.started" and key == $x)] | length == 0)'

	# What resume printed is exactly what was recorded after the kill.
	if jq -e --slurpfile p "$RES" --argjson k "$K" '.events[$k:] == $p' "$AFTER" >/dev/null 2>&1; then
		pass "$MODE printed exactly the events recorded after the kill ($(grep -c . "$RES"))"
	else
		fail "$MODE printed something else than what was recorded after the kill"
	fi

	# 5. Markers: a step that had finished at a kill did not run again
	# (its count of runs is what it was at the kill); none ran more often
	# than recorded.
	local kk name attempts okbefore runs atkill bad="" nok=0
	for kk in "${KILLS[@]}"; do
		while read -r name attempts okbefore; do
			runs=$(runs_of "$name")
			atkill=$(awk -v n="$name" '$1 == n { print $2 }' "$tmp/$SCENARIO/runs.$kk")
			if [ "$okbefore" = true ]; then
				nok=$((nok + 1))
				[ "$runs" -eq "$atkill" ] && [ "$atkill" -ge 1 ] ||
					bad="$bad $name: had finished when $kk events were recorded, after running $atkill times; ran $runs times in all;"
			fi
			[ "$runs" -le "$attempts" ] || bad="$bad $name: ran $runs times in $attempts attempts;"
		done < <(jq -r --argjson k "$kk" "$CR_DEFS"' . as $d | done_ok($k) as $ok | .workflows[] | .workflow as $w | .steps[] | select(.kind == "run")
			| . as $st | "\($w)-\(.step) \(.attempts | length) \(any($ok[]; .workflow == $w and .step == $st.step and (.rollback // false) == $st.rollback))"' "$AFTER" 2>/dev/null)
	done
	if [ -z "$bad" ]; then
		pass "the $nok run steps that had finished at the kill did not run again; none ran more often than recorded"
	else
		fail "$SCENARIO:$bad"
	fi

	# 6. Nothing of the run is left.
	local left
	left=$(marked_pids | tr '\n' ' ')
	if [ -z "$left" ]; then
		pass "nothing of the run is alive after the $MODE"
	else
		fail "alive after the $MODE: $(for p in $left; do printf '[%s: %s] ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done)"
		for p in $left; do kill -KILL "$p" 2>/dev/null; done
	fi
}

# resume_point WANT_RC WANT_SUMMARY [JQ_CHECK DESCRIPTION]...
resume_point() {
	take_over resume
	after_resume "$1" "$2"
	shift 2
	while [ $# -ge 2 ]; do
		xcheck "$2" "$1"
		shift 2
	done
}

# ---- reference runs, without a kill: the expectations are right ----
for v in ok web-deploy api-build; do
	scenario "reference-$v"
	CR_OUT=$OUT
	CR_GATES=$tmp/$SCENARIO/gates
	mkdir -p "$CR_GATES"
	open_all_gates
	var=()
	[ "$v" = ok ] || var=(--var "fail=$v")
	CR_MARK=$MARK run_json "$PIPE" "${var[@]}"
	case $v in ok) want=$OK w=0 ;; web-deploy) want=$FW w=1 ;; *) want=$FA w=1 ;; esac
	expect_rc "$w"
	check_stream
	got=$(jq -r "$SUMMARY" <("$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json))
	expect "ends '$got'" test "$got" = "$want"
	expect "nothing of the run is left (db's daemon died with it)" test -z "$(marked_pids)"
	[ "$v" = web-deploy ] && REF_FW_ID=$RUN_ID
done

# The points. Each is a function, so that the second round can run some
# again; $R is appended to the scenario names of that round.
R=""

# ---- group 1, building: whatever is running has retries ----
p01() {
	point "p01-run-started$R" ok "db-migrate api-build web-build" run.started 1 ""
	resume_point 0 "$OK"
}
p02() {
	point "p02-group-started$R" ok "db-migrate" group.started 1 ""
	resume_point 0 "$OK"
}
p03() {
	point "p03-workflow-started$R" ok "api-build web-build" workflow.started 3 ""
	resume_point 0 "$OK"
}
p04() {
	point "p04-step-started$R" ok "db-migrate api-build web-build" step.started 3 "" "db-migrate api-build web-build"
	resume_point 0 "$OK" \
		'[.events[] | select(.event == "step.started" and .step == "build" and .attempt == 2)] | length == 2' \
		"both builds, interrupted in their first attempt, ran a second one" \
		'[.events[] | select(.event == "step.started" and .step == "migrate" and .attempt == 2)] | length == 1' \
		"db's migration too"
}
# Two `lockstep resume` at once: one takes the run over.
p05() {
	point "p05-step-finished-1$R" ok "db-migrate web-build" step.finished 1 ""
	RIVAL=1
	resume_point 0 "$OK"
	RIVAL=""
}
p06() {
	point "p06-barrier-arrived-2$R" ok "web-build" barrier.arrived 2 ""
	resume_point 0 "$OK"
}

# ---- group 1, deploying: the deploys have retries, db waits (wait step) ----
p07() {
	point "p07-barrier-passed-1$R" ok "api-deploy web-deploy" barrier.passed 1 "" "api-deploy web-deploy"
	resume_point 0 "$OK"
}
p08() {
	point "p08-step-started-9$R" ok "web-deploy" step.started 9 ""
	resume_point 0 "$OK"
}
p09() {
	point "p09-step-finished-7$R" ok "web-deploy" step.finished 7 ""
	resume_point 0 "$OK"
}
p10() {
	point "p10-barrier-arrived-5$R" ok "web-deploy" barrier.arrived 5 ""
	resume_point 0 "$OK"
}

# ---- group 2 ----
# smoke's test has no retries: interrupted, it fails, `checked` breaks
# (report waits there) and both roll back; group 1 stays succeeded.
G2="failed db=succeeded api=succeeded web=succeeded smoke=rolled-back report=rolled-back ready=passed live=passed checked=broken reverted=passed"
p11() {
	point "p11-workflow-finished-3$R" ok "smoke-test" workflow.finished 3 "" "smoke-test"
	resume_point 1 "$G2" \
		'[.events[] | select(.event == "workflow.finished" and .workflow == "smoke")][-1].reason | contains("interrupted")' \
		"smoke's reason says its test was interrupted" \
		'[.events[] | select(.event == "barrier.broken" and .barrier == "checked")][0].origin == "smoke"' \
		"checked was broken by smoke"
}
p12() {
	point "p12-barrier-arrived-8$R" ok "report-send" barrier.arrived 8 ""
	resume_point 0 "$OK"
}
p13() {
	point "p13-barrier-passed-checked$R" ok "report-send" barrier.passed 1 '"barrier":"checked"'
	resume_point 0 "$OK"
}
p14() {
	point "p14-workflow-finished-4$R" ok "report-send" workflow.finished 4 ""
	resume_point 0 "$OK"
}

# ---- web's deploy fails: `live` breaks, group 1 rolls back ----
# Killed in web's 600 ms retry delay: the retry runs after the resume.
p15() {
	point "p15-step-finished-failed$R" web-deploy "" step.finished 1 '"workflow":"web","step":"deploy"'
	resume_point 1 "$FW" \
		'[.events[] | select(.event == "step.started" and .workflow == "web" and .step == "deploy") | .attempt] == [1, 2]' \
		"web's deploy ran its two attempts, no more"
}
# Killed once both apps run their undo: api's is retried, web's has no
# retries: web's rollback fails before it reaches `reverted`, which
# breaks; api and db, rolling back, fail there. db's undo never runs (the
# apps were not reverted).
RBF="failed db=rollback-failed api=rollback-failed web=rollback-failed smoke=skipped report=skipped ready=passed live=broken checked=passed reverted=broken"
RBF_CHECKS=(
	'[.events[] | select(.event == "workflow.finished" and .workflow == "web")][-1].reason | contains("interrupted")'
	"web's reason says its undo was interrupted"
	'[.events[] | select(.event == "barrier.broken" and .barrier == "reverted")][0].origin == "web"'
	"reverted was broken by web"
	'[.events[] | select(.event == "step.started" and .workflow == "db" and .step == "undo")] == []'
	"db's undo never ran"
)
p16() {
	point "p16-barrier-broken-1$R" web-deploy "api-undo web-undo" barrier.broken 1 "" "api-undo web-undo"
	resume_point 1 "$RBF" "${RBF_CHECKS[@]}" \
		'[.events[] | select(.event == "step.started" and .workflow == "api" and .step == "undo") | .attempt] == [1, 2]' \
		"api's undo was retried"
}
# The same with only web's undo held: api's is usually done by the kill,
# and api waits at `reverted` when the resume breaks it.
p17() {
	point "p17-workflow-rollback-1$R" web-deploy "web-undo" workflow.rollback 1 "" "web-undo"
	resume_point 1 "$RBF" "${RBF_CHECKS[@]}"
}
p18() {
	point "p18-barrier-arrived-reverted$R" web-deploy "api-undo" barrier.arrived 1 '"barrier":"reverted","workflow":"web"'
	resume_point 1 "$FW"
}
# db's undo (no retries) interrupted: db's rollback fails, the others are done.
p19() {
	point "p19-workflow-finished-1$R" web-deploy "db-undo" workflow.finished 1 "" "db-undo"
	resume_point 1 "failed db=rollback-failed api=rolled-back web=rolled-back smoke=skipped report=skipped ready=passed live=broken checked=passed reverted=passed" \
		'[.events[] | select(.event == "workflow.finished" and .workflow == "db")][-1].reason | contains("interrupted")' \
		"db's reason says its undo was interrupted"
}

# ---- api's build fails: `ready` breaks while web still builds ----
p20() {
	point "p20-barrier-broken-ready$R" api-build "web-build" barrier.broken 1 '"barrier":"ready"' "web-build"
	resume_point 1 "$FA"
}
p21() {
	point "p21-workflow-rollback-2$R" api-build "web-build api-undo" workflow.rollback 2 ""
	resume_point 1 "$FA"
}

# ---- run --no-rollback: the resume keeps the run's options ----
# Killed in web's retry delay, as p15: its last attempt fails after the
# resume, and nobody rolls back.
p22() {
	point "p22-no-rollback$R" web-deploy "" step.finished 1 '"workflow":"web","step":"deploy"' "" --no-rollback
	resume_point 1 "failed db=failed api=failed web=failed smoke=skipped report=skipped ready=passed live=broken checked=passed reverted=passed" \
		'[.events[] | select(.event == "workflow.rollback" or .rollback == true)] == []' \
		"no rollback started"
}

# Killed right after `reverted` passes, before the workflows it releases
# move on (in the LOCKSTEP_EVENT_BATCH=1 round, the record often ends
# there). db's undo has no retries: if the kill found it running, db's
# rollback fails (interrupted); else all roll back as in FW. db's undo is
# held at its gate, so that the run cannot end before the kill lands
# (lockstep's output is written by a thread of its own: by the time this
# script reads the pass, what follows may be out and done too).
# Found by this test: lockstep e2ddbbb emitted a second workflow.rollback
# for each workflow a rollback barrier released; with the record ending
# right after it, the replay took it for the start of the rollback, ran
# db's rollback again from its first step, arrived at `reverted` a second
# time and aborted (SIGABRT, exit 134: "barrier.c:238: barrier coordinator
# misuse"), leaving the run interrupted for good.
p30() {
	point "p30-rollback-barrier-released$R" web-deploy "db-undo" barrier.passed 1 '"barrier":"reverted"'
	local want=$FW
	jq_true --argjson k "$K" "$CR_DEFS"' [inflight($k)[] | "\(.workflow)/\(.step)"] | index("db/undo") != null' \
		"$tmp/$SCENARIO/before.json" && want=${FW/db=rolled-back/db=rollback-failed}
	resume_point 1 "$want" \
		'[.events[] | select(.event == "barrier.arrived" and .barrier == "reverted" and .workflow == "db")] | length == 1' \
		"db arrived at reverted once" \
		'[.events[] | select(.event == "workflow.rollback") | .workflow] | sort == ["api", "db", "web"]' \
		"one workflow.rollback per workflow"
}

for f in p01 p02 p03 p04 p05 p06 p07 p08 p09 p10 p11 p12 p13 p14 p15 p16 p17 p18 p19 p20 p21 p22 p30; do
	"$f"
done

# ---- abort instead of resume ----
# First `lockstep abort` of the run alive at that point (it asks the owner
# to abort and waits): what it makes of it is what it must make of the
# same run interrupted there. db and api wait at `live`, web deploys.
ABORTED="aborted db=rolled-back api=rolled-back web=rolled-back smoke=skipped report=skipped ready=passed live=broken checked=broken reverted=passed"
abort_alive() { # PID
	RUN_ID=$(head -1 "$EVENTS" | jq -r .run)
	cmd resume "$RUN_ID" --state "$STATE"
	expect "resume of a live run: exit 1, nothing done" test "$rc" -eq 1 -a ! -s "$COUT"
	expect "... it says the run is still running" grep -q "run $RUN_ID is still running" "$CERR"
	CR_MARK=$MARK "$LOCKSTEP" abort "$RUN_ID" --state "$STATE" >"$tmp/$SCENARIO/abort.out" \
		2>"$tmp/$SCENARIO/abort.err" </dev/null &
	ABORT_PID=$!
}
setup_point p23-abort-alive ok "web-deploy"
WAITING=web-deploy ON_EVENT=abort_alive
run_and_kill barrier.arrived 5 "" "$EVENTS" "$ERR" run "$PIPE"
WAITING="" ON_EVENT=""
expect_rc 130
if wait_until 20 not_running "$ABORT_PID"; then
	wait "$ABORT_PID"
	rc=$?
	expect_rc 0 "lockstep abort of the live run"
else
	fail "lockstep abort did not end"
	kill -KILL "$ABORT_PID"
fi
ALIVE_END=$(jq -r "$SUMMARY" <("$LOCKSTEP" show "$RUN_ID" --state "$STATE" --json))
expect "aborted alive, it ends '$ALIVE_END'" test "$ALIVE_END" = "$ABORTED"
expect "nothing of it is left" test -z "$(marked_pids)"

point p23-abort ok "web-deploy" barrier.arrived 5 "" "web-deploy"
take_over abort
after_resume 0 "$ABORTED"
xcheck "live broke with the reason \"run aborted\"" \
	'[.events[] | select(.event == "barrier.broken" and .barrier == "live")][0] | .reason == "run aborted" and .origin == null'
xcheck "web's deploy, interrupted, ends aborted; nothing of group 2 ran" \
	'([.events[] | select(.event == "step.finished" and .workflow == "web" and .step == "deploy")][-1].status == "aborted") and ([.events[] | select(.event == "workflow.started" and (.workflow == "smoke" or .workflow == "report"))] == [])'
for s in api-undo web-undo db-undo; do
	expect "rollback $s ran once" test "$(grep -c . "$OUT/$s.runs" 2>/dev/null)" = 1
done

# Aborted where p16 was resumed: web's undo was interrupted and has no
# retries, so a rollback fails: abort exits 1.
point p24-abort-rollback-fails web-deploy "api-undo web-undo" barrier.broken 1 "" "api-undo web-undo"
take_over abort
after_resume 1 "aborted db=rollback-failed api=rollback-failed web=rollback-failed smoke=skipped report=skipped ready=passed live=broken checked=broken reverted=broken"
xcheck "web's undo was interrupted; api's was retried: rollbacks go on under abort" \
	'([.events[] | select(.event == "workflow.finished" and .workflow == "web")][-1].reason | contains("interrupted")) and ([.events[] | select(.event == "step.started" and .workflow == "api" and .step == "undo") | .attempt] == [1, 2])'

# ---- an abort that is itself interrupted, then resumed ----
# Once a run has been aborted (by `lockstep abort`, or SIGTERM to its
# `lockstep run`), a resume after its lockstep died during the rollbacks
# must finish the abort: the run ends `aborted`, exit 130 like `run`
# (B10, docs/pipeline-format.md#b10-abort), as when nothing dies (p23-abort-alive).
# Found by this test: lockstep e2ddbbb finished these runs `failed` (exit
# 1, group 2 "skipped: group 1 failed"), although their events said they
# were aborted (`live` and `checked` broke with "run aborted").
# p25: `lockstep abort` of the interrupted run is killed once the rollbacks
# run (api's undo waits at its gate); then `lockstep resume`.
point p25-abort-killed ok "web-deploy api-undo" barrier.arrived 5 "" "web-deploy"
K1=$K
RES1=$tmp/$SCENARIO/aborted.1
WAITING=api-undo
run_and_kill run.resumed 1 "" "$RES1" "$RES1.err" abort "$RUN_ID"
WAITING=""
after_kill "$RES1" "$K1"
resume_point 130 "$ABORTED" \
	"[.events[] | select(.event == \"run.resumed\") | [.seq, .mode]] == [[$K1 + 1, \"abort\"], [$K + 1, \"resume\"]]" \
	"run.resumed: abort, then resume" \
	'[.events[] | select(.event == "workflow.finished" and .workflow == "smoke")][-1].reason == "run aborted"' \
	"group 2 was skipped because the run was aborted"
# p26: SIGTERM to `lockstep run` (an abort, B10), then SIGKILL once the
# rollbacks run; then `lockstep resume`.
term_then_kill() { # PID
	kill -TERM "$1"
	wait_until 10 waiting_at_gates api-undo || fail "api's undo never waited at its gate"
	crash_all "$1" "$STATE"
}
ON_EVENT=term_then_kill
point p26-sigterm-then-killed ok "web-deploy api-undo" barrier.arrived 5 "" "web-deploy"
ON_EVENT=""
resume_point 130 "$ABORTED" \
	'[.events[] | select(.event == "barrier.broken" and .barrier == "live")][0].reason == "run aborted"' \
	"live broke with \"run aborted\" before the kill" \
	'[.events[] | select(.event == "workflow.finished" and .workflow == "smoke")][-1].reason == "run aborted"' \
	"group 2 was skipped because the run was aborted"

# ---- killed twice: the resume is killed too, and resumed again ----
# api's build finished before the first kill; db's migration and web's
# build were running. The first resume retries both: db's second run gets
# through its gate, web's second (and last) attempt waits at it, and the
# resume is killed there. The second resume finds web's build interrupted
# with no retries left: web fails, `ready` breaks, all roll back.
point p27-killed-twice ok "db-migrate web-build" step.finished 1 "" "db-migrate web-build"
K1=$K
: >"$CR_GATES/db-migrate.2"
: >"$CR_GATES/db-migrate.3"
for s in $STEPS; do
	case $s in db-migrate | web-build) ;; *) : >"$CR_GATES/$s" ;; esac
done
# The file changes after the kill: the run goes on as it was recorded.
mv "$PIPE" "$PIPE.saved"
echo "name: [this is not the pipeline that ran" >"$PIPE"
RES1=$tmp/$SCENARIO/resumed.1
WAITING=web-build
run_and_kill step.started 1 '"workflow":"web","step":"build"' "$RES1" "$RES1.err" resume "$RUN_ID"
WAITING=""
expect "the first resume printed run.resumed first, at seq $((K1 + 1))" \
	jq_true -s --argjson k "$K1" '.[0] | .event == "run.resumed" and .seq == $k + 1' "$RES1"
after_kill "$RES1" "$K1"
K2=$K
MODE=resume
resume_point 1 "$FA" \
	"[.events[] | select(.event == \"run.resumed\") | .seq] == [$K1 + 1, $K2 + 1]" \
	"two run.resumed, each right after what was recorded at each kill" \
	'[.events[] | select(.event == "step.started" and .workflow == "web" and .step == "build") | .attempt] == [1, 2]' \
	"web's build: two attempts, both interrupted" \
	'[.events[] | select(.event == "workflow.finished" and .workflow == "web")][-1].reason | contains("interrupted")' \
	"web's reason says its build was interrupted" \
	'[.events[] | select(.event == "barrier.broken" and .barrier == "ready")][0].origin == "web"' \
	"ready was broken by web"
mv "$PIPE.saved" "$PIPE"

# ---- a leftover that ignores SIGTERM ----
# The run had --kill-grace 300ms: the resume (recorded options) gives what
# the dead run left 300 ms after SIGTERM, then SIGKILLs it.
STUBBORN=web-build
point p28-stubborn-leftover ok "web-build" step.finished 1 "" "web-build" --kill-grace 300ms
STUBBORN=""
t0=$(now_ms)
resume_point 0 "$OK"
expect "the stubborn step was killed after the run's grace, not 10 s ($(($(now_ms) - t0)) ms in all)" \
	test $(($(now_ms) - t0)) -lt 6000
expect "... with SIGKILL: it never saw a SIGTERM it could act on" test ! -e "$OUT/web-build.term"
expect "... and the resume said so" grep -q "still alive after the grace period: killing them" "$tmp/$SCENARIO/resumed.a.err"

# ---- a barrier's timeout keeps its deadline across the crash ----
# crash/timeout.yml: a waits at T (timeout 1500 ms) for b, whose step is
# killed with the run. The resume retries it, and its gate stays closed
# until T has broken: T breaks 1500 ms after a arrived, as if nothing had
# happened (time spent dead counts), not 1500 ms after the resume.
open_but_b() {
	open_all_gates
	rm -f "$CR_GATES/b-go"
	if wait_until 10 jq_true -s 'any(.[]; .event == "barrier.broken")' "$tmp/$SCENARIO/resumed.a"; then
		pass "T broke while b's step was held"
	else
		fail "T did not break within 10 s of the resume"
	fi
	: >"$CR_GATES/b-go"
}
STEPS="$STEPS a-undo b-go b-undo"
PIPE=$tmp/crash/timeout.yml
point p29-barrier-timeout ok "b-go" barrier.arrived 1 '"workflow":"a"' "b-go"
OPEN_GATES=open_but_b
resume_point 1 "failed a=rolled-back b=rolled-back T=broken" \
	'[.events[] | select(.event == "barrier.broken")][0].reason == "timed out after 1s500ms waiting for b (running step '"'go'"')"' \
	"T timed out waiting for b, running step go" \
	'(([.events[] | select(.event == "barrier.broken")][0] | t) - ([.events[] | select(.event == "barrier.arrived" and .workflow == "a")][0] | t)) as $d | $d >= 1450 and $d < 1900' \
	"T broke 1500 ms after a arrived (1450 to 1900 allowed)"
OPEN_GATES=open_all_gates
PIPE=$tmp/crash/pipeline.yml

# ---- a kill right after run.finished ----
# A run's daemons are killed before run.finished is recorded: a run that
# the store calls finished (so no resume will ever clean up after it)
# leaves nothing behind, even when its lockstep dies the instant it has
# printed run.finished. (Before, the daemons died a moment after
# run.finished was committed: a kill landing in that window, which this
# test cannot aim at, left them running for good.)
setup_point p31-killed-after-finish ok ""
run_and_kill run.finished 1 "" "$EVENTS" "$ERR" run "$PIPE"
RUN_ID=$(head -1 "$EVENTS" | jq -r .run 2>/dev/null)
expect "it was killed right after printing run.finished" test -n "$KILLED"
expect "db's migration had started its daemon" test -s "$OUT/db-migrate.daemon"
expect "nothing of the run is alive: not db's daemon ($(marked_pids | tr '\n' ' '))" test -z "$(marked_pids)"
cmd show "$RUN_ID" --state "$STATE" --json
expect "the run is recorded succeeded" jq_true '.status == "succeeded" and .finished != null' "$COUT"
cmd resume "$RUN_ID" --state "$STATE"
expect "resume of it: exit 1, it has finished" test "$rc" -eq 1

# ---- again, every event its own transaction ----
# LOCKSTEP_EVENT_BATCH=1 makes lockstep commit (and print) each event
# alone, so a kill lands half-way through the engine's reaction to
# something: the resume must complete what the record cut short. The
# points whose kill then lands elsewhere than with whole reactions.
R=-batch1
export LOCKSTEP_EVENT_BATCH=1
for f in p01 p03 p13 p20 p21 p22 p30; do
	"$f"
done
unset LOCKSTEP_EVENT_BATCH
R=""

# ---- resume and abort of runs that are not interrupted ----
scenario not-interrupted
RUN_ID=$REF_FW_ID
cmd resume "$RUN_ID" --state "$STATE"
expect "resume of a finished run: exit 1, nothing printed" test "$rc" -eq 1 -a ! -s "$COUT"
cmd abort "$RUN_ID" --state "$STATE"
expect "abort of a finished run: exit 1" test "$rc" -eq 1
cmd resume 999 --state "$STATE"
expect "resume of no such run: exit 1" test "$rc" -eq 1
for bad in 0 abc; do
	cmd resume "$bad" --state "$STATE"
	expect "resume '$bad': usage error (exit 2)" test "$rc" -eq 2
done
cmd resume --state "$STATE"
expect "resume without RUN: usage error (exit 2)" test "$rc" -eq 2
cmd show "$RUN_ID" --state "$STATE" --json
expect "the run is as it was" jq_true '.status == "failed" and ([.events[] | select(.event == "run.resumed")] | length == 0)' "$COUT"

finish
