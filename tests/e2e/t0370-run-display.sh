#!/bin/bash
# t0370-run-display: what a person sees of `lockstep run`.
#   1. plain lines name a step by its `name:` when it has one, its id
#      still there: `[backend] Rolling deploy (step-1) started`;
#   2. the summary's barrier lines are in columns, whatever the length
#      of their ids;
#   3. a barrier of a 1,000-instance matrix is one short line in the
#      summary (how many participants, a few names), and so is the
#      failure chain through it;
#   4. colours by outcome, in the summary and on the live board:
#      rolled-back is yellow, not the green of succeeded; failed and
#      broken are red; no colour at all with NO_COLOR, TERM=dumb or
#      without a terminal;
#   5. the board has a row per barrier (state, arrivals) and a line that
#      counts groups and steps.
# Environment: LOCKSTEP, LOCKSTEP_SOURCE_DIR. Needs jq and script(1).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$E2E_DIR/run/lib.sh"

unset LOCKSTEP_STATE
P=$RUNDIR/t0370-display.yml
ESC=$(printf '\033')

# plain_run FILE: `lockstep run FILE` with its output in a file (no
# terminal): plain lines and the summary in $PLAIN, exit status in rc.
PLAIN=$tmp/plain.out
plain_run() {
	touch "$OUT/go"
	timeout -k 2 "$RUN_BOUND" "$LOCKSTEP" run "$1" --state "$STATE" >"$PLAIN" 2>&1 </dev/null
	rc=$?
}
has_line() { # DESCRIPTION FILE EXTENDED-REGEX
	if grep -Eq -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: no line matches '$3'"
		sed 's/^/     | /' "$2" | tail -25
	fi
}
no_line() { # DESCRIPTION FILE EXTENDED-REGEX
	if grep -Eq -- "$3" "$2"; then
		fail "$1: found '$(grep -E -m1 -- "$3" "$2")'"
	else
		pass "$1"
	fi
}
# The summary: from the last line "run N STATUS in ..." on.
summary_of() {
	awk '/^(\033\[[0-9;]*m)?run [0-9]+ |^run [0-9]+ /{ buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$1"
}

# ---- 1. plain lines ----
scenario plain
plain_run "$P"
expect_rc 1
has_line "a named step is shown by its name and id" "$PLAIN" '^\[backend\] Rolling deploy \(step-1\) started$'
has_line "... when it finishes too" "$PLAIN" '^\[backend\] Rolling deploy \(step-1\) succeeded in [0-9.]+m?s$'
has_line "a named rollback step, marked as a rollback" "$PLAIN" \
	'^\[backend\] rollback Undo the deploy \(rollback-1\) started$'
has_line "a step without a name keeps its id alone" "$PLAIN" '^\[frontend\] deploy failed \(exit 3\) in [0-9.]+m?s$'
has_line "... and a rollback step without a name" "$PLAIN" '^\[frontend\] rollback rollback-1 started$'
no_line "a default name (barrier ID) is not repeated" "$PLAIN" 'barrier ready \(step-'
no_line "no colour without a terminal" "$PLAIN" "$ESC"

# ---- 2. the summary's barrier lines ----
scenario summary-columns
summary_of "$PLAIN" >"$tmp/summary"
has_line "ready passed" "$tmp/summary" '^  ready  +passed at \+[0-9.]+m?s +\(backend, frontend\)$'
has_line "deployed-everywhere broken" "$tmp/summary" \
	"^  deployed-everywhere  broken at \\+[0-9.]+m?s: +workflow frontend failed at step 'deploy' \\(exit status 3\\)$"
# Where each column starts, in both lines: the same.
cols() { # LINE: the offsets of "passed"/"broken" and of what follows the time
	awk '{ s = index($0, " at +"); rest = substr($0, s + 5); sub(/^[^ ]+ +/, "", rest)
		print s, length($0) - length(rest) }' <<<"$1"
}
l1=$(grep -E '^  ready ' "$tmp/summary")
l2=$(grep -E '^  deployed-everywhere ' "$tmp/summary")
if [ -n "$l1" ] && [ "$(cols "$l1")" = "$(cols "$l2")" ]; then
	pass "the barrier lines are in columns ($(cols "$l1"))"
else
	fail "the barrier lines are not in columns: '$l1' ($(cols "$l1")), '$l2' ($(cols "$l2"))"
fi

# ---- 3. a 1,000-instance matrix ----
scenario wide
{
	echo "name: wide"
	echo "stages:"
	echo "  - workflow: w"
	echo "    matrix:"
	printf '      n: ['
	seq -s ', ' 1 1000 | tr -d '\n'
	echo ']'
	echo "  - workflow: breaker"
	echo "    parallel: true"
	echo "workflows:"
	echo "  w:"
	echo "    steps:"
	echo "      - barrier: all"
	echo "      - barrier: last"
	echo "  breaker:"
	echo "    steps:"
	echo "      - barrier: all"
	echo "      - id: boom"
	echo "        run: exit 4"
	echo "      - barrier: last"
} >"$tmp/wide.yml"
plain_run "$tmp/wide.yml"
expect_rc 1
summary_of "$PLAIN" >"$tmp/summary"
has_line "the barrier that passed counts its participants and names a few" "$tmp/summary" \
	'^  all   passed at \+[0-9.]+m?s +\(1001 participants: w\[n=1\], w\[n=2\], w\[n=3\] and 998 more\)$'
has_line "the failure chain names a few of the workflows the broken barrier failed" "$tmp/summary" \
	"^failure: breaker failed at 'boom' \\(exit 4\\) -> barrier last broken -> w\\[n=1\\] failed -> w\\[n=2\\] failed -> w\\[n=3\\] failed -> and 997 more$"
longest=$(grep -Ev '^  (w\[|breaker)' "$tmp/summary" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
if [ "$longest" -le 200 ]; then
	pass "no line of the summary but the workflows' is longer than 200 characters ($longest)"
else
	fail "a summary line has $longest characters"
	awk 'length($0) > 200 { print "     | " substr($0, 1, 160) "..." }' "$tmp/summary"
fi

# ---- 4, 5. colours; the board ----
if ! script -qec true /dev/null >/dev/null 2>&1; then
	fail "script(1) is needed to test the terminal"
	finish
	exit
fi
# on_tty OUTFILE ENV...: runs the pipeline on a pseudo-terminal (script);
# frontend's deploy fails once $OUT/go exists.
on_tty() {
	local out=$1
	shift
	env "$@" COLUMNS=120 timeout -k 2 "$RUN_BOUND" script -qfec "'$LOCKSTEP' run '$P' --state '$STATE'" /dev/null \
		>"$out" 2>&1 </dev/null
	rc=$?
	return "$rc"
}
# waiting_row FILE: the board showed backend waiting at deployed-everywhere
# for frontend, in the barrier's row.
waiting_row() {
	grep -Eq "barrier deployed-everywhere +waiting +1/2 +for frontend" "$1" 2>/dev/null
}

scenario summary-colours
on_tty "$tmp/tty" -u NO_COLOR TERM=xterm &
tty_pid=$!
BG_PIDS+=("$tty_pid")
if wait_until 10 waiting_row "$tmp/tty"; then
	pass "the barrier's row says whom it waits for"
else
	fail "no frame showed 'barrier deployed-everywhere waiting 1/2 for frontend'"
fi
touch "$OUT/go"
wait "$tty_pid"
rc=$?
BG_PIDS=()
expect_rc 1
tr -d '\r' <"$tmp/tty" | summary_of /dev/stdin >"$tmp/summary"
has_line "the run's status is red" "$tmp/summary" "^run [0-9]+ ${ESC}\\[31mfailed${ESC}\\[0m in "
has_line "a rolled-back workflow is yellow" "$tmp/summary" "^  backend   ${ESC}\\[33mrolled-back +${ESC}\\[0m"
has_line "a barrier that passed is green" "$tmp/summary" "^  ready  +${ESC}\\[32mpassed${ESC}\\[0m at "
has_line "a broken barrier is red" "$tmp/summary" "^  deployed-everywhere  ${ESC}\\[31mbroken${ESC}\\[0m at "
touch "$OUT/go"
for how in "NO_COLOR=1 TERM=xterm" "-u NO_COLOR TERM=dumb"; do
	# shellcheck disable=SC2086
	on_tty "$tmp/tty-plain" $how
	tr -d '\r' <"$tmp/tty-plain" | summary_of /dev/stdin >"$tmp/summary"
	has_line "($how) the summary is there" "$tmp/summary" '^  backend   rolled-back '
	no_line "($how) without colours" "$tmp/summary" "$ESC"
done

scenario board
# The last frame of the board: after the last "cursor up, erase down".
tr -d '\r' <"$tmp/tty" | awk -v esc="$ESC" '
	{ line = $0; n = split(line, parts, esc "\\[[0-9]+F" esc "\\[J"); if (n > 1) { frame = ""; line = parts[n] } }
	/^run [0-9]+ / { exit }
	{ frame = frame line "\n" }
	END { printf "%s", frame }' >"$tmp/frame"
has_line "a line counts the groups and the steps" "$tmp/frame" \
	'^  run [0-9]+: group 1 of 1, 5 of 6 steps done'  # frontend's last step never ran
has_line "a rolled-back workflow's row is yellow" "$tmp/frame" "^${ESC}\\[33m  backend  +rolled-back "
no_line "... never green" "$tmp/frame" "^${ESC}\\[32m  backend "
has_line "a row for the barrier that passed, green, with its arrivals" "$tmp/frame" \
	"^${ESC}\\[32m  barrier ready  +passed +2/2 "
has_line "a row for the broken barrier, red" "$tmp/frame" \
	"^${ESC}\\[31m  barrier deployed-everywhere  +broken +1/2 "

finish
