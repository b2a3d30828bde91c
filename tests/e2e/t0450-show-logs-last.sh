#!/bin/bash
# t0450-show-logs-last: naming runs and workflows as people do.
#   1. `last` is the newest run of the state directory, wherever a run id
#      is taken: show, logs, resume, abort; with no run recorded it is
#      "no such run" (exit 1), with no state directory a store error
#      (exit 4), and a word that is neither is a usage error (exit 2);
#   2. `logs RUN SELECTION` whose workflow part gives only some of a
#      matrix instance's values (`test[env=qa]`), in any order, or names
#      the matrix workflow itself, is answered with the instances it
#      fits: "did you mean" for one, the list for several.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
cp "$RUNDIR"/t0310-abort.yml "$tmp/p.yml"
ln -s "$RUNDIR/bin" "$tmp/bin"

has() { # DESCRIPTION FILE TEXT
	if grep -qF -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: no '$3'"
		sed 's/^/     | /' "$2" | head -10
	fi
}

# ---- 1. last ----
scenario last-empty
cmd show last --state "$tmp/nowhere"
expect_rc 4 "show last without a state directory"
mkdir -p "$STATE"
cmd show last --state "$STATE"
expect_rc 1 "show last with no run recorded"
has "says there is no run yet" "$CERR" "'last' is the newest run, and $STATE has no run yet"
cmd logs last --state "$STATE"
expect_rc 1 "logs last with no run recorded"
cmd show lats --state "$STATE"
expect_rc 2 "a word that is not a run id"
has "says what RUN may be" "$CERR" "or 'last' for the newest run"

scenario last-show-logs
run_json "$RUNDIR/t0320-mark.yml"
expect_rc 0
first=$RUN_ID
run_json "$RUNDIR/t0320-exit.yml"
second=$RUN_ID
cmd show last --state "$STATE" --json
expect_rc 0 "show last"
if [ "$(jq -r .run "$COUT")" = "$second" ] && [ "$second" -gt "$first" ]; then
	pass "show last is the newest run ($second)"
else
	fail "show last is run $(jq -r .run "$COUT"), want $second"
fi
cmd show last --state "$STATE"
expect_rc 0 "show last, as text"
has "the text is about the newest run" "$COUT" "run $second of "
LOCKSTEP_STATE=$STATE cmd logs last
expect_rc 0 "logs last, the state directory from LOCKSTEP_STATE"
"$LOCKSTEP" logs "$second" --state "$STATE" >"$tmp/by-id" 2>&1
if cmp -s "$COUT" "$tmp/by-id" && [ -s "$COUT" ]; then
	pass "logs last prints what logs $second prints"
else
	fail "logs last differs from logs $second"
	diff "$tmp/by-id" "$COUT" | head -10 | sed 's/^/     | /'
fi

# start_killed: starts the pipeline, waits until `long` runs and `waiter`
# waits at X, then SIGKILLs lockstep: the newest run is interrupted.
start_killed() {
	start_json "$tmp/p.yml"
	wait_event 10 '.event == "barrier.arrived" and .workflow == "waiter"' &&
		wait_until 10 test -s "$OUT/work.child"
	RUN_ID=$(jq -r 'select(.event == "run.started") | .run' "$EVENTS" | head -1)
	crash_all "$BG" "$STATE"
	wait "$BG" 2>/dev/null
	BG_PIDS=()
}

# The newest run is interrupted: resume last and abort last take it.
scenario last-resume-abort
start_killed
cmd abort last --state "$STATE" --kill-grace 1s
expect_rc 0 "abort last: the interrupted run is aborted"
cmd show "$RUN_ID" --state "$STATE" --json
if jq -e '.status == "aborted" and .takeovers == 1' "$COUT" >/dev/null; then
	pass "abort last took over run $RUN_ID, the newest"
else
	fail "run $RUN_ID is $(jq -r .status "$COUT")"
fi
reap_leftovers
scenario last-resume
start_killed
cmd resume last --state "$STATE" --kill-grace 1s
expect_rc 1 "resume last: the interrupted run goes on (and fails: its step was interrupted)"
has "it took over the newest run" "$COUT" "taking over run $RUN_ID "
cmd resume last --state "$STATE"
expect_rc 1 "resume last again: the newest run has finished"
reap_leftovers

# ---- 2. logs with part of a matrix instance ----
scenario instances
cat >"$tmp/matrix.yml" <<'EOF'
name: matrix
stages:
  - workflow: test
    matrix:
      env: [qa, prod]
      java: [17, 21]
workflows:
  test:
    steps:
      - id: probe
        run: echo "probing $LOCKSTEP_WORKFLOW"
EOF
run_json "$tmp/matrix.yml"
expect_rc 0
cmd logs "$RUN_ID" 'test[env=qa]' --state "$STATE"
expect_rc 1 "logs of part of an instance name"
has "lists the instances it fits" "$CERR" \
	"run $RUN_ID has no workflow 'test[env=qa]'; it fits 2 instances: 'test[env=qa,java=17]', 'test[env=qa,java=21]'"
cmd logs "$RUN_ID" 'test[java=21,env=prod]' --state "$STATE"
expect_rc 1 "logs of an instance with its values in another order"
has "suggests the instance" "$CERR" "did you mean 'test[env=prod,java=21]'?"
cmd logs "$RUN_ID" 'test[java=17,env=qa]/probe' --state "$STATE"
expect_rc 1 "logs of a step of such an instance"
has "suggests the instance's step" "$CERR" "did you mean 'test[env=qa,java=17]/probe'?"
cmd logs "$RUN_ID" test --state "$STATE"
expect_rc 1 "logs of the matrix workflow's name"
has "lists its instances" "$CERR" "it fits 4 instances: 'test[env=qa,java=17]', "
cmd logs "$RUN_ID" 'test[env=staging]' --state "$STATE"
expect_rc 1 "logs of a value no instance has"
if grep -q "did you mean\|it fits" "$CERR"; then
	fail "a value no instance has gets a suggestion: $(cat "$CERR")"
else
	pass "a value no instance has gets no suggestion"
fi
cmd logs "$RUN_ID" 'test[env=qa,java=17]' --state "$STATE"
expect_rc 0 "logs of the instance itself"
has "prints its log" "$COUT" "probing test[env=qa,java=17]"

finish
