#!/bin/bash
# t0230-loader-limits: what the loader refuses so that a run never starts
# on something it cannot carry out, and what it still accepts at the edge.
#
#   bombs    a 5 KB file (a 1,000 x 100 matrix, 20 run steps using
#            ${{ workflow.name }}: 2,000,000 steps) is refused by check,
#            plan and run with exit 3 at the stage entry, in a few MB of
#            memory (it took 5 GB and tens of seconds), and so is a file
#            whose expanded text would pass 256 MiB
#   names    a workflow instance name is the directory of its logs and a
#            step id names its log files (STATE/logs/RUN/WORKFLOW/
#            STEP.ATTEMPT.log): names at the 255-byte limit run and write
#            their logs; one byte more is refused by check and by run
#            (exit 3, FILE:LINE:COL, nothing run).
#
# Environment: LOCKSTEP (the binary; default build/lockstep in the source
# tree), LOCKSTEP_SOURCE_DIR. Needs timeout and GNU time (/usr/bin/time).
set -u
. "$(dirname "$0")/lib/common.sh"
[ -x /usr/bin/time ] || need /usr/bin/time

# rep CHAR N: N copies of CHAR.
rep() { printf "%$2s" "" | tr ' ' "$1"; }

# ---- expansion bombs ----
# matrix_file NAME STEPS RUN: a 1,000 x 100 matrix entry of workflow w,
# whose STEPS steps all run RUN.
matrix_file() {
	{
		echo "name: $1"
		echo "stages:"
		echo "  - workflow: w"
		echo "    matrix:"
		printf '      a: [a0'; for ((i = 1; i < 1000; i++)); do printf ', a%d' $i; done; echo ']'
		printf '      b: [b0'; for ((i = 1; i < 100; i++)); do printf ', b%d' $i; done; echo ']'
		echo "workflows:"
		echo "  w:"
		echo "    steps:"
		for ((i = 0; i < $2; i++)); do echo "      - run: $3"; done
	} >"$1.yml"
}
matrix_file bomb 20 'echo ${{ workflow.name }}'
matrix_file textbomb 1 "echo $(for ((i = 0; i < 200; i++)); do printf '${{ workflow.name }}'; done)"
[ "$(wc -c <bomb.yml)" -lt 8000 ] && pass "the bomb is a small file ($(wc -c <bomb.yml) bytes)" ||
	fail "the bomb is $(wc -c <bomb.yml) bytes"

# Virtual memory bound for the commands below: a few hundred MB, far below
# what expanding the bombs took, so a regression fails fast instead of
# swapping. A sanitizer build cannot start under it (its shadow memory is
# reserved up front); the peak RSS bound below still holds for it.
vlimit=
(ulimit -v 300000 && "$LOCKSTEP" --version) >/dev/null 2>&1 && vlimit=300000

# refused NAME FILE WANT CMD...: CMD exits 3 within 20 s, prints WANT as its
# first line on stderr and peaks under 100 MB of RSS.
refused() {
	local name=$1 file=$2 want=$3 rc rss
	shift 3
	(
		[ -n "$vlimit" ] && ulimit -v "$vlimit"
		exec /usr/bin/time -o rss -f %M timeout 20 "$LOCKSTEP" "$@" >out 2>err
	)
	rc=$?
	rss=$(tail -n 1 rss)
	if [ "$rc" -ne 3 ]; then
		fail "$name: exit $rc, want 3: $(head -c 300 err)"
	elif [ "$(head -n 1 err)" != "$want" ]; then
		fail "$name: stderr starts '$(head -n 1 err | head -c 300)', want '$want'"
	elif ! [ "$rss" -lt 100000 ] 2>/dev/null; then
		fail "$name: peak RSS ${rss} KiB, want under 100 MB"
	else
		pass "$name: exit 3 at the stage entry, peak RSS $rss KiB"
	fi
}
steps_error="bomb.yml:3:5: error: the plan would have 2000000 steps, more than 1000000: this stage entry runs workflow w 100000 times with 20 steps each (use a smaller matrix or fewer steps)"
refused "check on the step bomb" bomb.yml "$steps_error" check bomb.yml
refused "plan --format json on the step bomb" bomb.yml "$steps_error" plan --format json bomb.yml
refused "run on the step bomb" bomb.yml "$steps_error" run bomb.yml --state st-bomb
[ ! -e st-bomb/logs ] && pass "run on the bomb started nothing" || fail "run on the bomb wrote logs"
refused "check on the text bomb" textbomb.yml \
	"textbomb.yml:3:5: error: the plan's expanded text would be 297 MiB, more than 256 MiB: this stage entry adds 297 MiB, running workflow w 100000 times (use a smaller matrix, shorter steps and values, or fewer references to long vars)" \
	check textbomb.yml

# ---- names at the limit run and write their logs ----
wf=$(rep w 255)                        # the longest workflow directory name
id=$(rep s 237)                        # ID.101.k8s-spec.json is 255 bytes
val=$(rep v 245)                       # m[region=VALUE] is 255 bytes
cat >names-ok.yml <<YML
name: names-ok
stages:
  - $wf
  - workflow: m
    parallel: true
    matrix:
      region: [$val]
workflows:
  $wf:
    steps:
      - id: $id
        run: echo long-step-ran
  m:
    steps:
      - run: echo "matrix-step-ran \$LOCKSTEP_MATRIX_REGION"
YML
cmd run names-ok.yml --state st-ok
expect_rc 0 "names at the limit: run succeeds"
expect "the 255-byte workflow's 237-byte step has its log" \
	file_has "st-ok/logs/1/$wf/$id.1.log" long-step-ran
expect "the 255-byte matrix instance has its log" \
	file_has "st-ok/logs/1/m[region=$val]/step-1.1.log" "matrix-step-ran $val"

# ---- one byte more is refused before anything runs ----
cat >names-long.yml <<YML
name: names-long
stages:
  - workflow: w
  - workflow: m
    parallel: true
    matrix:
      region: [eu, $(rep v 5000)]
workflows:
  w:
    steps:
      - id: $(rep s 238)
        run: touch ran-w
  m:
    steps:
      - run: touch ran-m
  w$(rep x 300):
    steps:
      - run: touch ran-x
YML
cmd check names-long.yml
expect_rc 3 "names one byte too long: check refuses"
for want in \
	"names-long.yml:7:20: error: matrix value of 'region' is too long: the log directory names of the instances of workflow m with it would be at least 5010 bytes, at most 255" \
	"names-long.yml:11:13: error: step id is too long: 238 bytes, at most 237, so that the names of its log files (ID.ATTEMPT.log, ID.ATTEMPT.k8s-spec.json) fit in 255 bytes" \
	"names-long.yml:16:3: error: workflow name is too long: its log directory name would be 301 bytes, at most 255"; do
	expect "check says: ${want%%: error*}" grep -qxF -- "$want" "$CERR"
done
cmd run names-long.yml --state st-long
expect_rc 3 "... and run refuses it"
expect "run said where" err_has "names-long.yml:11:13: error: step id is too long"
expect "... ran nothing ($(ls ran-* 2>/dev/null))" test ! -e ran-w -a ! -e ran-m
expect "... and wrote no log" test ! -e st-long/logs

finish
